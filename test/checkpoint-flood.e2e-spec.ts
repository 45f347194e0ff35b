import { existsSync, readFileSync } from 'node:fs';
import { startStandalone, type StandaloneProcess } from './support/standalone-process.js';
import { freePort, RedisServer, redisCommand } from './support/redis.js';
import {
  CHECKPOINTS,
  QUOTA_EXCEEDED,
  TOO_MANY_SESSIONS,
  call,
  checkpoint,
  closeAll,
  createSession,
  metrics,
  request,
  stateOfBytes,
} from './support/checkpoint-client.js';
import { endpoints, type Endpoints } from './support/test-app.js';
import { TestClient, eventually, waitFrame, type Frame } from './support/test-client.js';
import { hsToken, TEST_SECRET } from './support/tokens.js';

/**
 * SPEC §5 "Bounded storage" as a whole: a checkpoint flood many times larger than the quotas allow
 * (many users, several connections each, states near maxStateBytes) leaves the server's memory, and
 * Redis', grown by no more than what the quotas let the users keep plus a stated allowance, and the
 * server still answering. Before the quotas, a 1 MB state sent in a loop grew a server by ~27 MB/s
 * until V8 died. The server runs as its own process (`node dist/main.js`), whose resident set is read
 * from /proc.
 */

const USERS = 8;
const CONNECTIONS_PER_USER = 3;
const CHECKPOINTS_PER_CONNECTION = 120;
const IN_FLIGHT = 8;
const QUOTAS = { maxStateBytes: 65_536, maxBytesPerUser: 1_048_576, maxSessionsPerUser: 4, maxPerSession: 1000 };
const STATE_BYTES = 60_000;
/** What the quotas let every user keep, in all. */
const KEPT_BYTES = USERS * QUOTAS.maxBytesPerUser;
/** The flood: 8 × 3 × 120 × 60 kB ≈ 165 MiB, 20 times what the quotas keep. */
const FLOOD_BYTES = USERS * CONNECTIONS_PER_USER * CHECKPOINTS_PER_CONNECTION * STATE_BYTES;
/**
 * Growth of the server's resident set allowed beyond the kept states: V8's young generation and its
 * garbage before a collection, the sockets' and the requests in flight's buffers (24 connections × 8
 * requests × a few copies of 60 kB), the allocator's slack. Measured: 33–41 MiB, whatever the flood's
 * size. The states are kept as JSON text (1 byte a character for ASCII in V8), so what is kept counts once.
 */
const RSS_ALLOWANCE = 64 * 1024 * 1024;
/**
 * The server's old generation is capped below the flood's size: a store that kept what the quotas
 * refuse could not fit (the process would die of it), and V8 collects before the resident set shows
 * garbage that a lazier collector would leave for later.
 */
const HEAP_CAP_MIB = 96;
/** Redis' overhead over the bytes of the states (keys, hashes, metadata, allocator). */
const REDIS_ALLOWANCE = 4 * 1024 * 1024;

const PROC = (pid: number): string => `/proc/${pid}/status`;
/** `VmRSS` (now) or `VmHWM` (peak) of a process, in bytes. */
function residentBytes(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(PROC(pid), 'utf8'));
  if (!match) throw new Error(`no ${field} for ${pid}`);
  return Number(match[1]) * 1024;
}

async function usedMemory(port: number): Promise<number> {
  const info = String(await redisCommand(port, ['INFO', 'memory']));
  return Number(/^used_memory:(\d+)/m.exec(info)![1]);
}

interface Outcome {
  accepted: number;
  errors: Map<string, number>;
}

/** Sends `count` checkpoints of `state`, round-robin over `sessions`, `IN_FLIGHT` at a time; counts the answers. */
async function flood(client: TestClient, sessions: string[], count: number, state: string): Promise<Outcome> {
  const outcome: Outcome = { accepted: 0, errors: new Map() };
  let sent = 0;
  const one = async (): Promise<void> => {
    while (sent < count) {
      const frame = request('checkpoint', { session_id: sessions[sent++ % sessions.length], message: 'flood', state });
      const start = client.frames.length;
      client.send(frame);
      const response = await waitFrame(client, (f: Frame) => f.id === frame.id, start, 30_000, 'flood response');
      if (response.success) outcome.accepted++;
      else outcome.errors.set(response.error, (outcome.errors.get(response.error) ?? 0) + 1);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, one));
  return outcome;
}

/** Frames a client keeps are the test's memory, not the server's: only the responses are needed. */
function forgetFrames(client: TestClient): void {
  client.frames.length = 0;
}

async function floodServer(server: Endpoints, pid: number): Promise<{ growth: number; outcomes: Outcome[][] }> {
  const state = stateOfBytes(STATE_BYTES);
  const users = Array.from({ length: USERS }, (_, u) => `flood-${process.pid}-${u}`);
  const clients: TestClient[][] = [];
  for (const sub of users) {
    const tabs: TestClient[] = [];
    for (let i = 0; i < CONNECTIONS_PER_USER; i++) {
      tabs.push(await TestClient.open(server.wsUrl(CHECKPOINTS, hsToken({ sub }))));
    }
    clients.push(tabs);
  }
  try {
    // each user takes all the sessions it may own; warm up with one checkpoint a user, then delete it
    const sessions: string[][] = [];
    for (const [u, tabs] of clients.entries()) {
      const own = [];
      for (let i = 0; i < QUOTAS.maxSessionsPerUser; i++) own.push(await createSession(tabs[i % tabs.length]));
      const refused = await call(tabs[0], 'create_session', {}).catch((error: Error) => error.message);
      expect(refused).toContain(TOO_MANY_SESSIONS);
      const warm = await checkpoint(tabs[1], own[0], 'warm-up', state);
      await call(tabs[2], 'delete_checkpoint', { session_id: own[0], checkpoint_id: warm });
      sessions[u] = own;
    }
    clients.flat().forEach(forgetFrames);
    const before = residentBytes(pid, 'VmRSS');
    const peakBefore = residentBytes(pid, 'VmHWM');

    const outcomes = await Promise.all(
      clients.map((tabs, u) =>
        Promise.all(tabs.map((tab) => flood(tab, sessions[u], CHECKPOINTS_PER_CONNECTION, state))),
      ),
    );
    const peak = residentBytes(pid, 'VmHWM');
    // the peak since start-up: when it was reached before the flood, the flood grew nothing beyond it
    const growth = Math.max(peak, peakBefore) === peakBefore ? 0 : peak - before;
    return { growth, outcomes };
  } finally {
    await closeAll(clients.flat());
  }
}

/** Every user kept exactly the states that fit its quota; the rest was refused in the protocol's words. */
function expectQuotasHeld(outcomes: Outcome[][]): void {
  const fits = Math.floor(QUOTAS.maxBytesPerUser / STATE_BYTES);
  for (const perUser of outcomes) {
    expect(perUser.reduce((sum, o) => sum + o.accepted, 0)).toBe(fits);
    const errors = new Set(perUser.flatMap((o) => [...o.errors.keys()]));
    expect([...errors]).toEqual([QUOTA_EXCEEDED]);
  }
}

const hasProc = existsSync(PROC(process.pid));
const maybe = hasProc ? describe : describe.skip;

maybe('a checkpoint flood against the quotas (SPEC §5)', () => {
  const env = (extra: Record<string, string>): Record<string, string> => ({
    NO_COLOR: '1',
    NODE_OPTIONS: `--max-old-space-size=${HEAP_CAP_MIB}`,
    JWT_SECRET: TEST_SECRET,
    WS_RATE_LIMIT_PER_SEC: '100000',
    WS_RATE_LIMIT_BYTES_PER_SEC: String(256 * 1024 * 1024),
    WS_RATE_LIMIT_BYTES_PER_SEC_PER_USER: String(256 * 1024 * 1024),
    CHECKPOINT_MAX_STATE_BYTES: String(QUOTAS.maxStateBytes),
    CHECKPOINT_MAX_BYTES_PER_USER: String(QUOTAS.maxBytesPerUser),
    CHECKPOINT_MAX_SESSIONS_PER_USER: String(QUOTAS.maxSessionsPerUser),
    CHECKPOINT_MAX_PER_SESSION: String(QUOTAS.maxPerSession),
    ...extra,
  });
  const stop = async (app: StandaloneProcess | undefined): Promise<void> => {
    if (!app || app.child.exitCode !== null) return;
    app.child.kill('SIGTERM');
    await app.exited;
  };

  it('keeps the server’s memory within the quotas plus an allowance (memory store), and the server answering', async () => {
    const app = await startStandalone(env({}));
    try {
      const server = endpoints(app.port);
      const { growth, outcomes } = await floodServer(server, app.child.pid!);
      process.stdout.write(
        `checkpoint flood (memory): sent ${(FLOOD_BYTES / 2 ** 20).toFixed(0)} MiB, quotas keep ${KEPT_BYTES / 2 ** 20} MiB, ` +
          `server RSS grew ${(growth / 2 ** 20).toFixed(1)} MiB (bound ${((KEPT_BYTES + RSS_ALLOWANCE) / 2 ** 20).toFixed(0)} MiB)\n`,
      );
      expectQuotasHeld(outcomes);
      expect(growth).toBeLessThanOrEqual(KEPT_BYTES + RSS_ALLOWANCE);
      const probe = await TestClient.open(server.wsUrl(CHECKPOINTS, hsToken({ sub: 'after-the-flood' })));
      expect((await metrics(probe)).checkpoints).toBe(USERS * Math.floor(QUOTAS.maxBytesPerUser / STATE_BYTES));
      const session = await createSession(probe);
      expect(await checkpoint(probe, session, 'still answering', { ok: true })).toBeTruthy();
      await closeAll([probe]);
    } finally {
      await stop(app);
    }
  }, 60_000);

  it('keeps Redis’ used_memory and the server’s within the quotas plus an allowance (Redis store)', async () => {
    const redis = new RedisServer(await freePort());
    await redis.start();
    let app: StandaloneProcess | undefined;
    try {
      app = await startStandalone(env({ REDIS_URL: redis.url, WS_REDIS_PREFIX: 'flood:' }));
      const server = endpoints((app as StandaloneProcess & { port: number }).port);
      await eventually(async () => (await server.http('GET', '/ws/health')).body.redis === 'up', 10_000, 'redis up');
      const redisBefore = await usedMemory(redis.port);
      const { growth, outcomes } = await floodServer(server, app.child.pid!);
      const redisGrowth = (await usedMemory(redis.port)) - redisBefore;
      process.stdout.write(
        `checkpoint flood (redis): sent ${(FLOOD_BYTES / 2 ** 20).toFixed(0)} MiB, quotas keep ${KEPT_BYTES / 2 ** 20} MiB, ` +
          `Redis used_memory grew ${(redisGrowth / 2 ** 20).toFixed(1)} MiB (bound ${((KEPT_BYTES + REDIS_ALLOWANCE) / 2 ** 20).toFixed(0)} MiB), ` +
          `server RSS grew ${(growth / 2 ** 20).toFixed(1)} MiB (bound ${(RSS_ALLOWANCE / 2 ** 20).toFixed(0)} MiB)\n`,
      );
      expectQuotasHeld(outcomes);
      expect(redisGrowth).toBeLessThanOrEqual(KEPT_BYTES + REDIS_ALLOWANCE);
      // the states are in Redis, not in the server
      expect(growth).toBeLessThanOrEqual(RSS_ALLOWANCE);
      const probe = await TestClient.open(server.wsUrl(CHECKPOINTS, hsToken({ sub: 'after-the-flood' })));
      const session = await createSession(probe);
      expect(await checkpoint(probe, session, 'still answering', { ok: true })).toBeTruthy();
      await closeAll([probe]);
    } finally {
      await stop(app);
      await redis.kill('SIGKILL');
    }
  }, 60_000);
});
