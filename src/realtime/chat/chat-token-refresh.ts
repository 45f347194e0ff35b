import type { JsonSchema } from '../core/contract/index.js';
import { expiryText, type TokenRefreshFrames } from '../core/gateway/index.js';
import { isRecord } from '../core/text/index.js';
import { timestamp } from './chat-events.js';

const isoTimestamp = { type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z$' } as const;
const serverFrame = (type: string, data: JsonSchema): JsonSchema => ({
  type: 'object',
  properties: { type: { const: type }, data, timestamp: isoTimestamp },
  required: ['type', 'data', 'timestamp'],
  additionalProperties: false,
});

/**
 * Chat's refresh (SPEC.md §2): `{"type":"refresh","data":{"token":…}}` in, `token_refreshed` back,
 * `token_expiring` before expiry; a refusal is the usual error frame with code 4401.
 */
export const CHAT_TOKEN_REFRESH: TokenRefreshFrames = {
  messageKey: 'refresh',
  token: (frame) => (isRecord(frame.data) ? frame.data.token : undefined),
  refreshed: (expiresAt) => ({
    type: 'token_refreshed',
    data: { expires_at: expiryText(expiresAt) },
    timestamp: timestamp(),
  }),
  expiring: (expiresAt, secondsLeft) => ({
    type: 'token_expiring',
    data: { expires_at: expiryText(expiresAt), expires_in: secondsLeft },
    timestamp: timestamp(),
  }),
  contract: {
    request: {
      name: 'refresh',
      summary: 'A new token for this connection (same `sub`): it stays open, rooms and positions untouched',
      payload: {
        type: 'object',
        properties: {
          type: { const: 'refresh' },
          data: { type: 'object', properties: { token: { type: 'string', minLength: 1 } }, required: ['token'] },
        },
        required: ['type', 'data'],
      },
    },
    refreshed: {
      name: 'token_refreshed',
      summary: 'The refresh was accepted: the new expiry (null: none)',
      payload: serverFrame('token_refreshed', {
        type: 'object',
        properties: { expires_at: { anyOf: [isoTimestamp, { type: 'null' }] } },
        required: ['expires_at'],
        additionalProperties: false,
      }),
    },
    expiring: {
      name: 'token_expiring',
      summary: 'The token expires in `data.expires_in` seconds: send `refresh` before, or the connection closes 4401',
      payload: serverFrame('token_expiring', {
        type: 'object',
        properties: { expires_at: isoTimestamp, expires_in: { type: 'integer', minimum: 0 } },
        required: ['expires_at', 'expires_in'],
        additionalProperties: false,
      }),
    },
  },
};
