export {
  ACCESS_POLICY,
  DefaultAccessPolicy,
  matchesPattern,
  type AccessPolicy,
  type ResourceRef,
} from './access-policy.js';
export {
  REALTIME_AUTHENTICATOR,
  type AuthenticatedUser,
  type AuthenticationRequest,
  type AuthenticationSource,
  type RealtimeAuthenticator,
} from './authenticator.js';
export { Authentication, AUTH_UNAVAILABLE, type AuthOutcome } from './authentication.service.js';
export { ConnectTickets, ticketStoreProvider } from './connect-tickets.service.js';
export { JwtAuthenticator } from './jwt-authenticator.js';
export { isAdmin, principalOf, type Principal } from './principal.js';
export { TokenVerifier } from './token-verifier.service.js';
export {
  BEARER_SUBPROTOCOL_PREFIX,
  bearerToken,
  bearerWithoutSubprotocol,
  REALTIME_SUBPROTOCOL,
  selectSubprotocol,
  upgradeCredential,
} from './upgrade-credentials.js';
export { UpgradeAuthenticator, type UpgradeAuthResult } from './upgrade-authenticator.js';
export { ResourceAccess } from './resource-access.service.js';
