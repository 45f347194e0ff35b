import type { PublishReceipt } from '../../bus/event-bus.js';
import { Injectable } from '@nestjs/common';
import type { StreamPosition } from '../../bus/stream-position.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import type { Connection } from '../transport/connection.js';
import { ConnectionRegistry } from './connection-registry.service.js';
import { Fanout } from './fanout.service.js';
import { positionFields, sendThen } from './join-reply.js';
import { TopicLimit } from './topic-limit.service.js';

/** A join's position fields, as every gateway's join reply carries them (SPEC.md §11). */
export interface JoinPosition {
  /** Whether the position the client resumed from was recovered; absent when it named none. */
  recovered?: boolean;
  offset?: number;
  epoch?: string;
}

/** Events of one gateway, of one type, published to its topics on every instance. */
export class GatewayPublisher<TEvent extends object> {
  constructor(
    private readonly topics: RealtimeTopics,
    readonly gateway: GatewayName,
  ) {}

  publish(topics: string | readonly string[], event: TEvent): void {
    void this.topics.publishStored(this.gateway, topics, event);
  }

  /** Like `publish`, and resolves once the event is stored (see `RealtimeTopics.publishStored`). */
  publishStored(topics: string | readonly string[], event: TEvent): Promise<PublishReceipt> {
    return this.topics.publishStored(this.gateway, topics, event);
  }
}

/**
 * Topics for any gateway, a host's own included, the way the built-in gateways use them: joins within
 * `maxTopicsPerConnection` that resume from a position and send what was missed (SPEC.md §11),
 * and events published once to every instance, each stamped with its stream position.
 * @publicApi
 */
@Injectable()
export class RealtimeTopics {
  constructor(
    private readonly fanout: Fanout,
    private readonly registry: ConnectionRegistry,
    private readonly limit: TopicLimit,
  ) {}

  /** History is on: events carry positions and joins can resume. */
  get positioned(): boolean {
    return this.fanout.positioned;
  }

  /**
   * Puts `connection` in `topic` and sends it `reply(position)`, then the events it missed after
   * `since` (when given), then live ones, in order and each once. Over the topic limit it throws a
   * `capacity` `RealtimeError` (`Too many topics`), which the gateway's protocol words.
   */
  async join(
    connection: Connection,
    topic: string,
    reply: (position: JoinPosition) => object,
    since?: StreamPosition,
  ): Promise<void> {
    this.limit.check(connection, topic, 'Too many topics');
    const joined = await this.fanout.join(connection, topic, since);
    sendThen(connection, { reply: reply(positionFields(joined)), release: joined.release });
  }

  /** Takes `connection` out of `topic`; false when it was not in it. */
  leave(connection: Connection, topic: string): boolean {
    const member = connection.topics.has(topic);
    this.registry.leave(connection, topic);
    return member;
  }

  /** Sends `event` to the connections of `gateway` in any of `topics`, each once, on every instance. */
  publish(gateway: GatewayName, topics: string | readonly string[], event: object): void {
    void this.publishStored(gateway, topics, event);
  }

  /**
   * Publishes like `publish`, and resolves once the event is stored (with Redis: Redis has it) with its
   * positions, `buffered` while Redis is away, or `failed`; it never rejects.
   */
  publishStored(gateway: GatewayName, topics: string | readonly string[], event: object): Promise<PublishReceipt> {
    return this.fanout.toTopics(gateway, typeof topics === 'string' ? [topics] : [...topics], event);
  }

  /** A typed publisher of `gateway`'s events. */
  publisher<TEvent extends object>(gateway: GatewayName): GatewayPublisher<TEvent> {
    return new GatewayPublisher<TEvent>(this, gateway);
  }
}
