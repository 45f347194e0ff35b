import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Authentication, bearerToken, isAdmin, type AuthOutcome } from '../core/auth/index.js';
import { AUTH_REQUIRED, RealtimeError } from '../core/gateway/index.js';
import { LifecycleLog, RefusalLog } from '../core/logging/index.js';
import { ClientAddress } from '../core/transport/index.js';
import { REALTIME_CONFIG, type RealtimeConfig } from '../config/index.js';

type Decision = RealtimeError | undefined;

/**
 * Who may use the admin API: `adminToken`, or someone the authenticator (JWT by default, or the
 * host's) says has the `admin` role. Decided once per request (the body gate asks before the body
 * is read, the guard after), logged once.
 */
@Injectable()
export class AdminCredentials implements OnApplicationShutdown {
  /** Failures summarized per address and second (SPEC.md §10.1). */
  private readonly log = new RefusalLog(new LifecycleLog());
  private readonly adminToken?: Buffer;
  private readonly decided = new WeakMap<IncomingMessage, Decision | null | Promise<Decision>>();

  constructor(
    private readonly authentication: Authentication,
    private readonly address: ClientAddress,
    @Inject(REALTIME_CONFIG) config: RealtimeConfig,
  ) {
    this.adminToken = config.adminToken ? Buffer.from(config.adminToken) : undefined;
  }

  onApplicationShutdown(): void {
    this.log.close();
  }

  /**
   * Why `request` may not use the admin API (401, 403, or 503 when the authenticator fails), or
   * undefined when it may; a promise while an asynchronous authenticator decides.
   */
  refusal(request: IncomingMessage): Decision | Promise<Decision> {
    let decision = this.decided.get(request);
    if (decision === undefined) {
      const made = this.decide(request);
      decision = made ?? null;
      this.decided.set(request, decision);
      if (made instanceof Promise) void made.then((settled) => this.decided.set(request, settled ?? null));
    }
    return decision ?? undefined;
  }

  private decide(request: IncomingMessage): Decision | Promise<Decision> {
    const token = bearerToken(request.headers.authorization);
    if (token && this.isAdminToken(token)) return undefined;
    const ip = this.address.of(request);
    const url = new URL(request.url ?? '/', 'http://localhost');
    const outcome = this.authentication.authenticate({
      source: 'http',
      headers: request.headers,
      ip,
      path: url.pathname,
      query: url.searchParams,
      token,
    });
    return outcome instanceof Promise ? outcome.then((o) => this.judge(o, ip)) : this.judge(outcome, ip);
  }

  private judge(outcome: AuthOutcome, ip: string): Decision {
    if (outcome.error === AUTH_REQUIRED) return ADMIN_CREDENTIALS_REQUIRED;
    if (outcome.error) {
      if (outcome.error.kind === 'unauthenticated') this.log.refused('admin_auth_failed', ip, {});
      return outcome.error;
    }
    if (!isAdmin(outcome.principal)) {
      this.log.refused('admin_forbidden', ip, { user: outcome.principal.sub });
      return ADMIN_ROLE_REQUIRED;
    }
    return undefined;
  }

  private isAdminToken(token: string): boolean {
    if (!this.adminToken) return false;
    const candidate = Buffer.from(token);
    return candidate.length === this.adminToken.length && timingSafeEqual(candidate, this.adminToken);
  }
}

const ADMIN_CREDENTIALS_REQUIRED = new RealtimeError('unauthenticated', 'Admin credentials required');
const ADMIN_ROLE_REQUIRED = RealtimeError.forbidden('Admin role required');
