// Scenario `storm`: a reconnect storm. Two instances on one Redis behind a failover TCP proxy (a
// load balancer: the first instance in rotation that accepts), N clients connected through it, all
// on instance A, in one room; instance B publishes to the room at a steady rate throughout. A is
// stopped: killed (SIGKILL, a crash) or asked to stop (SIGTERM: this app's drain, Socket.IO's
// `io.close()`). Measured: from the stop to each client connected to B again and its resume answered
// (p50/p99/max), how many resumed without a gap, events missing or twice once the storm is over,
// and B's CPU and event-loop delay over the storm. This app: its ChatClient (client package,
// defaults: backoff 500 ms doubling, full jitter), positions in Redis; Socket.IO: socket.io-client
// (defaults: 1 s doubling to 5 s, ±50%) and connection state recovery on `@socket.io/redis-streams-adapter`
// (the adapter that keeps sessions in Redis). Knobs: STORM_CLIENTS (2000; BENCH_QUICK 300),
// STORM_RATE (events/s published during the storm: 5), STORM_KINDS (socketio,app), STORM_STOPS
// (SIGKILL,SIGTERM).
import { startFailoverProxy } from '../failover-proxy.mjs';
import { cpuBetween, deadline, percentiles, QUICK, spawn, startServer } from '../harness.mjs';
import { deleteKeys, REDIS_URL, redisUp, redisUsage } from '../redis-run.mjs';
import { fixed, kindChart, NAMES, table, whole } from '../report.mjs';

const CLIENTS = Number(process.env.STORM_CLIENTS ?? (QUICK ? 300 : 2000));
const RATE = Number(process.env.STORM_RATE ?? 5);
const ROOM = 'channel:7';
const CLIENT_PROCESSES = 2;
const now = () => performance.timeOrigin + performance.now();

/** The storms: which server, how instance A is stopped, and the app's drain. */
const ALL_CASES = [
  { kind: 'socketio', stop: 'SIGKILL' },
  { kind: 'app', stop: 'SIGKILL' },
  { kind: 'socketio', stop: 'SIGTERM' },
  { kind: 'app', stop: 'SIGTERM', drain: 0 },
  { kind: 'app', stop: 'SIGTERM', drain: QUICK ? 2 : 10 },
];

const KINDS = (process.env.STORM_KINDS ?? 'socketio,app').split(',');
const STOPS = (process.env.STORM_STOPS ?? 'SIGKILL,SIGTERM').split(',');
const CASES = ALL_CASES.filter(({ kind, stop }) => KINDS.includes(kind) && STOPS.includes(stop));

const describe = ({ stop, drain }) =>
  stop === 'SIGKILL' ? 'killed (SIGKILL)' : `stopped (SIGTERM${drain === undefined ? '' : `, drain ${drain} s`})`;

async function storm(testCase, run, index) {
  const { kind, stop, drain } = testCase;
  const what = `storm ${NAMES[kind]} ${describe(testCase)}`;
  const prefix = `bench-${run}-${index}`;
  const env = (instance) =>
    kind === 'app'
      ? {
          REDIS_URL,
          WS_REDIS_PREFIX: `${prefix}:`,
          WS_INSTANCE_ID: `${prefix}-${instance}`,
          WS_SHUTDOWN_DRAIN: String(drain ?? 0),
        }
      : { BENCH_REDIS_URL: REDIS_URL, BENCH_REDIS_KEY: prefix, BENCH_RECOVERY: '1' };
  const a = await startServer(kind, env('a'), `${kind} A`);
  const b = await startServer(kind, env('b'), `${kind} B`);
  const health = kind === 'app' ? '/ws/health' : undefined;
  const proxy = await startFailoverProxy([
    { port: a.port, health },
    { port: b.port, health },
  ]);
  const clients = Array.from({ length: CLIENT_PROCESSES }, (_, i) =>
    spawn(`storm clients ${i + 1}`, 'bench/compare/storm-clients.mjs', []),
  );
  const each = (command, ms) => Promise.all(clients.map((client) => client.ask(command, ms)));
  try {
    if (kind === 'app') await Promise.all([redisUp(a), redisUp(b)]);
    const share = Math.ceil(CLIENTS / CLIENT_PROCESSES);
    await Promise.all(
      clients.map((client, i) =>
        client.ask({ cmd: 'open', kind, port: proxy.port, room: ROOM, count: share, first: i * share }, 120_000),
      ),
    );
    const onA = (await a.usage(false)).connections;
    if (onA !== share * CLIENT_PROCESSES)
      throw new Error(`${what}: ${onA} clients on A, not ${share * CLIENT_PROCESSES}`);
    await b.ask({ cmd: 'startSteady', target: { room: ROOM }, perSecond: RATE });
    await each({ cmd: 'flowing', seq: RATE }, 30_000);

    const before = await b.usage(false);
    const redisBefore = await redisUsage();
    const stoppedAt = now();
    await each({ cmd: 'mark', at: stoppedAt });
    const stopped = stop === 'SIGKILL' ? (a.kill(), Promise.resolve()) : a.stop(stop);
    const replies = await each({ cmd: 'resumed' }, 180_000);
    const after = await b.usage(false);
    const redisAfter = await redisUsage();
    await deadline(stopped, 60_000, `${what}: instance A exiting`);
    const { published } = await b.ask({ cmd: 'stopSteady' });
    const delivery = await each({ cmd: 'caughtUp', last: published - 1, ms: 10_000 }, 30_000);
    const connected = percentiles(replies.flatMap((reply) => reply.connectedMs));
    const resumed = percentiles(replies.flatMap((reply) => reply.resumedMs));
    const sum = (list, field) => list.reduce((total, item) => total + item[field], 0);
    const result = {
      ...testCase,
      clients: share * CLIENT_PROCESSES,
      connected,
      resumed,
      recovered: sum(replies, 'recovered'),
      published,
      missing: sum(delivery, 'missing'),
      late: sum(delivery, 'late'),
      incomplete: sum(delivery, 'incomplete'),
      cpuMs: cpuBetween(before, after) / 1000,
      redisCpuMs: redisAfter.cpuMs - redisBefore.cpuMs,
      redisCommands: redisAfter.commands - redisBefore.commands,
      lag: after.lag,
    };
    console.log(what, JSON.stringify(result));
    if (kind === 'app' && (result.missing > 0 || result.late > 0 || result.recovered !== result.clients)) {
      throw new Error(
        `${what}: ${result.recovered} of ${result.clients} recovered, ${result.missing} events missing, ${result.late} twice or late`,
      );
    }
    return result;
  } finally {
    await each({ cmd: 'close' }, 10_000).catch(() => undefined);
    for (const client of clients) client.kill();
    proxy.close();
    a.kill();
    b.kill();
  }
}

export default {
  name: 'storm',
  async run() {
    const run = `${Date.now().toString(36)}-${process.pid}`;
    const results = [];
    try {
      for (const [index, testCase] of CASES.entries()) results.push(await storm(testCase, run, index));
    } finally {
      await deleteKeys(`bench-${run}-*`);
    }
    const lines = [
      '## 7. Reconnect storm',
      '',
      `${results[0].clients} clients, all on instance A of two (one Redis, ${REDIS_URL}), behind a failover TCP ` +
        'proxy standing for the load balancer (a new connection goes to the first instance in rotation that ' +
        'accepts it; this app’s `/ws/health` polled every 100 ms as a readiness probe), in one room; instance B ' +
        `publishes ${RATE} events/s to the room throughout. Instance A is then killed (SIGKILL: a crash) or ` +
        'stopped (SIGTERM: this app’s drain, `WS_SHUTDOWN_DRAIN`; Socket.IO’s `io.close()`, which keeps each ' +
        'socket’s session in Redis). Each client is what its users run, with its defaults: this app’s `ChatClient` ' +
        '(client package: backoff from 500 ms, doubling, full jitter; rejoins its rooms from their positions), ' +
        '`socket.io-client` (1 s doubling to 5 s, ±50%) with connection state recovery on ' +
        '`@socket.io/redis-streams-adapter`. Connected: from the stop to the client connected to B again; resumed: ' +
        'to its resume answered (this app: `room_joined`, recovered or not; Socket.IO: `connect`, `socket.recovered`). ' +
        'Missing / twice: over every client, once the storm is over and the publisher stopped. B’s CPU and ' +
        'event-loop delay, and what Redis spent (its own CPU, `INFO cpu`; the commands it ran, `INFO ' +
        'commandstats`): from the stop until the last client resumed.',
      '',
      ...table(
        [
          'server',
          'instance A',
          'connected p50 / p99 / max ms',
          'resumed p50 / p99 / max ms',
          'resumed without a gap',
          'events missing',
          'events twice',
          'B CPU ms',
          'B CPU µs/client',
          'B event-loop delay p99 / max ms',
          'Redis CPU ms',
          'Redis commands',
        ],
        results.map((r) => [
          NAMES[r.kind],
          describe(r),
          `${whole(r.connected.p50)} / ${whole(r.connected.p99)} / ${whole(r.connected.max)}`,
          `${whole(r.resumed.p50)} / ${whole(r.resumed.p99)} / ${whole(r.resumed.max)}`,
          `${r.recovered} / ${r.clients}`,
          `${r.missing} (${r.incomplete} clients)`,
          r.late,
          whole(r.cpuMs),
          whole((r.cpuMs * 1000) / r.clients),
          `${fixed(r.lag.p99Ms, 1)} / ${fixed(r.lag.maxMs, 1)}`,
          whole(r.redisCpuMs),
          whole(r.redisCommands),
        ]),
      ),
    ];
    const byStop = ({ stop, drain }) =>
      stop === 'SIGKILL' ? 'killed (SIGKILL)' : drain ? `stopped, drain ${drain} s` : 'stopped, all at once';
    const charts = [
      kindChart(
        'storm-resumed',
        {
          title: `Reconnect storm, ${results[0].clients} clients: the last to resume (p99)`,
          unit: 'ms from the stop',
          note: 'lower is better; this app resumes every client without a gap',
        },
        results,
        byStop,
        (r) => r.resumed.p99,
      ),
      kindChart(
        'storm-cpu',
        { title: 'Reconnect storm: the survivor’s CPU per client', unit: 'µs per client', note: 'lower is better' },
        results,
        byStop,
        (r) => (r.cpuMs * 1000) / r.clients,
      ),
    ];
    return { lines, charts };
  },
};
