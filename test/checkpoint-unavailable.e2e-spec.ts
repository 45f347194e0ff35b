import { freePort, RedisServer } from './support/redis.js';
import {
  UNAVAILABLE,
  UUID,
  call,
  checkpoint,
  closeAll,
  createSession,
  failure,
  list,
  openCheckpoint,
  pipeline,
  randomUUID,
  rpc,
  stateOfBytes,
} from './support/checkpoint-client.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { eventually, type TestClient } from './support/test-client.js';

/**
 * SPEC §5: while the store is unreachable, requests fail at once with `Service unavailable` instead
 * of queueing (with their states) until Redis returns; once it is back, the gateway works again.
 * A private redis-server that the test stops and starts again.
 */

describe('checkpoint store while Redis is down (SPEC §5)', () => {
  let redis: RedisServer;
  let t: TestApp;
  const open: TestClient[] = [];

  beforeAll(async () => {
    redis = new RedisServer(await freePort());
    await redis.start();
    t = await startTestApp({
      redis: { url: redis.url, prefix: `unavailable-${process.pid}:` },
      // the pipeline of large states below is well within the inbound budgets
      rateLimitPerSec: 10_000,
      rateLimitBytesPerSec: 64 * 1024 * 1024,
      rateLimitBytesPerSecPerUser: 64 * 1024 * 1024,
      checkpoint: { maxStateBytes: 200_000 },
    });
    await eventually(async () => (await t.http('GET', '/ws/health')).body.redis === 'up', 10_000, 'redis up');
  });
  afterAll(async () => {
    await closeAll(open);
    await t?.close();
    await redis?.kill('SIGKILL');
  });

  it('answers every request Service unavailable while Redis is down, before it returns, and works again after', async () => {
    const c = await openCheckpoint(t, { sub: 'unavailable' });
    open.push(c);
    const session = await createSession(c);
    const id = await checkpoint(c, session, 'before', { before: true });

    await redis.kill('SIGKILL');
    // the first request that finds the connection gone (the instance notices within moments)
    await eventually(
      async () => (await rpc(c, 'list_checkpoints', { session_id: session })).error === UNAVAILABLE,
      10_000,
      'Service unavailable',
    );

    // every method, and a pipeline of large states, is answered while Redis is still down: nothing waits for it
    const state = stateOfBytes(190_000);
    const requests = [
      { method: 'create_session', params: {} },
      { method: 'list_checkpoints', params: { session_id: session } },
      { method: 'restore', params: { session_id: session, checkpoint_id: id } },
      { method: 'delete_checkpoint', params: { session_id: session, checkpoint_id: id } },
      { method: 'compact', params: { session_id: session, keep: 0 } },
      { method: 'subscribe', params: { session_id: session } },
      { method: 'list_checkpoints', params: { session_id: randomUUID() } },
      ...Array.from({ length: 30 }, () => ({ method: 'checkpoint', params: { session_id: session, state } })),
    ];
    const { responses } = await pipeline(c, requests, 10_000);
    responses.forEach((response) => expect(response).toEqual(failure(response.id, UNAVAILABLE)));
    expect(await t.http('GET', '/ws/health')).toMatchObject({ status: 200 });

    // Redis is back (empty: it keeps nothing on disk): the gateway works again
    await redis.start();
    await eventually(
      async () => (await rpc(c, 'create_session', { name: 'after' })).success === true,
      15_000,
      'create_session succeeds again',
    );
    const after = await createSession(c, 'after');
    const made = await checkpoint(c, after, 'after', { after: true });
    expect(made).toMatch(UUID);
    expect((await list(c, after)).map((e) => e.id)).toEqual([made]);
    expect((await call(c, 'restore', { session_id: after, checkpoint_id: made })).state).toEqual({ after: true });
  }, 40_000);
});
