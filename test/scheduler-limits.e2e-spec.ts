import { SchedulerPublisher } from '../src/realtime/index.js';
import {
  TestClient,
  eventually,
  expectOnePerSecond,
  expectWithinRate,
  sleep,
  sustainedFlood,
  type Frame,
} from './support/test-client.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';
import { hsToken, type Claims } from './support/tokens.js';
import { captureOutput, expectNoCrash, expectNoStack, expectUnpolluted } from './support/capture-output.js';
import { caseLabel, checkGenerated } from './support/hostile-frames.js';
import {
  ISO_MS,
  SCHEDULER_PATHS,
  errorFrame,
  events,
  expectSchedulerError,
  isoTimestamp,
  openScheduler,
  refused,
  reply,
  sampleExperiment,
  schedulerBarrage,
  subscribedFrame,
  waitEvents,
} from './support/scheduler-client.js';

/** Scheduler limits (SPEC §4, §10): connections per user, per IP and in total; the inbound rate limit; hostile frames. */

const TOO_MANY = { frames: [errorFrame('Too many connections')], code: 4429, reason: 'Too many connections' };

const schedulerCount = async (t: TestApp): Promise<number> =>
  (await t.http('GET', '/ws/stats', { token: ADMIN_TOKEN })).body.connections.by_gateway.scheduler as number;

/** Sends every frame in one TCP write, so the server sees them as one burst (those in `invalid` on purpose). */
function sendBurst(client: TestClient, frames: Frame[], invalid: ReadonlySet<Frame> = new Set()): void {
  const socket = (client.socket as unknown as { _socket: { cork(): void; uncork(): void } })._socket;
  socket.cork();
  for (const frame of frames) client.send(frame, { invalid: invalid.has(frame) });
  socket.uncork();
}

describe('scheduler connections per user (default 10)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 1000 });
  });
  afterAll(() => t.close());

  it('accepts the 10th connection of a user over every path and refuses the 11th with an error frame and 4429', async () => {
    const claims: Claims = { sub: 'tenner' };
    const tabs: TestClient[] = [];
    for (let i = 0; i < 10; i++) tabs.push(await openScheduler(t, SCHEDULER_PATHS[i % 4], claims));
    for (const path of SCHEDULER_PATHS) {
      expect(await refused(t.wsUrl(path, hsToken(claims)))).toEqual(TOO_MANY);
    }
    // the header token counts the same user
    expect(await refused(t.wsUrl('/ws/user'), { headers: { authorization: `Bearer ${hsToken(claims)}` } })).toEqual(
      TOO_MANY,
    );
    // the refused ones did not take a slot, and other users are not affected
    expect(await schedulerCount(t)).toBe(10);
    const other = await openScheduler(t, '/ws/experiments/exp-1', { sub: 'someone-else' });
    // the ten are untouched
    for (const tab of tabs) expect(tab.socket.readyState).toBe(tab.socket.OPEN);

    tabs[0].close();
    await tabs[0].waitClose();
    await eventually(async () => (await schedulerCount(t)) === 10, 3000, 'a freed slot');
    tabs[0] = await openScheduler(t, '/ws/projects/proj-again', claims);
    expect(await refused(t.wsUrl('/ws/tasks/t-11', hsToken(claims)))).toEqual(TOO_MANY);
    [...tabs, other].forEach((c) => c.close());
    await eventually(async () => (await schedulerCount(t)) === 0, 3000, 'all released');
  });

  it('counts only scheduler connections: a user’s chat connections do not take scheduler slots', async () => {
    const chats = [await t.chat({ sub: 'mixed' }), await t.chat({ sub: 'mixed' })];
    const tabs: TestClient[] = [];
    for (let i = 0; i < 10; i++) tabs.push(await openScheduler(t, '/ws/user', { sub: 'mixed' }));
    expect(await refused(t.wsUrl('/ws/user', hsToken({ sub: 'mixed' })))).toEqual(TOO_MANY);
    [...tabs, ...chats].forEach((c) => c.close());
    await eventually(async () => (await schedulerCount(t)) === 0, 3000, 'all released');
  });
});

describe('scheduler connections per IP (maxConnectionsPerIp 3)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ scheduler: { maxConnectionsPerIp: 3 } });
  });
  afterAll(() => t.close());

  it('accepts the 3rd connection from 127.0.0.1 (different users) and refuses the 4th with 4429', async () => {
    const chat = await t.chat({ sub: 'chatty' }); // another gateway: not counted
    const tabs = [
      await openScheduler(t, '/ws/experiments/exp-1', { sub: 'ip-1' }),
      await openScheduler(t, '/ws/tasks/task-1', { sub: 'ip-2' }),
      await openScheduler(t, '/ws/user', { sub: 'ip-3' }),
    ];
    expect(await refused(t.wsUrl('/ws/projects/p-1', hsToken({ sub: 'ip-4' })))).toEqual(TOO_MANY);
    expect(await refused(t.wsUrl('/ws/user', hsToken({ sub: 'ip-1' })))).toEqual(TOO_MANY);
    expect(await refused(t.wsUrl('/ws/user', hsToken({ sub: 'root', roles: ['admin'] })))).toEqual(TOO_MANY);
    expect(await schedulerCount(t)).toBe(3);
    const chat2 = await t.chat({ sub: 'chatty-2' });

    tabs[1].close();
    await tabs[1].waitClose();
    await eventually(async () => (await schedulerCount(t)) === 2, 3000, 'a freed slot');
    tabs[1] = await openScheduler(t, '/ws/projects/p-1', { sub: 'ip-4' });
    expect(await refused(t.wsUrl('/ws/user', hsToken({ sub: 'ip-5' })))).toEqual(TOO_MANY);
    [...tabs, chat, chat2].forEach((c) => c.close());
  });
});

describe('scheduler connections in total (maxConnections 4)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ scheduler: { maxConnections: 4 } });
  });
  afterAll(() => t.close());

  it('accepts the 4th connection and refuses the 5th with 4429, admins included', async () => {
    const tabs = [
      await openScheduler(t, '/ws/experiments/exp-1', { sub: 'n-1' }),
      await openScheduler(t, '/ws/tasks/task-1', { sub: 'n-2' }),
      await openScheduler(t, '/ws/projects/p-1', { sub: 'n-3' }),
      await openScheduler(t, '/ws/user', { sub: 'n-4' }),
    ];
    expect(await refused(t.wsUrl('/ws/user', hsToken({ sub: 'n-5' })))).toEqual(TOO_MANY);
    expect(await refused(t.wsUrl('/ws/experiments/exp-1', hsToken({ sub: 'root', roles: ['admin'] })))).toEqual(
      TOO_MANY,
    );
    const chat = await t.chat({ sub: 'n-5' }); // another gateway: not counted
    tabs[3].close();
    await tabs[3].waitClose();
    await eventually(async () => (await schedulerCount(t)) === 3, 3000, 'a freed slot');
    tabs[3] = await openScheduler(t, '/ws/user', { sub: 'n-5' });
    expect(await refused(t.wsUrl('/ws/user', hsToken({ sub: 'n-6' })))).toEqual(TOO_MANY);
    [...tabs, chat].forEach((c) => c.close());
  });
});

describe('scheduler inbound rate limit, defaults (20/s, burst 40)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('answers a burst of 40 pings, drops the next 20 with one "Rate limit exceeded", and stays open', async () => {
    const client = await openScheduler(t, '/ws/experiments/exp-flood', { sub: 'flood' });
    const output = captureOutput();
    try {
      sendBurst(
        client,
        Array.from({ length: 60 }, (_, i) => ({ type: 'ping', id: `ping-${i}` })),
      );
      await eventually(() => client.ofType('error').length >= 1 && client.ofType('pong').length >= 40, 3000);
      await sleep(300);
    } finally {
      output.restore();
    }
    expect(client.ofType('pong').map((p) => p.id)).toEqual(Array.from({ length: 40 }, (_, i) => `pong-${i}`));
    expect(client.ofType('error')).toEqual([errorFrame('Rate limit exceeded')]);
    expectNoStack(output);

    await sleep(1_100);
    expect(await reply(client, { type: 'ping', id: 'ping-later' })).toEqual({
      type: 'pong',
      id: 'pong-later',
      timestamp: isoTimestamp(),
    });
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    client.close();
  });

  it('limits each connection on its own: another connection of the same user is not slowed', async () => {
    const flood = await openScheduler(t, '/ws/experiments/exp-flood', { sub: 'flood-2' });
    const calm = await openScheduler(t, '/ws/user', { sub: 'flood-2' });
    sendBurst(
      flood,
      Array.from({ length: 60 }, (_, i) => ({ type: 'ping', id: `ping-${i}` })),
    );
    await eventually(() => flood.ofType('error').length >= 1, 3000);
    expect(await reply(calm, { type: 'ping', id: 'ping-calm' })).toEqual({
      type: 'pong',
      id: 'pong-calm',
      timestamp: isoTimestamp(),
    });
    expect(calm.ofType('error')).toEqual([]);
    flood.close();
    calm.close();
  });
});

describe('scheduler inbound rate limit (5/s, burst 10)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 5 });
  });
  afterAll(() => t.close());

  it('counts every kind of frame: subscribes and bad frames too', async () => {
    const client = await openScheduler(t, '/ws/experiments/exp-r', { sub: 'rl' });
    const frames: Frame[] = [];
    for (let i = 0; i < 4; i++) frames.push({ type: 'ping', id: `ping-${i}` });
    for (let i = 0; i < 3; i++)
      frames.push({ type: 'system_status', data: { action: 'subscribe', resourceType: 'task', resourceId: `t-${i}` } });
    const unknown: Frame[] = Array.from({ length: 3 }, () => ({ type: 'dance' }));
    frames.push(...unknown);
    for (let i = 0; i < 5; i++) frames.push({ type: 'ping', id: `ping-x${i}` });
    sendBurst(client, frames, new Set(unknown));
    await eventually(() => client.frames.length >= 1 + 10 + 1, 3000, '11 replies');
    await sleep(300);
    const replies = client.frames.slice(1);
    expect(replies).toHaveLength(11);
    // the replies to the ten accepted frames, in the order of the frames
    const answered = replies.filter((f) => f.error !== 'Rate limit exceeded');
    expect(answered).toEqual([
      ...[0, 1, 2, 3].map((i) => ({ type: 'pong', id: `pong-${i}`, timestamp: isoTimestamp() })),
      ...[0, 1, 2].map((i) => subscribedFrame('task', `t-${i}`)),
      ...Array(3).fill(errorFrame('Unknown message type')),
    ]);
    // the five frames past the burst: one rate-limit error, no pong
    expect(replies.filter((f) => f.error === 'Rate limit exceeded')).toEqual([errorFrame('Rate limit exceeded')]);
    client.close();
  });

  it('sends at most one rate-limit error per second under a sustained flood', async () => {
    const client = await openScheduler(t, '/ws/user', { sub: 'flood-3' });
    const elapsed = await sustainedFlood(client, () => ({ type: 'ping' }));
    const limited = client.ofType('error');
    limited.forEach((error) => expect(error).toEqual(errorFrame('Rate limit exceeded')));
    expectOnePerSecond(limited, elapsed);
    expectWithinRate(client.ofType('pong').length, elapsed, 10, 5);
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    client.close();
  });
});

describe('hostile input on the scheduler gateway (SPEC §10)', () => {
  const SEED = 0x5eed_5c4e;
  let t: TestApp;
  let pub: SchedulerPublisher;
  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 100_000 });
    pub = t.app.get(SchedulerPublisher);
  });
  afterAll(() => t.close());

  it('generates the same barrage for the same seed, every kind included, each frame well formed for its kind', () => {
    const render = (seed: number) => schedulerBarrage(seed, 400).map((c) => `${c.kind}|${String(c.payload)}`);
    expect(render(SEED)).toEqual(render(SEED));
    const cases = schedulerBarrage(SEED, 400);
    cases.forEach(checkGenerated);
    const kinds = new Set(cases.map((c) => c.kind.split(' ')[0]));
    expect(kinds.size).toBeGreaterThanOrEqual(9);
    // within the default per-connection byte budget (burst one maximal frame)
    const bytes = cases.reduce((sum, c) => sum + Buffer.byteLength(c.payload), 0);
    expect(bytes).toBeLessThan(1_048_576);
  });

  it('answers every hostile frame with one error frame, stays open, leaks nothing to a bystander and prints no stack', async () => {
    const cases = schedulerBarrage(SEED, 400);
    const hostile = await openScheduler(t, '/ws/experiments/e-h', { sub: 'hostile' });
    const bystander = await openScheduler(t, '/ws/experiments/e-h', { sub: 'bystander' });
    const other = await openScheduler(t, '/ws/user', { sub: 'bystander' });
    const before = hostile.frames.length;

    const output = captureOutput();
    let published = 0;
    const publish = (): void => {
      pub.experimentUpdated(sampleExperiment('e-h', { status: `S${published++}` }));
    };
    try {
      const chunk = 25;
      for (let i = 0; i < cases.length; i += chunk) {
        for (const c of cases.slice(i, i + chunk)) hostile.send(c.payload, { invalid: true });
        publish();
        await sleep(1);
      }
      await eventually(
        () => hostile.frames.slice(before).filter((f) => f.type === 'error').length >= cases.length,
        15_000,
        `${cases.length} error frames`,
      );
      hostile.send({ type: 'ping', id: 'ping-final' });
      await eventually(() => hostile.frames.some((f) => f.type === 'pong' && f.id === 'pong-final'), 5000);
      publish();
      await waitEvents(bystander, (f) => f.type === 'experiment_updated', published, 5000);
      await sleep(100);
    } finally {
      output.restore();
    }

    // one reply per hostile frame, in order, each exactly a scheduler error frame; then the pong
    const replies = hostile.frames.slice(before);
    const own = replies.filter((frame) => frame.type === 'error' || frame.type === 'pong');
    cases.forEach((c, i) => expectSchedulerError(own[i], c.errors, caseLabel(c, i)));
    expect(own[cases.length]).toEqual({ type: 'pong', id: 'pong-final', timestamp: expect.stringMatching(ISO_MS) });
    expect(own).toHaveLength(cases.length + 1);
    // nothing else reached the hostile client but the experiment's events (no subscription was made)
    expect(replies.filter((f) => !['error', 'pong', 'experiment_updated'].includes(f.type))).toEqual([]);
    const sent = Array.from({ length: published }, (_, i) => `S${i}`);
    expect(events(hostile).map((f) => f.data.experiment.status)).toEqual(sent);

    // still open, still answering
    expect(hostile.socket.readyState).toBe(hostile.socket.OPEN);
    expect(await reply(hostile, { type: 'ping', id: 'ping-again' })).toEqual({
      type: 'pong',
      id: 'pong-again',
      timestamp: isoTimestamp(),
    });

    // the bystanders got exactly the events, in order, and nothing of the barrage
    expect(events(bystander).map((f) => f.data.experiment.status)).toEqual(sent);
    expect(bystander.frames.filter((f) => f.type !== 'experiment_updated').map((f) => f.type)).toEqual([
      'system_status',
    ]);
    expect(other.frames.map((f) => f.type)).toEqual(['system_status']);

    // the hostile connection holds only its path subscription
    const listed = await t.http('GET', '/ws/clients?gateway=scheduler&user=hostile', { token: ADMIN_TOKEN });
    expect(listed.body.clients.map((c: any) => c.rooms)).toEqual([['experiment:e-h']]);

    // no stack trace, no unhandled error, nothing polluted
    expectNoCrash(output);
    expectUnpolluted(['roles', 'isAdmin', 'polluted', 'acl']);

    for (const client of [hostile, bystander, other]) client.close();
    await eventually(async () => (await schedulerCount(t)) === 0, 3000, 'connections released');
  });
});
