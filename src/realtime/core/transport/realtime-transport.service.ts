import { Inject, Injectable, type BeforeApplicationShutdown, type OnApplicationShutdown } from '@nestjs/common';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import { REALTIME_CONFIG, type RealtimeConfig } from '../../config/index.js';
import { REALTIME_MODULE_OPTIONS } from '../gateway/module-options.js';
import type { Principal } from '../auth/principal.js';
import { Authentication } from '../auth/authentication.service.js';
import { bearerWithoutSubprotocol, selectSubprotocol } from '../auth/upgrade-credentials.js';
import { DEFAULT_TOKEN_REFRESH } from '../gateway/token-refresh-frames.js';
import { TokenRefresh } from './token-refresh.js';
import { UpgradeAuthenticator, type UpgradeAuthResult } from '../auth/upgrade-authenticator.js';
import type { GatewayDefinition } from '../gateway/gateway-definition.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import { CloseCode, RealtimeError } from '../gateway/realtime-error.js';
import { LifecycleLog } from '../logging/lifecycle-log.js';
import { redactUrl } from '../logging/redact.js';
import { RefusalLog } from '../logging/refusal-log.js';
import { ClusterView } from '../cluster/cluster-view.service.js';
import { UserSlot, UserSlots } from '../cluster/user-slots.service.js';
import { resumeFromQuery, type ResumeFrom } from '../../bus/stream-position.js';
import { ConnectionRegistry } from '../registry/connection-registry.service.js';
import { ClientAddress } from './client-address.service.js';
import type { Connection } from './connection.js';
import { ConnectionFactory } from './connection-factory.js';
import { ConnectionLifecycle } from './connection-lifecycle.js';
import { GatewayRouter, type RouteMatch } from './gateway-router.js';
import { GatewayServer } from './gateway-server.js';
import { Heartbeat } from './heartbeat.js';
import { InboundPipeline, type BoundHandlers, type FrameHandler } from './inbound-pipeline.js';
import { OpenRequests } from './open-requests.js';
import { PendingConnections } from './pending-connections.js';
import { RealtimeSocket } from './realtime-socket.js';
import type { RegisteredGateway } from './registered-gateway.js';
import { SharedByteBudgets } from './shared-byte-budgets.js';
import { sharedListener } from './shared-listener.js';
import { TrafficStats } from './traffic-stats.service.js';
import { rejectUpgrade, UpgradeGate, type GateDecision } from './upgrade-gate.js';
import { releaseSlot, UserSlotClaim, type SlotClaim } from './user-slot-claim.js';

const SHUTDOWN_CLOSE_TIMEOUT_MS = 5_000;
/** A drain closes its connections in this many waves at most, evenly spread over `shutdownDrainMs`. */
const DRAIN_WAVES = 20;
/** How long a wave waits for a connection's request in flight to be answered before closing it. */
const IN_FLIGHT_WAIT_MS = 2_000;
const BEARER_NEEDS_PROTOCOL = 'Offer realtime.v1 beside a base64url.bearer subprotocol';
const TERMINATE_SETTLE_MS = 500;
/** SPEC.md §10.1: an upgrade's headers, and a REST request with its body, must be complete within this. */
const HEADER_TIMEOUT_MS = 10_000;

interface Upgrade {
  ws: WebSocket;
  request: IncomingMessage;
  route: RouteMatch;
  gateway: RegisteredGateway;
  authResult: UpgradeAuthResult;
  /** The user's place under the gateway's per-user limit, or why there was none. */
  slot: SlotClaim;
  /** Positions the client resumes its connect-time streams from (query string, SPEC.md §11). */
  resumeFrom?: ResumeFrom;
}

/**
 * The shared transport of every gateway, coordinating its parts: on the host's HTTP server it
 * bounds sockets and requests before they are complete, passes each upgrade through the gate
 * (`UpgradeGate`), authenticates it, claims the user's place (`UserSlotClaim`), admits it within
 * the gateway's limits or refuses it in the gateway's words, then hands the connection to its
 * lifecycle (`ConnectionLifecycle`), its frames to the inbound pipeline and it to the heartbeat;
 * and it shuts down gracefully. Gateways only see admitted `Connection`s and parsed frames.
 */
@Injectable()
export class RealtimeTransport implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly log = new LifecycleLog();
  private readonly router = new GatewayRouter();
  private readonly gateways = new Map<GatewayName, RegisteredGateway>();
  private readonly refusals = new RefusalLog(this.log);
  private readonly gate: UpgradeGate;
  private readonly slots: UserSlotClaim;
  private readonly lifecycle: ConnectionLifecycle;
  private readonly heartbeat: Heartbeat;
  private readonly connections: ConnectionFactory;
  private readonly inbound: InboundPipeline;
  private readonly tokenRefresh: TokenRefresh;
  private readonly pending: PendingConnections;
  private readonly openRequests: OpenRequests;
  private readonly sharedBudgets: SharedByteBudgets;
  private readonly wss: WebSocketServer;
  private readonly attached = new Set<Server>();
  private shuttingDown = false;
  private readonly upgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer): void =>
    this.handleUpgrade(request, socket, head);
  private readonly connectionListener = (socket: Socket): void => this.pending.accepted(socket);
  private readonly requestListener = (request: IncomingMessage, response: ServerResponse): void => {
    this.pending.settled(request.socket);
    this.openRequests.opened(request, response);
  };
  /** Shared by every admitted socket: each finds its connection on itself. */
  private readonly socketErrorListener = sharedListener((socket: RealtimeSocket, error: Error & { code?: string }) =>
    this.log.info('socket_error', { gateway: socket.connection?.gateway, reason: error.code ?? error.message }),
  );

  constructor(
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    /** Each gateway reads its limits from its own section of these. */
    @Inject(REALTIME_MODULE_OPTIONS) private readonly moduleOptions: object,
    private readonly auth: UpgradeAuthenticator,
    authentication: Authentication,
    private readonly registry: ConnectionRegistry,
    traffic: TrafficStats,
    userSlots: UserSlots,
    private readonly cluster: ClusterView,
    private readonly address: ClientAddress,
  ) {
    const bounds = { perIp: config.maxPendingUpgradesPerIp, total: config.maxPendingUpgrades };
    const isProxy = (peer: string): boolean => address.isProxy(peer);
    const dropped = (reason: string, ip: string | undefined): void => this.refusals.refused(reason, ip, {});
    this.pending = new PendingConnections({ ...bounds, headerTimeoutMs: HEADER_TIMEOUT_MS }, isProxy, dropped);
    this.openRequests = new OpenRequests({ ...bounds, bodyTimeoutMs: HEADER_TIMEOUT_MS }, isProxy, dropped);
    this.gate = new UpgradeGate(this.router, this.gateways, config.allowedOrigins, address, this.refusals);
    this.slots = new UserSlotClaim(userSlots, registry, cluster);
    this.lifecycle = new ConnectionLifecycle(config.auth, registry, this.pending, this.log, this.refusals);
    this.heartbeat = new Heartbeat(config, registry, this.log);
    this.tokenRefresh = new TokenRefresh(authentication, this.lifecycle, this.refusals);
    this.connections = new ConnectionFactory(config, address, traffic);
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
      // The 101 answer selects `realtime.v1`, never the bearer entry that carries the token.
      handleProtocols: selectSubprotocol,
    });
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
    this.heartbeat.start();
  }

  detach(): void {
    for (const server of this.attached) {
      server.off(connectionEvent(server), this.connectionListener);
      server.off('request', this.requestListener);
      server.off('upgrade', this.upgradeListener);
      // Until the server stops listening, a stopping instance answers upgrades 503, never the app's 404.
      if (this.shuttingDown) server.on('upgrade', refuseWhileStopping);
    }
    this.attached.clear();
    this.refusals.close();
    this.sharedBudgets.close();
    this.heartbeat.stop();
    this.lifecycle.clear();
  }

  /** Serves `definition.paths` from now on, within the gateway's limits. */
  registerGateway(definition: GatewayDefinition): GatewayServer {
    const server = new GatewayServer(definition);
    this.gateways.set(definition.gateway, {
      server,
      definition,
      limits: definition.limits?.(this.moduleOptions) ?? {},
    });
    this.router.add(definition);
    return server;
  }

  /** Wires a gateway's handlers to the connection's inbound pipeline. */
  bindHandlers(connection: Connection, handlers: BoundHandlers): void {
    this.inbound.bind(connection, handlers);
  }

  /** The module's own handlers a gateway gets unless it has one for the key: the token refresh. */
  builtInHandlers(connection: Connection): Array<{ message: string; callback: FrameHandler }> {
    const key = (connection.protocol.tokenRefresh ?? DEFAULT_TOKEN_REFRESH).messageKey;
    return [{ message: key, callback: this.tokenRefresh.handler(connection) }];
  }

  /**
   * A new token of the same subject for a live connection (a gateway's own refresh handler, e.g.
   * checkpoint `authenticate`): the new principal, or throws why it was refused.
   */
  refresh(connection: Connection, token: unknown): Promise<Principal> {
    return this.tokenRefresh.refresh(connection, token);
  }

  onClose(connection: Connection, callback: () => void): void {
    this.lifecycle.onClose(connection, callback);
  }

  /**
   * A connection that authenticated after the upgrade (checkpoint `authenticate`); the refusal when
   * its gateway is full (see `ConnectionLifecycle.authenticated`).
   */
  authenticated(connection: Connection, principal: Principal): RealtimeError | undefined {
    return this.lifecycle.authenticated(connection, principal);
  }

  /**
   * The drain of SPEC.md §9: health turns 503 and upgrades are refused at once; the connections, in
   * random order, are closed with 1012 in waves spread over `shutdownDrainMs` (all at once for 0),
   * each after its request in flight is answered, so that clients come back elsewhere without a
   * stampede; stragglers are terminated; the instance's cluster state is released.
   */
  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    const connections = shuffled(this.registry.list());
    const drainMs = this.config.shutdownDrainMs;
    this.log.info('shutdown', { connections: connections.length, drain_ms: drainMs });
    const waves = drainMs > 0 ? Math.max(1, Math.min(DRAIN_WAVES, connections.length)) : 1;
    const startedAt = Date.now();
    for (let wave = 0; wave < waves; wave++) {
      // Wave k leaves at k/(waves−1) of the drain: the first at once, the last at its end.
      const at = waves > 1 ? startedAt + (wave * drainMs) / (waves - 1) : startedAt;
      if (at > Date.now()) await sleep(at - Date.now());
      const slice = connections.slice(
        Math.floor((wave * connections.length) / waves),
        Math.floor(((wave + 1) * connections.length) / waves),
      );
      await Promise.all(slice.map((connection) => this.closeForRestart(connection)));
    }
    const deadline = Date.now() + SHUTDOWN_CLOSE_TIMEOUT_MS;
    while (this.registry.size > 0 && Date.now() < deadline) await sleep(25);
    for (const connection of this.registry.list()) connection.terminate();
    // Terminated sockets report their close on a later turn: their leaves go out before the cluster is left.
    while (this.registry.size > 0 && Date.now() < deadline + TERMINATE_SETTLE_MS) await sleep(10);
    await this.cluster.withdraw();
  }

  private async closeForRestart(connection: Connection): Promise<void> {
    await this.inbound.idle(connection, IN_FLIGHT_WAIT_MS);
    connection.close(CloseCode.SERVICE_RESTART, 'Server shutting down');
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
    // A socket that served a REST request first is pending again: no way around the bounds.
    if (!this.pending.reentered(socket as Socket)) return;
    this.pending.headersReceived(socket as Socket);
    const decision = this.gate.decide(request, this.shuttingDown);
    if ('status' in decision) return rejectUpgrade(socket, decision.status, decision.body);
    if (bearerWithoutSubprotocol(request)) return rejectUpgrade(socket, 400, BEARER_NEEDS_PROTOCOL);
    const authResult = this.auth.authenticate(request, decision.url, this.address.of(request));
    // The socket stays a pending one of its address while an authenticator answers (SPEC.md §10.1).
    if (authResult instanceof Promise)
      void authResult.then((result) => this.admit(request, socket, head, decision, result));
    else this.admit(request, socket, head, decision, authResult);
  }

  /** Claims the user's place, then completes the upgrade (an authentication failure is told after it). */
  private admit(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    { route, gateway, url }: Extract<GateDecision, { route: RouteMatch }>,
    authResult: UpgradeAuthResult,
  ): void {
    // Claimed before the upgrade, so no frame can arrive while the cluster is asked.
    void this.slots.claim(gateway, authResult.principal, route).then((slot) => {
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

  /** Admits the upgraded connection within the gateway's limits, or refuses it in the gateway's words. */
  private accept({ ws, request, route, gateway, authResult, slot, resumeFrom }: Upgrade): void {
    const protocol = gateway.definition;
    // `ws` handles the TCP socket's errors from now on.
    request.socket.off('error', destroyOnError);
    ws.on('error', this.socketErrorListener);
    const connection = this.connections.create(ws, request, route, protocol, authResult.principal, resumeFrom);
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
    this.lifecycle.track(connection, gateway, slot instanceof UserSlot ? slot : undefined, request.socket);
    gateway.server.emit('connection', connection, request);
    this.lifecycle.announce(connection, redactUrl(request.url));
  }
}

/** The socket a request will carry: TLS servers hand it over once the handshake is done. */
function connectionEvent(server: Server): 'connection' | 'secureConnection' {
  return server instanceof TlsServer ? 'secureConnection' : 'connection';
}

function shuffled<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function refuseWhileStopping(_request: IncomingMessage, socket: Duplex): void {
  socket.on('error', destroyOnError);
  rejectUpgrade(socket, 503, 'Server shutting down');
}

function destroyOnError(this: Duplex): void {
  this.destroy();
}
