// Scenario `crossinstance`: delivery from one instance to another through Redis. Two instances of
// this app on one Redis (REDIS_URL, default redis://127.0.0.1:6379; a WS_REDIS_PREFIX of its own per
// run, its keys deleted after), beside two Socket.IO instances with @socket.io/redis-adapter and two
// bare `ws` servers passing each event through Redis pub/sub (the floor of the hop); the publisher on instance A, the subscribers (chat room members) on instance B. Events at a steady rate,
// their send time in the payload; receivers compute the latency. Knobs: CROSS_RATES (events/s, comma
// list: 1000,5000), CROSS_SECONDS (per rate: 5; BENCH_QUICK: 1), CROSS_SUBSCRIBERS (10).
import { cpuBetween, percentiles, QUICK, sleep, startClients, startServer } from '../harness.mjs';
import { deleteKeys, REDIS_URL, redisUp, redisUsage } from '../redis-run.mjs';
import { fixed, groupBy, NAMES, ratioRows, table, whole, kindChart } from '../report.mjs';

const RATES = (process.env.CROSS_RATES ?? '1000,5000').split(',').map(Number);
const SECONDS = Number(process.env.CROSS_SECONDS ?? (QUICK ? 1 : 5));
const SUBSCRIBERS = Number(process.env.CROSS_SUBSCRIBERS ?? 10);
const ROOM = 'channel:1';
const KINDS = ['ws', 'socketio', 'app'];

/** Publishes on A one event per 100 ms until every subscriber on B has one: both sides are subscribed. */
async function warmUp(a, clients, what) {
  await clients.expect(1, { atLeast: true });
  let seq = 0;
  const timer = setInterval(() => a.tell({ cmd: 'one', target: { room: ROOM }, seq: seq++ }), 100);
  try {
    await clients.delivered(`${what}: warm-up`, 30_000);
  } finally {
    clearInterval(timer);
  }
  await sleep(300);
}

/** `rate` events/s for SECONDS from A, received on B: latencies, losses, backlog, both instances' CPU. */
async function atRate(kind, a, b, clients, rate) {
  const what = `crossinstance ${NAMES[kind]} at ${rate}/s`;
  const events = Math.round(rate * SECONDS);
  await clients.expect(events);
  const before = [await a.usage(false), await b.usage(false)];
  const redisBefore = await redisUsage();
  const published = await a.ask(
    { cmd: 'rate', target: { room: ROOM }, perSecond: rate, seconds: SECONDS },
    SECONDS * 1000 + 30_000,
  );
  await clients.delivered(what, 60_000);
  const after = [await a.usage(false), await b.usage(false)];
  const redisAfter = await redisUsage();
  await clients.verify(what, SUBSCRIBERS);
  const { samples, lastArrival } = await clients.latencies();
  const tenth = Math.max(1, Math.floor(samples.length / 10));
  const first = percentiles(samples.slice(0, tenth)).p50;
  const last = percentiles(samples.slice(-tenth)).p50;
  const publishSeconds = (published.endedAt - published.startedAt) / 1000;
  const drainMs = lastArrival - published.endedAt;
  return {
    kind,
    rate,
    delivered: samples.length,
    expected: events * SUBSCRIBERS,
    ...percentiles(samples),
    first,
    last,
    publishSeconds,
    drainMs,
    // The publisher fell behind, the last events waited longer than the first ones, or arrived late.
    backlog: publishSeconds > 1.1 * SECONDS || last > 2 * first + 5 || drainMs > 50,
    cpuPerEventUs: [cpuBetween(before[0], after[0]) / events, cpuBetween(before[1], after[1]) / events],
    redisCpuPerEventUs: ((redisAfter.cpuMs - redisBefore.cpuMs) * 1000) / events,
  };
}

async function measure(kind, run) {
  const env = (instance) =>
    kind === 'app'
      ? { REDIS_URL, WS_REDIS_PREFIX: `bench-${run}:`, WS_INSTANCE_ID: `bench-${run}-${instance}` }
      : { BENCH_REDIS_URL: REDIS_URL, BENCH_REDIS_KEY: `bench-${run}` };
  const a = await startServer(kind, env('a'), `${kind} A`);
  const b = await startServer(kind, env('b'), `${kind} B`);
  const clients = startClients(1);
  try {
    if (kind === 'app') await Promise.all([redisUp(a), redisUp(b)]);
    await clients.open({ kind, port: b.port, count: SUBSCRIBERS, targets: [ROOM], latency: true });
    await warmUp(a, clients, `crossinstance ${NAMES[kind]}`);
    const results = [];
    for (const rate of RATES) {
      const result = await atRate(kind, a, b, clients, rate);
      console.log(`crossinstance ${NAMES[kind]} ${rate}/s`, JSON.stringify(result));
      results.push(result);
    }
    return results;
  } finally {
    await clients.close();
    a.kill();
    b.kill();
  }
}

export default {
  name: 'crossinstance',
  async run() {
    const run = `${Date.now().toString(36)}-${process.pid}`;
    const results = [];
    try {
      for (const kind of KINDS) results.push(...(await measure(kind, run)));
    } finally {
      await deleteKeys(`bench-${run}:*`);
    }
    const metrics = [
      { pick: (r) => r.p50 },
      { pick: (r) => r.p99 },
      { pick: (r) => r.max },
      { pick: (r) => r.cpuPerEventUs[0] },
      { pick: (r) => r.cpuPerEventUs[1] },
      { pick: (r) => r.cpuPerEventUs[0] + r.cpuPerEventUs[1] },
      { pick: (r) => r.redisCpuPerEventUs },
    ];
    const lines = [
      '## 5. Cross-instance delivery through Redis',
      '',
      `Two instances on one Redis (${REDIS_URL}); the publisher on instance A, ${SUBSCRIBERS} subscribers (members ` +
        `of one chat room) on instance B. This app: \`REDIS_URL\` and a \`WS_REDIS_PREFIX\` of its own (history on, ` +
        'as configured by default); both instances report `redis: up` on `/ws/health` first. Socket.IO: ' +
        '`@socket.io/redis-adapter` on ioredis. Bare `ws`: each event `PUBLISH`ed by hand (ioredis) on a channel ' +
        'per room, each instance subscribed to them all (no adapter, no positions: the floor of the hop). ' +
        `${SECONDS} s at each rate, published by a timer (each tick the ` +
        'events then due), the send time in the payload; latency from it to arrival (`performance.timeOrigin + ' +
        'performance.now()` in both processes). Backlog: publishing took 10% longer than planned, the last tenth of ' +
        'the events arrived with a p50 above twice the first tenth’s plus 5 ms, or the drain took over 50 ms. Drain: from the last publish to the last arrival (the two processes’ ' +
        'clocks agree to about 0.1 ms). CPU per event: each instance’s own; A’s includes the publishing timer ' +
        '(a 1 ms timer costs about 60 µs per tick on this machine, so it weighs most at 1,000 events/s). Redis CPU ' +
        'per event: what the shared Redis spent (`INFO cpu`) over the phase, per event.',
      '',
      ...table(
        [
          'server',
          'events/s',
          'delivered / expected',
          'p50 ms',
          'p99 ms',
          'max ms',
          'p50 first / last tenth ms',
          'publishing s',
          'drain ms',
          'backlog',
          'CPU µs/event A',
          'CPU µs/event B',
          'Redis CPU µs/event',
        ],
        results.map((r) => [
          NAMES[r.kind],
          r.rate,
          `${r.delivered} / ${r.expected}`,
          fixed(r.p50),
          fixed(r.p99),
          fixed(r.max),
          `${fixed(r.first)} / ${fixed(r.last)}`,
          fixed(r.publishSeconds),
          fixed(r.drainMs),
          r.backlog ? 'yes' : 'no',
          fixed(r.cpuPerEventUs[0]),
          fixed(r.cpuPerEventUs[1]),
          fixed(r.redisCpuPerEventUs),
        ]),
      ),
      '',
      '**This app over each peer and over the best peer** (lower is better; the goal is against Socket.IO):',
      '',
      ...table(
        ['events/s', 'peer', 'p50', 'p99', 'max', 'CPU/event A', 'CPU/event B', 'CPU/event A + B', 'Redis CPU/event'],
        groupBy(results, (r) => r.rate).flatMap(({ key, byKind }) => ratioRows([whole(key)], byKind, metrics)),
      ),
    ];
    const byRate = (r) => `${r.rate} events/s`;
    const charts = [
      kindChart(
        'crossinstance-p99',
        { title: 'Cross-instance delivery through Redis: p99 latency', unit: 'ms', note: 'lower is better' },
        results,
        byRate,
        (r) => r.p99,
      ),
      kindChart(
        'crossinstance-cpu',
        {
          title: 'Cross-instance delivery: CPU per event, both instances',
          unit: 'µs per event (A + B)',
          note: 'lower is better',
        },
        results,
        byRate,
        (r) => r.cpuPerEventUs[0] + r.cpuPerEventUs[1],
      ),
    ];
    return { lines, charts };
  },
};
