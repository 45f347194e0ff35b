import WebSocket from 'ws';
import type { Principal } from '../auth/principal.js';
import type { GatewayProtocol } from '../gateway/gateway-definition.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import { Connection } from './connection.js';
import { GatewayTraffic } from './gateway-traffic.js';
import { TokenBucket } from './token-bucket.js';

/**
 * For unit specs only (not built into the package: `*.fixture.ts` is excluded like `*.spec.ts`):
 * a real `Connection` over a `ws` socket that was never connected, so nothing is ever written to it.
 */

/** `ws`'s server-side constructor (no address: a socket the server will adopt), absent from its types. */
const UnconnectedSocket = WebSocket as unknown as new (
  address: null,
  protocols: undefined,
  options: object,
) => WebSocket;

/** A protocol that words nothing: the specs look at connections, not frames. */
export const protocolOf = (gateway: GatewayName): GatewayProtocol => ({
  gateway,
  // As the real definitions say: a scheduler event belongs to several streams.
  ...(gateway === 'scheduler' && { positionStyle: 'map' as const }),
  messageKey: () => undefined,
  errorFrame: () => ({}),
  refusal: (error) => ({ frame: {}, code: 4429, reason: error.message }),
});

export const principalOf = (sub: string): Principal => ({ sub, userId: sub, username: sub, roles: [] });

/** A connection of `gateway` (chat by default) for user `sub` (none: no principal). */
export function fixtureConnection({
  sub,
  gateway = 'chat',
  ip = '10.0.0.1',
  id,
}: { sub?: string; gateway?: GatewayName; ip?: string; id?: string } = {}): Connection {
  return new Connection({
    id,
    socket: new UnconnectedSocket(null, undefined, {}),
    ip,
    userAgent: 'spec',
    protocol: protocolOf(gateway),
    params: {},
    principal: sub === undefined ? undefined : principalOf(sub),
    rateLimiter: new TokenBucket(20, 40),
    byteBudget: new TokenBucket(1_048_576, 1_048_576),
    limits: { maxQueueSize: 10, maxQueueBytes: 1024 },
    traffic: new GatewayTraffic(),
  });
}
