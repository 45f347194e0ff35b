import type { RedisClient } from './redis.options.js';

/**
 * A Lua script, always sent with `EVAL`: Redis caches the compiled script by the SHA of its body,
 * so this costs the body's bytes and a hash, and unlike `EVALSHA` it never fails with NOSCRIPT
 * (after a restart, a failover, on a new Cluster node), whose retry would run it after commands
 * issued later. The cluster's absolute counts rely on one connection's commands running in order.
 */
export class LuaScript {
  constructor(private readonly source: string) {}

  run(redis: RedisClient, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    return redis.eval(this.source, keys.length, ...keys, ...args);
  }
}
