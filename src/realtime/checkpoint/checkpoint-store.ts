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

/**
 * Where sessions and checkpoints live: in memory (one instance), or in Redis (shared by every
 * instance, surviving restarts). `undefined` means the session (or checkpoint) does not exist.
 */
export interface CheckpointStore {
  createSession(name: string): Promise<CheckpointSession>;
  hasSession(sessionId: string): Promise<boolean>;
  /** Appends a checkpoint with the session's next sequence, atomically. */
  addCheckpoint(sessionId: string, message: string, state: unknown): Promise<CheckpointSummary | undefined>;
  listCheckpoints(sessionId: string): Promise<CheckpointSummary[] | undefined>;
  getCheckpoint(sessionId: string, checkpointId: string): Promise<Checkpoint | undefined>;
  /** Whether it existed. */
  deleteCheckpoint(sessionId: string, checkpointId: string): Promise<boolean>;
  /** Keeps the newest `keep`; returns how many remain, or undefined for an unknown session. */
  compact(sessionId: string, keep: number): Promise<number | undefined>;
  totals(): Promise<{ sessions: number; checkpoints: number }>;
  close(): Promise<void>;
}

export const CHECKPOINT_STORE = Symbol('CHECKPOINT_STORE');
