import type { Socket } from 'node:net';
import type { Principal } from '../auth/principal.js';
import type { UserSlot } from '../cluster/user-slots.service.js';
import { AUTH_REQUIRED, CloseCode, RealtimeError } from '../gateway/realtime-error.js';
import { DEFAULT_TOKEN_REFRESH } from '../gateway/token-refresh-frames.js';
import type { LifecycleLog } from '../logging/lifecycle-log.js';
import type { RefusalLog } from '../logging/refusal-log.js';
import type { ConnectionRegistry } from '../registry/connection-registry.service.js';
import type { Connection } from './connection.js';
import { ExpirySchedule } from './expiry-schedule.js';
import type { PendingConnections } from './pending-connections.js';
import type { RealtimeSocket } from './realtime-socket.js';
import type { RegisteredGateway } from './registered-gateway.js';
import { sharedListener } from './shared-listener.js';

/** SPEC.md §2: a connection let in without a token has this long to authenticate. */
const AUTHENTICATION_DEADLINE_MS = 10_000;

interface ConnectionHooks {
  gateway: RegisteredGateway;
  onClose: Array<() => void>;
  /** When its token expires (epoch ms), while scheduled. */
  expiresAt?: number;
  /** When it is told to refresh (epoch ms), while scheduled. */
  noticeAt?: number;
  slot?: UserSlot;
  /** Whether its connect line was written (its disconnect is logged only then). */
  announced?: boolean;
  /** Let in without a principal: its TCP socket, still counted as pending, and its deadline to authenticate. */
  anonymous?: { socket: Socket; deadline: NodeJS.Timeout };
}

/**
 * An admitted connection from its admission to its release: the connect and disconnect lines (a
 * connection refused while opening has neither), its token's expiry (4401 `Token expired`), the
 * deadline of one let in without a token, a late authentication, the close callbacks, and, at the
 * close, everything it held given back (registry, user slot).
 */
export class ConnectionLifecycle {
  private readonly hooks = new WeakMap<Connection, ConnectionHooks>();
  private readonly expiries = new ExpirySchedule<Connection>((connection) =>
    connection.close(CloseCode.UNAUTHENTICATED, 'Token expired'),
  );
  private readonly notices = new ExpirySchedule<Connection>((connection) => this.noticeExpiry(connection));
  /** Shared by every admitted socket: each finds its connection on itself. */
  private readonly socketListeners = {
    pong: sharedListener((socket: RealtimeSocket) => socket.connection?.pongReceived(Date.now())),
    close: sharedListener((socket: RealtimeSocket, code: number) => {
      const connection = socket.connection;
      const hooks = connection && this.hooks.get(connection);
      if (connection && hooks) this.release(connection, hooks, code);
    }),
  };

  constructor(
    private readonly expiry: { clockToleranceSec: number; expiryNoticeSec: number },
    private readonly registry: ConnectionRegistry,
    private readonly pending: PendingConnections,
    private readonly log: LifecycleLog,
    private readonly refusals: RefusalLog,
  ) {}

  /**
   * Follows an admitted connection from now on. One without a principal stays a pending socket of
   * its address (SPEC.md §5) until it authenticates, within the deadline.
   */
  track(connection: Connection, gateway: RegisteredGateway, slot: UserSlot | undefined, tcp: Socket): void {
    const hooks: ConnectionHooks = { onClose: [], slot, gateway };
    this.hooks.set(connection, hooks);
    this.closeAtExpiry(connection, hooks);
    connection.socket.on('pong', this.socketListeners.pong);
    connection.socket.on('close', this.socketListeners.close);
    if (connection.principal) this.pending.settled(tcp);
    else hooks.anonymous = { socket: tcp, deadline: this.authenticationDeadline(connection) };
  }

  /** The connect line, once the gateway has opened the connection: one it refused was never connected. */
  announce(connection: Connection, url: string): void {
    const write = (): void => {
      const hooks = this.hooks.get(connection);
      if (connection.refused || !hooks) return;
      hooks.announced = true;
      this.log.info('connect', { ...describe(connection), url });
    };
    if (connection.opening) void connection.opening.then(write);
    else write();
  }

  onClose(connection: Connection, callback: () => void): void {
    this.hooks.get(connection)?.onClose.push(callback);
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

  /**
   * A live connection presented a new token of the same subject (SPEC.md §2, refresh): its new
   * principal and expiry; its limits, rooms and positions are untouched.
   */
  refreshed(connection: Connection, principal: Principal): void {
    const hooks = this.hooks.get(connection);
    if (!hooks) return;
    connection.principal = principal;
    this.closeAtExpiry(connection, hooks);
  }

  /** Forgets every scheduled expiry (the transport detaches). */
  clear(): void {
    this.expiries.clear();
    this.notices.clear();
  }

  private authenticationDeadline(connection: Connection): NodeJS.Timeout {
    return setTimeout(() => {
      this.refusals.refused('auth_failed', connection.ip, { gateway: connection.gateway, reason: 'deadline' });
      connection.refuse(AUTH_REQUIRED);
    }, AUTHENTICATION_DEADLINE_MS).unref();
  }

  /** SPEC.md §2: closed with 4401 `Token expired` once `exp` (plus the clock tolerance) passes. */
  private closeAtExpiry(connection: Connection, hooks: ConnectionHooks): void {
    this.cancelExpiry(connection, hooks);
    const exp = connection.principal?.exp;
    if (exp === undefined) return;
    hooks.expiresAt = (exp + this.expiry.clockToleranceSec) * 1000;
    this.expiries.add(connection, hooks.expiresAt);
    // The notice comes `expiryNoticeSec` before `exp`, or halfway through a shorter remaining lifetime.
    const remaining = exp * 1000 - Date.now();
    if (remaining <= 0) return;
    hooks.noticeAt = Math.ceil(exp * 1000 - Math.min(this.expiry.expiryNoticeSec * 1000, remaining / 2));
    this.notices.add(connection, hooks.noticeAt);
  }

  private cancelExpiry(connection: Connection, hooks: ConnectionHooks): void {
    if (hooks.expiresAt !== undefined) this.expiries.delete(connection, hooks.expiresAt);
    if (hooks.noticeAt !== undefined) this.notices.delete(connection, hooks.noticeAt);
    hooks.expiresAt = undefined;
    hooks.noticeAt = undefined;
  }

  /** `token_expiring` in the gateway's words: refresh now, or be closed 4401 at `exp`. */
  private noticeExpiry(connection: Connection): void {
    const hooks = this.hooks.get(connection);
    const exp = connection.principal?.exp;
    if (!hooks || exp === undefined) return;
    hooks.noticeAt = undefined;
    const wording = connection.protocol.tokenRefresh ?? DEFAULT_TOKEN_REFRESH;
    connection.send(wording.expiring(exp * 1000, Math.max(0, Math.round(exp - Date.now() / 1000))));
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
      ...describe(connection),
      code: connection.closeCode ?? code,
      duration_ms: Date.now() - connection.connectedAt,
    });
  }
}

function describe(connection: Connection): Record<string, string | undefined> {
  return { gateway: connection.gateway, id: connection.id, user: connection.principal?.sub, ip: connection.ip };
}
