import { Injectable } from '@nestjs/common';
import { RedisConnector, type RedisClient, type RedisKeys } from '../../redis/index.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import { TOO_MANY_CONNECTIONS, type RealtimeError } from '../gateway/realtime-error.js';
import { CLAIM_SLOT, HOLD } from './cluster-scripts.js';
import { ClusterView } from './cluster-view.service.js';

interface Holding {
  gateway: GatewayName;
  sub: string;
  /** Admitted connections plus claims in flight: what this instance writes as its own count. */
  count: number;
}

/** One connection's place under its user's limit; given back once, when the connection ends. */
export class UserSlot {
  private released = false;

  constructor(
    private readonly slots: UserSlots,
    private readonly key: string,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.slots.giveBack(this.key);
  }
}

/**
 * Per-user connection limits for the whole cluster (SPEC.md §9), decided atomically in Redis at
 * admission: one script reads every instance's live count for the user and writes this instance's
 * own, so N connections arriving at once on several instances admit exactly the limit. Each
 * instance writes its absolute count (never an increment): a Redis restart or a lost reply is
 * corrected by the next write, and nothing is counted twice. Counts are leases renewed every
 * cluster tick, so a dead instance's connections stop counting within `heartbeatTimeoutMs`.
 * While Redis is away the local count alone decides.
 */
@Injectable()
export class UserSlots {
  private readonly held = new Map<string, Holding>();
  /** Users whose last slot here was given back while Redis was away: written (as 0) on reconnect. */
  private readonly emptiedWhileAway = new Map<string, Holding>();
  private readonly keys: RedisKeys;

  constructor(
    private readonly cluster: ClusterView,
    connector: RedisConnector,
  ) {
    this.keys = connector.keys;
    cluster.onTick((redis, resync) => this.renewAll(redis, resync));
  }

  /** Users with a connection (or a claim in flight) here: for leak checks. */
  get size(): number {
    return this.held.size;
  }

  /** A slot among `limit` for `sub` on `gateway`, or the refusal. One Redis round trip with Redis, none without. */
  async claim(gateway: GatewayName, sub: string, limit: number): Promise<UserSlot | RealtimeError> {
    const key = `${gateway}|${sub}`;
    const holding = this.held.get(key) ?? { gateway, sub, count: 0 };
    this.held.set(key, holding);
    const own = ++holding.count;
    if (own > limit) {
      this.drop(key, holding);
      return TOO_MANY_CONNECTIONS;
    }
    const slot = new UserSlot(this, key);
    const reply = await this.cluster.query('user slot', (redis) =>
      CLAIM_SLOT.run(redis, [this.keys.userSlots(gateway, sub)], [this.cluster.instanceId, own, limit, this.leaseMs]),
    );
    if (Array.isArray(reply) && Number(reply[0]) === 0) {
      slot.release();
      return TOO_MANY_CONNECTIONS;
    }
    return slot;
  }

  /** @internal A slot given back: the own count is rewritten (the claim that used it may have been refused). */
  giveBack(key: string): void {
    const holding = this.held.get(key);
    if (!holding) return;
    this.drop(key, holding);
    void this.cluster
      .query('user slot', (redis) => this.write(redis, holding))
      .then((written) => {
        if (written === undefined && holding.count === 0) this.emptiedWhileAway.set(key, holding);
      });
  }

  /** One fewer here (a claim refused before it was written anywhere stops at this). */
  private drop(key: string, holding: Holding): void {
    holding.count--;
    if (holding.count === 0) this.held.delete(key);
  }

  private get leaseMs(): number {
    return this.cluster.timing.leaseMs;
  }

  private write(redis: RedisClient, { gateway, sub, count }: Holding): Promise<unknown> {
    return HOLD.run(redis, [this.keys.userSlots(gateway, sub)], [this.cluster.instanceId, count, this.leaseMs]);
  }

  private async renewAll(redis: RedisClient, resync: boolean): Promise<void> {
    const writes = [...this.held.values()];
    if (resync) {
      for (const [key, emptied] of this.emptiedWhileAway) if (!this.held.has(key)) writes.push(emptied);
      this.emptiedWhileAway.clear();
    }
    await Promise.all(writes.map((holding) => this.write(redis, holding)));
  }
}
