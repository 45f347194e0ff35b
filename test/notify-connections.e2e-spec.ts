import { NotifyPublisher } from '../src/realtime/index.js';
import { seedFields } from './support/positions.js';
import { TestClient, eventually, sleep, type Frame } from './support/test-client.js';
import { ADMIN_TOKEN } from './support/test-app.js';
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
  isoTimestamp,
  listedNotifyIds,
  messages,
  notifyPath,
  openNotify,
  ping,
  pongFrame,
  quiet,
  refused,
  upgradeStatus,
  waitMessages,
} from './support/notify-client.js';
import { openScheduler } from './support/scheduler-client.js';
import { openCheckpoint } from './support/checkpoint-client.js';
import { describeApp } from './support/describe-app.js';
import { ID_64, noClients, noNotifyClients, now } from './support/notify-fixtures.js';

/**
 * SPEC §6 (seed 002), the notify gateway's connections on `/ws` and `/ws/:clientId`: paths, §2
 * authentication and token expiry, the welcome, one connection per client id (replacement),
 * `DELETE /ws/clients/:id` (§8), and the app-level heartbeat that ends silent clients.
 * Messages: test/notify-messages.e2e-spec.ts; `POST /ws/send-message`: test/notify-rest.e2e-spec.ts.
 */

describe('notify gateway: paths, authentication and the welcome (SPEC §2, §6)', () => {
  const { t, track } = describeApp({ allowedOrigins: ['https://app.example.com'] }, noNotifyClients);

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
  const { t } = describeApp({ auth: { secret: TEST_SECRET, clockToleranceSec: 0 } });

  it('closes the connection with 4401 "Token expired" when exp passes', async () => {
    const exp = now() + 2;
    const client = await openNotify(t, 'expiring', { sub: 'e', exp });
    const keeper = await openNotify(t, 'keeper', { sub: 'k' });
    await ping(client);
    expect(await client.waitClose(4000)).toEqual({ code: 4401, reason: 'Token expired' });
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000 - 50);
    // Told first (issue 24: `token_expiring`, halfway through a lifetime shorter than the notice), then closed.
    expect(client.frames).toEqual([
      connectedFrame('expiring'),
      pongFrame(expect.any(String)),
      {
        type: 'token_expiring',
        content: 'Token expires soon',
        meta: { expires_at: new Date(exp * 1000).toISOString(), expires_in: expect.any(Number) },
        timestamp: expect.any(String),
      },
    ]);
    await eventually(async () => (await listedNotifyIds(t, ADMIN_TOKEN)).length === 1, 3000, 'expired one gone');
    expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual(['keeper']);
    expect(keeper.socket.readyState).toBe(keeper.socket.OPEN);
    keeper.close();
  });
});

describe('notify gateway: one connection per client id, admin disconnect (SPEC §6, §8)', () => {
  const { t, track } = describeApp({}, noClients);
  let publisher: NotifyPublisher;
  beforeAll(() => {
    publisher = t.app.get(NotifyPublisher);
  });

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

describe('notify gateway: app-level heartbeat (SPEC §6, seed 002)', () => {
  const INTERVAL = 200;
  const TIMEOUT = 700;
  const { t, open } = describeApp({ heartbeatIntervalMs: INTERVAL, heartbeatTimeoutMs: TIMEOUT }, noNotifyClients);
  const heartbeatClient = async (clientId: string, sub: string): Promise<TestClient> => {
    const client = await openNotify(t, clientId, { sub });
    open.push(client);
    return client;
  };

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
