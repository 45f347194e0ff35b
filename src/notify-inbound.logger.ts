import { Injectable, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Subscription } from 'rxjs';
import { LifecycleLog } from './realtime/core/logging/index.js';
import { NotifyPublisher, type NotifyInbound } from './realtime/index.js';

const WINDOW_MS = 1000;
/** Types named in one line; more are counted (`types`). */
const TYPES_LISTED = 4;

/** One client's frames since its last line. */
interface Pending {
  user?: string;
  /** When its last line was written (epoch ms). */
  lastLineAt: number;
  count: number;
  bytes: number;
  types: Set<string>;
}

/**
 * The standalone app has no business logic of its own: what notify clients send is logged (SPEC.md
 * §6), summarized: at most one line per client per second, `notify_message client= user= type=
 * bytes= count=`, with the frames' types, total bytes and count since the previous line, never their
 * content. A client's first frame after a quiet second is logged at once; the rest of its second is
 * counted and written when the second is over.
 */
@Injectable()
export class NotifyInboundLogger implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new LifecycleLog();
  private readonly clients = new Map<string, Pending>();
  private subscription?: Subscription;
  private sweeper?: NodeJS.Timeout;

  constructor(private readonly notify: NotifyPublisher) {}

  onApplicationBootstrap(): void {
    this.subscription = this.notify.messages().subscribe((message) => this.received(message, Date.now()));
    this.sweeper = setInterval(() => this.flush(Date.now()), WINDOW_MS / 4).unref();
  }

  onApplicationShutdown(): void {
    this.subscription?.unsubscribe();
    clearInterval(this.sweeper);
    this.flush(Number.POSITIVE_INFINITY);
  }

  private received(message: NotifyInbound, now: number): void {
    const pending = this.clients.get(message.clientId);
    const bytes = Buffer.byteLength(JSON.stringify(message.content));
    if (!pending || (pending.count === 0 && now - pending.lastLineAt >= WINDOW_MS)) {
      const user = message.userId === undefined ? undefined : String(message.userId);
      this.write(message.clientId, { user, lastLineAt: now, count: 1, bytes, types: new Set([message.type]) });
      this.clients.set(message.clientId, { user, lastLineAt: now, count: 0, bytes: 0, types: new Set() });
      return;
    }
    pending.count++;
    pending.bytes += bytes;
    if (pending.types.size <= TYPES_LISTED) pending.types.add(message.type);
    if (now - pending.lastLineAt >= WINDOW_MS) this.written(message.clientId, pending, now);
  }

  /** Writes what each client's ended second held; forgets the clients quiet for a second. */
  private flush(now: number): void {
    for (const [client, pending] of this.clients) {
      if (now - pending.lastLineAt < WINDOW_MS) continue;
      if (pending.count > 0) this.written(client, pending, now);
      else this.clients.delete(client);
    }
  }

  private written(client: string, pending: Pending, now: number): void {
    this.write(client, pending);
    pending.lastLineAt = now;
    pending.count = 0;
    pending.bytes = 0;
    pending.types = new Set();
  }

  private write(client: string, { user, count, bytes, types }: Pending): void {
    const listed = [...types].slice(0, TYPES_LISTED);
    this.log.info('notify_message', {
      client,
      user,
      type: listed.join(','),
      bytes,
      count,
      more_types: types.size > TYPES_LISTED ? true : undefined,
    });
  }
}
