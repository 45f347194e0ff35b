import { ApiBadRequestResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Body, HttpCode, Inject, Post } from '@nestjs/common';
import { PUBLISH_TARGETS, RealtimeError, type PublishTarget } from '../core/gateway/index.js';
import { isRecord } from '../core/text/index.js';
import { AdminOnly, AdminValidationPipe, ErrorBody, RealtimeController } from '../http/index.js';

/**
 * `POST /ws/publish`: server events from services in other languages, dispatched to the gateway
 * the body names (`gateway`) or, without one, to the gateway whose shape it has (chat: `room`).
 */
@RealtimeController('ws')
@ApiTags('admin')
@AdminOnly()
export class PublishController {
  constructor(
    @Inject(PUBLISH_TARGETS) private readonly targets: PublishTarget[],
    private readonly validation: AdminValidationPipe,
  ) {}

  @Post('publish')
  @ApiOkResponse({ description: 'Published to every instance' })
  @ApiBadRequestResponse({ description: 'A body of no gateway, or an invalid one', type: ErrorBody })
  @HttpCode(200)
  async publish(@Body() body: unknown): Promise<Record<string, unknown>> {
    if (!isRecord(body)) throw RealtimeError.invalid(['body must be a JSON object']);
    const { gateway, ...event } = body;
    const target = this.targetFor(gateway, event);
    const valid = (await this.validation.transform(event, { type: 'body', metatype: target.bodyType })) as object;
    return target.publish(valid);
  }

  private targetFor(gateway: unknown, event: Record<string, unknown>): PublishTarget {
    const target =
      gateway === undefined
        ? this.targets.find((candidate) => candidate.marker in event)
        : this.targets.find((candidate) => candidate.gateway === gateway);
    if (target) return target;
    const shapes = this.targets.map((candidate) => `a ${candidate.marker} (${candidate.gateway})`);
    throw RealtimeError.invalid([
      gateway === undefined
        ? `body must carry ${shapes.join(' or ')}`
        : `gateway must be one of: ${this.targets.map((candidate) => candidate.gateway).join(', ')}`,
    ]);
  }
}
