import { anyPosition } from './support/positions.js';
import { TestClient, sleep } from './support/test-client.js';
import { ADMIN_TOKEN } from './support/test-app.js';
import { TEST_SECRET, hsToken, noneToken, type Claims } from './support/tokens.js';
import {
  FORBIDDEN,
  INVALID,
  ISO_MS,
  SCHEDULER_PATHS,
  errorFrame,
  pathResource,
  pathSubscribedFrame,
  quiet,
  refused,
  reply,
  replyToInvalid,
  sampleExperiment,
  subscribeMessage,
  subscribedFrame,
  upgradeStatus,
  type ResourceType,
} from './support/scheduler-client.js';
import { schedulerApp } from './support/scheduler-fixtures.js';

/**
 * Who may use the scheduler gateway (SPEC §2, §7; seed 001): connecting on every path (the
 * subscription response first, the token from the query or the header, refusals with 4401, Origin,
 * expiry while connected, unknown paths), and which resources a token may subscribe or connect to.
 */

const nowSec = (): number => Math.floor(Date.now() / 1000);

describe('scheduler gateway: connect and SPEC §2 on every path', () => {
  const { t, pub, conn, track } = schedulerApp({
    auth: { secret: TEST_SECRET, clockToleranceSec: 0 },
    allowedOrigins: ['https://ok.example'],
  });

  it.each(SCHEDULER_PATHS)('answers a connection to %s first with the subscription response', async (path) => {
    const client = track(await TestClient.open(t.wsUrl(path, hsToken({ sub: 'alice', username: 'Alice' }))));
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
    const client = track(await TestClient.open(t.wsUrl('/ws/user', hsToken({ sub: 42 }))));
    expect(await client.next()).toEqual(pathSubscribedFrame('user', '42'));
    client.close();
  });

  it.each(['auth0|abc123', 'jane@example.com', 'google-oauth2|1049'])(
    'subscribes /ws/user to a sub as identity providers write it (%s) and delivers that user’s events',
    async (sub) => {
      const client = track(await TestClient.open(t.wsUrl('/ws/user', hsToken({ sub }))));
      expect(await client.next()).toEqual(pathSubscribedFrame('user', sub));
      pub.experimentCreated(sampleExperiment('exp-owned', { ownerId: sub }));
      const event = await client.next((frame) => frame.type === 'experiment_created');
      expect(event.data.experiment.ownerId).toBe(sub);
      expect(Object.keys(event.positions)).toContain(`user:${sub}`);
    },
  );

  it.each(SCHEDULER_PATHS)('accepts the token from an Authorization: Bearer header on %s', async (path) => {
    const client = await conn(path, { sub: 'bob' }, { viaHeader: true });
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
    await conn(path, { sub: 'carol' }, { headers: { origin: 'https://ok.example' } }).then((c) => c.close());
  });

  it.each(SCHEDULER_PATHS)(
    'closes %s with 4401 "Token expired" when the token expires while connected',
    async (path) => {
      const exp = nowSec() + 2;
      const client = await conn(path, { sub: 'dave', exp });
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

describe('scheduler gateway: access policy (SPEC §7)', () => {
  const { t, conn } = schedulerApp({ rateLimitPerSec: 1000 });

  type Row = [ResourceType, string | undefined, 'ok' | 'Forbidden'];

  async function check(claims: Claims, rows: Row[]): Promise<void> {
    const client = await conn('/ws/user', claims);
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
    const client = await conn(path, { sub: 'acl-user', acl });
    client.close();
  });

  it('a hostile __proto__ payload grants nothing: Invalid message format, and system stays Forbidden', async () => {
    const client = await conn('/ws/user', { sub: 'mallory' });
    const payloads = [
      '{"type":"system_status","data":{"action":"subscribe","resourceType":"system","__proto__":{"roles":["admin"]}}}',
      '{"__proto__":{"roles":["admin"]},"type":"system_status","data":{"action":"subscribe","resourceType":"system"}}',
      '{"type":"system_status","data":{"action":"subscribe","resourceType":"system","constructor":{"prototype":{"roles":["admin"]}}}}',
      '{"type":"system_status","data":{"action":"subscribe","resourceType":"worker","resourceId":"w-1","prototype":{"roles":["admin"]}}}',
      '{"type":"system_status","data":{"action":"subscribe","resourceType":"user","resourceId":"root","\\u005f\\u005fproto\\u005f\\u005f":{"sub":"root"}}}',
      '{"type":"ping","__proto__":{"acl":["system","worker:*"],"roles":["admin"],"isAdmin":true}}',
    ];
    for (const payload of payloads) expect(await replyToInvalid(client, payload)).toEqual(errorFrame(INVALID));
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
