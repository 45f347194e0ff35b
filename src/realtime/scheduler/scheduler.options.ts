/** @publicApi */
export interface SchedulerOptions {
  /**
   * Connections per user (on every instance); the next one is closed with 4429.
   * @default 10
   */
  maxConnectionsPerUser?: number;
  /**
   * Connections per client IP.
   * @default 50
   */
  maxConnectionsPerIp?: number;
  /**
   * Connections of the gateway on one instance.
   * @default 1000
   */
  maxConnections?: number;
}

export const SCHEDULER_DEFAULTS = { maxConnectionsPerUser: 10, maxConnectionsPerIp: 50, maxConnections: 1000 } as const;

export type SchedulerConfig = Required<SchedulerOptions>;

export function resolveSchedulerConfig(options: { scheduler?: SchedulerOptions }): SchedulerConfig {
  return {
    maxConnectionsPerUser: options.scheduler?.maxConnectionsPerUser ?? SCHEDULER_DEFAULTS.maxConnectionsPerUser,
    maxConnectionsPerIp: options.scheduler?.maxConnectionsPerIp ?? SCHEDULER_DEFAULTS.maxConnectionsPerIp,
    maxConnections: options.scheduler?.maxConnections ?? SCHEDULER_DEFAULTS.maxConnections,
  };
}
