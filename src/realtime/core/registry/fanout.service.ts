import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { EVENT_BUS, type BusMessage, type EventBus, type IdClaim } from '../../bus/event-bus.js';
import { REALTIME_CONFIG, type RealtimeConfig } from '../../realtime.config.js';
import type { Connection } from '../transport/connection.js';
import { ConnectionRegistry } from './connection-registry.service.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import { PreparedFrame } from '../transport/prepared-frame.js';

/**
 * Publishes server events to the cluster and delivers what the bus brings to this instance's
 * sockets: each event is serialized once and framed once per instance, then written as is.
 */
@Injectable()
export class Fanout implements OnModuleInit {
  constructor(
    private readonly registry: ConnectionRegistry,
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
  ) {}

  onModuleInit(): void {
    this.bus.subscribe((message) => this.deliver(message));
  }

  /**
   * Sends `frame` to the connections of `gateway` in any of `topics`, each once, on every instance;
   * not to the connections of user `except` (a user is not told of its own arrival).
   */
  toTopics(gateway: GatewayName, topics: string[], frame: object, except?: string): void {
    this.bus.publish({ kind: 'topics', gateway, topics, frame: JSON.stringify(frame), except });
  }

  /** Sends `frame` to every connection of `gateway`, on every instance. */
  toGateway(gateway: GatewayName, frame: object): void {
    this.bus.publish({ kind: 'gateway', gateway, frame: JSON.stringify(frame) });
  }

  /** Sends `frame` to the connection of `gateway` with this id, on whichever instance holds it. */
  toConnection(gateway: GatewayName, connectionId: string, frame: object): void {
    this.bus.publish({ kind: 'connection', gateway, connectionId, frame: JSON.stringify(frame) });
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
    const claim: IdClaim = { at: connection.connectedAt.getTime(), instance: this.config.instanceId };
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
        const send = lazySender(message.frame);
        const { except } = message;
        const visit =
          except === undefined
            ? send
            : (connection: Connection) => connection.principal?.sub !== except && send(connection);
        this.registry.forEachMember(message.gateway, message.topics, visit);
        return send.count;
      }
      case 'gateway': {
        const send = lazySender(message.frame);
        this.registry.forEachOfGateway(message.gateway, send);
        return send.count;
      }
      case 'connection': {
        const connection = this.registry.get(message.connectionId);
        if (connection?.gateway !== message.gateway) return 0;
        return connection.sendJson(message.frame) ? 1 : 0;
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

  private olderThan(connection: Connection, claim: IdClaim): boolean {
    const at = connection.connectedAt.getTime();
    return at < claim.at || (at === claim.at && this.config.instanceId < claim.instance);
  }
}

/** A visitor that frames `json` on first use only, and counts the sockets it wrote to. */
function lazySender(json: string): ((connection: Connection) => void) & { count: number } {
  let frame: PreparedFrame | undefined;
  const send = (connection: Connection): void => {
    frame ??= PreparedFrame.fromJson(json);
    if (connection.sendPrepared(frame)) send.count++;
  };
  send.count = 0;
  return send;
}
