import { jest } from '@jest/globals';
import { MemoryTicketStore } from './ticket-store.js';

describe('MemoryTicketStore', () => {
  afterEach(() => jest.useRealTimers());

  it('gives a ticket once, and nothing for an unknown one', async () => {
    const store = new MemoryTicketStore(10);
    expect(await store.put('d1', 'v1', 30_000)).toBe(true);
    expect(await store.take('d1')).toBe('v1');
    expect(await store.take('d1')).toBeUndefined();
    expect(await store.take('unknown')).toBeUndefined();
  });

  it('holds at most its capacity: the next put is refused until one is used or expires', async () => {
    jest.useFakeTimers({ now: 1_000_000 });
    const store = new MemoryTicketStore(3);
    expect(await store.put('a', '1', 1_000)).toBe(true);
    expect(await store.put('b', '2', 5_000)).toBe(true);
    expect(await store.put('c', '3', 5_000)).toBe(true);
    expect(await store.put('d', '4', 5_000)).toBe(false);
    await store.take('b');
    expect(await store.put('d', '4', 5_000)).toBe(true);
    expect(await store.put('e', '5', 5_000)).toBe(false);
    // `a` expires: the next put sweeps it away and takes its place.
    jest.setSystemTime(1_000_000 + 1_001);
    expect(await store.put('e', '5', 5_000)).toBe(true);
    expect(await store.take('a')).toBeUndefined();
  });

  it('does not give an expired ticket', async () => {
    jest.useFakeTimers({ now: 2_000_000 });
    const store = new MemoryTicketStore(3);
    await store.put('a', '1', 30_000);
    jest.setSystemTime(2_000_000 + 30_000);
    expect(await store.take('a')).toBeUndefined();
  });
});
