// What the broadcast scenarios (one room, many rooms, scheduler routing) measure the same way: a
// server and its subscribers, then a burst of events back to back and events one at a time.
import { sleep, startClients, startServer, timedRounds } from '../harness.mjs';
import { fixed, groupBy, NAMES, ratioRows, table, whole } from '../report.mjs';

/**
 * `subscribers` connections of `kind` (connection i to `targets[i % targets.length]`), then `burst`
 * events back to back and `paced` events each published once the previous one reached every
 * subscriber, all to `target` (each subscriber gets every event once). Returns, per phase, the
 * server's CPU µs per delivery and the deliveries per second, and the connects per second and the
 * server's RSS growth per connection.
 */
export async function measureBroadcast({
  label,
  kind,
  subscribers,
  targets,
  target,
  burst,
  paced,
  gateway,
  eventType,
}) {
  const server = await startServer(kind);
  const clients = startClients();
  try {
    const idle = await server.usage();
    const { connectSeconds } = await clients.open({
      kind,
      gateway,
      eventType,
      port: server.port,
      count: subscribers,
      targets,
    });
    await sleep(500);
    const connected = await server.usage();
    if (connected.connections < subscribers) {
      throw new Error(`${label}: the server counts ${connected.connections} of ${subscribers} connections`);
    }
    const perDelivery = (events, { cpuUs, seconds }) => ({
      cpuPerDeliveryUs: cpuUs / (events * subscribers),
      deliveriesPerSec: (events * subscribers) / seconds,
    });
    const burstRound = { events: burst, publish: () => server.tell({ cmd: 'burst', target, events: burst }) };
    const pacedRounds = Array.from({ length: paced }, (_, seq) => ({
      events: 1,
      publish: () => server.tell({ cmd: 'one', target, seq }),
    }));
    return {
      connectsPerSec: subscribers / connectSeconds,
      idleKiBPerConnection: (connected.rss - idle.rss) / 1024 / subscribers,
      burst: perDelivery(burst, await timedRounds(server, clients, [burstRound], `${label}: burst`)),
      paced: perDelivery(paced, await timedRounds(server, clients, pacedRounds, `${label}: paced`)),
    };
  } finally {
    await clients.close();
    server.kill();
  }
}

/** The columns of a broadcast result, and this app's figures over its peers' on them. */
export const BROADCAST_COLUMNS = [
  'burst CPU µs/delivery',
  'burst deliveries/s',
  'paced CPU µs/delivery',
  'paced deliveries/s',
  'connects/s',
  'idle KiB/conn',
];
export const BROADCAST_METRICS = [
  { pick: (r) => r.burst.cpuPerDeliveryUs },
  { pick: (r) => r.burst.deliveriesPerSec, higher: true },
  { pick: (r) => r.paced.cpuPerDeliveryUs },
  { pick: (r) => r.paced.deliveriesPerSec, higher: true },
  { pick: (r) => r.connectsPerSec, higher: true },
  { pick: (r) => r.idleKiBPerConnection },
];

export const broadcastCells = (r) => [
  fixed(r.burst.cpuPerDeliveryUs),
  whole(r.burst.deliveriesPerSec),
  fixed(r.paced.cpuPerDeliveryUs),
  whole(r.paced.deliveriesPerSec),
  whole(r.connectsPerSec),
  fixed(r.idleKiBPerConnection),
];

/**
 * A broadcast scenario's two tables: each server's figures per `key` (headed `keyHeader`), then this
 * app's over each peer and over the best peer (`ratioNote` after the second table's title).
 */
export function broadcastTables(keyHeader, keyOf, results, ratioNote = '') {
  return [
    ...table(
      [keyHeader, 'server', ...BROADCAST_COLUMNS],
      results.map((r) => [keyOf(r), NAMES[r.kind], ...broadcastCells(r)]),
    ),
    '',
    `**This app over each peer and over the best peer**${ratioNote}:`,
    '',
    ...table(
      [keyHeader, 'peer', ...BROADCAST_COLUMNS],
      groupBy(results, keyOf).flatMap(({ key, byKind }) => ratioRows([key], byKind, BROADCAST_METRICS)),
    ),
  ];
}
