import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiOkResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Body, HttpCode, Inject, Post, Res } from '@nestjs/common';
import { PUBLISH_TARGETS, RealtimeError, type PublishTarget } from '../core/gateway/index.js';
import { isRecord } from '../core/text/index.js';
import {
  AdminOnly,
  AdminValidationPipe,
  answerStatus,
  ErrorBody,
  RealtimeController,
  type StatusSettable,
} from '../http/index.js';

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
  @ApiOkResponse({
    description: 'Stored (in Redis, with Redis) and published to every instance: `stored: true` and its `positions`',
  })
  @ApiAcceptedResponse({ description: 'Redis is away: delivered here, `buffered: true`, sent on once it is back' })
  @ApiServiceUnavailableResponse({ description: 'Redis failed while storing it: retry', type: ErrorBody })
  @ApiBadRequestResponse({ description: 'A body of no gateway, or an invalid one', type: ErrorBody })
  @HttpCode(200)
  async publish(
    @Body() body: unknown,
    @Res({ passthrough: true }) response: StatusSettable,
  ): Promise<Record<string, unknown>> {
    if (!isRecord(body)) throw RealtimeError.invalid(['body must be a JSON object']);
    const { gateway, ...event } = body;
    const target = this.targetFor(gateway, event);
    const valid = (await this.validation.transform(event, { type: 'body', metatype: target.bodyType })) as object;
    const answer = await target.publish(valid);
    answerStatus(response, answer);
    return answer;
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
