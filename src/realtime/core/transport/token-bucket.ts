/** A token bucket: `ratePerSec` tokens a second, holding at most `burst`. */
export class TokenBucket {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly ratePerSec: number,
    private readonly burst: number,
    now: number = Date.now(),
  ) {
    this.tokens = burst;
    this.updatedAt = now;
  }

  /** Milliseconds until `amount` tokens will be there (0 if they are). */
  msUntil(amount: number, now: number = Date.now()): number {
    const available = Math.min(this.burst, this.tokens + ((now - this.updatedAt) * this.ratePerSec) / 1000);
    return available >= amount ? 0 : Math.ceil(((amount - available) * 1000) / this.ratePerSec);
  }

  /** Whether it has refilled to its burst: forgetting it would change nothing. */
  isFull(now: number = Date.now()): boolean {
    return this.msUntil(this.burst, now) === 0;
  }

  /**
   * Takes `amount` tokens whether or not there are that many, down to `-floor`: whether there were.
   * A refused frame was still read, so it still costs: its reader waits until the debt is repaid.
   */
  spend(now: number, amount: number, floor: number): boolean {
    this.refill(now);
    const enough = this.tokens >= amount;
    this.tokens = Math.max(this.tokens - amount, -floor);
    return enough;
  }

  /** Milliseconds until the bucket is out of debt (0 if it is). */
  msUntilSolvent(now: number = Date.now()): number {
    this.refill(now);
    return this.tokens >= 0 ? 0 : Math.ceil((-this.tokens * 1000) / this.ratePerSec);
  }

  /** Takes `amount` tokens if there are that many. */
  take(now: number = Date.now(), amount = 1): boolean {
    this.refill(now);
    if (this.tokens < amount) return false;
    this.tokens -= amount;
    return true;
  }

  private refill(now: number): void {
    const elapsed = now - this.updatedAt;
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + (elapsed * this.ratePerSec) / 1000);
      this.updatedAt = now;
    }
  }
}
