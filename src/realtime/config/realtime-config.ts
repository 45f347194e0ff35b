import type { RedisOptions } from '../redis/redis.options.js';

/**
 * The module's options with every default applied: what every layer (transport, registry, bus, Redis,
 * REST) reads, injected as `REALTIME_CONFIG`. It knows nothing of the gateways: each resolves its own
 * options section (`*.options.ts`).
 */
export interface RealtimeConfig {
  auth: { secret?: string; publicKey?: string; issuer?: string; audience?: string; clockToleranceSec: number };
  allowedOrigins: string[];
  trustedProxies: string[];
  messageMaxSize: number;
  maxJsonDepth: number;
  maxTopicsPerConnection: number;
  maxPendingUpgradesPerIp: number;
  maxPendingUpgrades: number;
  rateLimitPerSec: number;
  rateLimitBytesPerSec: number;
  rateLimitBytesPerSecPerUser: number;
  rateLimitBytesPerSecPerIp: number;
  maxJsonElements: number;
  maxQueueSize: number;
  maxQueueBytes: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  requireAcl: boolean;
  adminToken?: string;
  /** The API documents are served (AsyncAPI, OpenAPI, Swagger UI). */
  apiDocs: boolean;
  /** Present when Redis is configured (a URL, cluster nodes or a client). */
  redis?: RedisOptions & { prefix: string };
  busBufferSize: number;
  /** Per-stream history for resuming clients; `undefined` when off (size or TTL 0). */
  history?: { size: number; ttlMs: number };
  instanceId: string;
}

/** @publicApi */
export const REALTIME_CONFIG = Symbol('REALTIME_CONFIG');
