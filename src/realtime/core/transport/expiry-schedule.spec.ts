import { jest } from '@jest/globals';
import { ExpirySchedule } from './expiry-schedule.js';

describe('ExpirySchedule', () => {
  let expired: string[];
  let schedule: ExpirySchedule<string>;

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    expired = [];
    schedule = new ExpirySchedule((item) => expired.push(item));
  });

  afterEach(() => jest.useRealTimers());

  it('expires each item once its time has come, items of one time together', () => {
    schedule.add('a', 1_002_000);
    schedule.add('b', 1_002_000);
    schedule.add('c', 1_005_000);
    jest.advanceTimersByTime(1_999);
    expect(expired).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(expired).toEqual(['a', 'b']);
    jest.advanceTimersByTime(3_000);
    expect(expired).toEqual(['a', 'b', 'c']);
    jest.advanceTimersByTime(60_000);
    expect(expired).toEqual(['a', 'b', 'c']);
  });

  it('never expires a deleted item, and drops the timer of a time left empty', () => {
    schedule.add('a', 1_002_000);
    schedule.add('b', 1_002_000);
    schedule.add('c', 1_003_000);
    schedule.delete('a', 1_002_000);
    schedule.delete('c', 1_003_000);
    expect(jest.getTimerCount()).toBe(1);
    jest.advanceTimersByTime(10_000);
    expect(expired).toEqual(['b']);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('expires a time already past at once', () => {
    schedule.add('late', 999_000);
    jest.advanceTimersByTime(0);
    expect(expired).toEqual(['late']);
  });

  it('waits past the longest timer (24.8 days) without expiring early', () => {
    const in30Days = 1_000_000 + 30 * 86_400_000;
    schedule.add('long', in30Days);
    jest.advanceTimersByTime(2 ** 31 - 1);
    expect(expired).toEqual([]);
    jest.advanceTimersByTime(in30Days - 1_000_000 - (2 ** 31 - 1));
    expect(expired).toEqual(['long']);
  });

  it('clear cancels every timer', () => {
    schedule.add('a', 1_002_000);
    schedule.clear();
    jest.advanceTimersByTime(10_000);
    expect(expired).toEqual([]);
    expect(jest.getTimerCount()).toBe(0);
  });
});
