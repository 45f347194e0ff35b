import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationShutdown } from '@nestjs/common';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { REALTIME_CONFIG, type RealtimeConfig } from '../../realtime.config.js';
import { REALTIME_MODULE_OPTIONS } from '../../realtime.module-definition.js';
import type { Principal } from '../auth/principal.js';
import { UpgradeAuthenticator, type UpgradeAuthResult } from '../auth/upgrade-authenticator.js';
import type { ConnectionLimits, GatewayDefinition } from '../gateway/gateway-definition.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import { AUTH_REQUIRED, CloseCode, RealtimeError } from '../gateway/realtime-error.js';
import { LifecycleLog } from '../logging/lifecycle-log.js';
import { redactUrl } from '../logging/redact.js';
import { RefusalLog } from '../logging/refusal-log.js';
import { ClusterView } from '../cluster/cluster-view.service.js';
import { UserSlot, UserSlots } from '../cluster/user-slots.service.js';
import { resumeFromQuery, type ResumeFrom } from '../../bus/stream-position.js';
import { ConnectionRegistry } from '../registry/connection-registry.service.js';
import { ClientAddress } from './client-address.service.js';
import { Connection } from './connection.js';
import { GatewayRouter, hasDotSegment, type RouteMatch } from './gateway-router.js';
import { ExpirySchedule } from './expiry-schedule.js';
import { GatewayServer } from './gateway-server.js';
import { InboundPipeline, type BoundHandlers } from './inbound-pipeline.js';
import { OpenRequests } from './open-requests.js';
import { PendingConnections } from './pending-connections.js';
import { RealtimeSocket } from './realtime-socket.js';
import { SharedByteBudgets } from './shared-byte-budgets.js';
import { sharedListener } from './shared-listener.js';
import { clipClientString } from '../text/clip.js';
import { TokenBucket } from './token-bucket.js';
import { TrafficStats } from './traffic-stats.service.js';

const SHUTDOWN_CLOSE_TIMEOUT_MS = 5_000;
const TERMINATE_SETTLE_MS = 500;
/** SPEC.md §10.1: an upgrade's headers, and a REST request with its body, must be complete within this. */
const HEADER_TIMEOUT_MS = 10_000;
/** SPEC.md §2: a connection let in without a token has this long to authenticate. */
const AUTHENTICATION_DEADLINE_MS = 10_000;

interface Upgrade {
  ws: WebSocket;
  request: IncomingMessage;
  route: RouteMatch;
  gateway: RegisteredGateway;
  authResult: UpgradeAuthResult;
  /** The user's place under the gateway's per-user limit, or why there was none. */
  slot?: UserSlot | RealtimeError;
  /** Positions the client resumes its connect-time streams from (query string, SPEC.md §11). */
  resumeFrom?: ResumeFrom;
}

interface RegisteredGateway {
  server: GatewayServer;
  definition: GatewayDefinition;
  limits: ConnectionLimits;
}

interface ConnectionHooks {
  onClose: Array<() => void>;
  /** When its token expires (epoch ms), while scheduled. */
  expiresAt?: number;
  slot?: UserSlot;
  /** Whether its connect line was written (its disconnect is logged only then). */
  announced?: boolean;
  /** Let in without a principal: its TCP socket, still counted as pending, and its deadline to authenticate. */
  anonymous?: { socket: Socket; deadline: NodeJS.Timeout };
  gateway: RegisteredGateway;
}

/**
 * The shared transport of every gateway: it routes upgrades by path, refuses bad origins and
 * unknown paths before upgrading, authenticates, admits within the gateway's limits, hands
 * frames to the inbound pipeline, runs the heartbeats, and shuts down gracefully. Gateways only
 * see admitted `Connection`s and parsed frames.
 */
@Injectable()
export class RealtimeTransport implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly log = new LifecycleLog();
  private readonly router = new GatewayRouter();
  private readonly inbound: InboundPipeline;
  private readonly wss: WebSocketServer;
  private readonly gateways = new Map<GatewayName, RegisteredGateway>();
  private readonly hooks = new WeakMap<Connection, ConnectionHooks>();
  private readonly expiries = new ExpirySchedule<Connection>((connection) =>
    connection.close(CloseCode.UNAUTHENTICATED, 'Token expired'),
  );
  private readonly attached = new Set<Server>();
  private heartbeat?: NodeJS.Timeout;
  private shuttingDown = false;
  private readonly upgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer): void =>
    this.handleUpgrade(request, socket, head);
  private readonly connectionListener = (socket: Socket): void => this.pending.accepted(socket);
  private readonly requestListener = (request: IncomingMessage, response: ServerResponse): void => {
    this.pending.settled(request.socket);
    this.openRequests.opened(request, response);
  };
  /** Shared by every admitted socket: each finds its connection on itself. */
  private readonly socketListeners = {
    error: sharedListener((socket: RealtimeSocket, error: Error & { code?: string }) =>
      this.log.info('socket_error', { gateway: socket.connection?.gateway, reason: error.code ?? error.message }),
    ),
    pong: sharedListener((socket: RealtimeSocket) => socket.connection?.pongReceived(Date.now())),
    close: sharedListener((socket: RealtimeSocket, code: number) => {
      const connection = socket.connection;
      const hooks = connection && this.hooks.get(connection);
      if (connection && hooks) this.release(connection, hooks, code);
    }),
  };
  private readonly refusals: RefusalLog;
  private readonly pending: PendingConnections;
  private readonly openRequests: OpenRequests;
  private readonly sharedBudgets: SharedByteBudgets;

  constructor(
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    /** Each gateway reads its limits from its own section of these. */
    @Inject(REALTIME_MODULE_OPTIONS) private readonly moduleOptions: object,
    private readonly auth: UpgradeAuthenticator,
    private readonly registry: ConnectionRegistry,
    private readonly traffic: TrafficStats,
    private readonly userSlots: UserSlots,
    private readonly cluster: ClusterView,
    private readonly address: ClientAddress,
  ) {
    this.refusals = new RefusalLog(this.log);
    this.pending = new PendingConnections(
      { perIp: config.maxPendingUpgradesPerIp, total: config.maxPendingUpgrades, headerTimeoutMs: HEADER_TIMEOUT_MS },
      (peer) => address.isProxy(peer),
      (reason, ip) => this.refusals.refused(reason, ip, {}),
    );
    this.openRequests = new OpenRequests(
      { perIp: config.maxPendingUpgradesPerIp, total: config.maxPendingUpgrades, bodyTimeoutMs: HEADER_TIMEOUT_MS },
      (peer) => address.isProxy(peer),
      (reason, ip) => this.refusals.refused(reason, ip, {}),
    );
    this.sharedBudgets = new SharedByteBudgets({
      perUser: config.rateLimitBytesPerSecPerUser,
      perIp: config.rateLimitBytesPerSecPerIp,
      burst: config.messageMaxSize,
    });
    this.inbound = new InboundPipeline(
      {
        maxJsonDepth: config.maxJsonDepth,
        maxJsonElements: config.maxJsonElements,
        maxBacklog: Math.ceil(config.rateLimitPerSec * 2),
      },
      this.sharedBudgets,
      this.log,
      this.refusals,
    );
    this.wss = new WebSocketServer({
      noServer: true,
      maxPayload: config.messageMaxSize,
      perMessageDeflate: false,
      clientTracking: false,
      WebSocket: RealtimeSocket,
    });
  }

  /** One maximal frame (SPEC.md §10.1), or one second's budget when that is more. */
  private get byteBurst(): number {
    return Math.max(this.config.messageMaxSize, this.config.rateLimitBytesPerSec);
  }

  get isShuttingDown(): boolean {
    return this.shuttingDown;
  }

  /** Starts routing the upgrades of `server` to the registered gateways. */
  attach(server: Server): void {
    if (this.attached.has(server)) return;
    this.attached.add(server);
    server.on(connectionEvent(server), this.connectionListener);
    // Before the app's own listener: a request over the bounds is dropped before anything reads it.
    server.prependListener('request', this.requestListener);
    server.on('upgrade', this.upgradeListener);
    this.heartbeat ??= setInterval(() => this.beat(), this.config.heartbeatIntervalMs).unref();
  }

  detach(): void {
    for (const server of this.attached) {
      server.off(connectionEvent(server), this.connectionListener);
      server.off('request', this.requestListener);
      server.off('upgrade', this.upgradeListener);
    }
    this.attached.clear();
    this.refusals.close();
    this.sharedBudgets.close();
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.expiries.clear();
  }

  /** Serves `definition.paths` from now on, within the gateway's limits. */
  registerGateway(definition: GatewayDefinition): GatewayServer {
    const server = new GatewayServer(definition);
    this.gateways.set(definition.gateway, { server, definition, limits: definition.limits(this.moduleOptions) });
    this.router.add(definition);
    return server;
  }

  /** Wires a gateway's handlers to the connection's inbound pipeline. */
  bindHandlers(connection: Connection, handlers: BoundHandlers): void {
    this.inbound.bind(connection, handlers);
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
    // Terminated sockets report their close on a later turn: their leaves go out before the cluster is left.
    while (this.registry.size > 0 && Date.now() < deadline + TERMINATE_SETTLE_MS) await sleep(10);
    await this.cluster.withdraw();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.shutdown();
  }

  onApplicationShutdown(): void {
    this.detach();
  }

  private handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    // A module function, not a closure: a closure here would keep the request and its URL for the socket's life.
    socket.on('error', destroyOnError);
    this.pending.headersReceived(socket as Socket);
    const url = new URL(request.url ?? '/', 'ws://localhost');
    // `new URL` resolves `..`: such a path is refused, never routed to another gateway.
    const route = hasDotSegment(request.url ?? '/') ? undefined : this.router.match(url.pathname);
    const gateway = route && this.gateways.get(route.gateway);
    if (this.shuttingDown) return rejectUpgrade(socket, 503, 'Server shutting down');
    if (!route || !gateway) return rejectUpgrade(socket, 404, 'Not Found');
    if (!this.originAllowed(request.headers.origin)) {
      this.refusals.refused('origin_refused', this.address.of(request), {
        gateway: route.gateway,
        origin: request.headers.origin,
      });
      return rejectUpgrade(socket, 403, 'Forbidden');
    }
    const authResult = this.auth.authenticate(request, url);
    // Claimed before the upgrade, so no frame can arrive while the cluster is asked.
    void this.claimSlot(gateway, authResult.principal, route).then((slot) => {
      if (this.shuttingDown) {
        releaseSlot(slot);
        return rejectUpgrade(socket, 503, 'Server shutting down');
      }
      let accepted = false;
      // The 101 response waits, corked, for the connection's first frames: one write for both.
      socket.cork();
      this.wss.handleUpgrade(request, socket, head, (ws) => {
        accepted = true;
        this.accept({ ws, request, route, gateway, authResult, slot, resumeFrom: resumeFromQuery(url.searchParams) });
      });
      // `ws` completes (or drops) the upgrade synchronously: a socket gone meanwhile gives its slot back.
      if (!accepted) {
        socket.uncork();
        releaseSlot(slot);
      }
    });
  }

  /**
   * SPEC.md §9: the per-user limit counts the user's connections on every instance (one round trip).
   * A user at the limit who reconnects under a connection id they already hold (a notify client id)
   * is let in: the connection it replaces leaves.
   */
  private async claimSlot(
    gateway: RegisteredGateway,
    principal: Principal | undefined,
    route: RouteMatch,
  ): Promise<UserSlot | RealtimeError | undefined> {
    const limit = gateway.limits.perUser;
    if (principal === undefined || limit === undefined) return undefined;
    const name = gateway.definition.gateway;
    const slot = await this.userSlots.claim(name, principal.sub, limit);
    if (!(slot instanceof RealtimeError)) return slot;
    const idParam = gateway.definition.connectionIdParam;
    const id = idParam === undefined ? undefined : route.params[idParam];
    if (id === undefined || !(await this.heldBy(name, id, principal.sub))) return slot;
    return this.userSlots.claim(name, principal.sub, limit + 1);
  }

  /** Whether user `sub` has a connection of `gateway` with this id, here or on another instance. */
  private async heldBy(gateway: GatewayName, id: string, sub: string): Promise<boolean> {
    const local = this.registry.get(id);
    if (local) return local.gateway === gateway && local.principal?.sub === sub;
    const elsewhere = await this.cluster.clientsElsewhere();
    return elsewhere.some((client) => client.gateway === gateway && client.id === id && String(client.user_id) === sub);
  }

  private accept({ ws, request, route, gateway, authResult, slot, resumeFrom }: Upgrade): void {
    const protocol = gateway.definition;
    // `ws` handles the TCP socket's errors from now on.
    request.socket.off('error', destroyOnError);
    ws.on('error', this.socketListeners.error);
    const connection = Connection.corkedAtUpgrade({
      socket: ws,
      ip: this.address.of(request),
      userAgent: clipClientString(String(request.headers['user-agent'] ?? '')),
      protocol,
      id: protocol.connectionIdParam === undefined ? undefined : route.params[protocol.connectionIdParam],
      params: route.params,
      resumeFrom,
      principal: authResult.principal,
      rateLimiter: new TokenBucket(this.config.rateLimitPerSec, this.config.rateLimitPerSec * 2),
      byteBudget: new TokenBucket(this.config.rateLimitBytesPerSec, this.byteBurst),
      limits: this.config,
      traffic: this.traffic.of(protocol.gateway),
    });
    (ws as RealtimeSocket).connection = connection;
    if (authResult.error && !(authResult.anonymous && protocol.allowsAnonymous)) {
      connection.traffic.authFailures++;
      this.refusals.refused('auth_failed', connection.ip, {
        gateway: protocol.gateway,
        reason: authResult.error.message,
      });
      releaseSlot(slot);
      return connection.refuse(authResult.error);
    }
    const overLimit = slot instanceof RealtimeError ? slot : this.registry.admit(connection, gateway.limits);
    if (overLimit) {
      releaseSlot(slot);
      this.refusals.refused('limit_hit', connection.ip, { gateway: protocol.gateway, user: connection.principal?.sub });
      return connection.refuse(overLimit);
    }
    const hooks = this.track(connection, gateway, slot instanceof UserSlot ? slot : undefined);
    // Until it authenticates, a connection without a principal stays a pending socket of its IP (SPEC.md §5).
    if (connection.principal) this.pending.settled(request.socket);
    else hooks.anonymous = { socket: request.socket, deadline: this.authenticationDeadline(connection) };
    gateway.server.emit('connection', connection, request);
    this.announce(connection, hooks, redactUrl(request.url));
  }

  private track(connection: Connection, gateway: RegisteredGateway, slot: UserSlot | undefined): ConnectionHooks {
    const hooks: ConnectionHooks = { onClose: [], slot, gateway };
    this.hooks.set(connection, hooks);
    this.closeAtExpiry(connection, hooks);
    connection.socket.on('pong', this.socketListeners.pong);
    connection.socket.on('close', this.socketListeners.close);
    return hooks;
  }

  /** The connect line, once the gateway has opened the connection: one it refused was never connected. */
  private announce(connection: Connection, hooks: ConnectionHooks, url: string): void {
    const write = (): void => {
      if (connection.refused || !this.hooks.has(connection)) return;
      hooks.announced = true;
      this.log.info('connect', { ...this.describe(connection), url });
    };
    if (connection.opening) void connection.opening.then(write);
    else write();
  }

  private authenticationDeadline(connection: Connection): NodeJS.Timeout {
    return setTimeout(() => {
      this.refusals.refused('auth_failed', connection.ip, { gateway: connection.gateway, reason: 'deadline' });
      connection.refuse(AUTH_REQUIRED);
    }, AUTHENTICATION_DEADLINE_MS).unref();
  }

  /**
   * A connection that authenticated after the upgrade (checkpoint `authenticate`): it now takes a
   * place under its gateway's total, no longer counts as a pending socket of its IP, and the same
   * expiry rule applies. When the gateway is full, returns the refusal: the caller answers with it,
   * and the connection is closed with the gateway's refusal code right after.
   */
  authenticated(connection: Connection, principal: Principal): RealtimeError | undefined {
    const hooks = this.hooks.get(connection);
    if (!hooks) return AUTH_REQUIRED;
    const full = this.registry.authenticated(connection, hooks.gateway.limits);
    if (full) {
      // In the gateway's words (the checkpoint's `Server at capacity`), answered by the caller first.
      const { code, reason } = connection.protocol.refusal(full);
      connection.refused = true;
      setImmediate(() => connection.close(code, reason));
      return new RealtimeError(full.kind, reason);
    }
    connection.principal = principal;
    if (hooks.anonymous) {
      clearTimeout(hooks.anonymous.deadline);
      this.pending.settled(hooks.anonymous.socket);
      hooks.anonymous = undefined;
    }
    this.closeAtExpiry(connection, hooks);
    return undefined;
  }

  /** SPEC.md §2: closed with 4401 `Token expired` once `exp` (plus the clock tolerance) passes. */
  private closeAtExpiry(connection: Connection, hooks: ConnectionHooks): void {
    this.cancelExpiry(connection, hooks);
    const exp = connection.principal?.exp;
    if (exp === undefined) return;
    hooks.expiresAt = (exp + this.config.auth.clockToleranceSec) * 1000;
    this.expiries.add(connection, hooks.expiresAt);
  }

  private cancelExpiry(connection: Connection, hooks: ConnectionHooks): void {
    if (hooks.expiresAt !== undefined) this.expiries.delete(connection, hooks.expiresAt);
    hooks.expiresAt = undefined;
  }

  private release(connection: Connection, hooks: ConnectionHooks, code: number): void {
    this.hooks.delete(connection);
    this.cancelExpiry(connection, hooks);
    if (hooks.anonymous) clearTimeout(hooks.anonymous.deadline);
    for (const callback of hooks.onClose) {
      try {
        callback();
      } catch (error) {
        this.log.error('disconnect_handler_failed', { gateway: connection.gateway, reason: (error as Error).message });
      }
    }
    this.registry.remove(connection);
    hooks.slot?.release();
    connection.traffic.closed(connection.closeCode ?? code);
    if (!hooks.announced) return;
    this.log.info('disconnect', {
      ...this.describe(connection),
      code: connection.closeCode ?? code,
      duration_ms: Date.now() - connection.connectedAt,
    });
  }

  private beat(): void {
    const silentSince = Date.now() - this.config.heartbeatTimeoutMs;
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

  private originAllowed(origin: string | undefined): boolean {
    const allowed = this.config.allowedOrigins;
    return allowed.length === 0 || origin === undefined || allowed.includes(origin);
  }

  private describe(connection: Connection): Record<string, string | undefined> {
    return { gateway: connection.gateway, id: connection.id, user: connection.principal?.sub, ip: connection.ip };
  }
}

const STATUS_TEXT: Record<number, string> = { 403: 'Forbidden', 404: 'Not Found', 503: 'Service Unavailable' };

/** The socket a request will carry: TLS servers hand it over once the handshake is done. */
function connectionEvent(server: Server): 'connection' | 'secureConnection' {
  return server instanceof TlsServer ? 'secureConnection' : 'connection';
}

function rejectUpgrade(socket: Duplex, status: number, body: string): void {
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status]}\r\nConnection: close\r\nContent-Type: text/plain\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
}

function releaseSlot(slot: UserSlot | RealtimeError | undefined): void {
  if (slot instanceof UserSlot) slot.release();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}
