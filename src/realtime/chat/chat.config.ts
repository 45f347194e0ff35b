import type { Provider } from '@nestjs/common';
import { REALTIME_MODULE_OPTIONS } from '../core/gateway/index.js';
import { resolveChatConfig, type ChatConfig } from './chat.options.js';

export const CHAT_CONFIG = Symbol('CHAT_CONFIG');

/** The chat section of the module options, with its defaults applied. */
export const chatConfigProvider: Provider<ChatConfig> = {
  provide: CHAT_CONFIG,
  inject: [REALTIME_MODULE_OPTIONS],
  useFactory: resolveChatConfig,
};
