import type { GatewayName } from './event-bus.js';
import { streamKey, type Positions, type StreamPosition } from './stream-position.js';

/** An event as the cursors see it: the streams it belongs to and its position in each. */
export interface PositionedEvent {
  gateway: GatewayName;
  topics: readonly string[];
  positions: Positions;
}

/** One stream: a topic of a gateway. */
export interface StreamId {
  gateway: GatewayName;
  topic: string;
}

/**
 * How far this instance has each stream it watches. Two positions per stream, kept apart: the
 * cursor, the last position delivered here, and the mark, where this instance began receiving the
 * stream (the position its first history read returned; what arrives on the stream's own channel up
 * to it was replayed by that reader, not delivered again). A mark never drops an event that came on
 * another stream's channel.
 */
export class StreamCursors {
  /** Per stream (`gateway\0topic`), the last position delivered here. */
  private readonly cursors = new Map<string, StreamPosition>();
  /** Per stream, where this instance began receiving it. */
  private readonly marks = new Map<string, StreamPosition>();

  /** How far this instance has a stream: the later of what it delivered and where it began receiving it. */
  reached(gateway: GatewayName, topic: string): StreamPosition | undefined {
    const key = streamKey(gateway, topic);
    return later(this.marks.get(key), this.cursors.get(key));
  }

  /** Whether the event at `position` (or a later one) has reached this instance; true when it cannot tell. */
  received(gateway: GatewayName, topic: string, position: StreamPosition): boolean {
    if (position.offset === 0) return true;
    const reached = this.reached(gateway, topic);
    return !reached || reached.epoch !== position.epoch || reached.offset >= position.offset;
  }

  /** Whether an event at `position` would skip events of the stream not received yet (same epoch only). */
  isAfterGap(gateway: GatewayName, topic: string, position: StreamPosition | undefined): boolean {
    const reached = this.reached(gateway, topic);
    return !!reached && !!position && reached.epoch === position.epoch && position.offset > reached.offset + 1;
  }

  /** Marks where this instance begins receiving a stream, unless it has a mark or a cursor already. */
  markStart(gateway: GatewayName, topic: string, position: StreamPosition): void {
    const key = streamKey(gateway, topic);
    if (!this.marks.has(key) && !this.cursors.has(key)) this.marks.set(key, position);
  }

  /**
   * Moves the cursors of the event's watched streams; false when it was delivered before (a copy of
   * it on another of this instance's channels), or when it came on stream `via`'s channel at or
   * before where this instance began receiving that stream (its first reader replays it).
   */
  advance(event: PositionedEvent, via: StreamId | undefined, isWatched: (topic: string) => boolean): boolean {
    const { gateway, topics, positions } = event;
    if (topics.some((topic) => atOrBefore(positions[topic], this.cursors.get(streamKey(gateway, topic))))) {
      return false;
    }
    if (via && atOrBefore(positions[via.topic], this.marks.get(streamKey(via.gateway, via.topic)))) return false;
    for (const topic of topics) {
      const position = positions[topic];
      if (!isWatched(topic) || !position) continue;
      const key = streamKey(gateway, topic);
      this.cursors.set(key, later(this.cursors.get(key), position)!);
    }
    return true;
  }

  /** Moves a stream's cursor to `position` as it is (what was missed before it is gone). */
  skipTo(gateway: GatewayName, topic: string, position: StreamPosition): void {
    this.cursors.set(streamKey(gateway, topic), position);
  }

  /** Forgets a stream this instance no longer watches. */
  forget(gateway: GatewayName, topic: string): void {
    const key = streamKey(gateway, topic);
    this.cursors.delete(key);
    this.marks.delete(key);
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
