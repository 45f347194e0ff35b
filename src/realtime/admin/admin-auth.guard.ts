import {
  ForbiddenException,
  Inject,
  Injectable,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { bearerToken, isAdmin, TokenVerifier } from '../core/auth/index.js';
import { LifecycleLog } from '../core/logging/index.js';
import { ClientAddress } from '../core/transport/index.js';
import { REALTIME_CONFIG, type RealtimeConfig } from '../realtime.config.js';

/** The admin API's door: `WS_ADMIN_TOKEN`, or a JWT whose `roles` include `admin`. */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  private readonly log = new LifecycleLog();
  private readonly adminToken?: Buffer;

  constructor(
    private readonly verifier: TokenVerifier,
    private readonly address: ClientAddress,
    @Inject(REALTIME_CONFIG) config: RealtimeConfig,
  ) {
    this.adminToken = config.adminToken ? Buffer.from(config.adminToken) : undefined;
  }

  canActivate(context: ExecutionContext): boolean {
    const request = context.switchToHttp().getRequest<IncomingMessage>();
    const token = bearerToken(request.headers.authorization);
    if (!token) throw new UnauthorizedException('Admin credentials required');
    if (this.isAdminToken(token)) return true;
    const principal = this.verifier.verify(token);
    if (!principal) {
      this.log.security('admin_auth_failed', { ip: this.address.of(request) });
      throw new UnauthorizedException('Invalid or expired token');
    }
    if (!isAdmin(principal)) {
      this.log.security('admin_forbidden', { user: principal.sub, ip: this.address.of(request) });
      throw new ForbiddenException('Admin role required');
    }
    return true;
  }

  private isAdminToken(token: string): boolean {
    if (!this.adminToken) return false;
    const candidate = Buffer.from(token);
    return candidate.length === this.adminToken.length && timingSafeEqual(candidate, this.adminToken);
  }
}
