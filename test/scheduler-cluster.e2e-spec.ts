import { SchedulerPublisher } from '../src/realtime/index.js';
import { TestClient, sleep } from './support/test-client.js';
import { ADMIN_TOKEN, type TestApp } from './support/test-app.js';
import { closeAndSettle, clusterPrefix, settle as settleCluster, startPair, stopAll } from './support/cluster-pair.js';
import { hsToken, type Claims } from './support/tokens.js';
import {
  errorFrame,
  events,
  idPattern,
  isoTimestamp,
  openScheduler,
  quiet,
  reply,
  sampleExperiment,
  sampleStatus,
  sampleTask,
  sampleWorker,
  subscribe,
  subscribeMessage,
  unsubscribe,
  waitEvents,
} from './support/scheduler-client.js';

/** A REST publish answers once the event is stored, with its stream positions (issue 26). */
const STORED = { stored: true, positions: expect.any(Object) };

/** SPEC §9 for the scheduler: events published on one instance reach the right sockets on every instance, once, in order. */
const ADMIN: Claims = { sub: 'root', roles: ['admin'] };

describe('scheduler routing across two instances on Redis (SPEC §9)', () => {
  const prefix = clusterPrefix('sched');
  let a: TestApp;
  let b: TestApp;
  let pubA: SchedulerPublisher;
  let pubB: SchedulerPublisher;
  const open: TestClient[] = [];

  const settle = (total: number) => settleCluster([a, b], total);

  const conn = async (t: TestApp, path: string, claims: Claims): Promise<TestClient> => {
    const client = await openScheduler(t, path, claims);
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    [a, b] = await startPair(prefix, { heartbeatTimeoutMs: 3000, rateLimitPerSec: 1000 });
    pubA = a.app.get(SchedulerPublisher);
    pubB = b.app.get(SchedulerPublisher);
  });

  afterEach(() => closeAndSettle(open, [a, b]));

  afterAll(() => stopAll([a, b]));

  /** After `id` reached every receiver: once each, and no event at all on the negatives. */
  async function expectRouted(
    id: string,
    type: string,
    receivers: Record<string, TestClient>,
    negatives: Record<string, TestClient>,
  ): Promise<void> {
    for (const [name, client] of Object.entries(receivers)) {
      await waitEvents(client, (f) => f.type === type && f.id === id).catch((error: Error) => {
        throw new Error(`receiver ${name}: ${error.message}`);
      });
    }
    await quiet([...Object.values(receivers), ...Object.values(negatives)], 300);
    const got = (clients: Record<string, TestClient>) =>
      Object.fromEntries(Object.entries(clients).map(([name, client]) => [name, events(client).map((f) => f.type)]));
    expect(got(receivers)).toEqual(Object.fromEntries(Object.keys(receivers).map((name) => [name, [type]])));
    expect(got(negatives)).toEqual(Object.fromEntries(Object.keys(negatives).map((name) => [name, []])));
  }

  it('delivers 300 experiment events published on A to subscribers on A and B once each, in order', async () => {
    const onB = await conn(b, '/ws/experiments/e-c', { sub: 'viewer' });
    const onBByProject = await conn(b, '/ws/projects/p-c', { sub: 'viewer-2' });
    const onA = await conn(a, '/ws/experiments/e-c', { sub: 'viewer' });
    const otherOnB = await conn(b, '/ws/experiments/e-c2', { sub: 'viewer' });
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) {
      ids.push(pubA.experimentUpdated(sampleExperiment('e-c', { projectId: 'p-c', status: `S${i}` })));
    }
    for (const client of [onB, onBByProject, onA]) {
      await waitEvents(client, (f) => f.type === 'experiment_updated', 300, 15_000);
    }
    await quiet([onB, onBByProject, onA, otherOnB], 300);
    const expected = Array.from({ length: 300 }, (_, i) => `S${i}`);
    for (const client of [onB, onBByProject, onA]) {
      expect(events(client)).toHaveLength(300);
      expect(events(client).map((f) => f.data.experiment.status)).toEqual(expected);
      expect(events(client).map((f) => f.id)).toEqual(ids);
    }
    expect(events(onB)[0]).toEqual({
      type: 'experiment_updated',
      id: ids[0],
      timestamp: isoTimestamp(),
      data: {
        experiment: sampleExperiment('e-c', { projectId: 'p-c', status: 'S0' }),
        summary: { id: 'e-c', name: 'Parameter Sweep e-c', status: 'S0', ownerId: 'user-456' },
      },
    });
    expect(events(otherOnB)).toEqual([]);
  });

  it('routes a task event from A to B’s task, experiment, project and user subscribers once, and nowhere else', async () => {
    const owner = 'owner-c';
    const receivers = {
      task: await conn(b, '/ws/tasks/t-c', { sub: 'viewer' }),
      experimentSubscribed: await conn(b, '/ws/user', { sub: 'viewer-2' }),
      project: await conn(b, '/ws/projects/p-c', { sub: 'viewer' }),
      owner: await conn(b, '/ws/user', { sub: owner }),
      overlapping: await conn(b, '/ws/tasks/t-c', { sub: owner }),
      onA: await conn(a, '/ws/experiments/e-c', { sub: 'viewer' }),
    };
    await subscribe(receivers.experimentSubscribed, 'experiment', 'e-c');
    await subscribe(receivers.overlapping, 'experiment', 'e-c');
    await subscribe(receivers.overlapping, 'project', 'p-c');
    await subscribe(receivers.overlapping, 'user', undefined, owner);
    const negatives = {
      otherTask: await conn(b, '/ws/tasks/t-c2', { sub: owner }),
      otherExperiment: await conn(b, '/ws/experiments/e-c2', { sub: owner }),
      otherProject: await conn(b, '/ws/projects/p-c2', { sub: owner }),
      otherUser: await conn(b, '/ws/user', { sub: 'someone-else' }),
      workerAndSystem: await conn(b, '/ws/user', ADMIN),
      unsubscribed: await conn(b, '/ws/tasks/t-c', { sub: 'viewer-3' }),
      refused: await conn(b, '/ws/user', { sub: 'acl-user', acl: ['project:p-c2'] }),
    };
    await subscribe(negatives.workerAndSystem, 'worker', 'w-c');
    await subscribe(negatives.workerAndSystem, 'system');
    await unsubscribe(negatives.unsubscribed, 'task', 't-c');
    expect(await reply(negatives.refused, subscribeMessage('subscribe', 'task', 't-c'))).toEqual(
      errorFrame('Forbidden'),
    );

    const task = sampleTask('t-c', { experimentId: 'e-c', workerId: 'w-c', status: 'RUNNING' });
    const id = pubA.taskUpdated(task, { projectId: 'p-c', userId: owner });
    expect(id).toEqual(idPattern('task_t-c'));
    await expectRouted(id, 'task_updated', receivers, negatives);
    expect(events(receivers.task)[0].data).toEqual({
      task,
      summary: { id: 't-c', experimentId: 'e-c', status: 'RUNNING', workerId: 'w-c' },
    });
  });

  it('routes a worker event from A to B’s worker and system subscribers only', async () => {
    const receivers = {
      worker: await conn(b, '/ws/user', ADMIN),
      system: await conn(b, '/ws/user', { sub: 'root-2', roles: ['admin'] }),
    };
    await subscribe(receivers.worker, 'worker', 'w-c');
    await subscribe(receivers.system, 'system');
    const negatives = {
      experimentOfTheWorker: await conn(b, '/ws/experiments/e-c', { sub: 'viewer' }),
      taskOfTheWorker: await conn(b, '/ws/tasks/t-c', { sub: 'viewer' }),
      otherWorker: await conn(b, '/ws/user', { sub: 'root-3', roles: ['admin'] }),
    };
    await subscribe(negatives.otherWorker, 'worker', 'w-c2');
    const id = pubA.workerUpdated(sampleWorker('w-c', { experimentId: 'e-c', currentTaskId: 't-c' }));
    expect(id).toEqual(idPattern('worker_w-c'));
    await expectRouted(id, 'worker_updated', receivers, negatives);
  });

  it('sends a system event from A to every scheduler connection on both instances once, and to no chat connection', async () => {
    const receivers = {
      experimentB: await conn(b, '/ws/experiments/e-c', { sub: 'a1' }),
      taskB: await conn(b, '/ws/tasks/t-c', { sub: 'a2' }),
      projectB: await conn(b, '/ws/projects/p-c', { sub: 'a3' }),
      userB: await conn(b, '/ws/user', { sub: 'a4' }),
      systemB: await conn(b, '/ws/user', ADMIN),
      nothingB: await conn(b, '/ws/experiments/e-none', { sub: 'a5' }),
      experimentA: await conn(a, '/ws/experiments/e-c', { sub: 'a6' }),
    };
    await subscribe(receivers.systemB, 'system');
    await unsubscribe(receivers.nothingB, 'experiment', 'e-none');
    const chatB = await b.chat({ sub: 'chatter' });
    open.push(chatB);
    const data = sampleStatus({ status: 'healthy', workers: 2 });
    const id = pubA.systemStatus(data);
    await expectRouted(id, 'system_status', receivers, {});
    expect(events(receivers.userB)[0]).toEqual({ type: 'system_status', id, timestamp: isoTimestamp(), data });
    chatB.send({ type: 'ping' });
    await chatB.nextOfType('pong');
    await sleep(100);
    expect(chatB.frames.map((f) => f.type)).toEqual(['connected', 'pong']);
  });

  it('honours subscriptions made by message on B, and forgets them on unsubscribe', async () => {
    const client = await conn(b, '/ws/user', { sub: 'sub-c' });
    await subscribe(client, 'project', 'p-sub');
    const first = pubA.experimentCreated(sampleExperiment('e-sub', { projectId: 'p-sub' }));
    await waitEvents(client, (f) => f.id === first && f.type === 'experiment_created');
    await unsubscribe(client, 'project', 'p-sub');
    pubA.experimentCompleted(sampleExperiment('e-sub', { projectId: 'p-sub', status: 'COMPLETED' }));
    const sentinel = pubA.systemStatus(sampleStatus());
    await waitEvents(client, (f) => f.id === sentinel);
    await quiet([client], 300);
    expect(events(client).map((f) => f.type)).toEqual(['experiment_created', 'system_status']);
  });

  it('publishes with POST /ws/publish on B to a subscriber on A once, and the generic publish from B', async () => {
    const onA = await conn(a, '/ws/experiments/e-rest', { sub: 'viewer' });
    const negativeOnA = await conn(a, '/ws/experiments/e-rest-2', { sub: 'viewer' });
    const experimentData = {
      experiment: sampleExperiment('e-rest', { status: 'FAILED' }),
      summary: { id: 'e-rest', name: 'Parameter Sweep e-rest', status: 'FAILED', ownerId: 'user-456' },
    };
    const task = sampleTask('t-rest', { experimentId: 'e-rest', status: 'FAILED', error: 'x' });
    const taskData = {
      task,
      summary: { id: 't-rest', experimentId: 'e-rest', status: 'FAILED', workerId: null, error: 'x' },
    };
    const response = await b.http('POST', '/ws/publish', {
      token: ADMIN_TOKEN,
      body: {
        gateway: 'scheduler',
        type: 'experiment_failed',
        data: experimentData,
        scope: { experimentId: 'e-rest' },
      },
    });
    expect(response).toEqual({
      status: 200,
      body: {
        published: true,
        gateway: 'scheduler',
        type: 'experiment_failed',
        id: idPattern('exp_e-rest'),
        ...STORED,
      },
    });
    const generic = pubB.publish('task_failed', taskData, { taskId: 't-rest', experimentId: 'e-rest' });
    await waitEvents(onA, (f) => f.id === response.body.id && f.type === 'experiment_failed');
    await waitEvents(onA, (f) => f.id === generic && f.type === 'task_failed');
    await quiet([onA, negativeOnA], 300);
    expect(events(onA)).toEqual([
      { type: 'experiment_failed', id: response.body.id, timestamp: isoTimestamp(), data: experimentData },
      { type: 'task_failed', id: generic, timestamp: isoTimestamp(), data: taskData },
    ]);
    expect(events(negativeOnA)).toEqual([]);
  });

  it('counts a user’s scheduler connections on both instances against the per-user limit of 10', async () => {
    const claims: Claims = { sub: 'spread' };
    for (let i = 0; i < 6; i++) await conn(a, '/ws/experiments/e-l', claims);
    for (let i = 0; i < 4; i++) await conn(b, '/ws/user', claims);
    await settle(10);
    for (const t of [a, b]) {
      const eleventh = new TestClient(t.wsUrl('/ws/tasks/t-l', hsToken(claims)));
      expect(await eleventh.waitClose()).toEqual({ code: 4429, reason: 'Too many connections' });
      expect(eleventh.frames).toEqual([errorFrame('Too many connections')]);
    }
    open.pop()!.close();
    await settle(9);
    await conn(a, '/ws/tasks/t-l', claims);
  });
});
