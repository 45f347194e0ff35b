// The cost of a publish on the Redis bus (issue 13): per-topic streams with history on vs off, the
// single stream every instance read before (XADD + XREAD), and one Redis vs a three-node Redis
// Cluster. Instance A publishes EVENTS events over TOPICS topics; RECEIVERS instances receive them,
// each with sockets in its share of the topics (per topic: it subscribes to those only; single
// stream: it reads every event and keeps its share). Measured: events/s from the first publish to the
// last receipt, Redis CPU µs per event (INFO cpu of every node, before and after), and how many
// events each receiving instance had to read.
//
//   npm run bench:streams     (EVENTS=20000 TOPICS=100 RECEIVERS=4 by default; needs redis-server)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { RedisEventBus } from '../dist/realtime/bus/redis-event-bus.js';
import { RedisKeys } from '../dist/realtime/redis/redis-keys.js';
import { startPrivateRedis, startRedisCluster } from '../test/support/redis-infra.mjs';

const EVENTS = Number(process.env.EVENTS ?? 20_000);
const TOPICS = Number(process.env.TOPICS ?? 100);
const RECEIVERS = Number(process.env.RECEIVERS ?? 4);
const FRAME = JSON.stringify({
  type: 'message',
  room: 'channel:1',
  data: { content: 'x'.repeat(64) },
  sender: 'bench',
});

async function redisCpuMs(ports) {
  let total = 0;
  for (const port of ports) {
    const node = new Redis({ port, lazyConnect: true });
    const info = await node.info('cpu');
    node.disconnect();
    const field = (name) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)[1]);
    total += (field('used_cpu_sys') + field('used_cpu_user')) * 1000;
  }
  return total;
}

function client(target, options) {
  return target.cluster
    ? new Cluster(target.nodes, {
        lazyConnect: true,
        shardedSubscribers: options.subscriber,
        redisOptions: { maxRetriesPerRequest: null },
      })
    : new Redis(target.url, { lazyConnect: true, maxRetriesPerRequest: null });
}

async function perTopic(target, history, label) {
  const prefix = `bench-${label}-${Date.now()}:`;
  const make = (id) =>
    new RedisEventBus({
      writer: client(target, { subscriber: false }),
      subscriber: client(target, { subscriber: true }),
      keys: new RedisKeys(prefix),
      instanceId: id,
      bufferSize: 10_000,
      history,
    });
  const a = make('A');
  const receivers = Array.from({ length: RECEIVERS }, (_, r) => make(`R${r}`));
  let received = 0;
  let done;
  const all = new Promise((resolve) => (done = resolve));
  for (const receiver of receivers) receiver.subscribe(() => ++received === EVENTS && done());
  a.subscribe(() => undefined);
  for (const bus of [a, ...receivers]) bus.start();
  await new Promise((resolve) => setTimeout(resolve, 500));
  const topics = Array.from({ length: TOPICS }, (_, k) => `channel:${k}`);
  await Promise.all(topics.map((topic, k) => receivers[k % RECEIVERS].watch('chat', topic, a)));
  const before = await redisCpuMs(target.ports);
  const start = process.hrtime.bigint();
  for (let i = 0; i < EVENTS; i++) {
    a.publish({ kind: 'topics', gateway: 'chat', topics: [topics[i % TOPICS]], frame: FRAME });
    if (i % 500 === 499) await new Promise((resolve) => setImmediate(resolve));
  }
  await all;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = (await redisCpuMs(target.ports)) - before;
  await Promise.all([a, ...receivers].map((bus) => bus.close()));
  return {
    label,
    readPerInstance: EVENTS / RECEIVERS,
    eventsPerSec: Math.round(EVENTS / seconds),
    redisUsPerEvent: Number(((cpu * 1000) / EVENTS).toFixed(1)),
  };
}

/** The design before issue 13: one stream key for the whole cluster, read by every instance. */
async function singleStream(target) {
  const key = `bench-single-${Date.now()}:{ws:bus}:events`;
  const writer = new Redis(target.url, { maxRetriesPerRequest: null });
  const readers = Array.from({ length: RECEIVERS }, () => new Redis(target.url, { maxRetriesPerRequest: null }));
  let kept = 0;
  const reading = Promise.all(
    readers.map(async (reader, r) => {
      let last = '$';
      let read = 0;
      while (read < EVENTS) {
        const reply = await reader.xread('COUNT', 512, 'BLOCK', 5000, 'STREAMS', key, last);
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            last = id;
            // Every instance parses every entry, and keeps the events of its own topics.
            if (JSON.parse(fields[1]).n % RECEIVERS === r) kept++;
            read++;
          }
        }
      }
    }),
  );
  await new Promise((resolve) => setTimeout(resolve, 200));
  const before = await redisCpuMs(target.ports);
  const start = process.hrtime.bigint();
  const message = { kind: 'topics', gateway: 'chat', topics: ['channel:1'], frame: FRAME };
  for (let i = 0; i < EVENTS; i++) {
    const data = JSON.stringify({ origin: 'A', n: i % TOPICS, message });
    void writer.xadd(key, 'MAXLEN', '~', '10000', '*', 'd', data);
    if (i % 500 === 499) await new Promise((resolve) => setImmediate(resolve));
  }
  await reading;
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const cpu = (await redisCpuMs(target.ports)) - before;
  if (kept !== EVENTS) throw new Error(`single stream: ${kept} of ${EVENTS} kept`);
  writer.disconnect();
  for (const reader of readers) reader.disconnect();
  return {
    label: 'one Redis, single stream (before)',
    readPerInstance: EVENTS,
    eventsPerSec: Math.round(EVENTS / seconds),
    redisUsPerEvent: Number(((cpu * 1000) / EVENTS).toFixed(1)),
  };
}

const dir = mkdtempSync(join(tmpdir(), 'bench-streams-'));
const single = await startPrivateRedis({ dir });
const cluster = await startRedisCluster(join(dir, 'cluster'));
const one = { url: single.url, ports: [single.port] };
const three = {
  cluster: true,
  nodes: cluster.nodes.map((node) => ({ host: '127.0.0.1', port: Number(node.split(':')[1]) })),
  ports: cluster.ports,
};
const history = { size: 100, ttlMs: 300_000 };
try {
  const rows = [
    await singleStream(one),
    await perTopic(one, undefined, 'one Redis, per topic, history off'),
    await perTopic(one, history, 'one Redis, per topic, history on'),
    await perTopic(three, undefined, '3-node Redis Cluster, per topic, history off'),
    await perTopic(three, history, '3-node Redis Cluster, per topic, history on'),
  ];
  console.log(`${EVENTS} events over ${TOPICS} topics, one publisher, ${RECEIVERS} receiving instances\n`);
  console.log(
    '| bus | events/s (publish → receipt) | Redis CPU µs / event (all nodes) | events read per receiving instance |',
  );
  console.log('| --- | --- | --- | --- |');
  for (const row of rows) {
    console.log(`| ${row.label} | ${row.eventsPerSec} | ${row.redisUsPerEvent} | ${row.readPerInstance} |`);
  }
} finally {
  await single.kill('SIGKILL');
  for (const pid of cluster.pids) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
process.exit(0);
