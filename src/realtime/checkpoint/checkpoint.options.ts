/** @publicApi */
export interface CheckpointOptions {
  /**
   * Authenticated connections of the gateway on one instance; the next one is told `Server at capacity`.
   * @default 100
   */
  maxConnections?: number;
  /** A static token the `authenticate` method accepts besides JWTs (one principal of its own). */
  authToken?: string;
  /**
   * Largest checkpoint `state`, in bytes of UTF-8 JSON; a larger one is refused `State too large`.
   * @default 262144
   */
  maxStateBytes?: number;
  /**
   * Checkpoints one session holds; one more is refused `Too many checkpoints`.
   * @default 1000
   */
  maxPerSession?: number;
  /**
   * Sessions one principal owns; one more is refused `Too many sessions`.
   * @default 100
   */
  maxSessionsPerUser?: number;
  /**
   * Bytes of states (and of messages past their first 256 bytes) one principal's sessions hold in all;
   * past it, `Storage quota exceeded`.
   * @default 67108864
   */
  maxBytesPerUser?: number;
  /**
   * Seconds after its last method call that a session expires; 0 keeps sessions forever.
   * @default 2592000 (30 days)
   */
  sessionTtlSec?: number;
}

export const CHECKPOINT_DEFAULTS = {
  maxConnections: 100,
  maxStateBytes: 262_144,
  maxPerSession: 1000,
  maxSessionsPerUser: 100,
  maxBytesPerUser: 67_108_864,
  sessionTtlSec: 2_592_000,
} as const;

export type CheckpointConfig = Required<Omit<CheckpointOptions, 'authToken'>> & { authToken?: string };

export function resolveCheckpointConfig(options: { checkpoint?: CheckpointOptions }): CheckpointConfig {
  const given = options.checkpoint ?? {};
  return {
    maxConnections: given.maxConnections ?? CHECKPOINT_DEFAULTS.maxConnections,
    authToken: given.authToken || undefined,
    maxStateBytes: given.maxStateBytes ?? CHECKPOINT_DEFAULTS.maxStateBytes,
    maxPerSession: given.maxPerSession ?? CHECKPOINT_DEFAULTS.maxPerSession,
    maxSessionsPerUser: given.maxSessionsPerUser ?? CHECKPOINT_DEFAULTS.maxSessionsPerUser,
    maxBytesPerUser: given.maxBytesPerUser ?? CHECKPOINT_DEFAULTS.maxBytesPerUser,
    sessionTtlSec: given.sessionTtlSec ?? CHECKPOINT_DEFAULTS.sessionTtlSec,
  };
}
