import { Cluster, Redis } from 'ioredis';
import type { RealtimeModuleOptions } from '../src/realtime/index.js';
import { testRedisCluster, testRedisUrl } from './support/redis.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';
import { eventually, TestClient } from './support/test-client.js';
import { hsToken } from './support/tokens.js';

/**
 * The one Redis connection provider (issue 7): a URL, Redis Cluster seed nodes, or a client the
 * host supplies all carry the bus and the cluster view, and every multi-key command stays in one
 * slot of a Redis Cluster.
 */
describe('Redis connections', () => {
  const open: TestClient[] = [];
  const apps: TestApp[] = [];

  const start = async (options: RealtimeModuleOptions): Promise<TestApp> => {
    const app = await startTestApp({ heartbeatTimeoutMs: 3000, ...options });
    apps.push(app);
    await eventually(async () => (await app.http('GET', '/ws/health')).body.redis === 'up', 10_000, 'redis up');
    return app;
  };

  const chat = async (t: TestApp, sub: string): Promise<TestClient> => {
    const client = await t.chat({ sub, username: sub });
    open.push(client);
    return client;
  };

  const clusterTotal = async (t: TestApp): Promise<number> =>
    (await t.http('GET', '/ws/stats', { token: ADMIN_TOKEN })).body.cluster.connections.total as number;

  afterEach(async () => {
    open.splice(0).forEach((client) => client.close());
    for (const app of apps.splice(0)) await app.close();
  });

  /** Two instances that must act as one: a room message crosses, and the per-user limit counts both. */
  async function expectOneCluster(a: TestApp, b: TestApp): Promise<void> {
    const onA = await chat(a, 'alice');
    const onB = await chat(b, 'bob');
    for (const client of [onA, onB]) {
      client.send({ type: 'join_room', room: 'channel:1' });
      await client.nextOfType('room_joined');
    }
    onB.send({ type: 'send_message', room: 'channel:1', data: { content: 'across' } });
    expect((await onA.next((frame) => frame.type === 'message')).data.content).toBe('across');

    for (let i = 0; i < 2; i++) await chat(a, 'carol');
    for (let i = 0; i < 2; i++) await chat(b, 'carol');
    await eventually(async () => (await clusterTotal(a)) === 6 && (await clusterTotal(b)) === 6, 5000, 'totals');
    const fifth = await chat(b, 'carol');
    expect(fifth.frames[0].type).toBe('connected');
    await eventually(async () => (await clusterTotal(a)) === 7, 5000, 'a sees the fifth');
    const sixth = await TestClient.open(a.wsUrl('/api/v1/ws/connect', hsToken({ sub: 'carol' })));
    expect(await sixth.waitClose()).toEqual({ code: 4429, reason: 'Too many connections' });
  }

  it('runs the bus and the cluster view on a Redis Cluster, with no CROSSSLOT', async () => {
    const { nodes } = await testRedisCluster();
    const prefix = `conn-${process.pid}-${Date.now()}:`;
    const options = (id: string): RealtimeModuleOptions => ({
      redis: { clusterNodes: nodes, prefix },
      instanceId: `${prefix}${id}`,
    });
    const [a, b] = [await start(options('A')), await start(options('B'))];
    await expectOneCluster(a, b);

    const probe = new Cluster(nodes.map((node) => ({ host: node.split(':')[0], port: Number(node.split(':')[1]) })));
    try {
      await new Promise((resolve) => probe.once('ready', resolve));
      const keys = (await Promise.all(probe.nodes('master').map((node) => node.keys(`${prefix}*`)))).flat();
      const slotsOf = async (some: string[]): Promise<Set<unknown>> =>
        new Set(await Promise.all(some.map((key) => probe.cluster('KEYSLOT', key))));
      // What one MULTI touches (the instance list, liveness, client lists) shares one slot…
      const clusterKeys = keys.filter((key) => key.includes('{ws:cluster}'));
      expect(clusterKeys.length).toBeGreaterThan(0);
      expect((await slotsOf(clusterKeys)).size).toBe(1);
      // …while per-user slots and presence are spread by user, topic and instance (issue 12).
      const spread = keys.filter((key) => key.includes('{ws:user:') || key.includes('{ws:topic:'));
      expect(spread.length).toBeGreaterThan(1);
      expect((await slotsOf(spread)).size).toBeGreaterThan(1);
    } finally {
      probe.disconnect();
    }
  });

  it('duplicates a client the host supplies, and leaves the host client open when the app closes', async () => {
    const prefix = `conn-host-${process.pid}-${Date.now()}:`;
    const hostClients = [new Redis(testRedisUrl()), new Redis(testRedisUrl())];
    const [a, b] = [
      await start({ redis: { client: hostClients[0], prefix }, instanceId: `${prefix}A` }),
      await start({ redis: { client: hostClients[1], prefix }, instanceId: `${prefix}B` }),
    ];
    await expectOneCluster(a, b);
    open.splice(0).forEach((client) => client.close());
    for (const app of apps.splice(0)) await app.close();
    for (const client of hostClients) {
      expect(client.status).toBe('ready');
      expect(await client.ping()).toBe('PONG');
      await client.quit();
    }
  });
});
