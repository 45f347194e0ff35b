import { CheckpointService, DefaultAccessPolicy, type Principal, type ResourceRef } from '../src/realtime/index.js';
import { clusterPrefix, startOnRedis, stopAll } from './support/cluster-pair.js';
import {
  NO_SESSION,
  call,
  checkpoint,
  closeAll,
  createSession,
  eventFrame,
  events,
  failure,
  list,
  metrics,
  openAnonymous,
  openCheckpoint,
  randomUUID,
  rpc,
  startOnStore,
  waitEvents,
  type StoreApp,
  type StoreKind,
} from './support/checkpoint-client.js';
import type { TestApp } from './support/test-app.js';
import { sleep, type Frame, type TestClient } from './support/test-client.js';
import { hsToken } from './support/tokens.js';

/**
 * SPEC §5 "Sessions have owners", §7: a session belongs to the principal that created it; any other
 * principal is told `Session not found` on every method, as for a session that does not exist, and
 * nothing changes — unless the access policy grants `{type: 'session', id}` (admins, by default).
 * The static `CHECKPOINT_AUTH_TOKEN` is a principal of its own.
 */

const STATIC = 'static-token-owners-5e1f';
const principal = (sub: string, roles: string[] = []): Principal => ({ sub, userId: sub, username: sub, roles });

/** Every method that names a session, with params valid for `session` and its checkpoint `checkpointId`. */
function sessionRequests(session: string, checkpointId: string, since: unknown): Array<[string, object]> {
  return [
    ['list_checkpoints', { session_id: session }],
    ['checkpoint', { session_id: session, message: 'intruder', state: { by: 'intruder' } }],
    ['checkpoint', { session_id: session }],
    ['restore', { session_id: session, checkpoint_id: checkpointId }],
    ['restore', { session_id: session, checkpoint_id: randomUUID() }],
    ['delete_checkpoint', { session_id: session, checkpoint_id: checkpointId }],
    ['delete_checkpoint', { session_id: session, checkpoint_id: 'not-a-uuid' }],
    ['compact', { session_id: session, keep: 0 }],
    ['subscribe', { session_id: session }],
    ['subscribe', { session_id: session, since }],
  ];
}

describe.each<StoreKind>(['memory', 'redis'])('sessions have owners, on %s (SPEC §5)', (kind) => {
  let store: StoreApp;
  let t: TestApp;
  const open: TestClient[] = [];
  const connect = async (sub: string, roles?: string[]): Promise<TestClient> => {
    const c = await openCheckpoint(t, { sub, ...(roles && { roles }) });
    open.push(c);
    return c;
  };
  const viaStatic = async (): Promise<TestClient> => {
    const c = await openAnonymous(t);
    open.push(c);
    expect(await call(c, 'authenticate', { token: STATIC })).toEqual({ authenticated: true });
    return c;
  };

  beforeAll(async () => {
    store = await startOnStore(kind, `owners-${kind}`, { rateLimitPerSec: 10_000, checkpoint: { authToken: STATIC } });
    t = store.t;
  });
  afterEach(async () => {
    await closeAll(open.splice(0));
  });
  afterAll(() => store.close());

  it('answers every method of another principal Session not found, as for no session, and changes nothing', async () => {
    const alice = await connect('alice');
    const aliceWatcher = await connect('alice');
    const bob = await connect('bob');
    const session = await createSession(alice, 'alice only');
    const first = await checkpoint(alice, session, 'one', { secret: 1 });
    const second = await checkpoint(alice, session, 'two', { secret: 2 });
    const subscribed = await rpc(aliceWatcher, 'subscribe', { session_id: session });
    const since = { offset: 0, epoch: subscribed.result.epoch };
    const before = { list: await list(alice, session), metrics: await metrics(alice) };

    const unknown = randomUUID();
    for (const [method, params] of sessionRequests(session, first, since)) {
      const response = await rpc(bob, method, params);
      expect({ method, response }).toEqual({ method, response: failure(response.id, NO_SESSION) });
      // exactly what a session that does not exist gets: its existence is not revealed
      const control = await rpc(bob, method, { ...params, session_id: unknown });
      expect({ method, control }).toEqual({ method, control: failure(control.id, NO_SESSION) });
    }

    // nothing changed: the list, the states, the totals; no event reached the owner's subscriber
    expect(await list(alice, session)).toEqual(before.list);
    expect((await call(alice, 'restore', { session_id: session, checkpoint_id: first })).state).toEqual({ secret: 1 });
    expect((await call(alice, 'restore', { session_id: session, checkpoint_id: second })).state).toEqual({ secret: 2 });
    const after = await metrics(alice);
    expect([after.sessions, after.checkpoints]).toEqual([before.metrics.sessions, before.metrics.checkpoints]);
    const marker = await checkpoint(alice, session, 'marker');
    await waitEvents(aliceWatcher, (f) => f.data.checkpoint_id === marker);
    expect(events(aliceWatcher)).toEqual([
      eventFrame('checkpoint_restored', first, session),
      eventFrame('checkpoint_restored', second, session),
      eventFrame('checkpoint_created', marker, session),
    ]);
    // the refused subscriptions (with and without `since`) deliver nothing, not even the history
    await sleep(100);
    expect(events(bob)).toEqual([]);
    expect(bob.frames.filter((f: Frame) => f.success === true)).toEqual([]);
  });

  it('lets the owner’s other connections and an admin use the session; the host API takes the actor', async () => {
    const alice = await connect('alice');
    const otherTab = await connect('alice');
    const admin = await connect('root', ['admin']);
    const session = await createSession(alice);
    const byTab = await checkpoint(otherTab, session, 'other tab', { tab: 2 });
    await call(admin, 'subscribe', { session_id: session });
    const byAdmin = await checkpoint(admin, session, 'by admin', { admin: true });
    expect((await list(admin, session)).map((e) => e.id)).toEqual([byTab, byAdmin]);
    expect((await call(alice, 'restore', { session_id: session, checkpoint_id: byAdmin })).state).toEqual({
      admin: true,
    });
    await waitEvents(admin, (f) => f.data.checkpoint_id === byAdmin);

    const service = t.app.get(CheckpointService);
    await expect(service.listCheckpoints(session, principal('bob'))).rejects.toThrow(NO_SESSION);
    await expect(service.checkpoint(session, 'x', null, principal('bob'))).rejects.toThrow(NO_SESSION);
    expect(await service.hasSession(session, principal('bob'))).toBe(false);
    expect(await service.hasSession(session, principal('alice'))).toBe(true);
    expect((await service.listCheckpoints(session, principal('root', ['admin']))).length).toBe(2);
    // the host itself (no principal) may use every session
    expect((await service.listCheckpoints(session)).map((e) => e.id)).toEqual([byTab, byAdmin]);
    // a session the host makes for a user is that user's
    const forBob = await service.createSession('for bob', principal('bob'));
    const bob = await connect('bob');
    expect(await list(bob, forBob)).toEqual([]);
    const refused = await rpc(alice, 'list_checkpoints', { session_id: forBob });
    expect(refused).toEqual(failure(refused.id, NO_SESSION));
  });

  it('makes the static token one principal of its own, apart from every JWT sub', async () => {
    const staticOne = await viaStatic();
    const staticTwo = await viaStatic();
    const own = await createSession(staticOne, 'static');
    const id = await checkpoint(staticOne, own, 'by static', { s: 1 });
    // the same principal on another connection
    expect((await list(staticTwo, own)).map((e) => e.id)).toEqual([id]);
    // no JWT, whatever its sub, is that principal
    for (const sub of ['static', 'checkpoint:static-token', 'host', 'jwt:static', STATIC]) {
      const jwt = await connect(sub);
      for (const [method, params] of sessionRequests(own, id, { offset: 0, epoch: 'zzzzzzzz' })) {
        const response = await rpc(jwt, method, params);
        expect({ sub, method, response }).toEqual({ sub, method, response: failure(response.id, NO_SESSION) });
      }
    }
    expect((await list(staticOne, own)).map((e) => e.id)).toEqual([id]);
    // and the other way round
    const carol = await connect('carol');
    const carols = await createSession(carol);
    const refused = await rpc(staticOne, 'list_checkpoints', { session_id: carols });
    expect(refused).toEqual(failure(refused.id, NO_SESSION));
    // a connection keeps its principal: a JWT authenticate on a static connection is refused (issue 24: a
    // refresh keeps the sub), and it stays the static principal
    const switched = await rpc(staticTwo, 'authenticate', { token: hsToken({ sub: 'carol' }) });
    expect(switched).toEqual(failure(switched.id, 'Invalid authentication token'));
    const stillRefused = await rpc(staticTwo, 'list_checkpoints', { session_id: carols });
    expect(stillRefused).toEqual(failure(stillRefused.id, NO_SESSION));
    expect((await list(staticTwo, own)).map((e) => e.id)).toEqual([id]);
  });
});

describe('sessions have owners across two instances on one Redis (SPEC §5, §9)', () => {
  const prefix = clusterPrefix('owners-pair');
  let a: TestApp;
  let b: TestApp;
  const open: TestClient[] = [];

  beforeAll(async () => {
    a = await startOnRedis(prefix, 'A', { rateLimitPerSec: 10_000 });
    b = await startOnRedis(prefix, 'B', { rateLimitPerSec: 10_000 });
  });
  afterAll(async () => {
    await closeAll(open);
    await stopAll([a, b]);
  });

  it('refuses the session to another principal on the other instance, and shares it with its owner there', async () => {
    const aliceOnA = await openCheckpoint(a, { sub: 'alice' });
    const aliceOnB = await openCheckpoint(b, { sub: 'alice' });
    const bobOnB = await openCheckpoint(b, { sub: 'bob' });
    open.push(aliceOnA, aliceOnB, bobOnB);
    const session = await createSession(aliceOnA);
    const id = await checkpoint(aliceOnA, session, 'on A', { a: 1 });
    const subscribed = await rpc(aliceOnB, 'subscribe', { session_id: session });
    expect(subscribed.success).toBe(true);
    for (const [method, params] of sessionRequests(session, id, { offset: 0, epoch: subscribed.result.epoch })) {
      const response = await rpc(bobOnB, method, params);
      expect({ method, response }).toEqual({ method, response: failure(response.id, NO_SESSION) });
    }
    expect((await list(aliceOnB, session)).map((e) => e.id)).toEqual([id]);
    expect((await call(aliceOnB, 'restore', { session_id: session, checkpoint_id: id })).state).toEqual({ a: 1 });
    const marker = await checkpoint(aliceOnA, session, 'marker');
    await waitEvents(aliceOnB, (f) => f.data.checkpoint_id === marker);
    expect(events(aliceOnB)).toEqual([
      eventFrame('checkpoint_restored', id, session),
      eventFrame('checkpoint_created', marker, session),
    ]);
    expect(events(bobOnB)).toEqual([]);
  });
});

describe('a host access policy that shares sessions (SPEC §7)', () => {
  let t: TestApp;
  const asked: Array<{ sub: string; resource: ResourceRef }> = [];
  const fallback = new DefaultAccessPolicy({ requireAcl: false });
  const open: TestClient[] = [];

  beforeAll(async () => {
    const store = await startOnStore('memory', 'owners-policy', {
      accessPolicy: {
        canAccess(who: Principal, resource: ResourceRef) {
          if (resource.type === 'session') asked.push({ sub: who.sub, resource });
          return (resource.type === 'session' && who.sub === 'friend') || fallback.canAccess(who, resource);
        },
      },
    });
    t = store.t;
  });
  afterAll(async () => {
    await closeAll(open);
    await t.close();
  });

  it('lets the principal it grants use the session, asks only about others than the owner, and refuses the rest', async () => {
    const owner = await openCheckpoint(t, { sub: 'owner' });
    const friend = await openCheckpoint(t, { sub: 'friend' });
    const stranger = await openCheckpoint(t, { sub: 'stranger' });
    open.push(owner, friend, stranger);
    const session = await createSession(owner);
    const mine = await checkpoint(owner, session, 'mine', [1]);
    expect(await list(owner, session)).toHaveLength(1);
    expect(asked).toEqual([]);

    await call(friend, 'subscribe', { session_id: session });
    const theirs = await checkpoint(friend, session, 'friend’s', { f: true });
    expect((await call(friend, 'restore', { session_id: session, checkpoint_id: mine })).state).toEqual([1]);
    expect((await list(owner, session)).map((e) => e.id)).toEqual([mine, theirs]);
    await waitEvents(friend, (f) => f.data.checkpoint_id === theirs);
    expect(asked.length).toBeGreaterThanOrEqual(3);
    expect(asked.every((entry) => entry.sub === 'friend' && entry.resource.id === session)).toBe(true);

    const refused = await rpc(stranger, 'restore', { session_id: session, checkpoint_id: mine });
    expect(refused).toEqual(failure(refused.id, NO_SESSION));
    expect(asked.at(-1)).toEqual({ sub: 'stranger', resource: { type: 'session', id: session } });
  });
});
