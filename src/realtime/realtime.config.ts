import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { REALTIME_DEFAULTS } from './realtime.defaults.js';
import type { RealtimeModuleOptions } from './realtime.options.js';
import type { RedisOptions } from './redis/redis.options.js';
import type { RealtimeConfig } from './config/index.js';

export { REALTIME_CONFIG, type RealtimeConfig } from './config/index.js';

export function resolveRealtimeConfig(options: RealtimeModuleOptions): RealtimeConfig {
  const defaults = REALTIME_DEFAULTS;
  const rateLimitBytesPerSec = options.rateLimitBytesPerSec ?? defaults.rateLimitBytesPerSec;
  return {
    auth: resolveAuth(options.auth),
    allowedOrigins: options.allowedOrigins ?? [],
    trustedProxies: options.trustedProxies ?? [],
    messageMaxSize: options.messageMaxSize ?? defaults.messageMaxSize,
    maxJsonDepth: options.maxJsonDepth ?? defaults.maxJsonDepth,
    maxTopicsPerConnection: options.maxTopicsPerConnection ?? defaults.maxTopicsPerConnection,
    maxPendingUpgradesPerIp: options.maxPendingUpgradesPerIp ?? defaults.maxPendingUpgradesPerIp,
    maxPendingUpgrades: options.maxPendingUpgrades ?? defaults.maxPendingUpgrades,
    rateLimitPerSec: options.rateLimitPerSec ?? defaults.rateLimitPerSec,
    rateLimitBytesPerSec,
    rateLimitBytesPerSecPerUser: options.rateLimitBytesPerSecPerUser ?? 2 * rateLimitBytesPerSec,
    rateLimitBytesPerSecPerIp: options.rateLimitBytesPerSecPerIp ?? 2 * rateLimitBytesPerSec,
    maxJsonElements: options.maxJsonElements ?? defaults.maxJsonElements,
    maxQueueSize: options.maxQueueSize ?? defaults.maxQueueSize,
    maxQueueBytes: options.maxQueueBytes ?? defaults.maxQueueBytes,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? defaults.heartbeatIntervalMs,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? defaults.heartbeatTimeoutMs,
    requireAcl: options.requireAcl ?? defaults.requireAcl,
    adminToken: options.adminToken || undefined,
    apiDocs: options.apiDocs ?? true,
    redis: resolveRedis(options.redis),
    busBufferSize: options.busBufferSize ?? defaults.busBufferSize,
    history: resolveHistory(
      options.historySize ?? defaults.historySize,
      options.historyTtlSec ?? defaults.historyTtlSec,
    ),
    instanceId: options.instanceId ?? `${hostname()}-${randomUUID().slice(0, 8)}`,
    shutdownDrainMs: (options.shutdownDrainSec ?? defaults.shutdownDrainSec) * 1000,
  };
}

function resolveAuth(auth: RealtimeModuleOptions['auth'] = {}): RealtimeConfig['auth'] {
  const defaults = REALTIME_DEFAULTS;
  const timeoutMs = auth.timeoutMs ?? defaults.authTimeoutMs;
  return {
    secret: auth.secret,
    publicKey: auth.publicKey,
    jwks: auth.jwksUrl
      ? {
          url: auth.jwksUrl,
          cacheMaxAgeMs: (auth.jwksCacheMaxAgeSec ?? defaults.jwksCacheMaxAgeSec) * 1000,
          cooldownMs: (auth.jwksCooldownSec ?? defaults.jwksCooldownSec) * 1000,
          timeoutMs,
        }
      : undefined,
    issuer: auth.issuer,
    audience: auth.audience,
    clockToleranceSec: auth.clockToleranceSec ?? defaults.clockToleranceSec,
    timeoutMs,
    allowQueryToken: auth.allowQueryToken ?? defaults.allowQueryToken,
    ticketTtlSec: auth.ticketTtlSec ?? defaults.ticketTtlSec,
    expiryNoticeSec: auth.tokenExpiryNoticeSec ?? defaults.tokenExpiryNoticeSec,
  };
}

function resolveRedis(redis: RedisOptions | undefined): RealtimeConfig['redis'] {
  const configured = redis && (redis.client || redis.clusterNodes?.length || redis.url);
  return configured ? { ...redis, prefix: redis.prefix ?? REALTIME_DEFAULTS.redisPrefix } : undefined;
}

function resolveHistory(size: number, ttlSec: number): RealtimeConfig['history'] {
  return size > 0 && ttlSec > 0 ? { size, ttlMs: ttlSec * 1000 } : undefined;
}
