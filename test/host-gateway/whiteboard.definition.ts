import {
  standardRefusal,
  type GatewayDefinition,
  type InboundFrame,
  type RealtimeError,
  type RealtimeErrorKind,
} from '../../src/realtime/index.js';
import { WHITEBOARD_CONTRACT } from './whiteboard.contract.js';

/** The example host gateway's error codes, carried in its error frame. */
const CODES: Record<RealtimeErrorKind, number> = {
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

/** `{type:"error", error, code}`, with the request's `id` when it had one. */
function errorFrame(error: RealtimeError, frame?: InboundFrame): object {
  const id = typeof frame?.id === 'string' ? { id: frame.id } : {};
  return { type: 'error', ...id, error: error.message, code: CODES[error.kind] };
}

/** Connections per user on this gateway: small, so that the limit is reached in a test. */
export const WHITEBOARD_PER_USER = 3;

/**
 * A collaborative-cursor channel, as a host application would add it: `/ws/whiteboards/:docId`,
 * `{type, …}` frames in and out. Everything the module needs to know of it is here.
 */
export const WHITEBOARD_GATEWAY: GatewayDefinition = {
  gateway: 'whiteboard',
  paths: ['/ws/whiteboards/:docId'],
  contract: WHITEBOARD_CONTRACT,
  paramPatterns: { docId: '[a-z0-9-]{1,40}' },
  limits: () => ({ perUser: WHITEBOARD_PER_USER }),
  messageKey: (frame) => (typeof frame.type === 'string' ? frame.type : undefined),
  errorFrame,
  refusal: standardRefusal(errorFrame),
};
