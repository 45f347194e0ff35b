export { type ChatEvent, type ChatEventType } from './chat-events.js';
export { CHAT_FEATURE } from './chat.feature.js';
export type { ChatOptions } from './chat.options.js';
export { ChatPublisher } from './chat.publisher.js';
