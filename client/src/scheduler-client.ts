import { RealtimeClient, type ClientOptions, type ConnectionEvents } from './core/realtime-client.js';
import type { StreamPosition } from './core/positions.js';
import type {
  SchedulerConnected,
  SchedulerError,
  SchedulerServerFrame,
  SchedulerSubscribed,
  SchedulerSystemStatus,
} from './frames.generated.js';

/** Every event the scheduler publishes: experiment_*, task_*, worker_* and system_status. */
export type SchedulerEvent =
  Extract<SchedulerServerFrame, { type: `${'experiment' | 'task' | 'worker'}_${string}` }> | SchedulerSystemStatus;

export type SchedulerResourceType = SchedulerSubscribed['data']['resourceType'];

/** The resource a connection is opened on: the user's own (`/ws/user`), or an experiment, task or project. */
export type SchedulerPath = '/ws/user' | `/ws/${'experiments' | 'tasks' | 'projects'}/${string}`;

export interface SchedulerClientOptions extends ClientOptions {
  /** @default '/ws/user' */
  path?: SchedulerPath;
}

export interface SchedulerEvents extends ConnectionEvents {
  /** The path's subscription response, after every (re)connect. */
  welcome: SchedulerConnected;
  /** Each event once, however many of the client's subscriptions it was routed to. */
  event: SchedulerEvent;
  /** A subscription the server refused (`Forbidden`, `Too many subscriptions`…): it is dropped. */
  refused: { resourceType: SchedulerResourceType; resourceId?: string; error: SchedulerError['error'] };
  /** An error frame that answers no subscription (a rate-limit notice, a refused refresh). */
  serverError: SchedulerError;
}

interface Subscription {
  type: SchedulerResourceType;
  id?: string;
  /** Its stream (`project:p-1`, `system`), known from its first reply. */
  stream?: string;
  reply: Promise<SchedulerSubscribed>;
  resolve(reply: SchedulerSubscribed): void;
  reject(error: Error): void;
}

type Resumed = { recovered?: boolean; offset?: number; epoch?: string };

/** Subscribe frames carry `s:<key>` as their id: a refusal answers under it. */
const REQUEST = 's:';

/** A subscription's key (`project:p-1`, `user:` for one's own, `system:system`) and resource id. */
function keyOf(type: SchedulerResourceType, id?: string): [string, string | undefined] {
  if (type === 'system') id = 'system';
  return [`${type}:${id ?? ''}`, id];
}

/**
 * The scheduler gateway (`/ws/user`, `/ws/experiments/:id`, `/ws/tasks/:id`, `/ws/projects/:id`):
 * the path's resource and the broadcast stream resume from the query, other subscriptions with
 * `since` after every reconnect; an event routed to several of them reaches the app once.
 */
export class SchedulerClient extends RealtimeClient<SchedulerEvents> {
  /** By `keyOf`. */
  private readonly subs = new Map<string, Subscription>();
  /**
   * Offsets seen past each stream's position: a resume sends the missed events stream by stream, so
   * one stream's events can come out of order (`project:p-1` 88 with the experiment's, then 87).
   */
  private readonly ahead = new Map<string, Set<number>>();
  private readonly route: SchedulerPath;
  private pathStream?: string;
  private welcomed = false;

  constructor(options: SchedulerClientOptions) {
    super(options);
    this.route = options.path ?? '/ws/user';
    if (options.autoConnect !== false) this.connect();
  }

  /** Subscribes to a resource (`user` without an id: one's own) and keeps it across reconnects. */
  subscribe(resourceType: SchedulerResourceType, resourceId?: string): Promise<SchedulerSubscribed> {
    const [key, id] = keyOf(resourceType, resourceId);
    let sub = this.subs.get(key);
    if (!sub) {
      const entry = { type: resourceType, id } as Subscription;
      entry.reply = new Promise((resolve, reject) => Object.assign(entry, { resolve, reject }));
      // A refusal is also the `refused` event: an app that does not await the promise is not hurt.
      entry.reply.catch(() => undefined);
      this.subs.set(key, (sub = entry));
      this.sendNow(this.subscribeFrame(key, sub));
    }
    return sub.reply;
  }

  /** Ends a subscription: its events stop (those routed to another subscription still come). */
  unsubscribe(resourceType: SchedulerResourceType, resourceId?: string): void {
    const [key, id] = keyOf(resourceType, resourceId);
    const sub = this.subs.get(key);
    if (!sub) return;
    this.drop(key, sub, 'Unsubscribed');
    this.sendNow({ type: 'system_status', data: { action: 'unsubscribe', resourceType, resourceId: id } });
  }

  protected path(): string {
    const at = this.pathStream ? this.positions.get(this.pathStream) : undefined;
    const all = this.positions.get('broadcast');
    return this.withQuery(this.route, {
      offset: at?.offset,
      epoch: at?.epoch,
      broadcast_offset: all?.offset,
      broadcast_epoch: all?.epoch,
    });
  }

  protected resume(): void {
    this.welcomed = false;
    for (const [key, sub] of this.subs) this.sendNow(this.subscribeFrame(key, sub));
  }

  protected ping(): object {
    return { type: 'ping' };
  }

  protected refresh(token: string): object {
    return { type: 'refresh', data: { token } };
  }

  protected received(raw: Record<string, unknown>): void {
    const frame = raw as unknown as SchedulerServerFrame;
    switch (frame.type) {
      case 'ping':
        this.sendNow({ type: 'pong', id: frame.id.replace(/^ping/, 'pong') });
        return;
      case 'token_expiring':
        return this.expiring();
      case 'error':
        return this.refusedOrNotice(frame);
      case 'pong':
      case 'token_refreshed':
        return;
      case 'system_status':
        // A subscription's reply (the first one is the path's), else a system_status event.
        if ('action' in frame.data) {
          if (frame.data.action === 'subscribed') this.subscribed(frame as SchedulerSubscribed);
          return;
        }
    }
    this.deliver(frame as SchedulerEvent);
  }

  private subscribeFrame(key: string, { type, id, stream }: Subscription): object {
    const since = stream ? this.positions.get(stream) : undefined;
    return {
      type: 'system_status',
      id: REQUEST + key,
      data: { action: 'subscribe', resourceType: type, resourceId: id, since },
    };
  }

  private subscribed(frame: SchedulerSubscribed | SchedulerConnected): void {
    const { resourceType, resourceId, broadcast } = frame.data as SchedulerConnected['data'];
    const stream = resourceType === 'system' ? resourceType : `${resourceType}:${resourceId}`;
    if (!this.welcomed) {
      this.welcomed = true;
      this.pathStream = stream;
      this.established();
      this.resumed(stream, frame.data);
      if (broadcast) this.resumed('broadcast', broadcast);
      return this.emit('welcome', frame);
    }
    const sub = this.subs.get(`${resourceType}:${resourceId}`) ?? this.subs.get(`${resourceType}:`);
    if (!sub) return; // unsubscribed meanwhile
    sub.stream = stream;
    this.resumed(stream, frame.data);
    sub.resolve(frame);
  }

  /** A reply's `recovered`, and where the stream goes on from unless its missed events follow. */
  private resumed(stream: string, { recovered, offset, epoch }: Resumed): void {
    if (recovered !== undefined) this.emit('recovery', { stream, recovered });
    if (recovered !== true && offset !== undefined && epoch !== undefined) this.moveTo(stream, { offset, epoch });
  }

  private refusedOrNotice(frame: SchedulerError): void {
    const key = frame.id.startsWith(REQUEST) ? frame.id.slice(REQUEST.length) : '';
    const sub = this.subs.get(key);
    if (!sub) return this.emit('serverError', frame);
    this.drop(key, sub, frame.error);
    this.emit('refused', { resourceType: sub.type, resourceId: sub.id, error: frame.error });
  }

  private drop(key: string, sub: Subscription, why: string): void {
    this.subs.delete(key);
    if (sub.stream) {
      this.positions.forget(sub.stream);
      this.ahead.delete(sub.stream);
    }
    sub.reject(new Error(why));
  }

  /** To the app unless every stream the client follows had it already (all its positions are recorded). */
  private deliver(frame: SchedulerEvent): void {
    const seen = Object.entries(frame.positions ?? {}).map(([stream, at]) => at && this.isNew(stream, at));
    if (seen.some((isNew) => isNew !== undefined) && !seen.includes(true)) return;
    this.emit('event', frame);
  }

  /** Whether the event at `at` is new in `stream` (then recorded); undefined for a stream not followed. */
  private isNew(stream: string, at: StreamPosition): boolean | undefined {
    const known = this.positions.get(stream);
    if (!known) return undefined;
    if (known.epoch !== at.epoch) {
      this.moveTo(stream, at);
      return true;
    }
    const ahead = this.ahead.get(stream) ?? new Set<number>();
    if (at.offset <= known.offset || ahead.has(at.offset)) return false;
    this.ahead.set(stream, ahead.add(at.offset));
    this.moveTo(stream, known);
    return true;
  }

  /** Puts `stream` at `position`, then past the offsets seen right after it. */
  private moveTo(stream: string, { offset, epoch }: StreamPosition): void {
    const ahead = this.positions.get(stream)?.epoch === epoch ? this.ahead.get(stream) : undefined;
    for (const seen of ahead ?? []) if (seen <= offset) ahead!.delete(seen);
    while (ahead?.delete(offset + 1)) offset++;
    this.positions.set(stream, { offset, epoch });
    if (!ahead?.size) this.ahead.delete(stream);
  }
}
