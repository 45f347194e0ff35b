import type { Principal, ResourceRef } from '../core/auth/index.js';
import { RealtimeError } from '../core/gateway/index.js';

/** What a scheduler connection can subscribe to (seed 001 "Supported Resource Types", plus workers). */
export const SCHEDULER_RESOURCE_TYPES = ['experiment', 'task', 'project', 'user', 'worker', 'system'] as const;

export type SchedulerResourceType = (typeof SCHEDULER_RESOURCE_TYPES)[number];

/** A resource id as paths and subscriptions carry it. */
export const RESOURCE_ID = /^[A-Za-z0-9_.:~-]{1,128}$/;
/**
 * A user id: a token's `sub` as the identity provider writes it (`auth0|abc123`, an e-mail address):
 * no whitespace or control characters, at most 256 characters.
 */
// eslint-disable-next-line no-control-regex -- the control characters are what it refuses
export const USER_ID = /^[^\s\u0000-\u001f\u007f]{1,256}$/;

/** A subscription target as the wire shows it: `system`'s id is `"system"`. */
export interface Subscription {
  resourceType: SchedulerResourceType;
  resourceId: string;
  resource: ResourceRef;
}

/** The path parameter that names each path's resource; `/ws/user` names the principal's own. */
const PATH_PARAMS: ReadonlyArray<[string, SchedulerResourceType]> = [
  ['experimentId', 'experiment'],
  ['taskId', 'task'],
  ['projectId', 'project'],
];

export function pathSubscription(params: Readonly<Record<string, string>>, principal: Principal): Subscription {
  const named = PATH_PARAMS.find(([param]) => params[param] !== undefined);
  return named ? subscription(named[1], params[named[0]], principal) : subscription('user', undefined, principal);
}

/** The subscription a client asks for; `user` without an id is its own, `system` has none. */
export function subscription(
  resourceType: SchedulerResourceType,
  resourceId: string | undefined,
  principal: Principal,
): Subscription {
  if (resourceType === 'system') {
    if (resourceId !== undefined && resourceId !== 'system') throw RealtimeError.badFrame('system has no resourceId');
    return { resourceType, resourceId: 'system', resource: { type: 'system' } };
  }
  const id = resourceId ?? (resourceType === 'user' ? principal.sub : undefined);
  // The user's own id is its token's `sub`, as its identity provider writes it; any other id a client
  // names is a resource id.
  const own = resourceType === 'user' && id === principal.sub;
  if (id === undefined || !(own ? USER_ID : RESOURCE_ID).test(id)) {
    throw RealtimeError.badFrame('Missing or invalid resourceId');
  }
  return { resourceType, resourceId: id, resource: { type: resourceType, id } };
}
