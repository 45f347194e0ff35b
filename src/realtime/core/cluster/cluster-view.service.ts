import { Inject, Injectable, Logger, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { withTimeout } from '../async/with-timeout.js';
import { REALTIME_CONFIG, type RealtimeConfig } from '../../config/index.js';
import { RedisConnector, type RedisClient, type RedisKeys } from '../../redis/index.js';
import { isClientList, type ClientDescriptor } from '../registry/client-descriptor.js';
import { ClientList } from './client-list.js';
import { decodeJson } from '../text/json-decode.js';
import { ConnectionRegistry } from '../registry/connection-registry.service.js';

/**
 * How often an instance proves itself alive and renews its leases, and how long a lease lasts:
 * three ticks, so one missed tick is no death, and a dead instance is noticed (its lease ended,
 * then one tick) within `heartbeatTimeoutMs`.
 */
export interface ClusterTiming {
  tickMs: number;
  leaseMs: number;
}

/** Renews leases every tick; `resync` on the first tick after (re)connecting, when Redis may have lost them. */
export type TickListener = (redis: RedisClient, resync: boolean) => Promise<void>;
/** Cleans up after an instance whose lease ended (it died without closing anything). */
export type GoneListener = (redis: RedisClient, instanceId: string) => Promise<void>;

/** A bound on the list's publish after a change, with room for the Redis round trips of a busy instance. */
const VIEW_SETTLE_MS = 1_000;
/** The client list is published at most this long after a change, well within `VIEW_SETTLE_MS`. */
const PUBLISH_DELAY_MAX_MS = VIEW_SETTLE_MS / 4;
const QUERY_TIMEOUT_MS = 500;

function clusterTiming(heartbeatTimeoutMs: number): ClusterTiming {
  const tickMs = Math.max(Math.floor(heartbeatTimeoutMs / 5), 50);
  return { tickMs, leaseMs: 3 * tickMs };
}

/**
 * The cluster's heartbeat and admin view (SPEC.md §9). Every tick each instance renews its
 * `alive` lease and its client descriptors (read by the admin views only), lets the per-user
 * slots and presence renew theirs, and reaps any instance whose lease ended. Without Redis (or
 * while it is down) `client` is undefined and every answer is local-only.
 */
@Injectable()
export class ClusterView implements OnModuleInit, OnApplicationShutdown {
  readonly timing: ClusterTiming;
  private readonly logger = new Logger(ClusterView.name);
  private readonly redis?: RedisClient;
  private readonly keys: RedisKeys;
  private readonly tickListeners: TickListener[] = [];
  private readonly goneListeners: GoneListener[] = [];
  private readonly clients: ClientList;
  private tickTimer?: NodeJS.Timeout;
  private ticking = false;
  private resyncDue = true;
  private withdrawn = false;

  constructor(
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    private readonly registry: ConnectionRegistry,
    connector: RedisConnector,
  ) {
    this.keys = connector.keys;
    this.timing = clusterTiming(config.heartbeatTimeoutMs);
    this.clients = new ClientList(registry, config.instanceId, PUBLISH_DELAY_MAX_MS);
    if (connector.enabled) {
      this.redis = connector.create('cluster');
      this.redis.on('ready', () => {
        this.resyncDue = true;
        void this.tick();
      });
    }
  }

  get instanceId(): string {
    return this.config.instanceId;
  }

  /** The cluster's Redis when it answers; undefined means: decide locally. */
  get client(): RedisClient | undefined {
    return this.redis?.status === 'ready' ? this.redis : undefined;
  }

  onTick(listener: TickListener): void {
    this.tickListeners.push(listener);
  }

  onInstanceGone(listener: GoneListener): void {
    this.goneListeners.push(listener);
  }

  /** `command` on the cluster's Redis within a bound; undefined when Redis is away, slow or failing. */
  async query<T>(what: string, command: (redis: RedisClient) => Promise<T>): Promise<T | undefined> {
    const redis = this.client;
    if (!redis) return undefined;
    try {
      return await withTimeout(command(redis), QUERY_TIMEOUT_MS);
    } catch (error) {
      this.logger.warn(`${what}: ${(error as Error).message}`);
      return undefined;
    }
  }

  onModuleInit(): void {
    if (!this.redis) return;
    // The connector logs connection failures; the view answers locally until Redis is there.
    this.redis.connect().catch(() => undefined);
    this.registry.onChange(() => this.clients.schedule((json) => void this.publishClients(json)));
    this.tickTimer = setInterval(() => void this.tick(), this.timing.tickMs).unref();
  }

  /** Other instances may share this one's state (Redis is configured, whether or not it answers now). */
  get clustered(): boolean {
    return this.redis !== undefined;
  }

  /**
   * Leaves the cluster once this instance's sockets are closed (shutdown): it stops counting at
   * once (lease and client list deleted), and what is still listed for it (the presence of the
   * users it drained, a leave that timed out) is handed to the others, which reap it as if it had
   * died one lease later: a user who came back elsewhere meanwhile is neither announced gone nor
   * joined again, the others are announced gone once.
   */
  async withdraw(): Promise<void> {
    // Nothing may write this instance back: no tick (its lease), no client list.
    this.withdrawn = true;
    clearInterval(this.tickTimer);
    this.clients.stop();
    const redis = this.client;
    if (!redis) return;
    const { instanceId } = this.config;
    try {
      await withTimeout(
        redis
          .multi()
          .set(this.keys.instanceLeaving(instanceId), '1', 'PX', this.timing.leaseMs)
          .del(this.keys.instanceAlive(instanceId), this.keys.instanceClients(instanceId))
          .exec(),
        QUERY_TIMEOUT_MS,
      );
    } catch (error) {
      this.logger.warn(`cluster withdraw: ${(error as Error).message}`);
    }
  }

  async onApplicationShutdown(): Promise<void> {
    clearInterval(this.tickTimer);
    this.clients.stop();
    if (!this.redis) return;
    // What was written before (the slots closing sockets gave back) goes out before QUIT.
    if (this.redis.status === 'ready') await withTimeout(this.redis.quit(), QUERY_TIMEOUT_MS).catch(() => undefined);
    this.redis.disconnect();
  }

  /**
   * How long a client that just connected elsewhere may take to appear in `clientsElsewhere()`:
   * its instance publishes its list 50–250 ms after a change; 0 without Redis (no other instance).
   */
  get settleMs(): number {
    return this.redis ? VIEW_SETTLE_MS : 0;
  }

  /** Clients held by the other live instances. */
  async clientsElsewhere(): Promise<ClientDescriptor[]> {
    const lists = await this.query('cluster read', async (redis) => {
      const ids = await this.otherInstances(redis);
      if (ids.length === 0) return [];
      const values = await redis.mget(ids.map((id) => this.keys.instanceClients(id)));
      return values.flatMap((value) => (value === null ? [] : decodeJson(value, isClientList, 'cluster client list')));
    });
    return lists ?? [];
  }

  async instanceCount(): Promise<number> {
    const live = await this.query('cluster read', async (redis) => {
      const ids = await this.otherInstances(redis);
      if (ids.length === 0) return 0;
      const alive = await redis.mget(ids.map((id) => this.keys.instanceAlive(id)));
      return alive.filter((value) => value !== null).length;
    });
    return 1 + (live ?? 0);
  }

  private async otherInstances(redis: RedisClient): Promise<string[]> {
    return (await redis.smembers(this.keys.instances)).filter((id) => id !== this.config.instanceId);
  }

  private async tick(): Promise<void> {
    const redis = this.client;
    if (!redis || this.ticking || this.withdrawn) return;
    this.ticking = true;
    let resync = this.resyncDue;
    this.resyncDue = false;
    try {
      // Listed anew: Redis lost everything, or the others took this instance for dead and reaped it.
      resync = (await this.publishAlive(redis)) || resync;
      await Promise.all(this.tickListeners.map((listener) => listener(redis, resync)));
      await this.reapGone(redis);
    } catch (error) {
      this.resyncDue ||= resync;
      this.logger.warn(`cluster tick: ${(error as Error).message}`);
    } finally {
      this.ticking = false;
    }
  }

  /** Renews this instance's lease and client list; whether it was not listed any more. */
  private async publishAlive(redis: RedisClient): Promise<boolean> {
    const { instanceId } = this.config;
    const replies = await redis
      .multi()
      .set(this.keys.instanceAlive(instanceId), String(Date.now()), 'PX', this.timing.leaseMs)
      .set(this.keys.instanceClients(instanceId), this.clients.json(), 'PX', this.timing.leaseMs)
      .sadd(this.keys.instances, instanceId)
      .exec();
    return replies?.[2]?.[1] === 1;
  }

  /**
   * Instances listed without a live lease died, or stopped and their hand-over ended: their
   * listeners clean up, then they are forgotten.
   */
  private async reapGone(redis: RedisClient): Promise<void> {
    const ids = await this.otherInstances(redis);
    if (ids.length === 0) return;
    const held = await redis.mget(ids.flatMap((id) => [this.keys.instanceAlive(id), this.keys.instanceLeaving(id)]));
    for (const [i, id] of ids.entries()) {
      if (held[2 * i] !== null || held[2 * i + 1] !== null) continue;
      await this.forget(redis, id);
      this.logger.log(`instance ${id} is gone: its connections no longer count`);
    }
  }

  /** What is still listed for `instanceId` is cleaned up by the listeners, then the instance is unlisted. */
  private async forget(redis: RedisClient, instanceId: string): Promise<void> {
    for (const listener of this.goneListeners) await listener(redis, instanceId);
    await redis.srem(this.keys.instances, instanceId);
  }

  private publishClients(json: string): Promise<unknown> {
    return this.query('cluster publish', (redis) =>
      redis.set(this.keys.instanceClients(this.config.instanceId), json, 'PX', this.timing.leaseMs),
    );
  }
}
