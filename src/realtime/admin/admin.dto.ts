import { Type } from 'class-transformer';
import { IsIn, IsInt, IsObject, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { CHAT_EVENT_TYPES } from '../chat/chat-events.js';
import type { GatewayName } from '../core/gateway-protocol.js';

const GATEWAYS: GatewayName[] = ['chat', 'scheduler', 'checkpoint', 'notify'];

export class ListClientsQueryDto {
  @IsOptional()
  @IsIn(GATEWAYS)
  gateway?: GatewayName;

  @IsOptional()
  @IsString()
  @MaxLength(256)
  user?: string;

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit: number = 100;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,200}$/, { message: 'cursor must be the next_cursor of a previous page' })
  cursor?: string;
}

/** `POST /ws/publish` for the chat gateway: a server event to one room. */
export class PublishChatEventDto {
  @IsString()
  @Matches(/^((channel|project|task):\d{1,20}|user:[^\s:]{1,128})$/, {
    message: 'room must be channel|project|task:<digits> or user:<id>',
  })
  room!: string;

  @IsIn(CHAT_EVENT_TYPES.filter((type) => type !== 'error'))
  type!: string;

  @IsObject()
  data!: Record<string, unknown>;

  @IsOptional()
  @IsString()
  @MaxLength(256)
  sender?: string;
}
