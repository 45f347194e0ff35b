/**
 * Publishes waiting for Redis, oldest first, bounded: when full, the oldest is dropped and
 * counted, so memory stays bounded however long Redis is away (SPEC.md §9).
 */
export class PublishBuffer<T = string> {
  private readonly items: Array<T | undefined>;
  private head = 0;
  private count = 0;
  /** Publishes dropped since the last `takeDropped()`. */
  private dropped = 0;

  constructor(readonly capacity: number) {
    this.items = new Array<T | undefined>(Math.max(capacity, 0));
  }

  get size(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.capacity === 0) {
      this.dropped++;
      return;
    }
    if (this.count === this.capacity) {
      this.shift();
      this.dropped++;
    }
    this.items[(this.head + this.count) % this.capacity] = item;
    this.count++;
  }

  /** The oldest item, removed; undefined when empty. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return item;
  }

  /** How many were dropped since the last call, and resets the count. */
  takeDropped(): number {
    const dropped = this.dropped;
    this.dropped = 0;
    return dropped;
  }
}
