export { LuaScript } from './lua-script.js';
export { RedisConnector } from './redis-connector.js';
export { RedisKeys } from './redis-keys.js';
export type { RedisClient, RedisOptions } from './redis.options.js';
