import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { EVENT_BUS, POSITION_STYLE, type BusMessage, type EventBus, type IdClaim } from '../../bus/event-bus.js';
import { streamKey, type HistoryRead, type Positions, type StreamPosition } from '../../bus/stream-position.js';
import { withTimeout } from '../async/with-timeout.js';
import { REALTIME_CONFIG, type RealtimeConfig } from '../../realtime.config.js';
import type { Connection } from '../transport/connection.js';
import { ConnectionRegistry } from './connection-registry.service.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import { PreparedFrame } from '../transport/prepared-frame.js';
import {
  NOTHING_FOLLOWS,
  StreamRecovery,
  type Joined,
  type JoinedStream,
  type StreamJoin,
  type StreamRead,
} from './stream-recovery.js';

/** How long a join waits for the live stream to reach the position its history read returned. */
const RECEIVE_WAIT_MS = 2_000;
/** How long a join's history read may take before the join goes on without it (the broker away). */
const READ_DEADLINE_MS = 5_000;

interface Waiter {
  position: StreamPosition;
  resolve: () => void;
}

/** Whether the connection is in the join's topic (a closed one enters none). */
const entered =
  (connection: Connection) =>
  (join: { topic: string }): boolean =>
    connection.topics.has(join.topic);

/**
 * Publishes server events to the cluster and delivers what the bus brings to this instance's
 * sockets: each event is serialized once and framed once per instance, then written as is.
 * Joins go through here too: the bus receives a topic's events while a local socket is in it, and a
 * join that names a position gets the events it missed before the live ones (SPEC.md §11).
 */
@Injectable()
export class Fanout implements OnModuleInit {
  /** Joins waiting for this instance to receive a position of a stream. */
  private readonly waiting = new Map<string, Waiter[]>();
  /** One recovering join per connection at a time: the next waits for the previous to be released. */
  private readonly joining = new WeakMap<Connection, Promise<void>>();
  private readonly recovery = new StreamRecovery();

  constructor(
    private readonly registry: ConnectionRegistry,
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
  ) {}

  onModuleInit(): void {
    this.bus.subscribe((message) => this.deliver(message));
    this.registry.onTopicClosed((gateway, topic) => this.bus.unwatch(gateway, topic, this));
  }

  /** History is on: events carry positions and joins can resume. */
  get positioned(): boolean {
    return this.config.history !== undefined;
  }

  /**
   * Sends `frame` to the connections of `gateway` in any of `topics`, each once, on every instance;
   * not to the connections of user `except` (a user is not told of its own arrival). An event of a
   * gateway whose streams are separate goes to each topic as its own event.
   */
  toTopics(gateway: GatewayName, topics: string[], frame: object, except?: string): void {
    const json = JSON.stringify(frame);
    if (POSITION_STYLE[gateway] === 'map' || topics.length === 1) {
      this.bus.publish({ kind: 'topics', gateway, topics, frame: json, except });
      return;
    }
    for (const topic of topics) this.bus.publish({ kind: 'topics', gateway, topics: [topic], frame: json, except });
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
      return this.recovery.unpositioned(joined);
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
      await this.receivedHere(gateway, join.topic, read.position);
      return read;
    };
    try {
      return { ...join, read: await withTimeout(reading(), READ_DEADLINE_MS) };
    } catch {
      return join;
    }
  }

  /** Closes the connection with this id, wherever it is. */
  disconnect(connectionId: string, code: number, reason: string): void {
    this.bus.publish({ kind: 'disconnect', connectionId, code, reason });
  }

  /**
   * Claims `connection`'s id for it on every instance: any other connection of its gateway with that
   * id that is older is closed. Two claims racing on two instances leave exactly the newest one.
   */
  claimId(connection: Connection, code: number, reason: string): void {
    const claim: IdClaim = { at: connection.connectedAt, instance: this.config.instanceId };
    this.bus.publish({
      kind: 'disconnect',
      connectionId: connection.id,
      code,
      reason,
      gateway: connection.gateway,
      claim,
    });
  }

  /** Delivers one bus message to local sockets; returns how many were written to. */
  deliver(message: BusMessage): number {
    switch (message.kind) {
      case 'topics': {
        const send = lazySender(message.frame, message.positions);
        const { except } = message;
        const visit =
          except === undefined
            ? send
            : (connection: Connection) => connection.principal?.sub !== except && send(connection);
        this.registry.forEachMember(message.gateway, message.topics, visit);
        if (this.waiting.size > 0 && message.positions) this.wake(message.gateway, message.positions);
        return send.count;
      }
      case 'disconnect': {
        const connection = this.registry.get(message.connectionId);
        if (!connection || (message.gateway !== undefined && connection.gateway !== message.gateway)) return 0;
        if (message.claim && !this.olderThan(connection, message.claim)) return 0;
        connection.close(message.code, message.reason);
        return 1;
      }
    }
  }

  /** Resolves once this instance has received `position` of the stream (the seam of a resume), or after a while. */
  private receivedHere(gateway: GatewayName, topic: string, position: StreamPosition): Promise<void> {
    if (this.bus.received(gateway, topic, position)) return Promise.resolve();
    const key = streamKey(gateway, topic);
    return new Promise<void>((resolve) => {
      const waiter = { position, resolve: () => undefined };
      const forget = (): void => {
        const remaining = (this.waiting.get(key) ?? []).filter((other) => other !== waiter);
        if (remaining.length === 0) this.waiting.delete(key);
        else this.waiting.set(key, remaining);
      };
      const timer = setTimeout(() => (forget(), resolve()), RECEIVE_WAIT_MS).unref();
      waiter.resolve = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiting.set(key, [...(this.waiting.get(key) ?? []), waiter]);
    });
  }

  private wake(gateway: GatewayName, positions: Positions): void {
    for (const topic in positions) {
      const key = streamKey(gateway, topic);
      const waiters = this.waiting.get(key);
      if (!waiters) continue;
      const { offset, epoch } = positions[topic];
      const reached = (waiter: Waiter): boolean => waiter.position.epoch === epoch && waiter.position.offset <= offset;
      const remaining = waiters.filter((waiter) => !reached(waiter) || (waiter.resolve(), false));
      if (remaining.length === 0) this.waiting.delete(key);
      else this.waiting.set(key, remaining);
    }
  }

  private olderThan(connection: Connection, claim: IdClaim): boolean {
    const at = connection.connectedAt;
    return at < claim.at || (at === claim.at && this.config.instanceId < claim.instance);
  }
}

/**
 * A visitor that frames `json` on first use only, and counts the sockets it wrote to; a connection
 * that is recovering a stream holds the frame until its missed events are sent.
 */
function lazySender(
  json: string,
  positions: Positions | undefined,
): ((connection: Connection) => void) & { count: number } {
  let frame: PreparedFrame | undefined;
  const send = (connection: Connection): void => {
    frame ??= PreparedFrame.fromJson(json);
    if (connection.held) connection.hold({ frame, positions });
    else if (connection.sendPrepared(frame)) send.count++;
  };
  send.count = 0;
  return send;
}
