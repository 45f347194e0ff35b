import {
  ISO_MS,
  expectEventId,
  isoTimestamp,
  sampleExperiment,
  sampleStatus,
  sampleTask,
  sampleWorker,
  subscribe,
  waitEvents,
} from './support/scheduler-client.js';
import { ADMIN, routingApp } from './support/scheduler-fixtures.js';

/**
 * The scheduler's events as the publisher builds them (seed 001): each type's exact frame, its
 * `data` (the resource as given and its summary, or the progress with `lastUpdated` filled) and its
 * id `<resource>_<unixSeconds>_<suffix>`.
 */

describe('scheduler events and routing (SPEC §4)', () => {
  const { conn, pub } = routingApp();

  describe('event shapes and ids (seed 001)', () => {
    it.each([
      ['experimentCreated', 'experiment_created', 'CREATED'],
      ['experimentUpdated', 'experiment_updated', 'RUNNING'],
      ['experimentCompleted', 'experiment_completed', 'COMPLETED'],
      ['experimentFailed', 'experiment_failed', 'FAILED'],
    ] as const)('%s → %s with the experiment as given and its summary', async (method, type, status) => {
      const client = await conn('/ws/experiments/exp-123', { sub: 'watcher' });
      const experiment = sampleExperiment('exp-123', {
        status,
        description: 'é 🏓 "quoted"',
        parameters: { alpha: 0.5, grid: [1, 2, 3], nested: { ok: true, none: null } },
      });
      const before = Date.now();
      const id = pub[method](experiment);
      const after = Date.now();
      expectEventId(id, 'exp_exp-123', before, after);
      const [frame] = await waitEvents(client, (f) => f.type === type);
      expect(frame).toEqual({
        type,
        id,
        timestamp: expect.stringMatching(ISO_MS),
        data: {
          experiment,
          summary: { id: 'exp-123', name: 'Parameter Sweep exp-123', status, ownerId: 'user-456' },
        },
      });
      expect(Object.keys(frame).sort()).toEqual(['data', 'id', 'timestamp', 'type']);
      expect(Object.keys(frame.data.summary).sort()).toEqual(['id', 'name', 'ownerId', 'status']);
      expect(Date.parse(frame.timestamp)).toBeGreaterThanOrEqual(before - 1);
    });

    it('experimentProgress → experiment_progress with the progress, lastUpdated filled when absent', async () => {
      const client = await conn('/ws/experiments/exp-123', { sub: 'watcher' });
      const progress = {
        experimentId: 'exp-123',
        totalTasks: 100,
        completedTasks: 45,
        failedTasks: 5,
        runningTasks: 10,
        progressPercent: 45.5,
        estimatedTimeRemaining: '1h 30m',
      };
      const before = Date.now();
      const id = pub.experimentProgress(progress, { projectId: 'proj-789', userId: 'user-456' });
      const after = Date.now();
      expectEventId(id, 'exp_exp-123', before, after);
      const [frame] = await waitEvents(client, (f) => f.type === 'experiment_progress');
      expect(frame).toEqual({
        type: 'experiment_progress',
        id,
        timestamp: isoTimestamp(),
        data: { ...progress, lastUpdated: isoTimestamp() },
      });
      expect(Date.parse(frame.data.lastUpdated)).toBeGreaterThanOrEqual(before - 1);
      expect(Date.parse(frame.data.lastUpdated)).toBeLessThanOrEqual(after + 1);

      const given = { ...progress, completedTasks: 46, lastUpdated: '2024-01-15T10:32:00Z' };
      const id2 = pub.experimentProgress(given, {});
      const [, second] = await waitEvents(client, (f) => f.type === 'experiment_progress', 2);
      expect(second).toEqual({ type: 'experiment_progress', id: id2, timestamp: isoTimestamp(), data: given });
    });

    it.each([
      ['taskCreated', 'task_created', sampleTask('task-456'), null],
      [
        'taskUpdated',
        'task_updated',
        sampleTask('task-456', { status: 'RUNNING', workerId: 'worker-789' }),
        'worker-789',
      ],
      [
        'taskCompleted',
        'task_completed',
        sampleTask('task-456', { status: 'COMPLETED', workerId: 'worker-789', exitCode: 0 }),
        'worker-789',
      ],
    ] as const)(
      '%s → %s with the task as given and its summary (workerId null when absent)',
      async (method, type, task, workerId) => {
        const client = await conn('/ws/tasks/task-456', { sub: 'watcher' });
        const before = Date.now();
        const id = pub[method](task, { projectId: 'proj-789', userId: 'user-456' });
        const after = Date.now();
        expectEventId(id, 'task_task-456', before, after);
        const [frame] = await waitEvents(client, (f) => f.type === type);
        expect(frame).toEqual({
          type,
          id,
          timestamp: isoTimestamp(),
          data: { task, summary: { id: 'task-456', experimentId: 'exp-123', status: task.status, workerId } },
        });
        expect(Object.keys(frame.data.summary).sort()).toEqual(['experimentId', 'id', 'status', 'workerId']);
        expect(Object.keys(frame.data.task).sort()).toEqual(Object.keys(task).sort());
      },
    );

    it('taskFailed → task_failed with the error in task and summary', async () => {
      const client = await conn('/ws/tasks/task-456', { sub: 'watcher' });
      const task = sampleTask('task-456', {
        status: 'FAILED',
        workerId: 'worker-789',
        error: 'Script execution failed',
      });
      const before = Date.now();
      const id = pub.taskFailed(task, { projectId: 'proj-789', userId: 'user-456' });
      expectEventId(id, 'task_task-456', before, Date.now());
      const [frame] = await waitEvents(client, (f) => f.type === 'task_failed');
      expect(frame).toEqual({
        type: 'task_failed',
        id,
        timestamp: isoTimestamp(),
        data: {
          task,
          summary: {
            id: 'task-456',
            experimentId: 'exp-123',
            status: 'FAILED',
            workerId: 'worker-789',
            error: 'Script execution failed',
          },
        },
      });
    });

    it('taskProgress → task_progress with the progress, lastUpdated filled when absent', async () => {
      const client = await conn('/ws/tasks/task-456', { sub: 'watcher' });
      const progress = {
        taskId: 'task-456',
        experimentId: 'exp-123',
        status: 'RUNNING',
        progressPercent: 75,
        currentStage: 'RUNNING',
        workerId: 'worker-789',
        startedAt: '2024-01-15T10:31:00Z',
        estimatedCompletion: '2024-01-15T10:35:00Z',
      };
      const before = Date.now();
      const id = pub.taskProgress(progress, { projectId: 'proj-789', userId: 'user-456' });
      const after = Date.now();
      expectEventId(id, 'task_task-456', before, after);
      const [frame] = await waitEvents(client, (f) => f.type === 'task_progress');
      expect(frame).toEqual({
        type: 'task_progress',
        id,
        timestamp: isoTimestamp(),
        data: { ...progress, lastUpdated: isoTimestamp() },
      });
      expect(Date.parse(frame.data.lastUpdated)).toBeGreaterThanOrEqual(before - 1);
      expect(Date.parse(frame.data.lastUpdated)).toBeLessThanOrEqual(after + 1);

      const given = { ...progress, progressPercent: 80, lastUpdated: '2024-01-15T10:32:00Z' };
      const id2 = pub.taskProgress(given, {});
      const [, second] = await waitEvents(client, (f) => f.type === 'task_progress', 2);
      expect(second).toEqual({ type: 'task_progress', id: id2, timestamp: isoTimestamp(), data: given });
    });

    it.each([
      ['workerRegistered', 'worker_registered', sampleWorker('worker-789')],
      ['workerUpdated', 'worker_updated', sampleWorker('worker-789', { currentTaskId: 'task-456' })],
      ['workerOffline', 'worker_offline', sampleWorker('worker-789', { status: 'OFFLINE' })],
    ] as const)('%s → %s with the worker as given and its summary', async (method, type, worker) => {
      const client = await conn('/ws/user', ADMIN);
      await subscribe(client, 'worker', 'worker-789');
      const before = Date.now();
      const id = pub[method](worker);
      const after = Date.now();
      expectEventId(id, 'worker_worker-789', before, after);
      const [frame] = await waitEvents(client, (f) => f.type === type);
      expect(frame).toEqual({
        type,
        id,
        timestamp: isoTimestamp(),
        data: {
          worker,
          summary: {
            id: 'worker-789',
            computeResourceId: 'compute-123',
            experimentId: 'exp-123',
            status: worker.status,
          },
        },
      });
      expect(Object.keys(frame.data.summary).sort()).toEqual(['computeResourceId', 'experimentId', 'id', 'status']);
    });

    it('systemStatus → system_status with id system_<unixSeconds> and the data as given', async () => {
      const client = await conn('/ws/projects/proj-1', { sub: 'watcher' });
      const data = sampleStatus();
      const before = Date.now();
      const id = pub.systemStatus(data);
      expectEventId(id, 'system', before, Date.now());
      const [frame] = await waitEvents(client, (f) => f.type === 'system_status' && f.id === id);
      expect(frame).toEqual({ type: 'system_status', id, timestamp: isoTimestamp(), data });
    });
  });
});
