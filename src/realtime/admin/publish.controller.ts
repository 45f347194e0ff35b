import { Body, Controller, HttpCode, Post, UseGuards, UsePipes } from '@nestjs/common';
import type { ChatEventType } from '../chat/chat-events.js';
import { ChatPublisher } from '../chat/chat.publisher.js';
import { AdminAuthGuard } from './admin-auth.guard.js';
import { PublishChatEventDto } from './admin.dto.js';
import { adminValidationPipe } from './clients.controller.js';

/** `POST /ws/publish`: server events from services in other languages. */
@Controller('ws')
@UseGuards(AdminAuthGuard)
@UsePipes(adminValidationPipe)
export class PublishController {
  constructor(private readonly chat: ChatPublisher) {}

  @Post('publish')
  @HttpCode(200)
  publish(@Body() body: PublishChatEventDto): Record<string, unknown> {
    this.chat.publish(body.room, body.type as ChatEventType, body.data, body.sender ?? null);
    return { published: true, gateway: 'chat', room: body.room, type: body.type };
  }
}
