import {
  standardRefusal,
  type GatewayDefinition,
  type InboundFrame,
  type RealtimeError,
  type RealtimeErrorKind,
} from '../core/gateway/index.js';
import { timestamp } from './chat-events.js';
import { CHAT_CONTRACT } from './chat.contract.js';
import { CHAT_TOKEN_REFRESH } from './chat-token-refresh.js';
import { resolveChatConfig, type ChatOptions } from './chat.options.js';

/** Seed 000's error codes, carried in `data.code` of the chat error frame. */
const ERROR_CODES: Record<RealtimeErrorKind, number> = {
  bad_frame: 4400,
  unknown_type: 4400,
  unauthenticated: 4401,
  forbidden: 4403,
  not_found: 4404,
  rate_limited: 4429,
  capacity: 4429,
  unavailable: 4503,
  internal: 4500,
};

function errorFrame(error: RealtimeError): object {
  return { type: 'error', data: { error: error.message, code: ERROR_CODES[error.kind] }, timestamp: timestamp() };
}

/**
 * The chat gateway (seed 000, SPEC.md §3) on `/api/v1/ws/connect`: `{type, room?, data?}` in,
 * `{type, room, data, sender, timestamp}` out, errors as `{type:"error", data:{error, code}}`.
 */
export const CHAT_GATEWAY: GatewayDefinition = {
  gateway: 'chat',
  paths: ['/api/v1/ws/connect'],
  contract: CHAT_CONTRACT,
  limits: (options: { chat?: ChatOptions }) => ({ perUser: resolveChatConfig(options).maxConnectionsPerUser }),
  messageKey: (frame: InboundFrame) => (typeof frame.type === 'string' ? frame.type : undefined),
  errorFrame,
  refusal: standardRefusal(errorFrame),
  tokenRefresh: CHAT_TOKEN_REFRESH,
};
