import { expiryText, type TokenRefreshFrames } from '../core/gateway/index.js';
import { isRecord } from '../core/text/index.js';
import { closed, DATE_TIME, freshId, nullable, serverFrame } from './scheduler-contract-schemas.js';
import { frameId, timestamp } from './scheduler-events.js';

/** A reply keeps the request's id (SPEC.md §4), else gets a fresh one. */
const replyId = (id: unknown): string => (typeof id === 'string' && id !== '' ? id : frameId('token_refreshed'));

/**
 * The scheduler's refresh (SPEC.md §2): `{"type":"refresh","id"?,"data":{"token":…}}` in,
 * `token_refreshed` back under the request's id, `token_expiring` before expiry; a refusal is the
 * usual error frame under the request's id.
 */
export const SCHEDULER_TOKEN_REFRESH: TokenRefreshFrames = {
  messageKey: 'refresh',
  token: (frame) => (isRecord(frame.data) ? frame.data.token : undefined),
  refreshed: (expiresAt, frame) => ({
    type: 'token_refreshed',
    id: replyId(frame.id),
    timestamp: timestamp(),
    data: { expires_at: expiryText(expiresAt) },
  }),
  expiring: (expiresAt, secondsLeft) => ({
    type: 'token_expiring',
    id: frameId('token_expiring'),
    timestamp: timestamp(),
    data: { expires_at: expiryText(expiresAt), expires_in: secondsLeft },
  }),
  contract: {
    request: {
      name: 'refresh',
      summary: 'A new token for this connection (same `sub`): it stays open, subscriptions and positions untouched',
      payload: {
        type: 'object',
        properties: {
          type: { const: 'refresh' },
          id: { type: 'string' },
          data: { type: 'object', properties: { token: { type: 'string', minLength: 1 } }, required: ['token'] },
        },
        required: ['type', 'data'],
      },
    },
    refreshed: {
      name: 'token_refreshed',
      summary: "The refresh was accepted, under the request's id: the new expiry (null: none)",
      payload: serverFrame(
        { const: 'token_refreshed' },
        { type: 'string', minLength: 1 },
        {
          data: closed({ expires_at: nullable(DATE_TIME) }, ['expires_at']),
        },
        ['data'],
      ),
    },
    expiring: {
      name: 'token_expiring',
      summary: 'The token expires in `data.expires_in` seconds: send `refresh` before, or the connection closes 4401',
      payload: serverFrame(
        { const: 'token_expiring' },
        freshId('token_expiring'),
        {
          data: closed({ expires_at: DATE_TIME, expires_in: { type: 'integer', minimum: 0 } }, [
            'expires_at',
            'expires_in',
          ]),
        },
        ['data'],
      ),
    },
  },
};
