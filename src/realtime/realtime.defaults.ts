/**
 * The defaults of every core option, read by the option resolver and by the standalone app's
 * environment class alike (each gateway keeps its own beside it, e.g. `CHAT_DEFAULTS`).
 */
export const REALTIME_DEFAULTS = {
  clockToleranceSec: 5,
  authTimeoutMs: 5_000,
  allowQueryToken: true,
  ticketTtlSec: 30,
  tokenExpiryNoticeSec: 30,
  jwksCacheMaxAgeSec: 600,
  jwksCooldownSec: 30,
  messageMaxSize: 1_048_576,
  maxJsonDepth: 32,
  maxTopicsPerConnection: 128,
  maxPendingUpgradesPerIp: 256,
  maxPendingUpgrades: 4096,
  rateLimitPerSec: 20,
  rateLimitBytesPerSec: 1_048_576,
  maxJsonElements: 10_000,
  maxQueueSize: 10_000,
  maxQueueBytes: 4_194_304,
  heartbeatIntervalMs: 30_000,
  heartbeatTimeoutMs: 60_000,
  requireAcl: false,
  busBufferSize: 10_000,
  historySize: 100,
  historyTtlSec: 300,
  redisPrefix: '',
  shutdownDrainSec: 10,
} as const;
