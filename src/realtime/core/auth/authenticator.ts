import type { IncomingHttpHeaders } from 'node:http';

/** Where a credential is being checked. */
export type AuthenticationSource = 'upgrade' | 'http' | 'refresh' | 'rpc';

/**
 * What a host authenticator is given to decide who a connection (or a REST request) is.
 * @publicApi
 */
export interface AuthenticationRequest {
  readonly source: AuthenticationSource;
  /** The request's headers, cookies included (`cookie`); empty for a refresh or an RPC `authenticate`. */
  readonly headers: IncomingHttpHeaders;
  /** The client's address, after trusted proxies. */
  readonly ip: string;
  readonly path: string;
  /** The query string; `token` and `ticket` are already taken out. */
  readonly query: URLSearchParams;
  /**
   * The bearer credential the module found, when any: from `Sec-WebSocket-Protocol`, the `token`
   * query parameter (unless turned off), the `Authorization: Bearer` header, a refresh frame or an
   * RPC `authenticate`. An authenticator that does not use tokens ignores it.
   */
  readonly token?: string;
}

/**
 * Who the host says someone is. Only `sub` is required; the module checks the shape and refuses
 * (as an authenticator error) anything else.
 * @publicApi
 */
export interface AuthenticatedUser {
  /** The user id: the key of limits, rooms and the access policy. */
  sub: string | number;
  /** Display name; defaults to `sub`. */
  username?: string;
  /** `admin` grants the REST admin API and any resource. */
  roles?: readonly string[];
  /** Resource patterns this identity is limited to (SPEC.md §7). */
  acl?: readonly string[];
  /** When the identity stops being valid, in seconds since the epoch: the connection is told, then closed (4401). */
  exp?: number;
}

/**
 * Decides who an upgrade, an admin REST request, a refresh or a checkpoint `authenticate` belongs
 * to. Return the user; `null` refuses (4401 / 401); `undefined` leaves the decision to the JWT
 * check (the default authenticator, `JwtAuthenticator`), so that tokens keep working beside, say,
 * a session cookie. Throwing (or taking longer than `auth.timeoutMs`) is an error of the
 * authenticator (1011 / 503), never a crash or a hang. A host sets its own with `auth.authenticator`.
 * @publicApi
 */
export interface RealtimeAuthenticator {
  authenticate(
    request: AuthenticationRequest,
  ): AuthenticatedUser | null | undefined | Promise<AuthenticatedUser | null | undefined>;
}

export const REALTIME_AUTHENTICATOR = Symbol('REALTIME_AUTHENTICATOR');
