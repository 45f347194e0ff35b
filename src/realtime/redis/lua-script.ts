import { createHash } from 'node:crypto';
import type { RedisClient } from './redis.options.js';

/**
 * A Lua script run by its SHA (`EVALSHA`), loaded with `EVAL` the first time a server does not
 * know it (after a restart or a failover), so that a call is one round trip with a small request.
 */
export class LuaScript {
  private readonly sha: string;

  constructor(private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  async run(redis: RedisClient, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(this.source, keys.length, ...keys, ...args);
    }
  }
}
