import type { Principal } from '../core/auth/index.js';

/** Marks the principal of the static `checkpoint.authToken`, so that no JWT can pass for it. */
const STATIC_TOKEN = Symbol('checkpoint static token');

/**
 * Who a connection is after `authenticate` with the static token (SPEC.md §5: "one principal of its
 * own"): never an admin, never expiring. Its `sub` shows in logs and admin views; ownership goes by
 * `ownerKey`, which no JWT `sub` can produce.
 */
export const STATIC_TOKEN_PRINCIPAL: Principal = Object.freeze({
  sub: 'checkpoint:static-token',
  userId: 'checkpoint:static-token',
  username: 'static-token',
  roles: [],
  [STATIC_TOKEN]: true,
});

/**
 * Whether `principal` is the static token's (for a host's access policy: its `sub` alone does not
 * tell it from a JWT that carries the same `sub`).
 * @publicApi
 */
export function isStaticTokenPrincipal(principal: Principal): boolean {
  return (principal as Partial<Record<typeof STATIC_TOKEN, boolean>>)[STATIC_TOKEN] === true;
}

/** The owner of the sessions the host app creates for itself (`CheckpointService` called without a principal). */
export const HOST_OWNER = 'host';

/**
 * The owner identity of a session, as it is stored: `jwt:<sub>` for a token's principal, `static`
 * for the static token, `host` for the host app. The prefixes keep the three apart whatever a `sub` says.
 */
export function ownerKey(actor: Principal | undefined): string {
  if (actor === undefined) return HOST_OWNER;
  return isStaticTokenPrincipal(actor) ? 'static' : `jwt:${actor.sub}`;
}
