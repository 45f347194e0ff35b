import type { Provider } from '@nestjs/common';
import { RedisConnector } from '../redis/index.js';
import { REALTIME_MODULE_OPTIONS } from '../core/gateway/index.js';
import { CHECKPOINT_STORE, type CheckpointStore } from './checkpoint-store.js';
import { resolveCheckpointConfig, type CheckpointOptions } from './checkpoint.options.js';
import { MemoryCheckpointStore } from './memory-checkpoint.store.js';
import { RedisCheckpointStore } from './redis-checkpoint.store.js';

/** Redis when it is configured (shared, durable), else memory. */
export const checkpointStoreProvider: Provider<CheckpointStore> = {
  provide: CHECKPOINT_STORE,
  inject: [RedisConnector, REALTIME_MODULE_OPTIONS],
  useFactory: (redis: RedisConnector, options: { checkpoint?: CheckpointOptions }): CheckpointStore => {
    const settings = { sessionTtlSec: resolveCheckpointConfig(options).sessionTtlSec };
    if (!redis.enabled) return new MemoryCheckpointStore(settings);
    const client = redis.create('store');
    // The connector logs connection failures; meanwhile every request is answered `Service unavailable`.
    client.connect().catch(() => undefined);
    return new RedisCheckpointStore(client, redis.keys, settings);
  },
};
