import type { Frame } from './support/test-client.js';
import {
  events,
  quiet,
  sampleExperiment,
  sampleStatus,
  sampleTask,
  sampleWorker,
  subscribe,
  unsubscribe,
  waitEvents,
} from './support/scheduler-client.js';
import { ADMIN, routingApp } from './support/scheduler-fixtures.js';

/**
 * Scheduler delivery (SPEC §4): an event reaches a connection once however many of its
 * subscriptions match, and a subscriber gets one experiment's events in publish order.
 */

describe('scheduler events and routing (SPEC §4)', () => {
  const { conn, pub } = routingApp();

  describe('exactly once, and in order', () => {
    it('delivers a task event once to a connection whose task, experiment, project and user subscriptions all match', async () => {
      const client = await conn('/ws/tasks/t1', { sub: 'owner-x' });
      await subscribe(client, 'experiment', 'e1');
      await subscribe(client, 'experiment', 'e1'); // twice: still one subscription
      await subscribe(client, 'project', 'p1');
      await subscribe(client, 'user', undefined, 'owner-x');
      await subscribe(client, 'task', 't1'); // its path resource again
      const sameUserTab = await conn('/ws/experiments/e1', { sub: 'owner-x' });
      await subscribe(sameUserTab, 'project', 'p1');

      const scope = { projectId: 'p1', userId: 'owner-x' };
      const ids = [
        pub.taskCreated(sampleTask('t1', { experimentId: 'e1' }), scope),
        pub.taskProgress(
          {
            taskId: 't1',
            experimentId: 'e1',
            status: 'RUNNING',
            progressPercent: 10,
            currentStage: 'RUNNING',
            workerId: 'w1',
            startedAt: '2024-01-15T10:31:00Z',
            estimatedCompletion: '2024-01-15T10:35:00Z',
          },
          scope,
        ),
        pub.experimentUpdated(sampleExperiment('e1', { projectId: 'p1', ownerId: 'owner-x' })),
        pub.experimentProgress(
          {
            experimentId: 'e1',
            totalTasks: 1,
            completedTasks: 0,
            failedTasks: 0,
            runningTasks: 1,
            progressPercent: 0,
            estimatedTimeRemaining: '1m',
          },
          scope,
        ),
        pub.systemStatus(sampleStatus()),
      ];
      await waitEvents(client, (f) => f.type === 'system_status', 1);
      await waitEvents(sameUserTab, (f) => f.type === 'system_status', 1);
      await quiet([client, sameUserTab], 200);
      const expected = ['task_created', 'task_progress', 'experiment_updated', 'experiment_progress', 'system_status'];
      expect(events(client).map((f) => f.type)).toEqual(expected);
      expect(events(client).map((f) => f.id)).toEqual(ids);
      expect(events(sameUserTab).map((f) => f.type)).toEqual(expected);
    });

    it('delivers a worker event once to an admin subscribed to both the worker and system, and after unsubscribing one of them', async () => {
      const admin = await conn('/ws/user', ADMIN);
      await subscribe(admin, 'worker', 'w1');
      await subscribe(admin, 'system');
      pub.workerUpdated(sampleWorker('w1'));
      await waitEvents(admin, (f) => f.type === 'worker_updated');
      await unsubscribe(admin, 'worker', 'w1');
      pub.workerOffline(sampleWorker('w1', { status: 'OFFLINE' }));
      await waitEvents(admin, (f) => f.type === 'worker_offline');
      await unsubscribe(admin, 'system');
      pub.workerOffline(sampleWorker('w1', { status: 'OFFLINE' }));
      pub.systemStatus(sampleStatus());
      await waitEvents(admin, (f) => f.type === 'system_status');
      await quiet([admin]);
      expect(events(admin).map((f) => f.type)).toEqual(['worker_updated', 'worker_offline', 'system_status']);
    });

    it('delivers 1,000 events of one experiment to a subscriber in publish order, none missing, none doubled', async () => {
      const byPath = await conn('/ws/experiments/e-order', { sub: 'orderly' });
      const byProject = await conn('/ws/projects/p-order', { sub: 'orderly-2' });
      const both = await conn('/ws/experiments/e-order', { sub: 'orderly-3' });
      await subscribe(both, 'project', 'p-order');
      const ids: string[] = [];
      for (let i = 0; i < 1000; i++) {
        ids.push(
          pub.experimentProgress(
            {
              experimentId: 'e-order',
              totalTasks: 1000,
              completedTasks: i,
              failedTasks: 0,
              runningTasks: 1,
              progressPercent: i / 10,
              estimatedTimeRemaining: `${1000 - i}s`,
            },
            { projectId: 'p-order' },
          ),
        );
      }
      for (const client of [byPath, byProject, both]) {
        await waitEvents(client, (f) => f.type === 'experiment_progress', 1000, 20_000);
      }
      await quiet([byPath, byProject, both]);
      const expected = Array.from({ length: 1000 }, (_, i) => i);
      for (const client of [byPath, byProject, both]) {
        const got = events(client);
        expect(got).toHaveLength(1000);
        expect(got.map((f) => f.data.completedTasks)).toEqual(expected);
        expect(got.map((f) => f.id)).toEqual(ids);
      }
    });

    it('keeps the publish order of an experiment’s events when they come from different tasks', async () => {
      const client = await conn('/ws/experiments/e-mixed', { sub: 'mixed' });
      const sent: string[] = [];
      for (let i = 0; i < 300; i++) {
        const taskId = `t-${i % 3}`;
        if (i % 5 === 0) {
          pub.experimentUpdated(sampleExperiment('e-mixed', { status: `S${i}` }));
          sent.push(`experiment_updated:S${i}`);
        } else {
          pub.taskUpdated(sampleTask(taskId, { experimentId: 'e-mixed', status: `S${i}` }), {});
          sent.push(`task_updated:S${i}`);
        }
      }
      await waitEvents(client, () => true, 300, 10_000);
      await quiet([client]);
      const status = (f: Frame): string => `${f.type}:${(f.data.experiment ?? f.data.task).status}`;
      expect(events(client).map(status)).toEqual(sent);
    });
  });
});
