import { CheckpointService, type Principal } from '../src/realtime/index.js';
import { clusterPrefix, startOnRedis, stopAll } from './support/cluster-pair.js';
import {
  QUOTA_EXCEEDED,
  STATE_TOO_LARGE,
  STORE_KINDS,
  TOO_MANY_CHECKPOINTS,
  TOO_MANY_SESSIONS,
  UUID,
  call,
  checkpoint,
  closeAll,
  createSession,
  failure,
  list,
  metrics,
  openAnonymous,
  openCheckpoint,
  pipeline,
  rpc,
  startOnStore,
  stateOfBytes,
  type StoreApp,
  type StoreKind,
} from './support/checkpoint-client.js';
import type { TestApp } from './support/test-app.js';
import type { Frame, TestClient } from './support/test-client.js';

/**
 * SPEC §5 "Bounded storage": a state of at most maxStateBytes of UTF-8 JSON, maxPerSession
 * checkpoints a session, maxSessionsPerUser sessions and maxBytesPerUser bytes of states a
 * principal. Every bound at its edge (at the limit accepted, one more refused in the protocol's
 * words, nothing stored), quota given back by delete and compact; on memory, Redis and the Redis
 * Cluster (whose scripts must run in one slot), and atomic across instances.
 */

const LIMITS = { maxStateBytes: 1000, maxPerSession: 5, maxSessionsPerUser: 3, maxBytesPerUser: 2500 };
const STATIC = 'static-token-quotas-77a1';

let users = 0;
/** A principal no other test uses (each test starts with an empty quota). */
const freshUser = (): string => `quota-user-${process.pid}-${++users}`;

describe.each<StoreKind>(STORE_KINDS)('storage bounds on %s (SPEC §5)', (kind) => {
  let store: StoreApp;
  let t: TestApp;
  const open: TestClient[] = [];
  const connect = async (sub = freshUser()): Promise<TestClient> => {
    const c = await openCheckpoint(t, { sub });
    open.push(c);
    return c;
  };
  /** The exact refusal of `checkpoint` with `state`. */
  const refusedCheckpoint = async (c: TestClient, session: string, state: unknown, error: string): Promise<void> => {
    const response = await rpc(c, 'checkpoint', { session_id: session, message: 'refused', state });
    expect(response).toEqual(failure(response.id, error));
  };

  beforeAll(async () => {
    store = await startOnStore(kind, `quotas-${kind}`, {
      rateLimitPerSec: 10_000,
      checkpoint: { ...LIMITS, authToken: STATIC },
    });
    t = store.t;
  });
  afterEach(async () => {
    await closeAll(open.splice(0));
  });
  afterAll(() => store.close());

  it('accepts a state of exactly maxStateBytes bytes of UTF-8 JSON and refuses one byte more, storing nothing', async () => {
    const c = await connect();
    const session = await createSession(c);
    const before = await metrics(c);
    for (const char of ['x', 'é', '€', '😀']) {
      const exact = stateOfBytes(LIMITS.maxStateBytes, char);
      const id = await checkpoint(c, session, `exact ${char}`, exact);
      expect((await call(c, 'restore', { session_id: session, checkpoint_id: id })).state).toBe(exact);
      await refusedCheckpoint(c, session, stateOfBytes(LIMITS.maxStateBytes + 1, char), STATE_TOO_LARGE);
      await call(c, 'delete_checkpoint', { session_id: session, checkpoint_id: id });
    }
    // objects count by their JSON text too: {"a":"…"} is 8 bytes besides the string's
    const object = { a: 'y'.repeat(LIMITS.maxStateBytes - 8) };
    expect(Buffer.byteLength(JSON.stringify(object))).toBe(LIMITS.maxStateBytes);
    const kept = await checkpoint(c, session, 'object', object);
    await refusedCheckpoint(c, session, { a: 'y'.repeat(LIMITS.maxStateBytes - 7) }, STATE_TOO_LARGE);
    expect((await list(c, session)).map((e) => [e.id, e.message])).toEqual([[kept, 'object']]);
    const after = await metrics(c);
    expect(after.checkpoints - before.checkpoints).toBe(1);
  });

  it('keeps at most maxPerSession checkpoints in a session; delete and compact make room again', async () => {
    const c = await connect();
    const session = await createSession(c);
    const ids: string[] = [];
    for (let i = 1; i <= LIMITS.maxPerSession; i++) ids.push(await checkpoint(c, session, `c${i}`));
    await refusedCheckpoint(c, session, undefined, TOO_MANY_CHECKPOINTS);
    await refusedCheckpoint(c, session, 'small', TOO_MANY_CHECKPOINTS);
    expect((await list(c, session)).map((e) => e.id)).toEqual(ids);
    // another session of the same principal has its own count
    const other = await createSession(c);
    expect(await checkpoint(c, other, 'elsewhere')).toMatch(UUID);

    await call(c, 'delete_checkpoint', { session_id: session, checkpoint_id: ids[0] });
    const sixth = await checkpoint(c, session, 'c6');
    await refusedCheckpoint(c, session, undefined, TOO_MANY_CHECKPOINTS);
    expect(await call(c, 'compact', { session_id: session, keep: 3 })).toEqual({ remaining: 3 });
    const more = [await checkpoint(c, session, 'c7'), await checkpoint(c, session, 'c8')];
    await refusedCheckpoint(c, session, undefined, TOO_MANY_CHECKPOINTS);
    expect((await list(c, session)).map((e) => [e.id, e.sequence])).toEqual([
      [ids[3], 4],
      [ids[4], 5],
      [sixth, 6],
      [more[0], 7],
      [more[1], 8],
    ]);
  });

  it('lets a principal own maxSessionsPerUser sessions, from any of its connections, and no more', async () => {
    const sub = freshUser();
    const [first, second] = [await connect(sub), await connect(sub)];
    const sessions = [await createSession(first), await createSession(second), await createSession(first)];
    const before = await metrics(first);
    for (const c of [first, second]) {
      const refused = await rpc(c, 'create_session', { name: 'one too many' });
      expect(refused).toEqual(failure(refused.id, TOO_MANY_SESSIONS));
    }
    expect((await metrics(first)).sessions).toBe(before.sessions);
    for (const session of sessions) expect(await list(second, session)).toEqual([]);
    // the quota is the principal's: another user, and the static token's principal, have their own
    const other = await connect();
    for (let i = 0; i < LIMITS.maxSessionsPerUser; i++) await createSession(other);
    const viaStatic = await openAnonymous(t);
    open.push(viaStatic);
    await call(viaStatic, 'authenticate', { token: STATIC });
    for (let i = 0; i < LIMITS.maxSessionsPerUser; i++) await createSession(viaStatic);
    const refused = await rpc(viaStatic, 'create_session', {});
    expect(refused).toEqual(failure(refused.id, TOO_MANY_SESSIONS));
  });

  it('holds a principal to maxBytesPerUser bytes of states across its sessions; delete and compact give bytes back', async () => {
    const c = await connect();
    const [s1, s2, s3] = [await createSession(c), await createSession(c), await createSession(c)];
    const before = await metrics(c);
    // 1000 + 1000 + 500 = 2500 = maxBytesPerUser, over three sessions
    const big1 = await checkpoint(c, s1, 'big1', stateOfBytes(1000));
    const big2 = await checkpoint(c, s2, 'big2', stateOfBytes(1000, 'é'));
    const half = await checkpoint(c, s3, 'half', stateOfBytes(500));
    for (const session of [s1, s2, s3]) await refusedCheckpoint(c, session, 1, QUOTA_EXCEEDED);
    // no state counts 0 bytes
    const empty = await checkpoint(c, s3, 'no state');
    const nulled = await checkpoint(c, s3, 'null state', null);
    const stored = async (): Promise<string[]> =>
      [...(await list(c, s1)), ...(await list(c, s2)), ...(await list(c, s3))].map((e) => e.id);
    expect(await stored()).toEqual([big1, big2, half, empty, nulled]);
    expect((await metrics(c)).checkpoints - before.checkpoints).toBe(5);

    // a delete gives back exactly that checkpoint's bytes
    await call(c, 'delete_checkpoint', { session_id: s3, checkpoint_id: half });
    await refusedCheckpoint(c, s1, stateOfBytes(501), QUOTA_EXCEEDED);
    const again = await checkpoint(c, s1, 'again', stateOfBytes(500));
    await refusedCheckpoint(c, s2, 1, QUOTA_EXCEEDED);
    // a compact gives back the bytes of what it removed
    expect(await call(c, 'compact', { session_id: s1, keep: 1 })).toEqual({ remaining: 1 });
    const refill = await checkpoint(c, s2, 'refill', stateOfBytes(1000, '€'));
    await refusedCheckpoint(c, s3, 1, QUOTA_EXCEEDED);
    expect(await stored()).toEqual([again, big2, refill, empty, nulled]);
    // other principals are not affected
    const other = await connect();
    const theirs = await createSession(other);
    expect(await checkpoint(other, theirs, 'full', stateOfBytes(1000))).toMatch(UUID);
  });

  it('counts the bytes of a message beyond the first 256 in maxBytesPerUser, exactly; a delete gives them back', async () => {
    const c = await connect();
    const session = await createSession(c);
    // 256 free bytes, then 2500 that count: exactly the quota.
    const long = await checkpoint(c, session, 'm'.repeat(256 + 2500));
    const refused = await rpc(c, 'checkpoint', { session_id: session, message: 'm'.repeat(257) });
    expect(refused).toEqual(failure(refused.id, QUOTA_EXCEEDED));
    // A message of up to 256 bytes costs nothing; multi-byte characters count as their UTF-8 bytes.
    const free = await checkpoint(c, session, 'é'.repeat(128));
    const overByOne = await rpc(c, 'checkpoint', { session_id: session, message: `${'é'.repeat(128)}x` });
    expect(overByOne).toEqual(failure(overByOne.id, QUOTA_EXCEEDED));
    expect((await list(c, session)).map((e) => e.id)).toEqual([long, free]);
    await call(c, 'delete_checkpoint', { session_id: session, checkpoint_id: long });
    expect(await checkpoint(c, session, 'm'.repeat(256 + 1500), stateOfBytes(1000))).toMatch(UUID);
    const full = await rpc(c, 'checkpoint', { session_id: session, message: 'm'.repeat(257) });
    expect(full).toEqual(failure(full.id, QUOTA_EXCEEDED));
  });

  it('bounds the sessions the host makes for a user, not those it makes for itself', async () => {
    const service = t.app.get(CheckpointService);
    const sub = freshUser();
    const user: Principal = { sub, userId: sub, username: sub, roles: [] };
    for (let i = 0; i < LIMITS.maxSessionsPerUser; i++) await service.createSession(`for user ${i}`, user);
    await expect(service.createSession('one more', user)).rejects.toThrow(TOO_MANY_SESSIONS);
    const own = [];
    for (let i = 0; i <= LIMITS.maxSessionsPerUser; i++) own.push(await service.createSession(`host ${i}`));
    await service.checkpoint(own[0], 'host', stateOfBytes(LIMITS.maxStateBytes));
    await service.checkpoint(own[0], 'host', stateOfBytes(LIMITS.maxStateBytes));
    await service.checkpoint(own[0], 'host', stateOfBytes(LIMITS.maxStateBytes));
    // the bounds of one checkpoint and one session hold for everyone
    await expect(service.checkpoint(own[0], 'host', stateOfBytes(LIMITS.maxStateBytes + 1))).rejects.toThrow(
      STATE_TOO_LARGE,
    );
    await service.checkpoint(own[0]);
    await service.checkpoint(own[0]);
    await expect(service.checkpoint(own[0])).rejects.toThrow(TOO_MANY_CHECKPOINTS);
  });
});

describe('quotas are atomic across two instances on one Redis (SPEC §5, §9)', () => {
  const prefix = clusterPrefix('quotas-pair');
  const limits = { maxStateBytes: 1000, maxPerSession: 12, maxSessionsPerUser: 7, maxBytesPerUser: 9000 };
  let a: TestApp;
  let b: TestApp;
  const open: TestClient[] = [];
  const tabs = async (sub: string): Promise<TestClient[]> => {
    const clients = [
      await openCheckpoint(a, { sub }),
      await openCheckpoint(a, { sub }),
      await openCheckpoint(b, { sub }),
      await openCheckpoint(b, { sub }),
    ];
    open.push(...clients);
    return clients;
  };
  /** The same requests from every client at once; all the responses. */
  const together = async (clients: TestClient[], requests: Array<{ method: string; params?: unknown }>) =>
    (await Promise.all(clients.map((c) => pipeline(c, requests, 20_000)))).flatMap((r) => r.responses);
  const successes = (responses: Frame[]): Frame[] => responses.filter((r) => r.success === true);
  const errors = (responses: Frame[]): string[] => [
    ...new Set(responses.filter((r) => !r.success).map((r) => r.error)),
  ];

  beforeAll(async () => {
    a = await startOnRedis(prefix, 'A', { rateLimitPerSec: 100_000, checkpoint: limits });
    b = await startOnRedis(prefix, 'B', { rateLimitPerSec: 100_000, checkpoint: limits });
  });
  afterAll(async () => {
    await closeAll(open);
    await stopAll([a, b]);
  });

  it('admits exactly maxSessionsPerUser of 80 concurrent create_session on two instances', async () => {
    const clients = await tabs('racing-sessions');
    const responses = await together(clients, Array(20).fill({ method: 'create_session' }));
    expect(responses).toHaveLength(80);
    expect(successes(responses)).toHaveLength(limits.maxSessionsPerUser);
    expect(errors(responses)).toEqual([TOO_MANY_SESSIONS]);
    // every admitted session works, on both instances
    for (const { result } of successes(responses)) {
      expect(await list(clients[0], result as string)).toEqual([]);
      expect(await list(clients[3], result as string)).toEqual([]);
    }
  });

  it('admits exactly the states that fit maxBytesPerUser, and exactly maxPerSession checkpoints, under concurrent writers', async () => {
    const clients = await tabs('racing-bytes');
    const sessions = [await createSession(clients[0]), await createSession(clients[2])];
    // 4 × 20 checkpoints of 1000 bytes over two sessions: 9 fit the 9000 bytes, the sessions hold 12 each
    const state = stateOfBytes(1000);
    const requests = Array.from({ length: 20 }, (_, i) => ({
      method: 'checkpoint',
      params: { session_id: sessions[i % 2], state },
    }));
    const responses = await together(clients, requests);
    expect(successes(responses)).toHaveLength(9);
    expect(errors(responses)).toEqual([QUOTA_EXCEEDED]);
    const stored = [...(await list(clients[1], sessions[0])), ...(await list(clients[3], sessions[1]))];
    expect(stored.map((e) => e.id).sort()).toEqual(
      successes(responses)
        .map((r) => r.result)
        .sort(),
    );

    // stateless checkpoints cost no bytes: the count per session is the bound now
    const counted = await together(
      clients,
      Array(10).fill({ method: 'checkpoint', params: { session_id: sessions[0], message: 'count' } }),
    );
    const inFirst = (await list(clients[0], sessions[0])).length;
    expect(inFirst).toBe(limits.maxPerSession);
    expect(successes(counted)).toHaveLength(
      limits.maxPerSession - stored.filter((e) => e.session_id === sessions[0]).length,
    );
    expect(errors(counted)).toEqual([TOO_MANY_CHECKPOINTS]);
  });
});
