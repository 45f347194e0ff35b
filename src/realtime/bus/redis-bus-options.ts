import type { GatewayName } from './event-bus.js';
import type { RedisKeys } from '../redis/redis-keys.js';
import type { RedisClient } from '../redis/redis.options.js';
import { streamMetaTtlMs, type HistoryLimits } from './memory-stream-log.js';
import type { StreamStyles } from './stream-styles.js';

export interface RedisEventBusOptions {
  /** Runs the publish and read scripts and publishes control messages. */
  writer: RedisClient;
  /** Shard-subscribes to the channels of the topics this instance has sockets in; used for nothing else. */
  subscriber: RedisClient;
  keys: RedisKeys;
  /** How each gateway's events carry positions (a `map` gateway's streams share a hash slot). */
  styles: StreamStyles;
  instanceId: string;
  bufferSize: number;
  history?: HistoryLimits;
}

/** A stream's Redis keys: its position hash, its history and its shard channel. */
export interface RedisStreamKeys {
  meta: string;
  history: string;
  channel: string;
}

/** A stream's keys; the streams of a `map` gateway share a hash slot, as one event writes several of them. */
export function redisStreamKeys(
  { keys, styles }: Pick<RedisEventBusOptions, 'keys' | 'styles'>,
  gateway: GatewayName,
  topic: string,
): RedisStreamKeys {
  return keys.stream(gateway, topic, styles.of(gateway) === 'map');
}

/** How long a stream's position hash outlives its last event or read (an hour when history is off). */
export function redisMetaTtlMs(history: HistoryLimits | undefined): number {
  return history ? streamMetaTtlMs(history) : 3_600_000;
}
