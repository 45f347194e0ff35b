import {
  ConnectedSocket,
  MessageBody,
  SubscribeMessage,
  type OnGatewayConnection,
  type OnGatewayDisconnect,
} from '@nestjs/websockets';
import { frameValidationPipe, RealtimeGateway } from '../core/gateway/index.js';
import { openWith, sendThen } from '../core/registry/index.js';
import type { Connection } from '../core/transport/index.js';
import { timestamp } from './chat-events.js';
import { CHAT_GATEWAY } from './chat.definition.js';
import { JoinRoomFrameDto, RoomFrameDto, SendMessageFrameDto } from './chat.dto.js';
import { ChatService } from './chat.service.js';

/** `/api/v1/ws/connect`: chat rooms (seed 000, SPEC.md §3). */
@RealtimeGateway(CHAT_GATEWAY)
export class ChatGateway implements OnGatewayConnection<Connection>, OnGatewayDisconnect<Connection> {
  constructor(private readonly chat: ChatService) {}

  /** The welcome, then what the user's own room missed since the query's position (SPEC.md §11). */
  handleConnection(connection: Connection): void {
    openWith(connection, this.chat.connect(connection));
  }

  handleDisconnect(connection: Connection): void {
    this.chat.disconnect(connection);
  }

  /** The reply, then the events missed since `data.since` (SPEC.md §11). */
  @SubscribeMessage('join_room')
  async join(
    @ConnectedSocket() connection: Connection,
    @MessageBody(frameValidationPipe) frame: JoinRoomFrameDto,
  ): Promise<void> {
    sendThen(connection, await this.chat.join(connection, frame.room, frame.data?.since));
  }

  @SubscribeMessage('leave_room')
  leave(
    @ConnectedSocket() connection: Connection,
    @MessageBody(frameValidationPipe) frame: RoomFrameDto,
  ): Promise<object> {
    return this.chat.leave(connection, frame.room);
  }

  @SubscribeMessage('send_message')
  send(@ConnectedSocket() connection: Connection, @MessageBody(frameValidationPipe) frame: SendMessageFrameDto): void {
    this.chat.sendMessage(connection, frame.room, frame.data.content);
  }

  @SubscribeMessage('ping')
  ping(): object {
    return { type: 'pong', timestamp: timestamp() };
  }
}
