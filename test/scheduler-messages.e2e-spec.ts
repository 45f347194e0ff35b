import { anyPosition } from './support/positions.js';
import { TestClient, closeAll, eventually, type Frame } from './support/test-client.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';
import { hsToken } from './support/tokens.js';
import { depthOf, nestedObjects } from './support/hostile-frames.js';
import {
  FORBIDDEN,
  INVALID,
  ISO_MS,
  UNKNOWN,
  anyId,
  errorFrame,
  isoTimestamp,
  openScheduler,
  refused,
  reply,
  replyToInvalid,
  subscribe,
  subscribeMessage,
  unsubscribe,
  type ResourceType,
} from './support/scheduler-client.js';
import { schedulerApp } from './support/scheduler-fixtures.js';

/**
 * What a scheduler connection may send (SPEC §4, §10; seed 001): ping and pong, subscribe and
 * unsubscribe, the error each bad frame gets (the connection going on), and `system_status`
 * answered with the gateway's statistics.
 */

describe('scheduler gateway: messages', () => {
  let t: TestApp;
  let client: TestClient;
  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 1000 });
    client = await openScheduler(t, '/ws/experiments/exp-1', { sub: 'mia' });
  });
  afterAll(async () => {
    await closeAll([client]);
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
  ])('answers a ping with %s with a pong carrying a fresh string id', async (name, ping) => {
    // a ping's id is a string (the contract): the other ids are tolerated, not described
    const pong = await (name === 'no id' ? reply : replyToInvalid)(client, ping);
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
      // a refusal by the access policy answers a well-formed frame; every other case is a bad frame
      expect(await (error === FORBIDDEN ? reply : replyToInvalid)(client, frame)).toEqual(errorFrame(error));
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
        expect(await replyToInvalid(client, text)).toEqual(errorFrame(INVALID));
      }
    });
  });
});

describe('scheduler gateway: system_status statistics', () => {
  const { t, conn, track } = schedulerApp({ rateLimitPerSec: 1000 });

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
    const a = await conn('/ws/experiments/exp-s', { sub: 's1' });
    const b = await conn('/ws/tasks/task-s', { sub: 's2' });
    const c = await conn('/ws/user', { sub: 's3' });
    const chat = track(await t.chat({ sub: 's4' })); // another gateway: not counted
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

    const d = await conn('/ws/projects/p-s', { sub: 's1' });
    expect(await reply(d, { type: 'system_status' })).toEqual(statsFrame(4, 3));
    [a, b, d, chat].forEach((client) => client.close());
  });

  it('counts uptime in h m s', async () => {
    const a = await conn('/ws/user', { sub: 'clock' });
    const first = (await reply(a, { type: 'system_status' })).data.uptime as string;
    const [h, m, s] = first.match(/\d+/g)!.map(Number);
    expect(m).toBeLessThan(60);
    expect(s).toBeLessThan(60);
    expect(h * 3600 + m * 60 + s).toBeLessThan(600);
    a.close();
  });
});
