import { OutboundBudget } from './outbound-budget.js';

describe('OutboundBudget (SPEC §9 slow consumers)', () => {
  const limits = { maxQueueSize: 3, maxQueueBytes: 1000 };

  it('admits anything to a socket with nothing pending, however large', () => {
    const budget = new OutboundBudget(limits);
    expect(budget.admits(0, 5_000_000)).toBe(true);
  });

  it('admits up to exactly maxQueueBytes of backlog, and refuses one byte more', () => {
    const budget = new OutboundBudget(limits);
    expect(budget.admits(600, 400)).toBe(true);
    expect(budget.admits(600, 401)).toBe(false);
  });

  it('counts only messages the kernel did not take: exactly maxQueueSize, then refused', () => {
    const budget = new OutboundBudget(limits);
    for (let i = 0; i < 3; i++) {
      expect(budget.admits(10, 1)).toBe(true);
      budget.written(10);
    }
    expect(budget.queuedMessages).toBe(3);
    expect(budget.admits(10, 1)).toBe(false);
  });

  it('does not count writes the kernel took at once (no false overflow on a synchronous burst)', () => {
    const budget = new OutboundBudget(limits);
    for (let i = 0; i < 100; i++) {
      expect(budget.admits(0, 100)).toBe(true);
      budget.written(0);
    }
    expect(budget.queuedMessages).toBe(0);
  });

  it('does not queue the messages of a corked turn the kernel had no backlog for, but counts their bytes', () => {
    const budget = new OutboundBudget(limits);
    for (let i = 0; i < 10; i++) {
      expect(budget.admits(i * 90, 90, 0)).toBe(true);
      budget.written(0);
    }
    expect(budget.queuedMessages).toBe(0);
    expect(budget.admits(950, 51, 0)).toBe(false);
  });

  it('starts counting afresh once the backlog has drained', () => {
    const budget = new OutboundBudget(limits);
    for (let i = 0; i < 3; i++) budget.written(10);
    expect(budget.admits(10, 1)).toBe(false);
    expect(budget.admits(0, 1)).toBe(true);
    expect(budget.queuedMessages).toBe(0);
  });
});
