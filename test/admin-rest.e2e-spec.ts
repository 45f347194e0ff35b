import { inStream } from './support/positions.js';
import { TestClient } from './support/test-client.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';
import { hsToken } from './support/tokens.js';

describe('REST admin API (SPEC §8)', () => {
  let t: TestApp;
  const adminJwt = hsToken({ sub: 'root', roles: ['admin'] });
  const userJwt = hsToken({ sub: 'joe', roles: ['user'] });

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('serves GET /ws/health without credentials', async () => {
    const { status, body } = await t.http('GET', '/ws/health');
    expect(status).toBe(200);
    expect(body).toEqual({
      status: 'ok',
      bus: 'memory',
      redis: 'disabled',
      connections: expect.any(Number),
      uptime: expect.any(Number),
    });
  });

  it.each([
    ['GET', '/ws/stats'],
    ['GET', '/ws/clients'],
    ['GET', '/ws/clients/x'],
    ['DELETE', '/ws/clients/x'],
    ['POST', '/ws/publish'],
  ])('closes %s %s: 401 without or with bad credentials, 403 for a non-admin JWT', async (method, path) => {
    expect((await t.http(method, path)).status).toBe(401);
    expect((await t.http(method, path, { token: 'wrong' })).status).toBe(401);
    expect(
      (
        await t.http(method, path, {
          token: hsToken({ sub: 'x', roles: ['admin'] }, 'not-the-secret-not-the-secret-xx'),
        })
      ).status,
    ).toBe(401);
    expect((await t.http(method, path, { token: userJwt })).status).toBe(403);
  });

  it.each([
    ['no credentials', 'GET', '/ws/stats', {}, 401, 'Unauthorized', ['Admin credentials required']],
    ['a bad token', 'GET', '/ws/stats', { token: 'wrong' }, 401, 'Unauthorized', ['Invalid or expired token']],
    ['a non-admin JWT', 'GET', '/ws/stats', { token: userJwt }, 403, 'Forbidden', ['Admin role required']],
    [
      'a bad query',
      'GET',
      '/ws/clients?limit=0',
      { token: ADMIN_TOKEN },
      400,
      'Bad Request',
      ['limit must not be less than 1'],
    ],
    [
      'an unknown client',
      'GET',
      '/ws/clients/missing',
      { token: ADMIN_TOKEN },
      404,
      'Not Found',
      ['No client missing'],
    ],
    [
      'a body of no known shape',
      'POST',
      '/ws/publish',
      { token: ADMIN_TOKEN, body: { x: 1 } },
      400,
      'Bad Request',
      [expect.stringMatching(/^body must carry a room \(chat\)/)],
    ],
  ])(
    'answers %s in the one error shape of the admin API',
    async (_name, method, path, options, status, error, message) => {
      const response = await t.http(method, path, options);
      expect(response).toEqual({ status, body: { statusCode: status, error, message } });
    },
  );

  it('accepts WS_ADMIN_TOKEN and admin-role JWTs', async () => {
    expect((await t.http('GET', '/ws/stats', { token: ADMIN_TOKEN })).status).toBe(200);
    expect((await t.http('GET', '/ws/stats', { token: adminJwt })).status).toBe(200);
  });

  describe('with clients connected', () => {
    let alice: TestClient;
    let bobs: TestClient[];
    beforeAll(async () => {
      alice = await t.chat({ sub: 'alice', username: 'Alice' });
      alice.send({ type: 'join_room', room: 'channel:3' });
      await alice.nextOfType('room_joined');
      bobs = [await t.chat({ sub: 'bob' }), await t.chat({ sub: 'bob' }), await t.chat({ sub: 'bob' })];
    });
    afterAll(() => [alice, ...bobs].forEach((c) => c.close()));

    it('reports stats per gateway', async () => {
      const { body } = await t.http('GET', '/ws/stats', { token: ADMIN_TOKEN });
      expect(body).toMatchObject({
        instance_id: expect.any(String),
        uptime: expect.any(Number),
        connections: { total: 4, by_gateway: { chat: 4, scheduler: 0, checkpoint: 0, notify: 0 } },
        messages: { in: expect.any(Number), out: expect.any(Number), per_second: expect.any(Number) },
        rooms: { chat: 3 },
      });
      expect(body.messages.in).toBeGreaterThanOrEqual(1);
      expect(body.messages.out).toBeGreaterThanOrEqual(5);
      expect(body.messages.by_gateway.chat).toEqual({ in: body.messages.in, out: body.messages.out });
      expect(body.messages.by_gateway.notify).toEqual({ in: 0, out: 0 });
      expect(body.cluster.by_instance).toEqual({ [body.instance_id]: 4 });
    });

    it('lists clients with their metadata, filtered and paginated', async () => {
      const all = await t.http('GET', '/ws/clients', { token: ADMIN_TOKEN });
      expect(all.body.total).toBe(4);
      const a = all.body.clients.find((c: any) => c.user_id === 'alice');
      expect(a).toEqual({
        id: expect.any(String),
        gateway: 'chat',
        user_id: 'alice',
        username: 'Alice',
        ip: '127.0.0.1',
        user_agent: '',
        connected_at: expect.any(String),
        last_seen: expect.any(String),
        rooms: expect.arrayContaining(['user:alice', 'channel:3']),
        rooms_total: 2,
        messages_in: 1,
        messages_out: 2,
        instance: expect.any(String),
      });

      const onlyBob = await t.http('GET', '/ws/clients?user=bob&gateway=chat', { token: ADMIN_TOKEN });
      expect(onlyBob.body.clients.map((c: any) => c.user_id)).toEqual(['bob', 'bob', 'bob']);
      expect((await t.http('GET', '/ws/clients?gateway=notify', { token: ADMIN_TOKEN })).body.total).toBe(0);

      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page: any = await t.http('GET', `/ws/clients?limit=3${cursor ? `&cursor=${cursor}` : ''}`, {
          token: ADMIN_TOKEN,
        });
        expect(page.body.clients.length).toBeLessThanOrEqual(3);
        seen.push(...page.body.clients.map((c: any) => c.id));
        cursor = page.body.next_cursor;
      } while (cursor);
      expect(seen).toHaveLength(4);
      expect(new Set(seen).size).toBe(4);
    });

    it.each(['limit=0', 'limit=1001', 'limit=abc', 'gateway=nope', 'cursor=not*a*cursor', 'unknown=1'])(
      'rejects a bad query (%s) with 400 and reasons',
      async (query) => {
        const { status, body } = await t.http('GET', `/ws/clients?${query}`, { token: ADMIN_TOKEN });
        expect(status).toBe(400);
        expect(body.message).toEqual(expect.arrayContaining([expect.any(String)]));
      },
    );

    it('gets one client or 404, and disconnects it with close 4000', async () => {
      const list = await t.http('GET', '/ws/clients?user=bob&limit=1', { token: ADMIN_TOKEN });
      const id = list.body.clients[0].id;
      expect((await t.http('GET', `/ws/clients/${id}`, { token: ADMIN_TOKEN })).body.id).toBe(id);
      expect((await t.http('GET', '/ws/clients/missing', { token: ADMIN_TOKEN })).status).toBe(404);

      const target = bobs.find((b) => b.frames[0].data.connection_id === id)!;
      const deleted = await t.http('DELETE', `/ws/clients/${id}`, { token: adminJwt });
      expect(deleted).toEqual({ status: 200, body: { disconnected: true, id } });
      expect(await target.waitClose()).toEqual({ code: 4000, reason: 'Disconnected by administrator' });
      expect((await t.http('DELETE', `/ws/clients/${id}`, { token: ADMIN_TOKEN })).status).toBe(404);
    });

    it('publishes a chat event to a room with POST /ws/publish', async () => {
      const response = await t.http('POST', '/ws/publish', {
        token: ADMIN_TOKEN,
        body: { room: 'channel:3', type: 'message.edited', data: { id: 9, content: 'edited' }, sender: 'svc' },
      });
      expect(response.status).toBe(200);
      expect(await alice.nextOfType('message.edited')).toEqual({
        type: 'message.edited',
        room: 'channel:3',
        data: { id: 9, content: 'edited' },
        sender: 'svc',
        timestamp: expect.any(String),
        ...inStream('channel:3'),
      });
    });

    it.each([
      ['no body', undefined],
      ['invalid JSON', '{bad'],
      ['a bad room', { room: 'team:1', type: 'message', data: {} }],
      ['an unknown type', { room: 'channel:3', type: 'explode', data: {} }],
      ['the error type', { room: 'channel:3', type: 'error', data: {} }],
      ['non-object data', { room: 'channel:3', type: 'message', data: 'x' }],
      ['a non-string sender', { room: 'channel:3', type: 'message', data: {}, sender: 5 }],
    ])('rejects %s with 400', async (_name, body) => {
      const response = await t.http('POST', '/ws/publish', { token: ADMIN_TOKEN, body });
      expect(response.status).toBe(400);
      expect(response.body.message).toBeDefined();
    });
  });
});
