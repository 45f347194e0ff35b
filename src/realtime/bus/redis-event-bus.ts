import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { BusHandler, BusMessage, BusStatus, EventBus } from './event-bus.js';

export interface RedisEventBusOptions {
  url: string;
  prefix: string;
  instanceId: string;
  bufferSize: number;
}

interface Envelope {
  origin: string;
  message: BusMessage;
}

const retryStrategy = (attempt: number): number => Math.min(100 * 2 ** Math.min(attempt, 6), 5_000);

/**
 * Redis pub/sub on `<prefix>ws:events`. A publish is delivered locally at once; other instances
 * get it through Redis and skip their own echoes, so each instance delivers it exactly once.
 * While Redis is unreachable, publishes wait in a bounded buffer and go out in order on reconnect.
 */
export class RedisEventBus implements EventBus {
  readonly name = 'redis' as const;
  private readonly logger = new Logger(RedisEventBus.name);
  private readonly handlers: BusHandler[] = [];
  private readonly channel: string;
  private readonly publisher: Redis;
  private readonly subscriber: Redis;
  private readonly pending: string[] = [];
  private dropped = 0;

  constructor(private readonly options: RedisEventBusOptions) {
    this.channel = `${options.prefix}ws:events`;
    const common = { retryStrategy, enableOfflineQueue: false, maxRetriesPerRequest: null, lazyConnect: true };
    this.publisher = new Redis(options.url, { ...common, connectionName: `${options.instanceId}:pub` });
    this.subscriber = new Redis(options.url, {
      ...common,
      enableOfflineQueue: true,
      connectionName: `${options.instanceId}:sub`,
    });
    this.publisher.on('ready', () => this.drain());
    for (const client of [this.publisher, this.subscriber]) {
      client.on('error', (error: Error) => this.logger.warn(`Redis: ${error.message}`));
    }
    this.subscriber.on('message', (channel: string, data: string) => this.receive(channel, data));
  }

  /** Connects in the background: the instance serves its own sockets whether or not Redis is up. */
  start(): void {
    this.publisher.connect().catch(() => undefined);
    this.subscriber.connect().catch(() => undefined);
    this.subscriber.subscribe(this.channel).catch((error: Error) => this.logger.warn(`subscribe: ${error.message}`));
  }

  publish(message: BusMessage): void {
    this.deliverLocally(message);
    const data = JSON.stringify({ origin: this.options.instanceId, message } satisfies Envelope);
    if (this.pending.length === 0 && this.publisher.status === 'ready') {
      this.send(data);
      return;
    }
    if (this.pending.length >= this.options.bufferSize) {
      this.pending.shift();
      this.dropped++;
    }
    this.pending.push(data);
  }

  subscribe(handler: BusHandler): void {
    this.handlers.push(handler);
  }

  status(): BusStatus {
    return this.publisher.status === 'ready' && this.subscriber.status === 'ready' ? 'up' : 'down';
  }

  get bufferedCount(): number {
    return this.pending.length;
  }

  get droppedCount(): number {
    return this.dropped;
  }

  async flush(): Promise<void> {
    if (this.publisher.status !== 'ready') return;
    this.drain();
    await this.publisher.ping().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.flush();
    this.publisher.disconnect();
    this.subscriber.disconnect();
  }

  private drain(): void {
    if (this.pending.length > 0) this.logger.log(`Redis is back: sending ${this.pending.length} buffered events`);
    while (this.pending.length > 0 && this.publisher.status === 'ready') this.send(this.pending.shift()!);
    if (this.dropped > 0) {
      this.logger.warn(`${this.dropped} events were dropped while Redis was down (WS_BUS_BUFFER_SIZE)`);
      this.dropped = 0;
    }
  }

  private send(data: string): void {
    this.publisher.publish(this.channel, data).catch((error: Error) => this.logger.warn(`publish: ${error.message}`));
  }

  private receive(channel: string, data: string): void {
    if (channel !== this.channel) return;
    let envelope: Envelope;
    try {
      envelope = JSON.parse(data) as Envelope;
    } catch {
      this.logger.warn('Ignored a malformed bus message');
      return;
    }
    if (envelope.origin === this.options.instanceId) return;
    this.deliverLocally(envelope.message);
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
