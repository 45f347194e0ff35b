import type { Subscription } from 'rxjs';
import { CheckpointService, type Principal } from '../src/realtime/index.js';
import { TestClient, eventually, sleep, type Frame } from './support/test-client.js';
import type { TestApp } from './support/test-app.js';
import { clusterPrefix, startOnRedis, stopAll } from './support/cluster-pair.js';
import {
  NO_SESSION,
  UUID,
  awaitCreated,
  call,
  checkpoint,
  closeAll,
  compactedFrame,
  createSession,
  eventFrame,
  events,
  failure,
  list,
  listed,
  metrics,
  openCheckpoint,
  pipeline,
  rpc,
  subscribe,
  unsubscribe,
  waitEvents,
} from './support/checkpoint-client.js';

/**
 * SPEC §5 storage and §9 with Redis: instances on one Redis and prefix share sessions, checkpoints,
 * sequences and events; a restarted instance loses nothing; another prefix sees nothing.
 */

/** The connections are tabs of one principal (sessions have owners: test/checkpoint-owners.e2e-spec.ts). */
const OWNER = 'cp-store-user';
const OWNER_PRINCIPAL: Principal = { sub: OWNER, userId: OWNER, username: OWNER, roles: [] };
const tab = (t: TestApp, label: string): Promise<TestClient> => openCheckpoint(t, { sub: OWNER, username: label });

const startInstance = (prefix: string, id: string): Promise<TestApp> =>
  startOnRedis(prefix, id, { rateLimitPerSec: 10_000 });

describe('checkpoint store on Redis, two instances (SPEC §5, §9)', () => {
  const prefix = clusterPrefix('cp');
  let a: TestApp;
  let b: TestApp;
  const open: TestClient[] = [];
  const subscriptions: Subscription[] = [];

  const client = async (t: TestApp, label: string): Promise<TestClient> => {
    const c = await tab(t, label);
    open.push(c);
    return c;
  };

  beforeAll(async () => {
    a = await startInstance(prefix, 'A');
    b = await startInstance(prefix, 'B');
  });
  afterEach(async () => {
    subscriptions.splice(0).forEach((s) => s.unsubscribe());
    await closeAll(open.splice(0));
  });
  afterAll(() => stopAll([a, b]));

  it('lists, restores and compacts through B a session created through A', async () => {
    const onA = await client(a, 'on-a');
    const onB = await client(b, 'on-b');
    const session = await createSession(onA, 'shared');
    const ids: string[] = [];
    for (let i = 1; i <= 4; i++) ids.push(await checkpoint(onA, session, `a${i}`, { i, nested: { list: [i, 'x'] } }));
    const fromA = await list(onA, session);
    const fromB = await list(onB, session);
    expect(fromB).toEqual(fromA);
    expect(fromB).toEqual(ids.map((id, i) => listed(id, session, `a${i + 1}`, i + 1, fromA[i].created_at as string)));
    expect(await call(onB, 'restore', { session_id: session, checkpoint_id: ids[1] })).toEqual({
      ...fromA[1],
      state: { i: 2, nested: { list: [2, 'x'] } },
    });
    // B adds one, A sees it with the next sequence
    const fromBId = await checkpoint(onB, session, 'b5');
    expect((await list(onA, session)).map((e) => [e.id, e.sequence])).toEqual([
      ...ids.map((id, i) => [id, i + 1]),
      [fromBId, 5],
    ]);
    expect(await call(onB, 'compact', { session_id: session, keep: 2 })).toEqual({ remaining: 2 });
    expect((await list(onA, session)).map((e) => e.id)).toEqual([ids[3], fromBId]);
    await call(onA, 'delete_checkpoint', { session_id: session, checkpoint_id: ids[3] });
    expect((await list(onB, session)).map((e) => e.id)).toEqual([fromBId]);
    const gone = await rpc(onB, 'restore', { session_id: session, checkpoint_id: ids[3] });
    expect(gone).toEqual(failure(gone.id, 'Checkpoint not found'));
  });

  it('delivers the events of operations on A to subscribers on A and B, once each, in order', async () => {
    const actor = await client(a, 'actor');
    const watcherB = await client(b, 'watcher-b');
    const watcherA = await client(a, 'watcher-a');
    const session = await createSession(actor);
    await subscribe(watcherB, session);
    await subscribe(watcherA, session);
    const c1 = await checkpoint(actor, session, 'one');
    const c2 = await checkpoint(actor, session, 'two');
    await call(actor, 'restore', { session_id: session, checkpoint_id: c1 });
    await call(actor, 'delete_checkpoint', { session_id: session, checkpoint_id: c2 });
    await call(actor, 'compact', { session_id: session, keep: 0 });
    const marker = await checkpoint(actor, session, 'marker');
    await awaitCreated([watcherA, watcherB], marker);
    await sleep(150);
    const expected = [
      eventFrame('checkpoint_created', c1, session),
      eventFrame('checkpoint_created', c2, session),
      eventFrame('checkpoint_restored', c1, session),
      eventFrame('checkpoint_deleted', c2, session),
      compactedFrame(session, 0),
      eventFrame('checkpoint_created', marker, session),
    ];
    expect(events(watcherB)).toEqual(expected);
    expect(events(watcherA)).toEqual(expected);
    expect(events(actor)).toEqual([]);
  });

  it('delivers events of operations on B to a subscriber on A, and none after unsubscribe', async () => {
    const actor = await client(b, 'actor');
    const watcher = await client(a, 'watcher');
    const session = await createSession(actor);
    const other = await createSession(actor);
    await subscribe(watcher, session);
    await subscribe(watcher, other);
    const first = await checkpoint(actor, session, 'first');
    await waitEvents(watcher, (f) => f.data.checkpoint_id === first);
    await unsubscribe(watcher, session);
    await checkpoint(actor, session, 'unseen');
    await call(actor, 'compact', { session_id: session, keep: 0 });
    const marker = await checkpoint(actor, other, 'marker');
    await awaitCreated([watcher], marker);
    await sleep(150);
    expect(events(watcher)).toEqual([
      eventFrame('checkpoint_created', first, session),
      eventFrame('checkpoint_created', marker, other),
    ]);
  });

  it('shares sessions and events with the host API of either instance', async () => {
    const serviceA = a.app.get(CheckpointService);
    const serviceB = b.app.get(CheckpointService);
    const watcherB = await client(b, 'watcher');
    const actorB = await client(b, 'actor');
    const session = await serviceA.createSession('host on A', OWNER_PRINCIPAL);
    const received: Frame[] = [];
    subscriptions.push(serviceA.events(session).subscribe((e) => received.push(e)));
    await subscribe(watcherB, session);
    const byHost = await serviceA.checkpoint(session, 'host', { by: 'A' });
    const bySocket = await checkpoint(actorB, session, 'socket on B');
    expect((await serviceB.listCheckpoints(session)).map((e: any) => [e.id, e.sequence])).toEqual([
      [byHost, 1],
      [bySocket, 2],
    ]);
    expect(await serviceB.restore(session, byHost)).toMatchObject({ id: byHost, state: { by: 'A' } });
    const marker = await checkpoint(actorB, session, 'marker');
    await awaitCreated([watcherB], marker);
    await eventually(() => received.length >= 4, 5000, 'host events on A');
    await sleep(150);
    const expected = [
      eventFrame('checkpoint_created', byHost, session),
      eventFrame('checkpoint_created', bySocket, session),
      eventFrame('checkpoint_restored', byHost, session),
      eventFrame('checkpoint_created', marker, session),
    ];
    expect(events(watcherB)).toEqual(expected);
    expect(received).toEqual(expected);
  });

  it('shares store totals and counts connections and subscriptions per instance', async () => {
    const onA = await client(a, 'm-a');
    const onB = await client(b, 'm-b');
    await eventually(
      async () => (await metrics(onA)).connections === 1 && (await metrics(onB)).connections === 1,
      5000,
      'one connection on each instance',
    );
    const a0 = await metrics(onA);
    const b0 = await metrics(onB);
    expect([a0.sessions, a0.checkpoints]).toEqual([b0.sessions, b0.checkpoints]);
    const session = await createSession(onA);
    await checkpoint(onA, session);
    await checkpoint(onB, session);
    await subscribe(onA, session);
    const a1 = await metrics(onA);
    const b1 = await metrics(onB);
    expect([b1.sessions - b0.sessions, b1.checkpoints - b0.checkpoints]).toEqual([1, 2]);
    expect([a1.sessions - a0.sessions, a1.checkpoints - a0.checkpoints]).toEqual([1, 2]);
    expect([a1.subscriptions - a0.subscriptions, b1.subscriptions - b0.subscriptions]).toEqual([1, 0]);
    const second = await client(a, 'm-a2');
    expect((await metrics(onA)).connections).toBe(2);
    expect((await metrics(onB)).connections).toBe(1);
    await closeAll([second]);
  });

  it('gives 200 concurrent checkpoints, 100 through each instance, the sequences 1..200 and 200 ids', async () => {
    const onA = await client(a, 'conc-a');
    const onB = await client(b, 'conc-b');
    const session = await createSession(onA);
    const batch = (tag: string) =>
      Array.from({ length: 100 }, (_, i) => ({
        method: 'checkpoint',
        params: { session_id: session, message: `${tag}${i}`, state: { tag, i } },
      }));
    const [ra, rb] = await Promise.all([pipeline(onA, batch('a'), 30_000), pipeline(onB, batch('b'), 30_000)]);
    const all = [...ra.responses, ...rb.responses];
    all.forEach((r) => expect(r).toEqual({ id: r.id, success: true, result: expect.stringMatching(UUID) }));
    const ids = all.map((r) => r.result as string);
    expect(new Set(ids).size).toBe(200);

    const entries = await list(onB, session);
    expect(entries).toHaveLength(200);
    const sequences = entries.map((e) => e.sequence as number);
    expect(sequences).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
    expect(new Set(entries.map((e) => e.id))).toEqual(new Set(ids));
    expect(await list(onA, session)).toEqual(entries);
    // each connection's requests were handled in order
    const seqOf = new Map(entries.map((e) => [e.id as string, e.sequence as number]));
    for (const r of [ra, rb]) {
      const seqs = r.responses.map((x) => seqOf.get(x.result as string)!);
      expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
    }
    // and each entry's message matches the request that made it
    const messageOf = new Map(entries.map((e) => [e.id as string, e.message]));
    ra.responses.forEach((r, i) => expect(messageOf.get(r.result as string)).toBe(`a${i}`));
    rb.responses.forEach((r, i) => expect(messageOf.get(r.result as string)).toBe(`b${i}`));
  }, 60_000);
});

describe('checkpoint store on Redis across restarts (SPEC §5)', () => {
  const prefix = clusterPrefix('cp-restart');

  it('loses nothing when the instances close and a new one starts on the same prefix', async () => {
    let a = await startInstance(prefix, 'A');
    let b: TestApp | undefined = await startInstance(prefix, 'B');
    let c: TestApp | undefined;
    let other: TestApp | undefined;
    try {
      const onA = await tab(a, 'before');
      const session = await createSession(onA, 'durable');
      const states = [{ n: 1 }, ['two'], 'three', null];
      const ids: string[] = [];
      for (const [i, state] of states.entries()) ids.push(await checkpoint(onA, session, `d${i + 1}`, state));
      await call(onA, 'delete_checkpoint', { session_id: session, checkpoint_id: ids[1] });
      const before = await list(onA, session);
      const totals = await metrics(onA);
      await closeAll([onA]);
      await a.close();
      await b.close();
      b = undefined;

      c = await startInstance(prefix, 'C');
      const onC = await tab(c, 'after');
      expect(await list(onC, session)).toEqual(before);
      for (const i of [0, 2, 3]) {
        expect(await call(onC, 'restore', { session_id: session, checkpoint_id: ids[i] })).toEqual({
          ...before.find((e) => e.id === ids[i]),
          state: states[i],
        });
      }
      const after = await metrics(onC);
      expect([after.sessions, after.checkpoints]).toEqual([totals.sessions, totals.checkpoints]);
      // the sequence goes on where it was
      const next = await checkpoint(onC, session, 'd5');
      expect((await list(onC, session)).map((e) => [e.id, e.sequence])).toEqual([
        [ids[0], 1],
        [ids[2], 3],
        [ids[3], 4],
        [next, 5],
      ]);

      // another prefix is another store
      other = await startInstance(`${prefix}other:`, 'D');
      const onOther = await tab(other, 'other');
      const missing = await rpc(onOther, 'list_checkpoints', { session_id: session });
      expect(missing).toEqual(failure(missing.id, NO_SESSION));
      await closeAll([onC, onOther]);

      // and a fresh A on the first prefix sees C's checkpoint too
      a = await startInstance(prefix, 'A2');
      const onA2 = await tab(a, 'again');
      expect((await list(onA2, session)).map((e) => e.id)).toEqual([ids[0], ids[2], ids[3], next]);
      await closeAll([onA2]);
    } finally {
      for (const t of [a, b, c, other]) await t?.close().catch(() => undefined);
    }
  }, 60_000);
});
