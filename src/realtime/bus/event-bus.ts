import type { GatewayName } from '../core/gateway/gateway-name.js';

/**
 * What travels between instances. Frames travel already serialized, so an event is
 * serialized once per broadcast, whatever the number of recipients or instances.
 */
export type BusMessage =
  /** A frame for the connections of `gateway` in any of `topics` (each gets it once), but those of user `except`. */
  | { kind: 'topics'; gateway: GatewayName; topics: string[]; frame: string; except?: string }
  /** A frame for every connection of `gateway`. */
  | { kind: 'gateway'; gateway: GatewayName; frame: string }
  /** A frame for the connection of `gateway` with this id, wherever it is. */
  | { kind: 'connection'; gateway: GatewayName; connectionId: string; frame: string }
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
 * Delivers every published message to this instance's handlers at once (synchronously) and
 * to every other instance's handlers once.
 */
export interface EventBus {
  readonly name: 'memory' | 'redis';
  readonly counters: BusCounters;
  publish(message: BusMessage): void;
  subscribe(handler: BusHandler): void;
  status(): BusStatus;
  /** Sends what is buffered, as far as the broker is reachable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}

export const EVENT_BUS = Symbol('EVENT_BUS');
