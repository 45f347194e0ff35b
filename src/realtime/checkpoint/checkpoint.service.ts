import { Inject, Injectable, type OnApplicationShutdown, type OnModuleInit } from '@nestjs/common';
import { filter, Observable, Subject } from 'rxjs';
import { EVENT_BUS, type BusMessage, type EventBus } from '../bus/index.js';
import { RealtimeError } from '../core/gateway/index.js';
import { Fanout } from '../core/registry/index.js';
import { sessionTopic, UUID, type CheckpointEvent } from './checkpoint-events.js';
import { CHECKPOINT_STORE, type Checkpoint, type CheckpointStore, type CheckpointSummary } from './checkpoint-store.js';

const SESSION_NOT_FOUND = new RealtimeError('not_found', 'Session not found');
const CHECKPOINT_NOT_FOUND = new RealtimeError('not_found', 'Checkpoint not found');

/**
 * Sessions and checkpoints (seed 003's `CheckpointService`), for socket clients and the host app
 * alike: every change is pushed as an event to the session's subscribers on every instance, as it
 * happens (no polling), and to `events(sessionId)` observers in this process.
 * @publicApi
 */
@Injectable()
export class CheckpointService implements OnModuleInit, OnApplicationShutdown {
  private readonly local = new Subject<{ sessionId: string; event: CheckpointEvent }>();

  constructor(
    @Inject(CHECKPOINT_STORE) private readonly store: CheckpointStore,
    @Inject(EVENT_BUS) private readonly bus: EventBus,
    private readonly fanout: Fanout,
  ) {}

  onModuleInit(): void {
    this.bus.subscribe((message) => this.observe(message));
  }

  async onApplicationShutdown(): Promise<void> {
    this.local.complete();
    await this.store.close();
  }

  /** A new session; its id is a UUID. */
  async createSession(name = 'unnamed'): Promise<string> {
    return (await this.store.createSession(name)).id;
  }

  async hasSession(sessionId: string): Promise<boolean> {
    return UUID.test(sessionId) && this.store.hasSession(sessionId);
  }

  async listCheckpoints(sessionId: string): Promise<CheckpointSummary[]> {
    const listed = UUID.test(sessionId) ? await this.store.listCheckpoints(sessionId) : undefined;
    if (!listed) throw SESSION_NOT_FOUND;
    return listed;
  }

  /** Appends a checkpoint with the session's next sequence; returns its id. */
  async checkpoint(sessionId: string, message = 'Checkpoint', state: unknown = null): Promise<string> {
    const created = UUID.test(sessionId) ? await this.store.addCheckpoint(sessionId, message, state) : undefined;
    if (!created) throw SESSION_NOT_FOUND;
    this.emit(sessionId, 'checkpoint_created', { checkpoint_id: created.id });
    return created.id;
  }

  async restore(sessionId: string, checkpointId: string): Promise<Checkpoint> {
    await this.requireSession(sessionId);
    const checkpoint = UUID.test(checkpointId) ? await this.store.getCheckpoint(sessionId, checkpointId) : undefined;
    if (!checkpoint) throw CHECKPOINT_NOT_FOUND;
    this.emit(sessionId, 'checkpoint_restored', { checkpoint_id: checkpointId });
    return checkpoint;
  }

  async deleteCheckpoint(sessionId: string, checkpointId: string): Promise<void> {
    await this.requireSession(sessionId);
    if (!UUID.test(checkpointId) || !(await this.store.deleteCheckpoint(sessionId, checkpointId))) {
      throw CHECKPOINT_NOT_FOUND;
    }
    this.emit(sessionId, 'checkpoint_deleted', { checkpoint_id: checkpointId });
  }

  /** Keeps the newest `keep` checkpoints; returns how many remain. */
  async compact(sessionId: string, keep: number): Promise<number> {
    const remaining = UUID.test(sessionId) ? await this.store.compact(sessionId, keep) : undefined;
    if (remaining === undefined) throw SESSION_NOT_FOUND;
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

  private async requireSession(sessionId: string): Promise<void> {
    if (!(await this.hasSession(sessionId))) throw SESSION_NOT_FOUND;
  }

  private emit(sessionId: string, type: CheckpointEvent['event_type'], extra: Partial<CheckpointEvent['data']>): void {
    const event: CheckpointEvent = {
      event_type: type,
      data: { ...extra, session_id: sessionId, timestamp: new Date().toISOString() },
    };
    this.fanout.toTopics('checkpoint', [sessionTopic(sessionId)], event);
  }

  /** Feeds `events()` from the bus, so host observers see the events of every instance. */
  private observe(message: BusMessage): void {
    if (message.kind !== 'topics' || message.gateway !== 'checkpoint' || !this.local.observed) return;
    // As subscribers get it: the seed's event and its position in the session's stream.
    const event = JSON.parse(message.frame) as CheckpointEvent;
    this.local.next({ sessionId: event.data.session_id, event });
  }
}
