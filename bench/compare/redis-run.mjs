// What the scenarios on Redis share: the Redis they use, waiting for an app instance to be on it,
// and deleting what a run wrote there.
import { Redis } from 'ioredis';
import { deadline, sleep } from './harness.mjs';

export const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';

/** Resolves once the app's GET /ws/health reports Redis up (rejects after 30 s). */
export function redisUp(server) {
  const url = `http://127.0.0.1:${server.port}/ws/health`;
  const poll = async () => {
    for (;;) {
      const health = await fetch(url).then(
        (response) => response.json(),
        () => ({}),
      );
      if (health.redis === 'up') return;
      await sleep(100);
    }
  };
  return deadline(poll(), 30_000, `${server.name}: /ws/health reporting redis up`);
}

/** Deletes the keys matching `pattern` (a run's prefix and `*`). */
export async function deleteKeys(pattern) {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
      if (keys.length > 0) await redis.del(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/**
 * Redis' own CPU (ms, `INFO cpu`) and the commands it ran (`INFO commandstats`), so far: what a phase
 * cost the Redis every instance shares is the difference of two samples.
 */
export async function redisUsage() {
  const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    const [cpu, stats] = await Promise.all([redis.info('cpu'), redis.info('commandstats')]);
    const seconds = (field) => Number(new RegExp(`${field}:([\\d.]+)`).exec(cpu)?.[1] ?? 0);
    const commands = [...stats.matchAll(/calls=(\d+)/g)].reduce((sum, match) => sum + Number(match[1]), 0);
    return { cpuMs: (seconds('used_cpu_sys') + seconds('used_cpu_user')) * 1000, commands };
  } finally {
    redis.disconnect();
  }
}
