import { Logger } from '@nestjs/common';
import type { GatewayName } from '../core/gateway/gateway-name.js';
import type { RedisKeys } from '../redis/redis-keys.js';
import type { RedisClient } from '../redis/redis.options.js';
import {
  BusCounters,
  POSITION_STYLE,
  type BusHandler,
  type BusMessage,
  type BusStatus,
  type EventBus,
} from './event-bus.js';
import { streamMetaTtlMs, type HistoryLimits } from './memory-stream-log.js';
import { PublishBuffer } from './publish-buffer.js';
import { PUBLISH_TO_STREAMS, READ_STREAM } from './stream-scripts.js';
import {
  frameHead,
  newEpoch,
  streamKey,
  type HistoryEntry,
  type HistoryRead,
  type Positions,
  type StreamPosition,
} from './stream-position.js';

export interface RedisEventBusOptions {
  /** Runs the publish and read scripts and publishes control messages. */
  writer: RedisClient;
  /** Shard-subscribes to the channels of the topics this instance has sockets in; used for nothing else. */
  subscriber: RedisClient;
  keys: RedisKeys;
  instanceId: string;
  bufferSize: number;
  history?: HistoryLimits;
}

type TopicsMessage = Extract<BusMessage, { kind: 'topics' }>;
type Buffered = { kind: 'event'; message: TopicsMessage } | { kind: 'control'; data: string };

/** What travels with an event's frame on its channels and in its history. */
interface Envelope {
  /** The publishing instance. */
  o: string;
  g: GatewayName;
  t: string[];
  x?: string;
  /** 1: the publisher delivered it to its own sockets already (it was published while Redis was down). */
  l: 0 | 1;
  /** Publish time (ms), for the lag gauge. */
  a: number;
  p: Positions;
}

interface Watched {
  gateway: GatewayName;
  topic: string;
  channel: string;
  holders: Set<object>;
  ready: Promise<void>;
}

/** What `READ_STREAM` is asked: every event after a position (`resume`), or the retained ones after an offset (`list`). */
interface ReadRequest {
  mode: 'resume' | 'list';
  offset?: number;
  epoch?: string;
  limit?: number;
}

/** How long a catch-up waits for the writer when the subscriber reconnected first. */
const WRITER_WAIT_MS = 15_000;
/** How many events of a stream one history read may return (every one a resume can ask for). */
const READ_LIMIT = 100_000;

/**
 * The cluster bus on Redis, per topic (SPEC.md §9, §11): an event is written by one script that
 * gives it its position in each of its streams, appends it to their histories and publishes it on
 * their shard channels (`SPUBLISH`), and an instance shard-subscribes (`SSUBSCRIBE`) only to the
 * channels of topics its own sockets are in, so adding instances spreads the traffic instead of
 * multiplying it, on one Redis as on a Redis Cluster.
 *
 * Each instance delivers what it receives on its channels, its own events included, so a topic's
 * events reach its sockets in the stream's order. Per stream it keeps the last offset received: a
 * copy of one event on another of its channels is not delivered twice, and a gap (a reconnect of
 * the subscriber) is filled from the history before anything newer is delivered. While Redis is
 * unreachable, publishes are delivered to local sockets at once and wait in a bounded buffer, sent in
 * order on reconnect.
 */
export class RedisEventBus implements EventBus {
  readonly name = 'redis' as const;
  readonly counters = new BusCounters();
  private readonly logger = new Logger(RedisEventBus.name);
  private readonly handlers: BusHandler[] = [];
  private readonly writer: RedisClient;
  private readonly subscriber: RedisClient;
  private readonly pending: PublishBuffer<Buffered>;
  private readonly watched = new Map<string, Watched>();
  /** Per stream (`gateway\0topic`), the last position delivered here. */
  private readonly cursors = new Map<string, StreamPosition>();
  /**
   * Per stream, where this instance began receiving it: the position its first history read returned.
   * What arrives on the stream's own channel up to it was replayed by that reader, not delivered again.
   */
  private readonly marks = new Map<string, StreamPosition>();
  /** Streams whose history is to be caught up (a gap, a reconnect), done one after the other. */
  private readonly toCatchUp = new Set<Watched>();
  /** Payloads received while the history is being caught up: delivered after it, in order. */
  private readonly queued: Array<{ channel: string; payload: string }> = [];
  private catchingUp = false;
  private closed = false;

  constructor(private readonly options: RedisEventBusOptions) {
    ({ writer: this.writer, subscriber: this.subscriber } = options);
    this.pending = new PublishBuffer(options.bufferSize);
    this.writer.on('ready', () => this.drain());
    this.subscriber.on('ready', () => void this.resubscribe());
    // A Redis Cluster replaces a failed shard's subscriber without the cluster leaving `ready`.
    this.subscriber.on('subscribersReady', () => void this.resubscribe());
    this.subscriber.on('smessage', (channel: string, payload: string) => this.onPayload(channel, payload));
  }

  /** Connects in the background: the instance serves its own sockets whether or not Redis is up. */
  start(): void {
    this.writer.connect().catch(() => undefined);
    this.subscriber.connect().catch(() => undefined);
  }

  publish(message: BusMessage): void {
    this.counters.published++;
    if (message.kind === 'disconnect') {
      this.deliverLocally(message);
      this.send({ kind: 'control', data: JSON.stringify({ o: this.options.instanceId, m: message }) });
      return;
    }
    if (this.pending.size === 0 && this.writer.status === 'ready') {
      this.runPublish(message, 0);
      return;
    }
    this.deliverLocally(message);
    this.pending.push({ kind: 'event', message });
  }

  subscribe(handler: BusHandler): void {
    this.handlers.push(handler);
  }

  watch(gateway: GatewayName, topic: string, holder: object): Promise<void> {
    const { channel } = this.streamKeys(gateway, topic);
    const existing = this.watched.get(channel);
    if (existing) {
      existing.holders.add(holder);
      return existing.ready;
    }
    const watched: Watched = { gateway, topic, channel, holders: new Set([holder]), ready: Promise.resolve() };
    this.watched.set(channel, watched);
    if (this.subscriber.status === 'ready') watched.ready = this.subscribeTo(watched);
    return watched.ready;
  }

  unwatch(gateway: GatewayName, topic: string, holder: object): void {
    const { channel } = this.streamKeys(gateway, topic);
    const watched = this.watched.get(channel);
    if (!watched?.holders.delete(holder) || watched.holders.size > 0) return;
    this.watched.delete(channel);
    this.toCatchUp.delete(watched);
    this.cursors.delete(streamKey(gateway, topic));
    this.marks.delete(streamKey(gateway, topic));
    // Also while disconnected: the subscriber does not resubscribe by itself (`resubscribe` does, the watched ones).
    this.subscriber.sunsubscribe(channel).catch(() => undefined);
  }

  /**
   * A stream's history after `since`. The first read of a watched stream also marks where this
   * instance starts receiving it (a later gap is caught up from there): what was published up to that
   * position and arrives later is not delivered again, since the reader replays it itself.
   */
  async resume(gateway: GatewayName, topic: string, since?: StreamPosition): Promise<HistoryRead> {
    const read = toHistoryRead(await this.readRaw(gateway, topic, { mode: 'resume', ...since }));
    const key = streamKey(gateway, topic);
    if (!this.marks.has(key) && !this.cursors.has(key) && this.watched.has(this.streamKeys(gateway, topic).channel)) {
      this.marks.set(key, read.position);
    }
    return read;
  }

  async list(gateway: GatewayName, topic: string, since: number, limit: number): Promise<HistoryRead> {
    return toHistoryRead(await this.readRaw(gateway, topic, { mode: 'list', offset: since, limit }));
  }

  received(gateway: GatewayName, topic: string, position: StreamPosition): boolean {
    if (position.offset === 0) return true;
    const reached = this.reached(streamKey(gateway, topic));
    return !reached || reached.epoch !== position.epoch || reached.offset >= position.offset;
  }

  status(): BusStatus {
    return this.writer.status === 'ready' && this.subscriber.status === 'ready' ? 'up' : 'down';
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
    this.subscriber.disconnect();
  }

  private streamKeys(gateway: GatewayName, topic: string): { meta: string; history: string; channel: string } {
    return this.options.keys.stream(gateway, topic, POSITION_STYLE[gateway] === 'map');
  }

  private send(item: Buffered): void {
    if (this.pending.size === 0 && this.writer.status === 'ready') this.write(item);
    else this.pending.push(item);
  }

  private write(item: Buffered): void {
    if (item.kind === 'event') this.runPublish(item.message, 1);
    else this.writer.spublish(this.options.keys.control, item.data).catch((error: Error) => this.warn(error));
  }

  private runPublish(message: TopicsMessage, deliveredLocally: 0 | 1): void {
    const { gateway, topics, frame, except } = message;
    const streams = topics.map((topic) => this.streamKeys(gateway, topic));
    const history = this.options.history;
    const style = history ? POSITION_STYLE[gateway] : 'none';
    const envelope = JSON.stringify({
      o: this.options.instanceId,
      g: gateway,
      t: topics,
      x: except,
      l: deliveredLocally,
      a: Date.now(),
    });
    PUBLISH_TO_STREAMS.run(
      this.writer,
      streams.flatMap((stream) => [stream.meta, stream.history]),
      [
        history ? frameHead(frame) : frame.slice(0, frame.lastIndexOf('}')),
        style,
        envelope.slice(0, -1),
        history?.size ?? 0,
        history?.ttlMs ?? 0,
        this.metaTtlMs,
        newEpoch(),
        ...topics,
        ...streams.map((stream) => stream.channel),
      ],
    ).catch((error: Error) => this.warn(error));
  }

  private get metaTtlMs(): number {
    return this.options.history ? streamMetaTtlMs(this.options.history) : 3_600_000;
  }

  private drain(): void {
    if (this.pending.size > 0) this.logger.log(`Redis is back: sending ${this.pending.size} buffered events`);
    while (this.pending.size > 0 && this.writer.status === 'ready') this.write(this.pending.shift()!);
    const dropped = this.pending.takeDropped();
    if (dropped > 0) this.logger.warn(`${dropped} events were dropped while Redis was down (WS_BUS_BUFFER_SIZE)`);
  }

  private async subscribeTo(watched: Watched): Promise<void> {
    // Redis going away meanwhile: `resubscribe` subscribes again and catches up once it is back.
    await this.subscriber.ssubscribe(watched.channel).catch(() => undefined);
  }

  /**
   * After a (re)connect: the control channel and every watched channel again, then whatever was
   * published meanwhile; what arrives from the moment of reconnecting waits for that.
   */
  private async resubscribe(): Promise<void> {
    const all = [...this.watched.values()];
    const channels = [this.options.keys.control, ...all.map((watched) => watched.channel)];
    await this.catchUp(all, async () => {
      // One channel per command: on a Redis Cluster the channels of one SSUBSCRIBE must share a slot.
      await Promise.all(channels.map((channel) => this.subscriber.ssubscribe(channel).catch(() => undefined)));
    });
  }

  private onPayload(channel: string, payload: string): void {
    if (channel === this.options.keys.control) {
      this.receiveControl(payload);
      return;
    }
    if (!this.watched.has(channel)) {
      // Unwatched while Redis was away, and resubscribed by the client on reconnect: dropped now.
      this.subscriber.sunsubscribe(channel).catch(() => undefined);
      return;
    }
    if (this.catchingUp) this.queued.push({ channel, payload });
    else this.receive(channel, payload, false);
  }

  private receiveControl(data: string): void {
    const { o, m } = JSON.parse(data) as { o: string; m: BusMessage };
    if (o === this.options.instanceId) return;
    this.counters.received++;
    this.deliverLocally(m);
  }

  /** Delivers one event unless it was delivered already; a gap in its stream is caught up first. */
  private receive(channel: string, payload: string, fromHistory: boolean): void {
    const newline = payload.indexOf('\n');
    let envelope: Envelope;
    try {
      envelope = JSON.parse(payload.slice(0, newline)) as Envelope;
    } catch {
      this.logger.warn('Ignored a malformed bus payload');
      return;
    }
    const watched = this.watched.get(channel);
    if (!fromHistory && watched && this.options.history && this.isAfterGap(watched, envelope.p[watched.topic])) {
      this.queued.push({ channel, payload });
      void this.catchUp([watched]);
      return;
    }
    if (!this.advance(envelope, watched)) return;
    if (envelope.o === this.options.instanceId && envelope.l === 1) return;
    if (envelope.o !== this.options.instanceId) {
      this.counters.received++;
      this.counters.lagMs = Math.max(Date.now() - envelope.a, 0);
    }
    const { g: gateway, t: topics, x: except } = envelope;
    const frame = payload.slice(newline + 1);
    const positions = this.options.history ? envelope.p : undefined;
    this.deliverLocally({ kind: 'topics', gateway, topics, frame, except, positions });
  }

  /** How far this instance has a stream: the later of what it delivered and where it began receiving it. */
  private reached(key: string): StreamPosition | undefined {
    return later(this.marks.get(key), this.cursors.get(key));
  }

  private isAfterGap(watched: Watched, position: StreamPosition | undefined): boolean {
    const reached = this.reached(streamKey(watched.gateway, watched.topic));
    return !!reached && !!position && reached.epoch === position.epoch && position.offset > reached.offset + 1;
  }

  /**
   * Moves the cursors of the event's watched streams; false when it was delivered before (a copy of
   * it on another of this instance's channels), or when it came on a stream's channel at or before
   * where this instance began receiving that stream (its first reader replays it).
   */
  private advance(envelope: Envelope, via: Watched | undefined): boolean {
    for (const topic of envelope.t) {
      if (!atOrBefore(envelope.p[topic], this.cursors.get(streamKey(envelope.g, topic)))) continue;
      return false;
    }
    if (via && atOrBefore(envelope.p[via.topic], this.marks.get(streamKey(via.gateway, via.topic)))) return false;
    for (const topic of envelope.t) {
      const key = streamKey(envelope.g, topic);
      if (!this.watched.has(this.streamKeys(envelope.g, topic).channel)) continue;
      const position = envelope.p[topic];
      if (position) this.cursors.set(key, later(this.cursors.get(key), position)!);
    }
    return true;
  }

  /**
   * Delivers, from their histories, what the streams had after their cursors; then what waited
   * meanwhile. Streams asked for while a catch-up runs are done by it, before it ends.
   */
  private async catchUp(streams: Watched[], first?: () => Promise<void>): Promise<void> {
    if (!this.options.history) {
      await first?.();
      return;
    }
    for (const watched of streams) this.toCatchUp.add(watched);
    if (this.catchingUp) {
      await first?.();
      return;
    }
    this.catchingUp = true;
    try {
      await first?.();
      for (const watched of this.toCatchUp) {
        this.toCatchUp.delete(watched);
        await this.catchUpStream(watched);
      }
    } finally {
      this.catchingUp = false;
      while (!this.catchingUp && this.queued.length > 0) {
        const { channel, payload } = this.queued.shift()!;
        this.receive(channel, payload, false);
      }
    }
  }

  private async catchUpStream(watched: Watched): Promise<void> {
    const key = streamKey(watched.gateway, watched.topic);
    const cursor = this.reached(key);
    if (!cursor || !this.watched.has(watched.channel)) return;
    try {
      await this.writerReady();
      const read = (since: StreamPosition) =>
        this.readRaw(watched.gateway, watched.topic, { mode: 'resume', ...since });
      let { recovered, entries, position } = await read(cursor);
      if (!recovered && position.epoch !== cursor.epoch) {
        // The stream's history began again (Redis restarted or flushed): all of the new one is new here.
        ({ recovered, entries, position } = await read({ offset: 0, epoch: position.epoch }));
      }
      if (!recovered) {
        this.logger.warn(`Missed events of ${watched.gateway} ${watched.topic}: no longer in its history`);
        this.cursors.set(key, position);
        return;
      }
      for (const payload of entries) this.receive(watched.channel, payload, true);
    } catch (error) {
      // Redis away again: caught up on its next reconnect; meanwhile what waits is delivered.
      if (!this.closed) this.warn(error as Error);
    }
  }

  /** Resolves once the writer is connected (the subscriber may be back first), or after a while. */
  private writerReady(): Promise<void> {
    if (this.writer.status === 'ready') return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.writer.off('ready', done);
        resolve();
      };
      const timer = setTimeout(done, WRITER_WAIT_MS).unref();
      this.writer.once('ready', done);
    });
  }

  /** One stream's position and payloads (`READ_STREAM`). */
  private async readRaw(
    gateway: GatewayName,
    topic: string,
    { mode, offset, epoch = '', limit = READ_LIMIT }: ReadRequest,
  ): Promise<{ position: StreamPosition; recovered: boolean; entries: string[] }> {
    const { meta, history } = this.streamKeys(gateway, topic);
    const ttlMs = this.options.history?.ttlMs ?? 0;
    const reply = (await READ_STREAM.run(
      this.writer,
      [meta, history],
      [mode, offset === undefined ? '' : offset, epoch, ttlMs, this.metaTtlMs, limit, newEpoch()],
    )) as [string, number, number, ...string[]];
    const [currentEpoch, currentOffset, recovered, ...entries] = reply;
    return { position: { offset: Number(currentOffset), epoch: currentEpoch }, recovered: recovered === 1, entries };
  }

  private warn(error: Error): void {
    this.logger.warn(`bus: ${error.message}`);
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

/** Whether `position` is at or before `mark` in the same epoch. */
function atOrBefore(position: StreamPosition | undefined, mark: StreamPosition | undefined): boolean {
  return !!position && !!mark && position.epoch === mark.epoch && position.offset <= mark.offset;
}

/** The later of two positions of one stream, `newer` winning when their epochs differ (the stream began again). */
function later(older: StreamPosition | undefined, newer: StreamPosition | undefined): StreamPosition | undefined {
  if (!older || !newer) return newer ?? older;
  if (older.epoch !== newer.epoch) return newer;
  return older.offset >= newer.offset ? older : newer;
}

function toHistoryRead(raw: { position: StreamPosition; recovered: boolean; entries: string[] }): HistoryRead {
  return { position: raw.position, recovered: raw.recovered, entries: raw.entries.map(toEntry) };
}

function toEntry(payload: string): HistoryEntry {
  const newline = payload.indexOf('\n');
  const envelope = JSON.parse(payload.slice(0, newline)) as Envelope;
  return { frame: payload.slice(newline + 1), positions: envelope.p, except: envelope.x };
}
