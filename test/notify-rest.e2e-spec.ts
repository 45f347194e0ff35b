import { seedFields } from './support/positions.js';
import { ADMIN_TOKEN } from './support/test-app.js';
import { hsToken } from './support/tokens.js';
import { frame, messages, openNotify, quiet, waitMessages } from './support/notify-client.js';
import { openScheduler } from './support/scheduler-client.js';
import { describeApp } from './support/describe-app.js';
import { ID_64, noClients, now } from './support/notify-fixtures.js';

/** A REST publish answers once the event is stored, with its stream positions (issue 26). */
const STORED = { stored: true, positions: expect.any(Object) };

/**
 * SPEC §8 (seed 002), the notify row `POST /ws/send-message`: the host's REST way to message one
 * notify client or all. Connections: test/notify-connections.e2e-spec.ts; messages from
 * `NotifyPublisher` and from clients: test/notify-messages.e2e-spec.ts.
 */

describe('POST /ws/send-message (SPEC §8, seed 002)', () => {
  const { t, track } = describeApp({ rateLimitPerSec: 1000 }, noClients);
  const adminJwt = hsToken({ sub: 'root', roles: ['admin'] });

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
    expect(response).toEqual({ status: 200, body: { sent: true, reached: 1, ...STORED } });
    await waitMessages(target, (f) => f.type === 'alert');
    await quiet([target, other]);
    expect(messages(target)).toEqual([frame('alert', { text: 'disk full' }, { severity: 'high' })]);
    expect(messages(other)).toEqual([]);
  });

  it('accepts an admin-role JWT as well as the admin token, and refuses others with 401/403', async () => {
    const target = track(await openNotify(t, 'auth-target', { sub: 'u' }));
    const body = { type: 'ok', content: 'via jwt', client_id: 'auth-target' };
    expect(await send(body, adminJwt)).toEqual({ status: 200, body: { sent: true, reached: 1, ...STORED } });
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
    expect(response).toEqual({ status: 200, body: { sent: true, reached: 3, ...STORED } });
    for (const client of clients) await waitMessages(client, (f) => f.type === 'announcement');
    await quiet(clients, 300);
    for (const client of clients) expect(messages(client)).toEqual([frame('announcement', 'maintenance at 5')]);
    expect(chat.frames.filter((f) => f.type === 'announcement')).toEqual([]);
    expect(scheduler.frames.filter((f) => f.type === 'announcement')).toEqual([]);
  });

  it('answers reached 0 for a broadcast with no notify client and for an unknown client id', async () => {
    expect(await send({ type: 'nobody', content: 1 })).toEqual({
      status: 200,
      body: { sent: true, reached: 0, ...STORED },
    });
    const present = track(await openNotify(t, 'present', { sub: 'u' }));
    const chat = track(await t.chat({ sub: 'chat-user' }));
    const chatId = chat.frames[0].data.connection_id as string;
    for (const clientId of ['absent', 'Present', chatId]) {
      expect(await send({ type: 'lost', content: 1, client_id: clientId })).toEqual({
        status: 200,
        body: { sent: true, reached: 0, ...STORED },
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
      body: { sent: true, reached: 1, ...STORED },
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
      body: { sent: true, reached: 1, ...STORED },
    });
    expect(await send({ type: 'id', content: 2, client_id: ID_64 })).toEqual({
      status: 200,
      body: { sent: true, reached: 1, ...STORED },
    });
    expect(seedFields(await a.nextOfType('id'))).toEqual(frame('id', 1));
    expect(seedFields(await b.nextOfType('id'))).toEqual(frame('id', 2));
  });
});
