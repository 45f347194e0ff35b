import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { EVENT_BUS, type BusMessage, type EventBus, type PublishReceipt } from '../../bus/event-bus.js';
import { StreamStyles } from '../../bus/stream-styles.js';
import type { Positions, StreamPosition } from '../../bus/stream-position.js';
import { REALTIME_CONFIG, type RealtimeConfig } from '../../config/index.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import type { Connection } from '../transport/connection.js';
import { PreparedFrame } from '../transport/prepared-frame.js';
import { ClusterDisconnect } from './cluster-disconnect.js';
import { ConnectionRegistry } from './connection-registry.service.js';
import type { Joined, JoinedStream, StreamJoin } from './join-answer.js';
import { PositionWaiters } from './position-waiters.js';
import { StreamJoins } from './stream-joins.js';
import type { RecoveryCounters } from './stream-recovery.js';

type TopicsMessage = Extract<BusMessage, { kind: 'topics' }>;

/**
 * Publishes server events to the cluster and delivers what the bus brings to this instance's
 * sockets: each event is serialized once and framed once per instance, then written as is.
 * The one provider the gateways inject for it: joins and recovery (`StreamJoins`) and disconnects
 * by id (`ClusterDisconnect`) are reached through here too.
 */
@Injectable()
export class Fanout implements OnModuleInit {
  private readonly waiters: PositionWaiters;
  private readonly joins: StreamJoins;
  private readonly disconnects: ClusterDisconnect;

  constructor(
    private readonly registry: ConnectionRegistry,
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(REALTIME_CONFIG) config: RealtimeConfig,
    // Filled by `GatewayCatalog` when it is built, before any lifecycle hook of the application runs.
    private readonly styles: StreamStyles,
  ) {
    this.waiters = new PositionWaiters(bus);
    this.joins = new StreamJoins(registry, bus, config, this.waiters);
    this.disconnects = new ClusterDisconnect(registry, bus, config);
  }

  onModuleInit(): void {
    this.bus.subscribe((message) => this.deliver(message));
    this.registry.onTopicClosed((gateway, topic) => this.joins.topicClosed(gateway, topic));
  }

  /** History is on: events carry positions and joins can resume. */
  get positioned(): boolean {
    return this.joins.positioned;
  }

  /**
   * Sends `frame` to the connections of `gateway` in any of `topics`, each once, on every instance;
   * not to the connections of user `except` (a user is not told of its own arrival). An event of a
   * gateway whose streams are separate goes to each topic as its own event. Resolves with where it
   * was stored (never rejects): a caller that does not wait publishes and forgets.
   */
  toTopics(gateway: GatewayName, topics: string[], frame: object, except?: string): Promise<PublishReceipt> {
    const json = JSON.stringify(frame);
    if (this.styles.of(gateway) === 'map' || topics.length === 1) {
      return this.bus.publishEvent({ kind: 'topics', gateway, topics, frame: json, except });
    }
    return Promise.all(
      topics.map((topic) => this.bus.publishEvent({ kind: 'topics', gateway, topics: [topic], frame: json, except })),
    ).then(combined);
  }

  /** History reads and resumes recovered or not, for `/metrics`. */
  get recoveryCounters(): RecoveryCounters {
    return this.joins.recovery.counters;
  }

  /** See `StreamJoins.join`: puts `connection` in `topic`; the caller replies, then `release()`s. */
  join(connection: Connection, topic: string, since?: StreamPosition): Promise<JoinedStream & { release(): void }> {
    return this.joins.join(connection, topic, since);
  }

  /** See `StreamJoins.joinStreams`: `join` for several topics at once, with one reply. */
  joinStreams(connection: Connection, joins: StreamJoin[]): Promise<Joined> {
    return this.joins.joinStreams(connection, joins);
  }

  /** Closes the connection with this id, wherever it is. */
  disconnect(connectionId: string, code: number, reason: string): void {
    this.disconnects.disconnect(connectionId, code, reason);
  }

  /** See `ClusterDisconnect.claimId`: closes every older connection of its gateway with `connection`'s id. */
  claimId(connection: Connection, code: number, reason: string): void {
    this.disconnects.claimId(connection, code, reason);
  }

  /** Delivers one bus message to local sockets; returns how many were written to. */
  deliver(message: BusMessage): number {
    switch (message.kind) {
      case 'topics':
        return this.deliverToTopics(message);
      case 'disconnect':
        return this.disconnects.deliver(message);
    }
  }

  /** Writes the event to the local members of its topics, framed once; then wakes the joins waiting for it. */
  private deliverToTopics(message: TopicsMessage): number {
    const send = lazySender(message.frame, message.positions);
    const { except } = message;
    const visit =
      except === undefined
        ? send
        : (connection: Connection) => connection.principal?.sub !== except && send(connection);
    this.registry.forEachMember(message.gateway, message.topics, visit);
    if (this.waiters.size > 0 && message.positions) this.waiters.wake(message.gateway, message.positions);
    return send.count;
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

/** The receipt of one event published to several streams: the least of theirs, with every position. */
function combined(receipts: PublishReceipt[]): PublishReceipt {
  const worst =
    receipts.find((receipt) => receipt.status === 'failed') ?? receipts.find((r) => r.status === 'buffered');
  if (worst) return worst;
  const positions: Positions = {};
  for (const receipt of receipts) if (receipt.status === 'stored') Object.assign(positions, receipt.positions);
  return { status: 'stored', positions };
}
