import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { ChatPublisher, type RealtimeModuleOptions } from '../src/realtime/index.js';
import { inStream } from './support/positions.js';
import { freePort, pingRedis, RedisServer, testRedisUrl } from './support/redis.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { eventually, sleep, type Frame, type TestClient } from './support/test-client.js';

/** SPEC §9: several instances on one Redis act as one; Redis down mid-run degrades, buffers, recovers. */

/** The run's Redis (REDIS_URL, or the private one globalSetup started), shared by the tests that do not kill it. */
const SHARED_REDIS = testRedisUrl();
const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const uniquePrefix = (tag: string): string => `test-${process.pid}-${Date.now()}-${tag}:`;

/** Two instances of the module, each with its own id, on one Redis and one prefix. */
async function startPair(url: string, prefix: string, extra: RealtimeModuleOptions = {}): Promise<[TestApp, TestApp]> {
  const common: RealtimeModuleOptions = { redis: { url, prefix }, rateLimitPerSec: 1000, ...extra };
  const a = await startTestApp({ ...common, instanceId: `${prefix}A` });
  const b = await startTestApp({ ...common, instanceId: `${prefix}B` });
  return [a, b];
}

async function health(t: TestApp): Promise<{ status: number; body: any }> {
  return t.http('GET', '/ws/health');
}

async function waitHealth(apps: TestApp[], status: string, redis: string, timeoutMs: number): Promise<void> {
  await eventually(
    async () => {
      for (const app of apps) {
        const { body } = await health(app);
        if (body?.status !== status || body?.redis !== redis) return false;
      }
      return true;
    },
    timeoutMs,
    `health ${status}/${redis} on every instance`,
  );
}

async function joined(t: TestApp, sub: string, room: string): Promise<TestClient> {
  const client = await t.chat({ sub, username: `user-${sub}` });
  client.send({ type: 'join_room', room });
  await client.nextOfType('room_joined');
  return client;
}

/** The `message` events of `room` a client has received, by content. */
const contents = (client: TestClient, room: string): string[] =>
  client
    .ofType('message')
    .filter((f: Frame) => f.room === room)
    .map((f: Frame) => f.data.content);

const closeAll = (...clients: Array<TestClient | undefined>): void => clients.forEach((c) => c?.close());

describe('Redis event bus: two instances on one Redis (SPEC §9)', () => {
  let a: TestApp;
  let b: TestApp;

  beforeAll(async () => {
    [a, b] = await startPair(SHARED_REDIS, uniquePrefix('cluster'));
    await waitHealth([a, b], 'ok', 'up', 10_000);
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
  });

  it('reports the Redis bus as up on both instances', async () => {
    for (const t of [a, b]) {
      const { status, body } = await health(t);
      expect(status).toBe(200);
      expect(body).toMatchObject({ status: 'ok', bus: 'redis', redis: 'up' });
    }
  });

  it('delivers a chat send_message on A to members on A and on B, exactly once each', async () => {
    const room = 'channel:1';
    const alice = await joined(a, '101', room);
    const bob = await joined(b, '102', room);

    alice.send({ type: 'send_message', room, data: { content: 'across the cluster' } });
    const expected = {
      type: 'message',
      room,
      data: { content: 'across the cluster', user_id: '101', username: 'user-101' },
      sender: 'user-101',
      timestamp: expect.stringMatching(ISO_MS),
      ...inStream(room),
    };
    expect(await bob.nextOfType('message')).toEqual(expected);
    expect(await alice.nextOfType('message')).toEqual(expected);

    await sleep(500); // a duplicate (an echo through Redis) would have arrived by now
    expect(contents(alice, room)).toEqual(['across the cluster']);
    expect(contents(bob, room)).toEqual(['across the cluster']);
    closeAll(alice, bob);
  });

  it("delivers a host-API publish on B to a task room member on A exactly once (and to B's own member)", async () => {
    const taskId = 4242;
    const room = `task:${taskId}`;
    const onA = await joined(a, '201', room);
    const onB = await joined(b, '202', room);

    b.app.get(ChatPublisher).taskUpdated(taskId, { id: taskId, status: 'done' }, 'scheduler');
    const expected = {
      type: 'task.updated',
      room,
      data: { id: taskId, status: 'done' },
      sender: 'scheduler',
      timestamp: expect.stringMatching(ISO_MS),
      ...inStream(room),
    };
    expect(await onA.nextOfType('task.updated')).toEqual(expected);
    expect(await onB.nextOfType('task.updated')).toEqual(expected);

    await sleep(500);
    expect(onA.ofType('task.updated')).toHaveLength(1);
    expect(onB.ofType('task.updated')).toHaveLength(1);
    closeAll(onA, onB);
  });

  it('keeps the order of 200 messages sent quickly on A, on B and on A', async () => {
    const room = 'channel:2';
    const sender = await joined(a, '301', room);
    const receiver = await joined(b, '302', room);
    const sent = Array.from({ length: 200 }, (_, i) => `m-${i}`);

    for (const content of sent) sender.send({ type: 'send_message', room, data: { content } });

    await eventually(() => contents(receiver, room).length >= sent.length, 10_000, '200 messages on B');
    await eventually(() => contents(sender, room).length >= sent.length, 5_000, '200 messages on A');
    await sleep(300);
    expect(sender.ofType('error')).toEqual([]);
    expect(contents(receiver, room)).toEqual(sent);
    expect(contents(sender, room)).toEqual(sent);
    closeAll(sender, receiver);
  });
});

// ---------------------------------------------------------------------------------------------
// Fault injection on a private redis-server (test/support/redis-infra.mjs) that the tests kill and restart.

/** A TCP relay in front of a port, that can refuse new connections and cut the live ones. */
class Relay {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private accepting = true;
  port = 0;

  constructor(private readonly target: number) {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      if (!this.accepting) {
        client.destroy();
        return;
      }
      const upstream = connect(this.target, '127.0.0.1');
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('error', () => undefined);
        socket.on('close', () => {
          this.sockets.delete(socket);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Refuses new connections (they are closed at once), and cuts the live ones. */
  block(): void {
    this.accepting = false;
    for (const socket of this.sockets) socket.destroy();
  }

  allow(): void {
    this.accepting = true;
  }

  async close(): Promise<void> {
    this.block();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe('Redis down mid-run (SPEC §9)', () => {
  let redis: RedisServer;
  let a: TestApp | undefined;
  let b: TestApp | undefined;
  let relay: Relay | undefined;
  const clients: TestClient[] = [];
  const track = (client: TestClient): TestClient => {
    clients.push(client);
    return client;
  };

  beforeAll(async () => {
    redis = new RedisServer(await freePort());
    await redis.start();
  });

  afterEach(async () => {
    closeAll(...clients.splice(0));
    await a?.close().catch(() => undefined);
    await b?.close().catch(() => undefined);
    await relay?.close();
    a = b = relay = undefined;
  });

  afterAll(async () => {
    await redis?.kill('SIGKILL');
  });

  it('degrades, keeps serving local members, recovers, and delivers what was published meanwhile once, in order', async () => {
    if (!(await pingRedis(redis.port))) await redis.start();
    [a, b] = await startPair(redis.url, uniquePrefix('fault'));
    await waitHealth([a, b], 'ok', 'up', 10_000);

    const room = 'channel:5';
    const alice = track(await joined(a, '501', room));
    const localPeer = track(await joined(a, '502', room));
    const remote = track(await joined(b, '503', room));

    alice.send({ type: 'send_message', room, data: { content: 'before' } });
    expect((await remote.nextOfType('message')).data.content).toBe('before');

    await redis.kill('SIGKILL');

    await waitHealth([a, b], 'degraded', 'down', 5_000);
    for (const t of [a, b]) {
      const { status, body } = await health(t);
      expect(status).toBe(200);
      expect(body).toMatchObject({ status: 'degraded', bus: 'redis', redis: 'down' });
    }

    const offline = Array.from({ length: 20 }, (_, i) => `offline-${i}`);
    for (const content of offline) alice.send({ type: 'send_message', room, data: { content } });
    // Local members get them at once, Redis or not.
    await eventually(() => contents(alice, room).length === 1 + offline.length, 1_000, 'local delivery to the sender');
    await eventually(() => contents(localPeer, room).length === 1 + offline.length, 1_000, 'local delivery to a peer');
    expect(contents(alice, room)).toEqual(['before', ...offline]);
    expect(contents(localPeer, room)).toEqual(['before', ...offline]);
    expect(alice.ofType('error')).toEqual([]);
    // The host API is accepted too while Redis is down.
    a.app.get(ChatPublisher).message(room, { content: 'from-host' }, 'host');
    expect((await localPeer.next((f) => f.data?.content === 'from-host', 1_000)).sender).toBe('host');

    await sleep(300);
    expect(contents(remote, room)).toEqual(['before']);

    await redis.start();
    await waitHealth([a, b], 'ok', 'up', 15_000);
    for (const t of [a, b]) expect((await health(t)).status).toBe(200);

    const expected = ['before', ...offline, 'from-host'];
    // Waits for them, then compares, so that a loss shows as a diff of what did arrive.
    await eventually(() => contents(remote, room).length >= expected.length, 10_000).catch(() => undefined);
    await sleep(500);
    expect(contents(remote, room)).toEqual(expected);
    // Nothing echoed back to A's own members.
    expect(contents(alice, room)).toEqual(expected);
    expect(contents(localPeer, room)).toEqual(expected);

    // And the cluster works normally again, both ways.
    alice.send({ type: 'send_message', room, data: { content: 'after' } });
    expect((await remote.next((f) => f.data?.content === 'after', 3_000)).room).toBe(room);
    const fromB = track(await joined(b, '504', room));
    fromB.send({ type: 'send_message', room, data: { content: 'from-b' } });
    expect((await alice.next((f) => f.data?.content === 'from-b', 3_000)).room).toBe(room);
  }, 60_000);

  it('delivers what A buffered to B once, even when B reconnects to Redis after A has drained its buffer', async () => {
    if (!(await pingRedis(redis.port))) await redis.start();
    // B reaches Redis through a relay, so that its reconnection can be held back after A's.
    relay = new Relay(redis.port);
    await relay.start();
    const prefix = uniquePrefix('stagger');
    const common: RealtimeModuleOptions = { rateLimitPerSec: 1000 };
    a = await startTestApp({ ...common, redis: { url: redis.url, prefix }, instanceId: `${prefix}A` });
    b = await startTestApp({ ...common, redis: { url: relay.url, prefix }, instanceId: `${prefix}B` });
    await waitHealth([a, b], 'ok', 'up', 10_000);

    const room = 'channel:6';
    const alice = track(await joined(a, '601', room));
    const remote = track(await joined(b, '602', room));
    alice.send({ type: 'send_message', room, data: { content: 'before' } });
    expect((await remote.nextOfType('message')).data.content).toBe('before');

    relay.block();
    await redis.kill('SIGKILL');
    await waitHealth([a, b], 'degraded', 'down', 5_000);

    const offline = Array.from({ length: 5 }, (_, i) => `offline-${i}`);
    for (const content of offline) alice.send({ type: 'send_message', room, data: { content } });
    await eventually(() => contents(alice, room).length === 1 + offline.length, 1_000, 'local delivery');

    await redis.start();
    await waitHealth([a], 'ok', 'up', 15_000); // A is back and has sent its buffer
    await sleep(500);
    expect((await health(b)).body).toMatchObject({ status: 'degraded', redis: 'down' });

    relay.allow();
    await waitHealth([b], 'ok', 'up', 15_000);
    await eventually(() => contents(remote, room).length >= 1 + offline.length, 10_000).catch(() => undefined);
    await sleep(300);
    expect(contents(remote, room)).toEqual(['before', ...offline]);
  }, 60_000);
});
