import { BusCounters, type BusHandler, type BusMessage, type BusStatus, type EventBus } from './event-bus.js';

/** One instance: publishing is delivering. */
export class MemoryEventBus implements EventBus {
  readonly name = 'memory' as const;
  readonly counters = new BusCounters();
  protected readonly handlers: BusHandler[] = [];

  publish(message: BusMessage): void {
    this.counters.published++;
    this.deliverLocally(message);
  }

  subscribe(handler: BusHandler): void {
    this.handlers.push(handler);
  }

  status(): BusStatus {
    return 'disabled';
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}

  protected deliverLocally(message: BusMessage): void {
    for (const handler of this.handlers) handler(message);
  }
}
