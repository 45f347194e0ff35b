import type { Provider } from '@nestjs/common';
import { REALTIME_CONFIG, type RealtimeConfig } from '../config/index.js';
import { RedisConnector } from '../redis/redis-connector.js';
import { EVENT_BUS, type EventBus } from './event-bus.js';
import { MemoryEventBus } from './memory-event-bus.js';
import { RedisEventBus } from './redis-event-bus.js';
import { StreamStyles } from './stream-styles.js';

/** The per-topic Redis bus when Redis is configured, else in memory. */
export const eventBusProvider: Provider = {
  provide: EVENT_BUS,
  inject: [REALTIME_CONFIG, RedisConnector, StreamStyles],
  useFactory: (config: RealtimeConfig, redis: RedisConnector, styles: StreamStyles): EventBus => {
    if (!redis.enabled) return new MemoryEventBus(styles, config.history);
    const bus = new RedisEventBus({
      writer: redis.create('bus-writer'),
      subscriber: redis.create('bus-subscriber'),
      keys: redis.keys,
      styles,
      instanceId: config.instanceId,
      bufferSize: config.busBufferSize,
      history: config.history,
    });
    bus.start();
    return bus;
  },
};
