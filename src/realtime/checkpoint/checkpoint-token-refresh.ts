import { expiryText, type TokenRefreshFrames } from '../core/gateway/index.js';
import { isRecord } from '../core/text/index.js';

const dateTime = { type: 'string', format: 'date-time' } as const;

/**
 * The checkpoint gateway refreshes with `authenticate` again (its own handler, SPEC.md §5): a token
 * of the same `sub` on an authenticated connection is a refresh. Before expiry it pushes
 * `{"event_type":"token_expiring","data":{"expires_at","expires_in"}}`, shaped like its session events.
 */
export const CHECKPOINT_TOKEN_REFRESH: TokenRefreshFrames = {
  messageKey: 'authenticate',
  token: (frame) => (isRecord(frame.params) ? frame.params.token : undefined),
  refreshed: (_expiresAt, frame) => ({ id: frame.id, success: true, result: { authenticated: true } }),
  expiring: (expiresAt, secondsLeft) => ({
    event_type: 'token_expiring',
    data: { expires_at: expiryText(expiresAt), expires_in: secondsLeft },
  }),
  contract: {
    expiring: {
      name: 'token_expiring',
      summary:
        'The token expires in `data.expires_in` seconds: call `authenticate` with a new one (same `sub`) before, or the connection closes 4401',
      payload: {
        type: 'object',
        properties: {
          event_type: { const: 'token_expiring' },
          data: {
            type: 'object',
            properties: { expires_at: dateTime, expires_in: { type: 'integer', minimum: 0 } },
            required: ['expires_at', 'expires_in'],
            additionalProperties: false,
          },
        },
        required: ['event_type', 'data'],
        additionalProperties: false,
      },
    },
  },
};
