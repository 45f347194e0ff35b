import type { RealtimeFeature } from '../core/gateway/index.js';
import { ChatPublishTarget } from './chat-publish.target.js';
import { chatConfigProvider } from './chat.config.js';
import { ChatGateway } from './chat.gateway.js';
import { ChatPublisher } from './chat.publisher.js';
import { ChatService } from './chat.service.js';

/** The chat gateway as `RealtimeModule` registers it. */
export const CHAT_FEATURE: RealtimeFeature = {
  providers: [chatConfigProvider, ChatService, ChatPublisher, ChatGateway, ChatPublishTarget],
  exports: [ChatPublisher],
  publishTarget: ChatPublishTarget,
};
