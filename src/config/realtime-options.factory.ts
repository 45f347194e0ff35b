import { Logger } from '@nestjs/common';
import type { ConfigService } from '@nestjs/config';
import type { RealtimeModuleOptions } from '../realtime/realtime.options.js';
import { DEV_JWT_SECRET, type EnvironmentVariables } from './environment.js';

/** The realtime module options of the standalone app, from its validated environment. */
export function realtimeOptionsFromEnv(config: ConfigService<EnvironmentVariables, true>): RealtimeModuleOptions {
  const get = <K extends keyof EnvironmentVariables>(key: K): EnvironmentVariables[K] =>
    config.get(key, { infer: true });
  const publicKey = get('JWT_PUBLIC_KEY');
  let secret = get('JWT_SECRET');
  const jwksUrl = get('JWT_JWKS_URL');
  if (!secret && !publicKey && !jwksUrl) {
    secret = DEV_JWT_SECRET;
    new Logger('Realtime').warn(
      '!!! JWT_SECRET is not set: using the INSECURE development secret. Anyone can mint tokens. ' +
        'Set JWT_SECRET (or JWT_PUBLIC_KEY, or JWT_JWKS_URL) before exposing this server. !!!',
    );
  }
  const redisUrl = get('REDIS_URL');
  const clusterNodes = get('REDIS_CLUSTER_NODES');
  return {
    auth: {
      secret,
      publicKey,
      issuer: get('JWT_ISSUER'),
      audience: get('JWT_AUDIENCE'),
      clockToleranceSec: get('JWT_CLOCK_TOLERANCE'),
      jwksUrl,
      jwksCacheMaxAgeSec: get('JWT_JWKS_CACHE_MAX_AGE'),
      jwksCooldownSec: get('JWT_JWKS_COOLDOWN'),
      timeoutMs: get('WS_AUTH_TIMEOUT') * 1000,
      allowQueryToken: get('WS_ALLOW_QUERY_TOKEN'),
      ticketTtlSec: get('WS_TICKET_TTL'),
      tokenExpiryNoticeSec: get('WS_TOKEN_EXPIRY_NOTICE'),
    },
    allowedOrigins: get('WS_ALLOWED_ORIGINS'),
    trustedProxies: get('WS_TRUSTED_PROXIES'),
    messageMaxSize: get('WS_MESSAGE_MAX_SIZE'),
    maxJsonDepth: get('WS_MAX_JSON_DEPTH'),
    maxTopicsPerConnection: get('WS_MAX_TOPICS_PER_CONNECTION'),
    maxPendingUpgradesPerIp: get('WS_MAX_PENDING_UPGRADES_PER_IP'),
    maxPendingUpgrades: get('WS_MAX_PENDING_UPGRADES'),
    rateLimitPerSec: get('WS_RATE_LIMIT_PER_SEC'),
    rateLimitBytesPerSec: get('WS_RATE_LIMIT_BYTES_PER_SEC'),
    rateLimitBytesPerSecPerUser: get('WS_RATE_LIMIT_BYTES_PER_SEC_PER_USER'),
    rateLimitBytesPerSecPerIp: get('WS_RATE_LIMIT_BYTES_PER_SEC_PER_IP'),
    maxJsonElements: get('WS_MAX_JSON_ELEMENTS'),
    maxQueueSize: get('WS_MAX_QUEUE_SIZE'),
    maxQueueBytes: get('WS_MAX_QUEUE_BYTES'),
    heartbeatIntervalMs: get('WS_HEARTBEAT_INTERVAL') * 1000,
    heartbeatTimeoutMs: get('WS_HEARTBEAT_TIMEOUT') * 1000,
    requireAcl: get('WS_REQUIRE_ACL'),
    adminToken: get('WS_ADMIN_TOKEN'),
    apiDocs: get('WS_API_DOCS'),
    instanceId: get('WS_INSTANCE_ID'),
    shutdownDrainSec: get('WS_SHUTDOWN_DRAIN'),
    redis:
      redisUrl || clusterNodes.length > 0 ? { url: redisUrl, clusterNodes, prefix: get('WS_REDIS_PREFIX') } : undefined,
    busBufferSize: get('WS_BUS_BUFFER_SIZE'),
    historySize: get('WS_HISTORY_SIZE'),
    historyTtlSec: get('WS_HISTORY_TTL'),
    chat: {
      maxConnectionsPerUser: get('CHAT_MAX_CONNECTIONS_PER_USER'),
      maxContentLength: get('CHAT_MAX_CONTENT_LENGTH'),
    },
    scheduler: {
      maxConnectionsPerUser: get('SCHEDULER_MAX_CONNECTIONS_PER_USER'),
      maxConnectionsPerIp: get('SCHEDULER_MAX_CONNECTIONS_PER_IP'),
      maxConnections: get('SCHEDULER_MAX_CONNECTIONS'),
    },
    checkpoint: {
      maxConnections: get('CHECKPOINT_MAX_CONNECTIONS'),
      authToken: get('CHECKPOINT_AUTH_TOKEN'),
      maxStateBytes: get('CHECKPOINT_MAX_STATE_BYTES'),
      maxPerSession: get('CHECKPOINT_MAX_PER_SESSION'),
      maxSessionsPerUser: get('CHECKPOINT_MAX_SESSIONS_PER_USER'),
      maxBytesPerUser: get('CHECKPOINT_MAX_BYTES_PER_USER'),
      sessionTtlSec: get('CHECKPOINT_SESSION_TTL'),
    },
    notify: {
      maxConnectionsPerUser: get('NOTIFY_MAX_CONNECTIONS_PER_USER'),
      maxConnectionsPerIp: get('NOTIFY_MAX_CONNECTIONS_PER_IP'),
      maxConnections: get('NOTIFY_MAX_CONNECTIONS'),
    },
  };
}
