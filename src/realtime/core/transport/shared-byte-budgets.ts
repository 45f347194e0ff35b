import { TokenBucket } from './token-bucket.js';

const SWEEP_INTERVAL_MS = 10_000;

/**
 * Inbound byte budgets shared by several connections (SPEC.md §10.1): one per user across the
 * user's connections, and one per client IP across the connections that have no principal yet.
 * Budgets that have refilled are forgotten on a sweep, so memory follows the active senders.
 */
export class SharedByteBudgets {
  private readonly byUser = new Map<string, TokenBucket>();
  private readonly byIp = new Map<string, TokenBucket>();
  private readonly sweeper = setInterval(() => this.sweep(Date.now()), SWEEP_INTERVAL_MS).unref();

  constructor(private readonly rates: { perUser: number; perIp: number; burst: number }) {}

  /** Takes `bytes` from the user's budget, or the IP's when there is no user; whether they were there. */
  take(user: string | undefined, ip: string, bytes: number, now: number): boolean {
    const bucket =
      user === undefined
        ? this.bucket(this.byIp, ip, this.rates.perIp, now)
        : this.bucket(this.byUser, user, this.rates.perUser, now);
    return bucket.take(now, bytes);
  }

  /** Milliseconds until `bytes` are in the budget `take` drew from. */
  msUntil(user: string | undefined, ip: string, bytes: number, now: number): number {
    const bucket = user === undefined ? this.byIp.get(ip) : this.byUser.get(user);
    return bucket?.msUntil(bytes, now) ?? 0;
  }

  close(): void {
    clearInterval(this.sweeper);
  }

  private bucket(buckets: Map<string, TokenBucket>, key: string, rate: number, now: number): TokenBucket {
    let bucket = buckets.get(key);
    if (!bucket) buckets.set(key, (bucket = new TokenBucket(rate, Math.max(this.rates.burst, rate), now)));
    return bucket;
  }

  private sweep(now: number): void {
    for (const buckets of [this.byUser, this.byIp]) {
      for (const [key, bucket] of buckets) if (bucket.isFull(now)) buckets.delete(key);
    }
  }
}
