import { RealtimeClient, type ClientOptions, type ConnectionEvents } from './core/realtime-client.js';
import type { NotifyConnected, NotifyError, NotifyMessage, NotifyPing, NotifyServerFrame } from './frames.generated.js';

export interface NotifyClientOptions extends ClientOptions {
  /** `[A-Za-z0-9_.-]{1,64}`; without it the server makes one up at every connect (only `broadcast` then resumes). */
  clientId?: string;
}

export interface NotifyEvents extends ConnectionEvents {
  /** The server's welcome, after every (re)connect: the client id, and where its streams stand. */
  welcome: NotifyConnected;
  /** A message from the host app, to this client or to all: once, in order. */
  message: NotifyMessage;
  /** An error frame (a rate-limit notice, `Client id in use` before a 4403). */
  serverError: NotifyError;
}

const BROADCAST = 'broadcast';

/**
 * The notify gateway (`/ws/:clientId`, `/ws`): the client's own stream and the broadcast resume
 * from the query after every reconnect; messages reach the app once and in order, and `recovery`
 * says when a gap could not be filled. A newer connection of the same client id ends this one (4409).
 */
export class NotifyClient extends RealtimeClient<NotifyEvents> {
  private readonly fixedId?: string;
  private id?: string;

  constructor(options: NotifyClientOptions) {
    super(options);
    this.id = this.fixedId = options.clientId;
    if (options.autoConnect !== false) this.connect();
  }

  /** The client id: the one asked for, or the server's (known from the welcome). */
  get clientId(): string | undefined {
    return this.id;
  }

  /** Sends `{type, content, meta}` to the host app (queued while disconnected). */
  override send(type: string, content?: unknown, meta?: Record<string, unknown>): Promise<void>;
  /** Sends a whole frame. */
  override send(frame: object): Promise<void>;
  override send(type: string | object, content?: unknown, meta?: Record<string, unknown>): Promise<void> {
    return super.send(typeof type === 'string' ? { type, content, meta } : type);
  }

  protected path(): string {
    const own = this.fixedId ? this.positions.get(`client:${this.fixedId}`) : undefined;
    const all = this.positions.get(BROADCAST);
    return this.withQuery(this.fixedId ? `/ws/${encodeURIComponent(this.fixedId)}` : '/ws', {
      offset: own?.offset,
      epoch: own?.epoch,
      broadcast_offset: all?.offset,
      broadcast_epoch: all?.epoch,
    });
  }

  /** Both streams resume from the query: nothing to ask once open. */
  protected resume(): void {}

  protected ping(): object {
    return { type: 'ping' };
  }

  protected refresh(token: string): object {
    return { type: 'refresh', content: token };
  }

  protected received(raw: Record<string, unknown>): void {
    const frame = raw as unknown as NotifyServerFrame;
    // A message (with its position) may have any type, the gateway's own too.
    if ((frame as NotifyMessage).stream === undefined) {
      switch (frame.type) {
        case 'connected':
          return this.welcomed(frame as NotifyConnected);
        case 'ping':
          this.sendNow({ type: 'pong', meta: { ping_id: (frame as NotifyPing).meta.ping_id } });
          return;
        case 'token_expiring':
          return this.expiring();
        case 'error':
          return this.emit('serverError', frame as NotifyError);
        case 'pong':
        case 'token_refreshed':
          return;
      }
    }
    const { stream, offset, epoch } = frame as NotifyMessage;
    if (stream !== undefined && offset !== undefined && epoch !== undefined) {
      if (!this.positions.accept(stream, offset, epoch)) return;
    }
    this.emit('message', frame as NotifyMessage);
  }

  private welcomed(frame: NotifyConnected): void {
    this.established();
    const { client_id, streams } = frame.content;
    // A generated id is new at every connect: the last one's stream is gone with it.
    if (this.id !== client_id && this.id !== undefined) this.positions.forget(`client:${this.id}`);
    this.id = client_id;
    for (const [stream, { recovered, offset, epoch }] of Object.entries(streams ?? {})) {
      if (recovered !== undefined) this.emit('recovery', { stream, recovered });
      // Recovered: the missed messages follow and move the position.
      if (recovered !== true && offset !== undefined && epoch !== undefined) {
        this.positions.set(stream, { offset, epoch });
      }
    }
    this.emit('welcome', frame);
  }
}
