import { jest } from '@jest/globals';
import type { StreamPosition } from '../../bus/stream-position.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import { PositionWaiters } from './position-waiters.js';

const at = (offset: number, epoch = 'e1'): StreamPosition => ({ offset, epoch });

describe('PositionWaiters', () => {
  let receivedAlready: boolean;
  let waiters: PositionWaiters;
  let woken: string[];
  beforeEach(() => {
    jest.useFakeTimers();
    receivedAlready = false;
    waiters = new PositionWaiters({ received: () => receivedAlready });
    woken = [];
  });
  afterEach(() => jest.useRealTimers());

  const wait = (name: string, topic: string, position: StreamPosition, gateway: GatewayName = 'chat'): Promise<void> =>
    waiters.receivedHere(gateway, topic, position).then(() => void woken.push(name));

  it('resolves at once when the position was received here already', async () => {
    receivedAlready = true;
    await wait('now', 'room', at(3));
    expect(woken).toEqual(['now']);
    expect(waiters.size).toBe(0);
  });

  it('wakes the joins whose position an event of the same epoch reached, and only those', async () => {
    void wait('at 2', 'room', at(2));
    void wait('at 4', 'room', at(4));
    void wait('other epoch', 'room', at(1, 'e0'));
    void wait('other room', 'lobby', at(1));
    void wait('other gateway', 'room', at(1), 'scheduler');
    expect(waiters.size).toBe(3);

    waiters.wake('chat', { room: at(3) });
    waiters.wake('scheduler', { lobby: at(9) });
    await Promise.resolve();

    expect(woken).toEqual(['at 2']);
    waiters.wake('chat', { room: at(5), lobby: at(1) });
    waiters.wake('scheduler', { room: at(1) });
    await Promise.resolve();
    expect(woken).toEqual(['at 2', 'at 4', 'other room', 'other gateway']);
    expect(waiters.size).toBe(1);
  });

  it('gives up after 2 s, and forgets the waiter', async () => {
    void wait('late', 'room', at(7));
    jest.advanceTimersByTime(1_999);
    await Promise.resolve();
    expect(woken).toEqual([]);

    jest.advanceTimersByTime(1);
    await Promise.resolve();
    expect(woken).toEqual(['late']);
    expect(waiters.size).toBe(0);
  });
});
