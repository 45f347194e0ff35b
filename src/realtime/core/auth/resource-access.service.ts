import { Inject, Injectable, type OnApplicationShutdown } from '@nestjs/common';
import { LifecycleLog } from '../logging/lifecycle-log.js';
import { RefusalLog } from '../logging/refusal-log.js';
import type { Connection } from '../transport/connection.js';
import { ACCESS_POLICY, type AccessPolicy, type ResourceRef } from './access-policy.js';

/**
 * Every join and subscription of every gateway asks here: the access policy decides, and a refusal
 * is logged as a security event (SPEC.md §7, §9), at most one line per user per second.
 */
@Injectable()
export class ResourceAccess implements OnApplicationShutdown {
  private readonly log = new RefusalLog(new LifecycleLog());

  constructor(@Inject(ACCESS_POLICY) private readonly policy: AccessPolicy) {}

  async allows(connection: Connection, resource: ResourceRef): Promise<boolean> {
    const principal = connection.requirePrincipal();
    if (await this.policy.canAccess(principal, resource)) return true;
    this.log.summarized(
      'access_refused',
      `user:${principal.sub}`,
      {
        gateway: connection.gateway,
        user: principal.sub,
        ip: connection.ip,
        resource: resource.id === undefined ? resource.type : `${resource.type}:${resource.id}`,
      },
      { user: principal.sub, ip: connection.ip },
    );
    return false;
  }

  onApplicationShutdown(): void {
    this.log.close();
  }
}
