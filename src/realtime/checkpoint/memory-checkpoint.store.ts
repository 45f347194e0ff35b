import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  CHECKPOINT_NOT_FOUND,
  SESSION_NOT_FOUND,
  STORAGE_QUOTA_EXCEEDED,
  TOO_MANY_CHECKPOINTS,
  TOO_MANY_SESSIONS,
} from './checkpoint-errors.js';
import type {
  Checkpoint,
  CheckpointSession,
  CheckpointStore,
  CheckpointStoreSettings,
  CheckpointSummary,
  StorageQuota,
  StoredState,
} from './checkpoint-store.js';
import { chargedMessageBytes } from './checkpoint-store.js';

interface StoredCheckpoint extends Omit<CheckpointSummary, 'session_id'> {
  /** The state's JSON text: its bytes are what the quota counts, and no parsed tree outlives the request. */
  state: StoredState;
  bytes: number;
}

interface StoredSession extends CheckpointSession {
  owner: string;
  sequence: number;
  /** In sequence order. */
  checkpoints: Map<string, StoredCheckpoint>;
  /** Bytes of its checkpoints' states. */
  bytes: number;
  /** `performance.now()` time after which it is gone. */
  expiresAt: number;
}

/** What one owner holds. */
interface Usage {
  sessions: number;
  bytes: number;
}

/** How often an idle store frees expired sessions at the latest (a busy one does it on every call). */
const MAX_SWEEP_INTERVAL_MS = 60_000;

/**
 * One instance's sessions, in memory: gone with the process. Every call checks and writes in one
 * synchronous step, so quotas hold under any interleaving of requests. Expired sessions are freed,
 * not hidden: a call moves its session to the end of `sessions`, which (one TTL for all) keeps the
 * map in expiry order, so each sweep drops the expired ones from its head and stops at the first live
 * one — on every call, and from one timer for an idle store (no timer per session).
 */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly sessions = new Map<string, StoredSession>();
  private readonly usage = new Map<string, Usage>();
  private readonly ttlMs: number;
  private readonly sweeper?: NodeJS.Timeout;
  private checkpointCount = 0;

  constructor({ sessionTtlSec }: CheckpointStoreSettings) {
    this.ttlMs = sessionTtlSec * 1000;
    if (this.ttlMs > 0) {
      this.sweeper = setInterval(() => this.sweep(), Math.min(this.ttlMs, MAX_SWEEP_INTERVAL_MS)).unref();
    }
  }

  async createSession(owner: string, name: string, quota: StorageQuota): Promise<CheckpointSession> {
    this.sweep();
    const usage = this.usage.get(owner) ?? { sessions: 0, bytes: 0 };
    if (usage.sessions >= quota.maxSessions) throw TOO_MANY_SESSIONS;
    const session: StoredSession = {
      id: randomUUID(),
      name,
      created_at: new Date().toISOString(),
      owner,
      sequence: 0,
      checkpoints: new Map(),
      bytes: 0,
      expiresAt: this.expiry(),
    };
    this.sessions.set(session.id, session);
    usage.sessions++;
    this.usage.set(owner, usage);
    return { id: session.id, name, created_at: session.created_at };
  }

  async ownerOf(sessionId: string): Promise<string | undefined> {
    this.sweep();
    return this.sessions.get(sessionId)?.owner;
  }

  async touch(owner: string, sessionId: string): Promise<void> {
    this.use(owner, sessionId);
  }

  async addCheckpoint(
    owner: string,
    sessionId: string,
    message: string,
    state: StoredState,
    quota: StorageQuota,
  ): Promise<CheckpointSummary> {
    const session = this.use(owner, sessionId);
    if (session.checkpoints.size >= quota.maxPerSession) throw TOO_MANY_CHECKPOINTS;
    const bytes = (state === undefined ? 0 : Buffer.byteLength(state)) + chargedMessageBytes(message);
    const usage = this.usage.get(owner)!;
    if (usage.bytes + bytes > quota.maxBytes) throw STORAGE_QUOTA_EXCEEDED;
    const checkpoint: StoredCheckpoint = {
      id: randomUUID(),
      message,
      sequence: ++session.sequence,
      created_at: new Date().toISOString(),
      state,
      bytes,
    };
    session.checkpoints.set(checkpoint.id, checkpoint);
    session.bytes += bytes;
    usage.bytes += bytes;
    this.checkpointCount++;
    return summary(sessionId, checkpoint);
  }

  async listCheckpoints(owner: string, sessionId: string): Promise<CheckpointSummary[]> {
    const session = this.use(owner, sessionId);
    return [...session.checkpoints.values()].map((checkpoint) => summary(sessionId, checkpoint));
  }

  async getCheckpoint(owner: string, sessionId: string, checkpointId: string): Promise<Checkpoint> {
    const checkpoint = this.use(owner, sessionId).checkpoints.get(checkpointId);
    if (!checkpoint) throw CHECKPOINT_NOT_FOUND;
    return {
      ...summary(sessionId, checkpoint),
      state: checkpoint.state === undefined ? null : JSON.parse(checkpoint.state),
    };
  }

  async deleteCheckpoint(owner: string, sessionId: string, checkpointId: string): Promise<void> {
    const session = this.use(owner, sessionId);
    const checkpoint = session.checkpoints.get(checkpointId);
    if (!checkpoint) throw CHECKPOINT_NOT_FOUND;
    this.remove(session, checkpoint);
  }

  async compact(owner: string, sessionId: string, keep: number): Promise<number> {
    const session = this.use(owner, sessionId);
    let excess = session.checkpoints.size - keep;
    for (const checkpoint of session.checkpoints.values()) {
      if (excess-- <= 0) break;
      this.remove(session, checkpoint);
    }
    return session.checkpoints.size;
  }

  async totals(): Promise<{ sessions: number; checkpoints: number }> {
    this.sweep();
    return { sessions: this.sessions.size, checkpoints: this.checkpointCount };
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
  }

  /** The live session of `owner`, its TTL restarted (a method was called on it); `Session not found` otherwise. */
  private use(owner: string, sessionId: string): StoredSession {
    this.sweep();
    const session = this.sessions.get(sessionId);
    if (!session || session.owner !== owner) throw SESSION_NOT_FOUND;
    if (this.ttlMs > 0) {
      session.expiresAt = this.expiry();
      this.sessions.delete(sessionId);
      this.sessions.set(sessionId, session);
    }
    return session;
  }

  private expiry(): number {
    return this.ttlMs > 0 ? performance.now() + this.ttlMs : Infinity;
  }

  /** Frees the sessions whose TTL has passed, oldest first, and gives their storage back to their owners. */
  private sweep(): void {
    if (this.ttlMs === 0) return;
    const now = performance.now();
    for (const session of this.sessions.values()) {
      if (session.expiresAt > now) break;
      this.sessions.delete(session.id);
      this.checkpointCount -= session.checkpoints.size;
      const usage = this.usage.get(session.owner)!;
      usage.bytes -= session.bytes;
      if (--usage.sessions === 0) this.usage.delete(session.owner);
    }
  }

  private remove(session: StoredSession, checkpoint: StoredCheckpoint): void {
    session.checkpoints.delete(checkpoint.id);
    session.bytes -= checkpoint.bytes;
    this.usage.get(session.owner)!.bytes -= checkpoint.bytes;
    this.checkpointCount--;
  }
}

function summary(sessionId: string, { id, message, sequence, created_at }: StoredCheckpoint): CheckpointSummary {
  return { id, session_id: sessionId, message, sequence, created_at };
}
