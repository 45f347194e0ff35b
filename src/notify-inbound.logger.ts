import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { LifecycleLog } from './realtime/core/logging/index.js';
import { NotifyPublisher } from './realtime/index.js';

/** The standalone app has no business logic of its own: what notify clients send is logged (SPEC.md §6). */
@Injectable()
export class NotifyInboundLogger implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new LifecycleLog();
  private subscription?: Subscription;

  constructor(private readonly notify: NotifyPublisher) {}

  onApplicationBootstrap(): void {
    this.subscription = this.notify.messages().subscribe((message) =>
      this.log.info('notify_message', {
        client: message.clientId,
        user: message.userId === undefined ? undefined : String(message.userId),
        type: message.type,
        bytes: Buffer.byteLength(JSON.stringify(message.content)),
      }),
    );
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
  }
}
