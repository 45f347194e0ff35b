import type { HistoryRead, Positions, StreamPosition } from './stream-position.js';

/** A gateway's name, as its definition registers it; the bus carries it as a label of each event. */
export type GatewayName = string;

/**
 * What travels between instances. Frames travel already serialized, so an event is
 * serialized once per broadcast, whatever the number of recipients or instances.
 */
export type BusMessage =
  /**
   * An event for the connections of `gateway` in any of `topics` (each gets it once), but those of
   * user `except`; `BROADCAST` is every connection of the gateway. Published without `positions`;
   * delivered with them (and the frame carrying them) when history is on.
   */
  | {
      kind: 'topics';
      gateway: GatewayName;
      topics: string[];
      frame: string;
      except?: string;
      positions?: Positions;
    }
  /** Close the connection with this id wherever it is (of `gateway`, and older than `claim`, when given). */
  | {
      kind: 'disconnect';
      connectionId: string;
      code: number;
      reason: string;
      gateway?: GatewayName;
      claim?: IdClaim;
    };

/** A connection claiming an id (notify client ids): the newest claim wins, the instance breaking ties. */
export interface IdClaim {
  at: number;
  instance: string;
}

export type BusStatus = 'up' | 'down' | 'disabled';

export type BusHandler = (message: BusMessage) => void;

/** What `/metrics` shows of the bus. */
export class BusCounters {
  /** Messages this instance published. */
  published = 0;
  /** Messages received from other instances. */
  received = 0;
  /** Milliseconds between the last received message's publish and its receipt here. */
  lagMs = 0;
}

/**
 * What became of a published event (issue 26: an acknowledged publish is never lost):
 * - `stored`: in its streams (their histories, with Redis: Redis has it), at these positions;
 * - `buffered`: Redis is away; delivered to this instance's sockets, sent to the others once it is
 *   back (SPEC.md §9), no position yet;
 * - `failed`: Redis failed while it was being stored: it may or may not have been; retry.
 */
export type PublishReceipt =
  { status: 'stored'; positions?: Readonly<Positions> } | { status: 'buffered' } | { status: 'failed' };

/** An event of topics, as `publishEvent` takes it. */
export type TopicsMessage = Extract<BusMessage, { kind: 'topics' }>;

/**
 * Delivers every published message to this instance's handlers at once (synchronously) and
 * to every other instance's handlers once.
 */
export interface EventBus {
  readonly name: 'memory' | 'redis';
  readonly counters: BusCounters;
  publish(message: BusMessage): void;
  /** Publishes an event like `publish`, and tells once it is stored (never rejects). */
  publishEvent(message: TopicsMessage): Promise<PublishReceipt>;
  subscribe(handler: BusHandler): void;
  /**
   * Starts receiving the events of a topic for `holder` (the local sockets in it, a host observer);
   * resolves once they are received, or at once when the broker is unreachable (they are caught up
   * on reconnect). Receiving stops when the last holder `unwatch`es.
   */
  watch(gateway: GatewayName, topic: string, holder: object): Promise<void>;
  unwatch(gateway: GatewayName, topic: string, holder: object): void;
  /** The events of a stream after `since` (resume), or its position only; rejects when the broker is unreachable. */
  resume(gateway: GatewayName, topic: string, since?: StreamPosition): Promise<HistoryRead>;
  /** The retained events of a stream after offset `since`, at most `limit` (the admin history view). */
  list(gateway: GatewayName, topic: string, since: number, limit: number): Promise<HistoryRead>;
  /** Whether this instance has received the event at `position` of the stream (or a later one). */
  received(gateway: GatewayName, topic: string, position: StreamPosition): boolean;
  status(): BusStatus;
  /** Sends what is buffered, as far as the broker is reachable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export const EVENT_BUS = Symbol('EVENT_BUS');
