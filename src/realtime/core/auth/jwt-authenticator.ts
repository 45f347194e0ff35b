import { Injectable } from '@nestjs/common';
import type { AuthenticationRequest, RealtimeAuthenticator } from './authenticator.js';
import type { Principal } from './principal.js';
import { TokenVerifier } from './token-verifier.service.js';

/**
 * The default authenticator: the request's bearer token, verified as a JWT (static key or JWKS).
 * A host authenticator can inject it and delegate to it for tokens.
 * @publicApi
 */
@Injectable()
export class JwtAuthenticator implements RealtimeAuthenticator {
  constructor(private readonly verifier: TokenVerifier) {}

  authenticate(request: AuthenticationRequest): Principal | undefined | Promise<Principal | undefined> {
    return request.token ? this.verifier.verify(request.token) : undefined;
  }
}
