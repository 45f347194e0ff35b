import { TestClient, sleep } from './support/test-client.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';
import { closeAndSettle, clusterPrefix, settle as settleCluster, startPair, stopAll } from './support/cluster-pair.js';
import { hsToken } from './support/tokens.js';

/** SPEC §9 "the cluster acts as one": limits, presence and admin views across two instances on Redis. */
const CHAT = '/api/v1/ws/connect';
/** After it, every frame in flight has arrived: counts are checked then. */
const QUIET_MS = 300;

describe('cluster state across instances (SPEC §9)', () => {
  const prefix = clusterPrefix('state');
  let a: TestApp;
  let b: TestApp;
  const open: TestClient[] = [];

  const settle = (total: number) => settleCluster([a, b], total);

  const chat = async (t: TestApp, sub: string): Promise<TestClient> => {
    const client = await t.chat({ sub, username: sub });
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    [a, b] = await startPair(prefix, { heartbeatTimeoutMs: 3000 });
  });

  afterEach(() => closeAndSettle(open, [a, b]));

  afterAll(async () => {
    await stopAll([a, b]);
  });

  it('counts a user’s connections on every instance against the per-user limit', async () => {
    for (let i = 0; i < 3; i++) await chat(a, 'multi');
    for (let i = 0; i < 2; i++) await chat(b, 'multi');
    await settle(5);
    for (const t of [a, b]) {
      const sixth = new TestClient(t.wsUrl(CHAT, hsToken({ sub: 'multi' })));
      expect(await sixth.waitClose()).toEqual({ code: 4429, reason: 'Too many connections' });
    }
    open.pop()!.close();
    await settle(4);
    await chat(a, 'multi');
  });

  it('reports presence per user per room for the whole cluster', async () => {
    const watcher = await chat(a, 'watcher');
    watcher.send({ type: 'join_room', room: 'channel:50' });
    await watcher.nextOfType('room_joined');

    const onA = await chat(a, 'roamer');
    onA.send({ type: 'join_room', room: 'channel:50' });
    await onA.nextOfType('room_joined');
    expect((await watcher.nextOfType('user_joined')).data.user_id).toBe('roamer');

    const onB = await chat(b, 'roamer');
    onB.send({ type: 'join_room', room: 'channel:50' });
    await onB.nextOfType('room_joined');
    onA.send({ type: 'leave_room', room: 'channel:50' });
    await onA.nextOfType('room_left');
    await sleep(QUIET_MS);
    expect(watcher.ofType('user_joined')).toHaveLength(1);
    expect(watcher.ofType('user_left')).toHaveLength(0);

    onB.close();
    expect((await watcher.nextOfType('user_left', 5000)).data.user_id).toBe('roamer');
    await sleep(QUIET_MS);
    expect(watcher.ofType('user_left')).toHaveLength(1);
  });

  it('lists, shows and disconnects clients of another instance', async () => {
    await chat(a, 'on-a');
    const remote = await chat(b, 'on-b');
    await settle(2);
    const list = await a.http('GET', '/ws/clients', { token: ADMIN_TOKEN });
    expect(list.body.total).toBe(2);
    const onB = list.body.clients.find((client: any) => client.user_id === 'on-b');
    expect(onB).toMatchObject({ gateway: 'chat', instance: `${prefix}B`, rooms: ['user:on-b'] });
    expect((await a.http('GET', `/ws/clients?user=on-b`, { token: ADMIN_TOKEN })).body.total).toBe(1);
    expect((await a.http('GET', `/ws/clients/${onB.id}`, { token: ADMIN_TOKEN })).body.id).toBe(onB.id);

    const deleted = await a.http('DELETE', `/ws/clients/${onB.id}`, { token: ADMIN_TOKEN });
    expect(deleted.status).toBe(200);
    expect(await remote.waitClose()).toEqual({ code: 4000, reason: 'Disconnected by administrator' });
    await settle(1);
    expect((await a.http('DELETE', `/ws/clients/${onB.id}`, { token: ADMIN_TOKEN })).status).toBe(404);
  });

  it('disconnects a client of another instance right after it connected, before any refresh of the cluster view', async () => {
    for (let round = 0; round < 5; round++) {
      const remote = await TestClient.open(b.wsUrl(`/ws/fresh-${round}`, hsToken({ sub: `fresh-${round}` })));
      await remote.next((frame) => frame.type === 'connected');
      const deleted = await a.http('DELETE', `/ws/clients/fresh-${round}`, { token: ADMIN_TOKEN });
      expect(deleted).toEqual({ status: 200, body: { disconnected: true, id: `fresh-${round}` } });
      expect(await remote.waitClose()).toEqual({ code: 4000, reason: 'Disconnected by administrator' });
    }
  });
});

describe('Redis down at start (SPEC §9)', () => {
  it('starts anyway, reports degraded with HTTP 200, and serves its own sockets', async () => {
    const t = await startTestApp({ redis: { url: 'redis://127.0.0.1:1', prefix: 'unreachable:' } });
    try {
      const health = await t.http('GET', '/ws/health');
      expect(health).toMatchObject({ status: 200, body: { status: 'degraded', bus: 'redis', redis: 'down' } });
      const alice = await t.chat({ sub: 'a' });
      const bob = await t.chat({ sub: 'b' });
      for (const client of [alice, bob]) {
        client.send({ type: 'join_room', room: 'channel:1' });
        await client.nextOfType('room_joined');
      }
      alice.send({ type: 'send_message', room: 'channel:1', data: { content: 'still here' } });
      expect((await bob.nextOfType('message')).data.content).toBe('still here');
      expect((await t.http('GET', '/ws/clients', { token: ADMIN_TOKEN })).body.total).toBe(2);
      alice.close();
      bob.close();
    } finally {
      await t.close();
    }
  });
});
