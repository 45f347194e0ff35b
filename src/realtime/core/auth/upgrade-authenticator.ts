import { Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { AUTH_REQUIRED, INVALID_TOKEN, type RealtimeError } from '../gateway/realtime-error.js';
import { bearerToken } from './bearer-token.js';
import type { Principal } from './principal.js';
import { TokenVerifier } from './token-verifier.service.js';

export type UpgradeAuthResult =
  { principal: Principal; error?: undefined } | { principal?: undefined; error: RealtimeError; anonymous: boolean };

/**
 * The one authentication step of every gateway: the JWT of the `token` query parameter, or
 * else of the `Authorization: Bearer` header, verified once during the upgrade. A failure is a
 * result, not an exception: the transport still completes the upgrade to say why (SPEC.md §2).
 */
@Injectable()
export class UpgradeAuthenticator {
  constructor(private readonly verifier: TokenVerifier) {}

  authenticate(request: IncomingMessage, url: URL): UpgradeAuthResult {
    const token = url.searchParams.get('token') || bearerToken(request.headers.authorization);
    if (!token) return { error: AUTH_REQUIRED, anonymous: true };
    const principal = this.verifier.verify(token);
    return principal ? { principal } : { error: INVALID_TOKEN, anonymous: false };
  }
}
