import type { IncomingMessage } from 'node:http';
import type WebSocket from 'ws';
import type { ResumeFrom } from '../../bus/stream-position.js';
import type { RealtimeConfig } from '../../config/index.js';
import type { Principal } from '../auth/principal.js';
import type { GatewayDefinition } from '../gateway/gateway-definition.js';
import { clipClientString } from '../text/clip.js';
import type { ClientAddress } from './client-address.service.js';
import { Connection } from './connection.js';
import type { RouteMatch } from './gateway-router.js';
import type { RealtimeSocket } from './realtime-socket.js';
import { TokenBucket } from './token-bucket.js';
import type { TrafficStats } from './traffic-stats.service.js';

/**
 * The `Connection` of an upgraded socket: its client address (after trusted proxies), its clipped
 * user agent, its id (a path parameter, or a fresh UUID), and its own frame and byte budgets.
 */
export class ConnectionFactory {
  constructor(
    private readonly config: RealtimeConfig,
    private readonly address: ClientAddress,
    private readonly traffic: TrafficStats,
  ) {}

  /** One maximal frame (SPEC.md §10.1), or one second's budget when that is more. */
  private get byteBurst(): number {
    return Math.max(this.config.messageMaxSize, this.config.rateLimitBytesPerSec);
  }

  create(
    ws: WebSocket,
    request: IncomingMessage,
    route: RouteMatch,
    protocol: GatewayDefinition,
    principal: Principal | undefined,
    resumeFrom: ResumeFrom | undefined,
  ): Connection {
    const connection = Connection.corkedAtUpgrade({
      socket: ws,
      ip: this.address.of(request),
      userAgent: clipClientString(String(request.headers['user-agent'] ?? '')),
      protocol,
      id: protocol.connectionIdParam === undefined ? undefined : route.params[protocol.connectionIdParam],
      params: route.params,
      resumeFrom,
      principal,
      rateLimiter: new TokenBucket(this.config.rateLimitPerSec, this.config.rateLimitPerSec * 2),
      byteBudget: new TokenBucket(this.config.rateLimitBytesPerSec, this.byteBurst),
      limits: this.config,
      traffic: this.traffic.of(protocol.gateway),
    });
    (ws as RealtimeSocket).connection = connection;
    return connection;
  }
}
