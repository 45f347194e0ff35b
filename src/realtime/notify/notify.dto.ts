import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsDefined, IsObject, IsOptional, IsString, Length, Matches } from 'class-validator';
import { CLIENT_ID } from './notify-events.js';

/** Any client frame: a type, and content and meta as the host app defines them. */
export class NotifyInboundDto {
  @IsString({ message: 'type must be a string' })
  @Length(1, 64, { message: 'type must be 1 to 64 characters' })
  type!: string;

  @IsOptional()
  content?: unknown;

  @IsOptional()
  @IsObject({ message: 'meta must be an object' })
  meta?: Record<string, unknown>;
}

/** `POST /ws/send-message` (seed 002): to one client, or to every notify client. */
export class SendMessageDto {
  @ApiProperty({ minLength: 1, maxLength: 64, example: 'task.update' })
  @IsString()
  @Length(1, 64)
  type!: string;

  @ApiProperty({ description: 'Any JSON value', example: { progress: 42 } })
  @IsDefined()
  content!: unknown;

  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  @IsOptional()
  @IsObject()
  meta?: Record<string, unknown>;

  @ApiPropertyOptional({
    description: 'One client; every notify client when absent',
    pattern: '^[A-Za-z0-9_.-]{1,64}$',
  })
  @IsOptional()
  @IsString()
  @Matches(CLIENT_ID, { message: 'client_id must match ^[A-Za-z0-9_.-]{1,64}$' })
  client_id?: string;
}
