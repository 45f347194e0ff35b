import { Logger } from '@nestjs/common';
import type { RedisClient } from '../redis/redis.options.js';
import { BusCounters, type BusHandler, type BusMessage, type BusStatus, type EventBus } from './event-bus.js';
import { PublishBuffer } from './publish-buffer.js';

export interface RedisEventBusOptions {
  /** Appends; not shared with anything that blocks. */
  writer: RedisClient;
  /** Blocks on XREAD; used for nothing else. */
  reader: RedisClient;
  /** The stream key (`RedisKeys.busStream`). */
  key: string;
  instanceId: string;
  bufferSize: number;
}
const READ_BLOCK_MS = 5_000;
const READ_BATCH = 512;
/** Entries kept in the stream: what an instance that was cut off for a while can still catch up on. */
const MIN_STREAM_LENGTH = 10_000;

/**
 * The cluster bus on Redis, the stream `RedisKeys.busStream`. A publish is delivered locally at once and
 * appended to a Redis stream; every instance reads the stream from the last entry it saw and skips
 * its own entries, so each instance delivers each event once and in order. Unlike plain pub/sub,
 * nothing is lost when Redis or an instance reconnects late: the reader resumes where it stopped.
 * While Redis is unreachable, publishes wait in a bounded buffer and are appended in order on reconnect.
 */
export class RedisEventBus implements EventBus {
  readonly name = 'redis' as const;
  readonly counters = new BusCounters();
  private readonly logger = new Logger(RedisEventBus.name);
  private readonly handlers: BusHandler[] = [];
  private readonly key: string;
  private readonly writer: RedisClient;
  private readonly reader: RedisClient;
  private readonly pending: PublishBuffer;
  private readonly maxLength: number;
  private lastId = '$';
  private reading = false;
  private closed = false;

  constructor(private readonly options: RedisEventBusOptions) {
    ({ key: this.key, writer: this.writer, reader: this.reader } = options);
    this.pending = new PublishBuffer(options.bufferSize);
    this.maxLength = Math.max(MIN_STREAM_LENGTH, options.bufferSize);
    this.writer.on('ready', () => this.drain());
    this.reader.on('ready', () => void this.readLoop());
  }

  /** Connects in the background: the instance serves its own sockets whether or not Redis is up. */
  start(): void {
    this.writer.connect().catch(() => undefined);
    this.reader.connect().catch(() => undefined);
  }

  publish(message: BusMessage): void {
    this.counters.published++;
    this.deliverLocally(message);
    const data = JSON.stringify({ origin: this.options.instanceId, message });
    if (this.pending.size === 0 && this.writer.status === 'ready') {
      this.append(data);
      return;
    }
    this.pending.push(data);
  }

  subscribe(handler: BusHandler): void {
    this.handlers.push(handler);
  }

  status(): BusStatus {
    return this.writer.status === 'ready' && this.reader.status === 'ready' ? 'up' : 'down';
  }

  async flush(): Promise<void> {
    if (this.writer.status !== 'ready') return;
    this.drain();
    await this.writer.ping().catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
    this.writer.disconnect();
    this.reader.disconnect();
  }

  private drain(): void {
    if (this.pending.size > 0) this.logger.log(`Redis is back: sending ${this.pending.size} buffered events`);
    while (this.pending.size > 0 && this.writer.status === 'ready') this.append(this.pending.shift()!);
    const dropped = this.pending.takeDropped();
    if (dropped > 0) this.logger.warn(`${dropped} events were dropped while Redis was down (WS_BUS_BUFFER_SIZE)`);
  }

  private append(data: string): void {
    this.writer
      .xadd(this.key, 'MAXLEN', '~', String(this.maxLength), '*', 'd', data)
      .catch((error: Error) => this.logger.warn(`publish: ${error.message}`));
  }

  /** Reads the stream while the reader is connected; resumes from `lastId` after a reconnect. */
  private async readLoop(): Promise<void> {
    if (this.reading) return;
    this.reading = true;
    try {
      if (this.lastId === '$') this.lastId = await this.latestId();
      while (!this.closed && this.reader.status === 'ready') {
        const reply = await this.reader.xread(
          'COUNT',
          READ_BATCH,
          'BLOCK',
          READ_BLOCK_MS,
          'STREAMS',
          this.key,
          this.lastId,
        );
        for (const [, entries] of reply ?? []) {
          for (const [id, fields] of entries) {
            this.lastId = id;
            this.receive(id, fields[1]);
          }
        }
      }
    } catch (error) {
      if (!this.closed) this.logger.warn(`read: ${(error as Error).message}`);
    } finally {
      this.reading = false;
    }
  }

  /** Where a fresh instance starts: after the newest entry, so it does not replay history. */
  private async latestId(): Promise<string> {
    const [last] = (await this.reader.xrevrange(this.key, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
    return last?.[0] ?? '0-0';
  }

  private receive(id: string, data: string | undefined): void {
    let envelope: { origin: string; message: BusMessage };
    try {
      envelope = JSON.parse(data ?? '') as { origin: string; message: BusMessage };
    } catch {
      this.logger.warn('Ignored a malformed bus entry');
      return;
    }
    if (envelope.origin === this.options.instanceId) return;
    this.counters.received++;
    // A stream entry id starts with the milliseconds at which Redis appended it.
    this.counters.lagMs = Math.max(Date.now() - Number.parseInt(id, 10), 0);
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
