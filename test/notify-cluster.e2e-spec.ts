import { NotifyPublisher } from '../src/realtime/index.js';
import { TestClient, eventually, sleep } from './support/test-client.js';
import { ADMIN_TOKEN, type TestApp } from './support/test-app.js';
import { hsToken } from './support/tokens.js';
import { closeAndSettle, clusterPrefix, settle as settleCluster, startPair, stopAll } from './support/cluster-pair.js';
import {
  ADMIN_CLOSED,
  REPLACED,
  clientIdOf,
  collectInbound,
  connectedFrame,
  frame,
  inbound,
  listedNotifyIds,
  messages,
  openNotify,
  quiet,
  waitMessages,
} from './support/notify-client.js';
import { openScheduler } from './support/scheduler-client.js';

/** A REST publish answers once the event is stored, with its stream positions (issue 26). */
const STORED = { stored: true, positions: expect.any(Object) };

/**
 * SPEC §6 and §9 for the notify gateway on two instances sharing a Redis: a message to a client id
 * reaches it on whichever instance holds it, once; a broadcast reaches every notify client of the
 * cluster, once each; a client id is one connection in the whole cluster (4409 across instances);
 * `POST /ws/send-message`, `GET /ws/clients` and `DELETE /ws/clients/:id` see every instance.
 */

describe('notify gateway on two instances on Redis (SPEC §6, §9)', () => {
  const prefix = clusterPrefix('notify');
  let a: TestApp;
  let b: TestApp;
  let pubA: NotifyPublisher;
  let pubB: NotifyPublisher;
  const open: TestClient[] = [];

  const settle = (total: number) => settleCluster([a, b], total);

  const conn = async (t: TestApp, clientId: string | undefined, sub = 'user'): Promise<TestClient> => {
    const client = await openNotify(t, clientId, { sub });
    open.push(client);
    return client;
  };

  const send = (t: TestApp, body: unknown) => t.http('POST', '/ws/send-message', { token: ADMIN_TOKEN, body });

  beforeAll(async () => {
    [a, b] = await startPair(prefix, { heartbeatTimeoutMs: 3000, rateLimitPerSec: 1000 });
    pubA = a.app.get(NotifyPublisher);
    pubB = b.app.get(NotifyPublisher);
  });

  afterEach(() => closeAndSettle(open, [a, b]));

  afterAll(() => stopAll([a, b]));

  it('delivers a message published on A to the client on B exactly once, and to no one else', async () => {
    const onB = await conn(b, 'on-b');
    const otherOnB = await conn(b, 'other-on-b');
    const onA = await conn(a, 'on-a');
    pubA.notify({ type: 'direct', content: { from: 'A' }, meta: { k: 1 } }, 'on-b');
    pubB.notify({ type: 'direct', content: { from: 'B' } }, 'on-a');
    await waitMessages(onB, (f) => f.type === 'direct');
    await waitMessages(onA, (f) => f.type === 'direct');
    await quiet([onB, otherOnB, onA], 300);
    expect(messages(onB)).toEqual([frame('direct', { from: 'A' }, { k: 1 })]);
    expect(messages(onA)).toEqual([frame('direct', { from: 'B' })]);
    expect(messages(otherOnB)).toEqual([]);
  });

  it('broadcasts from A to every notify client on A and B once each, and to no other gateway', async () => {
    const clients = [
      await conn(a, 'all-a1'),
      await conn(a, undefined),
      await conn(b, 'all-b1'),
      await conn(b, undefined),
    ];
    const scheduler = await openScheduler(b, '/ws/user', { sub: 'sched' });
    open.push(scheduler);
    pubA.notify({ type: 'everyone', content: 'from A' });
    pubB.log('task-9', 'from B', 'debug');
    for (const client of clients) await waitMessages(client, (f) => f.type === 'logs' || f.type === 'everyone', 2);
    await quiet(clients, 300);
    // two publishers: no order between them, each once
    const byType = (client: TestClient) => [...messages(client)].sort((x, y) => x.type.localeCompare(y.type));
    for (const client of clients) {
      expect(byType(client)).toEqual([
        frame('everyone', 'from A'),
        frame('logs', 'from B', { level: 'debug', task_id: 'task-9' }),
      ]);
    }
    expect(scheduler.frames.filter((f) => f.type === 'everyone' || f.type === 'logs')).toEqual([]);
  });

  it('keeps the order of 300 messages published on A for a client on B', async () => {
    const onB = await conn(b, 'ordered-b');
    for (let i = 0; i < 300; i++) pubA.notify({ type: 'seq', content: i }, 'ordered-b');
    await waitMessages(onB, (f) => f.type === 'seq', 300, 15_000);
    await quiet([onB], 300);
    expect(messages(onB)).toEqual(Array.from({ length: 300 }, (_, i) => frame('seq', i)));
  });

  it('replaces a client id across instances: the connection on A is closed with 4409 when it connects on B', async () => {
    const first = await conn(a, 'roamer');
    await settle(1);
    const second = await conn(b, 'roamer');
    expect(await first.waitClose(5000)).toEqual(REPLACED);
    expect(second.frames).toEqual([connectedFrame('roamer')]);
    await settle(1);

    pubA.notify({ type: 'after', content: 'via A' }, 'roamer');
    pubB.notify({ type: 'after', content: 'via B' }, 'roamer');
    await waitMessages(second, (f) => f.type === 'after', 2);
    await quiet([second], 300);
    expect(
      messages(second)
        .map((f) => f.content)
        .sort(),
    ).toEqual(['via A', 'via B']);
    expect(messages(second)).toHaveLength(2);
    expect(first.frames).toEqual([connectedFrame('roamer')]);
    expect(second.socket.readyState).toBe(second.socket.OPEN);

    for (const t of [a, b]) expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual(['roamer']);
    const shown = await a.http('GET', '/ws/clients/roamer', { token: ADMIN_TOKEN });
    expect(shown.body).toMatchObject({ id: 'roamer', gateway: 'notify', instance: `${prefix}B` });

    // and back: B's connection is replaced by a new one on A
    const third = await conn(a, 'roamer');
    expect(await second.waitClose(5000)).toEqual(REPLACED);
    expect(third.socket.readyState).toBe(third.socket.OPEN);
  });

  it('keeps exactly one connection when one client id connects on A and B at the same moment', async () => {
    const results: string[] = [];
    for (let round = 0; round < 5; round++) {
      const id = `race-${round}`;
      // Opened at once on both; the one replaced may be closed (4409) before its welcome is sent.
      const [onA, onB] = await Promise.all(
        [a, b].map((t) => TestClient.open(t.wsUrl(`/ws/${id}`, hsToken({ sub: 'user' })))),
      );
      open.push(onA, onB);
      await sleep(500);
      const openOnes = [onA, onB].filter((c) => c.socket.readyState === c.socket.OPEN);
      results.push(`${id}: ${openOnes.length} open`);
      for (const c of [onA, onB].filter((c) => c.socket.readyState !== c.socket.OPEN)) {
        expect(await c.waitClose()).toEqual(REPLACED);
      }
    }
    expect(results).toEqual(Array.from({ length: 5 }, (_, round) => `race-${round}: 1 open`));
  });

  it('answers POST /ws/send-message on A for a client on B with reached 1, delivered once', async () => {
    const onB = await conn(b, 'rest-b');
    const onA = await conn(a, 'rest-a');
    await settle(2);
    expect(await send(a, { type: 'rest', content: 'to B', client_id: 'rest-b' })).toEqual({
      status: 200,
      body: { sent: true, reached: 1, ...STORED },
    });
    expect(await send(b, { type: 'rest', content: 'to A', meta: { via: 'B' }, client_id: 'rest-a' })).toEqual({
      status: 200,
      body: { sent: true, reached: 1, ...STORED },
    });
    expect(await send(a, { type: 'rest', content: 'lost', client_id: 'nowhere' })).toEqual({
      status: 200,
      body: { sent: true, reached: 0, ...STORED },
    });
    await waitMessages(onB, (f) => f.type === 'rest');
    await waitMessages(onA, (f) => f.type === 'rest');
    await quiet([onA, onB], 300);
    expect(messages(onB)).toEqual([frame('rest', 'to B')]);
    expect(messages(onA)).toEqual([frame('rest', 'to A', { via: 'B' })]);
  });

  it('broadcasts POST /ws/send-message to every notify client of the cluster and counts them all', async () => {
    const clients = [await conn(a, 'c-a1'), await conn(a, 'c-a2'), await conn(b, 'c-b1'), await conn(b, undefined)];
    const chat = await b.chat({ sub: 'chat-user' });
    open.push(chat);
    await settle(5);
    expect(await send(a, { type: 'all', content: 1 })).toEqual({
      status: 200,
      body: { sent: true, reached: 4, ...STORED },
    });
    expect(await send(b, { type: 'all', content: 2 })).toEqual({
      status: 200,
      body: { sent: true, reached: 4, ...STORED },
    });
    for (const client of clients) await waitMessages(client, (f) => f.type === 'all', 2);
    await quiet(clients, 300);
    for (const client of clients) expect(messages(client)).toEqual([frame('all', 1), frame('all', 2)]);
    expect(chat.frames.filter((f) => f.type === 'all')).toEqual([]);
  });

  it('lists notify clients of both instances and disconnects one on B from A with 4000', async () => {
    const onA = await conn(a, 'list-a');
    const onB = await conn(b, 'list-b');
    const anonymousOnB = await conn(b, undefined);
    await settle(3);
    const ids = ['list-a', 'list-b', clientIdOf(anonymousOnB)].sort();
    expect(await listedNotifyIds(a, ADMIN_TOKEN)).toEqual(ids);
    expect(await listedNotifyIds(b, ADMIN_TOKEN)).toEqual(ids);
    const shown = await a.http('GET', '/ws/clients/list-b', { token: ADMIN_TOKEN });
    expect(shown.status).toBe(200);
    expect(shown.body).toMatchObject({ id: 'list-b', gateway: 'notify', user_id: 'user', instance: `${prefix}B` });

    expect(await a.http('DELETE', '/ws/clients/list-b', { token: ADMIN_TOKEN })).toEqual({
      status: 200,
      body: { disconnected: true, id: 'list-b' },
    });
    expect(await onB.waitClose(5000)).toEqual(ADMIN_CLOSED);
    await settle(2);
    expect((await a.http('GET', '/ws/clients/list-b', { token: ADMIN_TOKEN })).status).toBe(404);
    expect((await a.http('DELETE', '/ws/clients/list-b', { token: ADMIN_TOKEN })).status).toBe(404);
    expect(await listedNotifyIds(b, ADMIN_TOKEN)).toEqual(['list-a', clientIdOf(anonymousOnB)].sort());
    expect(onA.socket.readyState).toBe(onA.socket.OPEN);
    expect(anonymousOnB.socket.readyState).toBe(anonymousOnB.socket.OPEN);
  });

  it('hands a client’s frames to the host app of the instance it is connected to', async () => {
    const hostA = collectInbound(a);
    const hostB = collectInbound(b);
    try {
      const onB = await conn(b, 'talker', 'talker-sub');
      onB.send({ type: 'hello', content: 'from B', meta: { x: 1 } });
      await eventually(() => hostB.items.length === 1, 3000, 'the frame at B’s host');
      await quiet([onB], 300);
      expect(hostB.items).toEqual([inbound('talker', 'talker-sub', 'hello', 'from B', { x: 1 })]);
      expect(hostA.items).toEqual([]);
    } finally {
      hostA.stop();
      hostB.stop();
    }
  });

  it('keeps delivering once each under interleaved publishing from both instances', async () => {
    const onA = await conn(a, 'mix-a');
    const onB = await conn(b, 'mix-b');
    for (let i = 0; i < 50; i++) {
      pubA.notify({ type: 'mix', content: `A${i}` });
      pubB.notify({ type: 'mix', content: `B${i}` });
      pubA.notify({ type: 'mix', content: `A-to-b${i}` }, 'mix-b');
      pubB.notify({ type: 'mix', content: `B-to-a${i}` }, 'mix-a');
    }
    for (const client of [onA, onB]) await waitMessages(client, (f) => f.type === 'mix', 150, 10_000);
    await quiet([onA, onB], 300);
    await sleep(200);
    const contents = (client: TestClient): string[] => messages(client).map((f) => f.content as string);
    const series = (client: TestClient, p: string): string[] => contents(client).filter((c) => c.startsWith(p));
    expect(contents(onA)).toHaveLength(150);
    expect(contents(onB)).toHaveLength(150);
    // per publisher, in publish order
    const range = (p: string): string[] => Array.from({ length: 50 }, (_, i) => `${p}${i}`);
    expect(series(onA, 'A').filter((c) => !c.startsWith('A-'))).toEqual(range('A'));
    expect(series(onA, 'B').filter((c) => !c.startsWith('B-'))).toEqual(range('B'));
    expect(series(onA, 'B-to-a')).toEqual(range('B-to-a'));
    expect(series(onB, 'A').filter((c) => !c.startsWith('A-'))).toEqual(range('A'));
    expect(series(onB, 'B').filter((c) => !c.startsWith('B-'))).toEqual(range('B'));
    expect(series(onB, 'A-to-b')).toEqual(range('A-to-b'));
  });
});
