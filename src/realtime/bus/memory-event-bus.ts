import type { GatewayName } from './event-bus.js';
import {
  BusCounters,
  type BusHandler,
  type BusMessage,
  type BusStatus,
  type EventBus,
  type PublishReceipt,
  type TopicsMessage,
} from './event-bus.js';
import { MemoryStreamLog, type HistoryLimits } from './memory-stream-log.js';
import type { HistoryRead, Positions, StreamPosition } from './stream-position.js';
import type { StreamStyles } from './stream-styles.js';

/** One instance: publishing is delivering, and the history is this process's. */
export class MemoryEventBus implements EventBus {
  readonly name = 'memory' as const;
  readonly counters = new BusCounters();
  protected readonly handlers: BusHandler[] = [];
  private readonly log?: MemoryStreamLog;

  constructor(
    private readonly styles: StreamStyles,
    history?: HistoryLimits,
  ) {
    if (history) this.log = new MemoryStreamLog(history);
  }

  publish(message: BusMessage): void {
    if (message.kind === 'topics') {
      void this.publishEvent(message);
      return;
    }
    this.counters.published++;
    this.deliverLocally(message);
  }

  /** In memory, an event is stored (in its streams' histories, when on) as it is published. */
  publishEvent(message: TopicsMessage): Promise<PublishReceipt> {
    this.counters.published++;
    let positions: Positions | undefined;
    if (this.log) {
      const { gateway, topics, frame, except } = message;
      const appended = this.log.append(gateway, topics, frame, this.styles.of(gateway), except);
      positions = appended.positions;
      message = { ...message, ...appended };
    }
    this.deliverLocally(message);
    return Promise.resolve({ status: 'stored', positions });
  }

  subscribe(handler: BusHandler): void {
    this.handlers.push(handler);
  }

  async watch(): Promise<void> {}

  unwatch(): void {}

  async resume(gateway: GatewayName, topic: string, since?: StreamPosition): Promise<HistoryRead> {
    return this.requireLog().resume(gateway, topic, since);
  }

  async list(gateway: GatewayName, topic: string, since: number, limit: number): Promise<HistoryRead> {
    return this.requireLog().list(gateway, topic, since, limit);
  }

  /** Delivery is synchronous: whatever has a position has been received. */
  received(): boolean {
    return true;
  }

  status(): BusStatus {
    return 'disabled';
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {
    this.log?.close();
  }

  /** For leak checks: what the history holds. */
  historyFootprint(): { streams: number; events: number } {
    return this.log?.footprint() ?? { streams: 0, events: 0 };
  }

  protected deliverLocally(message: BusMessage): void {
    for (const handler of this.handlers) handler(message);
  }

  private requireLog(): MemoryStreamLog {
    if (!this.log) throw new Error('History is off');
    return this.log;
  }
}
