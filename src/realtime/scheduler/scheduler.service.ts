import type { PublishReceipt } from '../bus/index.js';
import { Injectable } from '@nestjs/common';
import { ResourceAccess } from '../core/auth/index.js';
import { RealtimeError } from '../core/gateway/index.js';
import { BROADCAST, type StreamPosition } from '../bus/index.js';
import {
  ConnectionRegistry,
  Fanout,
  positionFields,
  TopicLimit,
  type JoinedStream,
  type ReplyThen,
} from '../core/registry/index.js';
import { TrafficStats, type Connection } from '../core/transport/index.js';
import { timestamp, type EventScope, type SchedulerEventType, type SchedulerFrame } from './scheduler-events.js';
import {
  pathSubscription,
  subscription,
  type SchedulerResourceType,
  type Subscription,
} from './scheduler-resources.js';
import { eventId, routeEvent, topicOf } from './scheduler-routing.js';
import { frameId, SCHEDULER_GATEWAY } from './scheduler.definition.js';

const FORBIDDEN = RealtimeError.forbidden();

/**
 * Subscriptions and events of the scheduler gateway (seed 001): knows connections and topics,
 * not sockets or frames' wire details. Events are routed by `routeEvent`, serialized once and
 * reach each matching connection once, on every instance.
 */
@Injectable()
export class SchedulerService {
  /** Scheduler connections accepted by this instance since it started. */
  private accepted = 0;

  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly fanout: Fanout,
    private readonly traffic: TrafficStats,
    private readonly access: ResourceAccess,
    private readonly topicLimit: TopicLimit,
  ) {}

  /**
   * Subscribes a new connection to the broadcast stream and its path's resource (resumed from the
   * query's position), or refuses it (4403) when the policy says no.
   */
  async connect(connection: Connection): Promise<ReplyThen<SchedulerFrame> | undefined> {
    const principal = connection.requirePrincipal();
    const wanted = pathSubscription(connection.params, principal);
    if (!(await this.access.allows(connection, wanted.resource))) {
      connection.refuse(FORBIDDEN);
      return undefined;
    }
    this.accepted++;
    const { streams, release } = await this.fanout.joinStreams(connection, [
      { topic: topicOf(wanted.resource), since: connection.resumeFrom?.stream },
      { topic: BROADCAST, since: connection.resumeFrom?.broadcast },
    ]);
    // With where the broadcast stream (system_status to every connection) is, to resume it too.
    const broadcast = this.fanout.positioned || streams[1].recovered !== undefined ? streams[1] : undefined;
    return { reply: subscriptionReply('subscribed', wanted, streams[0], broadcast), release };
  }

  async subscribe(
    connection: Connection,
    resourceType: SchedulerResourceType,
    resourceId: string | undefined,
    since?: StreamPosition,
  ): Promise<ReplyThen<SchedulerFrame>> {
    const principal = connection.requirePrincipal();
    const wanted = subscription(resourceType, resourceId, principal);
    if (!(await this.access.allows(connection, wanted.resource))) throw FORBIDDEN;
    const topic = topicOf(wanted.resource);
    // The broadcast stream does not count (SPEC.md §10.1).
    this.topicLimit.check(connection, topic, 'Too many subscriptions', 1);
    const joined = await this.fanout.join(connection, topic, since);
    return { reply: subscriptionReply('subscribed', wanted, joined), release: joined.release };
  }

  unsubscribe(
    connection: Connection,
    resourceType: SchedulerResourceType,
    resourceId: string | undefined,
  ): SchedulerFrame {
    const wanted = subscription(resourceType, resourceId, connection.requirePrincipal());
    this.registry.leave(connection, topicOf(wanted.resource));
    return subscriptionReply('unsubscribed', wanted);
  }

  /** Seed 001's system-status snapshot, for this instance. */
  snapshot(): SchedulerFrame {
    const connections = this.registry.list({ gateway: 'scheduler' });
    const latencies = connections.flatMap((connection) => connection.latencyMs ?? []);
    const averageMs = latencies.length === 0 ? 0 : latencies.reduce((sum, ms) => sum + ms, 0) / latencies.length;
    return {
      type: 'system_status',
      id: frameId('system'),
      timestamp: timestamp(),
      data: {
        totalConnections: this.accepted,
        activeConnections: connections.length,
        totalMessages: this.traffic.messagesIn + this.traffic.messagesOut,
        messagesPerSecond: this.traffic.messagesPerSecond,
        averageLatency: `${Number((averageMs / 1000).toFixed(3))}s`,
        uptime: formatUptime(this.traffic.uptimeSeconds),
      },
    };
  }

  /** Publishes an event to its routed subscribers on every instance; returns its id. */
  publish(type: SchedulerEventType, data: Record<string, unknown>, scope: EventScope): string {
    return this.publishWithReceipt(type, data, scope).id;
  }

  /** Publishes like `publish`; `receipt` resolves once the event is stored (never rejects). */
  publishWithReceipt(
    type: SchedulerEventType,
    data: Record<string, unknown>,
    scope: EventScope,
  ): { id: string; receipt: Promise<PublishReceipt> } {
    const route = routeEvent(type, scope);
    const now = Date.now();
    const frame: SchedulerFrame = { type, id: eventId(type, scope, now), timestamp: new Date(now).toISOString(), data };
    const topics = route.everyone ? [BROADCAST] : route.topics;
    return { id: frame.id, receipt: this.fanout.toTopics(SCHEDULER_GATEWAY.gateway, topics, frame) };
  }
}

function subscriptionReply(
  action: 'subscribed' | 'unsubscribed',
  wanted: Subscription,
  joined?: JoinedStream,
  broadcast?: JoinedStream,
): SchedulerFrame {
  const { resourceType, resourceId } = wanted;
  const data = { action, resourceType, resourceId, status: 'success', ...(joined && positionFields(joined)) };
  return {
    type: 'system_status',
    id: frameId('sub-response'),
    timestamp: timestamp(),
    data: broadcast ? { ...data, broadcast: positionFields(broadcast) } : data,
  };
}

/** `2h 30m 15s`, as seed 001 shows uptime. */
function formatUptime(seconds: number): string {
  return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m ${seconds % 60}s`;
}
