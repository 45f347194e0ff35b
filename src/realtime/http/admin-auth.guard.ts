import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { AdminCredentials } from './admin-credentials.service.js';

/** The admin API's door: `adminToken`, or a JWT whose `roles` include `admin` (401/403 otherwise). */
@Injectable()
export class AdminAuthGuard implements CanActivate {
  constructor(private readonly credentials: AdminCredentials) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const refusal = await this.credentials.refusal(context.switchToHttp().getRequest<IncomingMessage>());
    if (refusal) throw refusal;
    return true;
  }
}
