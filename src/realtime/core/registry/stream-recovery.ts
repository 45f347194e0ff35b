import type { Positions, StreamPosition } from '../../bus/stream-position.js';
import type { Connection, HeldFrame } from '../transport/connection.js';
import type { Joined, StreamRead } from './join-answer.js';

export interface RecoveryCounters {
  historyReads: number;
  recovered: number;
  notRecovered: number;
}

/** A join that is never released (a caller that failed in between) lets its held frames go after this. */
const RELEASE_DEADLINE_MS = 10_000;

/**
 * The seam of a resume, for one connection: the events it missed (from the streams' histories) and
 * the live ones held while they were read, each sent once and in order. On a `map` gateway, where one
 * event belongs to several of the connection's subscriptions, an event already sent through another
 * subscription is not sent again: per subscription, the position after which the connection has
 * had every event is kept.
 */
export class StreamRecovery {
  /** Stream histories read for joins, and resumes answered recovered or not (for `/metrics`). */
  readonly counters: RecoveryCounters = { historyReads: 0, recovered: 0, notRecovered: 0 };
  private readonly covered = new WeakMap<Connection, Map<string, StreamPosition>>();

  /**
   * The answer of a join that read its streams' histories; its `release` (once, or by itself after a
   * while) sends what the connection missed and what was held meanwhile, then calls `done`.
   */
  positioned(connection: Connection, reads: StreamRead[], done: () => void): Joined {
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      clearTimeout(deadline);
      this.replay(connection, reads);
      done();
    };
    const deadline = setTimeout(release, RELEASE_DEADLINE_MS).unref();
    const streams = reads.map(({ topic, since, presenceChanged, read }) => {
      const recovered = since ? (read?.recovered ?? false) : undefined;
      if (read) this.counters.historyReads++;
      if (recovered !== undefined) this.counters[recovered ? 'recovered' : 'notRecovered']++;
      return { topic, presenceChanged, position: read?.position, recovered };
    });
    return { streams, release };
  }

  private replay(connection: Connection, reads: StreamRead[]): void {
    const held = connection.held ?? [];
    connection.held = undefined;
    const covered = connection.protocol.positionStyle === 'map' ? this.coveredOf(connection) : undefined;
    // Topics of this join not replayed yet: their replay sends what they owe, so they are not "another".
    const pending = new Set(reads.map(({ topic }) => topic));
    for (const { topic, since, read } of reads) {
      pending.delete(topic);
      if (!read) {
        covered?.delete(topic);
        continue;
      }
      // Missed events that came after the hold began are among the held ones: sent below, in arrival order.
      const heldOffsets = new Set(held.map((item) => offsetUpTo(item.positions, topic, read.position)));
      for (const entry of read.recovered ? read.entries : []) {
        if (entry.except !== undefined && entry.except === connection.principal?.sub) continue;
        if (heldOffsets.has(entry.positions[topic].offset)) continue;
        if (covered && this.owedElsewhere(connection, topic, entry.positions, covered, false, pending)) continue;
        connection.sendJson(entry.frame);
      }
      covered?.set(topic, read.recovered && since ? since : read.position);
    }
    for (const item of held) if (this.owed(connection, reads, item, covered)) connection.sendPrepared(item.frame);
  }

  /**
   * Whether a held event is sent: unless, in a stream this join read, it is at or before where the
   * client now is (it had it, or it came before the join) and no other subscription owes it.
   */
  private owed(
    connection: Connection,
    reads: StreamRead[],
    item: HeldFrame,
    covered: Map<string, StreamPosition> | undefined,
  ): boolean {
    let before = false;
    for (const { topic, since, read } of reads) {
      const offset = read && offsetUpTo(item.positions, topic, read.position);
      if (offset === undefined) continue;
      if (read!.recovered && since && offset > since.offset) return true;
      before = true;
    }
    return !before || (!!covered && this.owedElsewhere(connection, '', item.positions!, covered, true));
  }

  /**
   * Whether a subscription of the connection other than `topic` owes it this event (its position
   * there is past where that subscription began); `unknown` answers for a subscription without one.
   */
  private owedElsewhere(
    connection: Connection,
    topic: string,
    positions: Positions,
    covered: Map<string, StreamPosition>,
    unknown: boolean,
    pending?: ReadonlySet<string>,
  ): boolean {
    for (const other in positions) {
      if (other === topic || !connection.topics.has(other) || pending?.has(other)) continue;
      const from = covered.get(other);
      if (!from || from.epoch !== positions[other].epoch) {
        if (unknown) return true;
        continue;
      }
      if (positions[other].offset > from.offset) return true;
    }
    return false;
  }

  private coveredOf(connection: Connection): Map<string, StreamPosition> {
    let covered = this.covered.get(connection);
    if (!covered) this.covered.set(connection, (covered = new Map<string, StreamPosition>()));
    return covered;
  }
}

/** The event's offset in `topic` when it is at or before `position` (same epoch). */
function offsetUpTo(positions: Positions | undefined, topic: string, position: StreamPosition): number | undefined {
  const at = positions?.[topic];
  return at && at.epoch === position.epoch && at.offset <= position.offset ? at.offset : undefined;
}
