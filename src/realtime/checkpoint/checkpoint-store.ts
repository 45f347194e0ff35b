/** A session of checkpoints (seed 003). @publicApi */
export interface CheckpointSession {
  id: string;
  name: string;
  created_at: string;
}

/** A checkpoint as `list_checkpoints` shows it. @publicApi */
export interface CheckpointSummary {
  id: string;
  session_id: string;
  message: string;
  /** 1, 2, 3… per session, gap-free and unique however many instances write. */
  sequence: number;
  created_at: string;
}

/** A checkpoint as `restore` returns it. @publicApi */
export interface Checkpoint extends CheckpointSummary {
  state: unknown;
}

/** What one owner may hold (SPEC.md §5); `Infinity` is no bound. */
export interface StorageQuota {
  /** Checkpoints in one session. */
  maxPerSession: number;
  /** Sessions of the owner. */
  maxSessions: number;
  /** Bytes of states across the owner's sessions. */
  maxBytes: number;
}

/** A checkpoint's state as stored: its JSON text (absent for no state), whose UTF-8 bytes count against the quota. */
export type StoredState = string | undefined;

/**
 * Where sessions and checkpoints live: in memory (one instance), or in Redis (shared by every
 * instance, surviving restarts). Sessions are kept under their owner; a call that names a session
 * (all but `createSession`, `ownerOf` and `totals`) counts as a method call on it and restarts its
 * TTL. Failures throw the protocol's `RealtimeError`s: `Session not found` (unknown or expired),
 * `Checkpoint not found`, the quota errors (nothing is stored then), `Service unavailable`.
 */
export interface CheckpointStore {
  /** A new session of `owner`, unless the owner has `quota.maxSessions` already. */
  createSession(owner: string, name: string, quota: StorageQuota): Promise<CheckpointSession>;
  /** The session's owner; undefined when there is no such session (or it expired). Not a method call. */
  ownerOf(sessionId: string): Promise<string | undefined>;
  /** A method call on the session that reads nothing (`subscribe`). */
  touch(owner: string, sessionId: string): Promise<void>;
  /** Appends a checkpoint with the session's next sequence, atomically with the quota checks. */
  addCheckpoint(
    owner: string,
    sessionId: string,
    message: string,
    state: StoredState,
    quota: StorageQuota,
  ): Promise<CheckpointSummary>;
  listCheckpoints(owner: string, sessionId: string): Promise<CheckpointSummary[]>;
  getCheckpoint(owner: string, sessionId: string, checkpointId: string): Promise<Checkpoint>;
  deleteCheckpoint(owner: string, sessionId: string, checkpointId: string): Promise<void>;
  /** Keeps the newest `keep`; returns how many remain. */
  compact(owner: string, sessionId: string, keep: number): Promise<number>;
  totals(): Promise<{ sessions: number; checkpoints: number }>;
  close(): Promise<void>;
}

export const CHECKPOINT_STORE = Symbol('CHECKPOINT_STORE');

/** The settings a store applies itself: how long an unused session lives (0: forever). */
export interface CheckpointStoreSettings {
  sessionTtlSec: number;
}

/**
 * A checkpoint's message is storage like its state: the bytes of a message beyond the first 256
 * count toward the owner's byte quota too (a usual message costs nothing), so that long messages
 * cannot hold more than the quota allows.
 */
export const FREE_MESSAGE_BYTES = 256;

/** The bytes of `message` that count toward the byte quota. */
export function chargedMessageBytes(message: string): number {
  return Math.max(Buffer.byteLength(message) - FREE_MESSAGE_BYTES, 0);
}
