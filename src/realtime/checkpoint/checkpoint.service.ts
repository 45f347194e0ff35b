import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { filter, Observable, Subject } from 'rxjs';
import { EVENT_BUS, type BusMessage, type EventBus } from '../bus/index.js';
import { ACCESS_POLICY, type AccessPolicy, type Principal } from '../core/auth/index.js';
import { LifecycleLog, RefusalLog } from '../core/logging/index.js';
import { Fanout } from '../core/registry/index.js';
import { REALTIME_MODULE_OPTIONS } from '../core/gateway/index.js';
import { isCheckpointEvent, sessionTopic, UUID, type CheckpointEvent } from './checkpoint-events.js';
import { CHECKPOINT_NOT_FOUND, SESSION_NOT_FOUND, STATE_TOO_LARGE } from './checkpoint-errors.js';
import { HOST_OWNER, ownerKey } from './checkpoint-owner.js';
import {
  CHECKPOINT_STORE,
  type Checkpoint,
  type CheckpointStore,
  type CheckpointSummary,
  type StorageQuota,
  type StoredState,
} from './checkpoint-store.js';
import { resolveCheckpointConfig, type CheckpointConfig, type CheckpointOptions } from './checkpoint.options.js';

/**
 * Sessions and checkpoints (seed 003's `CheckpointService`), for socket clients and the host app
 * alike: every change is pushed as an event to the session's subscribers on every instance, as it
 * happens (no polling), and to `events(sessionId)` observers in this process.
 *
 * Every method takes, last, the principal it acts for (SPEC.md §5). A session belongs to the
 * principal that created it; anyone else is told `Session not found`, as if it did not exist,
 * unless the access policy grants `{type: 'session', id}`. Without a principal the host app acts
 * itself: it may use every session, and the sessions it creates belong to it (the storage bounds
 * of a session apply to them, the per-principal quotas do not; to create a session for a user,
 * pass the user's principal).
 * @publicApi
 */
@Injectable()
export class CheckpointService implements OnModuleInit, OnApplicationShutdown {
  private readonly local = new Subject<{ sessionId: string; event: CheckpointEvent }>();
  /** Refusals summarized per user and second (SPEC.md §10.1). */
  private readonly log = new RefusalLog(new LifecycleLog());
  private readonly config: CheckpointConfig;

  constructor(
    @Inject(CHECKPOINT_STORE) private readonly store: CheckpointStore,
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    private readonly fanout: Fanout,
    @Inject(ACCESS_POLICY) private readonly policy: AccessPolicy,
    @Inject(REALTIME_MODULE_OPTIONS) options: { checkpoint?: CheckpointOptions },
  ) {
    this.config = resolveCheckpointConfig(options);
  }

  onModuleInit(): void {
    this.bus.subscribe((message) => this.observe(message));
  }

  async onApplicationShutdown(): Promise<void> {
    this.local.complete();
    this.log.close();
    await this.store.close();
  }

  /** A new session of `actor` (counted against its quota: `Too many sessions`); its id is a UUID. */
  async createSession(name = 'unnamed', actor?: Principal): Promise<string> {
    const owner = ownerKey(actor);
    return (await this.store.createSession(owner, name, this.quota(owner))).id;
  }

  /** Whether the session exists for `actor` (the host: at all). Not a method call: its TTL goes on. */
  async hasSession(sessionId: string, actor?: Principal): Promise<boolean> {
    return (await this.owner(sessionId, actor, false)) !== undefined;
  }

  /** Checks that `actor` may use the session, as a method call on it (its TTL starts again): `subscribe`. */
  async access(sessionId: string, actor?: Principal): Promise<void> {
    await this.store.touch(await this.authorize(sessionId, actor), sessionId);
  }

  async listCheckpoints(sessionId: string, actor?: Principal): Promise<CheckpointSummary[]> {
    return this.store.listCheckpoints(await this.authorize(sessionId, actor), sessionId);
  }

  /**
   * Appends a checkpoint with the session's next sequence; returns its id. Refused, with nothing
   * stored, past a bound: `State too large`, `Too many checkpoints`, `Storage quota exceeded` (the owner's).
   */
  async checkpoint(
    sessionId: string,
    message = 'Checkpoint',
    state: unknown = null,
    actor?: Principal,
  ): Promise<string> {
    const owner = await this.authorize(sessionId, actor);
    const stored = serialize(state);
    if (stored !== undefined && Buffer.byteLength(stored) > this.config.maxStateBytes) throw STATE_TOO_LARGE;
    const created = await this.store.addCheckpoint(owner, sessionId, message, stored, this.quota(owner));
    this.emit(sessionId, 'checkpoint_created', { checkpoint_id: created.id });
    return created.id;
  }

  async restore(sessionId: string, checkpointId: string, actor?: Principal): Promise<Checkpoint> {
    const owner = await this.authorize(sessionId, actor);
    if (!UUID.test(checkpointId)) {
      await this.store.touch(owner, sessionId);
      throw CHECKPOINT_NOT_FOUND;
    }
    const checkpoint = await this.store.getCheckpoint(owner, sessionId, checkpointId);
    this.emit(sessionId, 'checkpoint_restored', { checkpoint_id: checkpointId });
    return checkpoint;
  }

  async deleteCheckpoint(sessionId: string, checkpointId: string, actor?: Principal): Promise<void> {
    const owner = await this.authorize(sessionId, actor);
    if (!UUID.test(checkpointId)) {
      await this.store.touch(owner, sessionId);
      throw CHECKPOINT_NOT_FOUND;
    }
    await this.store.deleteCheckpoint(owner, sessionId, checkpointId);
    this.emit(sessionId, 'checkpoint_deleted', { checkpoint_id: checkpointId });
  }

  /** Keeps the newest `keep` checkpoints; returns how many remain. */
  async compact(sessionId: string, keep: number, actor?: Principal): Promise<number> {
    const remaining = await this.store.compact(await this.authorize(sessionId, actor), sessionId, keep);
    this.emit(sessionId, 'checkpoints_compacted', { remaining });
    return remaining;
  }

  totals(): Promise<{ sessions: number; checkpoints: number }> {
    return this.store.totals();
  }

  /** The session's events, from any instance, as subscribers get them (this instance receives them while observed). */
  events(sessionId: string): Observable<CheckpointEvent> {
    return new Observable<CheckpointEvent>((subscriber) => {
      const topic = sessionTopic(sessionId);
      void this.bus.watch('checkpoint', topic, subscriber);
      const subscription = this.local.pipe(filter((item) => item.sessionId === sessionId)).subscribe({
        next: (item) => subscriber.next(item.event),
        complete: () => subscriber.complete(),
      });
      return () => {
        subscription.unsubscribe();
        this.bus.unwatch('checkpoint', topic, subscriber);
      };
    });
  }

  /** The owner of a session `actor` may use; `Session not found` for anyone else (its existence is not revealed). */
  private async authorize(sessionId: string, actor: Principal | undefined): Promise<string> {
    const owner = await this.owner(sessionId, actor, true);
    if (owner === undefined) throw SESSION_NOT_FOUND;
    return owner;
  }

  /** The session's owner when `actor` is the host, the owner, or granted by the policy (SPEC.md §7). */
  private async owner(
    sessionId: string,
    actor: Principal | undefined,
    logRefusal: boolean,
  ): Promise<string | undefined> {
    if (!UUID.test(sessionId)) return undefined;
    const owner = await this.store.ownerOf(sessionId);
    if (owner === undefined || actor === undefined || owner === ownerKey(actor)) return owner;
    if (await this.policy.canAccess(actor, { type: 'session', id: sessionId })) return owner;
    if (logRefusal) {
      this.log.summarized(
        'access_refused',
        `user:${actor.sub}`,
        { gateway: 'checkpoint', user: actor.sub, resource: `session:${sessionId}` },
        { user: actor.sub },
      );
    }
    return undefined;
  }

  /** The bounds of the owner's storage: the host's own sessions have no per-principal quota. */
  private quota(owner: string): StorageQuota {
    const { maxPerSession, maxSessionsPerUser, maxBytesPerUser } = this.config;
    return owner === HOST_OWNER
      ? { maxPerSession, maxSessions: Infinity, maxBytes: Infinity }
      : { maxPerSession, maxSessions: maxSessionsPerUser, maxBytes: maxBytesPerUser };
  }

  private emit(sessionId: string, type: CheckpointEvent['event_type'], extra: Partial<CheckpointEvent['data']>): void {
    const event: CheckpointEvent = {
      event_type: type,
      data: { ...extra, session_id: sessionId, timestamp: new Date().toISOString() },
    };
    void this.fanout.toTopics('checkpoint', [sessionTopic(sessionId)], event);
  }

  /** Feeds `events()` from the bus, so host observers see the events of every instance. */
  private observe(message: BusMessage): void {
    if (message.kind !== 'topics' || message.gateway !== 'checkpoint' || !this.local.observed) return;
    // As subscribers get it: the seed's event and its position in the session's stream.
    const event: unknown = JSON.parse(message.frame);
    // Every instance publishes these frames itself; one of another shape is no session event to observe.
    if (!isCheckpointEvent(event)) return;
    this.local.next({ sessionId: event.data.session_id, event });
  }
}

/** A state as stored: its JSON text, none for no state (`null` or absent: 0 bytes, SPEC.md §5). */
function serialize(state: unknown): StoredState {
  return state === undefined || state === null ? undefined : JSON.stringify(state);
}
