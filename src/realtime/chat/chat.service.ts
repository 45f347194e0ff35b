import type { PublishReceipt } from '../bus/index.js';
import { Inject, Injectable } from '@nestjs/common';
import { ResourceAccess, type Principal } from '../core/auth/index.js';
import { CloseCode, RealtimeError } from '../core/gateway/index.js';
import { ClusterPresence, type LeaveCause } from '../core/cluster/index.js';
import type { StreamPosition } from '../bus/index.js';
import {
  ConnectionRegistry,
  Fanout,
  NOTHING_FOLLOWS,
  positionFields,
  TopicLimit,
  type ReplyThen,
} from '../core/registry/index.js';
import type { Connection } from '../core/transport/index.js';
import { timestamp, type ChatEvent, type ChatEventType } from './chat-events.js';
import { parseJoinableRoom, userRoom } from './chat-room.js';
import { CHAT_CONFIG } from './chat.config.js';
import type { ChatConfig } from './chat.options.js';

/** Rooms, presence and messages of the chat gateway; knows connections, not sockets or frames. */
@Injectable()
export class ChatService {
  constructor(
    private readonly registry: ConnectionRegistry,
    private readonly fanout: Fanout,
    private readonly access: ResourceAccess,
    @Inject(CHAT_CONFIG) private readonly config: ChatConfig,
    private readonly presence: ClusterPresence,
    private readonly topicLimit: TopicLimit,
  ) {
    // A user of an instance that died, gone from the room on every instance (SPEC.md §9).
    presence.onVanished('chat', (room, data) => void this.publish(room, 'user_left', data, String(data.username)));
  }

  /** Puts a new connection in its own `user:<sub>` room and returns the welcome frame. */
  async connect(connection: Connection): Promise<ReplyThen> {
    const principal = connection.requirePrincipal();
    const room = userRoom(principal.sub);
    const joined = await this.fanout.join(connection, room, connection.resumeFrom?.stream);
    const reply = {
      type: 'connected',
      data: {
        message: 'Connected successfully',
        user_id: principal.userId,
        username: principal.username,
        connection_id: connection.id,
        ...((this.fanout.positioned || joined.recovered !== undefined) && { stream: room, ...positionFields(joined) }),
      },
      timestamp: timestamp(),
    };
    return { reply, release: joined.release };
  }

  /** Leaves every room, so the rest of each room hears `user_left` for the user's last tab. */
  disconnect(connection: Connection): void {
    // Closed by this instance's drain (1012): the user is moving to another instance, not leaving.
    const cause = connection.closeCode === CloseCode.SERVICE_RESTART ? 'drained' : 'left';
    for (const room of [...connection.topics]) void this.leaveRoom(connection, room, cause);
  }

  /** Joins `room`, resuming it after `since` when given; the reply tells where the room's stream is. */
  async join(connection: Connection, room: string, since?: StreamPosition): Promise<ReplyThen> {
    const principal = connection.requirePrincipal();
    const resource = parseJoinableRoom(room);
    if (!(await this.access.allows(connection, resource))) throw RealtimeError.forbidden('Access denied');
    if (!connection.isOpen) return { reply: this.roomReply('room_joined', room), release: NOTHING_FOLLOWS };
    // The automatic user:<sub> room does not count (SPEC.md §10.1).
    this.topicLimit.check(connection, room, 'Too many rooms', 1);
    // Joined before the reply (frames that follow see the membership); announced if first in the whole cluster.
    const joined = await this.fanout.join(connection, room, since);
    if (
      joined.presenceChanged &&
      (await this.presence.enter('chat', room, principal.sub, presenceData(principal)).catch(() => false))
    ) {
      this.announce(room, 'user_joined', principal);
    }
    return { reply: this.roomReply('room_joined', room, positionFields(joined)), release: joined.release };
  }

  async leave(connection: Connection, room: string): Promise<object> {
    parseJoinableRoom(room);
    await this.leaveRoom(connection, room);
    return this.roomReply('room_left', room);
  }

  sendMessage(connection: Connection, room: string, content: string): void {
    parseJoinableRoom(room);
    if (!connection.topics.has(room)) throw RealtimeError.forbidden('Not a member of room');
    if (content.length > this.config.maxContentLength) {
      throw RealtimeError.badFrame(`Invalid content: longer than ${this.config.maxContentLength} characters`);
    }
    const principal = connection.requirePrincipal();
    void this.publish(
      room,
      'message',
      { content, user_id: principal.userId, username: principal.username },
      principal.username,
    );
  }

  /** Sends a server event to every member of `room`, on every instance (but those of user `except`). */
  publish(
    room: string,
    type: ChatEventType,
    data: Record<string, unknown>,
    sender: string | null,
    except?: string,
  ): Promise<PublishReceipt> {
    const event: ChatEvent = { type, room, data, sender, timestamp: timestamp() };
    return this.fanout.toTopics('chat', [room], event, except);
  }

  /** `user_joined` / `user_left` to the others in `room` (the user's own tabs are not told). */
  private announce(room: string, type: 'user_joined' | 'user_left', principal: Principal): void {
    void this.publish(room, type, presenceData(principal), principal.username, principal.sub);
  }

  private async leaveRoom(connection: Connection, room: string, cause: LeaveCause = 'left'): Promise<void> {
    const principal = connection.requirePrincipal();
    const { presenceChanged } = this.registry.leave(connection, room);
    if (room === userRoom(principal.sub) || !presenceChanged) return;
    if (await this.presence.leave('chat', room, principal.sub, cause)) this.announce(room, 'user_left', principal);
  }

  private roomReply(type: 'room_joined' | 'room_left', room: string, position?: object): object {
    return { type, room, data: { room, ...position }, timestamp: timestamp() };
  }
}

function presenceData(principal: Principal): Record<string, unknown> {
  return { user_id: principal.userId, username: principal.username };
}
