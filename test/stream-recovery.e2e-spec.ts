import { ChatPublisher } from '../src/realtime/index.js';
import { EVENT_BUS } from '../src/realtime/bus/index.js';
import type { MemoryEventBus } from '../src/realtime/bus/memory-event-bus.js';
import { startAppProcess, type AppProcess } from './support/app-processes.js';
import { RedisServer, freePort, testRedisCluster } from './support/redis.js';
import { range, streamGateways, type Position, type StreamGateway } from './support/stream-gateways.js';
import { ADMIN_TOKEN, startTestApp, type Endpoints, type TestApp } from './support/test-app.js';
import { TestClient, eventually, sleep } from './support/test-client.js';
import { hsToken } from './support/tokens.js';
import { sampleExperimentProgress } from './support/scheduler-client.js';

/**
 * SPEC.md §11 on every gateway: a client names the last position it saw and gets exactly what it
 * missed, in order, then the live events, with no duplicate or gap at the seam; or `recovered:
 * false` when that cannot be. In one process (in-memory history), and across two processes on one
 * Redis and on a three-node Redis Cluster, where the client resumes on the other instance, also
 * after its own was killed.
 */

/** Long enough for every frame in flight to have arrived: exact counts are checked after it. */
const QUIET_MS = 400;

/** Waits until `client` has received the stream's events up to index `last`, then a quiet while. */
async function receivedUpTo(gateway: StreamGateway, client: TestClient, last: number): Promise<number[]> {
  await eventually(
    () => gateway.received(client).some((event) => event.i === last),
    10_000,
    () => `${gateway.name}: event ${last} (got ${gateway.received(client).length})`,
  );
  await sleep(QUIET_MS);
  return gateway.received(client).map((event) => event.i);
}

/** Offsets one apart in one epoch, the first right after `after`. */
function expectConsecutive(positions: Position[], after: number): void {
  expect(positions.map((position) => position.offset)).toEqual(range(after + 1, after + positions.length));
  expect(new Set(positions.map((position) => position.epoch)).size).toBe(1);
}

/**
 * The missed-events test: 3 seen, disconnected, 50 published meanwhile (through `publisher`), resumed
 * on `resumer` while 5 live ones are published at the same moment: the client gets exactly 3..57.
 */
async function resumeAfterGap(gateway: StreamGateway, viewer: Endpoints, publisher: Endpoints, resumer: Endpoints) {
  const first = await gateway.open(viewer);
  const start = first.joined.offset as number;
  for (const i of range(0, 2)) await gateway.publish(publisher, i);
  await receivedUpTo(gateway, first.client, 2);
  const seen = gateway.received(first.client);
  expectConsecutive(
    seen.map((event) => event.position),
    start,
  );
  const last = seen[seen.length - 1].position;
  first.client.close();
  await first.client.waitClose();

  for (const i of range(3, 52)) await gateway.publish(publisher, i);
  // The seam: live events published while the resume is being answered.
  const resuming = gateway.open(resumer, last);
  for (const i of range(53, 57)) await gateway.publish(publisher, i);
  const second = await resuming;
  expect(second.joined).toMatchObject({ recovered: true, epoch: last.epoch });
  // (the live ones may have been published before the join read the stream)
  expect(second.joined.offset).toBeGreaterThanOrEqual(last.offset + 50);

  expect(await receivedUpTo(gateway, second.client, 57)).toEqual(range(3, 57));
  expectConsecutive(
    gateway.received(second.client).map((event) => event.position),
    last.offset,
  );
  second.client.close();
  return second.client.waitClose();
}

/** A position of another epoch, and one ahead of the stream: not recovered, and live events flow. */
async function refuseForeignPositions(gateway: StreamGateway, t: Endpoints, live: number) {
  const { client, joined } = await gateway.open(t);
  const current = { offset: joined.offset as number, epoch: joined.epoch as string };
  client.close();
  for (const since of [
    { offset: current.offset, epoch: current.epoch === 'zzzzzzzz' ? 'yyyyyyyy' : 'zzzzzzzz' },
    { offset: current.offset + 1000, epoch: current.epoch },
  ]) {
    const resumed = await gateway.open(t, since);
    expect(resumed.joined).toMatchObject({ recovered: false, offset: current.offset, epoch: current.epoch });
    await gateway.publish(t, live);
    expect(await receivedUpTo(gateway, resumed.client, live)).toEqual([live]);
    current.offset++;
    live++;
    resumed.client.close();
    await resumed.client.waitClose();
  }
}

/**
 * Scheduler events routed to two subscriptions of one connection (an experiment and its project):
 * live, each arrives once; after a disconnect, resuming both subscriptions brings each missed event
 * once, those of both streams included, and only the project's through the project.
 */
async function resumeOverlappingSubscriptions(
  viewer: Endpoints,
  publisher: Endpoints,
  resumer: Endpoints,
  tag: string,
) {
  const experiment = `ov-exp-${tag}`;
  const other = `ov-other-${tag}`;
  const project = `ov-proj-${tag}`;
  const publish = async (type: string, i: number, experimentId: string): Promise<void> => {
    const body = {
      gateway: 'scheduler',
      type,
      data: sampleExperimentProgress(experimentId, { i }),
      scope: { experimentId, projectId: project },
    };
    expect((await publisher.http('POST', '/ws/publish', { token: ADMIN_TOKEN, body })).status).toBe(200);
  };
  const token = hsToken({ sub: `ov-${tag}` });
  const indexes = (client: TestClient): number[] =>
    client.frames.filter((f) => f.type === 'experiment_progress').map((f) => f.data.i as number);
  const last = (client: TestClient, stream: string): Position => {
    const frames = client.frames.filter((f) => f.positions?.[stream]);
    return frames[frames.length - 1].positions[stream];
  };

  const first = await TestClient.open(viewer.wsUrl(`/ws/experiments/${experiment}`, token));
  await first.next();
  first.send({ type: 'system_status', data: { action: 'subscribe', resourceType: 'project', resourceId: project } });
  await first.next((f) => f.data?.resourceType === 'project');
  for (const i of range(0, 4)) await publish('experiment_progress', i, experiment);
  await publish('experiment_progress', 5, other);
  await eventually(() => indexes(first).includes(5), 5_000, 'live events');
  await sleep(QUIET_MS);
  expect(indexes(first)).toEqual(range(0, 5));
  const [atExperiment, atProject] = [last(first, `experiment:${experiment}`), last(first, `project:${project}`)];
  first.close();
  await first.waitClose();

  // Missed: 6..15 in both streams, 16..20 in the project's only.
  for (const i of range(6, 15)) await publish('experiment_progress', i, experiment);
  for (const i of range(16, 20)) await publish('experiment_progress', i, other);
  const query = `?offset=${atExperiment.offset}&epoch=${atExperiment.epoch}`;
  const second = await TestClient.open(resumer.wsUrl(`/ws/experiments/${experiment}${query}`, token));
  expect((await second.next()).data).toMatchObject({ recovered: true });
  second.send({
    type: 'system_status',
    data: { action: 'subscribe', resourceType: 'project', resourceId: project, since: atProject },
  });
  expect((await second.next((f) => f.data?.resourceType === 'project')).data).toMatchObject({ recovered: true });
  await eventually(() => indexes(second).includes(20), 5_000, 'missed events');
  await sleep(QUIET_MS);
  expect(indexes(second)).toEqual(range(6, 20));
  second.close();
}

/** With WS_HISTORY_SIZE 5 and WS_HISTORY_TTL 1: a gap of 5 is recovered, one of 6 is not, nor one older than 1 s. */
async function boundedHistory(gateway: StreamGateway, small: Endpoints): Promise<void> {
  const { client, joined } = await gateway.open(small);
  client.close();
  const base = { offset: joined.offset as number, epoch: joined.epoch as string };
  for (const i of range(0, 5)) await gateway.publish(small, i);
  // 6 published: a client at base misses 6 (one is gone), a client at base + 1 misses 5 (all kept).
  const tooOld = await gateway.open(small, base);
  expect(tooOld.joined).toMatchObject({ recovered: false, offset: base.offset + 6, epoch: base.epoch });
  tooOld.client.close();
  const kept = await gateway.open(small, { offset: base.offset + 1, epoch: base.epoch });
  expect(kept.joined).toMatchObject({ recovered: true, offset: base.offset + 6, epoch: base.epoch });
  expect(await receivedUpTo(gateway, kept.client, 5)).toEqual(range(1, 5));
  kept.client.close();
  await sleep(1_200);
  const expired = await gateway.open(small, { offset: base.offset + 4, epoch: base.epoch });
  expect(expired.joined).toMatchObject({ recovered: false, offset: base.offset + 6, epoch: base.epoch });
  const current = await gateway.open(small, { offset: base.offset + 6, epoch: base.epoch });
  expect(current.joined).toMatchObject({ recovered: true, offset: base.offset + 6, epoch: base.epoch });
  for (const c of [expired.client, current.client]) c.close();
}

describe('history and recovery in one process, in memory (SPEC §11)', () => {
  let t: TestApp;
  let small: TestApp;
  const { gateways, close } = streamGateways(`mem-${process.pid}`);
  const bounded = streamGateways(`mem-small-${process.pid}`);

  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 5000 });
    small = await startTestApp({ historySize: 5, historyTtlSec: 1, rateLimitPerSec: 5000 });
  });

  afterAll(async () => {
    await close();
    await bounded.close();
    await t.close();
    await small.close();
  });

  describe.each(gateways.map((gateway) => [gateway.name, gateway] as const))('%s', (_, gateway) => {
    it('resumes after 50 missed events: exactly those, in order, then the live ones, none twice at the seam', () =>
      resumeAfterGap(gateway, t, t, t));

    it('answers recovered: false for another epoch or a position ahead of the stream, then goes on live', () =>
      refuseForeignPositions(gateway, t, 1000));
  });

  describe.each(bounded.gateways.map((gateway) => [gateway.name, gateway] as const))(
    '%s with WS_HISTORY_SIZE 5 and WS_HISTORY_TTL 1',
    (_, gateway) => {
      it('recovers a gap of 5 events, not one of 6, and nothing once the events are older than the TTL', () =>
        boundedHistory(gateway, small));
    },
  );

  it('shows a stream with GET /ws/history (admin only): its position and retained events after `since`', async () => {
    const room = 'channel:880001';
    const publisher = t.app.get(ChatPublisher);
    for (let k = 1; k <= 5; k++) publisher.message(room, { k });
    expect((await t.http('GET', `/ws/history?stream=${room}`)).status).toBe(401);
    const shown = await t.http('GET', `/ws/history?stream=${room}&gateway=chat&since=2&limit=2`, {
      token: ADMIN_TOKEN,
    });
    expect(shown.status).toBe(200);
    const epoch = shown.body.position.epoch as string;
    expect(shown.body).toEqual({
      gateway: 'chat',
      stream: room,
      position: { offset: 5, epoch: expect.stringMatching(/^[0-9a-z]{8}$/) },
      events: [3, 4].map((k) => ({
        offset: k,
        epoch,
        frame: expect.objectContaining({ type: 'message', room, data: { k }, stream: room, offset: k, epoch }),
      })),
    });
    expect((await t.http('GET', `/ws/history?stream=${room}&since=-1`, { token: ADMIN_TOKEN })).status).toBe(400);
  });

  it('resumes two overlapping scheduler subscriptions of one connection: every missed event once', () =>
    resumeOverlappingSubscriptions(t, t, t, `mem-${process.pid}`));

  it('keeps history bounded and flat: 300 events in each of 200 rooms, twice, hold 100 per room', async () => {
    const bus = t.app.get<MemoryEventBus>(EVENT_BUS);
    const publisher = t.app.get(ChatPublisher);
    const rooms = range(1, 200).map((n) => `channel:${900_000 + n}`);
    const before = bus.historyFootprint();
    const round = (): { streams: number; events: number } => {
      for (let k = 0; k < 300; k++) for (const room of rooms) publisher.message(room, { k });
      const after = bus.historyFootprint();
      return { streams: after.streams - before.streams, events: after.events - before.events };
    };
    expect(round()).toEqual({ streams: 200, events: 200 * 100 });
    expect(round()).toEqual({ streams: 200, events: 200 * 100 });
  });
});

describe.each([
  ['one Redis', 'redis'],
  ['a three-node Redis Cluster', 'redis-cluster'],
] as const)('history and recovery across two processes on %s (SPEC §9, §11)', (_, kind) => {
  let redisServer: RedisServer | undefined;
  let a: AppProcess;
  let b: AppProcess;
  const prefix = `recovery-${process.pid}-${kind}:`;
  const env: Record<string, string> = {
    WS_REDIS_PREFIX: prefix,
    WS_HISTORY_SIZE: '1000',
    WS_RATE_LIMIT_PER_SEC: '5000',
  };
  const { gateways, close } = streamGateways(`${kind}-${process.pid}`);

  beforeAll(async () => {
    if (kind === 'redis') {
      redisServer = new RedisServer(await freePort());
      await redisServer.start();
      env.REDIS_URL = redisServer.url;
    } else {
      env.REDIS_CLUSTER_NODES = (await testRedisCluster()).nodes.join(',');
    }
    [a, b] = await Promise.all(['A', 'B'].map((id) => startAppProcess(`${prefix}${id}`, env)));
  }, 30_000);

  afterAll(async () => {
    await close();
    await Promise.all([a, b].map((t) => t?.stop()));
    await redisServer?.kill('SIGKILL');
  });

  describe.each(gateways.map((gateway) => [gateway.name, gateway] as const))('%s', (_, gateway) => {
    it('resumes on B after 50 events published through A: exactly those, in order, then live, none twice', () =>
      resumeAfterGap(gateway, a, a, b));

    it('answers recovered: false for another epoch or a position ahead of the stream', () =>
      refuseForeignPositions(gateway, b, 2000));
  });

  it('resumes two overlapping scheduler subscriptions on B after events published through A: each once', () =>
    resumeOverlappingSubscriptions(a, a, b, `${kind}-${process.pid}`));

  it('delivers to an instance only the events of topics its sockets are in (counted at B)', async () => {
    // A room of its own, no other test's socket in it.
    const room = `channel:${700_000 + Math.floor(Math.random() * 1e5)}`;
    const member = async (t: Endpoints, sub: string): Promise<TestClient> => {
      const client = await t.chat({ sub, username: sub });
      client.send({ type: 'join_room', room });
      await client.nextOfType('room_joined');
      return client;
    };
    const publish = async (k: number): Promise<void> => {
      const body = { room, type: 'message', data: { k } };
      expect((await a.http('POST', '/ws/publish', { token: ADMIN_TOKEN, body })).status).toBe(200);
    };
    const received = async (): Promise<number> => {
      const text = (await b.http('GET', '/metrics', { token: ADMIN_TOKEN })).body as string;
      return Number(/^realtime_bus_received_total (\d+)$/m.exec(text)?.[1] ?? NaN);
    };
    const count = (client: TestClient): number => client.ofType('message').length;
    const onA = await member(a, 'iso-a');
    await sleep(QUIET_MS);
    const before = await received();
    for (let k = 0; k < 100; k++) await publish(k);
    await eventually(() => count(onA) === 100, 10_000, 'the 100 events on A');
    await sleep(QUIET_MS);
    expect(await received()).toBe(before);
    // A socket of B in the room (its user_joined goes out from B): B receives the room's events, each once.
    const onB = await member(b, 'iso-b');
    await sleep(QUIET_MS);
    const joinedAt = await received();
    for (let k = 100; k < 120; k++) await publish(k);
    await eventually(() => count(onB) === 20, 10_000, 'the 20 events on B');
    await sleep(QUIET_MS);
    expect(await received()).toBe(joinedAt + 20);
    expect(count(onB)).toBe(20);
    for (const client of [onA, onB]) client.close();
  });

  it('resumes every gateway on B after A was killed with SIGKILL and 500 events per stream were published through B', async () => {
    const opened = await Promise.all(gateways.map((gateway) => gateway.open(a)));
    for (const gateway of gateways) await gateway.publish(a, 0);
    const last = await Promise.all(
      gateways.map(async (gateway, k) => {
        await receivedUpTo(gateway, opened[k].client, 0);
        const seen = gateway.received(opened[k].client);
        return seen[seen.length - 1].position;
      }),
    );
    await a.stop('SIGKILL');
    for (const gateway of gateways) for (const i of range(1, 500)) await gateway.publish(b, i);
    for (const [k, gateway] of gateways.entries()) {
      const resumed = await gateway.open(b, last[k]);
      expect(resumed.joined).toMatchObject({ recovered: true, offset: last[k].offset + 500, epoch: last[k].epoch });
      await gateway.publish(b, 501);
      expect(await receivedUpTo(gateway, resumed.client, 501)).toEqual(range(1, 501));
      expectConsecutive(
        gateway.received(resumed.client).map((event) => event.position),
        last[k].offset,
      );
      resumed.client.close();
    }
  }, 60_000);
});

describe('history bounds in Redis: one process with WS_HISTORY_SIZE 5 and WS_HISTORY_TTL 1 (SPEC §11)', () => {
  let redisServer: RedisServer;
  let app: AppProcess;
  const { gateways, close } = streamGateways(`redis-small-${process.pid}`);

  beforeAll(async () => {
    redisServer = new RedisServer(await freePort());
    await redisServer.start();
    app = await startAppProcess(`bounds-${process.pid}`, {
      REDIS_URL: redisServer.url,
      WS_HISTORY_SIZE: '5',
      WS_HISTORY_TTL: '1',
      WS_RATE_LIMIT_PER_SEC: '5000',
    });
  }, 30_000);

  afterAll(async () => {
    await close();
    await app?.stop();
    await redisServer?.kill('SIGKILL');
  });

  it.each(gateways.map((gateway) => [gateway.name, gateway] as const))(
    '%s: recovers a gap of 5 events, not one of 6, and nothing once the events are older than the TTL',
    (_, gateway) => boundedHistory(gateway, app),
  );
});

describe('history off (WS_HISTORY_SIZE 0): no positions anywhere, and a resume is not recovered (SPEC §11)', () => {
  let off: TestApp;
  const { gateways, close } = streamGateways(`off-${process.pid}`);

  beforeAll(async () => {
    off = await startTestApp({ historySize: 0, rateLimitPerSec: 5000 });
  });

  afterAll(async () => {
    await close();
    await off.close();
  });

  it.each(gateways.map((gateway) => [gateway.name, gateway] as const))(
    '%s: events carry no position, a named position is answered recovered: false, GET /ws/history is 404',
    async (_, gateway) => {
      const { client, joined } = await gateway.open(off, { offset: 3, epoch: 'abcdefgh' });
      expect(joined.recovered).toBe(false);
      expect(joined).not.toHaveProperty('offset');
      expect(joined).not.toHaveProperty('epoch');
      await gateway.publish(off, 1);
      await eventually(() => client.frames.some(gateway.isEvent), 5_000, `${gateway.name} event`);
      const [event] = client.frames.filter(gateway.isEvent);
      for (const field of ['stream', 'offset', 'epoch', 'positions']) expect(event).not.toHaveProperty(field);
      client.close();
      const history = await off.http('GET', '/ws/history?stream=channel:1', { token: ADMIN_TOKEN });
      expect(history.status).toBe(404);
    },
  );
});
