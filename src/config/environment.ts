import { plainToInstance, Transform } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  validateSync,
} from 'class-validator';
import { CHAT_DEFAULTS } from '../realtime/chat/chat.options.js';
import { CHECKPOINT_DEFAULTS } from '../realtime/checkpoint/checkpoint.options.js';
import { NOTIFY_DEFAULTS } from '../realtime/notify/notify.options.js';
import { REALTIME_DEFAULTS as CORE } from '../realtime/realtime.defaults.js';
import { SCHEDULER_DEFAULTS } from '../realtime/scheduler/scheduler.options.js';

/** The development JWT secret: used, with a loud warning, when `JWT_SECRET` is unset outside production. */
export const DEV_JWT_SECRET = 'dev-insecure-secret-change-me-0123456789';

/** Secrets that must never sign production tokens: the dev default and the `.env.example` placeholder. */
const KNOWN_SECRETS = new Set([DEV_JWT_SECRET, 'change-me', 'changeme', 'secret', 'replace-with-a-long-random-secret']);

/**
 * `true`/`1` and `false`/`0`/empty; anything else stays as written and fails `@IsBoolean`. It reads the
 * raw value: implicit conversion has already made `Boolean('false')` of it by the time `@Transform` runs.
 */
const toBoolean = ({ obj, key }: { obj: Record<string, unknown>; key: string }): unknown => {
  const value = obj[key];
  if (typeof value !== 'string') return value;
  return value === 'true' || value === '1' ? true : value === 'false' || value === '0' || value === '' ? false : value;
};

const csv = ({ value }: { value: unknown }): unknown =>
  typeof value === 'string'
    ? value
        .split(',')
        .map((item) => item.trim())
        .filter(Boolean)
    : value;

/** Every environment variable of the standalone app (`.env.example` documents each). */
export class EnvironmentVariables {
  @IsIn(['development', 'production', 'test']) @IsOptional() NODE_ENV: string = 'development';
  @IsInt() @Min(0) @Max(65535) PORT: number = 3000;
  @IsString() HOST: string = '0.0.0.0';
  @IsIn(['text', 'json']) LOG_FORMAT: 'text' | 'json' = 'text';

  @IsString() @IsOptional() JWT_SECRET?: string;
  @IsString() @IsOptional() JWT_PUBLIC_KEY?: string;
  @IsString() @IsOptional() JWT_ISSUER?: string;
  @IsString() @IsOptional() JWT_AUDIENCE?: string;
  @IsNumber() @Min(0) @Max(300) JWT_CLOCK_TOLERANCE: number = CORE.clockToleranceSec;
  @IsUrl({ protocols: ['http', 'https'], require_tld: false, require_protocol: true })
  @IsOptional()
  JWT_JWKS_URL?: string;
  @IsNumber() @Min(1) JWT_JWKS_CACHE_MAX_AGE: number = CORE.jwksCacheMaxAgeSec;
  @IsNumber() @Min(0) JWT_JWKS_COOLDOWN: number = CORE.jwksCooldownSec;
  @IsNumber() @Min(0.05) @Max(60) WS_AUTH_TIMEOUT: number = CORE.authTimeoutMs / 1000;
  @Transform(toBoolean) @IsBoolean() WS_ALLOW_QUERY_TOKEN: boolean = CORE.allowQueryToken;
  @IsInt() @Min(1) @Max(3600) WS_TICKET_TTL: number = CORE.ticketTtlSec;
  @IsNumber() @Min(0) WS_TOKEN_EXPIRY_NOTICE: number = CORE.tokenExpiryNoticeSec;

  @Transform(csv) @IsString({ each: true }) WS_ALLOWED_ORIGINS: string[] = [];
  @Transform(csv) @IsString({ each: true }) WS_TRUSTED_PROXIES: string[] = [];
  @IsInt() @Min(64) @Max(104_857_600) WS_MESSAGE_MAX_SIZE: number = CORE.messageMaxSize;
  @IsInt() @Min(1) @Max(1000) WS_MAX_JSON_DEPTH: number = CORE.maxJsonDepth;
  @IsInt() @Min(1) WS_MAX_TOPICS_PER_CONNECTION: number = CORE.maxTopicsPerConnection;
  @IsInt() @Min(1) WS_MAX_PENDING_UPGRADES_PER_IP: number = CORE.maxPendingUpgradesPerIp;
  @IsInt() @Min(1) WS_MAX_PENDING_UPGRADES: number = CORE.maxPendingUpgrades;
  @IsNumber() @Min(0.1) WS_RATE_LIMIT_PER_SEC: number = CORE.rateLimitPerSec;
  @IsInt() @Min(1024) WS_RATE_LIMIT_BYTES_PER_SEC: number = CORE.rateLimitBytesPerSec;
  /** Default: twice WS_RATE_LIMIT_BYTES_PER_SEC. */
  @IsInt() @Min(1024) @IsOptional() WS_RATE_LIMIT_BYTES_PER_SEC_PER_USER?: number;
  /** Default: twice WS_RATE_LIMIT_BYTES_PER_SEC. */
  @IsInt() @Min(1024) @IsOptional() WS_RATE_LIMIT_BYTES_PER_SEC_PER_IP?: number;
  @IsInt() @Min(1) WS_MAX_JSON_ELEMENTS: number = CORE.maxJsonElements;
  @IsInt() @Min(1) WS_MAX_QUEUE_SIZE: number = CORE.maxQueueSize;
  @IsInt() @Min(1024) WS_MAX_QUEUE_BYTES: number = CORE.maxQueueBytes;
  @IsNumber() @Min(0.05) WS_HEARTBEAT_INTERVAL: number = CORE.heartbeatIntervalMs / 1000;
  @IsNumber() @Min(0.1) WS_HEARTBEAT_TIMEOUT: number = CORE.heartbeatTimeoutMs / 1000;
  @Transform(toBoolean) @IsBoolean() WS_REQUIRE_ACL: boolean = CORE.requireAcl;
  @IsString() @IsOptional() WS_ADMIN_TOKEN?: string;
  @Transform(toBoolean) @IsBoolean() WS_API_DOCS: boolean = true;
  @IsString() @IsOptional() WS_INSTANCE_ID?: string;
  @IsNumber() @Min(0) @Max(600) WS_SHUTDOWN_DRAIN: number = CORE.shutdownDrainSec;
  @IsNumber() @Min(1) @Max(3600) WS_SHUTDOWN_TIMEOUT: number = 15;

  @IsUrl({ protocols: ['redis', 'rediss'], require_tld: false, require_protocol: true })
  @IsOptional()
  REDIS_URL?: string;
  @Transform(csv)
  @Matches(/^[^\s:]+:\d{1,5}$/, { each: true, message: 'REDIS_CLUSTER_NODES must be a comma list of host:port' })
  REDIS_CLUSTER_NODES: string[] = [];
  @IsString() WS_REDIS_PREFIX: string = CORE.redisPrefix;
  @IsInt() @Min(0) WS_BUS_BUFFER_SIZE: number = CORE.busBufferSize;
  @IsInt() @Min(0) @Max(100_000) WS_HISTORY_SIZE: number = CORE.historySize;
  @IsNumber() @Min(0) WS_HISTORY_TTL: number = CORE.historyTtlSec;

  @IsInt() @Min(1) CHAT_MAX_CONNECTIONS_PER_USER: number = CHAT_DEFAULTS.maxConnectionsPerUser;
  @IsInt() @Min(1) @Max(1_048_576) CHAT_MAX_CONTENT_LENGTH: number = CHAT_DEFAULTS.maxContentLength;
  @IsInt() @Min(1) SCHEDULER_MAX_CONNECTIONS_PER_USER: number = SCHEDULER_DEFAULTS.maxConnectionsPerUser;
  @IsInt() @Min(1) SCHEDULER_MAX_CONNECTIONS_PER_IP: number = SCHEDULER_DEFAULTS.maxConnectionsPerIp;
  @IsInt() @Min(1) SCHEDULER_MAX_CONNECTIONS: number = SCHEDULER_DEFAULTS.maxConnections;
  @IsInt() @Min(1) CHECKPOINT_MAX_CONNECTIONS: number = CHECKPOINT_DEFAULTS.maxConnections;
  @IsString() @IsOptional() CHECKPOINT_AUTH_TOKEN?: string;
  @IsInt() @Min(0) CHECKPOINT_MAX_STATE_BYTES: number = CHECKPOINT_DEFAULTS.maxStateBytes;
  @IsInt() @Min(1) CHECKPOINT_MAX_PER_SESSION: number = CHECKPOINT_DEFAULTS.maxPerSession;
  @IsInt() @Min(1) CHECKPOINT_MAX_SESSIONS_PER_USER: number = CHECKPOINT_DEFAULTS.maxSessionsPerUser;
  @IsInt() @Min(0) CHECKPOINT_MAX_BYTES_PER_USER: number = CHECKPOINT_DEFAULTS.maxBytesPerUser;
  @IsNumber() @Min(0) CHECKPOINT_SESSION_TTL: number = CHECKPOINT_DEFAULTS.sessionTtlSec;
  @IsInt() @Min(1) NOTIFY_MAX_CONNECTIONS_PER_USER: number = NOTIFY_DEFAULTS.maxConnectionsPerUser;
  @IsInt() @Min(1) NOTIFY_MAX_CONNECTIONS_PER_IP: number = NOTIFY_DEFAULTS.maxConnectionsPerIp;
  @IsInt() @Min(1) NOTIFY_MAX_CONNECTIONS: number = NOTIFY_DEFAULTS.maxConnections;
}

/**
 * Validates and converts `process.env` for `ConfigModule.forRoot({ validate })`: a bad value
 * stops start-up with a message naming the variable; production refuses a missing or known secret.
 */
export function validateEnvironment(raw: Record<string, unknown>): EnvironmentVariables {
  const present = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== ''));
  const env = plainToInstance(EnvironmentVariables, present, {
    enableImplicitConversion: true,
    exposeDefaultValues: true,
  });
  const errors = validateSync(env, { skipMissingProperties: false });
  if (errors.length > 0) {
    const reasons = errors.flatMap((error) => Object.values(error.constraints ?? {}));
    throw new Error(`Invalid environment: ${reasons.join('; ')}`);
  }
  if (env.NODE_ENV === 'production' && !env.JWT_PUBLIC_KEY && !env.JWT_JWKS_URL) {
    if (!env.JWT_SECRET || KNOWN_SECRETS.has(env.JWT_SECRET) || env.JWT_SECRET.length < 32) {
      throw new Error(
        'Invalid environment: JWT_SECRET must be set to a real secret of at least 32 characters (or JWT_PUBLIC_KEY, or JWT_JWKS_URL) when NODE_ENV=production',
      );
    }
  }
  return env;
}
