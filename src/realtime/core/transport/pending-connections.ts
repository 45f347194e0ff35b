import type { Socket } from 'node:net';
import { sharedListener } from './shared-listener.js';

export interface PendingLimits {
  /** Sockets per client address that have not finished their first request or upgrade. */
  perIp: number;
  total: number;
  /** How long a socket may take to send complete request headers. */
  headerTimeoutMs: number;
}

interface Pending {
  ip: string | undefined;
  timer: NodeJS.Timeout;
}

/**
 * Sockets before authentication (SPEC.md §10.1): from accept until their first request or admitted
 * upgrade, and, when refused, until they close. Bounded per address and in total, and dropped when
 * their headers take longer than the header timeout, so that clients without a token cannot use up
 * the file descriptors. Only the first request of a socket is timed: keep-alive REST is not touched.
 */
export class PendingConnections {
  private readonly sockets = new Map<Socket, Pending>();
  private readonly perIp = new Map<string, number>();
  /** Every pending socket's `close` listener: one function, removed once the socket is settled. */
  private readonly closeListener = sharedListener((socket: Socket) => this.settled(socket));

  constructor(
    private readonly limits: PendingLimits,
    /** Peers that are proxies: many clients behind one address, so not bounded per address. */
    private readonly isProxy: (address: string) => boolean,
    private readonly onDropped: (reason: 'pending_limit' | 'header_timeout', ip: string | undefined) => void,
  ) {}

  get size(): number {
    return this.sockets.size;
  }

  /** A new TCP connection; destroyed at once when over a bound. */
  accepted(socket: Socket): void {
    this.count(socket);
  }

  /**
   * An upgrade on a socket that had already settled (a keep-alive request came first): it is
   * pending again, under the same bounds, so that a REST request first does not escape them.
   * False when it was over a bound (and destroyed).
   */
  reentered(socket: Socket): boolean {
    return this.sockets.has(socket) || this.count(socket);
  }

  private count(socket: Socket): boolean {
    const ip = socket.remoteAddress;
    const counted = ip !== undefined && !this.isProxy(ip) ? ip : undefined;
    const fromIp = counted === undefined ? 0 : (this.perIp.get(counted) ?? 0);
    if (this.sockets.size >= this.limits.total || fromIp >= this.limits.perIp) {
      this.onDropped('pending_limit', ip);
      socket.destroy();
      return false;
    }
    const timer = setTimeout(() => {
      this.onDropped('header_timeout', ip);
      socket.destroy();
    }, this.limits.headerTimeoutMs).unref();
    this.sockets.set(socket, { ip: counted, timer });
    if (counted !== undefined) this.perIp.set(counted, fromIp + 1);
    socket.on('close', this.closeListener);
    return true;
  }

  /** Its headers arrived and it was served (a request) or admitted (an upgrade). */
  settled(socket: Socket): void {
    const pending = this.sockets.get(socket);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.sockets.delete(socket);
    socket.off('close', this.closeListener);
    if (pending.ip === undefined) return;
    const left = (this.perIp.get(pending.ip) ?? 1) - 1;
    if (left > 0) this.perIp.set(pending.ip, left);
    else this.perIp.delete(pending.ip);
  }

  /** Its headers arrived, but it stays pending until it closes (a refused upgrade). */
  headersReceived(socket: Socket): void {
    const pending = this.sockets.get(socket);
    if (pending) clearTimeout(pending.timer);
  }
}
