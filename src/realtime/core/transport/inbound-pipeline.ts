import { isObservable, lastValueFrom } from 'rxjs';
import WebSocket, { type RawData } from 'ws';
import { FALLBACK_HANDLER, type InboundFrame } from '../gateway/gateway-definition.js';
import { AUTH_REQUIRED, CloseCode, RATE_LIMITED, RealtimeError } from '../gateway/realtime-error.js';
import type { LifecycleLog } from '../logging/lifecycle-log.js';
import type { RefusalLog } from '../logging/refusal-log.js';
import type { Connection } from './connection.js';
import { InboundFrameParser, RefusedFrame } from './inbound-frame.parser.js';
import type { RealtimeSocket } from './realtime-socket.js';
import type { SharedByteBudgets } from './shared-byte-budgets.js';
import { sharedListener } from './shared-listener.js';

/**
 * A gateway's message handler as Nest hands it over: called with the frame, returns the reply (a
 * value, a promise, or, when interceptors wrap the handler, an observable whose last value is it).
 */
export type FrameHandler = (frame: InboundFrame, key: string) => unknown;

/**
 * A connection's handlers: Nest binds each to the connection, but their keys are the gateway's, so
 * the key index is one map per gateway and a connection keeps only the array.
 */
export interface BoundHandlers {
  /** Message key → index in `callbacks`; shared by the gateway's connections. */
  keys: ReadonlyMap<string, number>;
  callbacks: readonly FrameHandler[];
}

const BINARY_REFUSED = RealtimeError.badFrame('Binary frames are not supported');
/** The longest a connection is not read from for a spent budget: the shared budgets' debt of a few maximal frames. */
const MAX_READ_PAUSE_MS = 5_000;
/** Past this many times the frame backlog, an RPC connection's answers-to-be stop its reading. */
const REPLY_BACKLOG_FACTOR = 4;
/**
 * Answers queued behind a running handler, at most: `ws` hands over every frame of one TCP read
 * in the same turn, before a pause takes effect, so a client far ahead of its answers is closed
 * (1008) rather than held in memory.
 */
const MAX_QUEUED = 2_000;

/** A frame waiting its turn, or an answer to a refused frame waiting its place in the order. */
type Queued = { data: RawData; isBinary: boolean } | { error: RealtimeError; inReplyTo?: InboundFrame };

/** Per connection: frames waiting behind a running handler, and when the last rate-limit notice went out. */
interface InboundState {
  handlers: BoundHandlers;
  /** Frames, and answers to dropped ones, waiting their turn: replies go out in the order frames came. */
  backlog?: Queued[];
  busy: boolean;
  lastRateLimitNoticeAt: number;
  /** Reading stopped until the backlog drains (an RPC client far ahead of its answers). */
  readingHeld?: boolean;
}

export interface InboundLimits {
  maxJsonDepth: number;
  maxJsonElements: number;
  /** Frames held per connection behind a running handler: the inbound burst. */
  maxBacklog: number;
}

/**
 * Every gateway's inbound path: rate limit, binary refusal, parsing (JSON, depth, hostile keys),
 * dispatch by the protocol's message key, and the reply. Frames of one connection are handled one
 * at a time, in order: a frame whose handler is still running (an async access check, say) holds
 * back the next, so `join_room` then `send_message` just works.
 */
export class InboundPipeline {
  private readonly parser: InboundFrameParser;
  private readonly states = new WeakMap<Connection, InboundState>();
  /** Every socket's `message` listener: one function, not a closure per socket. */
  private readonly messageListener = sharedListener((socket: RealtimeSocket, data: RawData, isBinary: boolean) => {
    const connection = socket.connection;
    const state = connection && this.states.get(connection);
    // A frame that arrives once the close has begun is not run: its answer could not be sent.
    if (state && socket.readyState === WebSocket.OPEN) this.receive(connection, state, data, isBinary);
  });

  private readonly maxBacklog: number;

  constructor(
    limits: InboundLimits,
    /** Per user, and per IP before authentication, across connections (SPEC.md §10.1). */
    private readonly sharedBudgets: SharedByteBudgets,
    private readonly log: LifecycleLog,
    private readonly summaries: RefusalLog,
  ) {
    this.parser = new InboundFrameParser({ maxDepth: limits.maxJsonDepth, maxElements: limits.maxJsonElements });
    this.maxBacklog = limits.maxBacklog;
  }

  /**
   * Resolves once `connection` has no handler running and no frame waiting (at once for an idle one),
   * or after `maxWaitMs`: a request in flight is answered before a drain closes its connection.
   */
  async idle(connection: Connection, maxWaitMs: number): Promise<void> {
    const state = this.states.get(connection);
    const deadline = Date.now() + maxWaitMs;
    while (state && (state.busy || state.backlog) && connection.socket.readyState === WebSocket.OPEN) {
      if (Date.now() >= deadline) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  bind(connection: Connection, handlers: BoundHandlers): void {
    const state: InboundState = { handlers, busy: false, lastRateLimitNoticeAt: 0 };
    this.states.set(connection, state);
    if (connection.opening) {
      state.busy = true;
      void connection.opening.then(() => this.resume(connection, state));
    }
    connection.socket.on('message', this.messageListener);
  }

  private receive(connection: Connection, state: InboundState, data: RawData, isBinary: boolean): void {
    const now = Date.now();
    connection.recordInbound(now);
    const bytes = byteLength(data);
    // The budgets are checked before anything is parsed: bytes per second (every frame read is
    // paid for), then frames per second.
    if (!this.takeBytes(connection, state, bytes, now)) return this.rateLimited(connection, state, undefined);
    // Before authentication only a small `authenticate` frame is worth reading (SPEC.md §5).
    const preAuthLimit = connection.protocol.unauthenticatedFrameLimit;
    const unreadable = preAuthLimit !== undefined && !connection.principal && bytes > preAuthLimit;
    if (!connection.rateLimiter.take(now) || (state.backlog?.length ?? 0) >= this.maxBacklog) {
      return this.rateLimited(connection, state, unreadable ? undefined : data);
    }
    if (unreadable) return this.answer(connection, state, { error: AUTH_REQUIRED });
    if (state.busy) {
      (state.backlog ??= []).push({ data, isBinary });
      return;
    }
    this.process(connection, state, data, isBinary);
  }

  /**
   * The connection's, then its user's (or, without a principal, its IP's) byte budget. Over either,
   * the connection is not read from until the budget is back (at most a second): what it sends
   * meanwhile waits in its TCP window, so a flood costs the server no more than the budget, not
   * even the unmasking of frames it would drop.
   */
  private takeBytes(connection: Connection, state: InboundState, bytes: number, now: number): boolean {
    const user = connection.principal?.sub;
    let waitMs = 0;
    if (!connection.byteBudget.take(now, bytes)) waitMs = connection.byteBudget.msUntil(bytes, now);
    else if (!this.sharedBudgets.take(user, connection.ip, bytes, now)) {
      waitMs = this.sharedBudgets.msUntilSolvent(user, connection.ip, now);
    } else return true;
    this.stopReading(connection, state, waitMs);
    return false;
  }

  private process(connection: Connection, state: InboundState, data: RawData, isBinary: boolean): void {
    if (isBinary) {
      connection.sendError(BINARY_REFUSED);
      return this.next(connection, state);
    }
    const frame = this.parser.parse((data as Buffer).toString());
    if (frame instanceof RefusedFrame) {
      connection.sendError(frame.error, frame.inReplyTo);
      return this.next(connection, state);
    }
    const key = connection.protocol.messageKey(frame);
    const { keys, callbacks } = state.handlers;
    const index = key === undefined ? undefined : (keys.get(key) ?? keys.get(FALLBACK_HANDLER));
    const handler = index === undefined ? undefined : callbacks[index];
    if (key === undefined || !handler) {
      connection.sendError(unknownType(key), frame);
      return this.next(connection, state);
    }
    state.busy = true;
    // A handler that throws at once is a rejection like any other: logged, and the next frame goes on.
    new Promise<unknown>((resolve) => resolve(handler(frame, key)))
      .then((result) => (isObservable(result) ? lastValueFrom(result, { defaultValue: undefined }) : result))
      .then(
        (reply) => {
          if (reply !== undefined && reply !== null) connection.send(reply);
        },
        (error: Error) =>
          this.log.error('handler_failed', { gateway: connection.gateway, type: key, reason: error.message }),
      )
      .finally(() => this.resume(connection, state));
  }

  private resume(connection: Connection, state: InboundState): void {
    state.busy = false;
    this.next(connection, state);
  }

  /** Sends the queued answers up to the next queued frame, and starts that one (a loop: answers can be many). */
  private next(connection: Connection, state: InboundState): void {
    while (state.backlog) {
      // A closed connection's queued frames are dropped: nothing is handled for a client that is gone.
      if (connection.socket.readyState === WebSocket.CLOSED) state.backlog.length = 0;
      const queued = state.backlog.shift();
      if (state.backlog.length === 0) state.backlog = undefined;
      if (state.readingHeld && (state.backlog?.length ?? 0) < this.maxBacklog) {
        state.readingHeld = false;
        connection.socket.resume();
      }
      if (!queued) return;
      if (!('error' in queued)) return this.process(connection, state, queued.data, queued.isBinary);
      connection.sendError(queued.error, queued.inReplyTo);
    }
  }

  /** An answer to a frame that will not be handled, in its place among the replies. */
  private answer(connection: Connection, state: InboundState, queued: Extract<Queued, { error: RealtimeError }>): void {
    if (!state.busy) {
      connection.sendError(queued.error, queued.inReplyTo);
      return;
    }
    const backlog = (state.backlog ??= []);
    if (backlog.length >= MAX_QUEUED) {
      connection.close(CloseCode.POLICY_VIOLATION, 'Too many pending requests');
      return;
    }
    backlog.push(queued);
    if (backlog.length >= this.maxBacklog * REPLY_BACKLOG_FACTOR && !state.readingHeld) {
      state.readingHeld = true;
      connection.socket.pause();
    }
  }

  /** Stops reading the connection for `ms` (at least 1, at most `MAX_READ_PAUSE_MS`); a held backlog keeps it stopped. */
  private stopReading(connection: Connection, state: InboundState, ms: number): void {
    if (connection.socket.isPaused) return;
    connection.socket.pause();
    const resume = (): void => {
      if (!state.readingHeld) connection.socket.resume();
    };
    setTimeout(resume, Math.min(Math.max(ms, 1), MAX_READ_PAUSE_MS)).unref();
  }

  /**
   * The excess frame is dropped. An RPC protocol answers each one under its id (when it was within
   * the byte budgets: else it is not read, and answered `unknown`); any other hears about it at
   * most once a second.
   */
  private rateLimited(connection: Connection, state: InboundState, data: RawData | undefined): void {
    connection.traffic.rateLimited++;
    const user = connection.principal?.sub;
    this.summaries.summarized(
      'rate_limited',
      user === undefined ? `ip:${connection.ip}` : `user:${user}`,
      { gateway: connection.gateway, user, ip: connection.ip },
      { user, ip: connection.ip },
    );
    if (connection.protocol.answersEveryRequest) {
      const frame = data === undefined ? undefined : this.readable(data);
      return this.answer(connection, state, { error: RATE_LIMITED, inReplyTo: frame });
    }
    if (connection.lastSeenAt - state.lastRateLimitNoticeAt < 1000) return;
    state.lastRateLimitNoticeAt = connection.lastSeenAt;
    this.answer(connection, state, { error: RATE_LIMITED });
  }

  /** The frame as far as an error answer needs it (its id), when it parses within the limits. */
  private readable(data: RawData): InboundFrame | undefined {
    if (Array.isArray(data) || data instanceof ArrayBuffer) return undefined;
    const frame = this.parser.parse(data.toString());
    return frame instanceof RefusedFrame ? frame.inReplyTo : frame;
  }
}

function byteLength(data: RawData): number {
  return Array.isArray(data) ? data.reduce((sum, chunk) => sum + chunk.length, 0) : data.byteLength;
}

function unknownType(key: string | undefined): RealtimeError {
  return new RealtimeError('unknown_type', key === undefined ? 'Missing message type' : `Unknown message type: ${key}`);
}
