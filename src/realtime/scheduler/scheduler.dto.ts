import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsObject, IsOptional, IsString, Matches, ValidateIf, ValidateNested } from 'class-validator';
import { SCHEDULER_EVENT_TYPES, type SchedulerEventType } from './scheduler-events.js';
import { SinceField, type StreamPositionDto } from '../core/gateway/index.js';
import { RESOURCE_ID, SCHEDULER_RESOURCE_TYPES, USER_ID, type SchedulerResourceType } from './scheduler-resources.js';

const hasAction = (data: SystemStatusDataDto): boolean => data.action !== undefined;

/** `data` of a `system_status` frame: a (un)subscription, or nothing (a snapshot request). */
export class SystemStatusDataDto {
  @ValidateIf(hasAction)
  @IsIn(['subscribe', 'unsubscribe'])
  action?: 'subscribe' | 'unsubscribe';

  @ValidateIf(hasAction)
  @IsIn(SCHEDULER_RESOURCE_TYPES)
  resourceType!: SchedulerResourceType;

  /** A user id or a resource id; which one its `resourceType` takes is checked by the subscription. */
  @ValidateIf((data: SystemStatusDataDto) => hasAction(data) && data.resourceId !== undefined)
  @IsString()
  @Matches(USER_ID)
  resourceId?: string;

  /** With `subscribe`: the last position the client saw in the resource's stream (SPEC.md §11). */
  @SinceField()
  since?: StreamPositionDto;
}

/** `{"type":"system_status","data"?:{…}}`. */
export class SystemStatusFrameDto {
  @IsOptional()
  @IsObject()
  @ValidateNested()
  @Type(() => SystemStatusDataDto)
  data?: SystemStatusDataDto;
}

export class EventScopeDto {
  @ApiPropertyOptional() @IsOptional() @IsString() @Matches(RESOURCE_ID) experimentId?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @Matches(RESOURCE_ID) taskId?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @Matches(RESOURCE_ID) projectId?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @Matches(USER_ID) userId?: string;
  @ApiPropertyOptional() @IsOptional() @IsString() @Matches(RESOURCE_ID) workerId?: string;
}

/** `POST /ws/publish` for the scheduler gateway: `{type, data, scope}`. */
export class PublishSchedulerEventDto {
  @ApiProperty({ enum: SCHEDULER_EVENT_TYPES })
  @IsIn(SCHEDULER_EVENT_TYPES)
  type!: SchedulerEventType;

  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The seed-001 object of the event' })
  @IsObject()
  data!: Record<string, unknown>;

  @ApiProperty({ type: EventScopeDto, description: 'The resources the event belongs to' })
  @IsObject()
  @ValidateNested()
  @Type(() => EventScopeDto)
  scope!: EventScopeDto;
}
