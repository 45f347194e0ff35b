import { isNumber, isRecord, isString, optional, shape, type Guard } from '../core/text/index.js';

/** What subscribers of a session are pushed (seed 003 `WebSocketEvent`). @publicApi */
export interface CheckpointEvent {
  event_type: 'checkpoint_created' | 'checkpoint_restored' | 'checkpoint_deleted' | 'checkpoints_compacted';
  data: { checkpoint_id?: string; session_id: string; remaining?: number; timestamp: string };
  /** The event's position in the session's stream (SPEC.md §11), when history is on. */
  stream?: string;
  offset?: number;
  epoch?: string;
}

/** The topic of a session's subscribers. */
export const sessionTopic = (sessionId: string): string => `session:${sessionId}`;

/** Session and checkpoint ids are UUIDs (seed 003 parses them with `Uuid::parse_str`). */
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const EVENT_TYPES: ReadonlySet<unknown> = new Set<CheckpointEvent['event_type']>([
  'checkpoint_created',
  'checkpoint_restored',
  'checkpoint_deleted',
  'checkpoints_compacted',
]);

/** A session event as read back from the bus (the frame every instance's subscribers got). */
export const isCheckpointEvent: Guard<CheckpointEvent> = shape<CheckpointEvent>({
  event_type: (value): value is CheckpointEvent['event_type'] => EVENT_TYPES.has(value),
  data: (value): value is CheckpointEvent['data'] => isRecord(value) && isString(value.session_id),
  stream: optional(isString),
  offset: optional(isNumber),
  epoch: optional(isString),
});
