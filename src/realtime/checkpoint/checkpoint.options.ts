/** @publicApi */
export interface CheckpointOptions {
  /**
   * Connections of the gateway on one instance; the next one is told `Server at capacity`.
   * @default 100
   */
  maxConnections?: number;
  /** A static token the `authenticate` method accepts besides JWTs. */
  authToken?: string;
}

export const CHECKPOINT_DEFAULTS = { maxConnections: 100 } as const;

export type CheckpointConfig = { maxConnections: number; authToken?: string };

export function resolveCheckpointConfig(options: { checkpoint?: CheckpointOptions }): CheckpointConfig {
  return {
    maxConnections: options.checkpoint?.maxConnections ?? CHECKPOINT_DEFAULTS.maxConnections,
    authToken: options.checkpoint?.authToken || undefined,
  };
}

/** How long a connection without a token has to call `authenticate` (SPEC.md §2). */
export const AUTHENTICATION_DEADLINE_MS = 10_000;
