import { Injectable } from '@nestjs/common';
import type { PublishTarget } from '../core/gateway/index.js';
import { PublishSchedulerEventDto } from './scheduler.dto.js';
import { SchedulerService } from './scheduler.service.js';
import { receiptFields } from '../http/index.js';

/** `POST /ws/publish` with a `scope`: a scheduler event from a service in another language. */
@Injectable()
export class SchedulerPublishTarget implements PublishTarget<PublishSchedulerEventDto> {
  readonly gateway = 'scheduler';
  readonly bodyType = PublishSchedulerEventDto;
  readonly marker = 'scope';

  constructor(private readonly scheduler: SchedulerService) {}

  async publish(body: PublishSchedulerEventDto): Promise<Record<string, unknown>> {
    const { id, receipt } = this.scheduler.publishWithReceipt(body.type, body.data, { ...body.scope });
    return { published: true, gateway: 'scheduler', type: body.type, id, ...receiptFields(await receipt) };
  }
}
