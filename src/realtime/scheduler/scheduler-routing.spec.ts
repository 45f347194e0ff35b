import { RealtimeError } from '../core/gateway/index.js';
import { eventId, routeEvent } from './scheduler-routing.js';

const scope = { experimentId: 'e1', taskId: 't1', projectId: 'p1', userId: 'u1', workerId: 'w1' };

describe('scheduler routing (seed 001 "Event Routing")', () => {
  it.each([
    ['experiment_updated', ['experiment:e1', 'project:p1', 'user:u1']],
    ['experiment_progress', ['experiment:e1', 'project:p1', 'user:u1']],
    ['task_failed', ['task:t1', 'experiment:e1', 'project:p1', 'user:u1']],
    ['task_progress', ['task:t1', 'experiment:e1', 'project:p1', 'user:u1']],
    ['worker_offline', ['worker:w1', 'system']],
  ] as const)('routes %s to %j', (type, topics) => {
    expect(routeEvent(type, scope)).toEqual({ everyone: false, topics });
  });

  it('sends system events to every scheduler connection', () => {
    expect(routeEvent('system_status', {})).toEqual({ everyone: true });
  });

  it('leaves out the resources a scope does not name', () => {
    expect(routeEvent('task_created', { taskId: 't9', experimentId: 'e9' })).toEqual({
      everyone: false,
      topics: ['task:t9', 'experiment:e9'],
    });
    expect(routeEvent('experiment_created', { experimentId: 'e9' })).toEqual({
      everyone: false,
      topics: ['experiment:e9'],
    });
  });

  it.each([
    ['experiment_created', { taskId: 't1' }],
    ['task_updated', { experimentId: 'e1' }],
    ['worker_registered', { experimentId: 'e1' }],
  ] as const)('refuses %s without the id its family needs', (type, partial) => {
    expect(() => routeEvent(type, partial)).toThrow(RealtimeError);
  });

  it('builds seed 001 ids from the resource and the unix second, then a suffix unique per event', () => {
    const at = Date.UTC(2024, 0, 15, 10, 30, 0, 999);
    expect(eventId('experiment_created', scope, at)).toMatch(/^exp_e1_1705314600_[0-9a-z]{8,}$/);
    expect(eventId('task_progress', scope, at)).toMatch(/^task_t1_1705314600_[0-9a-z]{8,}$/);
    expect(eventId('worker_updated', scope, at)).toMatch(/^worker_w1_1705314600_[0-9a-z]{8,}$/);
    expect(eventId('system_status', {}, at)).toMatch(/^system_1705314600_[0-9a-z]{8,}$/);
    const ids = Array.from({ length: 1000 }, () => eventId('experiment_progress', scope, at));
    expect(new Set(ids).size).toBe(1000);
  });
});
