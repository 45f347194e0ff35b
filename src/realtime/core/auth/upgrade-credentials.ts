import type { IncomingMessage } from 'node:http';

/** The subprotocol a client offers beside its bearer entry, and the one the server selects. */
export const REALTIME_SUBPROTOCOL = 'realtime.v1';
/** `base64url.bearer.<the token, base64url>`: a token may hold characters a subprotocol cannot. */
export const BEARER_SUBPROTOCOL_PREFIX = 'base64url.bearer.';

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** What an upgrade carries to authenticate with; `malformed` when its bearer entries cannot be read. */
export interface UpgradeCredential {
  token?: string;
  ticket?: string;
  malformed?: true;
}

/**
 * The upgrade's credential, in this order: a `Sec-WebSocket-Protocol` bearer entry, the `ticket`
 * query parameter, the `token` query parameter (when allowed), the `Authorization: Bearer` header.
 * Several bearer entries, an empty one or one that is not base64url make the upgrade `malformed`.
 * `token` and `ticket` are taken out of `query`, so nothing after this sees them.
 */
export function upgradeCredential(
  request: IncomingMessage,
  query: URLSearchParams,
  allowQueryToken: boolean,
): UpgradeCredential {
  const queryToken = query.get('token');
  const ticket = query.get('ticket');
  query.delete('token');
  query.delete('ticket');
  const protocols = request.headers['sec-websocket-protocol'];
  if (protocols?.includes(BEARER_SUBPROTOCOL_PREFIX)) return subprotocolBearer(protocols);
  if (ticket) return { ticket };
  if (queryToken && allowQueryToken) return { token: queryToken };
  const bearer = bearerToken(request.headers.authorization);
  return bearer ? { token: bearer } : {};
}

/** The token of an `Authorization: Bearer <token>` header. */
export function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}

function subprotocolBearer(header: string): UpgradeCredential {
  const entries = header.split(',').filter((entry) => entry.trim().startsWith(BEARER_SUBPROTOCOL_PREFIX));
  if (entries.length !== 1) return { malformed: true };
  const encoded = entries[0].trim().slice(BEARER_SUBPROTOCOL_PREFIX.length);
  if (!BASE64URL.test(encoded)) return { malformed: true };
  const token = Buffer.from(encoded, 'base64url').toString();
  return token === '' ? { malformed: true } : { token };
}

/**
 * Whether the upgrade offers a bearer entry without `realtime.v1`: no protocol could be selected and
 * every client would fail the handshake, so it is refused before the upgrade (HTTP 400).
 */
export function bearerWithoutSubprotocol(request: IncomingMessage): boolean {
  const header = request.headers['sec-websocket-protocol'];
  if (!header?.includes(BEARER_SUBPROTOCOL_PREFIX)) return false;
  return !header.split(',').some((entry) => entry.trim() === REALTIME_SUBPROTOCOL);
}

/**
 * The subprotocol the 101 answer selects (`ws`'s `handleProtocols`): with a bearer entry offered,
 * `realtime.v1` (never the entry that holds the token); otherwise the first offered, as `ws` does.
 * A browser fails a connection whose offered protocols none was selected: a bearer offer must
 * include `realtime.v1`.
 */
export function selectSubprotocol(offered: Set<string>): string | false {
  let first: string | undefined;
  let bearer = false;
  for (const protocol of offered) {
    if (protocol.startsWith(BEARER_SUBPROTOCOL_PREFIX)) bearer = true;
    else first ??= protocol;
  }
  if (!bearer) return first ?? false;
  return offered.has(REALTIME_SUBPROTOCOL) ? REALTIME_SUBPROTOCOL : false;
}
