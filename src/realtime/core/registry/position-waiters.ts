import type { EventBus } from '../../bus/event-bus.js';
import { streamKey, type Positions, type StreamPosition } from '../../bus/stream-position.js';
import type { GatewayName } from '../gateway/gateway-name.js';

/** How long a join waits for the live stream to reach the position its history read returned. */
const RECEIVE_WAIT_MS = 2_000;

interface Waiter {
  position: StreamPosition;
  resolve: () => void;
}

/**
 * Joins waiting for this instance's live stream to reach the position their history read returned
 * (the seam of a resume, SPEC.md §11): each delivered event with positions wakes those it reached.
 */
export class PositionWaiters {
  private readonly waiting = new Map<string, Waiter[]>();

  constructor(private readonly bus: Pick<EventBus, 'received'>) {}

  /** How many streams have a join waiting: delivery looks for waiters only when there are some. */
  get size(): number {
    return this.waiting.size;
  }

  /** Resolves once this instance has received `position` of the stream (the seam of a resume), or after a while. */
  receivedHere(gateway: GatewayName, topic: string, position: StreamPosition): Promise<void> {
    if (this.bus.received(gateway, topic, position)) return Promise.resolve();
    const key = streamKey(gateway, topic);
    return new Promise<void>((resolve) => {
      const waiter = { position, resolve: () => undefined };
      const forget = (): void => {
        const remaining = (this.waiting.get(key) ?? []).filter((other) => other !== waiter);
        if (remaining.length === 0) this.waiting.delete(key);
        else this.waiting.set(key, remaining);
      };
      const timer = setTimeout(() => (forget(), resolve()), RECEIVE_WAIT_MS).unref();
      waiter.resolve = () => {
        clearTimeout(timer);
        resolve();
      };
      this.waiting.set(key, [...(this.waiting.get(key) ?? []), waiter]);
    });
  }

  /** An event of `gateway` at `positions` was delivered here: wakes the joins waiting for it or an earlier one. */
  wake(gateway: GatewayName, positions: Positions): void {
    for (const topic in positions) {
      const key = streamKey(gateway, topic);
      const waiters = this.waiting.get(key);
      if (!waiters) continue;
      const { offset, epoch } = positions[topic];
      const reached = (waiter: Waiter): boolean => waiter.position.epoch === epoch && waiter.position.offset <= offset;
      const remaining = waiters.filter((waiter) => !reached(waiter) || (waiter.resolve(), false));
      if (remaining.length === 0) this.waiting.delete(key);
      else this.waiting.set(key, remaining);
    }
  }
}
