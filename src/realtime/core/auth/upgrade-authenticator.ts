import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { REALTIME_CONFIG, type RealtimeConfig } from '../../config/index.js';
import { AUTH_REQUIRED, INVALID_TOKEN } from '../gateway/realtime-error.js';
import { Authentication, AUTH_UNAVAILABLE, type AuthOutcome } from './authentication.service.js';
import { ConnectTickets } from './connect-tickets.service.js';
import { upgradeCredential } from './upgrade-credentials.js';

export type UpgradeAuthResult = AuthOutcome & { anonymous?: boolean };

const NO_CREDENTIAL: UpgradeAuthResult = { error: AUTH_REQUIRED, anonymous: true };
const MALFORMED: UpgradeAuthResult = { error: INVALID_TOKEN };

/**
 * The one authentication step of every gateway, during the upgrade: a connect ticket is redeemed,
 * anything else goes to the authenticator (the JWT default or the host's). A failure is a result,
 * not an exception: the transport still completes the upgrade to say why (SPEC.md §2). `anonymous`
 * marks an upgrade that carried no credential at all (the checkpoint gateway lets it in).
 */
@Injectable()
export class UpgradeAuthenticator {
  private readonly allowQueryToken: boolean;

  constructor(
    private readonly authentication: Authentication,
    private readonly tickets: ConnectTickets,
    @Inject(REALTIME_CONFIG) config: RealtimeConfig,
  ) {
    this.allowQueryToken = config.auth.allowQueryToken;
  }

  authenticate(request: IncomingMessage, url: URL, ip: string): UpgradeAuthResult | Promise<UpgradeAuthResult> {
    const credential = upgradeCredential(request, url.searchParams, this.allowQueryToken);
    if (credential.malformed) return MALFORMED;
    if (credential.ticket) return this.redeem(credential.ticket);
    const outcome = this.authentication.authenticate({
      source: 'upgrade',
      headers: request.headers,
      ip,
      path: url.pathname,
      query: url.searchParams,
      token: credential.token,
    });
    return outcome instanceof Promise ? outcome.then(anonymity) : anonymity(outcome);
  }

  private redeem(ticket: string): Promise<UpgradeAuthResult> {
    return this.tickets.redeem(ticket).then(
      (principal) => (principal ? { principal } : { error: INVALID_TOKEN }),
      () => ({ error: AUTH_UNAVAILABLE }),
    );
  }
}

function anonymity(outcome: AuthOutcome): UpgradeAuthResult {
  return outcome.error === AUTH_REQUIRED ? NO_CREDENTIAL : outcome;
}
