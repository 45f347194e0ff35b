import type { IncomingMessage, ServerResponse } from 'node:http';

export interface OpenRequestLimits {
  /** Requests of one client address still being received or answered (trusted proxies aside). */
  perIp: number;
  total: number;
  /** How long a request may take to arrive whole, body included. */
  bodyTimeoutMs: number;
}

/**
 * REST requests from their headers until their response is done (SPEC.md §10.1): bounded per
 * address and in total, and cut off when the whole request (its body too) has not arrived within
 * the timeout, so that slow bodies cannot hold the file descriptors.
 */
export class OpenRequests {
  private readonly perIp = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly limits: OpenRequestLimits,
    /** Peers that are proxies: many clients behind one address, so not bounded per address. */
    private readonly isProxy: (address: string) => boolean,
    private readonly onDropped: (reason: 'request_limit' | 'body_timeout', ip: string | undefined) => void,
  ) {}

  /** A request's headers arrived; false when it was dropped for a bound. */
  opened(request: IncomingMessage, response: ServerResponse): boolean {
    const peer = request.socket.remoteAddress;
    const ip = peer !== undefined && !this.isProxy(peer) ? peer : undefined;
    const fromIp = ip === undefined ? 0 : (this.perIp.get(ip) ?? 0);
    if (this.total >= this.limits.total || fromIp >= this.limits.perIp) {
      this.onDropped('request_limit', peer);
      request.socket.destroy();
      return false;
    }
    this.total++;
    if (ip !== undefined) this.perIp.set(ip, fromIp + 1);
    const deadline = setTimeout(() => {
      if (request.complete) return;
      this.onDropped('body_timeout', peer);
      request.socket.destroy();
    }, this.limits.bodyTimeoutMs).unref();
    response.once('close', () => {
      clearTimeout(deadline);
      this.total--;
      if (ip === undefined) return;
      const left = (this.perIp.get(ip) ?? 1) - 1;
      if (left > 0) this.perIp.set(ip, left);
      else this.perIp.delete(ip);
    });
    return true;
  }
}
