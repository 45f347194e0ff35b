import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { RealtimeError } from '../core/gateway/index.js';
import { decodeJson, isString, shape } from '../core/text/index.js';
import type { RedisClient, RedisKeys } from '../redis/index.js';
import type { LuaScript } from '../redis/index.js';
import {
  CHECKPOINT_NOT_FOUND,
  SERVICE_UNAVAILABLE,
  SESSION_NOT_FOUND,
  STORAGE_QUOTA_EXCEEDED,
  TOO_MANY_CHECKPOINTS,
  TOO_MANY_SESSIONS,
} from './checkpoint-errors.js';
import { ADD, COMPACT, CREATE, DELETE, GET, LIST, SWEEP, TOUCH } from './checkpoint-scripts.js';
import type {
  Checkpoint,
  CheckpointSession,
  CheckpointStore,
  CheckpointStoreSettings,
  CheckpointSummary,
  StorageQuota,
  StoredState,
} from './checkpoint-store.js';

type Meta = Omit<CheckpointSummary, 'sequence'>;

/** How long a request waits for the store's first connection; afterwards, a store not ready fails at once. */
const FIRST_CONNECTION_WAIT_MS = 3_000;
/** Sessions one sweep looks at, at most. */
const SWEEP_BATCH = 100;
const SWEEP_MAX_INTERVAL_MS = 30_000;
const SWEEP_MIN_INTERVAL_MS = 1_000;
const SESSION_ID_LENGTH = 36;

/** Redis' "no bound" in the scripts. */
const bound = (limit: number): number => (Number.isFinite(limit) ? limit : -1);
const noop = (): void => undefined;

/** A checkpoint's metadata as the scripts store it (the sequence is kept apart, as the sorted set's score). */
const isMeta = shape<Meta>({ id: isString, session_id: isString, message: isString, created_at: isString });
const decodeMeta = (text: string): Meta => decodeJson(text, isMeta, 'checkpoint metadata');

/**
 * Sessions and checkpoints in Redis, shared by every instance and kept across restarts (SPEC.md §5).
 * A session's keys live in its owner's slot (RedisKeys.checkpointOwner), with the owner's quota, and
 * every change is one Lua script there (checkpoint-scripts.ts): sequences stay unique and gap-free,
 * and quotas exact, under concurrent writers. A session id finds its owner through a small index key.
 * Every key of a session carries its TTL, restarted by each method call; the owner's usage forgets an
 * expired session at the owner's next call, or at the sweep of `checkpointExpiries` (every instance,
 * idempotent), which also keeps the totals of `metrics` right. While Redis is not ready, every call
 * fails at once with `Service unavailable` instead of queueing.
 */
export class RedisCheckpointStore implements CheckpointStore {
  private readonly logger = new Logger('Realtime');
  private readonly ttlMs: number;
  private readonly sweeper?: NodeJS.Timeout;
  private readonly firstOutcome: Promise<void>;
  private firstOutcomeKnown = false;
  private sweeping = false;
  private lastFailureLog = 0;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    { sessionTtlSec }: CheckpointStoreSettings,
  ) {
    this.ttlMs = sessionTtlSec * 1000;
    this.firstOutcome = new Promise<void>((resolve) => {
      const settle = (): void => {
        this.firstOutcomeKnown = true;
        redis.off('ready', settle).off('error', settle).off('end', settle);
        resolve();
      };
      redis.on('ready', settle).on('error', settle).on('end', settle);
    });
    if (this.ttlMs > 0) {
      const every = Math.min(Math.max(this.ttlMs, SWEEP_MIN_INTERVAL_MS), SWEEP_MAX_INTERVAL_MS);
      this.sweeper = setInterval(() => void this.sweep(), every).unref();
    }
  }

  createSession(owner: string, name: string, quota: StorageQuota): Promise<CheckpointSession> {
    return this.guarded(async () => {
      const session: CheckpointSession = { id: randomUUID(), name, created_at: new Date().toISOString() };
      // The index first: a session is never without it (an orphan index expires, or finds no session).
      const index = this.keys.checkpointSessionOwner(session.id);
      await (this.ttlMs > 0 ? this.redis.set(index, owner, 'PX', this.ttlMs) : this.redis.set(index, owner));
      const reply = await this.run(CREATE, owner, session.id, [name, session.created_at, bound(quota.maxSessions)]);
      if (reply[0] === -1) {
        await this.redis.del(index);
        throw TOO_MANY_SESSIONS;
      }
      if (reply[3] >= 0) await this.redis.zadd(this.keys.checkpointExpiries(), reply[3], session.id + owner);
      await this.count(1, 0);
      return session;
    });
  }

  ownerOf(sessionId: string): Promise<string | undefined> {
    return this.guarded(async () => (await this.redis.get(this.keys.checkpointSessionOwner(sessionId))) ?? undefined);
  }

  touch(owner: string, sessionId: string): Promise<void> {
    return this.guarded(async () => {
      await this.use(TOUCH, owner, sessionId, []);
    });
  }

  addCheckpoint(
    owner: string,
    sessionId: string,
    message: string,
    state: StoredState,
    quota: StorageQuota,
  ): Promise<CheckpointSummary> {
    return this.guarded(async () => {
      const meta: Meta = { id: randomUUID(), session_id: sessionId, message, created_at: new Date().toISOString() };
      const [sequence] = await this.use(ADD, owner, sessionId, [
        meta.id,
        JSON.stringify(meta),
        state ?? '',
        bound(quota.maxPerSession),
        bound(quota.maxBytes),
      ]);
      if (sequence === -2) throw TOO_MANY_CHECKPOINTS;
      if (sequence === -3) throw STORAGE_QUOTA_EXCEEDED;
      await this.count(0, 1);
      return { ...meta, sequence };
    });
  }

  listCheckpoints(owner: string, sessionId: string): Promise<CheckpointSummary[]> {
    return this.guarded(async () => {
      const reply = await this.use(LIST, owner, sessionId, [], true);
      const listed: CheckpointSummary[] = [];
      for (let i = 3; i < reply.length; i += 2) {
        listed.push({ ...decodeMeta(String(reply[i + 1])), sequence: Number(reply[i]) });
      }
      return listed;
    });
  }

  getCheckpoint(owner: string, sessionId: string, checkpointId: string): Promise<Checkpoint> {
    return this.guarded(async () => {
      const reply = await this.use(GET, owner, sessionId, [checkpointId], true);
      if (Number(reply[0]) === 0) throw CHECKPOINT_NOT_FOUND;
      const [, , , sequence, meta, state] = reply.map(String);
      return {
        ...decodeMeta(meta),
        sequence: Number(sequence),
        state: state === '' ? null : (JSON.parse(state) as unknown), // any JSON: it is the caller's own
      };
    });
  }

  deleteCheckpoint(owner: string, sessionId: string, checkpointId: string): Promise<void> {
    return this.guarded(async () => {
      const [deleted] = await this.use(DELETE, owner, sessionId, [checkpointId]);
      if (deleted === 0) throw CHECKPOINT_NOT_FOUND;
      await this.count(0, -1);
    });
  }

  compact(owner: string, sessionId: string, keep: number): Promise<number> {
    return this.guarded(async () => {
      const [remaining, , , removed] = await this.use(COMPACT, owner, sessionId, [keep]);
      await this.count(0, -removed);
      return remaining;
    });
  }

  totals(): Promise<{ sessions: number; checkpoints: number }> {
    return this.guarded(async () => {
      const { sessions, checkpoints } = await this.redis.hgetall(this.keys.checkpointTotals());
      return { sessions: Number(sessions ?? 0), checkpoints: Number(checkpoints ?? 0) };
    });
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.redis.disconnect();
  }

  /**
   * A script on a session of `owner` (a method call on it): `Session not found` when it is not live;
   * otherwise its index's TTL starts again too. Numbers come back as numbers, unless `raw`.
   */
  private async use(
    script: LuaScript,
    owner: string,
    sessionId: string,
    args: Array<string | number>,
    raw = false,
  ): Promise<number[]> {
    const reply = await this.run(script, owner, sessionId, args, raw);
    if (reply[0] === -1) throw SESSION_NOT_FOUND;
    // The index's TTL is renewed by every later call too; one lost renewal only shortens a lookup's life.
    if (this.ttlMs > 0) this.redis.pexpire(this.keys.checkpointSessionOwner(sessionId), this.ttlMs).catch(noop);
    return reply;
  }

  /** Runs a script in the owner's slot and counts the sessions it purged out of the totals. */
  private async run(
    script: LuaScript,
    owner: string,
    sessionId: string,
    args: Array<string | number>,
    raw = false,
  ): Promise<number[]> {
    const { sessions, usage, sessionPrefix } = this.keys.checkpointOwner(owner);
    const { info, order, meta, state } = this.keys.checkpointSession(owner, sessionId);
    const reply = (await script.run(
      this.redis,
      [sessions, usage, info, order, meta, state],
      [sessionPrefix, this.ttlMs, sessionId, ...args],
    )) as unknown[];
    await this.count(-Number(reply[1]), -Number(reply[2]));
    // Code and purge counts are numbers; the rest stays as sent when `raw` (JSON texts, sequences).
    return (raw ? [Number(reply[0]), ...reply.slice(1)] : reply.map(Number)) as number[];
  }

  /** Moves the totals of `metrics` (not part of any quota: best effort, never failing a request that was done). */
  private async count(sessions: number, checkpoints: number): Promise<void> {
    const key = this.keys.checkpointTotals();
    if (sessions) await this.redis.hincrby(key, 'sessions', sessions).catch(noop);
    if (checkpoints) await this.redis.hincrby(key, 'checkpoints', checkpoints).catch(noop);
  }

  /**
   * Reclaims sessions whose owners have not come back since they expired: each due entry asks its
   * owner's slot (which purges what has expired there) and is dropped, or moved to the session's
   * current expiry. Several instances may sweep at once: a purge happens, and is counted, once.
   */
  private async sweep(): Promise<void> {
    if (this.sweeping || !this.ready) return;
    this.sweeping = true;
    try {
      const expiries = this.keys.checkpointExpiries();
      const due = await this.redis.zrangebyscore(expiries, '-inf', Date.now(), 'LIMIT', 0, SWEEP_BATCH);
      for (const member of due) {
        const sessionId = member.slice(0, SESSION_ID_LENGTH);
        const owner = member.slice(SESSION_ID_LENGTH);
        const { sessions, usage, sessionPrefix } = this.keys.checkpointOwner(owner);
        const reply = (
          (await SWEEP.run(this.redis, [sessions, usage], [sessionPrefix, this.ttlMs, sessionId])) as unknown[]
        ).map(Number);
        await this.count(-reply[1], -reply[2]);
        if (reply[0] < 0 || !Number.isFinite(reply[0])) await this.redis.zrem(expiries, member);
        else await this.redis.zadd(expiries, 'XX', reply[0], member);
      }
    } catch {
      // Redis went away mid-sweep: the next one goes on where this one stopped.
    } finally {
      this.sweeping = false;
    }
  }

  private get ready(): boolean {
    return this.redis.status === 'ready';
  }

  /**
   * Runs `work` only while Redis is ready (SPEC.md §5: fail at once rather than queue requests and
   * their states): `Service unavailable` when it is not, or when Redis fails the call.
   */
  private async guarded<T>(work: () => Promise<T>): Promise<T> {
    if (!this.ready) {
      // Only the very first connection is waited for (an instance that has just started).
      if (!this.firstOutcomeKnown) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, FIRST_CONNECTION_WAIT_MS)));
        await Promise.race([this.firstOutcome, timeout]);
        clearTimeout(timer);
      }
      if (!this.ready) throw SERVICE_UNAVAILABLE;
    }
    try {
      return await work();
    } catch (error) {
      if (error instanceof RealtimeError) throw error;
      this.logFailure(error);
      throw SERVICE_UNAVAILABLE;
    }
  }

  /** A failed call, at most one line a second (the connection's own loss is logged by the connector). */
  private logFailure(error: unknown): void {
    const now = Date.now();
    if (now - this.lastFailureLog < 1000) return;
    this.lastFailureLog = now;
    this.logger.warn(`Checkpoint store call failed: ${(error as Error)?.message ?? String(error)}`);
  }
}
