import { Injectable } from '@nestjs/common';
import type { ConnectionLimits } from '../gateway/gateway-definition.js';
import type { Connection } from '../transport/connection.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import { RealtimeError, TOO_MANY_CONNECTIONS } from '../gateway/realtime-error.js';

/** The members of one room or subscription, with how many connections each user has in it. */
class TopicMembers {
  readonly connections = new Set<Connection>();
  /** While one user is all there is (a user's own room), no map: a few hundred bytes per user. */
  private soleUser?: string;
  private soleCount = 0;
  private users?: Map<string, number>;

  /** One more connection of `user` here: how many it has now. */
  added(user: string): number {
    if (this.users) return increment(this.users, user);
    if (this.soleUser === undefined || this.soleUser === user) {
      this.soleUser = user;
      return ++this.soleCount;
    }
    this.users = new Map([[this.soleUser, this.soleCount]]);
    this.soleUser = undefined;
    this.soleCount = 0;
    return increment(this.users, user);
  }

  /** One fewer connection of `user` here: how many it has left. */
  removed(user: string): number {
    if (this.users) return decrement(this.users, user);
    if (this.soleUser !== user) return 0;
    if (--this.soleCount > 0) return this.soleCount;
    this.soleUser = undefined;
    this.soleCount = 0;
    return 0;
  }
}

export interface MembershipChange {
  /** The user's first connection entered (join) or last one left (leave). */
  presenceChanged: boolean;
}

export type TopicListener = (gateway: GatewayName, topic: string) => void;

export interface ClientFilter {
  gateway?: GatewayName;
  user?: string;
}

const NO_CHANGE: MembershipChange = { presenceChanged: false };
const ID_IN_USE = new RealtimeError('forbidden', 'Client id in use');

/**
 * Every socket of every gateway on this instance, indexed by id, user, IP and topic (room or
 * subscription), with the per-gateway connection limits. Gateways keep no socket maps of their own.
 */
@Injectable()
export class ConnectionRegistry {
  private readonly byId = new Map<string, Connection>();
  private readonly byGateway = new Map<GatewayName, Set<Connection>>();
  private readonly ipCounts = new Map<string, number>();
  private readonly topics = new Map<GatewayName, Map<string, TopicMembers>>();
  private readonly listeners: Array<() => void> = [];
  private readonly closedListeners: TopicListener[] = [];
  /** The IP counter a connection was admitted under. */
  private readonly countedAs = new Map<Connection, string>();
  /**
   * Connections admitted without a principal (a checkpoint client that will `authenticate`), per
   * gateway: they do not take the places of the gateway's total until they authenticate (SPEC.md §5).
   */
  private readonly unauthenticated = new Set<Connection>();
  private readonly unauthenticatedCounts = new Map<string, number>();
  /** A connection admitted under an id that was taken → the one it displaced (notify client ids). */
  private readonly displaced = new WeakMap<Connection, Connection>();
  /** The other way: a connection → the one admitted later under its id. */
  private readonly displacer = new WeakMap<Connection, Connection>();

  get size(): number {
    return this.countedAs.size;
  }

  /**
   * Registers `connection` unless the gateway's total or per-IP limit would be passed; returns the
   * refusal if so. The per-user limit holds for the whole cluster and is decided before (`UserSlots`).
   */
  admit(connection: Connection, limits: ConnectionLimits): RealtimeError | undefined {
    const previous = this.byId.get(connection.id);
    // Only a connection of the same gateway can be displaced (a notify client id taken again).
    if (previous && previous.gateway !== connection.gateway) return ID_IN_USE;
    const refusal = this.checkLimits(connection, connection.principal ? limits : { perIp: limits.perIp });
    if (refusal) return refusal;
    if (!connection.principal) {
      this.unauthenticated.add(connection);
      increment(this.unauthenticatedCounts, connection.gateway);
    }
    if (previous) {
      this.displaced.set(connection, previous);
      this.displacer.set(previous, connection);
    }
    this.byId.set(connection.id, connection);
    this.gatewaySet(connection.gateway).add(connection);
    const ip = this.ipKey(connection);
    this.countedAs.set(connection, ip);
    increment(this.ipCounts, ip);
    this.changed();
    return undefined;
  }

  /**
   * A connection admitted without a principal has one now: from here it takes a place under the
   * gateway's total; the refusal when there is none left.
   */
  authenticated(connection: Connection, limits: ConnectionLimits): RealtimeError | undefined {
    if (!this.unauthenticated.has(connection)) return undefined;
    if (limits.total !== undefined && this.authenticatedCount(connection.gateway) >= limits.total) {
      return TOO_MANY_CONNECTIONS;
    }
    this.forgetUnauthenticated(connection);
    this.changed();
    return undefined;
  }

  /** Called after every admission, removal, join and leave (the cluster view republishes). */
  onChange(listener: () => void): void {
    this.listeners.push(listener);
  }

  /** Called when the last local member of a topic left it (the bus stops receiving its events). */
  onTopicClosed(listener: TopicListener): void {
    this.closedListeners.push(listener);
  }

  /** Forgets `connection` everywhere: ids, counters, every topic. Idempotent. */
  remove(connection: Connection): void {
    if (!this.countedAs.has(connection)) return;
    for (const topic of [...connection.topics]) this.leave(connection, topic);
    if (this.byId.get(connection.id) === connection) {
      // A connection refused after it took the id (a notify client id in use) gives it back.
      const previous = this.displacedBy(connection);
      if (previous) this.byId.set(connection.id, previous);
      else this.byId.delete(connection.id);
    }
    // Out of a chain A ← B ← C (B refused, say): C displaced A now, so A still hears of C.
    const newer = this.displacer.get(connection);
    const older = this.displacedBy(connection);
    if (newer && older) {
      this.displaced.set(newer, older);
      this.displacer.set(older, newer);
    }
    this.byGateway.get(connection.gateway)?.delete(connection);
    this.forgetUnauthenticated(connection);
    const ip = this.countedAs.get(connection)!;
    this.countedAs.delete(connection);
    decrement(this.ipCounts, ip);
    this.changed();
  }

  get(id: string): Connection | undefined {
    return this.byId.get(id);
  }

  /** The connection `connection` took the id of, if it is still open here. */
  displacedBy(connection: Connection): Connection | undefined {
    const previous = this.displaced.get(connection);
    return previous && this.countedAs.has(previous) ? previous : undefined;
  }

  /** Connections in admission order, optionally filtered. */
  list(filter: ClientFilter = {}): Connection[] {
    const source = filter.gateway ? (this.byGateway.get(filter.gateway) ?? []) : this.countedAs.keys();
    const result: Connection[] = [];
    for (const connection of source) {
      if (filter.user !== undefined && connection.principal?.sub !== filter.user) continue;
      result.push(connection);
    }
    return result.sort((a, b) => a.sequence - b.sequence);
  }

  countByGateway(gateway: GatewayName): number {
    return this.byGateway.get(gateway)?.size ?? 0;
  }

  topicCount(gateway: GatewayName): number {
    return this.topics.get(gateway)?.size ?? 0;
  }

  join(connection: Connection, topic: string): MembershipChange {
    if (connection.topics.has(topic) || !this.countedAs.has(connection)) return NO_CHANGE;
    const index = this.topicIndex(connection.gateway);
    let members = index.get(topic);
    if (!members) index.set(topic, (members = new TopicMembers()));
    members.connections.add(connection);
    connection.topics.add(topic);
    this.changed();
    return { presenceChanged: members.added(this.presenceKey(connection)) === 1 };
  }

  leave(connection: Connection, topic: string): MembershipChange {
    if (!connection.topics.delete(topic)) return NO_CHANGE;
    const index = this.topicIndex(connection.gateway);
    const members = index.get(topic);
    if (!members) return NO_CHANGE;
    members.connections.delete(connection);
    const remaining = members.removed(this.presenceKey(connection));
    if (members.connections.size === 0) {
      index.delete(topic);
      for (const listener of this.closedListeners) listener(connection.gateway, topic);
    }
    this.changed();
    return { presenceChanged: remaining === 0 };
  }

  /** Calls `visit` once per connection of `gateway` in any of `topics`. */
  forEachMember(gateway: GatewayName, topics: readonly string[], visit: (connection: Connection) => void): void {
    const index = this.topics.get(gateway);
    if (!index) return;
    if (topics.length === 1) {
      index.get(topics[0])?.connections.forEach(visit);
      return;
    }
    const seen = new Set<Connection>();
    for (const topic of topics) {
      index.get(topic)?.connections.forEach((connection) => {
        if (seen.has(connection)) return;
        seen.add(connection);
        visit(connection);
      });
    }
  }

  forEachOfGateway(gateway: GatewayName, visit: (connection: Connection) => void): void {
    this.byGateway.get(gateway)?.forEach(visit);
  }

  /** For leak checks and stats: how many connections, topics and ip counters are held. */
  footprint(): { connections: number; topics: number; ips: number } {
    let topics = 0;
    for (const index of this.topics.values()) topics += index.size;
    return { connections: this.countedAs.size, topics, ips: this.ipCounts.size };
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }

  private checkLimits(connection: Connection, limits: ConnectionLimits): RealtimeError | undefined {
    if (limits.total !== undefined && this.authenticatedCount(connection.gateway) >= limits.total) {
      return TOO_MANY_CONNECTIONS;
    }
    if (limits.perIp !== undefined && (this.ipCounts.get(this.ipKey(connection)) ?? 0) >= limits.perIp) {
      return TOO_MANY_CONNECTIONS;
    }
    return undefined;
  }

  private authenticatedCount(gateway: GatewayName): number {
    return this.countByGateway(gateway) - (this.unauthenticatedCounts.get(gateway) ?? 0);
  }

  private forgetUnauthenticated(connection: Connection): void {
    if (this.unauthenticated.delete(connection)) decrement(this.unauthenticatedCounts, connection.gateway);
  }

  private ipKey(connection: Connection): string {
    return `${connection.gateway}|${connection.ip}`;
  }

  private presenceKey(connection: Connection): string {
    return connection.principal?.sub ?? connection.id;
  }

  private gatewaySet(gateway: GatewayName): Set<Connection> {
    let set = this.byGateway.get(gateway);
    if (!set) this.byGateway.set(gateway, (set = new Set()));
    return set;
  }

  private topicIndex(gateway: GatewayName): Map<string, TopicMembers> {
    let index = this.topics.get(gateway);
    if (!index) this.topics.set(gateway, (index = new Map<string, TopicMembers>()));
    return index;
  }
}

function increment(map: Map<string, number>, key: string): number {
  const next = (map.get(key) ?? 0) + 1;
  map.set(key, next);
  return next;
}

function decrement(map: Map<string, number>, key: string): number {
  const next = (map.get(key) ?? 0) - 1;
  if (next <= 0) map.delete(key);
  else map.set(key, next);
  return Math.max(next, 0);
}
