import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { REALTIME_CONFIG, type RealtimeConfig } from '../../realtime.config.js';
import { RedisConnector, type RedisClient, type RedisKeys } from '../../redis/index.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import { describeConnection, type ClientDescriptor } from './client-descriptor.js';
import { ConnectionRegistry } from './connection-registry.service.js';

/** What limits and presence need from another instance: small, read on every upgrade and join. */
interface InstanceState {
  users: Record<string, number>;
  presence: string[];
}

interface OtherInstance {
  users: Record<string, number>;
  presence: Set<string>;
}

const PUBLISH_DEBOUNCE_MS = 50;
const QUERY_TIMEOUT_MS = 500;

/**
 * The cluster as one (SPEC.md §9): each instance keeps its per-user counts and room presence
 * (`…:state`, read on upgrades and joins) and its client descriptors (`…:clients`, read by the
 * admin views only) in Redis under a TTL of `WS_HEARTBEAT_TIMEOUT`, so a crashed instance stops
 * counting within that time. Concurrent state reads share one round trip. Without Redis (or while
 * it is down) every answer is local-only.
 */
@Injectable()
export class ClusterView implements OnModuleInit, OnApplicationShutdown {
  private readonly logger = new Logger(ClusterView.name);
  private readonly redis?: RedisClient;
  private readonly keys: RedisKeys;
  private publishTimer?: NodeJS.Timeout;
  private stateRead?: Promise<OtherInstance[]>;
  private refreshTimer?: NodeJS.Timeout;

  constructor(
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    private readonly registry: ConnectionRegistry,
    connector: RedisConnector,
  ) {
    this.keys = connector.keys;
    if (connector.enabled) {
      this.redis = connector.create('cluster');
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
        .del(this.keys.instanceState(this.config.instanceId), this.keys.instanceClients(this.config.instanceId))
        .srem(this.keys.instances, this.config.instanceId)
        .exec()
        .catch(() => undefined);
    }
    this.redis.disconnect();
  }

  /** Connections of `sub` on `gateway` held by the other live instances. */
  async userConnectionsElsewhere(gateway: GatewayName, sub: string): Promise<number> {
    const key = `${gateway}|${sub}`;
    return (await this.otherStates()).reduce((sum, other) => sum + (other.users[key] ?? 0), 0);
  }

  /** Whether `sub` is in `topic` of `gateway` on another live instance. */
  async presentElsewhere(gateway: GatewayName, topic: string, sub: string): Promise<boolean> {
    const key = `${gateway}|${topic}|${sub}`;
    return (await this.otherStates()).some((other) => other.presence.has(key));
  }

  /** Clients held by the other live instances. */
  async clientsElsewhere(): Promise<ClientDescriptor[]> {
    const lists = await this.readOthers<ClientDescriptor[]>((id) => this.keys.instanceClients(id));
    return lists.flat();
  }

  async instanceCount(): Promise<number> {
    return 1 + (await this.otherStates()).length;
  }

  private otherStates(): Promise<OtherInstance[]> {
    this.stateRead ??= this.readOthers<InstanceState>((id) => this.keys.instanceState(id))
      .then((states) => states.map((state) => ({ users: state.users, presence: new Set(state.presence) })))
      .finally(() => (this.stateRead = undefined));
    return this.stateRead;
  }

  /** The live other instances' values under `keyOf(id)`; empty when Redis is not there. */
  private async readOthers<T>(keyOf: (instanceId: string) => string): Promise<T[]> {
    const redis = this.redis;
    if (!redis || redis.status !== 'ready') return [];
    try {
      return await withTimeout(this.readLive<T>(redis, keyOf), QUERY_TIMEOUT_MS);
    } catch (error) {
      this.logger.warn(`cluster read: ${(error as Error).message}`);
      return [];
    }
  }

  private async readLive<T>(redis: RedisClient, keyOf: (instanceId: string) => string): Promise<T[]> {
    const ids = (await redis.smembers(this.keys.instances)).filter((id) => id !== this.config.instanceId);
    if (ids.length === 0) return [];
    const values = await redis.mget(ids.map(keyOf));
    const gone = ids.filter((_, i) => values[i] === null);
    if (gone.length > 0) redis.srem(this.keys.instances, ...gone).catch(() => undefined);
    return values.filter((value): value is string => value !== null).map((value) => JSON.parse(value) as T);
  }

  private schedulePublish(): void {
    this.publishTimer ??= setTimeout(() => {
      this.publishTimer = undefined;
      void this.publish();
    }, PUBLISH_DEBOUNCE_MS);
  }

  private async publish(): Promise<void> {
    if (!this.redis || this.redis.status !== 'ready') return;
    const { instanceId, heartbeatTimeoutMs } = this.config;
    const state: InstanceState = {
      users: Object.fromEntries(this.registry.userCountEntries()),
      presence: this.registry.presenceKeys(),
    };
    const clients = this.registry.list().map((connection) => describeConnection(connection, instanceId));
    await this.redis
      .multi()
      .set(this.keys.instanceState(instanceId), JSON.stringify(state), 'PX', heartbeatTimeoutMs)
      .set(this.keys.instanceClients(instanceId), JSON.stringify(clients), 'PX', heartbeatTimeoutMs)
      .sadd(this.keys.instances, instanceId)
      .exec()
      .catch((error: Error) => this.logger.warn(`cluster publish: ${error.message}`));
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
