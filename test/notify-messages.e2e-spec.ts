import { NotifyPublisher } from '../src/realtime/index.js';
import { seedFields } from './support/positions.js';
import { TestClient, eventually, sleep, type Frame } from './support/test-client.js';
import { ADMIN_TOKEN } from './support/test-app.js';
import {
  clientIdOf,
  collectInbound,
  connectedFrame,
  errorFrame,
  frame,
  inbound,
  messages,
  openNotify,
  ping,
  pongFrame,
  quiet,
  reply,
  waitMessages,
} from './support/notify-client.js';
import { openScheduler } from './support/scheduler-client.js';
import { openCheckpoint } from './support/checkpoint-client.js';
import { describeApp } from './support/describe-app.js';
import { noClients } from './support/notify-fixtures.js';

/**
 * SPEC §6 (seed 002), the notify gateway's messages: from the host app (`NotifyPublisher`) to one
 * client or all, and frames from clients to the host (with their errors, §10).
 * Connections: test/notify-connections.e2e-spec.ts; `POST /ws/send-message`: test/notify-rest.e2e-spec.ts.
 */

describe('notify gateway: messages from the host app (NotifyPublisher, SPEC §6)', () => {
  const { t, track } = describeApp({ rateLimitPerSec: 1000 }, noClients);
  let publisher: NotifyPublisher;
  beforeAll(() => {
    publisher = t.app.get(NotifyPublisher);
  });

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
  const { t, track } = describeApp({ rateLimitPerSec: 1000 });

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
      const answer = await reply(client, payload, 3000, { invalid: true });
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
