import { isAdmin, type Principal } from './principal.js';

/**
 * A room or subscription target: `{ type: 'project', id: '123' }`, `{ type: 'system' }`.
 * @publicApi
 */
export interface ResourceRef {
  type: string;
  id?: string;
}

/**
 * Decides every join and subscription. Replace it through `RealtimeModuleOptions.accessPolicy`.
 * For owned resources (`session`, `client`) it is asked only about principals other than the
 * owner: returning true shares the resource with them.
 * @publicApi
 */
export interface AccessPolicy {
  canAccess(principal: Principal, resource: ResourceRef): boolean | Promise<boolean>;
}

export const ACCESS_POLICY = Symbol('ACCESS_POLICY');

const ADMIN_ONLY_TYPES = new Set(['system', 'worker']);
/**
 * Resources that belong to one principal (checkpoint sessions, notify client ids): their owner is
 * let in by the service that knows the owner; the policy is asked only for anyone else.
 */
const OWNED_TYPES = new Set(['session', 'client']);

/**
 * The default policy of SPEC.md §7.
 * @publicApi
 */
export class DefaultAccessPolicy implements AccessPolicy {
  constructor(private readonly options: { requireAcl: boolean }) {}

  canAccess(principal: Principal, resource: ResourceRef): boolean {
    if (isAdmin(principal)) return true;
    if (resource.type === 'user') return resource.id === principal.sub;
    // Someone else's session or client id: admins only, whatever the token's `acl` says.
    if (OWNED_TYPES.has(resource.type)) return false;
    if (principal.acl) return principal.acl.some((pattern) => matchesPattern(pattern, resource));
    if (this.options.requireAcl) return false;
    return !ADMIN_ONLY_TYPES.has(resource.type);
  }
}

/** `project:123`, `project:*`, `system`: exact type and id, any id of a type, or a bare type. */
export function matchesPattern(pattern: string, resource: ResourceRef): boolean {
  const separator = pattern.indexOf(':');
  if (separator < 0) return pattern === resource.type && resource.id === undefined;
  if (pattern.slice(0, separator) !== resource.type) return false;
  const id = pattern.slice(separator + 1);
  return id === '*' || id === resource.id;
}
