import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { bearerToken, isAdmin, TokenVerifier } from '../core/auth/index.js';
import { INVALID_TOKEN, RealtimeError } from '../core/gateway/index.js';
import { LifecycleLog, RefusalLog } from '../core/logging/index.js';
import { ClientAddress } from '../core/transport/index.js';
import { REALTIME_CONFIG, type RealtimeConfig } from '../config/index.js';

/**
 * Who may use the admin API: `adminToken`, or a JWT whose `roles` include `admin`. Decided
 * once per request (the body gate asks before the body is read, the guard after), logged once.
 */
@Injectable()
export class AdminCredentials implements OnApplicationShutdown {
  /** Failures summarized per address and second (SPEC.md §10.1). */
  private readonly log = new RefusalLog(new LifecycleLog());
  private readonly adminToken?: Buffer;
  private readonly decided = new WeakMap<IncomingMessage, RealtimeError | null>();

  constructor(
    private readonly verifier: TokenVerifier,
    private readonly address: ClientAddress,
    @Inject(REALTIME_CONFIG) config: RealtimeConfig,
  ) {
    this.adminToken = config.adminToken ? Buffer.from(config.adminToken) : undefined;
  }

  onApplicationShutdown(): void {
    this.log.close();
  }

  /** Why `request` may not use the admin API (401 or 403), or undefined when it may. */
  refusal(request: IncomingMessage): RealtimeError | undefined {
    let decision = this.decided.get(request);
    if (decision === undefined) this.decided.set(request, (decision = this.decide(request) ?? null));
    return decision ?? undefined;
  }

  private decide(request: IncomingMessage): RealtimeError | undefined {
    const token = bearerToken(request.headers.authorization);
    if (!token) return ADMIN_CREDENTIALS_REQUIRED;
    if (this.isAdminToken(token)) return undefined;
    const principal = this.verifier.verify(token);
    if (!principal) {
      this.log.refused('admin_auth_failed', this.address.of(request), {});
      return INVALID_TOKEN;
    }
    if (!isAdmin(principal)) {
      this.log.refused('admin_forbidden', this.address.of(request), { user: principal.sub });
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
