import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  IsDefined,
  IsIn,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  Matches,
  MaxLength,
  ValidateNested,
} from 'class-validator';
import { SinceField, type StreamPositionDto } from '../core/gateway/index.js';
import { DELIVERABLE_ROOM } from './chat-room.js';
import { PUBLISHABLE_CHAT_EVENT_TYPES } from './chat-events.js';

/** `join_room` / `leave_room`: a frame that names a room. */
export class RoomFrameDto {
  @IsDefined({ message: 'Missing room' })
  @IsString({ message: 'room must be a string' })
  room!: string;
}

export class JoinRoomDataDto {
  /** The last position the client saw in the room: the events after it are sent after the reply. */
  @SinceField()
  since?: StreamPositionDto;
}

/** `join_room`: a room, and optionally where to resume it from. */
export class JoinRoomFrameDto extends RoomFrameDto {
  @IsOptional()
  @IsObject({ message: 'data must be an object' })
  @ValidateNested()
  @Type(() => JoinRoomDataDto)
  data?: JoinRoomDataDto;
}

export class MessageDataDto {
  @IsString({ message: 'Invalid content: content must be a string' })
  @IsNotEmpty({ message: 'Invalid content: content must not be empty' })
  content!: string;
}

/** `send_message`: a room and `data.content`. */
export class SendMessageFrameDto extends RoomFrameDto {
  @IsDefined({ message: 'Invalid content: data.content is required' })
  @IsObject({ message: 'Invalid content: data must be an object' })
  @ValidateNested()
  @Type(() => MessageDataDto)
  data!: MessageDataDto;
}

/** `POST /ws/publish` for the chat gateway: a server event to one room. */
export class PublishChatEventDto {
  @ApiProperty({ example: 'channel:1', description: 'channel|project|task:<digits> or user:<id>' })
  @IsString()
  @Matches(DELIVERABLE_ROOM, { message: 'room must be channel|project|task:<digits> or user:<id>' })
  room!: string;

  @ApiProperty({ enum: PUBLISHABLE_CHAT_EVENT_TYPES })
  @IsIn(PUBLISHABLE_CHAT_EVENT_TYPES)
  type!: (typeof PUBLISHABLE_CHAT_EVENT_TYPES)[number];

  @ApiProperty({ type: 'object', additionalProperties: true })
  @IsObject()
  data!: Record<string, unknown>;

  @ApiPropertyOptional({ maxLength: 256 })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  sender?: string;
}
