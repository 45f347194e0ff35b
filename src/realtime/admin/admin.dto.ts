import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { GATEWAY_NAME_FORMAT, type GatewayName } from '../core/gateway/index.js';

const GATEWAY_MESSAGE = 'gateway must be the name of a registered gateway';

/** A page size, 1 to 1000 (100 when omitted). */
class PageQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: 1000, default: 100 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit: number = 100;
}

export class ListClientsQueryDto extends PageQueryDto {
  /** A registered gateway's name (the controller checks it against `GatewayCatalog`). */
  @ApiPropertyOptional({ description: 'Only clients of this gateway', example: 'chat' })
  @IsOptional()
  @Matches(GATEWAY_NAME_FORMAT, { message: GATEWAY_MESSAGE })
  gateway?: GatewayName;

  @ApiPropertyOptional({ description: 'Only clients of this user id', maxLength: 256 })
  @IsOptional()
  @IsString()
  @MaxLength(256)
  user?: string;

  @ApiPropertyOptional({ description: 'The next_cursor of the previous page' })
  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,200}$/, { message: 'cursor must be the next_cursor of a previous page' })
  cursor?: string;
}

/** `GET /ws/history`: one stream's retained events after an offset. */
export class HistoryQueryDto extends PageQueryDto {
  /** The stream: a room, a resource (`experiment:exp-1`), `client:<id>`, `session:<uuid>` or `broadcast`. */
  @ApiProperty({ example: 'channel:1', maxLength: 256 })
  @IsString()
  @MaxLength(256)
  stream!: string;

  /** A registered gateway's name (the controller checks it against `GatewayCatalog`). */
  @ApiPropertyOptional({ description: 'The gateway of the stream', default: 'chat' })
  @IsOptional()
  @Matches(GATEWAY_NAME_FORMAT, { message: GATEWAY_MESSAGE })
  gateway: GatewayName = 'chat';

  @ApiPropertyOptional({ description: 'Events after this offset', minimum: 0, default: 0 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  since: number = 0;
}
