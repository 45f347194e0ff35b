import { randomUUID } from 'node:crypto';
import { LuaScript, type RedisClient, type RedisKeys } from '../redis/index.js';
import type { Checkpoint, CheckpointSession, CheckpointStore, CheckpointSummary } from './checkpoint-store.js';

/** Appends a checkpoint under the session's next sequence: -1 when the session does not exist. */
const ADD = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local sequence = redis.call('HINCRBY', KEYS[1], 'sequence', 1)
redis.call('ZADD', KEYS[2], sequence, ARGV[1])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
return sequence`);

const DELETE = new LuaScript(`
if redis.call('ZREM', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return 1`);

/** Keeps the newest ARGV[1]: returns {removed, remaining}, or -1 when the session does not exist. */
const COMPACT = new LuaScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
local excess = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[1])
if excess <= 0 then return {0, redis.call('ZCARD', KEYS[2])} end
local ids = redis.call('ZRANGE', KEYS[2], 0, excess - 1)
redis.call('ZREMRANGEBYRANK', KEYS[2], 0, excess - 1)
for _, id in ipairs(ids) do
  redis.call('HDEL', KEYS[3], id)
  redis.call('HDEL', KEYS[4], id)
end
return {excess, redis.call('ZCARD', KEYS[2])}`);

type Meta = Omit<CheckpointSummary, 'sequence'>;

/**
 * Sessions and checkpoints in Redis, shared by every instance and kept across restarts. Each
 * session's keys share a hash tag, and every change is one Lua script, so sequences stay unique
 * and gap-free under concurrent writers (and a Redis Cluster runs each script in one slot).
 */
export class RedisCheckpointStore implements CheckpointStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async createSession(name: string): Promise<CheckpointSession> {
    const session: CheckpointSession = { id: randomUUID(), name, created_at: new Date().toISOString() };
    const { session: key } = this.keys.checkpointSession(session.id);
    await this.redis.hset(key, { name, created_at: session.created_at, sequence: 0 });
    await this.redis.hincrby(this.keys.checkpointTotals(), 'sessions', 1);
    return session;
  }

  async hasSession(sessionId: string): Promise<boolean> {
    return (await this.redis.exists(this.keys.checkpointSession(sessionId).session)) === 1;
  }

  async addCheckpoint(sessionId: string, message: string, state: unknown): Promise<CheckpointSummary | undefined> {
    const meta: Meta = { id: randomUUID(), session_id: sessionId, message, created_at: new Date().toISOString() };
    const sequence = Number(
      await ADD.run(this.redis, this.sessionKeys(sessionId), [
        meta.id,
        JSON.stringify(meta),
        JSON.stringify(state ?? null),
      ]),
    );
    if (sequence < 0) return undefined;
    await this.redis.hincrby(this.keys.checkpointTotals(), 'checkpoints', 1);
    return { ...meta, sequence };
  }

  async listCheckpoints(sessionId: string): Promise<CheckpointSummary[] | undefined> {
    const { order, meta } = this.keys.checkpointSession(sessionId);
    if (!(await this.hasSession(sessionId))) return undefined;
    const ranked = await this.redis.zrange(order, '0', '-1', 'WITHSCORES');
    const ids = ranked.filter((_, i) => i % 2 === 0);
    if (ids.length === 0) return [];
    const metas = await this.redis.hmget(meta, ...ids);
    return ids.flatMap((id, i) => {
      const stored = metas[i];
      return stored === null ? [] : [{ ...(JSON.parse(stored) as Meta), sequence: Number(ranked[i * 2 + 1]) }];
    });
  }

  async getCheckpoint(sessionId: string, checkpointId: string): Promise<Checkpoint | undefined> {
    const { order, meta, state } = this.keys.checkpointSession(sessionId);
    const [sequence, stored, storedState] = await Promise.all([
      this.redis.zscore(order, checkpointId),
      this.redis.hget(meta, checkpointId),
      this.redis.hget(state, checkpointId),
    ]);
    if (sequence === null || stored === null) return undefined;
    return { ...(JSON.parse(stored) as Meta), sequence: Number(sequence), state: JSON.parse(storedState ?? 'null') };
  }

  async deleteCheckpoint(sessionId: string, checkpointId: string): Promise<boolean> {
    const deleted = Number(await DELETE.run(this.redis, this.sessionKeys(sessionId), [checkpointId])) === 1;
    if (deleted) await this.redis.hincrby(this.keys.checkpointTotals(), 'checkpoints', -1);
    return deleted;
  }

  async compact(sessionId: string, keep: number): Promise<number | undefined> {
    const reply = await COMPACT.run(this.redis, this.sessionKeys(sessionId), [keep]);
    if (!Array.isArray(reply)) return undefined;
    const [removed, remaining] = reply.map(Number);
    if (removed > 0) await this.redis.hincrby(this.keys.checkpointTotals(), 'checkpoints', -removed);
    return remaining;
  }

  async totals(): Promise<{ sessions: number; checkpoints: number }> {
    const { sessions, checkpoints } = await this.redis.hgetall(this.keys.checkpointTotals());
    return { sessions: Number(sessions ?? 0), checkpoints: Number(checkpoints ?? 0) };
  }

  async close(): Promise<void> {
    this.redis.disconnect();
  }

  private sessionKeys(sessionId: string): [string, string, string, string] {
    const { session, order, meta, state } = this.keys.checkpointSession(sessionId);
    return [session, order, meta, state];
  }
}
