import { randomUUID } from 'node:crypto';
import type { Checkpoint, CheckpointSession, CheckpointStore, CheckpointSummary } from './checkpoint-store.js';

interface StoredSession extends CheckpointSession {
  sequence: number;
  /** In sequence order. */
  checkpoints: Map<string, Checkpoint>;
}

/** One instance's sessions, in memory: gone with the process. */
export class MemoryCheckpointStore implements CheckpointStore {
  private readonly sessions = new Map<string, StoredSession>();
  private checkpointCount = 0;

  async createSession(name: string): Promise<CheckpointSession> {
    const session: StoredSession = {
      id: randomUUID(),
      name,
      created_at: new Date().toISOString(),
      sequence: 0,
      checkpoints: new Map(),
    };
    this.sessions.set(session.id, session);
    return { id: session.id, name, created_at: session.created_at };
  }

  async hasSession(sessionId: string): Promise<boolean> {
    return this.sessions.has(sessionId);
  }

  async addCheckpoint(sessionId: string, message: string, state: unknown): Promise<CheckpointSummary | undefined> {
    const session = this.sessions.get(sessionId);
    if (!session) return undefined;
    const checkpoint: Checkpoint = {
      id: randomUUID(),
      session_id: sessionId,
      message,
      sequence: ++session.sequence,
      created_at: new Date().toISOString(),
      state,
    };
    session.checkpoints.set(checkpoint.id, checkpoint);
    this.checkpointCount++;
    return summary(checkpoint);
  }

  async listCheckpoints(sessionId: string): Promise<CheckpointSummary[] | undefined> {
    const session = this.sessions.get(sessionId);
    return session && [...session.checkpoints.values()].map(summary);
  }

  async getCheckpoint(sessionId: string, checkpointId: string): Promise<Checkpoint | undefined> {
    return this.sessions.get(sessionId)?.checkpoints.get(checkpointId);
  }

  async deleteCheckpoint(sessionId: string, checkpointId: string): Promise<boolean> {
    const deleted = this.sessions.get(sessionId)?.checkpoints.delete(checkpointId) ?? false;
    if (deleted) this.checkpointCount--;
    return deleted;
  }

  async compact(sessionId: string, keep: number): Promise<number | undefined> {
    const session = this.sessions.get(sessionId);
    if (!session) return undefined;
    const excess = [...session.checkpoints.keys()].slice(0, Math.max(session.checkpoints.size - keep, 0));
    for (const id of excess) session.checkpoints.delete(id);
    this.checkpointCount -= excess.length;
    return session.checkpoints.size;
  }

  async totals(): Promise<{ sessions: number; checkpoints: number }> {
    return { sessions: this.sessions.size, checkpoints: this.checkpointCount };
  }

  async close(): Promise<void> {}
}

function summary({ id, session_id, message, sequence, created_at }: Checkpoint): CheckpointSummary {
  return { id, session_id, message, sequence, created_at };
}
