export {
  ACCESS_POLICY,
  DefaultAccessPolicy,
  matchesPattern,
  type AccessPolicy,
  type ResourceRef,
} from './access-policy.js';
export { bearerToken } from './bearer-token.js';
export { isAdmin, type Principal } from './principal.js';
export { TokenVerifier } from './token-verifier.service.js';
export { UpgradeAuthenticator, type UpgradeAuthResult } from './upgrade-authenticator.js';
export { ResourceAccess } from './resource-access.service.js';
