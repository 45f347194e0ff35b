import { ForbiddenException, Inject, Injectable, UnauthorizedException, type HttpException } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { bearerToken, isAdmin, TokenVerifier } from '../core/auth/index.js';
import { LifecycleLog } from '../core/logging/index.js';
import { ClientAddress } from '../core/transport/index.js';
import { REALTIME_CONFIG, type RealtimeConfig } from '../realtime.config.js';

/**
 * Who may use the admin API: `adminToken`, or a JWT whose `roles` include `admin`. Decided
 * once per request (the body gate asks before the body is read, the guard after), logged once.
 */
@Injectable()
export class AdminCredentials {
  private readonly log = new LifecycleLog();
  private readonly adminToken?: Buffer;
  private readonly decided = new WeakMap<IncomingMessage, HttpException | null>();

  constructor(
    private readonly verifier: TokenVerifier,
    private readonly address: ClientAddress,
    @Inject(REALTIME_CONFIG) config: RealtimeConfig,
  ) {
    this.adminToken = config.adminToken ? Buffer.from(config.adminToken) : undefined;
  }

  /** Why `request` may not use the admin API (401 or 403), or undefined when it may. */
  refusal(request: IncomingMessage): HttpException | undefined {
    let decision = this.decided.get(request);
    if (decision === undefined) this.decided.set(request, (decision = this.decide(request) ?? null));
    return decision ?? undefined;
  }

  private decide(request: IncomingMessage): HttpException | undefined {
    const token = bearerToken(request.headers.authorization);
    if (!token) return new UnauthorizedException('Admin credentials required');
    if (this.isAdminToken(token)) return undefined;
    const principal = this.verifier.verify(token);
    if (!principal) {
      this.log.security('admin_auth_failed', { ip: this.address.of(request) });
      return new UnauthorizedException('Invalid or expired token');
    }
    if (!isAdmin(principal)) {
      this.log.security('admin_forbidden', { user: principal.sub, ip: this.address.of(request) });
      return new ForbiddenException('Admin role required');
    }
    return undefined;
  }

  private isAdminToken(token: string): boolean {
    if (!this.adminToken) return false;
    const candidate = Buffer.from(token);
    return candidate.length === this.adminToken.length && timingSafeEqual(candidate, this.adminToken);
  }
}
