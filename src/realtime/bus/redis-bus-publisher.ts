import type { Logger } from '@nestjs/common';
import { encodeControl, envelopeHead, type DisconnectMessage } from './bus-envelope.js';
import type { BusMessage, PublishReceipt, TopicsMessage } from './event-bus.js';
import { isRecord } from '../core/text/json-decode.js';
import { redisMetaTtlMs, redisStreamKeys, type RedisEventBusOptions } from './redis-bus-options.js';
import { PublishBuffer } from './publish-buffer.js';
import { PUBLISH_TO_STREAMS } from './stream-scripts.js';
import { frameHead, newEpoch, type Positions } from './stream-position.js';

export type { TopicsMessage };

const BUFFERED: PublishReceipt = { status: 'buffered' };
const FAILED: PublishReceipt = { status: 'failed' };

/** What waits for the writer while Redis is away: an event, or an encoded control message. */
type Buffered = { kind: 'event'; message: TopicsMessage } | { kind: 'control'; data: string };

/**
 * The publish path of the Redis bus (SPEC.md §9, §11): an event goes through `PUBLISH_TO_STREAMS`,
 * which positions it in its streams, appends it to their histories and publishes it on their shard
 * channels; a control message is published on the control channel. While the writer is not ready,
 * or older publishes still wait, they wait in a bounded `PublishBuffer` and are sent in order once it
 * is back; an event waiting there reaches this instance's sockets at once (`deliverLocally`).
 */
export class RedisBusPublisher {
  private readonly pending: PublishBuffer<Buffered>;

  constructor(
    private readonly options: RedisEventBusOptions,
    private readonly logger: Logger,
    private readonly deliverLocally: (message: BusMessage) => void,
  ) {
    this.pending = new PublishBuffer(options.bufferSize);
    options.writer.on('ready', () => this.drain());
  }

  /** Resolves once Redis has stored the event (its positions), at once when it waits for Redis. */
  publishEvent(message: TopicsMessage): Promise<PublishReceipt> {
    if (this.writesNow()) return this.runPublish(message, 0);
    this.deliverLocally(message);
    this.pending.push({ kind: 'event', message });
    return Promise.resolve(BUFFERED);
  }

  /** Publishes on the control channel, for the other instances (the caller delivers it here). */
  publishControl(message: DisconnectMessage): void {
    const item: Buffered = { kind: 'control', data: encodeControl({ o: this.options.instanceId, m: message }) };
    if (this.writesNow()) this.write(item);
    else this.pending.push(item);
  }

  /** Sends what waits, and resolves once Redis has run it; at once when the writer is not ready. */
  async flush(): Promise<void> {
    if (this.options.writer.status !== 'ready') return;
    this.drain();
    // A round trip behind what was written, so it has left; a writer gone meanwhile has its buffer counted and logged.
    await this.options.writer.ping().catch(() => undefined);
  }

  /** Nothing waits and the writer is ready: a publish goes out now, in order. */
  private writesNow(): boolean {
    return this.pending.size === 0 && this.options.writer.status === 'ready';
  }

  private write(item: Buffered): void {
    if (item.kind === 'event') void this.runPublish(item.message, 1);
    else this.options.writer.spublish(this.options.keys.control, item.data).catch((error: Error) => this.warn(error));
  }

  private runPublish(message: TopicsMessage, deliveredLocally: 0 | 1): Promise<PublishReceipt> {
    const { writer, history, instanceId, styles } = this.options;
    const { gateway, topics, frame, except } = message;
    const streams = topics.map((topic) => redisStreamKeys(this.options, gateway, topic));
    const style = history ? styles.of(gateway) : 'none';
    const envelope = envelopeHead({
      o: instanceId,
      g: gateway,
      t: topics,
      x: except,
      l: deliveredLocally,
      a: Date.now(),
    });
    return PUBLISH_TO_STREAMS.run(
      writer,
      streams.flatMap((stream) => [stream.meta, stream.history]),
      [
        history ? frameHead(frame) : frame.slice(0, frame.lastIndexOf('}')),
        style,
        envelope,
        history?.size ?? 0,
        history?.ttlMs ?? 0,
        redisMetaTtlMs(history),
        newEpoch(),
        ...topics,
        ...streams.map((stream) => stream.channel),
      ],
    ).then(
      (payload) => ({ status: 'stored', positions: history ? positionsOf(payload) : undefined }),
      (error: Error) => {
        this.warn(error);
        return FAILED;
      },
    );
  }

  private drain(): void {
    if (this.pending.size > 0) this.logger.log(`Redis is back: sending ${this.pending.size} buffered events`);
    while (this.pending.size > 0 && this.options.writer.status === 'ready') this.write(this.pending.shift()!);
    const dropped = this.pending.takeDropped();
    if (dropped > 0)
      this.logger.warn(`${dropped} events were dropped while Redis was down (the bus buffer, busBufferSize, was full)`);
  }

  private warn(error: Error): void {
    this.logger.warn(`bus: ${error.message}`);
  }
}

/** The positions the script gave an event: the `p` of the envelope, its first line. */
function positionsOf(payload: unknown): Positions | undefined {
  if (typeof payload !== 'string') return undefined;
  let head: unknown;
  try {
    head = JSON.parse(payload.slice(0, payload.indexOf('\n')));
  } catch {
    return undefined;
  }
  if (!isRecord(head) || !isRecord(head.p)) return undefined;
  const positions: Positions = {};
  for (const [topic, position] of Object.entries(head.p)) {
    if (isRecord(position) && typeof position.offset === 'number' && typeof position.epoch === 'string') {
      positions[topic] = { offset: position.offset, epoch: position.epoch };
    }
  }
  return positions;
}
