import type { JsonSchema } from '../core/contract/index.js';
import { expiryText, type TokenRefreshFrames } from '../core/gateway/index.js';
import { notifyFrame } from './notify-events.js';

const timestamp: JsonSchema = { type: 'string', format: 'date-time' };
const sent = (type: string, content: string, meta: JsonSchema): JsonSchema => ({
  type: 'object',
  properties: { type: { const: type }, content: { const: content }, meta, timestamp },
  required: ['type', 'content', 'meta', 'timestamp'],
  additionalProperties: false,
});

/**
 * Notify's refresh (SPEC.md §2): `{"type":"refresh","content":"<token>"}` in (`refresh` is the
 * gateway's own type, not the host's), `token_refreshed` back, `token_expiring` before expiry; a
 * refusal is the usual `{"type":"error","content":…}`.
 */
export const NOTIFY_TOKEN_REFRESH: TokenRefreshFrames = {
  messageKey: 'refresh',
  token: (frame) => frame.content,
  refreshed: (expiresAt) => notifyFrame('token_refreshed', 'Token refreshed', { expires_at: expiryText(expiresAt) }),
  expiring: (expiresAt, secondsLeft) =>
    notifyFrame('token_expiring', 'Token expires soon', { expires_at: expiryText(expiresAt), expires_in: secondsLeft }),
  contract: {
    request: {
      name: 'refresh',
      summary: 'A new token (same `sub`) in `content`: the connection stays open, streams and positions untouched',
      payload: {
        type: 'object',
        properties: { type: { const: 'refresh' }, content: { type: 'string', minLength: 1 }, meta: { type: 'object' } },
        required: ['type', 'content'],
      },
    },
    refreshed: {
      name: 'token_refreshed',
      summary: 'The refresh was accepted: the new expiry in `meta.expires_at` (null: none)',
      payload: sent('token_refreshed', 'Token refreshed', {
        type: 'object',
        properties: { expires_at: { anyOf: [timestamp, { type: 'null' }] } },
        required: ['expires_at'],
        additionalProperties: false,
      }),
    },
    expiring: {
      name: 'token_expiring',
      summary: 'The token expires in `meta.expires_in` seconds: send `refresh` before, or the connection closes 4401',
      payload: sent('token_expiring', 'Token expires soon', {
        type: 'object',
        properties: { expires_at: timestamp, expires_in: { type: 'integer', minimum: 0 } },
        required: ['expires_at', 'expires_in'],
        additionalProperties: false,
      }),
    },
  },
};
