import type { GatewayName } from './event-bus.js';
import {
  newEpoch,
  streamKey,
  withPositions,
  type HistoryEntry,
  type HistoryRead,
  type PositionStyle,
  type Positions,
  type StreamPosition,
} from './stream-position.js';

export interface HistoryLimits {
  size: number;
  ttlMs: number;
}

interface TimedEntry extends HistoryEntry {
  offset: number;
  at: number;
}

class Stream {
  readonly epoch = newEpoch();
  offset = 0;
  readonly entries: TimedEntry[] = [];
  touchedAt = Date.now();
}

/** How long a stream's position outlives its last event or read: clients hold positions that long. */
export const streamMetaTtlMs = (limits: HistoryLimits): number => Math.max(10 * limits.ttlMs, 3_600_000);

/**
 * The streams of one process (the in-memory bus): positions and the last `size` events of each
 * stream, younger than `ttlMs`. A stream untouched for `streamMetaTtlMs` is forgotten, and comes
 * back with a new epoch; memory is bounded by size per stream and by time in the number of streams.
 */
export class MemoryStreamLog {
  private readonly streams = new Map<string, Stream>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(private readonly limits: HistoryLimits) {
    this.sweeper = setInterval(() => this.sweep(Date.now()), Math.min(limits.ttlMs, 60_000)).unref();
  }

  /** Gives the event its next position in each of `topics`, retains it, and returns its frame. */
  append(
    gateway: GatewayName,
    topics: readonly string[],
    json: string,
    style: PositionStyle,
    except?: string,
  ): { frame: string; positions: Positions } {
    const now = Date.now();
    const positions: Positions = {};
    const streams = topics.map((topic) => this.stream(gateway, topic, now));
    streams.forEach((stream, i) => (positions[topics[i]] = { offset: ++stream.offset, epoch: stream.epoch }));
    const frame = withPositions(json, style, topics, positions);
    streams.forEach((stream, i) => {
      stream.entries.push({ frame, positions, except, offset: positions[topics[i]].offset, at: now });
      if (stream.entries.length > this.limits.size) stream.entries.shift();
    });
    return { frame, positions };
  }

  /** Every retained event after `since` (recovered), or the current position only (not recovered). */
  resume(gateway: GatewayName, topic: string, since?: StreamPosition): HistoryRead {
    const now = Date.now();
    const stream = this.stream(gateway, topic, now);
    const position = { offset: stream.offset, epoch: stream.epoch };
    const missed = since && since.epoch === stream.epoch ? this.after(stream, since.offset, now) : undefined;
    const complete = missed !== undefined && missed.length === stream.offset - since!.offset;
    return complete ? { position, recovered: true, entries: missed } : { position, recovered: false, entries: [] };
  }

  /** The retained events after offset `since`, oldest first, at most `limit`. */
  list(gateway: GatewayName, topic: string, since: number, limit: number): HistoryRead {
    const now = Date.now();
    const stream = this.stream(gateway, topic, now);
    const entries = this.after(stream, since, now)?.slice(0, limit) ?? [];
    return { position: { offset: stream.offset, epoch: stream.epoch }, recovered: true, entries };
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private after(stream: Stream, since: number, now: number): HistoryEntry[] | undefined {
    if (since > stream.offset) return undefined;
    const oldestKept = now - this.limits.ttlMs;
    return stream.entries
      .filter((entry) => entry.offset > since && entry.at > oldestKept)
      .map(({ frame, positions, except }) => ({ frame, positions, except }));
  }

  private stream(gateway: GatewayName, topic: string, now: number): Stream {
    const key = streamKey(gateway, topic);
    let stream = this.streams.get(key);
    if (!stream) this.streams.set(key, (stream = new Stream()));
    stream.touchedAt = now;
    return stream;
  }

  private sweep(now: number): void {
    const metaTtl = streamMetaTtlMs(this.limits);
    for (const [key, stream] of this.streams) {
      while (stream.entries.length > 0 && stream.entries[0].at <= now - this.limits.ttlMs) stream.entries.shift();
      if (stream.touchedAt <= now - metaTtl) this.streams.delete(key);
    }
  }

  /** For leak checks: streams and retained events held. */
  footprint(): { streams: number; events: number } {
    let events = 0;
    for (const stream of this.streams.values()) events += stream.entries.length;
    return { streams: this.streams.size, events };
  }
}
