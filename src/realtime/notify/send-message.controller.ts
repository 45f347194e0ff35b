import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiOkResponse,
  ApiServiceUnavailableResponse,
  ApiTags,
} from '@nestjs/swagger';
import { Body, HttpCode, Post, Res, UsePipes } from '@nestjs/common';
import {
  AdminOnly,
  AdminValidationPipe,
  answerStatus,
  ErrorBody,
  RealtimeController,
  receiptFields,
  type StatusSettable,
} from '../http/index.js';
import { SendMessageDto } from './notify.dto.js';
import { NotifyService } from './notify.service.js';

/** `POST /ws/send-message` (seed 002, SPEC.md §8): one notify client or all, on any instance. */
@RealtimeController('ws')
@ApiTags('admin')
@AdminOnly()
@UsePipes(AdminValidationPipe)
export class SendMessageController {
  constructor(private readonly notify: NotifyService) {}

  /** Answers how many clients it reached; an unknown client id reaches 0 (not a 404). */
  @Post('send-message')
  @ApiOkResponse({
    description:
      '`{sent: true, reached, stored: true, positions?}`: stored (in Redis, with Redis), and how many clients it reached (0 for an unknown client id)',
  })
  @ApiAcceptedResponse({
    description: '`{sent: true, reached, buffered: true}`: Redis is away; sent on once it is back',
  })
  @ApiServiceUnavailableResponse({ description: 'Redis failed while storing it: retry', type: ErrorBody })
  @ApiBadRequestResponse({ description: 'An invalid body', type: ErrorBody })
  @HttpCode(200)
  async send(
    @Body() body: SendMessageDto,
    @Res({ passthrough: true }) response: StatusSettable,
  ): Promise<Record<string, unknown>> {
    const reached = await this.notify.reach(body.client_id);
    const receipt = await this.notify.send({ type: body.type, content: body.content, meta: body.meta }, body.client_id);
    const fields = receiptFields(receipt);
    answerStatus(response, fields);
    return { sent: true, reached, ...fields };
  }
}
