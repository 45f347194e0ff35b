import WebSocket, { type RawData } from 'ws';
import { FALLBACK_HANDLER, type InboundFrame } from '../gateway/gateway-definition.js';
import { RATE_LIMITED, RealtimeError } from '../gateway/realtime-error.js';
import type { LifecycleLog } from '../logging/lifecycle-log.js';
import type { Connection } from './connection.js';
import { InboundFrameParser } from './inbound-frame.parser.js';
import type { RealtimeSocket } from './realtime-socket.js';
import { sharedListener } from './shared-listener.js';

/** A gateway's message handler as Nest hands it over: called with the frame, returns the reply. */
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
const RATE_LIMIT_NOTICE = Symbol('rate limit notice');
const MAX_READ_PAUSE_MS = 1_000;

/** Per connection: frames waiting behind a running handler, and when the last rate-limit notice went out. */
interface InboundState {
  handlers: BoundHandlers;
  /** Frames, and rate-limit notices, waiting their turn: replies go out in the order frames came. */
  backlog?: Array<{ data: RawData; isBinary: boolean } | typeof RATE_LIMIT_NOTICE>;
  busy: boolean;
  lastRateLimitNoticeAt: number;
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
    if (state) this.receive(connection, state, data, isBinary);
  });

  constructor(
    options: { maxJsonDepth: number; maxBacklog: number },
    private readonly log: LifecycleLog,
  ) {
    this.parser = new InboundFrameParser(options.maxJsonDepth);
    this.maxBacklog = options.maxBacklog;
  }

  /** Frames held per connection behind a running handler: the inbound burst. */
  private readonly maxBacklog: number;

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
    // Both budgets are checked before anything is parsed: frames per second, then bytes per second.
    if (!connection.rateLimiter.take(now) || (state.backlog?.length ?? 0) >= this.maxBacklog) {
      return this.rateLimited(connection, state);
    }
    const bytes = byteLength(data);
    if (!connection.byteBudget.take(now, bytes)) {
      this.stopReading(connection, connection.byteBudget.msUntil(bytes, now));
      return this.rateLimited(connection, state);
    }
    if (state.busy) {
      (state.backlog ??= []).push({ data, isBinary });
      return;
    }
    this.process(connection, state, data, isBinary);
  }

  private process(connection: Connection, state: InboundState, data: RawData, isBinary: boolean): void {
    if (isBinary) {
      connection.sendError(BINARY_REFUSED);
      return this.next(connection, state);
    }
    const frame = this.parser.parse((data as Buffer).toString());
    if (frame instanceof RealtimeError) {
      connection.sendError(frame);
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
    Promise.resolve(handler(frame, key))
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

  private next(connection: Connection, state: InboundState): void {
    if (!state.backlog) return;
    // A closed connection's queued frames are dropped: nothing is handled for a client that is gone.
    if (connection.socket.readyState === WebSocket.CLOSED) state.backlog.length = 0;
    const queued = state.backlog.shift();
    if (state.backlog.length === 0) state.backlog = undefined;
    if (queued === RATE_LIMIT_NOTICE) {
      connection.sendError(RATE_LIMITED);
      return this.next(connection, state);
    }
    if (queued) this.process(connection, state, queued.data, queued.isBinary);
  }

  /**
   * Over its byte budget, a connection is not read from until the budget is back (at most a second):
   * what it sends meanwhile waits in its TCP window, so a flood costs the server no more than the
   * budget, not even the unmasking of frames it would drop.
   */
  private stopReading(connection: Connection, ms: number): void {
    if (connection.socket.isPaused) return;
    connection.socket.pause();
    setTimeout(() => connection.socket.resume(), Math.min(Math.max(ms, 1), MAX_READ_PAUSE_MS)).unref();
  }

  /** The excess frame is dropped; the client hears about it at most once a second. */
  private rateLimited(connection: Connection, state: InboundState): void {
    connection.traffic.rateLimited++;
    if (connection.lastSeenAt - state.lastRateLimitNoticeAt < 1000) return;
    state.lastRateLimitNoticeAt = connection.lastSeenAt;
    this.log.security('rate_limited', {
      gateway: connection.gateway,
      user: connection.principal?.sub,
      ip: connection.ip,
    });
    if (state.busy) (state.backlog ??= []).push(RATE_LIMIT_NOTICE);
    else connection.sendError(RATE_LIMITED);
  }
}

function byteLength(data: RawData): number {
  return Array.isArray(data) ? data.reduce((sum, chunk) => sum + chunk.length, 0) : data.byteLength;
}

function unknownType(key: string | undefined): RealtimeError {
  return new RealtimeError('unknown_type', key === undefined ? 'Missing message type' : `Unknown message type: ${key}`);
}
