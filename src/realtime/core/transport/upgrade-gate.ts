import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import type { GatewayName } from '../gateway/gateway-name.js';
import type { RefusalLog } from '../logging/refusal-log.js';
import type { ClientAddress } from './client-address.service.js';
import { hasDotSegment, type GatewayRouter, type RouteMatch } from './gateway-router.js';
import type { RegisteredGateway } from './registered-gateway.js';

/** Where an upgrade request goes, or the HTTP status it is refused with before any upgrade. */
export type GateDecision =
  { route: RouteMatch; gateway: RegisteredGateway; url: URL } | { status: 403 | 404 | 503; body: string };

/**
 * The door before any upgrade (SPEC.md §1, §2, §10.1): a stopping server answers 503, a path no
 * gateway serves (or one with dot segments) 404, an origin outside the allow-list 403.
 */
export class UpgradeGate {
  constructor(
    private readonly router: GatewayRouter,
    private readonly gateways: ReadonlyMap<GatewayName, RegisteredGateway>,
    private readonly allowedOrigins: readonly string[],
    private readonly address: ClientAddress,
    private readonly refusals: RefusalLog,
  ) {}

  decide(request: IncomingMessage, shuttingDown: boolean): GateDecision {
    const url = new URL(request.url ?? '/', 'ws://localhost');
    // `new URL` resolves `..`: such a path is refused, never routed to another gateway.
    const route = hasDotSegment(request.url ?? '/') ? undefined : this.router.match(url.pathname);
    const gateway = route && this.gateways.get(route.gateway);
    if (shuttingDown) return { status: 503, body: 'Server shutting down' };
    if (!route || !gateway) return { status: 404, body: 'Not Found' };
    if (!this.originAllowed(request.headers.origin)) {
      this.refusals.refused('origin_refused', this.address.of(request), {
        gateway: route.gateway,
        origin: request.headers.origin,
      });
      return { status: 403, body: 'Forbidden' };
    }
    return { route, gateway, url };
  }

  private originAllowed(origin: string | undefined): boolean {
    return this.allowedOrigins.length === 0 || origin === undefined || this.allowedOrigins.includes(origin);
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  403: 'Forbidden',
  404: 'Not Found',
  503: 'Service Unavailable',
};

/** How long a refused upgrade's client gets to read the answer before its socket is destroyed. */
const REJECTED_GRACE_MS = 2_000;

/**
 * Answers an upgrade request with a plain HTTP error and closes the socket: destroyed once the
 * answer is written (as `ws` does), or after a grace for a client that never reads it, so that a
 * half-open client cannot hold it (SPEC.md §10.1).
 */
export function rejectUpgrade(socket: Duplex, status: number, body: string): void {
  socket.once('finish', destroySocket);
  setTimeout(() => socket.destroy(), REJECTED_GRACE_MS).unref();
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function destroySocket(this: Duplex): void {
  this.destroy();
}
