import { clipClientString } from '../text/clip.js';
import { isRecord } from '../text/json-decode.js';

/** Who is on the other end of a connection, as its authentication said. */
export interface Principal {
  /** `sub` as a string: the key for limits, rooms and policy. */
  readonly sub: string;
  /** `sub` as the token carried it (a number stays a number in frames). */
  readonly userId: string | number;
  readonly username: string;
  readonly roles: readonly string[];
  /** Resource patterns the token is limited to, when it has an `acl` claim. */
  readonly acl?: readonly string[];
  /** Expiry in seconds since the epoch. */
  readonly exp?: number;
}

export const isAdmin = (principal: Principal): boolean => principal.roles.includes('admin');

const MAX_LIST = 256;

/** Principals this module built: handed back by an authenticator (the JWT default), they are taken as they are. */
const BUILT = new WeakSet<Principal>();

export const isBuiltPrincipal = (value: unknown): value is Principal =>
  typeof value === 'object' && value !== null && BUILT.has(value as Principal);

/**
 * The principal of verified JWT claims or of what a host authenticator returned, or undefined when
 * it has no usable `sub` (a non-empty string or a finite number). Lists keep their strings only,
 * strings are clipped (SPEC.md §10.1).
 */
export function principalOf(claims: unknown): Principal | undefined {
  if (isBuiltPrincipal(claims)) return claims;
  if (!isRecord(claims)) return undefined;
  const sub = claims.sub;
  const validSub = (typeof sub === 'string' && sub !== '') || (typeof sub === 'number' && Number.isFinite(sub));
  if (!validSub) return undefined;
  const username = [claims.username, claims.preferred_username].find((v) => typeof v === 'string' && v !== '');
  const principal: Principal = {
    sub: String(sub),
    userId: sub,
    username: clipClientString(typeof username === 'string' ? username : String(sub)),
    roles: strings(claims.roles) ?? [],
    acl: strings(claims.acl),
    exp: typeof claims.exp === 'number' && Number.isFinite(claims.exp) ? claims.exp : undefined,
  };
  BUILT.add(principal);
  return principal;
}

function strings(value: unknown): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value
    .slice(0, MAX_LIST)
    .filter((item): item is string => typeof item === 'string')
    .map(clipClientString);
}
