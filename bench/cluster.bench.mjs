// Cluster-state benchmark (issue 12): what the atomic per-user limits and presence cost on the
// upgrade and join paths, the in-memory default against Redis (REDIS_URL, default 127.0.0.1:6379).
//   npm run bench:cluster                 (300 sequential operations per phase)
//   OPS=1000 REDIS_URL=redis://… npm run bench:cluster
// Sequential operations, one at a time, so that each figure is one operation's own latency.
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { startBenchApp, token } from './support.mjs';

const OPS = Number(process.env.OPS ?? 300);
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
async function startApp(redis) {
  const app = await startBenchApp({
    rateLimitPerSec: 1000,
    maxPendingUpgradesPerIp: 100_000,
    redis: redis ? { url: REDIS_URL, prefix: `bench-${process.pid}:` } : undefined,
  });
  if (redis) {
    const deadline = Date.now() + 10_000;
    while (
      (await (await fetch(`http://127.0.0.1:${app.getHttpServer().address().port}/ws/health`)).json()).redis !== 'up'
    ) {
      if (Date.now() > deadline) throw new Error('Redis did not come up');
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return app;
}

const firstFrame = (ws, type) =>
  new Promise((resolve, reject) => {
    const onMessage = (data) => {
      if (JSON.parse(String(data)).type !== type) return;
      ws.off('message', onMessage);
      resolve();
    };
    ws.on('message', onMessage);
    ws.once('close', (code) => reject(new Error(`closed ${code} before ${type}`)));
  });

/** Runs `op(i)` OPS times one after the other; returns per-operation latencies in ms. */
async function timed(op) {
  const latencies = [];
  for (let i = 0; i < OPS; i++) {
    const started = process.hrtime.bigint();
    await op(i);
    latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
  }
  return latencies;
}

function summary(latencies) {
  const sorted = [...latencies].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const total = latencies.reduce((sum, value) => sum + value, 0);
  return {
    per_sec: Math.round((latencies.length * 1000) / total),
    p50_ms: Number(at(0.5).toFixed(3)),
    p99_ms: Number(at(0.99).toFixed(3)),
  };
}

async function run(redis) {
  const app = await startApp(redis);
  const { port } = app.getHttpServer().address();
  const url = (path, sub) => `ws://127.0.0.1:${port}${path}?token=${token(sub)}`;
  const open = [];
  const connect = (path, sub, type) => {
    const ws = new WebSocket(url(path, sub));
    open.push(ws);
    return firstFrame(ws, type).then(() => ws);
  };
  const chats = [];
  const result = {
    chat_connect_per_user_limit: summary(
      await timed(async (i) => chats.push(await connect('/api/v1/ws/connect', `u${i}`, 'connected'))),
    ),
    notify_connect_no_limit: summary(await timed((i) => connect(`/ws/n${i}`, `n${i}`, 'connected'))),
    join_first_tab: summary(
      await timed((i) => {
        const joined = firstFrame(chats[i], 'room_joined');
        chats[i].send(JSON.stringify({ type: 'join_room', room: `channel:${i}` }));
        return joined;
      }),
    ),
  };
  const secondTabs = [];
  for (let i = 0; i < OPS; i++) secondTabs.push(await connect('/api/v1/ws/connect', `u${i}`, 'connected'));
  result.join_second_tab = summary(
    await timed((i) => {
      const joined = firstFrame(secondTabs[i], 'room_joined');
      secondTabs[i].send(JSON.stringify({ type: 'join_room', room: `channel:${i}` }));
      return joined;
    }),
  );
  for (const ws of open) ws.terminate();
  await app.close();
  return result;
}

async function redisReachable() {
  const probe = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await probe.connect();
    await probe.ping();
    return true;
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

const memory = await run(false);
const redis = (await redisReachable()) ? await run(true) : `unreachable at ${REDIS_URL}: skipped`;
console.log(JSON.stringify({ ops_per_phase: OPS, memory, redis }, null, 2));
process.exit(0);
