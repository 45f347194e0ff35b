import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import WebSocket, { WebSocketServer } from 'ws';
import type { RealtimeConfig } from '../../config/index.js';
import { resumeFromQuery, type ResumeFrom } from '../../bus/stream-position.js';
import type { UpgradeAuthResult } from '../auth/upgrade-authenticator.js';
import { selectSubprotocol } from '../auth/upgrade-credentials.js';
import { UserSlot } from '../cluster/user-slots.service.js';
import { RealtimeError } from '../gateway/realtime-error.js';
import type { LifecycleLog } from '../logging/lifecycle-log.js';
import { redactUrl } from '../logging/redact.js';
import type { RefusalLog } from '../logging/refusal-log.js';
import type { ConnectionRegistry } from '../registry/connection-registry.service.js';
import type { ConnectionFactory } from './connection-factory.js';
import type { ConnectionLifecycle } from './connection-lifecycle.js';
import type { RouteMatch } from './gateway-router.js';
import { RealtimeSocket } from './realtime-socket.js';
import type { RegisteredGateway } from './registered-gateway.js';
import { sharedListener } from './shared-listener.js';
import { rejectUpgrade, type GateDecision } from './upgrade-gate.js';
import { releaseSlot, type SlotClaim, type UserSlotClaim } from './user-slot-claim.js';

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
 * The end of an upgrade the gate let through and the authenticator answered: the user's place is
 * claimed, `ws` completes the upgrade (selecting `realtime.v1` for a bearer subprotocol), and the
 * connection is admitted within its gateway's limits, or refused in the gateway's words (SPEC.md §2).
 */
export class ConnectionAdmission {
  private readonly wss: WebSocketServer;
  /** Shared by every admitted socket: each finds its connection on itself. */
  private readonly socketErrorListener = sharedListener((socket: RealtimeSocket, error: Error & { code?: string }) =>
    this.log.info('socket_error', { gateway: socket.connection?.gateway, reason: error.code ?? error.message }),
  );

  constructor(
    config: RealtimeConfig,
    private readonly slots: UserSlotClaim,
    private readonly connections: ConnectionFactory,
    private readonly registry: ConnectionRegistry,
    private readonly lifecycle: ConnectionLifecycle,
    private readonly log: LifecycleLog,
    private readonly refusals: RefusalLog,
    private readonly isShuttingDown: () => boolean,
  ) {
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

  /** Claims the user's place, then completes the upgrade (an authentication failure is told after it). */
  admit(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    { route, gateway, url }: Extract<GateDecision, { route: RouteMatch }>,
    authResult: UpgradeAuthResult,
  ): void {
    // Claimed before the upgrade, so no frame can arrive while the cluster is asked.
    void this.slots.claim(gateway, authResult.principal, route).then((slot) => {
      if (this.isShuttingDown()) {
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

/** Until `ws` owns the socket, an error on it ends it. */
export function destroyOnError(this: Duplex): void {
  this.destroy();
}
