import { NotifyPublisher } from '../src/realtime/index.js';
import { seedFields } from './support/positions.js';
import { TestClient, eventually, sleep, type Frame } from './support/test-client.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';
import { TEST_SECRET, hsToken, noneToken } from './support/tokens.js';
import {
  ADMIN_CLOSED,
  AUTH_REQUIRED,
  INVALID_TOKEN,
  REPLACED,
  UUID,
  clientIdOf,
  closeAll,
  collectInbound,
  connectedFrame,
  errorFrame,
  frame,
  heartbeatFrame,
  inbound,
  isoTimestamp,
  listedNotifyIds,
  messages,
  notifyPath,
  openNotify,
  ping,
  pongFrame,
  quiet,
  refused,
  reply,
  upgradeStatus,
  waitMessages,
} from './support/notify-client.js';
import { openScheduler } from './support/scheduler-client.js';
import { openCheckpoint } from './support/checkpoint-client.js';

/**
 * SPEC §6 (seed 002), the notify gateway on `/ws` and `/ws/:clientId`: paths, §2 authentication,
 * the welcome, replacement of a client id, messages from the host app (`NotifyPublisher`) to one
 * client or all, frames from clients to the host, the app-level heartbeat, and the §8 rows
 * `POST /ws/send-message` and `DELETE /ws/clients/:id`.
 */

const now = (): number => Math.floor(Date.now() / 1000);
const ID_64 = `${'a1_.-B'.repeat(10)}abcd`;

describe('notify gateway: paths, authentication and the welcome (SPEC §2, §6)', () => {
  let t: TestApp;
  const open: TestClient[] = [];
  const track = (client: TestClient): TestClient => {
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    t = await startTestApp({ allowedOrigins: ['https://app.example.com'] });
  });
  afterEach(async () => {
    await closeAll(open.splice(0));
    await eventually(async () => (await listedNotifyIds(t, ADMIN_TOKEN)).length === 0, 3000, 'notify clients gone');
  });
  afterAll(() => t.close());

  it('gives each /ws connection a fresh UUID client id, shown by the admin view as a notify client', async () => {
    const alice = track(await openNotify(t, undefined, { sub: 'alice-sub', username: 'alice' }));
    const other = track(await openNotify(t, undefined, { sub: 'alice-sub', username: 'alice' }));
    const id = clientIdOf(alice);
    expect(id).toMatch(UUID);
    expect(clientIdOf(other)).toMatch(UUID);
    expect(clientIdOf(other)).not.toBe(id);
    expect(alice.frames).toEqual([connectedFrame(id)]);

    const shown = await t.http('GET', `/ws/clients/${id}`, { token: ADMIN_TOKEN });
    expect(shown).toEqual({
      status: 200,
      body: {
        id,
        gateway: 'notify',
        user_id: 'alice-sub',
        username: 'alice',
        ip: '127.0.0.1',
        user_agent: expect.any(String),
        connected_at: isoTimestamp(),
        last_seen: isoTimestamp(),
        // its own stream (the broadcast, every notify client's, is not listed)
        rooms: [`client:${id}`],
        rooms_total: 1,
        messages_in: 0,
        messages_out: 1,
        instance: expect.any(String),
      },
    });
    expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual([id, clientIdOf(other)].sort());
  });

  it('counts 64 and 65 characters right', () => {
    expect(ID_64).toHaveLength(64);
  });

  it.each([
    ['letters', 'client123'],
    ['every allowed character', 'A-z_0.9-x'],
    ['one character', 'x'],
    ['dots', '.hidden..x'],
    ['64 characters', ID_64],
  ])('uses the path’s client id (%s)', async (_name, clientId) => {
    const client = track(await openNotify(t, clientId, { sub: 'path-user' }));
    expect(client.frames).toEqual([connectedFrame(clientId)]);
    const shown = await t.http('GET', `/ws/clients/${clientId}`, { token: ADMIN_TOKEN });
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ id: clientId, gateway: 'notify', user_id: 'path-user' });
  });

  it.each([
    ['65 characters', `${ID_64}e`],
    ['a space', 'a%20b'],
    ['an encoded slash', 'a%2Fb'],
    ['a plus', 'a+b'],
    ['a tilde', 'a~b'],
    ['a colon', 'a:b'],
    ['an accented letter', 'caf%C3%A9'],
    ['a second segment', 'a/b'],
    ['an encoded NUL', 'a%00'],
  ])('refuses a client id with %s with HTTP 404 before the upgrade', async (_name, clientId) => {
    expect(await upgradeStatus(t.wsUrl(`/ws/${clientId}`, hsToken({ sub: 'u' })))).toBe(404);
  });

  it.each(['experiments', 'tasks', 'projects'])(
    'does not take the scheduler word /ws/%s for a client id (HTTP 404)',
    async (word) => {
      expect(await upgradeStatus(t.wsUrl(`/ws/${word}`, hsToken({ sub: 'u' })))).toBe(404);
      expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual([]);
    },
  );

  it('leaves /ws/user to the scheduler and /ws/checkpoints to the checkpoint gateway', async () => {
    const scheduler = track(await openScheduler(t, '/ws/user', { sub: 'u' }));
    const checkpoint = track(await openCheckpoint(t, { sub: 'u' }));
    await sleep(100);
    expect(scheduler.frames.filter((f) => f.type === 'connected')).toEqual([]);
    expect(checkpoint.frames).toEqual([]);
    const gateways = (await t.http('GET', '/ws/clients', { token: ADMIN_TOKEN })).body.clients.map(
      (c: { gateway: string }) => c.gateway,
    );
    expect(gateways.sort()).toEqual(['checkpoint', 'scheduler']);
    expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual([]);
  });

  it.each([
    ['/ws', notifyPath()],
    ['/ws/:clientId', notifyPath('no-token')],
  ])('refuses %s without a token: the error frame, then close 4401', async (_name, path) => {
    const result = await refused(t.wsUrl(path));
    expect(result).toEqual({ frames: [errorFrame(AUTH_REQUIRED)], code: 4401, reason: AUTH_REQUIRED });
    expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual([]);
  });

  it.each([
    ['garbage', () => 'not.a.jwt'],
    ['a wrong signature', () => hsToken({ sub: 'x' }, 'another-secret-another-secret-another')],
    ['an expired token', () => hsToken({ sub: 'x', exp: now() - 60 })],
    ['alg none', () => noneToken({ sub: 'x', exp: now() + 60 })],
    ['no sub', () => hsToken({ username: 'x' })],
  ])('refuses %s with the error frame and close 4401 "Invalid or expired token"', async (_name, token) => {
    for (const path of [notifyPath(), notifyPath('bad-token')]) {
      const result = await refused(t.wsUrl(path, token()));
      expect(result).toEqual({ frames: [errorFrame(INVALID_TOKEN)], code: 4401, reason: INVALID_TOKEN });
    }
    const header = await refused(t.wsUrl(notifyPath('bad-header')), {
      headers: { authorization: `Bearer ${token()}` },
    });
    expect(header).toEqual({ frames: [errorFrame(INVALID_TOKEN)], code: 4401, reason: INVALID_TOKEN });
    expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual([]);
  });

  it('accepts the token from the Authorization: Bearer header, and prefers the query token', async () => {
    track(await openNotify(t, 'by-header', { sub: 'h' }, { viaHeader: true }));
    const result = await refused(t.wsUrl(notifyPath('both'), 'garbage'), {
      headers: { authorization: `Bearer ${hsToken({ sub: 'h' })}` },
    });
    expect(result).toEqual({ frames: [errorFrame(INVALID_TOKEN)], code: 4401, reason: INVALID_TOKEN });
  });

  it('refuses an unlisted Origin with HTTP 403, accepts a listed one and a client without Origin', async () => {
    const token = hsToken({ sub: 'o' });
    expect(await upgradeStatus(t.wsUrl('/ws', token), { origin: 'https://evil.example.com' })).toBe(403);
    expect(await upgradeStatus(t.wsUrl('/ws/origin-1', token), { origin: 'https://evil.example.com' })).toBe(403);
    track(await openNotify(t, 'origin-ok', { sub: 'o' }, { origin: 'https://app.example.com' }));
    track(await openNotify(t, 'no-origin', { sub: 'o' }));
    expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual(['no-origin', 'origin-ok']);
  });

  it('does not let a refused connection (no token, bad token, bad origin) replace a connected client id', async () => {
    const victim = track(await openNotify(t, 'victim', { sub: 'v' }));
    expect((await refused(t.wsUrl('/ws/victim'))).code).toBe(4401);
    expect((await refused(t.wsUrl('/ws/victim', 'garbage'))).code).toBe(4401);
    expect(await upgradeStatus(t.wsUrl('/ws/victim', hsToken({ sub: 'v' })), { origin: 'https://evil.test' })).toBe(
      403,
    );
    t.app.get(NotifyPublisher).notify({ type: 'still-here', content: 1 }, 'victim');
    expect(seedFields(await victim.nextOfType('still-here'))).toEqual(frame('still-here', 1));
    expect(victim.socket.readyState).toBe(victim.socket.OPEN);
    expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual(['victim']);
  });
});

describe('notify gateway: token expiry while connected (SPEC §2)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ auth: { secret: TEST_SECRET, clockToleranceSec: 0 } });
  });
  afterAll(() => t.close());

  it('closes the connection with 4401 "Token expired" when exp passes', async () => {
    const exp = now() + 2;
    const client = await openNotify(t, 'expiring', { sub: 'e', exp });
    const keeper = await openNotify(t, 'keeper', { sub: 'k' });
    await ping(client);
    expect(await client.waitClose(4000)).toEqual({ code: 4401, reason: 'Token expired' });
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000 - 50);
    expect(client.frames).toEqual([connectedFrame('expiring'), pongFrame(expect.any(String))]);
    await eventually(async () => (await listedNotifyIds(t, ADMIN_TOKEN)).length === 1, 3000, 'expired one gone');
    expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual(['keeper']);
    expect(keeper.socket.readyState).toBe(keeper.socket.OPEN);
    keeper.close();
  });
});

describe('notify gateway: one connection per client id, admin disconnect (SPEC §6, §8)', () => {
  let t: TestApp;
  let publisher: NotifyPublisher;
  const open: TestClient[] = [];
  const track = (client: TestClient): TestClient => {
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    t = await startTestApp();
    publisher = t.app.get(NotifyPublisher);
  });
  afterEach(async () => {
    await closeAll(open.splice(0));
    await eventually(async () => (await t.http('GET', '/ws/clients', { token: ADMIN_TOKEN })).body.total === 0);
  });
  afterAll(() => t.close());

  it('closes the first connection of a client id with 4409 when a second one arrives; the second gets its messages', async () => {
    const first = track(await openNotify(t, 'tab', { sub: 'u1' }));
    const second = track(await openNotify(t, 'tab', { sub: 'u1' }));
    expect(await first.waitClose()).toEqual(REPLACED);
    expect(second.frames).toEqual([connectedFrame('tab')]);

    publisher.notify({ type: 'hello', content: 'for the tab' }, 'tab');
    await waitMessages(second, (f) => f.type === 'hello');
    await quiet([second]);
    expect(messages(second)).toEqual([frame('hello', 'for the tab')]);
    expect(first.frames).toEqual([connectedFrame('tab')]);
    expect(second.socket.readyState).toBe(second.socket.OPEN);

    expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual(['tab']);
    const shown = await t.http('GET', '/ws/clients/tab', { token: ADMIN_TOKEN });
    expect(shown.body).toMatchObject({ id: 'tab', gateway: 'notify', messages_in: 1 }); // the quiet ping
  });

  it('keeps only the newest of its owner’s connections of one id; another user is refused 4403 meanwhile (§6 owners)', async () => {
    const first = track(await openNotify(t, 'shared', { sub: 'u1' }));
    const intruder = await refused(t.wsUrl('/ws/shared', hsToken({ sub: 'u2' })));
    expect(intruder).toEqual({ frames: [errorFrame('Client id in use')], code: 4403, reason: 'Client id in use' });
    const newest = track(await openNotify(t, 'shared', { sub: 'u1' }));
    expect(await first.waitClose()).toEqual(REPLACED);
    publisher.notify({ type: 'only-newest' }, 'shared');
    publisher.notify({ type: 'broadcast' });
    await waitMessages(newest, (f) => f.type === 'broadcast');
    await quiet([newest]);
    expect(messages(newest)).toEqual([frame('only-newest', null), frame('broadcast', null)]);
    expect(first.frames).toEqual([connectedFrame('shared')]);
    expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual(['shared']);
  });

  it('lets the closed connection’s id be used again, and distinct ids live side by side', async () => {
    const a = track(await openNotify(t, 'side-a', { sub: 'u' }));
    const b = track(await openNotify(t, 'side-b', { sub: 'u' }));
    a.close();
    await a.waitClose();
    await eventually(async () => (await listedNotifyIds(t, ADMIN_TOKEN)).length === 1);
    const again = track(await openNotify(t, 'side-a', { sub: 'u' }));
    await sleep(100);
    expect(b.socket.readyState).toBe(b.socket.OPEN);
    expect(again.socket.readyState).toBe(again.socket.OPEN);
    expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual(['side-a', 'side-b']);
  });

  it('refuses a notify client id that names another gateway’s connection, which goes on', async () => {
    const chat = track(await t.chat({ sub: 'chatter' }));
    const chatId = chat.frames[0].data.connection_id as string;
    chat.send({ type: 'join_room', room: 'channel:1' });
    await chat.nextOfType('room_joined');

    const intruder = track(new TestClient(t.wsUrl(`/ws/${chatId}`, hsToken({ sub: 'mallory' }))));
    expect(await intruder.waitClose()).toEqual({ code: 4403, reason: 'Client id in use' });
    expect(intruder.frames).toEqual([frame('error', 'Client id in use')]);
    // the chat connection is not a notify client: nothing replaces it, nothing reaches it
    chat.send({ type: 'send_message', room: 'channel:1', data: { content: 'still in' } });
    expect((await chat.nextOfType('message')).data.content).toBe('still in');
    publisher.notify({ type: 'for-notify' }, chatId);
    await sleep(100);
    expect(chat.frames.filter((f) => f.type === 'for-notify')).toEqual([]);
    expect(chat.socket.readyState).toBe(chat.socket.OPEN);
  });

  it('DELETE /ws/clients/:id closes a notify client with 4000, then 404; others stay', async () => {
    const target = track(await openNotify(t, 'doomed', { sub: 'd' }));
    const other = track(await openNotify(t, 'spared', { sub: 'd' }));
    const anonymous = track(await openNotify(t, undefined, { sub: 'd' }));

    expect(await t.http('DELETE', '/ws/clients/doomed', { token: hsToken({ sub: 'd' }) })).toMatchObject({
      status: 403,
    });
    expect((await t.http('DELETE', '/ws/clients/doomed')).status).toBe(401);
    expect(target.socket.readyState).toBe(target.socket.OPEN);

    const deleted = await t.http('DELETE', '/ws/clients/doomed', { token: ADMIN_TOKEN });
    expect(deleted).toEqual({ status: 200, body: { disconnected: true, id: 'doomed' } });
    expect(await target.waitClose()).toEqual(ADMIN_CLOSED);
    await eventually(async () => (await t.http('GET', '/ws/clients/doomed', { token: ADMIN_TOKEN })).status === 404);
    expect((await t.http('DELETE', '/ws/clients/doomed', { token: ADMIN_TOKEN })).status).toBe(404);

    const anonymousId = clientIdOf(anonymous);
    const adminJwt = hsToken({ sub: 'root', roles: ['admin'] });
    expect(await t.http('DELETE', `/ws/clients/${anonymousId}`, { token: adminJwt })).toEqual({
      status: 200,
      body: { disconnected: true, id: anonymousId },
    });
    expect(await anonymous.waitClose()).toEqual(ADMIN_CLOSED);
    await eventually(async () => (await listedNotifyIds(t, ADMIN_TOKEN)).length === 1);
    expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual(['spared']);
    expect(other.socket.readyState).toBe(other.socket.OPEN);
  });
});

describe('notify gateway: messages from the host app (NotifyPublisher, SPEC §6)', () => {
  let t: TestApp;
  let publisher: NotifyPublisher;
  const open: TestClient[] = [];
  const track = <T extends TestClient>(client: T): T => {
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 1000 });
    publisher = t.app.get(NotifyPublisher);
  });
  afterEach(async () => {
    await closeAll(open.splice(0));
    await eventually(async () => (await t.http('GET', '/ws/clients', { token: ADMIN_TOKEN })).body.total === 0);
  });
  afterAll(() => t.close());

  /** One connection of every other gateway: none of them may ever get a notify message. */
  async function otherGateways(): Promise<TestClient[]> {
    const chat = track(await t.chat({ sub: 'chat-user' }));
    chat.send({ type: 'join_room', room: 'channel:1' });
    await chat.nextOfType('room_joined');
    const scheduler = track(await openScheduler(t, '/ws/user', { sub: 'sched-user' }));
    const checkpoint = track(await openCheckpoint(t, { sub: 'cp-user' }));
    return [chat, scheduler, checkpoint];
  }

  const notifyTypes = (client: TestClient): unknown[] =>
    client.frames.filter((f) => ['direct', 'everyone', 'logs', 'task_started', 'x'].includes(f.type));

  it('sends a message to one client id only, exactly as given', async () => {
    const target = track(await openNotify(t, 'target', { sub: 'u' }));
    const bystander = track(await openNotify(t, 'bystander', { sub: 'u' }));
    const anonymous = track(await openNotify(t, undefined, { sub: 'u' }));
    const others = await otherGateways();

    const content = { text: 'hello', n: [1, 2.5, null, true], nested: { 'é🏓': 'ü' } };
    publisher.notify({ type: 'direct', content, meta: { task_id: 't-1', level: 'info' } }, 'target');
    await waitMessages(target, (f) => f.type === 'direct');
    await quiet([target, bystander, anonymous]);
    await sleep(100);

    expect(messages(target)).toEqual([frame('direct', content, { task_id: 't-1', level: 'info' })]);
    expect(messages(bystander)).toEqual([]);
    expect(messages(anonymous)).toEqual([]);
    for (const other of others) expect(notifyTypes(other)).toEqual([]);
  });

  it('reaches a /ws client by its generated id', async () => {
    const anonymous = track(await openNotify(t, undefined, { sub: 'u' }));
    publisher.notify({ type: 'direct', content: 'by uuid' }, clientIdOf(anonymous));
    expect(seedFields(await anonymous.nextOfType('direct'))).toEqual(frame('direct', 'by uuid'));
  });

  it('fills in content null and meta {} when the host leaves them out', async () => {
    const target = track(await openNotify(t, 'defaults', { sub: 'u' }));
    publisher.notify({ type: 'bare' }, 'defaults');
    publisher.notify({ type: 'no-meta', content: 0 }, 'defaults');
    publisher.notify({ type: 'no-content', meta: { a: 1 } }, 'defaults');
    publisher.notify({ type: 'falsy', content: false, meta: {} }, 'defaults');
    publisher.notify({ type: 'empty', content: '' }, 'defaults');
    await waitMessages(target, (f) => f.type === 'empty');
    await quiet([target]);
    expect(messages(target)).toEqual([
      frame('bare', null),
      frame('no-meta', 0),
      frame('no-content', null, { a: 1 }),
      frame('falsy', false),
      frame('empty', ''),
    ]);
  });

  it('broadcasts to every notify client once, and to no other gateway', async () => {
    const notifyClients = [
      track(await openNotify(t, 'b-1', { sub: 'u1' })),
      track(await openNotify(t, 'b-2', { sub: 'u2' })),
      track(await openNotify(t, undefined, { sub: 'u3' })),
      track(await openNotify(t, undefined, { sub: 'u3' })),
    ];
    const others = await otherGateways();
    publisher.notify({ type: 'everyone', content: { n: 1 }, meta: { source: 'host' } });
    for (const client of notifyClients) await waitMessages(client, (f) => f.type === 'everyone');
    await quiet(notifyClients, 300);
    for (const client of notifyClients) {
      expect(messages(client)).toEqual([frame('everyone', { n: 1 }, { source: 'host' })]);
    }
    for (const other of others) expect(notifyTypes(other)).toEqual([]);
  });

  it('words the task-worker helpers as seed 002 frames (logs, task_started, task_success, task_failure)', async () => {
    const worker = track(await openNotify(t, 'worker-ui', { sub: 'u' }));
    const other = track(await openNotify(t, 'other-ui', { sub: 'u' }));
    publisher.log('task-1', 'starting up');
    publisher.log('task-1', 'disk almost full', 'warning');
    publisher.log('task-2', 'only for worker-ui', 'error', 'worker-ui');
    publisher.taskStarted('task-1');
    publisher.taskStarted('task-2', { attempt: 2 }, 'worker-ui');
    publisher.taskSuccess('task-1');
    publisher.taskSuccess('task-2', { result: 42 }, 'worker-ui');
    publisher.taskFailure('task-3', 'boom: out of memory');
    publisher.taskFailure('task-4', 'only for worker-ui', 'worker-ui');
    await waitMessages(worker, (f) => f.type === 'task_failure', 2);
    await waitMessages(other, (f) => f.type === 'task_failure');
    await quiet([worker, other]);

    const forEveryone = [
      frame('logs', 'starting up', { level: 'info', task_id: 'task-1' }),
      frame('logs', 'disk almost full', { level: 'warning', task_id: 'task-1' }),
      frame('task_started', null, { task_id: 'task-1' }),
      frame('task_success', null, { task_id: 'task-1' }),
      frame('task_failure', 'boom: out of memory', { task_id: 'task-3' }),
    ];
    expect(messages(worker)).toEqual([
      forEveryone[0],
      forEveryone[1],
      frame('logs', 'only for worker-ui', { level: 'error', task_id: 'task-2' }),
      forEveryone[2],
      frame('task_started', { attempt: 2 }, { task_id: 'task-2' }),
      forEveryone[3],
      frame('task_success', { result: 42 }, { task_id: 'task-2' }),
      forEveryone[4],
      frame('task_failure', 'only for worker-ui', { task_id: 'task-4' }),
    ]);
    expect(messages(other)).toEqual(forEveryone);
  });

  it('delivers 500 messages to one client in the order they were published', async () => {
    const client = track(await openNotify(t, 'ordered', { sub: 'u' }));
    for (let i = 0; i < 500; i++) publisher.notify({ type: 'x', content: i, meta: { seq: i } }, 'ordered');
    await waitMessages(client, (f) => f.type === 'x', 500, 10_000);
    await quiet([client]);
    expect(messages(client)).toEqual(Array.from({ length: 500 }, (_, i) => frame('x', i, { seq: i })));
  });

  it('drops a message to a client id nobody holds, without error and without reaching anyone', async () => {
    const client = track(await openNotify(t, 'present', { sub: 'u' }));
    expect(() => publisher.notify({ type: 'lost', content: 1 }, 'absent')).not.toThrow();
    expect(() => publisher.notify({ type: 'lost', content: 1 }, 'PRESENT')).not.toThrow();
    await quiet([client], 200);
    expect(messages(client)).toEqual([]);
  });
});

describe('notify gateway: frames from clients (SPEC §6, §10)', () => {
  let t: TestApp;
  const open: TestClient[] = [];
  const track = (client: TestClient): TestClient => {
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 1000 });
  });
  afterEach(async () => {
    await closeAll(open.splice(0));
  });
  afterAll(() => t.close());

  it('answers a client’s own ping with a pong carrying its ping_id, and does not hand it to the host', async () => {
    const host = collectInbound(t);
    try {
      const client = track(await openNotify(t, 'pinger', { sub: 'p' }));
      expect(await reply(client, { type: 'ping', meta: { ping_id: 'p1' } })).toEqual(pongFrame('p1'));
      expect(await reply(client, { type: 'ping', content: 'ping', meta: { ping_id: 'abc-42', extra: 1 } })).toEqual(
        pongFrame('abc-42'),
      );
      client.send({ type: 'pong', meta: { ping_id: 'server-ping' } });
      await quiet([client]);
      expect(client.frames.filter((f) => f.type !== 'pong')).toEqual([connectedFrame('pinger')]);
      expect(host.items).toEqual([]);
    } finally {
      host.stop();
    }
  });

  it('hands every other typed frame to the host app, in order, with the client id and user, and sends nothing back', async () => {
    const host = collectInbound(t);
    try {
      const named = track(await openNotify(t, 'sender', { sub: 'sender-sub' }));
      const anonymous = track(await openNotify(t, undefined, { sub: 42 }));
      const sent: Frame[] = [
        { type: 'custom', content: { a: 1, list: [1, 'two', null] }, meta: { k: 'v' } },
        { type: 'bare' },
        { type: 'content-only', content: 'text' },
        { type: 'meta-only', meta: { ping_id: 'not-a-ping' } },
        { type: 'falsy', content: 0, meta: {} },
        { type: 'null-content', content: null },
        { type: 'extra-fields', content: 'x', timestamp: 'client time', other: { deep: true } },
        { type: 'logs', content: 'a log line from the browser', meta: { level: 'info' } },
        { type: 'error', content: 'the client reports an error' },
        { type: 'connected', content: 'a client-side type may be anything' },
        { type: 'x'.repeat(64), content: 'longest type' },
        { type: 'é🏓 ünïcode', content: '✓' },
      ];
      for (const f of sent) named.send(f);
      anonymous.send({ type: 'from-anonymous', content: { ok: true } });
      await eventually(() => host.items.length === sent.length + 1, 3000, 'every frame at the host');
      await quiet([named, anonymous]);

      const anonymousId = clientIdOf(anonymous);
      const fromNamed = host.items.filter((item) => item.clientId === 'sender');
      expect(fromNamed).toEqual([
        inbound('sender', 'sender-sub', 'custom', { a: 1, list: [1, 'two', null] }, { k: 'v' }),
        inbound('sender', 'sender-sub', 'bare'),
        inbound('sender', 'sender-sub', 'content-only', 'text'),
        inbound('sender', 'sender-sub', 'meta-only', null, { ping_id: 'not-a-ping' }),
        inbound('sender', 'sender-sub', 'falsy', 0),
        inbound('sender', 'sender-sub', 'null-content'),
        inbound('sender', 'sender-sub', 'extra-fields', 'x'),
        inbound('sender', 'sender-sub', 'logs', 'a log line from the browser', { level: 'info' }),
        inbound('sender', 'sender-sub', 'error', 'the client reports an error'),
        inbound('sender', 'sender-sub', 'connected', 'a client-side type may be anything'),
        inbound('sender', 'sender-sub', 'x'.repeat(64), 'longest type'),
        inbound('sender', 'sender-sub', 'é🏓 ünïcode', '✓'),
      ]);
      expect(host.items.filter((item) => item.clientId !== 'sender')).toEqual([
        inbound(anonymousId, 42, 'from-anonymous', { ok: true }),
      ]);
      for (const item of host.items) expect(Date.parse(item.receivedAt)).not.toBeNaN();

      // nothing went back: only the welcome and the quiet pong
      expect(named.frames.filter((f) => f.type !== 'pong')).toEqual([connectedFrame('sender')]);
      expect(anonymous.frames.filter((f) => f.type !== 'pong')).toEqual([connectedFrame(anonymousId)]);
    } finally {
      host.stop();
    }
  });

  it('counts the frames a client sent in the admin view', async () => {
    const client = track(await openNotify(t, 'counted', { sub: 'c' }));
    for (let i = 0; i < 3; i++) client.send({ type: 'note', content: i });
    await ping(client);
    const shown = await t.http('GET', '/ws/clients/counted', { token: ADMIN_TOKEN });
    expect(shown.body).toMatchObject({ id: 'counted', gateway: 'notify', messages_in: 4, messages_out: 2 });
  });

  it.each<[string, string | Buffer, string | RegExp]>([
    ['no type', '{"content":"x"}', 'Missing message type'],
    ['an empty object', '{}', 'Missing message type'],
    ['a numeric type', '{"type":5}', 'Missing message type'],
    ['a null type', '{"type":null,"content":"x"}', 'Missing message type'],
    ['an array type', '{"type":["custom"]}', 'Missing message type'],
    ['an object type', '{"type":{"name":"custom"}}', 'Missing message type'],
    ['a boolean type', '{"type":true}', 'Missing message type'],
    ['text that is not JSON', 'hello there', 'Invalid JSON'],
    ['truncated JSON', '{"type":"custom","content":', 'Invalid JSON'],
    ['an empty frame', '', 'Invalid JSON'],
    ['a JSON array', '[{"type":"custom"}]', 'Frame must be a JSON object'],
    ['a JSON string', '"custom"', 'Frame must be a JSON object'],
    ['JSON null', 'null', 'Frame must be a JSON object'],
    ['a JSON number', '42', 'Frame must be a JSON object'],
    ['a binary frame', Buffer.from('{"type":"custom"}'), 'Binary frames are not supported'],
    ['an empty type', '{"type":""}', 'type must be 1 to 64 characters'],
    ['a 65-character type', JSON.stringify({ type: 'x'.repeat(65) }), 'type must be 1 to 64 characters'],
    ['a string meta', '{"type":"custom","meta":"m"}', 'meta must be an object'],
    ['an array meta', '{"type":"custom","meta":[1]}', 'meta must be an object'],
    ['a numeric meta', '{"type":"custom","content":1,"meta":7}', 'meta must be an object'],
    ['a __proto__ key', '{"type":"custom","__proto__":{"isAdmin":true}}', /__proto__/],
    ['a nested constructor key', '{"type":"custom","meta":{"constructor":{"prototype":1}}}', /constructor/],
    ['a prototype key in content', '{"type":"custom","content":[{"prototype":{}}]}', /prototype/],
    ['JSON nested 33 levels', `{"type":"custom","content":${'['.repeat(32)}${']'.repeat(32)}}`, /nest|deep|depth/i],
  ])('answers %s with one error frame and keeps the connection usable', async (_name, payload, error) => {
    const host = collectInbound(t);
    try {
      const client = track(await openNotify(t, 'wrong', { sub: 'w' }));
      const answer = await reply(client, payload);
      expect(answer).toEqual(errorFrame(typeof error === 'string' ? error : expect.stringMatching(error)));
      await ping(client);
      client.send({ type: 'after', content: 'fine' });
      await eventually(() => host.items.length === 1, 2000, 'the next frame at the host');
      await quiet([client]);
      expect(host.items).toEqual([inbound('wrong', 'w', 'after', 'fine')]);
      expect(client.frames.filter((f) => f.type === 'error')).toHaveLength(1);
      expect(client.socket.readyState).toBe(client.socket.OPEN);
    } finally {
      host.stop();
    }
  });
});

describe('notify gateway: app-level heartbeat (SPEC §6, seed 002)', () => {
  const INTERVAL = 200;
  const TIMEOUT = 700;
  let t: TestApp;
  const open: TestClient[] = [];
  const heartbeatClient = async (clientId: string, sub: string): Promise<TestClient> => {
    const client = await openNotify(t, clientId, { sub });
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    t = await startTestApp({ heartbeatIntervalMs: INTERVAL, heartbeatTimeoutMs: TIMEOUT });
  });
  afterEach(async () => {
    await closeAll(open.splice(0));
    await eventually(async () => (await listedNotifyIds(t, ADMIN_TOKEN)).length === 0, 3000, 'notify clients gone');
  });
  afterAll(() => t.close());

  /** Answers every server ping with `{"type":"pong","meta":{"ping_id":…}}`, as seed 002's client does. */
  function answerPings(client: TestClient): void {
    client.socket.on('message', (data) => {
      const f = JSON.parse((data as Buffer).toString()) as Frame;
      if (f.type === 'ping') {
        client.send({ type: 'pong', content: 'pong', meta: { ping_id: f.meta.ping_id, timestamp: Date.now() } });
      }
    });
  }

  it('sends {"type":"ping","content":"ping","meta":{"ping_id"}} every interval, each with a fresh id', async () => {
    const client = await heartbeatClient('beat', 'b');
    answerPings(client);
    await eventually(() => client.frames.filter((f) => f.type === 'ping').length >= 4, 3000, 'four pings');
    const pings = client.frames.filter((f) => f.type === 'ping');
    for (const p of pings) expect(p).toEqual(heartbeatFrame());
    const ids = pings.map((p) => p.meta.ping_id as string);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => id.length > 0)).toBe(true);
    expect(client.frames.filter((f) => f.type !== 'ping')).toEqual([connectedFrame('beat')]);
    client.close();
    await client.waitClose();
  });

  it('terminates a client that answers no ping (protocol pongs do not count), and forgets it', async () => {
    const host = collectInbound(t);
    try {
      const silent = await heartbeatClient('silent', 's');
      const alive = await heartbeatClient('alive', 'a');
      answerPings(alive);
      const openedAt = Date.now();
      const closed = await silent.waitClose(TIMEOUT + 4 * INTERVAL + 1000);
      expect(closed.code).toBe(1006);
      expect(Date.now() - openedAt).toBeGreaterThanOrEqual(TIMEOUT - 50);
      expect(silent.frames.filter((f) => f.type === 'ping').length).toBeGreaterThanOrEqual(2);
      expect(silent.frames.filter((f) => f.type !== 'ping')).toEqual([connectedFrame('silent')]);
      await eventually(async () => (await listedNotifyIds(t, ADMIN_TOKEN)).length === 1, 3000, 'silent one gone');
      expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual(['alive']);
      expect(alive.socket.readyState).toBe(alive.socket.OPEN);
      expect(host.items.filter((item) => item.type === 'pong')).toEqual([]);
      alive.close();
      await alive.waitClose();
    } finally {
      host.stop();
    }
  });

  it('keeps a client that answers the pings, or that sends other frames, across many intervals', async () => {
    const answering = await heartbeatClient('answering', 'a');
    answerPings(answering);
    const chatty = await heartbeatClient('chatty', 'c');
    const timer = setInterval(() => chatty.send({ type: 'status', content: 'working' }), INTERVAL / 2);
    try {
      await sleep(3 * TIMEOUT);
    } finally {
      clearInterval(timer);
    }
    for (const client of [answering, chatty]) {
      expect(client.socket.readyState).toBe(client.socket.OPEN);
      expect(client.frames.filter((f) => f.type === 'ping').length).toBeGreaterThanOrEqual(6);
      await ping(client);
    }
    expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual(['answering', 'chatty']);
    await closeAll([answering, chatty]);
  });

  it('terminates a client that answered at first once it stops', async () => {
    const client = await heartbeatClient('quitter', 'q');
    let answering = true;
    client.socket.on('message', (data) => {
      const f = JSON.parse((data as Buffer).toString()) as Frame;
      if (f.type === 'ping' && answering) client.send({ type: 'pong', meta: { ping_id: f.meta.ping_id } });
    });
    await sleep(2 * TIMEOUT);
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    answering = false;
    expect((await client.waitClose(TIMEOUT + 4 * INTERVAL + 1000)).code).toBe(1006);
    await eventually(async () => (await listedNotifyIds(t, ADMIN_TOKEN)).length === 0, 3000, 'quitter gone');
  });
});

describe('POST /ws/send-message (SPEC §8, seed 002)', () => {
  let t: TestApp;
  const open: TestClient[] = [];
  const track = (client: TestClient): TestClient => {
    open.push(client);
    return client;
  };
  const adminJwt = hsToken({ sub: 'root', roles: ['admin'] });

  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 1000 });
  });
  afterEach(async () => {
    await closeAll(open.splice(0));
    await eventually(async () => (await t.http('GET', '/ws/clients', { token: ADMIN_TOKEN })).body.total === 0);
  });
  afterAll(() => t.close());

  const send = (body: unknown, token: string | undefined = ADMIN_TOKEN) =>
    t.http('POST', '/ws/send-message', { token, body });

  it('sends to one client id and answers {"sent":true,"reached":1}', async () => {
    const target = track(await openNotify(t, 'rest-target', { sub: 'u' }));
    const other = track(await openNotify(t, 'rest-other', { sub: 'u' }));
    const response = await send({
      type: 'alert',
      content: { text: 'disk full' },
      meta: { severity: 'high' },
      client_id: 'rest-target',
    });
    expect(response).toEqual({ status: 200, body: { sent: true, reached: 1 } });
    await waitMessages(target, (f) => f.type === 'alert');
    await quiet([target, other]);
    expect(messages(target)).toEqual([frame('alert', { text: 'disk full' }, { severity: 'high' })]);
    expect(messages(other)).toEqual([]);
  });

  it('accepts an admin-role JWT as well as the admin token, and refuses others with 401/403', async () => {
    const target = track(await openNotify(t, 'auth-target', { sub: 'u' }));
    const body = { type: 'ok', content: 'via jwt', client_id: 'auth-target' };
    expect(await send(body, adminJwt)).toEqual({ status: 200, body: { sent: true, reached: 1 } });
    expect((await send({ ...body, content: 'no token' }, '')).status).toBe(401);
    expect((await send({ ...body, content: 'bad token' }, 'wrong')).status).toBe(401);
    expect(
      (await send({ ...body, content: 'expired' }, hsToken({ sub: 'root', roles: ['admin'], exp: now() - 60 }))).status,
    ).toBe(401);
    expect((await send({ ...body, content: 'not admin' }, hsToken({ sub: 'joe' }))).status).toBe(403);
    expect((await send({ ...body, content: 'not admin' }, hsToken({ sub: 'joe', roles: ['user'] }))).status).toBe(403);
    await waitMessages(target, (f) => f.type === 'ok');
    await quiet([target]);
    expect(messages(target)).toEqual([frame('ok', 'via jwt')]);
  });

  it('broadcasts without client_id to every notify client once and answers how many it reached', async () => {
    const clients = [
      track(await openNotify(t, 'all-1', { sub: 'u1' })),
      track(await openNotify(t, 'all-2', { sub: 'u2' })),
      track(await openNotify(t, undefined, { sub: 'u3' })),
    ];
    const chat = track(await t.chat({ sub: 'chat-user' }));
    const scheduler = track(await openScheduler(t, '/ws/user', { sub: 'sched-user' }));
    const response = await send({ type: 'announcement', content: 'maintenance at 5' });
    expect(response).toEqual({ status: 200, body: { sent: true, reached: 3 } });
    for (const client of clients) await waitMessages(client, (f) => f.type === 'announcement');
    await quiet(clients, 300);
    for (const client of clients) expect(messages(client)).toEqual([frame('announcement', 'maintenance at 5')]);
    expect(chat.frames.filter((f) => f.type === 'announcement')).toEqual([]);
    expect(scheduler.frames.filter((f) => f.type === 'announcement')).toEqual([]);
  });

  it('answers reached 0 for a broadcast with no notify client and for an unknown client id', async () => {
    expect(await send({ type: 'nobody', content: 1 })).toEqual({ status: 200, body: { sent: true, reached: 0 } });
    const present = track(await openNotify(t, 'present', { sub: 'u' }));
    const chat = track(await t.chat({ sub: 'chat-user' }));
    const chatId = chat.frames[0].data.connection_id as string;
    for (const clientId of ['absent', 'Present', chatId]) {
      expect(await send({ type: 'lost', content: 1, client_id: clientId })).toEqual({
        status: 200,
        body: { sent: true, reached: 0 },
      });
    }
    await quiet([present], 200);
    expect(messages(present)).toEqual([]);
    expect(chat.frames.filter((f) => f.type === 'lost')).toEqual([]);
  });

  it.each<[string, unknown]>([
    ['a string', 'text'],
    ['an empty string', ''],
    ['zero', 0],
    ['false', false],
    ['an array', [1, 'two', { three: 3 }]],
    ['an empty object', {}],
    ['an object', { nested: { list: [true, null] } }],
  ])('delivers content that is %s exactly', async (_name, content) => {
    const target = track(await openNotify(t, 'content', { sub: 'u' }));
    expect(await send({ type: 'c', content, client_id: 'content' })).toEqual({
      status: 200,
      body: { sent: true, reached: 1 },
    });
    await waitMessages(target, (f) => f.type === 'c');
    await quiet([target]);
    expect(messages(target)).toEqual([frame('c', content)]);
  });

  it.each<[string, unknown]>([
    ['no body', undefined],
    ['an empty object', {}],
    ['no type', { content: 'x' }],
    ['no content', { type: 'x' }],
    ['a numeric type', { type: 5, content: 'x' }],
    ['an empty type', { type: '', content: 'x' }],
    ['a 65-character type', { type: 'x'.repeat(65), content: 'x' }],
    ['a string meta', { type: 'x', content: 'x', meta: 'm' }],
    ['an array meta', { type: 'x', content: 'x', meta: [1] }],
    ['a numeric meta', { type: 'x', content: 'x', meta: 3 }],
    ['a client_id with a space', { type: 'x', content: 'x', client_id: 'a b' }],
    ['a client_id with a slash', { type: 'x', content: 'x', client_id: 'a/b' }],
    ['a 65-character client_id', { type: 'x', content: 'x', client_id: 'c'.repeat(65) }],
    ['an empty client_id', { type: 'x', content: 'x', client_id: '' }],
    ['a numeric client_id', { type: 'x', content: 'x', client_id: 5 }],
    ['an unknown field', { type: 'x', content: 'x', room: 'channel:1' }],
    ['a camel-case clientId', { type: 'x', content: 'x', clientId: 'target' }],
    ['invalid JSON', '{"type":"x",'],
    ['a JSON array', '[{"type":"x","content":"x"}]'],
  ])('refuses %s with 400 and the reasons, sending nothing', async (_name, body) => {
    const target = track(await openNotify(t, 'target', { sub: 'u' }));
    const response = await send(body);
    expect(response.status).toBe(400);
    expect(response.body.statusCode).toBe(400);
    // Validation gives a list of reasons; a body that is not JSON at all, the parser's one reason.
    const reasons: unknown[] = [response.body.message].flat();
    expect(reasons.length).toBeGreaterThan(0);
    for (const reason of reasons) expect(reason).toEqual(expect.stringMatching(/\S/));
    expect(JSON.stringify(response.body)).not.toMatch(/\s+at\s.*\.(ts|js):\d+/);
    await quiet([target], 200);
    expect(messages(target)).toEqual([]);
  });

  it('names the offending fields in the 400 reasons', async () => {
    const missing = await send({});
    expect(missing.body.message.join('\n')).toMatch(/type/);
    expect(missing.body.message.join('\n')).toMatch(/content/);
    expect((await send({ type: 'x', content: 1, meta: 'm' })).body.message.join('\n')).toMatch(/meta/);
    expect((await send({ type: 'x', content: 1, client_id: 'a b' })).body.message.join('\n')).toMatch(/client_id/);
    expect((await send({ type: 'x', content: 1, extra: 1 })).body.message.join('\n')).toMatch(/extra/);
  });

  it('accepts a client_id of the full alphabet and 64 characters', async () => {
    const a = track(await openNotify(t, 'A-z_0.9-x', { sub: 'u' }));
    const b = track(await openNotify(t, ID_64, { sub: 'u' }));
    expect(await send({ type: 'id', content: 1, client_id: 'A-z_0.9-x' })).toEqual({
      status: 200,
      body: { sent: true, reached: 1 },
    });
    expect(await send({ type: 'id', content: 2, client_id: ID_64 })).toEqual({
      status: 200,
      body: { sent: true, reached: 1 },
    });
    expect(seedFields(await a.nextOfType('id'))).toEqual(frame('id', 1));
    expect(seedFields(await b.nextOfType('id'))).toEqual(frame('id', 2));
  });
});
