import type { TokenRefreshFrames } from './gateway-definition.js';

/** ISO 8601 UTC with milliseconds, or null for an identity without expiry. */
export const expiryText = (expiresAt: number | undefined): string | null =>
  expiresAt === undefined ? null : new Date(expiresAt).toISOString();

const isoTimestamp = { type: 'string', format: 'date-time' } as const;

/**
 * The refresh frames of a gateway that words none (a host's own): `{"type":"refresh","token":…}`
 * in, `{"type":"token_refreshed","expires_at":…}` back, `{"type":"token_expiring","expires_at":…,
 * "expires_in":…}` before expiry.
 * @publicApi
 */
export const DEFAULT_TOKEN_REFRESH: TokenRefreshFrames = {
  messageKey: 'refresh',
  token: (frame) => frame.token,
  refreshed: (expiresAt) => ({ type: 'token_refreshed', expires_at: expiryText(expiresAt) }),
  expiring: (expiresAt, secondsLeft) => ({
    type: 'token_expiring',
    expires_at: expiryText(expiresAt),
    expires_in: secondsLeft,
  }),
  contract: {
    request: {
      name: 'refresh',
      summary: 'A new token for this connection (same `sub`); limits, rooms and positions stay',
      payload: {
        type: 'object',
        properties: { type: { const: 'refresh' }, token: { type: 'string', minLength: 1 } },
        required: ['type', 'token'],
      },
    },
    refreshed: {
      name: 'token_refreshed',
      summary: 'The refresh was accepted: the new expiry',
      payload: {
        type: 'object',
        properties: { type: { const: 'token_refreshed' }, expires_at: { anyOf: [isoTimestamp, { type: 'null' }] } },
        required: ['type', 'expires_at'],
        additionalProperties: false,
      },
    },
    expiring: {
      name: 'token_expiring',
      summary: 'The token expires in `expires_in` seconds: send `refresh` before, or the connection closes 4401',
      payload: {
        type: 'object',
        properties: {
          type: { const: 'token_expiring' },
          expires_at: isoTimestamp,
          expires_in: { type: 'integer', minimum: 0 },
        },
        required: ['type', 'expires_at', 'expires_in'],
        additionalProperties: false,
      },
    },
  },
};
