import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { REALTIME_CONFIG, type RealtimeConfig } from '../../config/index.js';
import type { RedisClient } from '../../redis/index.js';
import { ACQUIRE_ID, EXTEND_ID, RELEASE_ID } from './owned-id-scripts.js';
import { ClusterView } from './cluster-view.service.js';

/** An id as this instance knows it: its owner, its holds here, and when it is free once none is left. */
interface Known {
  /** Undefined until a first hold here. */
  owner?: string;
  holds: number;
  /** Takes in flight: the last hold leaving meanwhile defers its release (the take may write a hold). */
  pending: number;
  releaseDue?: boolean;
  /** Epoch ms at which the id is free again; set once no connection here holds it. */
  freeAt?: number;
}

/** What taking an id found: its owner, and the hold when the caller now holds the id. */
export interface Acquired {
  owner: string;
  hold?: OwnedIdHold;
}

/** One connection's hold on an id; given back once, when the connection ends. */
export class OwnedIdHold {
  private released = false;

  constructor(
    private readonly ids: OwnedIds,
    private readonly key: string,
  ) {}

  release(): void {
    if (this.released) return;
    this.released = true;
    this.ids.giveBack(this.key);
  }
}

/** Sends to one id extend its ownership at most once per this, per instance. */
const TOUCH_WINDOW_MS = 1_000;
/** Ids nobody holds any more are forgotten this often. */
const SWEEP_MS = 5_000;

/**
 * Ids that belong to the principal that first connected with them (notify client ids, SPEC.md §6),
 * for as long as a connection holds them and then for `historyTtlSec` (the time their stream's
 * history keeps what was sent to them; with history off, only while connected). A send to an owned
 * id keeps it owned that long after the send too, so that whoever takes it next never finds the
 * previous owner's messages in its history.
 *
 * With Redis the cluster decides atomically (one script per key, so two principals racing on two
 * instances leave exactly one owner); holds are leases renewed by the cluster tick, so the ids of an
 * instance that died become free one lease plus `historyTtlSec` after its last renewal, as if its
 * connections had ended then. Without Redis, or while it is away, this instance's view decides.
 */
@Injectable()
export class OwnedIds implements OnModuleDestroy {
  private readonly known = new Map<string, Known>();
  /** Ids whose last hold here was given back while Redis was away: released there on reconnect. */
  private readonly releasedWhileAway = new Set<string>();
  /** Ids a send extended in this window, and in the one just before it. */
  private touched = new Set<string>();
  private touchedBefore = new Set<string>();
  private touchWindowStart = 0;
  private lastRenewal = 0;
  private readonly keepMs: number;
  private readonly holder: string;
  private readonly sweeper = setInterval(() => this.sweep(Date.now()), SWEEP_MS).unref();

  constructor(
    private readonly cluster: ClusterView,
    @Inject(REALTIME_CONFIG) config: RealtimeConfig,
  ) {
    this.keepMs = config.history?.ttlMs ?? 0;
    this.holder = `i:${config.instanceId}`;
    cluster.onTick((redis, resync) => this.renewAll(redis, resync));
  }

  onModuleDestroy(): void {
    clearInterval(this.sweeper);
  }

  /** Ids known here (held, or recently given back): for leak checks. */
  get size(): number {
    return this.known.size;
  }

  /**
   * Takes `key` for `sub` when it is free or already `sub`'s; with `share` (the access policy let
   * `sub` in), holds it whoever owns it. An id without an owner becomes `sub`'s either way.
   */
  async acquire(key: string, sub: string, share = false): Promise<Acquired> {
    let known = this.known.get(key);
    if (!known) this.known.set(key, (known = { holds: 0, pending: 0 }));
    known.pending++;
    const reply = await this.cluster.query('owned id', (redis) =>
      ACQUIRE_ID.run(redis, [key], [share ? 'share' : 'claim', sub, this.holder, this.holdMs]),
    );
    known.pending--;
    const owner = typeof reply === 'string' ? reply : this.ownerHere(known, sub);
    if (owner !== sub && !share) {
      this.settle(key, known);
      return { owner };
    }
    known.owner = owner;
    known.holds++;
    known.freeAt = undefined;
    known.releaseDue = false;
    this.releasedWhileAway.delete(key);
    return { owner, hold: new OwnedIdHold(this, key) };
  }

  /** `key`'s stream got an event: an owned id stays owned `historyTtlSec` from now, at least. */
  touch(key: string): void {
    if (this.keepMs === 0) return;
    const now = Date.now();
    const known = this.known.get(key);
    if (known?.freeAt !== undefined) known.freeAt = Math.max(known.freeAt, now + this.keepMs);
    // Held here: its lease outlasts the send's history already.
    if (known?.holds || !this.cluster.client) return;
    const elapsed = now - this.touchWindowStart;
    if (elapsed >= TOUCH_WINDOW_MS) {
      this.touchedBefore = elapsed < 2 * TOUCH_WINDOW_MS ? this.touched : new Set();
      this.touched = new Set();
      this.touchWindowStart = now;
    }
    if (this.touched.has(key) || this.touchedBefore.has(key)) return;
    this.touched.add(key);
    // A send skipped here comes less than three windows after the extension: the margin covers it.
    const ms = this.keepMs + 3 * TOUCH_WINDOW_MS;
    void this.cluster.query('owned id', (redis) => EXTEND_ID.run(redis, [key], [ms]));
  }

  /** @internal A hold given back: the last one here starts the id's time to freedom. */
  giveBack(key: string): void {
    const known = this.known.get(key);
    if (!known || known.holds === 0 || --known.holds > 0) return;
    known.freeAt = Date.now() + this.keepMs;
    if (known.pending > 0) known.releaseDue = true;
    else this.release(key, known);
  }

  /** Nothing held here after a refused take: a release it deferred is done, an id never held here forgotten. */
  private settle(key: string, known: Known): void {
    if (known.holds > 0 || known.pending > 0) return;
    if (known.releaseDue) this.release(key, known);
    else if (known.owner === undefined) this.known.delete(key);
  }

  private release(key: string, known: Known): void {
    known.releaseDue = false;
    if (this.keepMs === 0) this.known.delete(key);
    void this.cluster
      .query('owned id', (redis) => this.releaseIn(redis, key))
      .then((done) => {
        if (done === undefined && !this.known.get(key)?.holds) this.releasedWhileAway.add(key);
      });
  }

  /** The lease of a hold: the cluster's lease, plus the time the id stays owned after its last connection. */
  private get holdMs(): number {
    return this.cluster.timing.leaseMs + this.keepMs;
  }

  /** Without Redis: the owner this instance knows, unless its time is over; else `sub` takes it. */
  private ownerHere(known: Known, sub: string): string {
    const free = known.holds === 0 && known.freeAt !== undefined && known.freeAt <= Date.now();
    return known.owner === undefined || free ? sub : known.owner;
  }

  private releaseIn(redis: RedisClient, key: string): Promise<unknown> {
    return RELEASE_ID.run(redis, [key], [this.holder, this.keepMs]);
  }

  /**
   * Leases are renewed once a third of their length has passed (every tick when history is off),
   * and all at once after a reconnect, when Redis may have lost them: the owner known here is
   * written again where there is none.
   */
  private async renewAll(redis: RedisClient, resync: boolean): Promise<void> {
    const now = Date.now();
    const writes: Array<Promise<unknown>> = [];
    if (resync) {
      for (const key of this.releasedWhileAway)
        if (!this.known.get(key)?.holds) writes.push(this.releaseIn(redis, key));
      this.releasedWhileAway.clear();
    }
    if (resync || now - this.lastRenewal >= this.holdMs / 3 - this.cluster.timing.tickMs) {
      this.lastRenewal = now;
      for (const [key, known] of this.known) {
        if (known.holds === 0 || known.owner === undefined) continue;
        writes.push(ACQUIRE_ID.run(redis, [key], ['share', known.owner, this.holder, this.holdMs]));
      }
    }
    await Promise.all(writes);
  }

  private sweep(now: number): void {
    for (const [key, known] of this.known) {
      const idle = known.holds === 0 && known.pending === 0;
      if (idle && (known.freeAt === undefined || known.freeAt <= now)) this.known.delete(key);
    }
  }
}
