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
