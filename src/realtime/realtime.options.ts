import type { AccessPolicy } from './core/access-policy.js';

/** Everything the realtime module can be configured with; every field has a default. */
export interface RealtimeModuleOptions {
  /** JWT verification for every gateway's upgrade and the admin API. */
  auth?: {
    /** HS256 shared secret. */
    secret?: string;
    /** RS256/ES256 public key (PEM); when set, `secret` is ignored. */
    publicKey?: string;
    issuer?: string;
    audience?: string;
    /** Seconds of clock skew accepted on `exp`/`nbf`. */
    clockToleranceSec?: number;
  };
  /** Origins allowed to upgrade; empty means any (development). */
  allowedOrigins?: string[];
  /** Largest inbound frame in bytes; a larger one closes with 1009. */
  messageMaxSize?: number;
  /** Deepest JSON nesting accepted in an inbound frame. */
  maxJsonDepth?: number;
  /** Inbound frames per second per connection (burst is twice this). */
  rateLimitPerSec?: number;
  /** Unsent messages held for one socket before it is closed with 1013. */
  maxQueueSize?: number;
  /** Unsent bytes held for one socket before it is closed with 1013. */
  maxQueueBytes?: number;
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  /** Without an `acl` claim, grant nothing instead of everything but other users' resources. */
  requireAcl?: boolean;
  /** Static bearer token for the REST admin API (besides admin-role JWTs). */
  adminToken?: string;
  /** Redis pub/sub; without it the event bus stays in memory (one instance). */
  redis?: { url: string; prefix?: string };
  /** Events buffered while Redis is down, sent in order on reconnect. */
  busBufferSize?: number;
  /** A stable name for this instance in stats and admin views. */
  instanceId?: string;
  chat?: { maxConnectionsPerUser?: number; maxContentLength?: number };
  scheduler?: { maxConnectionsPerUser?: number; maxConnectionsPerIp?: number; maxConnections?: number };
  checkpoint?: { maxConnections?: number; authToken?: string };
  /** Replaces the default access policy of SPEC.md §7 (e.g. a database-backed one). */
  accessPolicy?: AccessPolicy;
}
