import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import type { Positions, ResumeFrom } from '../../bus/stream-position.js';
import type { Principal } from '../auth/principal.js';
import type { GatewayProtocol } from '../gateway/gateway-definition.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import { AUTH_REQUIRED, CloseCode, type RealtimeError } from '../gateway/realtime-error.js';
import type { GatewayTraffic } from './gateway-traffic.js';
import { OutboundBudget, type OutboundLimits } from './outbound-budget.js';
import type { PreparedFrame } from './prepared-frame.js';
import type { TokenBucket } from './token-bucket.js';
import { openingBatch, writeBatch, type TurnWriter } from './write-batch.js';
import { rawSocketOf, writeFramed, type RawSocket } from './ws-internals.js';

/** How long a socket the server closes gets to finish the close handshake before it is cut off (SPEC.md §10.1). */
const CLOSE_GRACE_MS = 2_000;
/** A turn's writes to one socket leave at its end, or once this many bytes are held (a burst to a slow reader). */
const TURN_FLUSH_BYTES = 16 * 1024;

export interface ConnectionInit {
  socket: WebSocket;
  /** The client's address as the transport determined it. */
  ip: string;
  userAgent: string;
  protocol: GatewayProtocol;
  params: Readonly<Record<string, string>>;
  /** Positions named in the upgrade's query string, when any. */
  resumeFrom?: ResumeFrom;
  principal: Principal | undefined;
  rateLimiter: TokenBucket;
  /** Inbound bytes per second, burst one maximal frame (SPEC.md §10.1). */
  byteBudget: TokenBucket;
  limits: OutboundLimits;
  /** Its gateway's counters on this instance. */
  traffic: GatewayTraffic;
  id?: string;
}

/** A broadcast held for a connection while it recovers a stream (SPEC.md §11). */
export interface HeldFrame {
  frame: PreparedFrame;
  positions?: Positions;
}

let nextSequence = 0;

/**
 * One client socket of any gateway, with the metadata the registry and admin views show,
 * its outbound backlog accounting, and its inbound rate limiter. Gateways talk to clients
 * only through this.
 */
export class Connection implements TurnWriter {
  readonly id: string;
  /** Monotonic per process: the pagination order of the admin views. */
  readonly sequence = ++nextSequence;
  /** Epoch milliseconds. */
  readonly connectedAt = Date.now();
  lastSeenAt = Date.now();
  messagesIn = 0;
  messagesOut = 0;
  /** Rooms or subscriptions, maintained by the registry. */
  readonly topics = new Set<string>();
  /** Gateway-specific state (e.g. the checkpoint gateway's authentication). */
  readonly state: Record<string, unknown> = {};
  readonly ip: string;
  readonly userAgent: string;
  closeCode?: number;
  /** Turned away at the door or while opening (`refuse`). */
  refused = false;
  /** Round trip of the last answered protocol ping, in milliseconds. */
  latencyMs?: number;
  /** Set while a join recovers a stream's history: broadcasts wait here, to follow the missed events. */
  held?: HeldFrame[];
  /** Set while the gateway is still opening the connection: frames wait for it, in order. */
  opening?: Promise<void>;
  private pingSentAt?: number;

  private readonly outbound: OutboundBudget;
  private overflowed = false;
  /** While corked for this turn: what the kernel had not taken when the turn's first write came. */
  private turnBacklog?: number;
  private turnBytes = 0;

  readonly socket: WebSocket;
  readonly protocol: GatewayProtocol;
  readonly params: Readonly<Record<string, string>>;
  readonly resumeFrom?: ResumeFrom;
  principal: Principal | undefined;
  readonly rateLimiter: TokenBucket;
  readonly byteBudget: TokenBucket;
  readonly traffic: GatewayTraffic;

  constructor(init: ConnectionInit) {
    this.id = init.id ?? randomUUID();
    this.socket = init.socket;
    this.protocol = init.protocol;
    this.params = init.params;
    if (init.resumeFrom) this.resumeFrom = init.resumeFrom;
    this.principal = init.principal;
    this.rateLimiter = init.rateLimiter;
    this.byteBudget = init.byteBudget;
    this.outbound = new OutboundBudget(init.limits);
    this.traffic = init.traffic;
    this.ip = init.ip;
    this.userAgent = init.userAgent;
  }

  /**
   * A connection whose socket the transport corked before the 101 response: what the gateway sends
   * while opening (its welcome, after the first reads) leaves with that response, in one write, once
   * the turn's microtasks are done (or sooner, once enough is held).
   */
  static corkedAtUpgrade(init: ConnectionInit): Connection {
    const connection = new Connection(init);
    connection.turnBacklog = 0;
    openingBatch.add(connection);
    return connection;
  }

  /** The principal, for handlers that need one; throws `Authentication required` when there is none. */
  requirePrincipal(): Principal {
    if (!this.principal) throw AUTH_REQUIRED;
    return this.principal;
  }

  /** Frames that arrive before `work` settles wait for it (e.g. an async access check at connect). */
  holdFramesUntil(work: Promise<unknown>): void {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.opening = settled;
    void settled.then(() => {
      if (this.opening === settled) this.opening = undefined;
    });
  }

  pingSent(now: number): void {
    this.pingSentAt = now;
  }

  pongReceived(now: number): void {
    if (!this.protocol.livenessByFrames) this.lastSeenAt = now;
    if (this.pingSentAt !== undefined) this.latencyMs = now - this.pingSentAt;
    this.pingSentAt = undefined;
  }

  /** Counts one inbound frame. */
  recordInbound(now: number): void {
    this.lastSeenAt = now;
    this.messagesIn++;
    this.traffic.messagesIn++;
  }

  get gateway(): GatewayName {
    return this.protocol.gateway;
  }

  get isOpen(): boolean {
    return this.socket.readyState === WebSocket.OPEN && !this.overflowed;
  }

  /** Unsent bytes: what `ws` and the socket hold beyond what the kernel took. */
  get backlogBytes(): number {
    return this.socket.bufferedAmount;
  }

  send(frame: object): boolean {
    return this.sendJson(JSON.stringify(frame));
  }

  sendError(error: RealtimeError, inReplyTo?: Record<string, unknown>): boolean {
    this.traffic.errors[error.kind]++;
    return this.send(this.protocol.errorFrame(error, inReplyTo));
  }

  sendJson(json: string): boolean {
    const bytes = Buffer.byteLength(json);
    if (!this.admit(bytes)) return false;
    this.corkForTurn();
    this.socket.send(json);
    this.countOutbound(bytes);
    return true;
  }

  /** Writes an already framed broadcast without copying it. */
  sendPrepared(frame: PreparedFrame): boolean {
    if (!this.admit(frame.byteLength)) return false;
    this.corkForTurn();
    if (!writeFramed(this.socket, frame.framed)) this.socket.send(frame.payload, { binary: false });
    this.countOutbound(frame.byteLength);
    return true;
  }

  /**
   * Holds a broadcast while a join recovers its streams (`held` is set); past `maxQueueSize`
   * held, the connection is closed as a slow consumer (1013) instead of growing memory.
   */
  hold(item: HeldFrame): void {
    if (!this.held || !this.isOpen) return;
    if (this.held.length >= this.outbound.limits.maxQueueSize) this.closeForOverflow();
    else this.held.push(item);
  }

  /** @internal The turn is over: what it wrote leaves in one `writev`. */
  endTurn(): void {
    if (this.turnBacklog === undefined) return;
    this.turnBacklog = undefined;
    this.turnBytes = 0;
    this.rawSocket?.uncork();
  }

  /** Call after writing: a message the kernel did not take at once joins the backlog. */
  private countOutbound(bytes: number): void {
    this.outbound.written(this.kernelBacklog);
    this.messagesOut++;
    this.traffic.messagesOut++;
    this.turnBytes += bytes;
    if (this.turnBacklog !== undefined && this.turnBytes >= TURN_FLUSH_BYTES) {
      this.endTurn();
      this.corkForTurn();
    }
  }

  /** The first write of a turn corks the socket until the turn ends (or enough is held). */
  private corkForTurn(): void {
    if (this.turnBacklog !== undefined) return;
    const raw = this.rawSocket;
    if (!raw) return;
    this.turnBacklog = this.socket.bufferedAmount;
    raw.cork();
    writeBatch.add(this);
  }

  private get rawSocket(): RawSocket | undefined {
    return rawSocketOf(this.socket);
  }

  /** What the kernel has not taken; while corked, what it had not taken when the turn began. */
  private get kernelBacklog(): number {
    return this.turnBacklog ?? this.socket.bufferedAmount;
  }

  /** Closes with `code`; a client that does not finish the close handshake within 2 s is cut off. */
  close(code: number, reason: string): void {
    if (this.socket.readyState >= WebSocket.CLOSING) return;
    this.closeCode ??= code;
    this.socket.close(code, reason);
    const cutOff = setTimeout(() => this.terminate(), CLOSE_GRACE_MS).unref();
    this.socket.once('close', () => clearTimeout(cutOff));
  }

  /**
   * Turned away in the gateway's own words (its refusal frame, then SPEC.md's close code): a
   * refused connection is logged as a refusal only, not as a connect and a disconnect.
   */
  refuse(error: RealtimeError): void {
    const { frame, code, reason } = this.protocol.refusal(error);
    this.refused = true;
    this.send(frame);
    this.close(code, reason);
  }

  terminate(): void {
    this.socket.terminate();
  }

  private admit(bytes: number): boolean {
    if (!this.isOpen) return false;
    if (this.outbound.admits(this.socket.bufferedAmount, bytes, this.kernelBacklog)) return true;
    this.closeForOverflow();
    return false;
  }

  private closeForOverflow(): void {
    this.overflowed = true;
    this.traffic.slowConsumerCloses++;
    this.close(CloseCode.TRY_AGAIN_LATER, 'Message queue overflow');
  }
}
