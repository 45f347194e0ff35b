import type { GatewayProtocol, InboundFrame } from '../core/gateway-protocol.js';
import { CloseCode, type RealtimeError, type RealtimeErrorKind } from '../core/realtime-error.js';

/** Seed 000's error codes, carried in `data.code` of the chat error frame. */
const ERROR_CODES: Record<RealtimeErrorKind, number> = {
  bad_frame: 4400,
  unknown_type: 4400,
  unauthenticated: 4401,
  forbidden: 4403,
  not_found: 4404,
  rate_limited: 4429,
  capacity: 4429,
  internal: 4500,
};

export const timestamp = (): string => new Date().toISOString();

function errorFrame(error: RealtimeError): object {
  return { type: 'error', data: { error: error.message, code: ERROR_CODES[error.kind] }, timestamp: timestamp() };
}

/** The chat wire format: `{type, room?, data?}` in, `{type, room, data, sender, timestamp}` out. */
export const CHAT_PROTOCOL: GatewayProtocol = {
  gateway: 'chat',
  messageKey: (frame: InboundFrame) => (typeof frame.type === 'string' ? frame.type : undefined),
  errorFrame,
  refusal: (error) => ({ frame: errorFrame(error), code: CloseCode.TOO_MANY_CONNECTIONS, reason: error.message }),
};
