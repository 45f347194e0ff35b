/** @publicApi */
export interface NotifyOptions {
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
   * @default 10000
   */
  maxConnections?: number;
}

export const NOTIFY_DEFAULTS = { maxConnectionsPerUser: 10, maxConnectionsPerIp: 50, maxConnections: 10_000 } as const;

export type NotifyConfig = Required<NotifyOptions>;

export function resolveNotifyConfig(options: { notify?: NotifyOptions }): NotifyConfig {
  return {
    maxConnectionsPerUser: options.notify?.maxConnectionsPerUser ?? NOTIFY_DEFAULTS.maxConnectionsPerUser,
    maxConnectionsPerIp: options.notify?.maxConnectionsPerIp ?? NOTIFY_DEFAULTS.maxConnectionsPerIp,
    maxConnections: options.notify?.maxConnections ?? NOTIFY_DEFAULTS.maxConnections,
  };
}
