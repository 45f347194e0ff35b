import { SchedulerPublisher } from '../src/realtime/index.js';
import { TestClient, sleep, type Frame } from './support/test-client.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';
import { hsToken, type Claims } from './support/tokens.js';
import {
  FORBIDDEN,
  ISO_MS,
  errorFrame,
  events,
  expectEventId,
  idPattern,
  isoTimestamp,
  openScheduler,
  quiet,
  reply,
  sampleExperiment,
  sampleTask,
  sampleWorker,
  subscribe,
  subscribeMessage,
  unsubscribe,
  waitEvents,
} from './support/scheduler-client.js';

/**
 * Scheduler events (seed 001 shapes and ids) and their routing (SPEC §4 "Routing"): every row of
 * the routing table with the subscribers that must get the event and those that must not,
 * exactly-once delivery with overlapping subscriptions, order, `POST /ws/publish` and the admin view.
 */

const ADMIN: Claims = { sub: 'root', roles: ['admin'] };

describe('scheduler events and routing (SPEC §4)', () => {
  let t: TestApp;
  let pub: SchedulerPublisher;
  const open: TestClient[] = [];

  beforeAll(async () => {
    t = await startTestApp({
      rateLimitPerSec: 1000,
      scheduler: { maxConnectionsPerUser: 1000, maxConnectionsPerIp: 1000, maxConnections: 1000 },
    });
    pub = t.app.get(SchedulerPublisher);
  });
  afterEach(() => open.splice(0).forEach((client) => client.close()));
  afterAll(() => t.close());

  const conn = async (path: string, claims: Claims): Promise<TestClient> => {
    const client = await openScheduler(t, path, claims);
    open.push(client);
    return client;
  };

  /** Waits for `id` on every receiver, then checks after a quiet wait: once each, and nothing anywhere else. */
  async function expectRouted(
    id: string,
    type: string,
    receivers: Record<string, TestClient>,
    negatives: Record<string, TestClient>,
  ): Promise<Frame> {
    expect(typeof id).toBe('string');
    for (const [name, client] of Object.entries(receivers)) {
      await waitEvents(client, (f) => f.type === type && f.id === id).catch((error: Error) => {
        throw new Error(`receiver ${name}: ${error.message}`);
      });
    }
    await quiet([...Object.values(receivers), ...Object.values(negatives)]);
    const got = (clients: Record<string, TestClient>) =>
      Object.fromEntries(Object.entries(clients).map(([name, client]) => [name, events(client).map((f) => f.type)]));
    expect(got(receivers)).toEqual(Object.fromEntries(Object.keys(receivers).map((name) => [name, [type]])));
    expect(got(negatives)).toEqual(Object.fromEntries(Object.keys(negatives).map((name) => [name, []])));
    const frames = Object.values(receivers).map((client) => events(client)[0]);
    for (const frame of frames) expect(frame).toEqual(frames[0]);
    return frames[0];
  }

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
      const data = {
        totalConnections: 150,
        activeConnections: 120,
        totalMessages: 15420,
        messagesPerSecond: 25.5,
        averageLatency: '0.05s',
        uptime: '2h 30m 15s',
      };
      const before = Date.now();
      const id = pub.systemStatus(data);
      expectEventId(id, 'system', before, Date.now());
      const [frame] = await waitEvents(client, (f) => f.type === 'system_status' && f.id === id);
      expect(frame).toEqual({ type: 'system_status', id, timestamp: isoTimestamp(), data });
    });
  });

  describe('routing table', () => {
    const OWNER = 'owner-1';

    it.each([
      ['experimentCreated', 'experiment_created'],
      ['experimentUpdated', 'experiment_updated'],
      ['experimentCompleted', 'experiment_completed'],
      ['experimentFailed', 'experiment_failed'],
    ] as const)(
      'experiment event (%s) → experiment, project and owner subscribers; nobody else',
      async (method, type) => {
        const receivers = {
          experimentPath: await conn('/ws/experiments/e1', { sub: 'viewer' }),
          projectPath: await conn('/ws/projects/p1', { sub: 'viewer' }),
          ownerPath: await conn('/ws/user', { sub: OWNER }),
          experimentSubscribed: await conn('/ws/user', { sub: 'viewer-2' }),
          projectSubscribed: await conn('/ws/tasks/t-other', { sub: 'viewer-3' }),
          admin: await conn('/ws/user', ADMIN),
        };
        await subscribe(receivers.experimentSubscribed, 'experiment', 'e1');
        await subscribe(receivers.projectSubscribed, 'project', 'p1');
        await subscribe(receivers.admin, 'user', OWNER);

        const negatives = {
          otherExperimentOfOwner: await conn('/ws/experiments/e2', { sub: OWNER }),
          otherProjectOfOwner: await conn('/ws/projects/p2', { sub: OWNER }),
          otherUser: await conn('/ws/user', { sub: 'someone-else' }),
          taskOfTheExperiment: await conn('/ws/tasks/t1', { sub: OWNER }),
          workerAndSystem: await conn('/ws/user', { sub: 'root-2', roles: ['admin'] }),
          unsubscribed: await conn('/ws/experiments/e1', { sub: 'viewer-4' }),
          refused: await conn('/ws/projects/p9', { sub: 'acl-user', acl: ['project:p9'] }),
          prefixLookalike: await conn('/ws/experiments/e1-x', { sub: 'viewer-5' }),
        };
        await subscribe(negatives.workerAndSystem, 'worker', 'w1');
        await subscribe(negatives.workerAndSystem, 'system');
        await unsubscribe(negatives.unsubscribed, 'experiment', 'e1');
        expect(await reply(negatives.refused, subscribeMessage('subscribe', 'experiment', 'e1'))).toEqual(
          errorFrame(FORBIDDEN),
        );
        expect(await reply(negatives.refused, subscribeMessage('subscribe', 'project', 'p1'))).toEqual(
          errorFrame(FORBIDDEN),
        );

        const experiment = sampleExperiment('e1', { projectId: 'p1', ownerId: OWNER });
        const id = pub[method](experiment);
        const frame = await expectRouted(id, type, receivers, negatives);
        expect(frame.data.experiment).toEqual(experiment);
      },
    );

    it('experiment_progress → experiment, project and user of the scope; nobody else', async () => {
      const receivers = {
        experimentPath: await conn('/ws/experiments/e1', { sub: 'viewer' }),
        projectPath: await conn('/ws/projects/p1', { sub: 'viewer' }),
        ownerPath: await conn('/ws/user', { sub: OWNER }),
      };
      const negatives = {
        otherExperimentOfOwner: await conn('/ws/experiments/e2', { sub: OWNER }),
        otherProject: await conn('/ws/projects/p2', { sub: OWNER }),
        otherUser: await conn('/ws/user', { sub: 'someone-else' }),
        taskOfTheExperiment: await conn('/ws/tasks/t1', { sub: OWNER }),
        system: await conn('/ws/user', ADMIN),
      };
      await subscribe(negatives.system, 'system');
      const progress = {
        experimentId: 'e1',
        totalTasks: 10,
        completedTasks: 3,
        failedTasks: 0,
        runningTasks: 2,
        progressPercent: 30,
        estimatedTimeRemaining: '5m',
        lastUpdated: '2024-01-15T10:32:00Z',
      };
      const id = pub.experimentProgress(progress, { projectId: 'p1', userId: OWNER });
      const frame = await expectRouted(id, 'experiment_progress', receivers, negatives);
      expect(frame.data).toEqual(progress);
    });

    const taskRows = [
      ['taskCreated', 'task_created'],
      ['taskUpdated', 'task_updated'],
      ['taskCompleted', 'task_completed'],
      ['taskFailed', 'task_failed'],
      ['taskProgress', 'task_progress'],
    ] as const;

    it.each(taskRows)(
      'task event (%s) → task, experiment, project and owner subscribers; nobody else',
      async (method, type) => {
        const receivers = {
          taskPath: await conn('/ws/tasks/t1', { sub: 'viewer' }),
          experimentPath: await conn('/ws/experiments/e1', { sub: 'viewer' }),
          projectPath: await conn('/ws/projects/p1', { sub: 'viewer' }),
          ownerPath: await conn('/ws/user', { sub: OWNER }),
          taskSubscribed: await conn('/ws/user', { sub: 'viewer-2' }),
          experimentSubscribed: await conn('/ws/projects/p-x', { sub: 'viewer-3' }),
        };
        await subscribe(receivers.taskSubscribed, 'task', 't1');
        await subscribe(receivers.experimentSubscribed, 'experiment', 'e1');
        const negatives = {
          otherTaskOfOwner: await conn('/ws/tasks/t2', { sub: OWNER }),
          otherExperimentOfOwner: await conn('/ws/experiments/e2', { sub: OWNER }),
          otherProjectOfOwner: await conn('/ws/projects/p2', { sub: OWNER }),
          otherUser: await conn('/ws/user', { sub: 'someone-else' }),
          workerAndSystem: await conn('/ws/user', ADMIN),
          unsubscribed: await conn('/ws/tasks/t1', { sub: 'viewer-4' }),
          refused: await conn('/ws/user', { sub: 'acl-user', acl: ['project:p9'] }),
        };
        await subscribe(negatives.workerAndSystem, 'worker', 'w1');
        await subscribe(negatives.workerAndSystem, 'system');
        await unsubscribe(negatives.unsubscribed, 'task', 't1');
        for (const [type_, id_] of [
          ['task', 't1'],
          ['experiment', 'e1'],
          ['project', 'p1'],
        ]) {
          expect(await reply(negatives.refused, subscribeMessage('subscribe', type_, id_))).toEqual(
            errorFrame(FORBIDDEN),
          );
        }

        const scope = { projectId: 'p1', userId: OWNER };
        const task = sampleTask('t1', { experimentId: 'e1', workerId: 'w1', status: 'RUNNING', error: 'boom' });
        const id =
          method === 'taskProgress'
            ? pub.taskProgress(
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
              )
            : pub[method](task, scope);
        expect(id).toEqual(idPattern('task_t1'));
        await expectRouted(id, type, receivers, negatives);
      },
    );

    it.each([
      ['workerRegistered', 'worker_registered'],
      ['workerUpdated', 'worker_updated'],
      ['workerOffline', 'worker_offline'],
    ] as const)('worker event (%s) → worker and system subscribers only', async (method, type) => {
      const receivers = {
        adminWorker: await conn('/ws/user', ADMIN),
        adminSystem: await conn('/ws/experiments/e1', { sub: 'root-2', roles: ['admin'] }),
        aclWorker: await conn('/ws/user', { sub: 'ops', acl: ['worker:*'] }),
        aclSystem: await conn('/ws/user', { sub: 'ops-2', acl: ['system'] }),
      };
      await subscribe(receivers.adminWorker, 'worker', 'w1');
      await subscribe(receivers.adminSystem, 'system');
      await subscribe(receivers.aclWorker, 'worker', 'w1');
      await subscribe(receivers.aclSystem, 'system', 'system');
      const negatives = {
        experimentOfTheWorker: await conn('/ws/experiments/e1', { sub: OWNER }),
        taskOfTheWorker: await conn('/ws/tasks/t1', { sub: OWNER }),
        project: await conn('/ws/projects/p1', { sub: OWNER }),
        owner: await conn('/ws/user', { sub: OWNER }),
        otherWorker: await conn('/ws/user', { sub: 'root-3', roles: ['admin'] }),
        adminNotSubscribed: await conn('/ws/user', { sub: 'root-4', roles: ['admin'] }),
        unsubscribedWorker: await conn('/ws/user', { sub: 'root-5', roles: ['admin'] }),
        refusedNonAdmin: await conn('/ws/user', { sub: 'plain' }),
      };
      await subscribe(negatives.otherWorker, 'worker', 'w2');
      await subscribe(negatives.unsubscribedWorker, 'worker', 'w1');
      await unsubscribe(negatives.unsubscribedWorker, 'worker', 'w1');
      expect(await reply(negatives.refusedNonAdmin, subscribeMessage('subscribe', 'worker', 'w1'))).toEqual(
        errorFrame(FORBIDDEN),
      );
      expect(await reply(negatives.refusedNonAdmin, subscribeMessage('subscribe', 'system'))).toEqual(
        errorFrame(FORBIDDEN),
      );

      const worker = sampleWorker('w1', { experimentId: 'e1', currentTaskId: 't1' });
      const id = pub[method](worker);
      expect(id).toEqual(idPattern('worker_w1'));
      const frame = await expectRouted(id, type, receivers, negatives);
      expect(frame.data.worker).toEqual(worker);
    });

    it('system event → every scheduler connection, subscribed to anything or not, but no chat connection', async () => {
      const receivers = {
        experiment: await conn('/ws/experiments/e1', { sub: 'a' }),
        task: await conn('/ws/tasks/t1', { sub: 'b' }),
        project: await conn('/ws/projects/p1', { sub: 'c' }),
        user: await conn('/ws/user', { sub: 'd' }),
        systemSubscriber: await conn('/ws/user', ADMIN),
        workerSubscriber: await conn('/ws/user', { sub: 'root-2', roles: ['admin'] }),
        subscribedToNothing: await conn('/ws/experiments/e9', { sub: 'e' }),
        acl: await conn('/ws/projects/p1', { sub: 'f', acl: ['project:p1'] }),
      };
      await subscribe(receivers.systemSubscriber, 'system');
      await subscribe(receivers.workerSubscriber, 'worker', 'w1');
      await unsubscribe(receivers.subscribedToNothing, 'experiment', 'e9');
      const chat = await t.chat({ sub: 'chatter' });
      chat.send({ type: 'join_room', room: 'project:1' });
      await chat.nextOfType('room_joined');

      const data = { healthy: true, workers: 3 };
      const id = pub.systemStatus(data);
      expect(id).toEqual(idPattern('system'));
      const frame = await expectRouted(id, 'system_status', receivers, {});
      expect(frame).toEqual({ type: 'system_status', id, timestamp: isoTimestamp(), data });

      chat.send({ type: 'ping' });
      await chat.nextOfType('pong');
      await sleep(100);
      expect(chat.frames.map((f) => f.type)).toEqual(['connected', 'room_joined', 'pong']);
      chat.close();
    });

    describe('the generic publish(type, data, scope)', () => {
      it('routes experiment_* by the scope: experiment, project, user', async () => {
        const receivers = {
          experiment: await conn('/ws/experiments/e1', { sub: 'viewer' }),
          project: await conn('/ws/projects/p1', { sub: 'viewer' }),
          user: await conn('/ws/user', { sub: OWNER }),
        };
        const negatives = {
          otherExperiment: await conn('/ws/experiments/e2', { sub: OWNER }),
          task: await conn('/ws/tasks/t1', { sub: OWNER }),
          otherUser: await conn('/ws/user', { sub: 'someone-else' }),
        };
        const data = {
          experiment: sampleExperiment('e1', { projectId: 'p1', ownerId: OWNER, status: 'RUNNING' }),
          summary: { id: 'e1', name: 'Parameter Sweep e1', status: 'RUNNING', ownerId: OWNER },
        };
        const id = pub.publish('experiment_updated', data, { experimentId: 'e1', projectId: 'p1', userId: OWNER });
        expect(id).toEqual(idPattern('exp_e1'));
        const frame = await expectRouted(id, 'experiment_updated', receivers, negatives);
        expect(frame).toEqual({ type: 'experiment_updated', id, timestamp: isoTimestamp(), data });
      });

      it('routes task_* by the scope: task, experiment, project, user', async () => {
        const receivers = {
          task: await conn('/ws/tasks/t1', { sub: 'viewer' }),
          experiment: await conn('/ws/experiments/e1', { sub: 'viewer' }),
          project: await conn('/ws/projects/p1', { sub: 'viewer' }),
          user: await conn('/ws/user', { sub: OWNER }),
        };
        const negatives = {
          otherTask: await conn('/ws/tasks/t2', { sub: OWNER }),
          otherExperiment: await conn('/ws/experiments/e2', { sub: OWNER }),
          system: await conn('/ws/user', ADMIN),
        };
        await subscribe(negatives.system, 'system');
        const data = { taskId: 't1', experimentId: 'e1', status: 'RUNNING', progressPercent: 50 };
        const id = pub.publish('task_progress', data, {
          taskId: 't1',
          experimentId: 'e1',
          projectId: 'p1',
          userId: OWNER,
        });
        expect(id).toEqual(idPattern('task_t1'));
        const frame = await expectRouted(id, 'task_progress', receivers, negatives);
        expect(frame).toEqual({ type: 'task_progress', id, timestamp: isoTimestamp(), data });
      });

      it('routes worker_* to worker and system subscribers, not to the experiment', async () => {
        const receivers = {
          worker: await conn('/ws/user', ADMIN),
          system: await conn('/ws/user', { ...ADMIN, sub: 'r2' }),
        };
        await subscribe(receivers.worker, 'worker', 'w1');
        await subscribe(receivers.system, 'system');
        const negatives = {
          experiment: await conn('/ws/experiments/e1', { sub: OWNER }),
          otherWorker: await conn('/ws/user', { ...ADMIN, sub: 'r3' }),
        };
        await subscribe(negatives.otherWorker, 'worker', 'w2');
        const data = { worker: sampleWorker('w1', { experimentId: 'e1' }) };
        const id = pub.publish('worker_updated', data, { workerId: 'w1', experimentId: 'e1' });
        expect(id).toEqual(idPattern('worker_w1'));
        await expectRouted(id, 'worker_updated', receivers, negatives);
      });

      it('routes system_status to every scheduler connection', async () => {
        const receivers = {
          experiment: await conn('/ws/experiments/e1', { sub: 'a' }),
          user: await conn('/ws/user', { sub: 'b' }),
        };
        const id = pub.publish('system_status', { note: 'maintenance' }, {});
        expect(id).toEqual(idPattern('system'));
        await expectRouted(id, 'system_status', receivers, {});
      });
    });
  });

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
        pub.systemStatus({ sentinel: true }),
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
      pub.systemStatus({ sentinel: true });
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

  describe('POST /ws/publish', () => {
    it('publishes an experiment event with "gateway":"scheduler" and answers with its id', async () => {
      const receivers = {
        experiment: await conn('/ws/experiments/e-rest', { sub: 'viewer' }),
        project: await conn('/ws/projects/p-rest', { sub: 'viewer' }),
        user: await conn('/ws/user', { sub: 'u-rest' }),
      };
      const negatives = {
        otherExperiment: await conn('/ws/experiments/e-rest-2', { sub: 'u-rest' }),
        task: await conn('/ws/tasks/t-rest', { sub: 'u-rest' }),
      };
      const data = {
        experiment: sampleExperiment('e-rest', { projectId: 'p-rest', ownerId: 'u-rest' }),
        summary: { id: 'e-rest', name: 'Parameter Sweep e-rest', status: 'CREATED', ownerId: 'u-rest' },
      };
      const before = Date.now();
      const response = await t.http('POST', '/ws/publish', {
        token: ADMIN_TOKEN,
        body: {
          gateway: 'scheduler',
          type: 'experiment_created',
          data,
          scope: { experimentId: 'e-rest', projectId: 'p-rest', userId: 'u-rest' },
        },
      });
      expect(response).toEqual({
        status: 200,
        body: { published: true, gateway: 'scheduler', type: 'experiment_created', id: idPattern('exp_e-rest') },
      });
      expectEventId(response.body.id, 'exp_e-rest', before, Date.now());
      const frame = await expectRouted(response.body.id, 'experiment_created', receivers, negatives);
      expect(frame).toEqual({ type: 'experiment_created', id: response.body.id, timestamp: isoTimestamp(), data });
    });

    it('publishes a task event without a "gateway" field, with an admin JWT', async () => {
      const receivers = {
        task: await conn('/ws/tasks/t-rest', { sub: 'viewer' }),
        experiment: await conn('/ws/experiments/e-rest', { sub: 'viewer' }),
      };
      const negatives = { otherTask: await conn('/ws/tasks/t-rest-2', { sub: 'viewer' }) };
      const data = { task: sampleTask('t-rest', { experimentId: 'e-rest', status: 'COMPLETED' }) };
      const response = await t.http('POST', '/ws/publish', {
        token: hsToken({ sub: 'svc', roles: ['admin'] }),
        body: { type: 'task_completed', data, scope: { taskId: 't-rest', experimentId: 'e-rest' } },
      });
      expect(response).toEqual({
        status: 200,
        body: { published: true, gateway: 'scheduler', type: 'task_completed', id: idPattern('task_t-rest') },
      });
      const frame = await expectRouted(response.body.id, 'task_completed', receivers, negatives);
      expect(frame.data).toEqual(data);
    });

    it('publishes worker and system events', async () => {
      const admin = await conn('/ws/user', ADMIN);
      await subscribe(admin, 'worker', 'w-rest');
      const experiment = await conn('/ws/experiments/e-rest', { sub: 'viewer' });
      const worker = await t.http('POST', '/ws/publish', {
        token: ADMIN_TOKEN,
        body: {
          gateway: 'scheduler',
          type: 'worker_offline',
          data: { worker: { id: 'w-rest' } },
          scope: { workerId: 'w-rest', experimentId: 'e-rest' },
        },
      });
      expect(worker).toEqual({
        status: 200,
        body: { published: true, gateway: 'scheduler', type: 'worker_offline', id: idPattern('worker_w-rest') },
      });
      const system = await t.http('POST', '/ws/publish', {
        token: ADMIN_TOKEN,
        body: { gateway: 'scheduler', type: 'system_status', data: { maintenance: true }, scope: {} },
      });
      expect(system).toEqual({
        status: 200,
        body: { published: true, gateway: 'scheduler', type: 'system_status', id: idPattern('system') },
      });
      await waitEvents(admin, (f) => f.id === system.body.id);
      await waitEvents(experiment, (f) => f.id === system.body.id);
      await quiet([admin, experiment]);
      expect(events(admin).map((f) => f.type)).toEqual(['worker_offline', 'system_status']);
      expect(events(experiment)).toEqual([
        { type: 'system_status', id: system.body.id, timestamp: isoTimestamp(), data: { maintenance: true } },
      ]);
    });

    const good = { gateway: 'scheduler', type: 'experiment_updated', data: { x: 1 }, scope: { experimentId: 'e-bad' } };
    it.each([
      ['an unknown type', { ...good, type: 'experiment_exploded' }],
      ['a chat event type', { ...good, type: 'message' }],
      ['a missing type', { gateway: 'scheduler', data: { x: 1 }, scope: { experimentId: 'e-bad' } }],
      ['string data', { ...good, data: 'x' }],
      ['numeric data', { ...good, data: 5 }],
      ['array data', { ...good, data: [1] }],
      ['a string scope', { ...good, scope: 'e-bad' }],
      ['an array scope', { ...good, scope: ['e-bad'] }],
      ['no scope for an experiment event', { gateway: 'scheduler', type: 'experiment_updated', data: { x: 1 } }],
      ['an experiment event without experimentId', { ...good, scope: { projectId: 'p1' } }],
      ['a task event without taskId', { ...good, type: 'task_updated', scope: { experimentId: 'e-bad' } }],
      ['a worker event without workerId', { ...good, type: 'worker_updated', scope: { experimentId: 'e-bad' } }],
      ['a numeric experimentId', { ...good, scope: { experimentId: 5 } }],
      ['a numeric projectId', { ...good, scope: { experimentId: 'e-bad', projectId: 7 } }],
      ['an object userId', { ...good, scope: { experimentId: 'e-bad', userId: { id: 'u' } } }],
      ['an unknown field', { ...good, extra: true }],
    ])('answers %s with 400 and a message, and publishes nothing', async (_name, body) => {
      const watcher = await conn('/ws/experiments/e-bad', { sub: 'watcher' });
      const tasks = await conn('/ws/tasks/e-bad', { sub: 'watcher' });
      const response = await t.http('POST', '/ws/publish', { token: ADMIN_TOKEN, body });
      expect(response.status).toBe(400);
      expect(response.body.message).toBeDefined();
      await quiet([watcher, tasks]);
      expect(events(watcher)).toEqual([]);
      expect(events(tasks)).toEqual([]);
    });

    it('answers 401 without credentials and 403 for a non-admin JWT', async () => {
      const watcher = await conn('/ws/experiments/e-auth', { sub: 'watcher' });
      const body = { gateway: 'scheduler', type: 'experiment_updated', data: {}, scope: { experimentId: 'e-auth' } };
      expect((await t.http('POST', '/ws/publish', { body })).status).toBe(401);
      expect((await t.http('POST', '/ws/publish', { token: 'wrong', body })).status).toBe(401);
      expect((await t.http('POST', '/ws/publish', { token: hsToken({ sub: 'joe' }), body })).status).toBe(403);
      await quiet([watcher]);
      expect(events(watcher)).toEqual([]);
    });
  });

  describe('admin views', () => {
    it('lists scheduler connections with their subscriptions as <type>:<id> rooms', async () => {
      const viewer = await conn('/ws/experiments/exp-v', { sub: 'viewer-a' });
      await subscribe(viewer, 'project', 'p-v');
      await subscribe(viewer, 'task', 't-v');
      await unsubscribe(viewer, 'task', 't-v');
      await subscribe(viewer, 'experiment', 'exp-v'); // already subscribed
      const admin = await conn('/ws/user', { sub: 'root-v', roles: ['admin'] });
      await subscribe(admin, 'system');
      await subscribe(admin, 'worker', 'w-v');
      await conn('/ws/user', { sub: 'viewer-b' });
      const chat = await t.chat({ sub: 'viewer-a' });

      const list = async (user: string) =>
        (await t.http('GET', `/ws/clients?gateway=scheduler&user=${user}`, { token: ADMIN_TOKEN })).body;
      const a = await list('viewer-a');
      expect(a.total).toBe(1);
      expect(a.clients[0]).toMatchObject({ gateway: 'scheduler', user_id: 'viewer-a', ip: '127.0.0.1' });
      expect([...a.clients[0].rooms].sort()).toEqual(['experiment:exp-v', 'project:p-v']);
      const r = await list('root-v');
      expect([...r.clients[0].rooms].sort()).toEqual(['system', 'user:root-v', 'worker:w-v']);
      const b = await list('viewer-b');
      expect(b.clients.map((c: any) => c.rooms)).toEqual([['user:viewer-b']]);
      const chats = (await t.http('GET', '/ws/clients?gateway=chat&user=viewer-a', { token: ADMIN_TOKEN })).body;
      expect(chats.total).toBe(1);
      chat.close();
    });
  });
});
