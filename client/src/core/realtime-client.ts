import { backoffDelay, type BackoffOptions } from './backoff.js';
import { Emitter } from './emitter.js';
import { OfflineQueue } from './offline-queue.js';
import { Positions } from './positions.js';

/** The part of the WebSocket API the client uses: the browser's, Node's global one, or `ws`'s. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/**
 * How the token reaches the server. `subprotocol` (the default) and `ticket` never put it in a URL;
 * `query` (`?token=`) is for old servers and tools only.
 */
export type CredentialMode = 'subprotocol' | 'ticket' | 'query';

export interface ClientOptions {
  /** The server: `https://app.example.com` (or `wss://…`); the gateway's path is added. */
  url: string;
  /**
   * A fresh token, asked before every connect and every refresh. Without it, `ticket` mode asks
   * `POST /ws/ticket` with the page's cookies (a host authenticator reading its session).
   */
  getToken?: () => string | Promise<string>;
  /** @default 'subprotocol' */
  credentials?: CredentialMode;
  /** A WebSocket implementation where there is no global one (Node < 22: `import WebSocket from 'ws'`). */
  WebSocket?: WebSocketConstructor;
  /** Reconnect delays: full jitter in [min, min(max, min × 2^attempt)] (see `backoffDelay`). */
  reconnect?: BackoffOptions;
  /**
   * Liveness: after `intervalMs` without a frame the client pings; after `timeoutMs` more without
   * one the connection is taken for dead and replaced. @default { intervalMs: 25000, timeoutMs: 10000 }
   */
  heartbeat?: { intervalMs?: number; timeoutMs?: number };
  /** Frames kept while disconnected; over it, the oldest fail. @default 100 */
  offlineQueueLimit?: number;
  /** Connect at once. @default true */
  autoConnect?: boolean;
  /** For tests: the source of the backoff's randomness. */
  random?: () => number;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** Events every client emits. */
export interface ConnectionEvents {
  state: ConnectionState;
  /** The socket is open (`reconnected` after a loss) and every stream has been asked to resume. */
  open: { reconnected: boolean };
  /** The socket closed; `delayMs` until the next try when it will reconnect (none while offline: `online` reconnects). */
  close: { code: number; reason: string; willReconnect: boolean; delayMs?: number };
  /** A resume's answer for a stream; `recovered: false`: events were lost, reload what the stream describes. */
  recovery: { stream: string; recovered: boolean };
  /** Something the client could not do (a token, a ticket, a frame it could not read). */
  error: { error: Error };
}

const OPEN = 1;
const SUBPROTOCOL = 'realtime.v1';
/** Close codes after which the client does not come back: replaced by a newer connection, forbidden. */
const FINAL_CODES = new Set([4403, 4409]);
const DEAD = { code: 4000, reason: 'No frame within the heartbeat timeout' };

/**
 * The connection core every gateway's client shares: credentials without a URL token, reconnect
 * with jittered backoff driven by the close code, a heartbeat that replaces a silent connection,
 * the browser's offline/online events, positions per stream, the offline queue, and the token
 * refresh the server asks for. A gateway's client words the frames (`path`, `resume`, `received`,
 * `ping`, `refresh`).
 */
export abstract class RealtimeClient<Events extends ConnectionEvents> extends Emitter<Events> {
  readonly positions = new Positions();
  private socket?: WebSocketLike;
  private state: ConnectionState = 'closed';
  private attempts = 0;
  private everOpened = false;
  private stopped = false;
  private retryTimer?: ReturnType<typeof setTimeout>;
  private heartbeatTimer?: ReturnType<typeof setInterval>;
  private lastHeard = 0;
  private readonly queue: OfflineQueue;
  private readonly onlineListener = (): void => this.backOnline();
  private readonly offlineListener = (): void => this.wentOffline();

  protected constructor(protected readonly options: ClientOptions) {
    super();
    this.queue = new OfflineQueue(options.offlineQueueLimit ?? 100);
  }

  /** Where the connection is: `open` only while frames can be sent. */
  get connectionState(): ConnectionState {
    return this.state;
  }

  /** Frames waiting for the connection. */
  get queued(): number {
    return this.queue.size;
  }

  /** Connects (again, after `disconnect()`). */
  connect(): void {
    this.stopped = false;
    const events = globalThis as { addEventListener?: (type: string, listener: () => void) => void };
    events.addEventListener?.('online', this.onlineListener);
    events.addEventListener?.('offline', this.offlineListener);
    if (!this.socket && !this.retryTimer) void this.open();
  }

  /** Closes for good: no reconnect; queued frames fail. */
  disconnect(): void {
    this.stopped = true;
    const events = globalThis as { removeEventListener?: (type: string, listener: () => void) => void };
    events.removeEventListener?.('online', this.onlineListener);
    events.removeEventListener?.('offline', this.offlineListener);
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.stopHeartbeat();
    const socket = this.socket;
    this.socket = undefined;
    socket?.close(1000, 'Client disconnect');
    this.queue.fail(new Error('Client disconnected'));
    this.setState('closed');
  }

  /** The gateway's path, with the resume positions of its connect-time streams in the query. */
  protected abstract path(): string;
  /** Asks every stream of the client to resume (joins, subscriptions), right after the socket opens. */
  protected abstract resume(reconnected: boolean): void;
  /** A frame from the server (already parsed). */
  protected abstract received(frame: Record<string, unknown>): void;
  /** A frame the server answers, to prove the connection alive. */
  protected abstract ping(): object;
  /** The refresh frame carrying `token`. */
  protected abstract refresh(token: string): object;

  /** Call on the gateway's welcome: the connection works, the backoff starts over. */
  protected established(): void {
    this.attempts = 0;
    const socket = this.socket;
    if (!socket || this.state === 'open') return;
    const reconnected = this.everOpened;
    this.everOpened = true;
    this.setState('open');
    this.queue.flush((frame) => socket.send(frame));
    this.emit('open', { reconnected });
  }

  /** The server's notice that the token expires soon: a fresh one is sent on the live connection. */
  protected expiring(): void {
    const getToken = this.options.getToken;
    if (!getToken) return;
    void Promise.resolve()
      .then(getToken)
      .then((token) => this.sendNow(this.refresh(token)))
      .catch((error: unknown) => this.fail(error));
  }

  /** Sends `frame` now, or queues it until the connection is back (rejects when pushed out of the queue). */
  protected send(frame: object): Promise<void> {
    if (this.stopped && this.state === 'closed') return Promise.reject(new Error('Client disconnected'));
    const text = JSON.stringify(frame);
    if (this.socket?.readyState === OPEN && this.state === 'open') {
      this.socket.send(text);
      return Promise.resolve();
    }
    return this.queue.push(text, frame);
  }

  /** Takes `frame` back from the offline queue (it will not be sent); false when it is not there. */
  protected withdraw(frame: object): boolean {
    return this.queue.withdraw(frame);
  }

  /** Sends on the open socket, never queued (resumes, pings, refreshes); false when there is none. */
  protected sendNow(frame: object): boolean {
    if (this.socket?.readyState !== OPEN) return false;
    this.socket.send(JSON.stringify(frame));
    return true;
  }

  /** `path` with `params` (undefined ones left out) added to its query. */
  protected withQuery(path: string, params: Record<string, string | number | undefined>): string {
    const query = Object.entries(params)
      .filter(([, value]) => value !== undefined)
      .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(String(value))}`)
      .join('&');
    if (!query) return path;
    return `${path}${path.includes('?') ? '&' : '?'}${query}`;
  }

  protected fail(error: unknown): void {
    this.emit('error', { error: error instanceof Error ? error : new Error(String(error)) });
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    this.setState(this.everOpened ? 'reconnecting' : 'connecting');
    let url = `${wsBase(this.options.url)}${this.path()}`;
    let protocols: string[] | undefined;
    try {
      const mode = this.options.credentials ?? 'subprotocol';
      const token = this.options.getToken ? await this.options.getToken() : undefined;
      if (mode === 'ticket') url = this.withQuery(url, { ticket: await this.ticket(token) });
      else if (token && mode === 'query') url = this.withQuery(url, { token });
      else if (token) protocols = [SUBPROTOCOL, `base64url.bearer.${base64url(token)}`];
    } catch (error) {
      // A server that is away (no answer, 5xx) is retried like a lost connection; a refusal is also told.
      if (!(error instanceof ServerAway)) this.fail(error);
      return this.retry({ code: 1006, reason: error instanceof Error ? error.message : 'No credential' });
    }
    if (this.stopped || this.socket) return;
    const Socket = this.options.WebSocket ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (!Socket) throw new Error('No WebSocket implementation: pass options.WebSocket (e.g. `ws`)');
    const socket = protocols ? new Socket(url, protocols) : new Socket(url);
    this.socket = socket;
    // A connect that never completes is as dead as a silent connection.
    this.lastHeard = Date.now();
    this.startHeartbeat(socket);
    socket.onopen = () => this.opened(socket);
    socket.onmessage = ({ data }) => this.message(socket, data);
    socket.onclose = ({ code, reason }) => this.closed(socket, code, reason);
    socket.onerror = () => undefined;
  }

  private opened(socket: WebSocketLike): void {
    if (socket !== this.socket) return;
    this.lastHeard = Date.now();
    this.resume(this.everOpened);
  }

  private message(socket: WebSocketLike, data: unknown): void {
    if (socket !== this.socket) return;
    this.lastHeard = Date.now();
    let frame: unknown;
    try {
      frame = JSON.parse(String(data));
    } catch {
      return this.fail(new Error('A frame that is not JSON'));
    }
    if (typeof frame === 'object' && frame !== null && !Array.isArray(frame)) {
      this.received(frame as Record<string, unknown>);
    }
  }

  private closed(socket: WebSocketLike, code: number, reason: string): void {
    if (socket !== this.socket) return;
    this.socket = undefined;
    this.stopHeartbeat();
    if (this.stopped) return;
    if (FINAL_CODES.has(code)) {
      this.stopped = true;
      this.queue.fail(new Error(`Connection closed for good: ${code} ${reason}`));
      this.emit('close', { code, reason, willReconnect: false });
      this.setState('closed');
      return;
    }
    this.retry({ code, reason });
  }

  /** Reconnects after the backoff (at once when the browser comes back online). */
  private retry({ code, reason }: { code: number; reason: string }): void {
    if (this.stopped) return;
    // Offline: no timer; the `online` event reconnects at once.
    const offline = (globalThis as { navigator?: { onLine?: boolean } }).navigator?.onLine === false;
    const delayMs = offline ? undefined : backoffDelay(this.attempts++, this.options.reconnect, this.options.random);
    this.emit('close', { code, reason, willReconnect: true, delayMs });
    this.setState('reconnecting');
    if (delayMs === undefined) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.open();
    }, delayMs);
  }

  private wentOffline(): void {
    const socket = this.socket;
    if (!socket) return;
    this.abandon(socket, { code: 1006, reason: 'Offline' });
  }

  private backOnline(): void {
    if (this.stopped || this.socket) return;
    clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    void this.open();
  }

  /** Gives up on a socket that may never report its close (dead network), and reconnects. */
  private abandon(socket: WebSocketLike, why: { code: number; reason: string }): void {
    socket.onopen = socket.onmessage = socket.onclose = null;
    socket.close(why.code === 1006 ? 4000 : why.code, why.reason);
    this.socket = undefined;
    this.stopHeartbeat();
    this.retry(why);
  }

  private startHeartbeat(socket: WebSocketLike): void {
    const intervalMs = this.options.heartbeat?.intervalMs ?? 25_000;
    const timeoutMs = this.options.heartbeat?.timeoutMs ?? 10_000;
    let pingedAt: number | undefined;
    let overdue = false;
    this.heartbeatTimer = setInterval(
      () => {
        const now = Date.now();
        if (pingedAt !== undefined && this.lastHeard >= pingedAt) pingedAt = undefined;
        if (pingedAt === undefined) {
          if (now - this.lastHeard < intervalMs) return void (overdue = false);
          if (this.sendNow(this.ping())) return void ((pingedAt = now), (overdue = false));
          // Not open: a connect that does not complete is dead after as long as a silent connection.
          if (now - this.lastHeard < intervalMs + timeoutMs) return;
        } else if (now - pingedAt < timeoutMs) return;
        // Dead, seen on two ticks: a timer that fires late runs before the I/O that may hold the answer.
        if (overdue) return this.abandon(socket, DEAD);
        overdue = true;
      },
      Math.max(50, Math.min(intervalMs, timeoutMs) / 4),
    );
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = undefined;
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }

  private async ticket(token: string | undefined): Promise<string> {
    const response = await fetch(`${httpBase(this.options.url)}/ws/ticket`, {
      method: 'POST',
      headers: token ? { authorization: `Bearer ${token}` } : {},
      credentials: token ? 'omit' : 'include',
    }).catch(() => {
      throw new ServerAway('POST /ws/ticket: no answer');
    });
    if (response.status >= 500) throw new ServerAway(`POST /ws/ticket answered ${response.status}`);
    if (response.status !== 200) throw new Error(`POST /ws/ticket answered ${response.status}`);
    const body = (await response.json()) as { ticket?: unknown };
    if (typeof body.ticket !== 'string') throw new Error('POST /ws/ticket gave no ticket');
    return body.ticket;
  }
}

/** The server did not answer (or answered 5xx): retried quietly, like a lost connection. */
class ServerAway extends Error {}

function wsBase(url: string): string {
  return url.replace(/^http/, 'ws').replace(/\/+$/, '');
}

function httpBase(url: string): string {
  return url.replace(/^ws/, 'http').replace(/\/+$/, '');
}

/** A token as base64url without padding (UTF-8), in browsers and Node alike. */
function base64url(text: string): string {
  let binary = '';
  for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
