import { TokenBucket } from './token-bucket.js';

const SWEEP_INTERVAL_MS = 10_000;

/** How much debt a shared budget can run into, in maximal frames: how long a flooder waits at most. */
const DEBT_FRAMES = 4;

/**
 * Inbound byte budgets shared by several connections (SPEC.md §10.1): one per user across the
 * user's connections, and one per client IP across the connections that have no principal yet.
 * Every frame read is charged, the refused ones too (a debt its connections wait out before they
 * are read again), so that many connections together cost no more than the one budget.
 * Budgets that have refilled are forgotten on a sweep, so memory follows the active senders.
 */
export class SharedByteBudgets {
  private readonly byUser = new Map<string, TokenBucket>();
  private readonly byIp = new Map<string, TokenBucket>();
  private readonly sweeper = setInterval(() => this.sweep(Date.now()), SWEEP_INTERVAL_MS).unref();

  constructor(private readonly rates: { perUser: number; perIp: number; burst: number }) {}

  /** Charges `bytes` to the user's budget, or the IP's when there is no user; whether they were there. */
  take(user: string | undefined, ip: string, bytes: number, now: number): boolean {
    return this.bucketOf(user, ip, now).spend(now, bytes, DEBT_FRAMES * this.rates.burst);
  }

  /** Milliseconds until the budget `take` charged is out of debt. */
  msUntilSolvent(user: string | undefined, ip: string, now: number): number {
    return this.bucketOf(user, ip, now).msUntilSolvent(now);
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private bucketOf(user: string | undefined, ip: string, now: number): TokenBucket {
    return user === undefined
      ? this.bucket(this.byIp, ip, this.rates.perIp, now)
      : this.bucket(this.byUser, user, this.rates.perUser, now);
  }

  private bucket(buckets: Map<string, TokenBucket>, key: string, rate: number, now: number): TokenBucket {
    let bucket = buckets.get(key);
    // The burst is one maximal frame (SPEC.md §10.1), or one second's budget when that is more, as
    // for a connection's own budget: a frame that fits the rate is never refused for the burst.
    if (!bucket) buckets.set(key, (bucket = new TokenBucket(rate, Math.max(this.rates.burst, rate), now)));
    return bucket;
  }

  private sweep(now: number): void {
    for (const buckets of [this.byUser, this.byIp]) {
      for (const [key, bucket] of buckets) if (bucket.isFull(now)) buckets.delete(key);
    }
  }
}
