import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationShutdown } from '@nestjs/common';
import type { IncomingMessage, Server } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer, type RawData } from 'ws';
import { REALTIME_CONFIG, type RealtimeConfig } from '../realtime.config.js';
import { Connection } from './connection.js';
import { ConnectionRegistry } from './connection-registry.service.js';
import type { GatewayName, GatewayProtocol, InboundFrame } from './gateway-protocol.js';
import { GatewayRouter, type RouteMatch } from './gateway-routes.js';
import { GatewayServer } from './gateway-server.js';
import { InboundFrameParser } from './inbound-frame.parser.js';
import { LifecycleLog } from './lifecycle-log.js';
import { CloseCode, RATE_LIMITED, RealtimeError } from './realtime-error.js';
import { redactUrl } from './redact.js';
import { TokenBucket } from './token-bucket.js';
import { TrafficStats } from './traffic-stats.service.js';
import { UpgradeAuthGuard, type UpgradeAuthResult } from './upgrade-auth.guard.js';
import { ClusterView } from './cluster-view.service.js';

/** A gateway's message handler as Nest hands it over: called with the frame, returns the reply. */
export type FrameHandler = (frame: InboundFrame, key: string) => unknown;

const BINARY_REFUSED = RealtimeError.badFrame('Binary frames are not supported');
const SHUTDOWN_CLOSE_TIMEOUT_MS = 5_000;
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Upgrade {
  ws: WebSocket;
  request: IncomingMessage;
  route: RouteMatch;
  gateway: GatewayServer;
  authResult: UpgradeAuthResult;
  elsewhere: number;
}

interface ConnectionHooks {
  onClose: Array<() => void>;
  /** Frames that arrived while a handler was running, handled next in order. */
  backlog: Array<{ data: RawData; isBinary: boolean }>;
  busy: boolean;
  expiryTimer?: NodeJS.Timeout;
  lastRateLimitNoticeAt: number;
}

/**
 * The shared transport of every gateway: it routes upgrades by path, refuses bad origins and
 * unknown paths before upgrading, authenticates, admits within the gateway's limits, runs the
 * inbound pipeline (rate limit, size, parsing) and the heartbeats, and shuts down gracefully.
 * Gateways only see admitted `Connection`s and parsed frames.
 */
@Injectable()
export class RealtimeTransport implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly log = new LifecycleLog();
  private readonly router = new GatewayRouter();
  private readonly parser: InboundFrameParser;
  private readonly wss: WebSocketServer;
  private readonly gateways = new Map<GatewayName, GatewayServer>();
  private readonly hooks = new WeakMap<Connection, ConnectionHooks>();
  private readonly attached = new Set<Server>();
  /** Frames held per connection behind a running handler: the inbound burst. */
  private readonly maxBacklog: number;
  private heartbeat?: NodeJS.Timeout;
  private shuttingDown = false;
  private readonly upgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer): void =>
    this.handleUpgrade(request, socket, head);

  constructor(
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    private readonly auth: UpgradeAuthGuard,
    private readonly registry: ConnectionRegistry,
    private readonly traffic: TrafficStats,
    private readonly cluster: ClusterView,
  ) {
    this.parser = new InboundFrameParser(config.maxJsonDepth);
    this.maxBacklog = Math.ceil(config.rateLimitPerSec * 2);
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.messageMaxSize,
      perMessageDeflate: false,
      clientTracking: false,
    });
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Starts routing the upgrades of `server` to the registered gateways. */
  attach(server: Server): void {
    if (this.attached.has(server)) return;
    this.attached.add(server);
    server.on('upgrade', this.upgradeListener);
    this.heartbeat ??= setInterval(() => this.beat(), this.config.heartbeatIntervalMs).unref();
  }

  detach(): void {
    for (const server of this.attached) server.off('upgrade', this.upgradeListener);
    this.attached.clear();
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  registerGateway(protocol: GatewayProtocol): GatewayServer {
    const server = new GatewayServer(protocol);
    this.gateways.set(protocol.gateway, server);
    return server;
  }

  /** Wires a gateway's handlers to the connection's inbound pipeline. */
  bindHandlers(connection: Connection, handlers: ReadonlyMap<string, FrameHandler>): void {
    connection.socket.on('message', (data: RawData, isBinary: boolean) =>
      this.receive(connection, handlers, data, isBinary),
    );
  }

  onClose(connection: Connection, callback: () => void): void {
    this.hooks.get(connection)?.onClose.push(callback);
  }

  /** Health turns 503, upgrades are refused, and every socket is closed with 1001. */
  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    const connections = this.registry.list();
    this.log.info('shutdown', { connections: connections.length });
    for (const connection of connections) connection.close(CloseCode.GOING_AWAY, 'Server shutting down');
    const deadline = Date.now() + SHUTDOWN_CLOSE_TIMEOUT_MS;
    while (this.registry.size > 0 && Date.now() < deadline) await sleep(25);
    for (const connection of this.registry.list()) connection.terminate();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.shutdown();
  }

  onApplicationShutdown(): void {
    this.detach();
  }

  private handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const url = new URL(request.url ?? '/', 'ws://localhost');
    const route = this.router.match(url.pathname);
    const gateway = route && this.gateways.get(route.gateway);
    if (this.shuttingDown) return rejectUpgrade(socket, 503, 'Server shutting down');
    if (!route || !gateway) return rejectUpgrade(socket, 404, 'Not Found');
    if (!this.originAllowed(request.headers.origin)) {
      this.log.security('origin_refused', {
        gateway: route.gateway,
        ip: ipOf(request),
        origin: request.headers.origin,
      });
      return rejectUpgrade(socket, 403, 'Forbidden');
    }
    const authResult = this.auth.authenticate(request, url);
    // Counted before the upgrade, so no frame can arrive while the cluster is asked.
    void this.userConnectionsElsewhere(route.gateway, authResult.principal?.sub).then((elsewhere) =>
      this.wss.handleUpgrade(request, socket, head, (ws) =>
        this.accept({ ws, request, route, gateway, authResult, elsewhere }),
      ),
    );
  }

  private async userConnectionsElsewhere(gateway: GatewayName, sub: string | undefined): Promise<number> {
    if (sub === undefined || this.config.limits[gateway].perUser === undefined || !this.cluster.enabled) return 0;
    return this.cluster.userConnectionsElsewhere(gateway, sub);
  }

  private accept({ ws, request, route, gateway, authResult, elsewhere }: Upgrade): void {
    const { protocol } = gateway;
    ws.on('error', (error: Error & { code?: string }) =>
      this.log.info('socket_error', { gateway: protocol.gateway, reason: error.code ?? error.message }),
    );
    const connection = new Connection({
      socket: ws,
      request,
      protocol,
      params: route.params,
      principal: authResult.principal,
      rateLimiter: new TokenBucket(this.config.rateLimitPerSec, this.config.rateLimitPerSec * 2),
      limits: this.config,
      traffic: this.traffic,
    });
    if (authResult.error && !(authResult.anonymous && protocol.allowsAnonymous)) {
      this.log.security('auth_failed', {
        gateway: protocol.gateway,
        ip: connection.ip,
        reason: authResult.error.message,
      });
      return this.refuse(connection, authResult.error, CloseCode.UNAUTHENTICATED, authResult.error.message);
    }
    try {
      this.registry.admit(connection, this.config.limits[protocol.gateway], elsewhere);
    } catch (error) {
      const refusal = protocol.refusal(error as RealtimeError);
      this.log.security('limit_hit', { gateway: protocol.gateway, user: connection.principal?.sub, ip: connection.ip });
      return this.refuse(connection, undefined, refusal.code, refusal.reason, refusal.frame);
    }
    this.track(connection, request);
    gateway.emit('connection', connection, request);
  }

  private refuse(
    connection: Connection,
    error: RealtimeError | undefined,
    code: number,
    reason: string,
    frame?: object,
  ): void {
    connection.send(frame ?? connection.protocol.errorFrame(error!));
    connection.close(code, reason);
  }

  private track(connection: Connection, request: IncomingMessage): void {
    const hooks: ConnectionHooks = { onClose: [], backlog: [], busy: false, lastRateLimitNoticeAt: 0 };
    this.hooks.set(connection, hooks);
    const exp = connection.principal?.exp;
    if (exp !== undefined) {
      const expiresAt = (exp + this.config.auth.clockToleranceSec) * 1000;
      const delay = Math.min(Math.max(expiresAt - Date.now(), 0), MAX_TIMER_MS);
      hooks.expiryTimer = setTimeout(() => connection.close(CloseCode.UNAUTHENTICATED, 'Token expired'), delay);
      hooks.expiryTimer.unref();
    }
    connection.socket.on('pong', () => (connection.lastSeenAt = Date.now()));
    connection.socket.once('close', (code: number) => this.release(connection, hooks, code));
    this.log.info('connect', { ...this.describe(connection), url: redactUrl(request.url) });
  }

  private release(connection: Connection, hooks: ConnectionHooks, code: number): void {
    clearTimeout(hooks.expiryTimer);
    hooks.backlog.length = 0;
    for (const callback of hooks.onClose) {
      try {
        callback();
      } catch (error) {
        this.log.error('disconnect_handler_failed', { gateway: connection.gateway, reason: (error as Error).message });
      }
    }
    this.registry.remove(connection);
    this.log.info('disconnect', {
      ...this.describe(connection),
      code: connection.closeCode ?? code,
      duration_ms: Date.now() - connection.connectedAt.getTime(),
    });
  }

  /**
   * Frames are handled one at a time, in order: a frame whose handler is still running (an
   * async access check, say) holds back the next, so `join_room` then `send_message` just works.
   */
  private receive(
    connection: Connection,
    handlers: ReadonlyMap<string, FrameHandler>,
    data: RawData,
    isBinary: boolean,
  ): void {
    connection.recordInbound(Date.now());
    const hooks = this.hooks.get(connection);
    if (!hooks) return;
    if (!connection.rateLimiter.take(connection.lastSeenAt) || hooks.backlog.length >= this.maxBacklog) {
      return this.rateLimited(connection, hooks);
    }
    if (hooks.busy) {
      hooks.backlog.push({ data, isBinary });
      return;
    }
    this.process(connection, hooks, handlers, data, isBinary);
  }

  private process(
    connection: Connection,
    hooks: ConnectionHooks,
    handlers: ReadonlyMap<string, FrameHandler>,
    data: RawData,
    isBinary: boolean,
  ): void {
    if (isBinary) {
      connection.sendError(BINARY_REFUSED);
      return this.next(connection, hooks, handlers);
    }
    const frame = this.parser.parse((data as Buffer).toString());
    if (frame instanceof RealtimeError) {
      connection.sendError(frame);
      return this.next(connection, hooks, handlers);
    }
    const key = connection.protocol.messageKey(frame);
    const handler = key === undefined ? undefined : handlers.get(key);
    if (!handler) {
      connection.sendError(unknownType(key), frame);
      return this.next(connection, hooks, handlers);
    }
    hooks.busy = true;
    Promise.resolve(handler(frame, key!))
      .then(
        (reply) => {
          if (reply !== undefined && reply !== null) connection.send(reply);
        },
        (error: Error) =>
          this.log.error('handler_failed', { gateway: connection.gateway, type: key, reason: error.message }),
      )
      .finally(() => {
        hooks.busy = false;
        this.next(connection, hooks, handlers);
      });
  }

  private next(connection: Connection, hooks: ConnectionHooks, handlers: ReadonlyMap<string, FrameHandler>): void {
    const queued = hooks.backlog.shift();
    if (queued) this.process(connection, hooks, handlers, queued.data, queued.isBinary);
  }

  private rateLimited(connection: Connection, hooks: ConnectionHooks): void {
    if (connection.lastSeenAt - hooks.lastRateLimitNoticeAt < 1000) return;
    hooks.lastRateLimitNoticeAt = connection.lastSeenAt;
    this.log.security('rate_limited', {
      gateway: connection.gateway,
      user: connection.principal?.sub,
      ip: connection.ip,
    });
    connection.sendError(RATE_LIMITED);
  }

  private beat(): void {
    const silentSince = Date.now() - this.config.heartbeatTimeoutMs;
    for (const connection of this.registry.list()) {
      if (connection.lastSeenAt < silentSince) {
        this.log.info('heartbeat_timeout', { gateway: connection.gateway, id: connection.id });
        connection.terminate();
      } else if (connection.socket.readyState === WebSocket.OPEN) {
        connection.socket.ping();
      }
    }
  }

  private originAllowed(origin: string | undefined): boolean {
    const allowed = this.config.allowedOrigins;
    return allowed.length === 0 || origin === undefined || allowed.includes(origin);
  }

  private describe(connection: Connection): Record<string, string | undefined> {
    return { gateway: connection.gateway, id: connection.id, user: connection.principal?.sub, ip: connection.ip };
  }
}

function unknownType(key: string | undefined): RealtimeError {
  return new RealtimeError('unknown_type', key === undefined ? 'Missing message type' : `Unknown message type: ${key}`);
}

const STATUS_TEXT: Record<number, string> = { 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };

function rejectUpgrade(socket: Duplex, status: number, body: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function ipOf(request: IncomingMessage): string | undefined {
  return request.socket.remoteAddress?.replace(/^::ffff:/, '');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
