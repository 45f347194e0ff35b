import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { GatewayName } from './core/gateway-protocol.js';
import type { RealtimeModuleOptions } from './realtime.options.js';

/** Per-gateway connection limits; `undefined` means unlimited. */
export interface ConnectionLimits {
  perUser?: number;
  perIp?: number;
  total?: number;
}

/** The module options with every default applied: what the providers read. */
export interface RealtimeConfig {
  auth: { secret?: string; publicKey?: string; issuer?: string; audience?: string; clockToleranceSec: number };
  allowedOrigins: string[];
  messageMaxSize: number;
  maxJsonDepth: number;
  rateLimitPerSec: number;
  maxQueueSize: number;
  maxQueueBytes: number;
  heartbeatIntervalMs: number;
  heartbeatTimeoutMs: number;
  requireAcl: boolean;
  adminToken?: string;
  redis?: { url: string; prefix: string };
  busBufferSize: number;
  instanceId: string;
  /** Connection limits of each gateway (SPEC.md §3–6). */
  limits: Record<GatewayName, ConnectionLimits>;
  chat: { maxContentLength: number };
  checkpoint: { authToken?: string };
}

export const REALTIME_CONFIG = Symbol('REALTIME_CONFIG');

export function resolveRealtimeConfig(options: RealtimeModuleOptions): RealtimeConfig {
  return {
    auth: { ...options.auth, clockToleranceSec: options.auth?.clockToleranceSec ?? 5 },
    allowedOrigins: options.allowedOrigins ?? [],
    messageMaxSize: options.messageMaxSize ?? 1_048_576,
    maxJsonDepth: options.maxJsonDepth ?? 32,
    rateLimitPerSec: options.rateLimitPerSec ?? 20,
    maxQueueSize: options.maxQueueSize ?? 10_000,
    maxQueueBytes: options.maxQueueBytes ?? 4_194_304,
    heartbeatIntervalMs: options.heartbeatIntervalMs ?? 30_000,
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 60_000,
    requireAcl: options.requireAcl ?? false,
    adminToken: options.adminToken || undefined,
    redis: options.redis?.url ? { url: options.redis.url, prefix: options.redis.prefix ?? '' } : undefined,
    busBufferSize: options.busBufferSize ?? 10_000,
    instanceId: options.instanceId ?? `${hostname()}-${randomUUID().slice(0, 8)}`,
    limits: {
      chat: { perUser: options.chat?.maxConnectionsPerUser ?? 5 },
      scheduler: {
        perUser: options.scheduler?.maxConnectionsPerUser ?? 10,
        perIp: options.scheduler?.maxConnectionsPerIp ?? 50,
        total: options.scheduler?.maxConnections ?? 1000,
      },
      checkpoint: { total: options.checkpoint?.maxConnections ?? 100 },
      notify: {},
    },
    chat: { maxContentLength: options.chat?.maxContentLength ?? 4000 },
    checkpoint: { authToken: options.checkpoint?.authToken || undefined },
  };
}
