import type { ChatOptions } from './chat/chat.options.js';
import type { CheckpointOptions } from './checkpoint/checkpoint.options.js';
import type { NotifyOptions } from './notify/notify.options.js';
import type { AccessPolicy } from './core/auth/access-policy.js';
import type { RealtimeAuthenticator } from './core/auth/authenticator.js';
import type { RedisOptions } from './redis/redis.options.js';
import type { SchedulerOptions } from './scheduler/scheduler.options.js';

/**
 * Everything the realtime module can be configured with; every field has a default.
 * @publicApi
 */
export interface RealtimeModuleOptions {
  /** Who connects: JWT verification (static key or JWKS), or the host's own authenticator. */
  auth?: {
    /**
     * The host's authenticator (a session cookie, API keys, …): decides every upgrade, admin
     * request, connect ticket, refresh and checkpoint `authenticate`. Default: JWT verification.
     */
    authenticator?: RealtimeAuthenticator;
    /** HS256 shared secret. */
    secret?: string;
    /** RS256/ES256 public key (PEM); when set, `secret` is ignored. */
    publicKey?: string;
    /**
     * The identity provider's JWKS endpoint; when set, tokens are checked against its keys (by
     * `kid`) and `publicKey`/`secret` are ignored.
     */
    jwksUrl?: string;
    /**
     * Seconds a fetched key set is used before it is fetched again (while the provider is
     * unreachable, the last one keeps working).
     * @default 600
     */
    jwksCacheMaxAgeSec?: number;
    /**
     * Least seconds between two fetches of the key set caused by unknown `kid`s.
     * @default 30
     */
    jwksCooldownSec?: number;
    /**
     * Milliseconds an authenticator may take; past it the upgrade is refused 1011 (503 on REST).
     * It also bounds a JWKS fetch, which then fails: a token of an unknown `kid` is refused 4401.
     * @default 5000
     */
    timeoutMs?: number;
    /**
     * Whether the `token` query parameter is read (seed clients use it; tokens in URLs reach logs
     * of proxies). Tickets and the `Sec-WebSocket-Protocol` bearer form do not need it.
     * @default true
     */
    allowQueryToken?: boolean;
    /**
     * Seconds a connect ticket (`POST /ws/ticket`) stays valid.
     * @default 30
     */
    ticketTtlSec?: number;
    /**
     * Seconds before its token's expiry a connection is sent the notice to refresh (at most half
     * of the token's remaining lifetime).
     * @default 30
     */
    tokenExpiryNoticeSec?: number;
    /** Required `iss` claim, when set. */
    issuer?: string;
    /** Required `aud` claim, when set. */
    audience?: string;
    /**
     * Seconds of clock skew accepted on `exp`/`nbf`.
     * @default 5
     */
    clockToleranceSec?: number;
  };
  /**
   * Addresses or CIDRs of the proxies in front of the server: only for these peers is the client IP
   * taken from `X-Forwarded-For` / `Forwarded` (for limits, logs, admin views).
   * @default []
   */
  trustedProxies?: string[];
  /**
   * Origins allowed to upgrade; empty means any (development).
   * @default []
   */
  allowedOrigins?: string[];
  /**
   * Largest inbound frame in bytes; a larger one closes with 1009.
   * @default 1048576
   */
  messageMaxSize?: number;
  /**
   * Deepest JSON nesting accepted in an inbound frame.
   * @default 32
   */
  maxJsonDepth?: number;
  /**
   * Connections per client address still before their first request or admitted upgrade (trusted
   * proxies aside); more are dropped at once.
   * @default 256
   */
  maxPendingUpgradesPerIp?: number;
  /**
   * Connections in all still before their first request or admitted upgrade.
   * @default 4096
   */
  maxPendingUpgrades?: number;
  /**
   * Rooms or subscriptions one connection may hold (chat's automatic `user:<sub>` room aside).
   * @default 128
   */
  maxTopicsPerConnection?: number;
  /**
   * Inbound frames per second per connection (burst is twice this).
   * @default 20
   */
  rateLimitPerSec?: number;
  /**
   * Inbound bytes per second per connection; the burst is one frame of `messageMaxSize` (or one
   * second's budget, when that is more).
   * @default 1048576
   */
  rateLimitBytesPerSec?: number;
  /**
   * Inbound bytes per second per user, across all of the user's connections on this instance; the
   * burst is one frame of `messageMaxSize`.
   * @default 2 × rateLimitBytesPerSec
   */
  rateLimitBytesPerSecPerUser?: number;
  /**
   * Inbound bytes per second per client IP, across the connections that have no principal yet
   * (never for authenticated ones); the burst is one frame of `messageMaxSize`.
   * @default 2 × rateLimitBytesPerSec
   */
  rateLimitBytesPerSecPerIp?: number;
  /**
   * Object keys plus array elements accepted in one inbound frame, counted by the
   * same linear scan as the depth.
   * @default 10000
   */
  maxJsonElements?: number;
  /**
   * Unsent messages held for one socket before it is closed with 1013.
   * @default 10000
   */
  maxQueueSize?: number;
  /**
   * Unsent bytes held for one socket before it is closed with 1013.
   * @default 4194304
   */
  maxQueueBytes?: number;
  /**
   * Milliseconds between heartbeats (protocol pings).
   * @default 30000
   */
  heartbeatIntervalMs?: number;
  /**
   * Milliseconds of silence after which a socket is terminated; also how long a crashed
   * instance keeps counting in the cluster view.
   * @default 60000
   */
  heartbeatTimeoutMs?: number;
  /**
   * Without an `acl` claim, grant nothing instead of everything but other users' resources.
   * @default false
   */
  requireAcl?: boolean;
  /**
   * Serve the API documents: `GET /ws/asyncapi.json`, `GET /ws/docs-json` (both with admin
   * credentials) and the Swagger UI at `/ws/docs`. Off: those routes answer 404.
   * @default true
   */
  apiDocs?: boolean;
  /** Static bearer token for the REST admin API (besides admin-role JWTs). */
  adminToken?: string;
  /** Redis, so that many instances act as one; without it the event bus stays in memory. */
  redis?: RedisOptions;
  /**
   * Events buffered while Redis is down, sent in order on reconnect.
   * @default 10000
   */
  busBufferSize?: number;
  /**
   * Events kept per stream (room, resource, client, session) for clients that resume after a
   * reconnect (SPEC.md §11); 0 turns history and positions off.
   * @default 100
   */
  historySize?: number;
  /**
   * Seconds an event stays in its stream's history; 0 turns history and positions off.
   * @default 300
   */
  historyTtlSec?: number;
  /**
   * A stable name for this instance in stats and admin views.
   * @default `<hostname>-<random>`
   */
  instanceId?: string;
  /**
   * Seconds a shutdown spreads the closes (1012) of its connections over, in waves, so that clients
   * reconnect elsewhere without a stampede; 0 closes all at once (SPEC.md §9).
   * @default 10
   */
  shutdownDrainSec?: number;
  /** Replaces the default access policy of SPEC.md §7 (e.g. a database-backed one). */
  accessPolicy?: AccessPolicy;
  /** The chat gateway (SPEC.md §3). */
  chat?: ChatOptions;
  /** The scheduler gateway (SPEC.md §4). */
  scheduler?: SchedulerOptions;
  /** The checkpoint gateway (SPEC.md §5). */
  checkpoint?: CheckpointOptions;
  /** The notify gateway (SPEC.md §6). */
  notify?: NotifyOptions;
}
