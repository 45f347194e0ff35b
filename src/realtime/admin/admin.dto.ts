import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, MaxLength, Min } from 'class-validator';
import { GATEWAY_NAMES, type GatewayName } from '../core/gateway/index.js';

/** A page size, 1 to 1000 (100 when omitted). */
class PageQueryDto {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  limit: number = 100;
}

export class ListClientsQueryDto extends PageQueryDto {
  @IsOptional()
  @IsIn(GATEWAY_NAMES)
  gateway?: GatewayName;

  @IsOptional()
  @IsString()
  @MaxLength(256)
  user?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,200}$/, { message: 'cursor must be the next_cursor of a previous page' })
  cursor?: string;
}

/** `GET /ws/history`: one stream's retained events after an offset. */
export class HistoryQueryDto extends PageQueryDto {
  /** The stream: a room, a resource (`experiment:exp-1`), `client:<id>`, `session:<uuid>` or `broadcast`. */
  @IsString()
  @MaxLength(256)
  stream!: string;

  @IsOptional()
  @IsIn(GATEWAY_NAMES)
  gateway: GatewayName = 'chat';

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  since: number = 0;
}
