import { ADMIN_TOKEN } from './support/test-app.js';
import { hsToken } from './support/tokens.js';
import {
  events,
  expectEventId,
  idPattern,
  isoTimestamp,
  quiet,
  sampleExperiment,
  sampleStatus,
  sampleTask,
  sampleWorker,
  subscribe,
  unsubscribe,
  waitEvents,
} from './support/scheduler-client.js';
import { ADMIN, at, expectRoutingCase, routingApp, type RoutingCase } from './support/scheduler-fixtures.js';

/** A REST publish answers once the event is stored, with its stream positions (issue 26). */
const STORED = { stored: true, positions: expect.any(Object) };

/**
 * The scheduler over the admin REST API: `POST /ws/publish` (routed like the publisher's events,
 * its body validated, admins only) and the scheduler connections in `GET /ws/clients`.
 */

/** A case published with `POST /ws/publish`: the bearer token and the request body. */
type RestCase = RoutingCase & { token: string; body: Record<string, unknown> };

const experimentData = {
  experiment: sampleExperiment('e-rest', { projectId: 'p-rest', ownerId: 'u-rest' }),
  summary: { id: 'e-rest', name: 'Parameter Sweep e-rest', status: 'CREATED', ownerId: 'u-rest' },
};
const taskData = {
  task: sampleTask('t-rest', { experimentId: 'e-rest', status: 'COMPLETED' }),
  summary: { id: 't-rest', experimentId: 'e-rest', status: 'COMPLETED', workerId: null },
};

const restRows: RestCase[] = [
  {
    name: 'publishes an experiment event with "gateway":"scheduler" and answers with its id',
    receivers: {
      experiment: at('/ws/experiments/e-rest', { sub: 'viewer' }),
      project: at('/ws/projects/p-rest', { sub: 'viewer' }),
      user: at('/ws/user', { sub: 'u-rest' }),
    },
    negatives: {
      otherExperiment: at('/ws/experiments/e-rest-2', { sub: 'u-rest' }),
      task: at('/ws/tasks/t-rest', { sub: 'u-rest' }),
    },
    token: ADMIN_TOKEN,
    body: {
      gateway: 'scheduler',
      type: 'experiment_created',
      data: experimentData,
      scope: { experimentId: 'e-rest', projectId: 'p-rest', userId: 'u-rest' },
    },
    type: 'experiment_created',
    idPrefix: 'exp_e-rest',
    data: experimentData,
  },
  {
    name: 'publishes a task event without a "gateway" field, with an admin JWT',
    receivers: {
      task: at('/ws/tasks/t-rest', { sub: 'viewer' }),
      experiment: at('/ws/experiments/e-rest', { sub: 'viewer' }),
    },
    negatives: { otherTask: at('/ws/tasks/t-rest-2', { sub: 'viewer' }) },
    token: hsToken({ sub: 'svc', roles: ['admin'] }),
    body: { type: 'task_completed', data: taskData, scope: { taskId: 't-rest', experimentId: 'e-rest' } },
    type: 'task_completed',
    idPrefix: 'task_t-rest',
    data: taskData,
  },
];

describe('scheduler events and routing (SPEC §4)', () => {
  const { t, conn, track } = routingApp();

  describe('POST /ws/publish', () => {
    it.each(restRows)('$name', async (row) => {
      await expectRoutingCase(conn, row, async () => {
        const before = Date.now();
        const response = await t.http('POST', '/ws/publish', { token: row.token, body: row.body });
        expect(response).toEqual({
          status: 200,
          body: { published: true, gateway: 'scheduler', type: row.type, id: idPattern(row.idPrefix), ...STORED },
        });
        expectEventId(response.body.id, row.idPrefix, before, Date.now());
        return response.body.id;
      });
    });

    it('publishes worker and system events', async () => {
      const admin = await conn('/ws/user', ADMIN);
      const status = sampleStatus({ maintenance: true });
      await subscribe(admin, 'worker', 'w-rest');
      const experiment = await conn('/ws/experiments/e-rest', { sub: 'viewer' });
      const worker = await t.http('POST', '/ws/publish', {
        token: ADMIN_TOKEN,
        body: {
          gateway: 'scheduler',
          type: 'worker_offline',
          data: {
            worker: sampleWorker('w-rest', { status: 'OFFLINE' }),
            summary: { id: 'w-rest', computeResourceId: 'compute-123', experimentId: 'exp-123', status: 'OFFLINE' },
          },
          scope: { workerId: 'w-rest', experimentId: 'e-rest' },
        },
      });
      expect(worker).toEqual({
        status: 200,
        body: {
          published: true,
          gateway: 'scheduler',
          type: 'worker_offline',
          id: idPattern('worker_w-rest'),
          ...STORED,
        },
      });
      const system = await t.http('POST', '/ws/publish', {
        token: ADMIN_TOKEN,
        body: { gateway: 'scheduler', type: 'system_status', data: status, scope: {} },
      });
      expect(system).toEqual({
        status: 200,
        body: { published: true, gateway: 'scheduler', type: 'system_status', id: idPattern('system'), ...STORED },
      });
      await waitEvents(admin, (f) => f.id === system.body.id);
      await waitEvents(experiment, (f) => f.id === system.body.id);
      await quiet([admin, experiment]);
      expect(events(admin).map((f) => f.type)).toEqual(['worker_offline', 'system_status']);
      expect(events(experiment)).toEqual([
        { type: 'system_status', id: system.body.id, timestamp: isoTimestamp(), data: status },
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
      const chat = track(await t.chat({ sub: 'viewer-a' }));

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
