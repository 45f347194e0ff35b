import { ApiBadRequestResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Get, Inject, Query, UsePipes } from '@nestjs/common';
import { EVENT_BUS, type EventBus } from '../bus/index.js';
import { GatewayCatalog, RealtimeError } from '../core/gateway/index.js';
import { REALTIME_CONFIG, type RealtimeConfig } from '../config/index.js';
import { AdminOnly, AdminValidationPipe, ErrorBody, RealtimeController } from '../http/index.js';
import { HistoryQueryDto } from './admin.dto.js';

/** `GET /ws/history`: a stream's retained events and its current position (SPEC.md §11; admin credentials required). */
@RealtimeController('ws')
@ApiTags('admin')
@AdminOnly()
@UsePipes(AdminValidationPipe)
export class HistoryController {
  constructor(
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    @Inject(REALTIME_CONFIG) private readonly config: RealtimeConfig,
    private readonly catalog: GatewayCatalog,
  ) {}

  @Get('history')
  @ApiOkResponse({
    description: "A stream's retained events after `since` and its position: `{gateway, stream, position, events}`",
  })
  @ApiBadRequestResponse({ description: 'A bad query', type: ErrorBody })
  @ApiNotFoundResponse({ description: 'History is off', type: ErrorBody })
  async history(@Query() query: HistoryQueryDto): Promise<Record<string, unknown>> {
    if (!this.config.history) throw RealtimeError.notFound('History is off (historySize or historyTtlSec is 0)');
    this.catalog.require(query.gateway);
    const { position, entries } = await this.bus.list(query.gateway, query.stream, query.since, query.limit);
    return {
      gateway: query.gateway,
      stream: query.stream,
      position,
      events: entries.map((entry) => ({ ...entry.positions[query.stream], frame: JSON.parse(entry.frame) as unknown })),
    };
  }
}
