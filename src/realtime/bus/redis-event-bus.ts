import { Logger } from '@nestjs/common';
import type { GatewayName } from './event-bus.js';
import type { RedisClient } from '../redis/redis.options.js';
import { decodeControl, type Envelope } from './bus-envelope.js';
import {
  BusCounters,
  type BusHandler,
  type BusMessage,
  type BusStatus,
  type EventBus,
  type PublishReceipt,
  type TopicsMessage,
} from './event-bus.js';
import type { RedisEventBusOptions } from './redis-bus-options.js';
import { RedisBusPublisher } from './redis-bus-publisher.js';
import { RedisChannelWatcher } from './redis-channel-watcher.js';
import { RedisStreamHistory } from './redis-stream-history.js';
import { StreamCursors } from './stream-cursors.js';
import type { HistoryRead, StreamPosition } from './stream-position.js';

export type { RedisEventBusOptions } from './redis-bus-options.js';

/**
 * The cluster bus on Redis, per topic (SPEC.md §9, §11): an event is written by one script that
 * gives it its position in each of its streams, appends it to their histories and publishes it on
 * their shard channels (`SPUBLISH`), and an instance shard-subscribes (`SSUBSCRIBE`) only to the
 * channels of topics its own sockets are in, so adding instances spreads the traffic instead of
 * multiplying it, on one Redis as on a Redis Cluster.
 *
 * Each instance delivers what it receives on its channels, its own events included, so a topic's
 * events reach its sockets in the stream's order. The work is shared out: `RedisBusPublisher`
 * publishes (and buffers while Redis is unreachable), `RedisChannelWatcher` receives (dropping
 * copies and catching up gaps, with the positions kept by `StreamCursors`), `RedisStreamHistory`
 * reads the histories; this class delivers to the local handlers and counts.
 */
export class RedisEventBus implements EventBus {
  readonly name = 'redis' as const;
  readonly counters = new BusCounters();
  private readonly logger = new Logger(RedisEventBus.name);
  private readonly handlers: BusHandler[] = [];
  private readonly writer: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly cursors = new StreamCursors();
  private readonly history: RedisStreamHistory;
  private readonly publisher: RedisBusPublisher;
  private readonly watcher: RedisChannelWatcher;

  constructor(private readonly options: RedisEventBusOptions) {
    ({ writer: this.writer, subscriber: this.subscriber } = options);
    this.history = new RedisStreamHistory(options);
    this.publisher = new RedisBusPublisher(options, this.logger, (message) => this.deliverLocally(message));
    this.watcher = new RedisChannelWatcher({
      subscriber: options.subscriber,
      keys: options.keys,
      styles: options.styles,
      history: options.history ? this.history : undefined,
      cursors: this.cursors,
      logger: this.logger,
      onEvent: (envelope, frame) => this.receiveEvent(envelope, frame),
      onControl: (data) => this.receiveControl(data),
    });
  }

  /** Connects in the background: the instance serves its own sockets whether or not Redis is up. */
  start(): void {
    // Failures are the connector's to report (its error listener logs them, `realtime_redis_up` counts).
    this.writer.connect().catch(() => undefined);
    this.subscriber.connect().catch(() => undefined);
  }

  publish(message: BusMessage): void {
    if (message.kind === 'topics') {
      void this.publishEvent(message);
      return;
    }
    this.counters.published++;
    this.deliverLocally(message);
    this.publisher.publishControl(message);
  }

  publishEvent(message: TopicsMessage): Promise<PublishReceipt> {
    this.counters.published++;
    return this.publisher.publishEvent(message);
  }

  subscribe(handler: BusHandler): void {
    this.handlers.push(handler);
  }

  watch(gateway: GatewayName, topic: string, holder: object): Promise<void> {
    return this.watcher.watch(gateway, topic, holder);
  }

  unwatch(gateway: GatewayName, topic: string, holder: object): void {
    this.watcher.unwatch(gateway, topic, holder);
  }

  /**
   * A stream's history after `since`. The first read of a watched stream also marks where this
   * instance starts receiving it (a later gap is caught up from there): what was published up to that
   * position and arrives later is not delivered again, since the reader replays it itself.
   */
  async resume(gateway: GatewayName, topic: string, since?: StreamPosition): Promise<HistoryRead> {
    const read = await this.history.resume(gateway, topic, since);
    if (this.watcher.isWatched(gateway, topic)) this.cursors.markStart(gateway, topic, read.position);
    return read;
  }

  list(gateway: GatewayName, topic: string, since: number, limit: number): Promise<HistoryRead> {
    return this.history.list(gateway, topic, since, limit);
  }

  received(gateway: GatewayName, topic: string, position: StreamPosition): boolean {
    return this.cursors.received(gateway, topic, position);
  }

  status(): BusStatus {
    return this.writer.status === 'ready' && this.subscriber.status === 'ready' ? 'up' : 'down';
  }

  flush(): Promise<void> {
    return this.publisher.flush();
  }

  async close(): Promise<void> {
    await this.flush();
    this.watcher.close();
    this.writer.disconnect();
    this.subscriber.disconnect();
  }

  /** An event new here: delivered, unless this instance published it and delivered it already. */
  private receiveEvent(envelope: Envelope, frame: string): void {
    const { o: origin, g: gateway, t: topics, x: except, l: deliveredLocally, a: publishedAt } = envelope;
    const own = origin === this.options.instanceId;
    if (own && deliveredLocally === 1) return;
    if (!own) {
      this.counters.received++;
      this.counters.lagMs = Math.max(Date.now() - publishedAt, 0);
    }
    const positions = this.options.history ? envelope.p : undefined;
    this.deliverLocally({ kind: 'topics', gateway, topics, frame, except, positions });
  }

  private receiveControl(data: string): void {
    const control = decodeControl(data);
    if (!control) {
      this.logger.warn('Ignored a malformed bus control message');
      return;
    }
    if (control.o === this.options.instanceId) return;
    this.counters.received++;
    this.deliverLocally(control.m);
  }

  private deliverLocally(message: BusMessage): void {
    for (const handler of this.handlers) {
      try {
        handler(message);
      } catch (error) {
        this.logger.error(`Bus handler failed: ${(error as Error).message}`);
      }
    }
  }
}
