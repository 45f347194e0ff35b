import type { RedisOptions } from '../redis/redis.options.js';

/**
 * The module's options with every default applied: what every layer (transport, registry, bus, Redis,
 * REST) reads, injected as `REALTIME_CONFIG`. It knows nothing of the gateways: each resolves its own
 * options section (`*.options.ts`).
 */
export interface RealtimeConfig {
  auth: {
    secret?: string;
    publicKey?: string;
    /** The provider's key set, when JWTs are checked against a JWKS endpoint. */
    jwks?: JwksSettings;
    issuer?: string;
    audience?: string;
    clockToleranceSec: number;
    /** The longest an authenticator may take before the attempt fails (1011 / 503). */
    timeoutMs: number;
    /** Whether `?token=` is read at all. */
    allowQueryToken: boolean;
    /** Seconds a connect ticket stays valid. */
    ticketTtlSec: number;
    /** Seconds before expiry a connection is told to refresh (at most half its remaining lifetime). */
    expiryNoticeSec: number;
  };
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
  /** SPEC.md §9: how long a shutdown spreads the closes of its connections over (0: all at once). */
  shutdownDrainMs: number;
}

/** A JWKS endpoint and when its key set is fetched. */
export interface JwksSettings {
  url: string;
  /** How long a fetched key set is used before it is fetched again (in the background). */
  cacheMaxAgeMs: number;
  /** The least time between two fetches caused by unknown `kid`s or a failure. */
  cooldownMs: number;
  /** A fetch that takes longer fails. */
  timeoutMs: number;
}

/** @publicApi */
export const REALTIME_CONFIG = Symbol('REALTIME_CONFIG');
