import {
  Inject,
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationShutdown,
  type OnModuleDestroy,
} from '@nestjs/common';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { Server as TlsServer } from 'node:tls';
import type { Duplex } from 'node:stream';
import { REALTIME_CONFIG, type RealtimeConfig } from '../../config/index.js';
import { REALTIME_MODULE_OPTIONS } from '../gateway/module-options.js';
import type { Principal } from '../auth/principal.js';
import { Authentication } from '../auth/authentication.service.js';
import { bearerWithoutSubprotocol } from '../auth/upgrade-credentials.js';
import { DEFAULT_TOKEN_REFRESH } from '../gateway/token-refresh-frames.js';
import { TokenRefresh } from './token-refresh.js';
import { UpgradeAuthenticator } from '../auth/upgrade-authenticator.js';
import type { GatewayDefinition } from '../gateway/gateway-definition.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import type { RealtimeError } from '../gateway/realtime-error.js';
import { LifecycleLog } from '../logging/lifecycle-log.js';
import { RefusalLog } from '../logging/refusal-log.js';
import { ClusterView } from '../cluster/cluster-view.service.js';
import { UserSlots } from '../cluster/user-slots.service.js';
import { ConnectionRegistry } from '../registry/connection-registry.service.js';
import { ClientAddress } from './client-address.service.js';
import type { Connection } from './connection.js';
import { ConnectionFactory } from './connection-factory.js';
import { ConnectionLifecycle } from './connection-lifecycle.js';
import { GatewayRouter } from './gateway-router.js';
import { GatewayServer } from './gateway-server.js';
import { Heartbeat } from './heartbeat.js';
import { InboundPipeline, type BoundHandlers, type FrameHandler } from './inbound-pipeline.js';
import { OpenRequests } from './open-requests.js';
import { PendingConnections } from './pending-connections.js';
import type { RegisteredGateway } from './registered-gateway.js';
import { SharedByteBudgets } from './shared-byte-budgets.js';
import { ConnectionAdmission, destroyOnError } from './connection-admission.js';
import { ShutdownDrain } from './shutdown-drain.js';
import { TrafficStats } from './traffic-stats.service.js';
import { rejectUpgrade, UpgradeGate } from './upgrade-gate.js';
import { UserSlotClaim } from './user-slot-claim.js';

const BEARER_NEEDS_PROTOCOL = 'Offer realtime.v1 beside a base64url.bearer subprotocol';
/** SPEC.md §10.1: an upgrade's headers, and a REST request with its body, must be complete within this. */
const HEADER_TIMEOUT_MS = 10_000;

/**
 * The shared transport of every gateway, coordinating its parts: on the host's HTTP server it
 * bounds sockets and requests before they are complete, passes each upgrade through the gate
 * (`UpgradeGate`), authenticates it, claims the user's place (`UserSlotClaim`), admits it within
 * the gateway's limits or refuses it in the gateway's words, then hands the connection to its
 * lifecycle (`ConnectionLifecycle`), its frames to the inbound pipeline and it to the heartbeat;
 * and it shuts down gracefully. Gateways only see admitted `Connection`s and parsed frames.
 */
@Injectable()
export class RealtimeTransport implements OnModuleDestroy, BeforeApplicationShutdown, OnApplicationShutdown {
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
  private readonly drain: ShutdownDrain;
  private readonly pending: PendingConnections;
  private readonly openRequests: OpenRequests;
  private readonly sharedBudgets: SharedByteBudgets;
  private readonly admission: ConnectionAdmission;
  private readonly attached = new Set<Server>();
  private shuttingDown = false;
  private drained?: Promise<void>;
  private readonly upgradeListener = (request: IncomingMessage, socket: Duplex, head: Buffer): void =>
    this.handleUpgrade(request, socket, head);
  private readonly connectionListener = (socket: Socket): void => this.pending.accepted(socket);
  private readonly requestListener = (request: IncomingMessage, response: ServerResponse): void => {
    this.pending.settled(request.socket);
    this.openRequests.opened(request, response);
  };

  constructor(
    @Inject(REALTIME_CONFIG) config: RealtimeConfig,
    /** Each gateway reads its limits from its own section of these. */
    @Inject(REALTIME_MODULE_OPTIONS) private readonly moduleOptions: object,
    private readonly auth: UpgradeAuthenticator,
    authentication: Authentication,
    registry: ConnectionRegistry,
    traffic: TrafficStats,
    userSlots: UserSlots,
    cluster: ClusterView,
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
    this.drain = new ShutdownDrain(config.shutdownDrainMs, registry, this.inbound, cluster, this.log);
    this.admission = new ConnectionAdmission(
      config,
      this.slots,
      this.connections,
      registry,
      this.lifecycle,
      this.log,
      this.refusals,
      () => this.shuttingDown,
    );
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

  /** SPEC.md §9: health turns 503 and upgrades are refused at once, then the drain (`ShutdownDrain`). */
  shutdown(): Promise<void> {
    this.shuttingDown = true;
    return (this.drained ??= this.drain.run());
  }

  /** The first hook of a shutdown: from here on health is 503 and upgrades are refused. */
  onModuleDestroy(): void {
    this.shuttingDown = true;
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
      void authResult.then((result) => this.admission.admit(request, socket, head, decision, result));
    else this.admission.admit(request, socket, head, decision, authResult);
  }
}

/** The socket a request will carry: TLS servers hand it over once the handshake is done. */
function connectionEvent(server: Server): 'connection' | 'secureConnection' {
  return server instanceof TlsServer ? 'secureConnection' : 'connection';
}

function refuseWhileStopping(_request: IncomingMessage, socket: Duplex): void {
  socket.on('error', destroyOnError);
  rejectUpgrade(socket, 503, 'Server shutting down');
}
