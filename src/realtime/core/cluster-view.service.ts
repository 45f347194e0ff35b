import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { Redis } from 'ioredis';
import { REALTIME_CONFIG, type RealtimeConfig } from '../realtime.config.js';
import { describeConnection, type ClientDescriptor } from './client-descriptor.js';
import { ConnectionRegistry } from './connection-registry.service.js';
import type { GatewayName } from './gateway-protocol.js';

/** What one instance tells the others about itself. */
interface InstanceSnapshot {
  instance: string;
  clients: ClientDescriptor[];
  users: Record<string, number>;
  presence: string[];
}

const PUBLISH_DEBOUNCE_MS = 50;
const QUERY_TIMEOUT_MS = 500;

/**
 * The cluster as one (SPEC.md §9): each instance keeps a snapshot of its connections, per-user
 * counts and room presence in Redis under a TTL of `WS_HEARTBEAT_TIMEOUT`, so a crashed instance
 * stops counting within that time. Limits, presence and the admin views read the other instances'
 * snapshots. Without Redis (or while it is down) every answer is local-only.
 */
@Injectable()
export class ClusterView implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ClusterView.name);
  private readonly redis?: Redis;
  private readonly instancesKey: string;
  private readonly ownKey: string;
  private publishTimer?: NodeJS.Timeout;
  private refreshTimer?: NodeJS.Timeout;

  constructor(
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    private readonly registry: ConnectionRegistry,
  ) {
    const prefix = config.redis?.prefix ?? '';
    this.instancesKey = `${prefix}ws:instances`;
    this.ownKey = this.snapshotKey(config.instanceId);
    if (config.redis) {
      this.redis = new Redis(config.redis.url, {
        lazyConnect: true,
        enableOfflineQueue: false,
        maxRetriesPerRequest: 1,
        retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 6), 5_000),
        connectionName: `${config.instanceId}:cluster`,
      });
      this.redis.on('error', () => undefined);
      this.redis.on('ready', () => this.schedulePublish());
    }
  }

  get enabled(): boolean {
    return this.redis !== undefined;
  }

  onModuleInit(): void {
    if (!this.redis) return;
    this.redis.connect().catch(() => undefined);
    this.registry.onChange(() => this.schedulePublish());
    const refreshMs = Math.max(Math.floor(this.config.heartbeatTimeoutMs / 3), 50);
    this.refreshTimer = setInterval(() => this.schedulePublish(), refreshMs).unref();
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.refreshTimer);
    clearTimeout(this.publishTimer);
    if (!this.redis) return;
    if (this.redis.status === 'ready') {
      await this.redis
        .multi()
        .del(this.ownKey)
        .srem(this.instancesKey, this.config.instanceId)
        .exec()
        .catch(() => undefined);
    }
    this.redis.disconnect();
  }

  /** Connections of `sub` on `gateway` held by the other live instances. */
  async userConnectionsElsewhere(gateway: GatewayName, sub: string): Promise<number> {
    const key = `${gateway}|${sub}`;
    return (await this.others()).reduce((sum, snapshot) => sum + (snapshot.users[key] ?? 0), 0);
  }

  /** Whether `sub` is in `topic` of `gateway` on another live instance. */
  async presentElsewhere(gateway: GatewayName, topic: string, sub: string): Promise<boolean> {
    const key = `${gateway}|${topic}|${sub}`;
    return (await this.others()).some((snapshot) => snapshot.presence.includes(key));
  }

  /** Clients held by the other live instances. */
  async clientsElsewhere(): Promise<ClientDescriptor[]> {
    return (await this.others()).flatMap((snapshot) => snapshot.clients);
  }

  async instanceCount(): Promise<number> {
    return 1 + (await this.others()).length;
  }

  private async others(): Promise<InstanceSnapshot[]> {
    if (!this.redis || this.redis.status !== 'ready') return [];
    try {
      return await withTimeout(this.readOthers(this.redis), QUERY_TIMEOUT_MS);
    } catch (error) {
      this.logger.warn(`cluster read: ${(error as Error).message}`);
      return [];
    }
  }

  private async readOthers(redis: Redis): Promise<InstanceSnapshot[]> {
    const ids = (await redis.smembers(this.instancesKey)).filter((id) => id !== this.config.instanceId);
    if (ids.length === 0) return [];
    const values = await redis.mget(ids.map((id) => this.snapshotKey(id)));
    const gone = ids.filter((_, i) => values[i] === null);
    if (gone.length > 0) redis.srem(this.instancesKey, ...gone).catch(() => undefined);
    return values
      .filter((value): value is string => value !== null)
      .map((value) => JSON.parse(value) as InstanceSnapshot);
  }

  private schedulePublish(): void {
    this.publishTimer ??= setTimeout(() => {
      this.publishTimer = undefined;
      void this.publish();
    }, PUBLISH_DEBOUNCE_MS);
  }

  private async publish(): Promise<void> {
    if (!this.redis || this.redis.status !== 'ready') return;
    const snapshot: InstanceSnapshot = {
      instance: this.config.instanceId,
      clients: this.registry.list().map((connection) => describeConnection(connection, this.config.instanceId)),
      users: Object.fromEntries(this.registry.userCountEntries()),
      presence: this.registry.presenceKeys(),
    };
    await this.redis
      .multi()
      .set(this.ownKey, JSON.stringify(snapshot), 'PX', this.config.heartbeatTimeoutMs)
      .sadd(this.instancesKey, this.config.instanceId)
      .exec()
      .catch((error: Error) => this.logger.warn(`cluster publish: ${error.message}`));
  }

  private snapshotKey(instanceId: string): string {
    return `${this.config.redis?.prefix ?? ''}ws:instance:${instanceId}`;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
