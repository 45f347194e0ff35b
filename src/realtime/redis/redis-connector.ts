import { Inject, Injectable, Logger } from '@nestjs/common';
import { Cluster, Redis, type ClusterOptions, type RedisOptions as ClientOptions } from 'ioredis';
import { REALTIME_CONFIG, type RealtimeConfig } from '../config/index.js';
import { RedisKeys } from './redis-keys.js';
import type { RedisClient } from './redis.options.js';

/**
 * What each of the module's connections is for. Every connection is lazy and reconnects with the
 * same backoff. None queues commands while Redis is away: a caller buffers (the bus), answers
 * locally (the cluster view) or fails at once (the checkpoint store: `Service unavailable`) instead
 * of piling commands up in the client.
 */
const ROLES = {
  /**
   * Publishes to the bus and reads stream histories; a command in flight when the link drops is
   * retried after reconnect. Not auto-pipelined: at 5,000 publishes/s a pipeline per turn cost the
   * publisher more CPU than the writes it saved (`npm run bench`, scenario 5).
   */
  'bus-writer': { maxRetriesPerRequest: null },
  /** Shard-subscribes to topic channels (on a Redis Cluster, one connection per shard); resubscribed on reconnect. */
  'bus-subscriber': { maxRetriesPerRequest: null },
  /**
   * Small scripts on upgrades and joins, and every user's and topic's lease renewed each cluster
   * tick: fail fast and answer locally, never replayed after a reconnect (a stale absolute count
   * written after the resync would be wrong); what one event-loop turn issues goes out as one pipeline.
   */
  cluster: { maxRetriesPerRequest: 0, enableAutoPipelining: true },
  /**
   * The checkpoint store: while Redis is away a request fails at once, never queued with its state;
   * a script in flight when the link drops is not re-sent (it may have run: no duplicate checkpoint).
   */
  store: { maxRetriesPerRequest: 0, enableOfflineQueue: false, autoResendUnfulfilledCommands: false },
} as const satisfies Record<
  string,
  Pick<
    ClientOptions,
    'maxRetriesPerRequest' | 'enableOfflineQueue' | 'enableAutoPipelining' | 'autoResendUnfulfilledCommands'
  >
>;

export type RedisRole = keyof typeof ROLES;

const retryStrategy = (attempt: number): number => Math.min(100 * 2 ** Math.min(attempt, 6), 5_000);

/**
 * The one place Redis connections are made: from a URL, from Redis Cluster seed nodes, or by
 * duplicating a client the host supplied, with one retry and offline-queue policy.
 */
@Injectable()
export class RedisConnector {
  readonly keys: RedisKeys;
  private readonly logger = new Logger('Realtime');

  constructor(@Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig) {
    this.keys = new RedisKeys(config.redis?.prefix ?? '');
  }

  get enabled(): boolean {
    return this.config.redis !== undefined;
  }

  /** A new, not yet connected client for `role`; the caller connects and closes it. */
  create(role: RedisRole): RedisClient {
    const redis = this.config.redis;
    if (!redis) throw new Error('Redis is not configured');
    const options: ClientOptions = {
      lazyConnect: true,
      enableOfflineQueue: false,
      ...ROLES[role],
      retryStrategy,
      connectionName: `${this.config.instanceId}:${role}`,
    };
    const client = redis.client
      ? duplicate(redis.client, options, role)
      : redis.clusterNodes?.length
        ? new Cluster(redis.clusterNodes.map(parseNode), clusterOptions(options, role))
        : new Redis(redis.url!, options);
    this.logOutages(client, role);
    return client;
  }

  /** One line when a connection is lost and one when it is back, not one per retry. */
  private logOutages(client: RedisClient, role: RedisRole): void {
    let down = false;
    client.on('error', (error: Error) => {
      if (down) return;
      down = true;
      this.logger.warn(`Redis (${role}) unavailable: ${error.message}`);
    });
    client.on('ready', () => {
      if (!down) return;
      down = false;
      this.logger.log(`Redis (${role}) is back`);
    });
  }
}

function clusterOptions(options: ClientOptions, role: RedisRole): ClusterOptions {
  const { lazyConnect, enableOfflineQueue, enableAutoPipelining, retryStrategy: reconnect, ...redisOptions } = options;
  return {
    lazyConnect,
    enableOfflineQueue,
    enableAutoPipelining,
    clusterRetryStrategy: reconnect,
    redisOptions,
    // SSUBSCRIBE goes to the node that owns the channel's slot, one subscriber connection per shard.
    shardedSubscribers: role === 'bus-subscriber',
  };
}

function duplicate(client: RedisClient, options: ClientOptions, role: RedisRole): RedisClient {
  return client instanceof Cluster
    ? client.duplicate(undefined, clusterOptions(options, role))
    : client.duplicate(options);
}

function parseNode(node: string): { host: string; port: number } {
  const separator = node.lastIndexOf(':');
  return { host: node.slice(0, separator), port: Number(node.slice(separator + 1)) };
}
