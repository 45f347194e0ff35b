// Scenario `idle`: 19,000 idle connections on one instance for minutes, with heartbeats (this app's
// chat connections, authenticated; WS_HEARTBEAT_INTERVAL shortened so that several sweeps happen),
// the server's RSS sampled every few seconds, while a probe (one event to a one-member room every
// 100 ms) times delivery: do heartbeat sweeps stall it? The peers likewise, with a heartbeat at the
// same interval (bare `ws`: ws's README ping sweep; Socket.IO: pingInterval). Four client processes
// (the open-files limit is per process). Knobs: IDLE_CONNECTIONS (19,000; BENCH_QUICK: 1,000),
// IDLE_SECONDS (this app: 150; BENCH_QUICK: 5), IDLE_PEER_SECONDS (60; BENCH_QUICK: 3),
// IDLE_HEARTBEAT (seconds: 5; timeout 3×), IDLE_KINDS (comma list: ws,socketio,app).
import { KINDS, percentiles, QUICK, sleep, startClients, startServer } from '../harness.mjs';
import { fixed, groupBy, mib, NAMES, ratioRows, table, whole, kindChart } from '../report.mjs';

const CONNECTIONS = Number(process.env.IDLE_CONNECTIONS ?? (QUICK ? 1000 : 19000));
const APP_SECONDS = Number(process.env.IDLE_SECONDS ?? (QUICK ? 5 : 150));
const PEER_SECONDS = Number(process.env.IDLE_PEER_SECONDS ?? (QUICK ? 3 : 60));
const HEARTBEAT = Number(process.env.IDLE_HEARTBEAT ?? 5);
const IDLE_KINDS = process.env.IDLE_KINDS?.split(',') ?? KINDS;
const SAMPLE_MS = QUICK ? 2000 : 5000;
const PROBES_PER_SECOND = 10;
const CLIENT_PROCESSES = 4;
const PROBE_ROOM = 'channel:1';
/** RSS that grew by less than this share over the idle period counts as flat (shrinking too). */
const FLAT = 0.05;

const heartbeatEnv = (kind) =>
  kind === 'app'
    ? { WS_HEARTBEAT_INTERVAL: String(HEARTBEAT), WS_HEARTBEAT_TIMEOUT: String(3 * HEARTBEAT) }
    : { BENCH_HEARTBEAT_MS: String(HEARTBEAT * 1000) };

async function measure(kind) {
  const seconds = kind === 'app' ? APP_SECONDS : PEER_SECONDS;
  const what = `idle ${NAMES[kind]} ×${CONNECTIONS}`;
  const server = await startServer(kind, heartbeatEnv(kind));
  const clients = startClients(CLIENT_PROCESSES);
  try {
    const baseline = await server.usage();
    // The app's connections stay in their own user room; the peers' need a room to be in.
    const idle = { kind, port: server.port, group: 'idle', count: CONNECTIONS, targets: ['lobby'], join: false };
    const { connectSeconds } = await clients.open(idle);
    const probe = { cmd: 'open', kind, port: server.port, group: 'probe', count: 1, first: CONNECTIONS };
    await clients.ask(0, { ...probe, targets: [PROBE_ROOM], latency: true });
    await clients.ask(0, { cmd: 'joinOpened' });
    await sleep(1000);
    const connected = await server.usage();
    if (connected.connections !== CONNECTIONS + 1) {
      throw new Error(`${what}: the server counts ${connected.connections} of ${CONNECTIONS + 1} connections`);
    }
    await clients.tally();

    const events = Math.round(PROBES_PER_SECOND * seconds);
    await clients.expect(events, { groups: ['probe'] });
    const probing = server.ask(
      { cmd: 'rate', target: { room: PROBE_ROOM }, perSecond: PROBES_PER_SECOND, seconds },
      seconds * 1000 + 30_000,
    );
    let probed = false;
    void probing.then(
      () => (probed = true),
      () => undefined,
    );
    const samples = [connected.rss];
    while (!probed) {
      await Promise.race([sleep(SAMPLE_MS), probing]);
      samples.push((await server.usage(false)).rss);
    }
    await probing;
    await clients.delivered(`${what}: probe`, 30_000);
    const ended = await server.usage();
    const tally = await clients.tally();
    if (tally.open !== CONNECTIONS + 1 || ended.connections !== CONNECTIONS + 1) {
      throw new Error(
        `${what}: ${tally.open} connections open (the server counts ${ended.connections}) of ${CONNECTIONS + 1}`,
      );
    }
    const { samples: latencies } = await clients.latencies();
    const perConnection = (rss) => (rss - baseline.rss) / 1024 / CONNECTIONS;
    return {
      kind,
      seconds,
      connectsPerSec: CONNECTIONS / connectSeconds,
      rss: { baseline: baseline.rss, start: connected.rss, max: Math.max(...samples), end: ended.rss },
      kibStart: perConnection(connected.rss),
      kibEnd: perConnection(ended.rss),
      growth: (ended.rss - connected.rss) / connected.rss,
      pingsPerConnection: tally.pings / (CONNECTIONS + 1),
      probe: { events: latencies.length, ...percentiles(latencies) },
    };
  } finally {
    await clients.close();
    server.kill();
  }
}

export default {
  name: 'idle',
  async run() {
    const results = [];
    for (const kind of IDLE_KINDS) {
      const result = await measure(kind);
      console.log(`idle ${NAMES[kind]}`, JSON.stringify(result));
      results.push(result);
    }
    const metrics = [
      { pick: (r) => r.kibStart },
      { pick: (r) => r.kibEnd },
      { pick: (r) => r.rss.max },
      { pick: (r) => r.probe.p99 },
      { pick: (r) => r.probe.max },
      { pick: (r) => r.connectsPerSec, higher: true },
    ];
    const app = results.find((r) => r.kind === 'app');
    const lines = [
      `## 6. ${CONNECTIONS} idle connections with heartbeats`,
      '',
      `${CONNECTIONS} connections on one server (this app: authenticated chat connections, each in its own user ` +
        `room; the peers': in one room), from ${CLIENT_PROCESSES} client processes, idle for ${APP_SECONDS} s (this ` +
        `app) or ${PEER_SECONDS} s (peers) with a heartbeat every ${HEARTBEAT} s (this app: \`WS_HEARTBEAT_INTERVAL=` +
        `${HEARTBEAT}\`, \`WS_HEARTBEAT_TIMEOUT=${3 * HEARTBEAT}\`; bare \`ws\`: the ping sweep of ws's README; ` +
        `Socket.IO: \`pingInterval\`), the server's RSS sampled every ${SAMPLE_MS / 1000} s. Meanwhile a probe: one ` +
        `event every ${1000 / PROBES_PER_SECOND} ms to a room whose one member times its delivery. RSS before, at the ` +
        'start (connected) and at the end are taken after a full GC, the samples in between (max) without. KiB/conn: ' +
        'RSS over the RSS before the connections, per connection, at the start and at the end. Flat: ' +
        `grew by less than ${FLAT * 100}% over the idle period (memory given back counts as flat). Every connection is still open at the end.`,
      '',
      ...table(
        [
          'server',
          'idle s',
          'connects/s',
          'pings/conn',
          'RSS before / start / max / end MiB',
          'KiB/conn start',
          'KiB/conn end',
          'RSS flat',
          'probe events',
          'probe p50 ms',
          'probe p99 ms',
          'probe max ms',
        ],
        results.map((r) => [
          NAMES[r.kind],
          r.seconds,
          whole(r.connectsPerSec),
          fixed(r.pingsPerConnection, 1),
          [r.rss.baseline, r.rss.start, r.rss.max, r.rss.end].map(mib).join(' / '),
          fixed(r.kibStart),
          fixed(r.kibEnd),
          `${r.growth < FLAT ? 'yes' : 'no'} (${r.growth >= 0 ? '+' : ''}${fixed(r.growth * 100, 1)}%)`,
          r.probe.events,
          fixed(r.probe.p50),
          fixed(r.probe.p99),
          fixed(r.probe.max),
        ]),
      ),
      ...(app && results.length > 1
        ? [
            '',
            '**This app over each peer and over the best peer** (lower is better, but connects/s):',
            '',
            ...table(
              [
                'connections',
                'peer',
                'KiB/conn start',
                'KiB/conn end',
                'max RSS',
                'probe p99',
                'probe max',
                'connects/s',
              ],
              groupBy(results, () => CONNECTIONS).flatMap(({ byKind }) => ratioRows([CONNECTIONS], byKind, metrics)),
            ),
          ]
        : []),
    ];
    const charts = [
      kindChart(
        'idle-memory',
        {
          title: `Memory per idle connection (${CONNECTIONS} connections)`,
          unit: 'KiB per connection',
          note: 'lower is better',
        },
        results.flatMap((r) => [
          { kind: r.kind, when: 'at the start', kib: r.kibStart },
          { kind: r.kind, when: 'at the end', kib: r.kibEnd },
        ]),
        (r) => r.when,
        (r) => r.kib,
      ),
    ];
    return { lines, charts };
  },
};
