import { ApiBadRequestResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { Body, HttpCode, Post, UsePipes } from '@nestjs/common';
import { AdminOnly, AdminValidationPipe, ErrorBody, RealtimeController } from '../http/index.js';
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
  @ApiOkResponse({ description: '`{sent: true, reached}`: how many clients it reached (0 for an unknown client id)' })
  @ApiBadRequestResponse({ description: 'An invalid body', type: ErrorBody })
  @HttpCode(200)
  async send(@Body() body: SendMessageDto): Promise<{ sent: true; reached: number }> {
    const reached = await this.notify.reach(body.client_id);
    this.notify.send({ type: body.type, content: body.content, meta: body.meta }, body.client_id);
    return { sent: true, reached };
  }
}
