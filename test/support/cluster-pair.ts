import type { RealtimeModuleOptions } from '../../src/realtime/index.js';
import { closeAll, eventually, type TestClient } from './test-client.js';
import { ADMIN_TOKEN, startTestApp, type Endpoints, type HostImports, type TestApp } from './test-app.js';
import { testRedisUrl } from './redis.js';

/**
 * Instances of one test file on the run's Redis (SPEC §9): a key prefix no other file or run
 * uses, instances started under it and ready (`redis: "up"`), and the cluster-wide connection
 * total every instance must agree on before a test goes on.
 */

/** `test-<pid>-<time>-<name>:`, the Redis key prefix of one test file's instances. */
export const clusterPrefix = (name: string): string => `test-${process.pid}-${Date.now()}-${name}:`;

/** An instance on the run's Redis under `prefix` (instance id `<prefix><id>`), once its health says `redis: "up"`. */
export async function startOnRedis(
  prefix: string,
  id: string,
  options: RealtimeModuleOptions = {},
  imports: HostImports = [],
): Promise<TestApp> {
  const t = await startTestApp(
    { redis: { url: testRedisUrl(), prefix }, instanceId: `${prefix}${id}`, ...options },
    imports,
  );
  await eventually(async () => (await t.http('GET', '/ws/health')).body.redis === 'up', 10_000, `${id} redis up`);
  return t;
}

/** Instances A and B on the run's Redis, sharing `prefix`, both up. */
export async function startPair(
  prefix: string,
  options: RealtimeModuleOptions = {},
  imports: HostImports = [],
): Promise<[TestApp, TestApp]> {
  const a = await startOnRedis(prefix, 'A', options, imports);
  const b = await startOnRedis(prefix, 'B', options, imports);
  return [a, b];
}

/** The connection total of the whole cluster, as instance `t` reports it. */
export const clusterTotal = async (t: Endpoints): Promise<number> =>
  (await t.http('GET', '/ws/stats', { token: ADMIN_TOKEN })).body.cluster.connections.total as number;

/** Waits until every instance sees `total` connections in the cluster (snapshots are published within ~50 ms). */
export function settle(instances: Endpoints[], total: number): Promise<void> {
  return eventually(
    async () => {
      for (const t of instances) if ((await clusterTotal(t)) !== total) return false;
      return true;
    },
    5000,
    `cluster total ${total}`,
  );
}

/** After a test: closes the clients it opened (and empties `open`), then waits until the cluster counts none. */
export async function closeAndSettle(open: TestClient[], instances: Endpoints[]): Promise<void> {
  await closeAll(open.splice(0));
  await settle(instances, 0);
}

/** Stops the instances, one after the other. */
export async function stopAll(instances: TestApp[]): Promise<void> {
  for (const t of instances) await t.close();
}
