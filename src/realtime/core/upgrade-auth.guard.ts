import { Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import type { Principal } from './principal.js';
import { AUTH_REQUIRED, INVALID_TOKEN, type RealtimeError } from './realtime-error.js';
import { TokenVerifier } from './token-verifier.service.js';

export type UpgradeAuthResult =
  { principal: Principal; error?: undefined } | { principal?: undefined; error: RealtimeError; anonymous: boolean };

/**
 * The one authentication step of every gateway: the JWT of the `token` query parameter, or
 * else of the `Authorization: Bearer` header, verified once during the upgrade.
 */
@Injectable()
export class UpgradeAuthGuard {
  constructor(private readonly verifier: TokenVerifier) {}

  authenticate(request: IncomingMessage, url: URL): UpgradeAuthResult {
    const token = url.searchParams.get('token') || bearerToken(request.headers.authorization);
    if (!token) return { error: AUTH_REQUIRED, anonymous: true };
    const principal = this.verifier.verify(token);
    return principal ? { principal } : { error: INVALID_TOKEN, anonymous: false };
  }
}

export function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}
