import {
  RedisServer,
  TEST_REDIS_RUN_DIR_ENV,
  TEST_REDIS_URL_ENV,
  freePort,
  pingRedis,
  redisCommand,
  sharedRedisCluster,
  type RedisClusterInfo,
} from './redis-infra.mjs';

/**
 * Redis for tests. The Jest globalSetup (test/support/global-setup.mjs) picks it once per run: REDIS_URL
 * when set and reachable, else a private redis-server on a free port. Tests never assume 127.0.0.1:6379.
 */
export { RedisServer, freePort, pingRedis, redisCommand };

/** The URL of the run's Redis (from TEST_REDIS_URL, set by globalSetup). */
export function testRedisUrl(): string {
  const url = process.env[TEST_REDIS_URL_ENV];
  if (!url)
    throw new Error(
      `${TEST_REDIS_URL_ENV} is not set: run the tests through Jest (globalSetup test/support/global-setup.mjs)`,
    );
  return url;
}

/** The run's temp directory (globalSetup makes it, globalTeardown removes it). */
export function testRunDir(): string {
  const dir = process.env[TEST_REDIS_RUN_DIR_ENV];
  if (!dir)
    throw new Error(
      `${TEST_REDIS_RUN_DIR_ENV} is not set: run the tests through Jest (globalSetup test/support/global-setup.mjs)`,
    );
  return dir;
}

export interface TestRedisCluster extends RedisClusterInfo {
  /** The same nodes as `nodes`, in the form ioredis' `new Cluster(startupNodes)` takes. */
  startupNodes: Array<{ host: string; port: number }>;
}

/**
 * The run's private three-master Redis Cluster (all slots covered, `cluster_state:ok` on every node).
 * The first call of the run starts it, later calls (from any test file) get the same one; globalTeardown
 * stops it. Use it with `new Cluster(cluster.startupNodes)` or `new Cluster(cluster.nodes)`; keep keys
 * apart with a unique prefix, since every test file shares it.
 */
export async function testRedisCluster(): Promise<TestRedisCluster> {
  const cluster = await sharedRedisCluster();
  return { ...cluster, startupNodes: cluster.ports.map((port) => ({ host: '127.0.0.1', port })) };
}
