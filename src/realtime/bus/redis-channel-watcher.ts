import type { Logger } from '@nestjs/common';
import type { GatewayName } from './event-bus.js';
import type { RedisKeys } from '../redis/redis-keys.js';
import type { RedisClient } from '../redis/redis.options.js';
import { decodePayload, type Envelope } from './bus-envelope.js';
import { redisStreamKeys } from './redis-bus-options.js';
import type { RedisStreamHistory } from './redis-stream-history.js';
import type { StreamCursors } from './stream-cursors.js';
import type { StreamPosition } from './stream-position.js';
import type { StreamStyles } from './stream-styles.js';

export interface ChannelWatcherOptions {
  subscriber: RedisClient;
  keys: RedisKeys;
  styles: StreamStyles;
  /** Reads what a gap or a reconnect missed; none when history is off (nothing is caught up). */
  history: RedisStreamHistory | undefined;
  cursors: StreamCursors;
  logger: Logger;
  /** An event new here, in its stream's order. */
  onEvent: (envelope: Envelope, frame: string) => void;
  /** A payload of the control channel. */
  onControl: (data: string) => void;
}

interface Watched {
  gateway: GatewayName;
  topic: string;
  channel: string;
  holders: Set<object>;
  ready: Promise<void>;
}

/**
 * The receiving side of the Redis bus (SPEC.md §9, §11): shard-subscribes to the channel of every
 * topic a holder watches, and to the control channel; subscribes to all of them again after a
 * reconnect. Each event received is handed on once, in its stream's order: a copy on another of this
 * instance's channels is dropped (`StreamCursors`), and a gap (a reconnect of the subscriber) is
 * filled from the history before anything newer is handed on.
 */
export class RedisChannelWatcher {
  private readonly subscriber: RedisClient;
  private readonly watched = new Map<string, Watched>();
  /** Streams whose history is to be caught up (a gap, a reconnect), done one after the other. */
  private readonly toCatchUp = new Set<Watched>();
  /** Payloads received while the history is being caught up: handled after it, in order. */
  private readonly queued: Array<{ channel: string; payload: string }> = [];
  private catchingUp = false;
  private closed = false;

  constructor(private readonly options: ChannelWatcherOptions) {
    this.subscriber = options.subscriber;
    this.subscriber.on('ready', () => void this.resubscribe());
    // A Redis Cluster replaces a failed shard's subscriber without the cluster leaving `ready`.
    this.subscriber.on('subscribersReady', () => void this.resubscribe());
    this.subscriber.on('smessage', (channel: string, payload: string) => this.onPayload(channel, payload));
  }

  watch(gateway: GatewayName, topic: string, holder: object): Promise<void> {
    const channel = this.channelOf(gateway, topic);
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
    const channel = this.channelOf(gateway, topic);
    const watched = this.watched.get(channel);
    if (!watched?.holders.delete(holder) || watched.holders.size > 0) return;
    this.watched.delete(channel);
    this.toCatchUp.delete(watched);
    this.options.cursors.forget(gateway, topic);
    // Also while disconnected: the subscriber does not resubscribe by itself (`resubscribe` does, the watched ones).
    this.subscriber.sunsubscribe(channel).catch(() => undefined);
  }

  isWatched(gateway: GatewayName, topic: string): boolean {
    return this.watched.has(this.channelOf(gateway, topic));
  }

  /** Stops warning about failed catch-ups: the connections are going away. */
  close(): void {
    this.closed = true;
  }

  private channelOf(gateway: GatewayName, topic: string): string {
    return redisStreamKeys(this.options, gateway, topic).channel;
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
      this.options.onControl(payload);
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

  /** Hands one event on unless it was handed on already; a gap in its stream is caught up first. */
  private receive(channel: string, payload: string, fromHistory: boolean): void {
    const decoded = decodePayload(payload);
    if (!decoded) {
      this.options.logger.warn('Ignored a malformed bus payload');
      return;
    }
    const { envelope, frame } = decoded;
    const { cursors, history } = this.options;
    const watched = this.watched.get(channel);
    if (
      !fromHistory &&
      watched &&
      history &&
      cursors.isAfterGap(watched.gateway, watched.topic, envelope.p[watched.topic])
    ) {
      this.queued.push({ channel, payload });
      void this.catchUp([watched]);
      return;
    }
    const event = { gateway: envelope.g, topics: envelope.t, positions: envelope.p };
    if (!cursors.advance(event, watched, (topic) => this.isWatched(envelope.g, topic))) return;
    this.options.onEvent(envelope, frame);
  }

  /**
   * Hands on, from their histories, what the streams had after their cursors; then what waited
   * meanwhile. Streams asked for while a catch-up runs are done by it, before it ends.
   */
  private async catchUp(streams: Watched[], first?: () => Promise<void>): Promise<void> {
    const { history } = this.options;
    if (!history) {
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
        await this.catchUpStream(watched, history);
      }
    } finally {
      this.catchingUp = false;
      while (!this.catchingUp && this.queued.length > 0) {
        const { channel, payload } = this.queued.shift()!;
        this.receive(channel, payload, false);
      }
    }
  }

  private async catchUpStream(watched: Watched, history: RedisStreamHistory): Promise<void> {
    const { gateway, topic, channel } = watched;
    const { cursors, logger } = this.options;
    const cursor = cursors.reached(gateway, topic);
    if (!cursor || !this.watched.has(channel)) return;
    try {
      await history.writerReady();
      const read = (since: StreamPosition) => history.read(gateway, topic, { mode: 'resume', ...since });
      let { recovered, entries, position } = await read(cursor);
      if (!recovered && position.epoch !== cursor.epoch) {
        // The stream's history began again (Redis restarted or flushed): all of the new one is new here.
        ({ recovered, entries, position } = await read({ offset: 0, epoch: position.epoch }));
      }
      if (!recovered) {
        logger.warn(`Missed events of ${gateway} ${topic}: no longer in its history`);
        cursors.skipTo(gateway, topic, position);
        return;
      }
      for (const payload of entries) this.receive(channel, payload, true);
    } catch (error) {
      // Redis away again: caught up on its next reconnect; meanwhile what waits is handed on.
      if (!this.closed) logger.warn(`bus: ${(error as Error).message}`);
    }
  }
}
