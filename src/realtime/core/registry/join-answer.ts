import type { HistoryRead, StreamPosition } from '../../bus/stream-position.js';

/** One topic of a join, and the position the client resumes it from. */
export interface StreamJoin {
  topic: string;
  since?: StreamPosition;
}

/** What a join answers for one topic (SPEC.md §11). */
export interface JoinedStream {
  topic: string;
  /** The user's first connection entered the topic. */
  presenceChanged: boolean;
  /** Where the stream is: the position the client is at once released (history on, broker reachable). */
  position?: StreamPosition;
  /** Whether the position the client named was recovered; absent when it named none. */
  recovered?: boolean;
}

export interface Joined {
  streams: JoinedStream[];
  /** Sends the missed events, then the live ones held since the join began; call after the reply. */
  release(): void;
}

/** A topic's history read, or undefined when the broker could not be asked. */
export type StreamRead = StreamJoin & { presenceChanged: boolean; read?: HistoryRead };
