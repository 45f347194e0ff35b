import type { Cluster, Redis } from 'ioredis';

/** A single Redis or a Redis Cluster client of ioredis. @publicApi */
export type RedisClient = Redis | Cluster;

/**
 * Where the cluster's Redis is: a URL, Redis Cluster seed nodes, or a client the host already
 * has (the module duplicates it for its own connections and never closes the host's).
 * @publicApi
 */
export interface RedisOptions {
  /** `redis://` or `rediss://` URL of a single Redis. */
  url?: string;
  /** `host:port` seed nodes of a Redis Cluster; wins over `url`. */
  clusterNodes?: string[];
  /** A connected or lazy ioredis client (single or Cluster) to duplicate; wins over both. */
  client?: RedisClient;
  /**
   * Prefix of every key the module writes.
   * @default ''
   */
  prefix?: string;
}
