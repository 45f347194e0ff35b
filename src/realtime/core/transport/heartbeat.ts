import WebSocket from 'ws';
import type { LifecycleLog } from '../logging/lifecycle-log.js';
import type { ConnectionRegistry } from '../registry/connection-registry.service.js';

/**
 * The heartbeat of every gateway (SPEC.md §9): every interval, a protocol ping (and the gateway's
 * app-level one) to each open connection, and sockets silent past the timeout terminated.
 */
export class Heartbeat {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly timing: { heartbeatIntervalMs: number; heartbeatTimeoutMs: number },
    private readonly registry: ConnectionRegistry,
    private readonly log: LifecycleLog,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.beat(), this.timing.heartbeatIntervalMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private beat(): void {
    const silentSince = Date.now() - this.timing.heartbeatTimeoutMs;
    for (const connection of this.registry.list()) {
      if (connection.lastSeenAt < silentSince) {
        this.log.info('heartbeat_timeout', { gateway: connection.gateway, id: connection.id });
        connection.terminate();
      } else if (connection.socket.readyState === WebSocket.OPEN && !connection.opening) {
        // A connection still opening has not had its welcome: no ping goes before it.
        connection.pingSent(Date.now());
        connection.socket.ping();
        const appPing = connection.protocol.heartbeat?.();
        if (appPing) connection.send(appPing);
      }
    }
  }
}
