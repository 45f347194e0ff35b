import { asyncApiDocument } from '../../src/realtime/core/contract/index.js';
import { CHAT_GATEWAY } from '../../src/realtime/chat/chat.definition.js';
import { CHECKPOINT_GATEWAY } from '../../src/realtime/checkpoint/checkpoint.definition.js';
import { NOTIFY_GATEWAY } from '../../src/realtime/notify/notify.definition.js';
import { SCHEDULER_GATEWAY } from '../../src/realtime/scheduler/scheduler.definition.js';

/** The AsyncAPI document of the four built-in gateways, as an app without host gateways serves it. */
export function builtInContract(): Record<string, any> {
  return asyncApiDocument([CHAT_GATEWAY, SCHEDULER_GATEWAY, CHECKPOINT_GATEWAY, NOTIFY_GATEWAY], {
    title: 'Realtime gateways',
    version: 'test',
    host: 'localhost',
    protocol: 'ws',
  });
}
