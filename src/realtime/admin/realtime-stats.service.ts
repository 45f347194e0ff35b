import { Inject, Injectable } from '@nestjs/common';
import { EVENT_BUS, type EventBus } from '../bus/index.js';
import { GatewayCatalog } from '../core/gateway/index.js';
import { ClusterView } from '../core/cluster/index.js';
import { ConnectionRegistry, describeConnection, type ClientDescriptor } from '../core/registry/index.js';
import { RealtimeTransport, TrafficStats, type Connection } from '../core/transport/index.js';
import { REALTIME_CONFIG, type RealtimeConfig } from '../config/index.js';

/** The admin views of this instance: health, stats and client descriptions. */
@Injectable()
export class RealtimeStats {
  constructor(
    private readonly catalog: GatewayCatalog,
    private readonly registry: ConnectionRegistry,
    private readonly traffic: TrafficStats,
    private readonly transport: RealtimeTransport,
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    private readonly cluster: ClusterView,
  ) {}

  health(): Record<string, unknown> {
    const redis = this.bus.status();
    const status = this.transport.isShuttingDown ? 'shutting_down' : redis === 'down' ? 'degraded' : 'ok';
    return { status, bus: this.bus.name, redis, connections: this.registry.size, uptime: this.traffic.uptimeSeconds };
  }

  async stats(): Promise<Record<string, unknown>> {
    const byGateway: Record<string, number> = {};
    const topics: Record<string, number> = {};
    const messages: Record<string, { in: number; out: number }> = {};
    for (const gateway of this.catalog.names) {
      byGateway[gateway] = this.registry.countByGateway(gateway);
      topics[gateway] = this.registry.topicCount(gateway);
      const traffic = this.traffic.of(gateway);
      messages[gateway] = { in: traffic.messagesIn, out: traffic.messagesOut };
    }
    return {
      instance_id: this.config.instanceId,
      uptime: this.traffic.uptimeSeconds,
      connections: { total: this.registry.size, by_gateway: byGateway },
      messages: {
        in: this.traffic.messagesIn,
        out: this.traffic.messagesOut,
        per_second: this.traffic.messagesPerSecond,
        by_gateway: messages,
      },
      rooms: topics,
      bus: { name: this.bus.name, redis: this.bus.status() },
      cluster: await this.clusterTotals(byGateway),
    };
  }

  /** Connection totals over every live instance (this one alone without Redis). */
  private async clusterTotals(local: Record<string, number>): Promise<Record<string, unknown>> {
    const byGateway = { ...local };
    const byInstance: Record<string, number> = { [this.config.instanceId]: this.registry.size };
    const elsewhere = await this.cluster.clientsElsewhere();
    for (const client of elsewhere) {
      byGateway[client.gateway] = (byGateway[client.gateway] ?? 0) + 1;
      byInstance[client.instance] = (byInstance[client.instance] ?? 0) + 1;
    }
    return {
      instances: await this.cluster.instanceCount(),
      connections: { total: this.registry.size + elsewhere.length, by_gateway: byGateway },
      by_instance: byInstance,
    };
  }

  /** One client in full (`every` room), or as lists show it. */
  describe(connection: Connection, every = false): ClientDescriptor {
    return describeConnection(connection, this.config.instanceId, every ? Number.POSITIVE_INFINITY : undefined);
  }

  /** Every client of the cluster (this instance's live, the others' as of their last snapshot). */
  async clusterClients(): Promise<ClientDescriptor[]> {
    const local = this.registry.list().map((connection) => this.describe(connection));
    return [...local, ...(await this.cluster.clientsElsewhere())];
  }
}
