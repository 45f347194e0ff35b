import { anyPosition } from './support/positions.js';
import { TestClient, eventually, sleep, type Frame } from './support/test-client.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';
import { TEST_SECRET, hsToken, noneToken, type Claims } from './support/tokens.js';
import { depthOf, frameOfBytes, nestedObjects } from './support/hostile-frames.js';
import {
  FORBIDDEN,
  INVALID,
  ISO_MS,
  SCHEDULER_PATHS,
  UNKNOWN,
  anyId,
  errorFrame,
  isoTimestamp,
  openScheduler,
  pathResource,
  quiet,
  refused,
  reply,
  subscribe,
  subscribeMessage,
  pathSubscribedFrame,
  subscribedFrame,
  unsubscribe,
  upgradeStatus,
  type ResourceType,
} from './support/scheduler-client.js';

/** The scheduler gateway's protocol (SPEC §2, §4, §7, §10; seed 001): connect, ping, subscriptions, errors. */

const nowSec = (): number => Math.floor(Date.now() / 1000);

describe('scheduler gateway: connect and SPEC §2 on every path', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      auth: { secret: TEST_SECRET, clockToleranceSec: 0 },
      allowedOrigins: ['https://ok.example'],
    });
  });
  afterAll(() => t.close());

  it.each(SCHEDULER_PATHS)('answers a connection to %s first with the subscription response', async (path) => {
    const client = await TestClient.open(t.wsUrl(path, hsToken({ sub: 'alice', username: 'Alice' })));
    const first = await client.next();
    const { resourceType, resourceId } = pathResource(path, 'alice');
    expect(first).toEqual({
      type: 'system_status',
      id: expect.any(String),
      timestamp: expect.stringMatching(ISO_MS),
      data: {
        action: 'subscribed',
        resourceType,
        resourceId,
        status: 'success',
        ...anyPosition(),
        broadcast: anyPosition(),
      },
    });
    expect(first.id.length).toBeGreaterThan(0);
    await quiet([client]);
    // nothing but the subscription response and the quiet() pong
    expect(client.frames.map((frame) => frame.type)).toEqual(['system_status', 'pong']);
    client.close();
  });

  it('subscribes /ws/user to the token’s sub as a string, for a numeric sub too', async () => {
    const client = await TestClient.open(t.wsUrl('/ws/user', hsToken({ sub: 42 })));
    expect(await client.next()).toEqual(pathSubscribedFrame('user', '42'));
    client.close();
  });

  it.each(SCHEDULER_PATHS)('accepts the token from an Authorization: Bearer header on %s', async (path) => {
    const client = await openScheduler(t, path, { sub: 'bob' }, { viaHeader: true });
    client.close();
  });

  it.each(SCHEDULER_PATHS)('prefers the query token over the header on %s', async (path) => {
    const result = await refused(t.wsUrl(path, 'garbage'), {
      headers: { authorization: `Bearer ${hsToken({ sub: 'bob' })}` },
    });
    expect(result).toEqual({
      frames: [errorFrame('Invalid or expired token')],
      code: 4401,
      reason: 'Invalid or expired token',
    });
  });

  it.each(SCHEDULER_PATHS)(
    'refuses %s without a token: error frame, then close 4401 "Authentication required"',
    async (path) => {
      const result = await refused(t.wsUrl(path));
      expect(result).toEqual({
        frames: [errorFrame('Authentication required')],
        code: 4401,
        reason: 'Authentication required',
      });
    },
  );

  const badTokens: Array<[string, () => string]> = [
    ['garbage', () => 'not.a.jwt'],
    ['a wrong signature', () => hsToken({ sub: 'x' }, 'another-secret-another-secret-another')],
    ['an expired token', () => hsToken({ sub: 'x', exp: nowSec() - 60 })],
    ['alg none', () => noneToken({ sub: 'x', exp: nowSec() + 3600 })],
    ['a token without sub', () => hsToken({ username: 'x' })],
  ];
  const badRows: Array<[string, string, () => string]> = SCHEDULER_PATHS.flatMap((path) =>
    badTokens.map(([name, token]): [string, string, () => string] => [path, name, token]),
  );

  it.each(badRows)(
    'refuses %s with %s: error frame, then close 4401 "Invalid or expired token"',
    async (path, _n, token) => {
      const result = await refused(t.wsUrl(path, token()));
      expect(result).toEqual({
        frames: [errorFrame('Invalid or expired token')],
        code: 4401,
        reason: 'Invalid or expired token',
      });
    },
  );

  it.each(SCHEDULER_PATHS)('refuses an unlisted Origin on %s with HTTP 403 and accepts a listed one', async (path) => {
    const token = hsToken({ sub: 'carol' });
    expect(await upgradeStatus(t.wsUrl(path, token), { headers: { origin: 'https://evil.example' } })).toBe(403);
    await openScheduler(t, path, { sub: 'carol' }, { headers: { origin: 'https://ok.example' } }).then((c) =>
      c.close(),
    );
  });

  it.each(SCHEDULER_PATHS)(
    'closes %s with 4401 "Token expired" when the token expires while connected',
    async (path) => {
      const exp = nowSec() + 2;
      const client = await openScheduler(t, path, { sub: 'dave', exp });
      await sleep(300);
      expect(client.socket.readyState).toBe(client.socket.OPEN);
      expect(await client.waitClose(5000)).toEqual({ code: 4401, reason: 'Token expired' });
      expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000 - 50);
    },
  );

  it.each([
    '/ws/experiments',
    '/ws/experiments/',
    '/ws/experiments/a/b',
    '/ws/tasks',
    '/ws/tasks/a/b',
    '/ws/projects',
    '/ws/projects/p/q',
    '/ws/user/5',
    '/ws/experiment/exp-1',
  ])('answers the unknown path %s with HTTP 404 before upgrading', async (path) => {
    expect(await upgradeStatus(t.wsUrl(path, hsToken({ sub: 'x' })))).toBe(404);
  });
});

describe('scheduler gateway: messages', () => {
  let t: TestApp;
  let client: TestClient;
  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 1000 });
    client = await openScheduler(t, '/ws/experiments/exp-1', { sub: 'mia' });
  });
  afterAll(async () => {
    client.close();
    await t.close();
  });

  it.each([
    ['ping-123', 'pong-123'],
    ['ping', 'pong'],
    ['pingABC', 'pongABC'],
    ['ping-ping-1', 'pong-ping-1'],
    ['abc', 'abc'],
    ['pong-7', 'pong-7'],
    ['x-ping-1', 'x-ping-1'],
    ['PING-1', 'PING-1'],
  ])('answers ping id %j with pong id %j', async (id, expected) => {
    expect(await reply(client, { type: 'ping', id })).toEqual({
      type: 'pong',
      id: expected,
      timestamp: expect.stringMatching(ISO_MS),
    });
  });

  it('answers the seed client’s ping (with its own timestamp)', async () => {
    const ping = { type: 'ping', id: `ping-${Date.now()}`, timestamp: new Date().toISOString() };
    expect(await reply(client, ping)).toEqual({
      type: 'pong',
      id: ping.id.replace(/^ping/, 'pong'),
      timestamp: expect.stringMatching(ISO_MS),
    });
  });

  it.each([
    ['no id', { type: 'ping' }],
    ['a numeric id', { type: 'ping', id: 5 }],
    ['a null id', { type: 'ping', id: null }],
    ['an object id', { type: 'ping', id: { id: 'ping-1' } }],
    ['an array id', { type: 'ping', id: ['ping-1'] }],
  ])('answers a ping with %s with a pong carrying a fresh string id', async (_name, ping) => {
    const pong = await reply(client, ping);
    expect(pong).toEqual({ type: 'pong', id: anyId(), timestamp: expect.stringMatching(ISO_MS) });
  });

  it('gives fresh ids that differ from one pong to the next', async () => {
    const a = await reply(client, { type: 'ping' });
    const b = await reply(client, { type: 'ping' });
    expect(a.id).not.toBe(b.id);
  });

  it('does not answer a client pong (the answer to a server ping)', async () => {
    client.send({ type: 'pong', id: 'ping-42' });
    client.send({ type: 'pong', id: 'pong-42', timestamp: new Date().toISOString() });
    expect(await reply(client, { type: 'ping', id: 'ping-after-pong' })).toEqual({
      type: 'pong',
      id: 'pong-after-pong',
      timestamp: expect.stringMatching(ISO_MS),
    });
  });

  it.each<[ResourceType, string]>([
    ['experiment', 'exp-2'],
    ['task', 'task-9'],
    ['project', 'proj-3'],
    ['user', 'mia'],
  ])('subscribes and unsubscribes %s %s with the seed’s responses', async (resourceType, resourceId) => {
    const subscribed = await reply(client, subscribeMessage('subscribe', resourceType, resourceId));
    expect(subscribed).toEqual({
      type: 'system_status',
      id: expect.any(String),
      timestamp: expect.stringMatching(ISO_MS),
      data: { action: 'subscribed', resourceType, resourceId, status: 'success', ...anyPosition() },
    });
    const unsubscribed = await reply(client, subscribeMessage('unsubscribe', resourceType, resourceId));
    expect(unsubscribed).toEqual({
      type: 'system_status',
      id: expect.any(String),
      timestamp: expect.stringMatching(ISO_MS),
      data: { action: 'unsubscribed', resourceType, resourceId, status: 'success' },
    });
    expect(subscribed.id).not.toBe('');
    expect(unsubscribed.id).not.toBe(subscribed.id);
  });

  it('answers a second subscribe to the same resource with "subscribed" again', async () => {
    await subscribe(client, 'project', 'proj-twice');
    await subscribe(client, 'project', 'proj-twice');
    await unsubscribe(client, 'project', 'proj-twice');
  });

  it('answers an unsubscribe of something never subscribed with "unsubscribed"', async () => {
    await unsubscribe(client, 'experiment', 'never-subscribed');
    await unsubscribe(client, 'task', 'never-either');
  });

  it('lets the connection unsubscribe its own path resource, and subscribe it again', async () => {
    await unsubscribe(client, 'experiment', 'exp-1');
    await subscribe(client, 'experiment', 'exp-1');
  });

  it('subscribes the own user when resourceId is omitted', async () => {
    await subscribe(client, 'user', undefined, 'mia');
    await unsubscribe(client, 'user', 'mia');
  });

  it('accepts resource ids of 1 and 128 characters from [A-Za-z0-9_.:~-]', async () => {
    for (const id of [
      'a',
      'Z',
      '0',
      'Az09_.:~-',
      'proj:12:~x',
      'x'.repeat(128),
      `${'a.b:c~d_e-'.repeat(12)}12345678`,
    ]) {
      expect(id.length).toBeLessThanOrEqual(128);
      await subscribe(client, 'task', id);
      await unsubscribe(client, 'task', id);
    }
  });

  describe('errors keep the connection open', () => {
    const sub = (data: Record<string, unknown>) => JSON.stringify({ type: 'system_status', data });
    const cases: Array<[string, Frame | string | Buffer, string]> = [
      ['not JSON', '{oops', INVALID],
      ['an empty frame', '', INVALID],
      ['a JSON array', '[1,2]', INVALID],
      ['a JSON string', '"ping"', INVALID],
      ['a JSON number', '42', INVALID],
      ['JSON null', 'null', INVALID],
      ['a binary frame', Buffer.from([1, 2, 3]), INVALID],
      ['a binary frame holding a valid ping', Buffer.from('{"type":"ping","id":"ping-1"}'), INVALID],
      ['a missing type', { id: 'ping-1' }, UNKNOWN],
      ['an empty object', {}, UNKNOWN],
      ['an unknown type', { type: 'dance' }, UNKNOWN],
      ['a server event type', { type: 'experiment_created', data: {} }, UNKNOWN],
      ['the error type', { type: 'error', error: 'x' }, UNKNOWN],
      ['a type in another case', { type: 'PING' }, UNKNOWN],
      ['a __proto__ key', '{"type":"ping","__proto__":{"roles":["admin"]}}', INVALID],
      ['a constructor key', { type: 'ping', data: { constructor: { prototype: 1 } } }, INVALID],
      ['a prototype key', { type: 'system_status', data: { prototype: {} } }, INVALID],
      ['JSON nested 33 levels', `{"type":"ping","data":${nestedObjects(32)}}`, INVALID],
      ['string data', sub({}).replace('{}', '"subscribe"'), INVALID],
      ['array data', '{"type":"system_status","data":[]}', INVALID],
      ['numeric data', '{"type":"system_status","data":5}', INVALID],
      ['an unknown action', sub({ action: 'delete', resourceType: 'experiment', resourceId: 'e' }), INVALID],
      ['the "subscribed" action', sub({ action: 'subscribed', resourceType: 'experiment', resourceId: 'e' }), INVALID],
      ['a numeric action', sub({ action: 1, resourceType: 'experiment', resourceId: 'e' }), INVALID],
      ['an unknown resourceType', sub({ action: 'subscribe', resourceType: 'dataset', resourceId: 'd' }), INVALID],
      ['a missing resourceType', sub({ action: 'subscribe', resourceId: 'd' }), INVALID],
      ['a numeric resourceType', sub({ action: 'subscribe', resourceType: 3, resourceId: 'd' }), INVALID],
      ['a plural resourceType', sub({ action: 'subscribe', resourceType: 'experiments', resourceId: 'e' }), INVALID],
      ['a missing experiment id', sub({ action: 'subscribe', resourceType: 'experiment' }), INVALID],
      ['a missing task id on unsubscribe', sub({ action: 'unsubscribe', resourceType: 'task' }), INVALID],
      ['an empty resourceId', sub({ action: 'subscribe', resourceType: 'experiment', resourceId: '' }), INVALID],
      ['a numeric resourceId', sub({ action: 'subscribe', resourceType: 'experiment', resourceId: 12 }), INVALID],
      ['an object resourceId', sub({ action: 'subscribe', resourceType: 'project', resourceId: { id: 'p' } }), INVALID],
      [
        'a 129-char resourceId',
        sub({ action: 'subscribe', resourceType: 'task', resourceId: 't'.repeat(129) }),
        INVALID,
      ],
      ['a resourceId with a space', sub({ action: 'subscribe', resourceType: 'task', resourceId: 'a b' }), INVALID],
      ['a resourceId with a slash', sub({ action: 'subscribe', resourceType: 'task', resourceId: 'a/b' }), INVALID],
      ['a resourceId with a *', sub({ action: 'subscribe', resourceType: 'project', resourceId: 'p*' }), INVALID],
      ['a non-ASCII resourceId', sub({ action: 'subscribe', resourceType: 'project', resourceId: 'pé' }), INVALID],
      ['a numeric user resourceId', sub({ action: 'subscribe', resourceType: 'user', resourceId: 5 }), INVALID],
      ['a system subscribe by a non-admin', sub({ action: 'subscribe', resourceType: 'system' }), FORBIDDEN],
      [
        'a worker subscribe by a non-admin',
        sub({ action: 'subscribe', resourceType: 'worker', resourceId: 'w-1' }),
        FORBIDDEN,
      ],
      ['another user’s resource', sub({ action: 'subscribe', resourceType: 'user', resourceId: 'other' }), FORBIDDEN],
    ];

    it.each(cases)('%s → exactly one error frame, then the connection goes on', async (_name, frame, error) => {
      const before = client.frames.length;
      expect(await reply(client, frame)).toEqual(errorFrame(error));
      expect(await reply(client, { type: 'ping', id: 'ping-ok' })).toEqual({
        type: 'pong',
        id: 'pong-ok',
        timestamp: expect.stringMatching(ISO_MS),
      });
      expect(client.frames.length).toBe(before + 2);
    });

    it('accepts JSON nested exactly 32 levels', async () => {
      for (const data of [nestedObjects(31), `${'['.repeat(30)}{}${']'.repeat(30)}`]) {
        const text = `{"type":"ping","id":"ping-deep","data":${data}}`;
        expect(depthOf(JSON.parse(text))).toBe(32);
        expect(await reply(client, text)).toEqual({ type: 'pong', id: 'pong-deep', timestamp: isoTimestamp() });
      }
      for (const data of [nestedObjects(32), `${'['.repeat(31)}{}${']'.repeat(31)}`]) {
        const text = `{"type":"ping","id":"ping-deep","data":${data}}`;
        expect(depthOf(JSON.parse(text))).toBe(33);
        expect(await reply(client, text)).toEqual(errorFrame(INVALID));
      }
    });
  });
});

describe('scheduler gateway: system_status statistics', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 1000 });
  });
  afterAll(() => t.close());

  const schedulerCount = async (): Promise<number> =>
    (await t.http('GET', '/ws/stats', { token: ADMIN_TOKEN })).body.connections.by_gateway.scheduler as number;

  function statsFrame(totalConnections: number, activeConnections: number): Frame {
    return {
      type: 'system_status',
      id: anyId(),
      timestamp: isoTimestamp(),
      data: {
        totalConnections,
        activeConnections,
        totalMessages: expect.any(Number),
        messagesPerSecond: expect.any(Number),
        averageLatency: expect.stringMatching(/^\d+(\.\d+)?s$/),
        uptime: expect.stringMatching(/^\d+h \d+m \d+s$/),
      },
    };
  }

  it('answers {"type":"system_status"} (and data without action) with exact connection counters', async () => {
    const a = await openScheduler(t, '/ws/experiments/exp-s', { sub: 's1' });
    const b = await openScheduler(t, '/ws/tasks/task-s', { sub: 's2' });
    const c = await openScheduler(t, '/ws/user', { sub: 's3' });
    const chat = await t.chat({ sub: 's4' }); // another gateway: not counted
    // refused upgrades are not accepted connections
    await refused(t.wsUrl('/ws/projects/p-s'));
    await refused(t.wsUrl('/ws/projects/p-s', 'garbage'));
    await refused(t.wsUrl('/ws/projects/p-s', hsToken({ sub: 's5', acl: ['project:other'] })));
    c.close();
    await c.waitClose();
    await eventually(async () => (await schedulerCount()) === 2, 3000, 'two scheduler connections');

    const stats = await reply(a, { type: 'system_status' });
    expect(stats).toEqual(statsFrame(3, 2));
    expect(Number.isInteger(stats.data.totalMessages)).toBe(true);
    expect(stats.data.totalMessages).toBeGreaterThanOrEqual(1);
    expect(stats.data.messagesPerSecond).toBeGreaterThanOrEqual(0);

    expect(await reply(b, { type: 'system_status', data: {} })).toEqual(statsFrame(3, 2));
    expect(await reply(b, { type: 'system_status', data: { resourceType: 'experiment' } })).toEqual(statsFrame(3, 2));

    const d = await openScheduler(t, '/ws/projects/p-s', { sub: 's1' });
    expect(await reply(d, { type: 'system_status' })).toEqual(statsFrame(4, 3));
    [a, b, d, chat].forEach((client) => client.close());
  });

  it('counts uptime in h m s', async () => {
    const a = await openScheduler(t, '/ws/user', { sub: 'clock' });
    const first = (await reply(a, { type: 'system_status' })).data.uptime as string;
    const [h, m, s] = first.match(/\d+/g)!.map(Number);
    expect(m).toBeLessThan(60);
    expect(s).toBeLessThan(60);
    expect(h * 3600 + m * 60 + s).toBeLessThan(600);
    a.close();
  });
});

describe('scheduler gateway: access policy (SPEC §7)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 1000 });
  });
  afterAll(() => t.close());

  type Row = [ResourceType, string | undefined, 'ok' | 'Forbidden'];

  async function check(claims: Claims, rows: Row[]): Promise<void> {
    const client = await openScheduler(t, '/ws/user', claims);
    for (const [type, id, outcome] of rows) {
      const response = await reply(client, subscribeMessage('subscribe', type, id));
      const label = `${type}:${id ?? ''}`;
      if (outcome === 'ok') expect({ label, response }).toEqual({ label, response: subscribedFrame(type, id ?? type) });
      else expect({ label, response }).toEqual({ label, response: errorFrame(FORBIDDEN) });
    }
    // a refusal never closes the connection
    expect(await reply(client, { type: 'ping', id: 'ping-end' })).toMatchObject({ type: 'pong', id: 'pong-end' });
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    client.close();
  }

  it('without acl: everything but other users, system and workers', async () => {
    await check({ sub: 'u1' }, [
      ['experiment', 'exp-1', 'ok'],
      ['task', 'task-1', 'ok'],
      ['project', 'proj-1', 'ok'],
      ['project', 'proj:2', 'ok'],
      ['user', 'u1', 'ok'],
      ['user', 'u2', 'Forbidden'],
      ['user', 'admin', 'Forbidden'],
      ['system', undefined, 'Forbidden'],
      ['system', 'system', 'Forbidden'],
      ['worker', 'w-1', 'Forbidden'],
    ]);
  });

  it('admins: anything, other users, system and workers included', async () => {
    await check({ sub: 'root', roles: ['admin'] }, [
      ['experiment', 'exp-1', 'ok'],
      ['user', 'u2', 'ok'],
      ['system', undefined, 'ok'],
      ['system', 'system', 'ok'],
      ['worker', 'w-1', 'ok'],
      ['worker', 'w-2', 'ok'],
    ]);
  });

  it('other roles grant nothing extra', async () => {
    await check({ sub: 'ops', roles: ['operator', 'user', 'Admin'] }, [
      ['system', undefined, 'Forbidden'],
      ['worker', 'w-1', 'Forbidden'],
      ['user', 'root', 'Forbidden'],
    ]);
  });

  it('with acl: exactly what the patterns match (own user resource always)', async () => {
    await check({ sub: 'u3', acl: ['project:proj-1', 'experiment:exp-1', 'worker:*'] }, [
      ['project', 'proj-1', 'ok'],
      ['project', 'proj-2', 'Forbidden'],
      ['experiment', 'exp-1', 'ok'],
      ['experiment', 'exp-10', 'Forbidden'],
      ['task', 'task-1', 'Forbidden'],
      ['worker', 'w-1', 'ok'],
      ['worker', 'w-anything', 'ok'],
      ['system', undefined, 'Forbidden'],
      ['user', 'u3', 'ok'],
      ['user', 'u4', 'Forbidden'],
    ]);
  });

  it('with acl: wildcards and the bare "system" pattern', async () => {
    await check({ sub: 'u5', acl: ['project:*', 'system'] }, [
      ['project', 'proj-1', 'ok'],
      ['project', 'anything', 'ok'],
      ['system', undefined, 'ok'],
      ['experiment', 'exp-1', 'Forbidden'],
      ['worker', 'w-1', 'Forbidden'],
    ]);
  });

  it('with an empty acl: nothing but the own user', async () => {
    await check({ sub: 'u6', acl: [] }, [
      ['project', 'proj-1', 'Forbidden'],
      ['experiment', 'exp-1', 'Forbidden'],
      ['task', 'task-1', 'Forbidden'],
      ['user', 'u6', 'ok'],
    ]);
  });

  it.each([
    ['/ws/experiments/exp-2', ['experiment:exp-1']],
    ['/ws/tasks/task-1', ['experiment:exp-1', 'project:*']],
    ['/ws/projects/proj-9', ['project:proj-1']],
    ['/ws/projects/proj-1', []],
  ])('refuses a connection to %s for acl %j: error Forbidden, then close 4403', async (path, acl) => {
    const result = await refused(t.wsUrl(path, hsToken({ sub: 'acl-user', acl })));
    expect(result).toEqual({ frames: [errorFrame(FORBIDDEN)], code: 4403, reason: 'Forbidden' });
  });

  it.each([
    ['/ws/experiments/exp-1', ['experiment:exp-1']],
    ['/ws/tasks/task-1', ['task:*']],
    ['/ws/projects/proj-1', ['project:proj-1']],
    ['/ws/user', ['project:proj-1']],
    ['/ws/user', []],
  ])('accepts a connection to %s for acl %j', async (path, acl) => {
    const client = await openScheduler(t, path, { sub: 'acl-user', acl });
    client.close();
  });

  it('a hostile __proto__ payload grants nothing: Invalid message format, and system stays Forbidden', async () => {
    const client = await openScheduler(t, '/ws/user', { sub: 'mallory' });
    const payloads = [
      '{"type":"system_status","data":{"action":"subscribe","resourceType":"system","__proto__":{"roles":["admin"]}}}',
      '{"__proto__":{"roles":["admin"]},"type":"system_status","data":{"action":"subscribe","resourceType":"system"}}',
      '{"type":"system_status","data":{"action":"subscribe","resourceType":"system","constructor":{"prototype":{"roles":["admin"]}}}}',
      '{"type":"system_status","data":{"action":"subscribe","resourceType":"worker","resourceId":"w-1","prototype":{"roles":["admin"]}}}',
      '{"type":"system_status","data":{"action":"subscribe","resourceType":"user","resourceId":"root","\\u005f\\u005fproto\\u005f\\u005f":{"sub":"root"}}}',
      '{"type":"ping","__proto__":{"acl":["system","worker:*"],"roles":["admin"],"isAdmin":true}}',
    ];
    for (const payload of payloads) expect(await reply(client, payload)).toEqual(errorFrame(INVALID));
    expect(await reply(client, subscribeMessage('subscribe', 'system'))).toEqual(errorFrame(FORBIDDEN));
    expect(await reply(client, subscribeMessage('subscribe', 'system', 'system'))).toEqual(errorFrame(FORBIDDEN));
    expect(await reply(client, subscribeMessage('subscribe', 'worker', 'w-1'))).toEqual(errorFrame(FORBIDDEN));
    expect(await reply(client, subscribeMessage('subscribe', 'user', 'root'))).toEqual(errorFrame(FORBIDDEN));
    expect(({} as Record<string, unknown>).roles).toBeUndefined();
    expect(({} as Record<string, unknown>).acl).toBeUndefined();
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(({} as Record<string, unknown>).sub).toBeUndefined();
    // the admin view shows no subscription was made
    const listed = await t.http('GET', '/ws/clients?gateway=scheduler&user=mallory', { token: ADMIN_TOKEN });
    expect(listed.body.clients.map((c: any) => c.rooms)).toEqual([['user:mallory']]);
    client.close();
  });
});

describe('scheduler gateway: frame size and encoding (SPEC §10, messageMaxSize 4096)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 1000, messageMaxSize: 4096 });
  });
  afterAll(() => t.close());

  /** A valid ping of exactly `bytes` UTF-8 bytes. */
  const pingOfBytes = (bytes: number): string =>
    frameOfBytes(bytes, (pad) => JSON.stringify({ type: 'ping', id: 'ping-size', pad }));

  it('accepts a frame of exactly messageMaxSize bytes', async () => {
    const client = await openScheduler(t, '/ws/experiments/exp-big', { sub: 'big' });
    const text = pingOfBytes(4096);
    expect(text.length).toBeLessThan(4096);
    expect(await reply(client, text)).toEqual({ type: 'pong', id: 'pong-size', timestamp: isoTimestamp() });
    client.close();
  });

  it('closes with 1009 on one byte more, text or binary', async () => {
    const text = await openScheduler(t, '/ws/experiments/exp-big', { sub: 'big' });
    text.send(pingOfBytes(4097));
    expect((await text.waitClose()).code).toBe(1009);
    expect(text.ofType('pong')).toHaveLength(0);
    const binary = await openScheduler(t, '/ws/tasks/t-big', { sub: 'big' });
    binary.send(Buffer.alloc(4097, 0x20));
    expect((await binary.waitClose()).code).toBe(1009);
  });

  it('closes with 1007 on invalid UTF-8, without an error frame', async () => {
    const client = await openScheduler(t, '/ws/projects/p-utf8', { sub: 'utf8' });
    client.socket.send(Buffer.from([0x7b, 0x22, 0x74, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]), { binary: false });
    expect((await client.waitClose()).code).toBe(1007);
    expect(client.ofType('error')).toHaveLength(0);
  });
});

describe('scheduler gateway: default frame size (1 MiB)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('accepts 1 MiB and closes with 1009 above it', async () => {
    const client = await openScheduler(t, '/ws/experiments/exp-mib', { sub: 'mib' });
    const frame = (n: number): string => {
      const head = JSON.stringify({ type: 'ping', id: 'ping-mib', pad: '' });
      return head.replace('"pad":""', `"pad":"${'x'.repeat(n - Buffer.byteLength(head))}"`);
    };
    expect(Buffer.byteLength(frame(1_048_576))).toBe(1_048_576);
    expect(await reply(client, frame(1_048_576), 10_000)).toEqual({
      type: 'pong',
      id: 'pong-mib',
      timestamp: isoTimestamp(),
    });
    client.send(frame(1_048_577));
    expect((await client.waitClose(10_000)).code).toBe(1009);
  });
});

describe('scheduler gateway: app-level heartbeat', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ heartbeatIntervalMs: 150, heartbeatTimeoutMs: 800 });
  });
  afterAll(() => t.close());

  it('sends {"type":"ping","id":"ping…","timestamp"} every heartbeatIntervalMs', async () => {
    const client = await openScheduler(t, '/ws/experiments/exp-hb', { sub: 'hb' });
    await eventually(() => client.ofType('ping').length >= 3, 3000, 'three server pings');
    const pings = client.ofType('ping');
    for (const ping of pings) {
      expect(ping).toEqual({ type: 'ping', id: expect.stringMatching(/^ping/), timestamp: isoTimestamp() });
    }
    expect(new Set(pings.map((p) => p.id)).size).toBe(pings.length);
    client.close();
  });

  it('keeps a client that answers with pong frames alive (no protocol pongs), and answers the pongs with nothing', async () => {
    const client = await openScheduler(t, '/ws/tasks/task-hb', { sub: 'hb2' }, { autoPong: false });
    let answered = 0;
    client.socket.on('message', (raw) => {
      const frame = JSON.parse((raw as Buffer).toString());
      if (frame.type === 'ping') {
        client.send({ type: 'pong', id: String(frame.id).replace(/^ping/, 'pong') });
        answered++;
      }
    });
    await sleep(2000);
    expect(answered).toBeGreaterThanOrEqual(3);
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    expect(client.ofType('error')).toEqual([]);
    expect(client.frames.filter((f) => f.type !== 'ping' && f.type !== 'system_status')).toEqual([]);
    client.close();
  });

  it('terminates a client that answers nothing', async () => {
    const silent = await openScheduler(t, '/ws/projects/p-hb', { sub: 'hb3' }, { autoPong: false });
    const closed = await silent.waitClose(4000);
    expect(closed.code).not.toBe(1000);
  });
});
