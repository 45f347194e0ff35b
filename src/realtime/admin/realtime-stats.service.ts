import { Inject, Injectable } from '@nestjs/common';
import { EVENT_BUS, type EventBus } from '../bus/event-bus.js';
import type { Connection } from '../core/connection.js';
import { ConnectionRegistry } from '../core/connection-registry.service.js';
import type { GatewayName } from '../core/gateway-protocol.js';
import { RealtimeTransport } from '../core/realtime-transport.service.js';
import { TrafficStats } from '../core/traffic-stats.service.js';
import { REALTIME_CONFIG, type RealtimeConfig } from '../realtime.config.js';

const GATEWAYS: GatewayName[] = ['chat', 'scheduler', 'checkpoint', 'notify'];

/** The admin views of this instance: health, stats and client descriptions. */
@Injectable()
export class RealtimeStats {
  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly traffic: TrafficStats,
    private readonly transport: RealtimeTransport,
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
  ) {}

  health(): Record<string, unknown> {
    const redis = this.bus.status();
    const status = this.transport.isShuttingDown ? 'shutting_down' : redis === 'down' ? 'degraded' : 'ok';
    return { status, bus: this.bus.name, redis, connections: this.registry.size, uptime: this.traffic.uptimeSeconds };
  }

  stats(): Record<string, unknown> {
    const byGateway: Record<string, number> = {};
    const topics: Record<string, number> = {};
    for (const gateway of GATEWAYS) {
      byGateway[gateway] = this.registry.countByGateway(gateway);
      topics[gateway] = this.registry.topicCount(gateway);
    }
    return {
      instance_id: this.config.instanceId,
      uptime: this.traffic.uptimeSeconds,
      connections: { total: this.registry.size, by_gateway: byGateway },
      messages: {
        in: this.traffic.messagesIn,
        out: this.traffic.messagesOut,
        per_second: this.traffic.messagesPerSecond,
      },
      rooms: topics,
      bus: { name: this.bus.name, redis: this.bus.status() },
    };
  }

  describe(connection: Connection): Record<string, unknown> {
    return {
      id: connection.id,
      gateway: connection.gateway,
      user_id: connection.principal?.userId ?? null,
      username: connection.principal?.username ?? null,
      ip: connection.ip,
      user_agent: connection.userAgent,
      connected_at: connection.connectedAt.toISOString(),
      last_seen: new Date(connection.lastSeenAt).toISOString(),
      rooms: [...connection.topics],
      messages_in: connection.messagesIn,
      messages_out: connection.messagesOut,
      instance: this.config.instanceId,
    };
  }
}
