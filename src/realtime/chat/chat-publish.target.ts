import { Injectable } from '@nestjs/common';
import type { PublishTarget } from '../core/gateway/index.js';
import { PublishChatEventDto } from './chat.dto.js';
import { ChatPublisher } from './chat.publisher.js';
import { receiptFields } from '../http/index.js';

/** `POST /ws/publish` with a `room`: a chat event from a service in another language. */
@Injectable()
export class ChatPublishTarget implements PublishTarget<PublishChatEventDto> {
  readonly gateway = 'chat';
  readonly bodyType = PublishChatEventDto;
  readonly marker = 'room';

  constructor(private readonly chat: ChatPublisher) {}

  async publish(body: PublishChatEventDto): Promise<Record<string, unknown>> {
    const receipt = await this.chat.publishStored(body.room, body.type, body.data, body.sender ?? null);
    return { published: true, gateway: 'chat', room: body.room, type: body.type, ...receiptFields(receipt) };
  }
}
