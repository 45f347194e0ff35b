import { Injectable, Logger } from '@nestjs/common';
import { RedisConnector, type RedisClient, type RedisKeys } from '../../redis/index.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import { decodeJson, isRecord, isString, type Guard } from '../text/json-decode.js';
import { ENTER, HOLD, LEAVE, type LeaveMode } from './cluster-scripts.js';
import { ClusterView } from './cluster-view.service.js';

/** A user present in a topic on this instance, as its reaper would need it. */
interface Entry {
  gateway: GatewayName;
  topic: string;
  sub: string;
  /** What the gateway announces about the user (chat: `user_id`, `username`), as JSON. */
  data: string;
}

/** Why a user's last tab here left a topic: it left (or its connection ended), or the drain closed it. */
export type LeaveCause = 'left' | 'drained';

/** A user of a dead instance who is now gone from `topic` in the whole cluster. */
export type VanishedListener = (topic: string, data: Record<string, unknown>) => void;

/**
 * Presence per user per topic for the whole cluster (SPEC.md §9), decided atomically in Redis:
 * the gateway asks when a user's first tab here enters a topic, or its last tab here leaves, and
 * one O(1) script per (topic, user) tells whether this was the first (or last) instance, so two
 * tabs on two instances at the same moment announce once. Entries stay until left or reaped (not
 * until a lease ends) and are indexed per instance: when an instance dies, a survivor reaps its
 * entries and announces those users gone, once. While Redis is away this instance's view decides.
 */
@Injectable()
export class ClusterPresence {
  private readonly logger = new Logger(ClusterPresence.name);
  private readonly entries = new Map<string, Entry>();
  private readonly vanished = new Map<GatewayName, VanishedListener>();
  private readonly keys: RedisKeys;
  /** The first sync of a (re)started instance reaps what a previous run under its id left behind. */
  private firstSync = true;

  constructor(
    private readonly cluster: ClusterView,
    connector: RedisConnector,
  ) {
    this.keys = connector.keys;
    cluster.onTick((redis, resync) => (resync ? this.resync(redis) : this.renewAll(redis)));
    cluster.onInstanceGone((redis, instanceId) => this.reap(redis, instanceId));
  }

  /** Called by `gateway` with the topic and announcement of each user of a dead instance who is gone. */
  onVanished(gateway: GatewayName, listener: VanishedListener): void {
    this.vanished.set(gateway, listener);
  }

  /** `sub`'s first tab here entered `topic`: whether it is new to the whole cluster (announce it). */
  async enter(gateway: GatewayName, topic: string, sub: string, data: Record<string, unknown>): Promise<boolean> {
    const field = fieldOf(gateway, topic, sub);
    const entry: Entry = { gateway, topic, sub, data: JSON.stringify(data) };
    this.entries.set(field, entry);
    const first = await this.cluster.query('presence', (redis) => {
      void this.index(redis, [[field, entry.data]]).catch(() => undefined); // renewed, or resynced, later
      return ENTER.run(redis, [this.key(entry)], [this.cluster.instanceId, this.ttlMs]);
    });
    return first === undefined || Number(first) === 1;
  }

  /**
   * `sub`'s last tab here left `topic`: whether it is gone from the whole cluster (announce it).
   * A tab this instance's drain closed (`drained`) is no user leaving: in a cluster its entry stays,
   * handed over at withdraw (`ClusterView.withdraw`), so that a user who reconnects elsewhere is
   * neither announced gone nor joined again.
   */
  async leave(gateway: GatewayName, topic: string, sub: string, cause: LeaveCause = 'left'): Promise<boolean> {
    if (cause === 'drained' && this.cluster.clustered) return false;
    const field = fieldOf(gateway, topic, sub);
    const entry = this.entries.get(field) ?? { gateway, topic, sub, data: '{}' };
    this.entries.delete(field);
    const last = await this.cluster.query('presence', (redis) =>
      this.removeHolder(redis, this.cluster.instanceId, field, entry, 'leave'),
    );
    return last ?? true;
  }

  /** For leak checks: the (gateway, topic, user) entries this instance holds. */
  get size(): number {
    return this.entries.size;
  }

  /** How long a presence entry and the index outlive their last renewal: long after any reaper has run. */
  private get ttlMs(): number {
    return 4 * this.cluster.timing.leaseMs;
  }

  private key({ gateway, topic, sub }: Omit<Entry, 'data'>): string {
    return this.keys.presence(gateway, topic, sub);
  }

  /** Adds `fields` to this instance's presence index and renews it, in one pipeline. */
  private async index(redis: RedisClient, fields: Array<[string, string]>): Promise<void> {
    const key = this.keys.instancePresence(this.cluster.instanceId);
    await Promise.all([
      fields.length > 0 ? redis.hset(key, Object.fromEntries(fields)) : 0,
      redis.pexpire(key, this.ttlMs),
    ]);
  }

  /** Takes `instanceId` out of the entry's holders and its index; whether the user must be announced gone. */
  private async removeHolder(
    redis: RedisClient,
    instanceId: string,
    field: string,
    entry: Omit<Entry, 'data'>,
    mode: LeaveMode,
  ): Promise<boolean> {
    const [reply] = await Promise.all([
      LEAVE.run(redis, [this.key(entry)], [instanceId, mode]),
      redis.hdel(this.keys.instancePresence(instanceId), field),
    ]);
    return Number(reply) === 1;
  }

  /** Every entry's lease, and the whole index (an index write lost since is redone here). */
  private async renewAll(redis: RedisClient): Promise<void> {
    const renewals = [...this.entries.values()].map((entry) =>
      HOLD.run(redis, [this.key(entry)], [this.cluster.instanceId, 1, this.ttlMs]),
    );
    const indexed = [...this.entries].map(([field, entry]): [string, string] => [field, entry.data]);
    await Promise.all([...renewals, this.index(redis, indexed)]);
  }

  /**
   * After a (re)connect Redis may have lost everything, or kept entries of users who left while it
   * was away (already announced here), or the others took this instance for dead and reaped it:
   * every entry is written again and the stale ones removed.
   */
  private async resync(redis: RedisClient): Promise<void> {
    const own = this.cluster.instanceId;
    const indexed = await redis.hgetall(this.keys.instancePresence(own));
    const mode: LeaveMode = this.firstSync ? 'reap' : 'silent';
    const stale = Object.entries(indexed).filter(([field]) => !this.entries.has(field));
    await Promise.all(stale.map(([field, data]) => this.removeIndexed(redis, own, field, data, mode)));
    await this.renewAll(redis);
    this.firstSync = false;
  }

  /** A dead instance's entries: each user gone from the whole cluster is announced by exactly one reaper. */
  private async reap(redis: RedisClient, instanceId: string): Promise<void> {
    const indexed = await redis.hgetall(this.keys.instancePresence(instanceId));
    const fields = Object.entries(indexed);
    await Promise.all(fields.map(([field, data]) => this.removeIndexed(redis, instanceId, field, data, 'reap')));
    await redis.del(this.keys.instancePresence(instanceId));
    if (fields.length > 0) this.logger.log(`reaped ${fields.length} presence entries of instance ${instanceId}`);
  }

  /** An entry as an index lists it (`field`, announcement `data`): removed, and announced gone if so decided. */
  private async removeIndexed(
    redis: RedisClient,
    instanceId: string,
    field: string,
    data: string,
    mode: LeaveMode,
  ): Promise<void> {
    const [gateway, topic, sub] = decodeJson(field, isPresenceField, 'presence field');
    if (await this.removeHolder(redis, instanceId, field, { gateway, topic, sub }, mode)) {
      this.vanished.get(gateway)?.(topic, decodeJson(data, isRecord, 'presence announcement'));
    }
  }
}

/** A presence index field: `[gateway, topic, sub]`, as `fieldOf` writes it. */
const isPresenceField: Guard<[GatewayName, string, string]> = (value): value is [GatewayName, string, string] =>
  Array.isArray(value) && value.length === 3 && value.every(isString);

function fieldOf(gateway: GatewayName, topic: string, sub: string): string {
  return JSON.stringify([gateway, topic, sub]);
}
