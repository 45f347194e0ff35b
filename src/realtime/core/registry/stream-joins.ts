import type { EventBus } from '../../bus/event-bus.js';
import type { HistoryRead, StreamPosition } from '../../bus/stream-position.js';
import type { RealtimeConfig } from '../../config/index.js';
import { withTimeout } from '../async/with-timeout.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import type { Connection } from '../transport/connection.js';
import type { ConnectionRegistry } from './connection-registry.service.js';
import type { Joined, JoinedStream, StreamJoin, StreamRead } from './join-answer.js';
import { NOTHING_FOLLOWS } from './join-reply.js';
import type { PositionWaiters } from './position-waiters.js';
import { StreamRecovery } from './stream-recovery.js';

/** How long a join's history read may take before the join goes on without it (the broker away). */
const READ_DEADLINE_MS = 5_000;

/** Whether the connection is in the join's topic (a closed one enters none). */
const entered =
  (connection: Connection) =>
  (join: { topic: string }): boolean =>
    connection.topics.has(join.topic);

/**
 * Puts connections in topics: the registry join, the bus receiving the topic's events here while a
 * local socket is in it, and, with history on, the read of what a join that names a position missed
 * and the wait until this instance's live stream reaches it (SPEC.md §11). One recovering join per
 * connection at a time.
 */
export class StreamJoins {
  /** One recovering join per connection at a time: the next waits for the previous to be released. */
  private readonly joining = new WeakMap<Connection, Promise<void>>();
  readonly recovery = new StreamRecovery();

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly bus: EventBus,
    private readonly config: RealtimeConfig,
    private readonly waiters: PositionWaiters,
  ) {}

  /** History is on: events carry positions and joins can resume. */
  get positioned(): boolean {
    return this.config.history !== undefined;
  }

  /** The last local member of `topic` left it: the bus stops receiving its events for the joins. */
  topicClosed(gateway: GatewayName, topic: string): void {
    this.bus.unwatch(gateway, topic, this);
  }

  /**
   * Puts `connection` in `topic`, the bus receiving its events here before this resolves. With
   * history on, the answer says where the stream is and whether `since` was recovered; the caller
   * sends its reply, then `release()`s the missed events and the live ones held meanwhile.
   */
  async join(
    connection: Connection,
    topic: string,
    since?: StreamPosition,
  ): Promise<JoinedStream & { release(): void }> {
    if (connection.topics.has(topic)) return this.alreadyIn(connection, topic, since);
    const { streams, release } = await this.joinStreams(connection, [{ topic, since }]);
    return { ...streams[0], release };
  }

  /**
   * A join of a topic the connection is in already: live events flow, so nothing is replayed; the
   * reply tells where the stream is, and a named position is answered "not recovered".
   */
  private async alreadyIn(
    connection: Connection,
    topic: string,
    since?: StreamPosition,
  ): Promise<JoinedStream & { release(): void }> {
    const joined = { topic, presenceChanged: false, recovered: since ? false : undefined, release: NOTHING_FOLLOWS };
    if (!this.positioned) return joined;
    // Already in the topic: the position only decorates the reply; without it the reply says nothing of it.
    const read = await this.bus.resume(connection.gateway, topic).catch(() => undefined);
    return { ...joined, position: read?.position };
  }

  /** `join` for several topics at once, with one reply: their missed events follow it stream by stream. */
  async joinStreams(connection: Connection, joins: StreamJoin[]): Promise<Joined> {
    const { gateway } = connection;
    const enter = (): StreamRead[] => joins.map((join) => ({ ...join, ...this.registry.join(connection, join.topic) }));
    if (!this.positioned) {
      const joined = enter();
      await Promise.all(joined.filter(entered(connection)).map(({ topic }) => this.bus.watch(gateway, topic, this)));
      return unpositioned(joined);
    }
    const previous = this.joining.get(connection);
    let done!: () => void;
    const turn = new Promise<void>((resolve) => (done = resolve));
    this.joining.set(connection, turn);
    await previous;
    // Held from the moment of joining: no live event of these topics may pass the missed ones.
    connection.held ??= [];
    const joined = enter();
    // A connection closed meanwhile entered nothing: nothing to watch (no member would ever unwatch it).
    const reads: StreamRead[] = await Promise.all(
      joined.map((join) => (entered(connection)(join) ? this.readStream(gateway, join) : Promise.resolve(join))),
    );
    return this.recovery.positioned(connection, reads, done);
  }

  /**
   * Watches the topic, reads its history, and waits for the live stream to reach what was read; a
   * read that does not answer in time (the broker away) counts as none: live events only, and the
   * client is told it did not recover.
   */
  private async readStream(gateway: GatewayName, join: StreamRead): Promise<StreamRead> {
    const reading = async (): Promise<HistoryRead> => {
      await this.bus.watch(gateway, join.topic, this);
      const read = await this.bus.resume(gateway, join.topic, join.since);
      await this.waiters.receivedHere(gateway, join.topic, read.position);
      return read;
    };
    try {
      return { ...join, read: await withTimeout(reading(), READ_DEADLINE_MS) };
    } catch {
      return join;
    }
  }
}

/** The answer of a join with history off: no positions, and a named one is "not recovered". */
function unpositioned(joins: Array<StreamJoin & { presenceChanged: boolean }>): Joined {
  const streams = joins.map(({ topic, since, presenceChanged }) => ({
    topic,
    presenceChanged,
    recovered: since ? false : undefined,
  }));
  return { streams, release: NOTHING_FOLLOWS };
}
