import { RealtimeClient, type ClientOptions, type ConnectionEvents } from './core/realtime-client.js';
import type {
  CheckpointAuthenticateResult,
  CheckpointCheckpointRequest,
  CheckpointCheckpointResult,
  CheckpointClientFrame,
  CheckpointCompactResult,
  CheckpointCreateSessionResult,
  CheckpointDeleteCheckpointResult,
  CheckpointListCheckpointsResult,
  CheckpointMetricsResult,
  CheckpointRestoreResult,
  CheckpointServerFrame,
  CheckpointSessionEvent,
  CheckpointSubscribeResult,
  CheckpointUnsubscribeResult,
} from './frames.generated.js';

/** What each method's successful answer carries in `result`. */
export interface CheckpointResults {
  authenticate: CheckpointAuthenticateResult['result'];
  create_session: CheckpointCreateSessionResult['result'];
  checkpoint: CheckpointCheckpointResult['result'];
  list_checkpoints: CheckpointListCheckpointsResult['result'];
  restore: CheckpointRestoreResult['result'];
  delete_checkpoint: CheckpointDeleteCheckpointResult['result'];
  compact: CheckpointCompactResult['result'];
  subscribe: CheckpointSubscribeResult['result'];
  unsubscribe: CheckpointUnsubscribeResult['result'];
  metrics: CheckpointMetricsResult['result'];
}

export type CheckpointMethod = CheckpointClientFrame['method'];
export type CheckpointParams<M extends CheckpointMethod> = Extract<CheckpointClientFrame, { method: M }>['params'];

export interface CheckpointCallOptions {
  /**
   * Milliseconds from the call (time in the offline queue included) until it fails with
   * `CheckpointTimeoutError`; a later answer is ignored. @default the client's, 10000
   */
  timeoutMs?: number;
}

export interface CheckpointClientOptions extends ClientOptions, CheckpointCallOptions {}

type CallArgs<M extends CheckpointMethod> =
  undefined extends CheckpointParams<M>
    ? [params?: CheckpointParams<M>, options?: CheckpointCallOptions]
    : [params: CheckpointParams<M>, options?: CheckpointCallOptions];

export interface CheckpointEvents extends ConnectionEvents {
  /** An event of a subscribed session, once, in order (after a reconnect, the missed ones first). */
  event: CheckpointSessionEvent;
  /** A subscription the server would not resume after a reconnect (`Session not found`…): it is dropped. */
  refused: { sessionId: string; error: CheckpointRpcError };
}

/** The server's `{"success": false}` answer: `message` is its `error` (`Session not found`…). */
export class CheckpointRpcError extends Error {
  override name = 'CheckpointRpcError';
}

/** No answer within the call's `timeoutMs`. */
export class CheckpointTimeoutError extends Error {
  override name = 'CheckpointTimeoutError';
}

type Reply = { id: string; success: boolean; result?: unknown; error?: string };
/** Settles one request with its answer, or with why it has none (timeout, connection lost, queue full). */
type Settle = (outcome: Reply | Error) => void;
type Request = { id: string; method: CheckpointMethod; params?: unknown };

const PATH = '/ws/checkpoints';
const streamOf = (sessionId: string): string => `session:${sessionId}`;

/**
 * The checkpoint JSON-RPC gateway (`/ws/checkpoints`, seed 003): each call is a promise settled by
 * the answer carrying its id. Calls made while disconnected wait in the offline queue; subscribed
 * sessions are resubscribed after every reconnect from the last position seen, their events reach
 * the app once and in order, and `recovery` says when a gap could not be filled. A connection
 * without `getToken` may `authenticate(token)` (the static token): it is sent again first on every
 * reconnect.
 */
export class CheckpointClient extends RealtimeClient<CheckpointEvents> {
  /** Requests waiting for their answer, by id. */
  private readonly pending = new Map<string, Settle>();
  /** The ids of those written on the current connection: their answers are lost with it. */
  private readonly sent = new Set<string>();
  private readonly sessions = new Set<string>();
  private readonly timeoutMs: number;
  private token?: string;
  private lastId = 0;
  private proven = false;

  constructor(options: CheckpointClientOptions) {
    super(options);
    this.timeoutMs = options.timeoutMs ?? 10_000;
    // A lost connection takes the answers of what was written on it: those calls fail at once.
    this.on('state', (state) => {
      if (state === 'open') return;
      for (const id of this.sent) this.pending.get(id)?.(new Error('Connection lost before the answer'));
    });
    if (options.autoConnect !== false) this.connect();
  }

  /** Calls `method`; rejects with `CheckpointRpcError` (the server's words) or `CheckpointTimeoutError`. */
  call<M extends CheckpointMethod>(method: M, ...[params, options]: CallArgs<M>): Promise<CheckpointResults[M]> {
    return this.rpc(method, params, options);
  }

  /** Authenticates a connection opened without `getToken` (a JWT, or the static token), again after every reconnect. */
  authenticate(token: string, options?: CheckpointCallOptions): Promise<CheckpointResults['authenticate']> {
    return this.rpc('authenticate', { token }, options, () => {
      this.token = token;
    });
  }

  /** Creates a session; resolves with its id. */
  createSession(name?: string): Promise<string> {
    return this.call('create_session', name === undefined ? {} : { name });
  }

  /** Appends a checkpoint; resolves with its id. */
  checkpoint(
    sessionId: string,
    message?: string,
    state?: CheckpointCheckpointRequest['params']['state'],
  ): Promise<string> {
    return this.call('checkpoint', { session_id: sessionId, message, state });
  }

  listCheckpoints(sessionId: string): Promise<CheckpointResults['list_checkpoints']> {
    return this.call('list_checkpoints', { session_id: sessionId });
  }

  restore(sessionId: string, checkpointId: string): Promise<CheckpointResults['restore']> {
    return this.call('restore', { session_id: sessionId, checkpoint_id: checkpointId });
  }

  deleteCheckpoint(sessionId: string, checkpointId: string): Promise<CheckpointResults['delete_checkpoint']> {
    return this.call('delete_checkpoint', { session_id: sessionId, checkpoint_id: checkpointId });
  }

  /** Keeps the newest `keep` checkpoints. */
  compact(sessionId: string, keep: number): Promise<CheckpointResults['compact']> {
    return this.call('compact', { session_id: sessionId, keep });
  }

  /** Subscribes to a session's events (`event`), kept across reconnects. */
  subscribe(sessionId: string, options?: CheckpointCallOptions): Promise<CheckpointResults['subscribe']> {
    return this.rpc('subscribe', this.subscription(sessionId), options, (result) => this.subscribed(sessionId, result));
  }

  unsubscribe(sessionId: string): Promise<CheckpointResults['unsubscribe']> {
    this.forget(sessionId);
    // Again on the answer: a subscribe still in flight is answered before it.
    return this.rpc('unsubscribe', { session_id: sessionId }, {}, () => this.forget(sessionId));
  }

  metrics(): Promise<CheckpointResults['metrics']> {
    return this.call('metrics');
  }

  protected path(): string {
    return PATH;
  }

  /** The static token first, then every session from its last position; then the queue is sent. */
  protected resume(): void {
    this.proven = false;
    if (this.token) this.now(this.request('authenticate', { token: this.token }, this.report));
    for (const sessionId of this.sessions) {
      this.now(
        this.request('subscribe', this.subscription(sessionId), (outcome) => {
          if (outcome instanceof Error) return; // lost again or unanswered: the next reconnect tries again
          if (outcome.success) return this.subscribed(sessionId, outcome.result as CheckpointResults['subscribe']);
          this.forget(sessionId);
          this.emit('refused', { sessionId, error: new CheckpointRpcError(outcome.error) });
        }),
      );
    }
    // An answer proves the connection works (the gateway sends no welcome).
    if (!this.sent.size) this.sendNow(this.ping());
  }

  /** `metrics`: cheap and always answered; its id is no call's, so its answer settles nothing. */
  protected ping(): object {
    return { id: String(++this.lastId), method: 'metrics' };
  }

  /** A refresh is `authenticate` with the new token; a refusal is reported as `error`. */
  protected refresh(token: string): object {
    const frame = this.request('authenticate', { token }, this.report);
    this.sent.add(frame.id);
    return frame;
  }

  protected received(raw: Record<string, unknown>): void {
    const frame = raw as unknown as CheckpointServerFrame;
    if ('event_type' in frame) return frame.event_type === 'token_expiring' ? this.expiring() : this.deliver(frame);
    if (frame.id !== 'init' && !this.proven) {
      this.proven = true;
      this.established();
    }
    this.pending.get(frame.id)?.(frame);
    // A connection refused at the door (`Server at capacity`, a bad credential): it closes next.
    if (frame.id === 'init' && !frame.success) this.fail(new CheckpointRpcError(frame.error));
  }

  private rpc<M extends CheckpointMethod>(
    method: M,
    params: unknown,
    options: CheckpointCallOptions = {},
    then?: (result: CheckpointResults[M]) => void,
  ): Promise<CheckpointResults[M]> {
    return new Promise((resolve, reject) => {
      const frame = this.request(
        method,
        params,
        (outcome) => {
          if (outcome instanceof Error) return reject(outcome);
          if (!outcome.success) return reject(new CheckpointRpcError(outcome.error));
          then?.(outcome.result as CheckpointResults[M]);
          resolve(outcome.result as CheckpointResults[M]);
        },
        options.timeoutMs,
      );
      // Written at once while open, else queued (marked written when the queue is sent).
      if (this.connectionState === 'open' && this.now(frame)) return;
      this.send(frame).then(
        () => this.pending.has(frame.id) && this.sent.add(frame.id),
        (error: Error) => this.pending.get(frame.id)?.(error),
      );
    });
  }

  /** A request with a fresh id, settled once: by its answer, its timeout, or a failure. */
  private request(method: CheckpointMethod, params: unknown, settle: Settle, timeoutMs = this.timeoutMs): Request {
    const id = String(++this.lastId);
    const frame: Request = { id, method, params };
    const timer = setTimeout(() => {
      // A call that timed out while queued is taken back: it must not run on the server later.
      this.withdraw(frame);
      done(new CheckpointTimeoutError(`No answer to ${method} within ${timeoutMs} ms`));
    }, timeoutMs);
    const done: Settle = (outcome) => {
      clearTimeout(timer);
      this.pending.delete(id);
      this.sent.delete(id);
      settle(outcome);
    };
    this.pending.set(id, done);
    return frame;
  }

  /** Sends a request on the socket at once, as written on this connection; false when there is none. */
  private now(frame: Request): boolean {
    const written = this.sendNow(frame);
    if (written) this.sent.add(frame.id);
    return written;
  }

  /** An internal request's refusal, as `error`. */
  private readonly report: Settle = (outcome) => {
    if (!(outcome instanceof Error) && !outcome.success) this.fail(new CheckpointRpcError(outcome.error));
  };

  private subscription(sessionId: string): CheckpointParams<'subscribe'> {
    const since = this.positions.get(streamOf(sessionId));
    return { session_id: sessionId, ...(since && { since }) };
  }

  private subscribed(sessionId: string, { recovered, offset, epoch }: CheckpointResults['subscribe']): void {
    const stream = streamOf(sessionId);
    this.sessions.add(sessionId);
    if (recovered !== undefined) this.emit('recovery', { stream, recovered });
    // Recovered: the missed events follow and move the position; otherwise go on from where the stream is.
    if (offset !== undefined && epoch !== undefined && recovered !== true) {
      this.positions.set(stream, { offset, epoch });
    }
  }

  private forget(sessionId: string): void {
    this.sessions.delete(sessionId);
    this.positions.forget(streamOf(sessionId));
  }

  private deliver(event: CheckpointSessionEvent): void {
    const { stream, offset, epoch } = event;
    if (!this.sessions.has(event.data.session_id)) return;
    if (stream !== undefined && offset !== undefined && epoch !== undefined) {
      if (!this.positions.accept(stream, offset, epoch)) return;
    }
    this.emit('event', event);
  }
}
