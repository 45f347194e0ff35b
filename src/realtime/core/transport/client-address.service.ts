import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import proxyAddr from 'proxy-addr';
import { REALTIME_CONFIG, type RealtimeConfig } from '../../config/index.js';

type Trust = (address: string, hop: number) => boolean;

/**
 * The client's IP for limits, logs, admin views and metrics: the socket peer, unless that peer is
 * one of `trustedProxies` (addresses or CIDRs); then `X-Forwarded-For` (or `Forwarded`) is
 * walked back through the trusted hops by `proxy-addr`, as Express does with `trust proxy`.
 */
@Injectable()
export class ClientAddress {
  private readonly trust: Trust;

  constructor(@Inject(REALTIME_CONFIG) config: RealtimeConfig) {
    this.trust = config.trustedProxies.length > 0 ? proxyAddr.compile(config.trustedProxies) : () => false;
  }

  /** Whether `peer` is a trusted proxy (whose clients are told apart by their forwarded address). */
  isProxy(peer: string): boolean {
    return this.trust(peer, 0);
  }

  of(request: IncomingMessage): string {
    const peer = request.socket.remoteAddress;
    if (!peer) return 'unknown';
    if (!this.trust(peer, 0)) return normalize(peer);
    const forwardedFor = request.headers['x-forwarded-for'] ?? forwardedHeaderAsList(request.headers.forwarded);
    const view = { socket: request.socket, connection: request.socket, headers: { 'x-forwarded-for': forwardedFor } };
    return normalize(proxyAddr(view as unknown as IncomingMessage, this.trust));
  }
}

function normalize(address: string): string {
  return address.replace(/^::ffff:/, '');
}

/** RFC 7239 `Forwarded: for=1.2.3.4, for="[2001:db8::1]:443"` as an `X-Forwarded-For` list. */
function forwardedHeaderAsList(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const hops = header.split(',').flatMap((element) => {
    const match = /(?:^|;)\s*for=("?)([^";]+)\1/i.exec(element);
    if (!match) return [];
    const node = match[2].trim();
    const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(node);
    return [bracketed ? bracketed[1] : node.replace(/:\d+$/, '')];
  });
  return hops.length > 0 ? hops.join(', ') : undefined;
}
