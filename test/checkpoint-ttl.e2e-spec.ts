import { CheckpointService } from '../src/realtime/index.js';
import {
  NO_SESSION,
  QUOTA_EXCEEDED,
  STORE_KINDS,
  TOO_MANY_SESSIONS,
  UUID,
  call,
  checkpoint,
  closeAll,
  createSession,
  failure,
  metrics,
  openCheckpoint,
  randomUUID,
  rpc,
  startOnStore,
  stateOfBytes,
  type StoreApp,
  type StoreKind,
} from './support/checkpoint-client.js';
import { eventually, sleep, type TestClient } from './support/test-client.js';

/**
 * SPEC §5: a session on which no method has been called for CHECKPOINT_SESSION_TTL seconds expires,
 * in memory and in Redis, and then answers `Session not found`; its storage is freed (memory: the
 * session itself; Redis: every key of it), and its owner's quota no longer counts it. Each method
 * call restarts the TTL. The tests wait for the expiry through the host API's `hasSession` (which is
 * not a method call and restarts nothing), never for a fixed time.
 */

const TTL_SEC = 1;
const LIMITS = { sessionTtlSec: TTL_SEC, maxSessionsPerUser: 2, maxBytesPerUser: 600, maxStateBytes: 600 };
/** The store's keys (`{ws:checkpoint…}`) but its shared bookkeeping (totals, the sweep's index). */
const isStoreKey = (key: string): boolean =>
  key.includes('{ws:checkpoint') && !key.endsWith('}:totals') && !key.endsWith('}:expiries');

let users = 0;
const freshUser = (): string => `ttl-user-${process.pid}-${++users}`;

describe.each<StoreKind>(STORE_KINDS)('session TTL on %s (SPEC §5)', (kind) => {
  let store: StoreApp;
  let service: CheckpointService;
  const open: TestClient[] = [];
  const connect = async (sub: string): Promise<TestClient> => {
    const c = await openCheckpoint(store.t, { sub });
    open.push(c);
    return c;
  };
  const storeKeys = async (): Promise<string[]> => (await store.keys()).filter(isStoreKey);
  /** Every key that names the session: the store's, and its event stream's (SPEC §11). */
  const keysOf = async (session: string): Promise<string[]> =>
    (await store.keys()).filter((key) => key.includes(session));
  const expired = (session: string): Promise<void> =>
    eventually(async () => !(await service.hasSession(session)), 10_000, `session ${session} expired`);

  beforeAll(async () => {
    // The sessions' event history lives no longer than they do here, so that no key names them afterwards.
    store = await startOnStore(kind, `ttl-${kind}`, {
      rateLimitPerSec: 10_000,
      historyTtlSec: TTL_SEC,
      checkpoint: LIMITS,
    });
    service = store.t.app.get(CheckpointService);
  });
  afterEach(async () => {
    await closeAll(open.splice(0));
  });
  afterAll(() => store.close());

  it('expires a session nobody calls: Session not found on every method, its storage freed, its quota given back', async () => {
    const c = await connect(freshUser());
    const before = await metrics(c);
    const first = await createSession(c, 'first');
    const second = await createSession(c, 'second');
    const full = await checkpoint(c, first, 'full', stateOfBytes(600));
    await checkpoint(c, second, 'empty');
    const refusedSession = await rpc(c, 'create_session', {});
    expect(refusedSession).toEqual(failure(refusedSession.id, TOO_MANY_SESSIONS));
    const refusedBytes = await rpc(c, 'checkpoint', { session_id: second, state: 1 });
    expect(refusedBytes).toEqual(failure(refusedBytes.id, QUOTA_EXCEEDED));
    const during = await metrics(c);
    expect([during.sessions - before.sessions, during.checkpoints - before.checkpoints]).toEqual([2, 2]);
    if (kind !== 'memory') expect((await storeKeys()).some((key) => key.includes(first))).toBe(true);

    await expired(first);
    await expired(second);
    for (const [method, params] of [
      ['list_checkpoints', { session_id: first }],
      ['checkpoint', { session_id: first, state: 1 }],
      ['restore', { session_id: first, checkpoint_id: full }],
      ['delete_checkpoint', { session_id: first, checkpoint_id: full }],
      ['compact', { session_id: first, keep: 0 }],
      ['subscribe', { session_id: first }],
    ] as const) {
      const response = await rpc(c, method, params);
      expect({ method, response }).toEqual({ method, response: failure(response.id, NO_SESSION) });
    }
    // gone from the totals (memory at once; Redis once a sweep or the owner's next call reclaimed it)
    await eventually(async () => (await metrics(c)).sessions === before.sessions, 10_000, 'sessions total back');
    expect((await metrics(c)).checkpoints).toBe(before.checkpoints);
    // no key of the sessions, nor of their owner's quota, is left in Redis; their event streams'
    // history is gone with it, and what remains of the streams (their position, for SPEC §11) expires by itself
    if (kind !== 'memory') {
      let left: string[] = [];
      await eventually(
        async () => {
          left = [...(await storeKeys()), ...(await keysOf(first)), ...(await keysOf(second))];
          return left.every((key) => /\{ws:stream:checkpoint:session:[^}]+\}:meta$/.test(key));
        },
        10_000,
        () => `no key left but stream positions: ${JSON.stringify(left)}`,
      );
      for (const key of left) expect({ key, pttl: (await store.pttl(key)) > 0 }).toEqual({ key, pttl: true });
    }

    // the owner's quota counts them no more: two sessions again, and the whole byte quota
    const again = [await createSession(c), await createSession(c)];
    expect(await checkpoint(c, again[0], 'full again', stateOfBytes(600))).toMatch(UUID);
  });

  it('restarts the TTL on each method call, of any kind, while an untouched session expires', async () => {
    const c = await connect(freshUser());
    const kept = await createSession(c, 'kept');
    const control = await createSession(c, 'control');
    const id = await checkpoint(c, kept, 'state', { keep: true });
    const calls: Array<[string, object]> = [
      ['list_checkpoints', { session_id: kept }],
      ['subscribe', { session_id: kept }],
      ['restore', { session_id: kept, checkpoint_id: id }],
      ['checkpoint', { session_id: kept, message: 'touch' }],
      ['delete_checkpoint', { session_id: kept, checkpoint_id: randomUUID() }],
      ['compact', { session_id: kept, keep: 10 }],
    ];
    // calls every 250 ms, until the control session (created at the same moment) has expired and a TTL more
    let i = 0;
    const call = async (): Promise<void> => {
      const [method, params] = calls[i++ % calls.length];
      const response = await rpc(c, method, params);
      expect({ method, error: response.error }).toEqual({
        method,
        error: method === 'delete_checkpoint' ? 'Checkpoint not found' : undefined,
      });
    };
    while (await service.hasSession(control)) {
      await call();
      await sleep(250);
    }
    const controlGone = Date.now();
    while (Date.now() - controlGone < TTL_SEC * 1000 + 500) {
      await call();
      await sleep(250);
    }
    expect(await service.hasSession(kept)).toBe(true);
    const response = await rpc(c, 'restore', { session_id: kept, checkpoint_id: id });
    expect(response.result.state).toEqual({ keep: true });
    if (kind !== 'memory') {
      // every key the session has carries the TTL, those its later calls created included
      const keys = (await storeKeys()).filter((key) => key.includes(kept));
      expect(keys.length).toBeGreaterThanOrEqual(4);
      for (const key of keys) {
        const pttl = await store.pttl(key);
        expect({ key, live: pttl > 0 && pttl <= TTL_SEC * 1000 }).toEqual({ key, live: true });
      }
    }
    // and once the calls stop, it expires too
    await expired(kept);
    const gone = await rpc(c, 'list_checkpoints', { session_id: kept });
    expect(gone).toEqual(failure(gone.id, NO_SESSION));
  });
});

describe('sessions without TTL (sessionTtlSec 0)', () => {
  it('keeps them, and their Redis keys carry no TTL', async () => {
    const store = await startOnStore('redis', 'ttl-forever', { checkpoint: { sessionTtlSec: 0 } });
    try {
      const c = await openCheckpoint(store.t, { sub: freshUser() });
      const session = await createSession(c);
      await checkpoint(c, session, 'kept', { forever: true });
      const keys = (await store.keys()).filter((key) => isStoreKey(key) && key.includes(session));
      expect(keys.length).toBeGreaterThanOrEqual(4);
      for (const key of keys) expect(await store.pttl(key)).toBe(-1);
      expect((await call(c, 'list_checkpoints', { session_id: session })).length).toBe(1);
      await closeAll([c]);
    } finally {
      await store.close();
    }
  });
});
