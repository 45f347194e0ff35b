import type { EventScope, SchedulerEventType, SchedulerPublisher } from '../src/realtime/index.js';
import { sleep } from './support/test-client.js';
import { isoTimestamp, sampleExperiment, sampleStatus, sampleTask, sampleWorker } from './support/scheduler-client.js';
import {
  ADMIN,
  at,
  expectRoutingCase,
  refuse,
  routingApp,
  sub,
  unsub,
  type Audience,
  type RoutingCase,
} from './support/scheduler-fixtures.js';

/**
 * The scheduler's routing table (SPEC §4 "Routing"), one row a case: who gets the event (once,
 * the exact frame) and who must not (checked after a ping round trip on every connection, see
 * `expectRouted`), for the publisher's typed methods and for the generic `publish(type, data, scope)`.
 */

const OWNER = 'owner-1';

/** A case published with one of the publisher's methods. */
type PublisherCase = RoutingCase & { publish: (pub: SchedulerPublisher) => string };

// ---------------------------------------------------------------------------------------------
// Experiment events: experiment e1 of project p1, owned by OWNER
// ---------------------------------------------------------------------------------------------

const experimentAudience: Audience = {
  receivers: {
    experimentPath: at('/ws/experiments/e1', { sub: 'viewer' }),
    projectPath: at('/ws/projects/p1', { sub: 'viewer' }),
    ownerPath: at('/ws/user', { sub: OWNER }),
    experimentSubscribed: at('/ws/user', { sub: 'viewer-2' }, sub('experiment', 'e1')),
    projectSubscribed: at('/ws/tasks/t-other', { sub: 'viewer-3' }, sub('project', 'p1')),
    admin: at('/ws/user', ADMIN, sub('user', OWNER)),
  },
  negatives: {
    otherExperimentOfOwner: at('/ws/experiments/e2', { sub: OWNER }),
    otherProjectOfOwner: at('/ws/projects/p2', { sub: OWNER }),
    otherUser: at('/ws/user', { sub: 'someone-else' }),
    taskOfTheExperiment: at('/ws/tasks/t1', { sub: OWNER }),
    workerAndSystem: at('/ws/user', { sub: 'root-2', roles: ['admin'] }, sub('worker', 'w1'), sub('system')),
    unsubscribed: at('/ws/experiments/e1', { sub: 'viewer-4' }, unsub('experiment', 'e1')),
    refused: at(
      '/ws/projects/p9',
      { sub: 'acl-user', acl: ['project:p9'] },
      refuse('experiment', 'e1'),
      refuse('project', 'p1'),
    ),
    prefixLookalike: at('/ws/experiments/e1-x', { sub: 'viewer-5' }),
  },
};

const experiment = sampleExperiment('e1', { projectId: 'p1', ownerId: OWNER });

const experimentRows = (
  [
    ['experimentCreated', 'experiment_created'],
    ['experimentUpdated', 'experiment_updated'],
    ['experimentCompleted', 'experiment_completed'],
    ['experimentFailed', 'experiment_failed'],
  ] as const
).map(([method, type]): PublisherCase => ({
  name: `experiment event (${method}) → experiment, project and owner subscribers; nobody else`,
  ...experimentAudience,
  type,
  idPrefix: 'exp_e1',
  data: { experiment, summary: { id: 'e1', name: 'Parameter Sweep e1', status: 'CREATED', ownerId: OWNER } },
  publish: (pub) => pub[method](experiment),
}));

const experimentProgress = {
  experimentId: 'e1',
  totalTasks: 10,
  completedTasks: 3,
  failedTasks: 0,
  runningTasks: 2,
  progressPercent: 30,
  estimatedTimeRemaining: '5m',
  lastUpdated: '2024-01-15T10:32:00Z',
};

const experimentProgressRow: PublisherCase = {
  name: 'experiment_progress → experiment, project and user of the scope; nobody else',
  receivers: {
    experimentPath: at('/ws/experiments/e1', { sub: 'viewer' }),
    projectPath: at('/ws/projects/p1', { sub: 'viewer' }),
    ownerPath: at('/ws/user', { sub: OWNER }),
  },
  negatives: {
    otherExperimentOfOwner: at('/ws/experiments/e2', { sub: OWNER }),
    otherProject: at('/ws/projects/p2', { sub: OWNER }),
    otherUser: at('/ws/user', { sub: 'someone-else' }),
    taskOfTheExperiment: at('/ws/tasks/t1', { sub: OWNER }),
    system: at('/ws/user', ADMIN, sub('system')),
  },
  type: 'experiment_progress',
  idPrefix: 'exp_e1',
  data: experimentProgress,
  publish: (pub) => pub.experimentProgress(experimentProgress, { projectId: 'p1', userId: OWNER }),
};

// ---------------------------------------------------------------------------------------------
// Task events: task t1 of experiment e1, scope project p1 and user OWNER
// ---------------------------------------------------------------------------------------------

const taskAudience: Audience = {
  receivers: {
    taskPath: at('/ws/tasks/t1', { sub: 'viewer' }),
    experimentPath: at('/ws/experiments/e1', { sub: 'viewer' }),
    projectPath: at('/ws/projects/p1', { sub: 'viewer' }),
    ownerPath: at('/ws/user', { sub: OWNER }),
    taskSubscribed: at('/ws/user', { sub: 'viewer-2' }, sub('task', 't1')),
    experimentSubscribed: at('/ws/projects/p-x', { sub: 'viewer-3' }, sub('experiment', 'e1')),
  },
  negatives: {
    otherTaskOfOwner: at('/ws/tasks/t2', { sub: OWNER }),
    otherExperimentOfOwner: at('/ws/experiments/e2', { sub: OWNER }),
    otherProjectOfOwner: at('/ws/projects/p2', { sub: OWNER }),
    otherUser: at('/ws/user', { sub: 'someone-else' }),
    workerAndSystem: at('/ws/user', ADMIN, sub('worker', 'w1'), sub('system')),
    unsubscribed: at('/ws/tasks/t1', { sub: 'viewer-4' }, unsub('task', 't1')),
    refused: at(
      '/ws/user',
      { sub: 'acl-user', acl: ['project:p9'] },
      refuse('task', 't1'),
      refuse('experiment', 'e1'),
      refuse('project', 'p1'),
    ),
  },
};

const taskScope = { projectId: 'p1', userId: OWNER };
const task = sampleTask('t1', { experimentId: 'e1', workerId: 'w1', status: 'RUNNING', error: 'boom' });
const taskSummary = { id: 't1', experimentId: 'e1', status: 'RUNNING', workerId: 'w1', error: 'boom' };
const taskProgress = {
  taskId: 't1',
  experimentId: 'e1',
  status: 'RUNNING',
  progressPercent: 10,
  currentStage: 'RUNNING',
  workerId: 'w1',
  startedAt: '2024-01-15T10:31:00Z',
  estimatedCompletion: '2024-01-15T10:35:00Z',
};

const taskRows = (
  [
    ['taskCreated', 'task_created'],
    ['taskUpdated', 'task_updated'],
    ['taskCompleted', 'task_completed'],
    ['taskFailed', 'task_failed'],
    ['taskProgress', 'task_progress'],
  ] as const
).map(([method, type]): PublisherCase => ({
  name: `task event (${method}) → task, experiment, project and owner subscribers; nobody else`,
  ...taskAudience,
  type,
  idPrefix: 'task_t1',
  ...(method === 'taskProgress'
    ? {
        data: { ...taskProgress, lastUpdated: isoTimestamp() },
        publish: (pub) => pub.taskProgress(taskProgress, taskScope),
      }
    : { data: { task, summary: taskSummary }, publish: (pub) => pub[method](task, taskScope) }),
}));

// ---------------------------------------------------------------------------------------------
// Worker events: worker w1, running task t1 of experiment e1
// ---------------------------------------------------------------------------------------------

const workerAudience: Audience = {
  receivers: {
    adminWorker: at('/ws/user', ADMIN, sub('worker', 'w1')),
    adminSystem: at('/ws/experiments/e1', { sub: 'root-2', roles: ['admin'] }, sub('system')),
    aclWorker: at('/ws/user', { sub: 'ops', acl: ['worker:*'] }, sub('worker', 'w1')),
    aclSystem: at('/ws/user', { sub: 'ops-2', acl: ['system'] }, sub('system', 'system')),
  },
  negatives: {
    experimentOfTheWorker: at('/ws/experiments/e1', { sub: OWNER }),
    taskOfTheWorker: at('/ws/tasks/t1', { sub: OWNER }),
    project: at('/ws/projects/p1', { sub: OWNER }),
    owner: at('/ws/user', { sub: OWNER }),
    otherWorker: at('/ws/user', { sub: 'root-3', roles: ['admin'] }, sub('worker', 'w2')),
    adminNotSubscribed: at('/ws/user', { sub: 'root-4', roles: ['admin'] }),
    unsubscribedWorker: at('/ws/user', { sub: 'root-5', roles: ['admin'] }, sub('worker', 'w1'), unsub('worker', 'w1')),
    refusedNonAdmin: at('/ws/user', { sub: 'plain' }, refuse('worker', 'w1'), refuse('system')),
  },
};

const worker = sampleWorker('w1', { experimentId: 'e1', currentTaskId: 't1' });

const workerRows = (
  [
    ['workerRegistered', 'worker_registered'],
    ['workerUpdated', 'worker_updated'],
    ['workerOffline', 'worker_offline'],
  ] as const
).map(([method, type]): PublisherCase => ({
  name: `worker event (${method}) → worker and system subscribers only`,
  ...workerAudience,
  type,
  idPrefix: 'worker_w1',
  data: { worker, summary: { id: 'w1', computeResourceId: 'compute-123', experimentId: 'e1', status: 'RUNNING' } },
  publish: (pub) => pub[method](worker),
}));

// ---------------------------------------------------------------------------------------------
// The generic publish(type, data, scope)
// ---------------------------------------------------------------------------------------------

/** A case published with `publish(type, data, scope)`. */
type GenericCase = RoutingCase & { type: SchedulerEventType; data: Record<string, unknown>; scope: EventScope };

const genericRows: GenericCase[] = [
  {
    name: 'routes experiment_* by the scope: experiment, project, user',
    receivers: {
      experiment: at('/ws/experiments/e1', { sub: 'viewer' }),
      project: at('/ws/projects/p1', { sub: 'viewer' }),
      user: at('/ws/user', { sub: OWNER }),
    },
    negatives: {
      otherExperiment: at('/ws/experiments/e2', { sub: OWNER }),
      task: at('/ws/tasks/t1', { sub: OWNER }),
      otherUser: at('/ws/user', { sub: 'someone-else' }),
    },
    type: 'experiment_updated',
    data: {
      experiment: sampleExperiment('e1', { projectId: 'p1', ownerId: OWNER, status: 'RUNNING' }),
      summary: { id: 'e1', name: 'Parameter Sweep e1', status: 'RUNNING', ownerId: OWNER },
    },
    scope: { experimentId: 'e1', projectId: 'p1', userId: OWNER },
    idPrefix: 'exp_e1',
  },
  {
    name: 'routes task_* by the scope: task, experiment, project, user',
    receivers: {
      task: at('/ws/tasks/t1', { sub: 'viewer' }),
      experiment: at('/ws/experiments/e1', { sub: 'viewer' }),
      project: at('/ws/projects/p1', { sub: 'viewer' }),
      user: at('/ws/user', { sub: OWNER }),
    },
    negatives: {
      otherTask: at('/ws/tasks/t2', { sub: OWNER }),
      otherExperiment: at('/ws/experiments/e2', { sub: OWNER }),
      system: at('/ws/user', ADMIN, sub('system')),
    },
    type: 'task_progress',
    data: {
      taskId: 't1',
      experimentId: 'e1',
      status: 'RUNNING',
      progressPercent: 50,
      lastUpdated: '2024-01-15T10:32:00Z',
    },
    scope: { taskId: 't1', experimentId: 'e1', projectId: 'p1', userId: OWNER },
    idPrefix: 'task_t1',
  },
  {
    name: 'routes worker_* to worker and system subscribers, not to the experiment',
    receivers: {
      worker: at('/ws/user', ADMIN, sub('worker', 'w1')),
      system: at('/ws/user', { ...ADMIN, sub: 'r2' }, sub('system')),
    },
    negatives: {
      experiment: at('/ws/experiments/e1', { sub: OWNER }),
      otherWorker: at('/ws/user', { ...ADMIN, sub: 'r3' }, sub('worker', 'w2')),
    },
    type: 'worker_updated',
    data: {
      worker: sampleWorker('w1', { experimentId: 'e1' }),
      summary: { id: 'w1', computeResourceId: 'compute-123', experimentId: 'e1', status: 'RUNNING' },
    },
    scope: { workerId: 'w1', experimentId: 'e1' },
    idPrefix: 'worker_w1',
  },
  {
    name: 'routes system_status to every scheduler connection',
    receivers: {
      experiment: at('/ws/experiments/e1', { sub: 'a' }),
      user: at('/ws/user', { sub: 'b' }),
    },
    negatives: {},
    type: 'system_status',
    data: sampleStatus({ note: 'maintenance' }),
    scope: {},
    idPrefix: 'system',
  },
];

describe('scheduler events and routing (SPEC §4)', () => {
  const { t, pub, conn, track } = routingApp();

  describe('routing table', () => {
    it.each([...experimentRows, experimentProgressRow, ...taskRows, ...workerRows])('$name', async (row) => {
      await expectRoutingCase(conn, row, () => row.publish(pub));
    });

    it('system event → every scheduler connection, subscribed to anything or not, but no chat connection', async () => {
      const chat = track(await t.chat({ sub: 'chatter' }));
      chat.send({ type: 'join_room', room: 'project:1' });
      await chat.nextOfType('room_joined');

      const data = sampleStatus({ healthy: true, workers: 3 });
      const systemCase: RoutingCase = {
        name: 'system event',
        receivers: {
          experiment: at('/ws/experiments/e1', { sub: 'a' }),
          task: at('/ws/tasks/t1', { sub: 'b' }),
          project: at('/ws/projects/p1', { sub: 'c' }),
          user: at('/ws/user', { sub: 'd' }),
          systemSubscriber: at('/ws/user', ADMIN, sub('system')),
          workerSubscriber: at('/ws/user', { sub: 'root-2', roles: ['admin'] }, sub('worker', 'w1')),
          subscribedToNothing: at('/ws/experiments/e9', { sub: 'e' }, unsub('experiment', 'e9')),
          acl: at('/ws/projects/p1', { sub: 'f', acl: ['project:p1'] }),
        },
        negatives: {},
        type: 'system_status',
        idPrefix: 'system',
        data,
      };
      await expectRoutingCase(conn, systemCase, () => pub.systemStatus(data));

      chat.send({ type: 'ping' });
      await chat.nextOfType('pong');
      await sleep(100);
      expect(chat.frames.map((f) => f.type)).toEqual(['connected', 'room_joined', 'pong']);
    });

    describe('the generic publish(type, data, scope)', () => {
      it.each(genericRows)('$name', async (row) => {
        await expectRoutingCase(conn, row, () => pub.publish(row.type, row.data, row.scope));
      });
    });
  });
});
