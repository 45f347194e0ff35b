import { RealtimeClient, type ClientOptions, type ConnectionEvents } from './core/realtime-client.js';
import type {
  ChatConnected,
  ChatError,
  ChatMessage,
  ChatRoomJoined,
  ChatServerFrame,
  ChatUserJoined,
  ChatUserLeft,
} from './frames.generated.js';

/** Every frame of a room's stream (and of the user's own room): what `event` delivers. */
export type ChatRoomEvent = Exclude<
  ChatServerFrame,
  { type: 'connected' | 'room_joined' | 'room_left' | 'pong' | 'error' | 'token_refreshed' | 'token_expiring' }
>;

export interface ChatEvents extends ConnectionEvents {
  /** The server's welcome, after every (re)connect. */
  welcome: ChatConnected;
  /** Any room event, once, in order: messages, host events (`task.updated`…), presence, notifications. */
  event: ChatRoomEvent;
  message: ChatMessage;
  presence: ChatUserJoined | ChatUserLeft;
  /** A join the server refused (bad room, access policy, too many rooms): the room is dropped. */
  refused: { room: string; error: ChatError['data'] };
  /** An error frame that answers nothing the client asked (a rate-limit notice, a refused send). */
  serverError: ChatError['data'];
}

const PATH = '/api/v1/ws/connect';

/**
 * The chat gateway (`/api/v1/ws/connect`): rooms joined through it are rejoined after every
 * reconnect from the last position seen, their events reach the app once and in order, and
 * `recovery` says when a gap could not be filled.
 */
export class ChatClient extends RealtimeClient<ChatEvents> {
  private readonly rooms = new Set<string>();
  /** Joins waiting for their `room_joined` (the server answers a connection's frames in order). */
  private readonly joining: Array<{ room: string; resolve(reply: ChatRoomJoined): void; reject(error: Error): void }> =
    [];
  private ownStream?: string;

  constructor(options: ClientOptions) {
    super(options);
    if (options.autoConnect !== false) this.connect();
  }

  /** Joins `room` (`channel:1`, `project:7`, `task:3`) and keeps it joined across reconnects. */
  join(room: string): Promise<ChatRoomJoined> {
    this.rooms.add(room);
    const joined = new Promise<ChatRoomJoined>((resolve, reject) => {
      this.joining.push({ room, resolve, reject });
      this.sendNow(this.joinFrame(room));
    });
    // A refusal is also told as `refused`: an app that does not await the join must not crash on it.
    joined.catch(() => undefined);
    return joined;
  }

  /** Leaves `room`; its events stop. */
  leave(room: string): Promise<void> {
    this.rooms.delete(room);
    this.positions.forget(room);
    return this.send({ type: 'leave_room', room });
  }

  /** Sends a message to a joined room (queued while disconnected). */
  sendMessage(room: string, content: string): Promise<void> {
    return this.send({ type: 'send_message', room, data: { content } });
  }

  protected path(): string {
    const own = this.ownStream ? this.positions.get(this.ownStream) : undefined;
    return this.withQuery(PATH, { offset: own?.offset, epoch: own?.epoch });
  }

  protected resume(): void {
    for (const room of this.rooms) {
      if (!this.joining.some((pending) => pending.room === room)) {
        this.joining.push({ room, resolve: () => undefined, reject: () => undefined });
      }
      this.sendNow(this.joinFrame(room));
    }
  }

  protected ping(): object {
    return { type: 'ping' };
  }

  protected refresh(token: string): object {
    return { type: 'refresh', data: { token } };
  }

  protected received(raw: Record<string, unknown>): void {
    const frame = raw as unknown as ChatServerFrame;
    switch (frame.type) {
      case 'connected':
        return this.welcomed(frame);
      case 'room_joined':
        return this.joined(frame);
      case 'error':
        return this.refusedOrNotice(frame);
      case 'token_expiring':
        return this.expiring();
      case 'room_left':
      case 'pong':
      case 'token_refreshed':
        return;
      default:
        return this.deliver(frame);
    }
  }

  private joinFrame(room: string): object {
    const since = this.positions.get(room);
    return { type: 'join_room', room, ...(since && { data: { since } }) };
  }

  private welcomed(frame: ChatConnected): void {
    this.established();
    const { stream, offset, epoch, recovered } = frame.data;
    if (stream !== undefined && offset !== undefined && epoch !== undefined) {
      this.ownStream = stream;
      if (recovered !== undefined) this.emit('recovery', { stream, recovered });
      if (recovered !== true) this.positions.set(stream, { offset, epoch });
    }
    this.emit('welcome', frame);
  }

  private joined(frame: ChatRoomJoined): void {
    const index = this.joining.findIndex((pending) => pending.room === frame.room);
    const [pending] = index < 0 ? [] : this.joining.splice(index, 1);
    const { offset, epoch, recovered } = frame.data;
    if (recovered !== undefined) this.emit('recovery', { stream: frame.room, recovered });
    // Recovered: the missed events follow and move the position; otherwise go on from where the stream is.
    if (offset !== undefined && epoch !== undefined && recovered !== true) {
      this.positions.set(frame.room, { offset, epoch });
    }
    pending?.resolve(frame);
  }

  private refusedOrNotice(frame: ChatError): void {
    const code = frame.data.code;
    // Before the welcome, an error refuses the connection itself (4401, 4429 at the door): the close follows.
    if (this.connectionState !== 'open') return this.emit('serverError', frame.data);
    const pending = code === 4403 || code === 4429 || code === 4400 ? this.joining.shift() : undefined;
    if (!pending) return this.emit('serverError', frame.data);
    this.rooms.delete(pending.room);
    this.positions.forget(pending.room);
    pending.reject(new Error(frame.data.error));
    this.emit('refused', { room: pending.room, error: frame.data });
  }

  private deliver(frame: ChatRoomEvent): void {
    const { stream, offset, epoch } = frame as { stream?: string; offset?: number; epoch?: string };
    if (stream !== undefined && offset !== undefined && epoch !== undefined) {
      if (!this.positions.accept(stream, offset, epoch)) return;
    }
    this.emit('event', frame);
    if (frame.type === 'message') this.emit('message', frame);
    else if (frame.type === 'user_joined' || frame.type === 'user_left') this.emit('presence', frame);
  }
}
