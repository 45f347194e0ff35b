import type { Provider } from '@nestjs/common';
import { REALTIME_CONFIG, type RealtimeConfig } from '../realtime.config.js';
import { EVENT_BUS, type EventBus } from './event-bus.js';
import { MemoryEventBus } from './memory-event-bus.js';
import { RedisEventBus } from './redis-event-bus.js';

/** Redis pub/sub when a Redis URL is configured, else in memory. */
export const eventBusProvider: Provider = {
  provide: EVENT_BUS,
  inject: [REALTIME_CONFIG],
  useFactory: (config: RealtimeConfig): EventBus => {
    if (!config.redis) return new MemoryEventBus();
    const bus = new RedisEventBus({
      url: config.redis.url,
      prefix: config.redis.prefix,
      instanceId: config.instanceId,
      bufferSize: config.busBufferSize,
    });
    bus.start();
    return bus;
  },
};
