const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `expire(item)` once each item's time has come, with one timer per distinct time, not per
 * item: token expiries fall on whole seconds, so thousands of connections share a few timers, and
 * an idle connection keeps a set entry instead of a timer and its closure.
 */
interface Bucket<T> {
  items: Set<T>;
  timer?: NodeJS.Timeout;
}

export class ExpirySchedule<T> {
  private readonly due = new Map<number, Bucket<T>>();

  constructor(private readonly expire: (item: T) => void) {}

  /** `item` expires at `at` (epoch milliseconds). */
  add(item: T, at: number): void {
    let bucket = this.due.get(at);
    if (!bucket) {
      bucket = { items: new Set() };
      this.due.set(at, bucket);
      this.arm(at, bucket);
    }
    bucket.items.add(item);
  }

  delete(item: T, at: number): void {
    const bucket = this.due.get(at);
    if (!bucket?.items.delete(item) || bucket.items.size > 0) return;
    clearTimeout(bucket.timer);
    this.due.delete(at);
  }

  clear(): void {
    for (const { timer } of this.due.values()) clearTimeout(timer);
    this.due.clear();
  }

  private arm(at: number, bucket: Bucket<T>): void {
    // Beyond the longest timer (24.8 days) it wakes up early, and waits again.
    const delay = Math.min(Math.max(at - Date.now(), 0), MAX_TIMER_MS);
    bucket.timer = setTimeout(() => this.fire(at, bucket), delay).unref();
  }

  private fire(at: number, bucket: Bucket<T>): void {
    if (Date.now() < at) {
      this.arm(at, bucket);
      return;
    }
    this.due.delete(at);
    for (const item of bucket.items) this.expire(item);
  }
}
