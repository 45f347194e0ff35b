import type { Provider } from '@nestjs/common';
import { RedisConnector } from '../redis/index.js';
import { CHECKPOINT_STORE, type CheckpointStore } from './checkpoint-store.js';
import { MemoryCheckpointStore } from './memory-checkpoint.store.js';
import { RedisCheckpointStore } from './redis-checkpoint.store.js';

/** Redis when it is configured (shared, durable), else memory. */
export const checkpointStoreProvider: Provider<CheckpointStore> = {
  provide: CHECKPOINT_STORE,
  inject: [RedisConnector],
  useFactory: (redis: RedisConnector): CheckpointStore => {
    if (!redis.enabled) return new MemoryCheckpointStore();
    const client = redis.create('store');
    client.connect().catch(() => undefined);
    return new RedisCheckpointStore(client, redis.keys);
  },
};
