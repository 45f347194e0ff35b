import WebSocket from 'ws';
import { ChatPublisher, ConnectionRegistry } from '../src/realtime/index.js';
import { ClusterPresence, UserSlots } from '../src/realtime/core/cluster/index.js';
import { TestClient, eventually, sleep, type Frame } from './support/test-client.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { hsToken } from './support/tokens.js';
import { mulberry32 } from './support/hostile-frames.js';
import {
  BurstReader,
  EMPTY,
  exposeGc,
  netSocket,
  publishBurst,
  type Burst,
  type BurstOptions,
} from './support/slow-consumer.js';

/**
 * SPEC §9 slow consumers and connection lifecycle: a socket that does not read is closed with
 * 1013 instead of growing memory, other sockets of the room are not slowed, and churn leaves
 * nothing behind in the registry.
 */

const CHAT_PATH = '/api/v1/ws/connect';
/** A room member counting the `message` events of a burst. */
const joinReader = (url: string, room: string): Promise<BurstReader> =>
  BurstReader.open(url, 'reader did not join', (reader, frame, ready) => {
    if (frame.type === 'connected') reader.socket.send(JSON.stringify({ type: 'join_room', room }));
    else if (frame.type === 'room_joined') ready();
    else if (frame.type === 'message') reader.count(frame.data.seq === reader.received, frame.data.seq);
    else reader.others.push(frame);
  });

/** Publishes `count` chat messages to `room` (see `publishBurst`). */
const burst = (publisher: ChatPublisher, room: string, count: number, options: BurstOptions): Promise<Burst> =>
  publishBurst((seq, pad) => publisher.message(room, { seq, pad }, 'bench'), count, options);

async function slowClient(t: TestApp, sub: string, room: string): Promise<{ client: TestClient; id: string }> {
  const client = await t.chat({ sub });
  const id = client.frames[0].data.connection_id as string;
  client.send({ type: 'join_room', room });
  await client.nextOfType('room_joined');
  netSocket(client).pause();
  return { client, id };
}

describe('slow consumers (SPEC §9)', () => {
  const MAX_QUEUE_BYTES = 262_144;
  let t: TestApp;
  let registry: ConnectionRegistry;
  let publisher: ChatPublisher;
  let gc: () => void;

  beforeAll(async () => {
    gc = exposeGc();
    t = await startTestApp({
      maxQueueBytes: MAX_QUEUE_BYTES,
      rateLimitPerSec: 100_000,
      chat: { maxConnectionsPerUser: 100 },
    });
    registry = t.app.get(ConnectionRegistry);
    publisher = t.app.get(ChatPublisher);
  });
  afterAll(() => t.close());

  it('closes a socket that never reads with 1013 past maxQueueBytes, while 30 readers get every message in order', async () => {
    const ROOM = 'channel:5';
    // Loopback kernel buffers alone took ~3.5 MB of a paused socket's data on the dev host, so
    // 3000 × 1 KB would never reach the user-space queue: 3000 × 2 KB (6 MB) does, with margin.
    const MESSAGES = 3000;
    const SIZE = 2048;
    expect(registry.footprint()).toEqual(EMPTY);
    gc();
    const heapBefore = process.memoryUsage().heapUsed;

    const readers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => joinReader(t.wsUrl(CHAT_PATH, hsToken({ sub: `reader-${i}` })), ROOM)),
    );
    const slow = await slowClient(t, 'slow', ROOM);
    const slowConnection = registry.get(slow.id)!;
    expect(slowConnection).toBeDefined();

    const started = Date.now();
    const result = await burst(publisher, ROOM, MESSAGES, {
      size: SIZE,
      chunk: 50,
      watch: () => slowConnection.backlogBytes,
    });
    await eventually(() => readers.every((r) => r.received >= MESSAGES), 15_000, 'every reader got every message');
    const deliveredIn = Date.now() - started;

    // the readers: everything, in order, nothing else, still open
    for (const reader of readers) {
      expect(reader.outOfOrder).toEqual([]);
      expect(reader.received).toBe(MESSAGES);
      expect(reader.others.filter((f) => f.type !== 'user_joined')).toEqual([]);
      expect(reader.isOpen).toBe(true);
    }

    // the slow socket: closed by the server with 1013, its backlog bounded meanwhile
    expect(slowConnection.closeCode).toBe(1013);
    expect(slowConnection.isOpen).toBe(false);
    expect(result.maxBacklog).toBeLessThanOrEqual(MAX_QUEUE_BYTES + SIZE + 256);

    // once it reads again it sees the 1013 close (within the server's 2 s grace)
    netSocket(slow.client).resume();
    const closed = await slow.client.waitClose(5000);
    const seqs = slow.client.ofType('message').map((m) => m.data.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i)); // a gapless prefix of the burst
    expect(seqs.length).toBeLessThan(MESSAGES);
    expect(closed).toEqual({ code: 1013, reason: expect.any(String) });
    await eventually(() => registry.get(slow.id) === undefined, 5000, 'slow connection removed from the registry');

    for (const reader of readers) reader.socket.close();
    await Promise.all(readers.map((r) => r.closed));
    await eventually(() => registry.footprint().connections === 0, 5000, 'readers released');
    expect(registry.footprint()).toEqual(EMPTY);

    gc();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    console.log(
      `slow consumer: ${MESSAGES} × 30 delivered in ${deliveredIn} ms; slow socket got ${seqs.length}; max backlog ${result.maxBacklog} B; heap growth ${(heapGrowth / 1048576).toFixed(1)} MB`,
    );
    expect(heapGrowth).toBeLessThan(32 * 1048576);
  });
});

describe('slow consumers by message count (SPEC §9, maxQueueSize 50)', () => {
  let t: TestApp;
  let registry: ConnectionRegistry;
  let publisher: ChatPublisher;

  beforeAll(async () => {
    t = await startTestApp({
      maxQueueSize: 50,
      maxQueueBytes: 512 * 1048576,
      rateLimitPerSec: 100_000,
      chat: { maxConnectionsPerUser: 100 },
    });
    registry = t.app.get(ConnectionRegistry);
    publisher = t.app.get(ChatPublisher);
  });
  afterAll(() => t.close());

  it('closes a paused socket with 1013 once 50 messages are held for it; readers unaffected', async () => {
    const ROOM = 'channel:6';
    const readers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => joinReader(t.wsUrl(CHAT_PATH, hsToken({ sub: `count-reader-${i}` })), ROOM)),
    );
    const slow = await slowClient(t, 'count-slow', ROOM);
    const slowConnection = registry.get(slow.id)!;

    // chunks below the limit, so a reader never has 50 writes in flight at once
    const result = await burst(publisher, ROOM, 40_000, { size: 1000, chunk: 20, stop: () => !slowConnection.isOpen });
    expect(slowConnection.closeCode).toBe(1013);
    await eventually(() => readers.every((r) => r.received >= result.sent), 10_000, 'readers got every message');
    for (const reader of readers) {
      expect(reader.outOfOrder).toEqual([]);
      expect(reader.received).toBe(result.sent);
      expect(reader.isOpen).toBe(true);
    }
    netSocket(slow.client).resume();
    expect((await slow.client.waitClose(5000)).code).toBe(1013);
    await eventually(() => registry.get(slow.id) === undefined, 5000, 'slow connection removed');
    console.log(`count limit: slow socket closed after ${result.sent} messages`);

    for (const reader of readers) reader.socket.close();
    await eventually(() => registry.footprint().connections === 0, 5000, 'readers released');
    expect(registry.footprint()).toEqual(EMPTY);
  });

  it('terminates a paused socket that cannot finish the close handshake, within the grace period', async () => {
    const ROOM = 'channel:7';
    const reader = await joinReader(t.wsUrl(CHAT_PATH, hsToken({ sub: 'grace-reader' })), ROOM);
    const slow = await slowClient(t, 'grace-slow', ROOM);
    const slowConnection = registry.get(slow.id)!;
    const result = await burst(publisher, ROOM, 40_000, { size: 1000, chunk: 20, stop: () => !slowConnection.isOpen });
    const overflowAt = Date.now();
    expect(slowConnection.closeCode).toBe(1013);
    // never resumed: the close frame cannot be read, so the server must terminate and forget it
    await eventually(() => registry.get(slow.id) === undefined, 5000, 'terminated slow connection removed');
    const removedAfter = Date.now() - overflowAt;
    expect(removedAfter).toBeGreaterThanOrEqual(1500);
    expect(removedAfter).toBeLessThan(4000);
    await eventually(() => reader.received >= result.sent, 5000, 'reader got every message');
    expect(reader.outOfOrder).toEqual([]);
    expect(reader.isOpen).toBe(true);
    netSocket(slow.client).resume();
    // the close frame was still queued when the server gave up, so the client sees an abnormal close
    expect((await slow.client.waitClose(5000)).code).toBe(1006);
    reader.socket.close();
    await eventually(() => registry.footprint().connections === 0, 5000, 'reader released');
    expect(registry.footprint()).toEqual(EMPTY);
  });

  it('does not close healthy readers for a synchronous burst larger than maxQueueSize', async () => {
    const ROOM = 'channel:8';
    const readers = await Promise.all(
      Array.from({ length: 3 }, (_, i) => joinReader(t.wsUrl(CHAT_PATH, hsToken({ sub: `sync-reader-${i}` })), ROOM)),
    );
    // 100 small messages in one tick: the kernel takes every write at once, nothing is held back
    await burst(publisher, ROOM, 100, { size: 10, chunk: 100 });
    await eventually(() => readers.every((r) => r.received >= 100 || !r.isOpen), 3000, 'readers got the burst');
    await sleep(100);
    for (const reader of readers) {
      expect({ closeCode: reader.closeCode, received: reader.received }).toEqual({
        closeCode: undefined,
        received: 100,
      });
      expect(reader.isOpen).toBe(true);
    }
    for (const reader of readers) reader.socket.close();
    await eventually(() => registry.footprint().connections === 0, 5000, 'readers released');
  });
});

describe('connection churn leaves nothing behind (SPEC §3, §9)', () => {
  const WATCHED = ['channel:9000', 'channel:9001', 'channel:9002'];
  const ROOMS = [...WATCHED, 'channel:9003', 'project:9004', 'task:9005'];
  const TOTAL = 2000;
  const BATCH = 100;
  let t: TestApp;
  let registry: ConnectionRegistry;

  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 100_000, chat: { maxConnectionsPerUser: 10_000 } });
    registry = t.app.get(ConnectionRegistry);
  });
  afterAll(() => t.close());

  type Mode =
    | 'close'
    | 'terminate'
    | 'join+close'
    | 'join+terminate'
    | 'join-nowait+close'
    | 'join-nowait+terminate'
    | 'terminate-on-open'
    | 'abort-handshake';
  const MODES: Mode[] = [
    'close',
    'terminate',
    'join+close',
    'join+terminate',
    'join-nowait+close',
    'join-nowait+terminate',
    'terminate-on-open',
    'abort-handshake',
  ];

  async function churnOne(index: number, rng: () => number): Promise<Mode> {
    const mode = MODES[Math.floor(rng() * MODES.length)];
    const rooms = [...ROOMS].sort(() => rng() - 0.5).slice(0, 1 + Math.floor(rng() * 3));
    const delay = Math.floor(rng() * 3);
    // two tabs per user, opened in the same batch: presence must count the user, not the tab
    const client = new TestClient(
      t.wsUrl(CHAT_PATH, hsToken({ sub: `churn-${index >> 1}`, username: `churner${index >> 1}` })),
    );
    if (mode === 'abort-handshake') {
      await sleep(delay);
      client.terminate();
      await client.closed;
      return mode;
    }
    await client.opened;
    if (mode === 'terminate-on-open') {
      client.terminate();
      await client.closed;
      return mode;
    }
    await client.nextOfType('connected');
    if (mode.startsWith('join')) {
      for (const room of rooms) client.send({ type: 'join_room', room });
      if (!mode.startsWith('join-nowait')) {
        for (let i = 0; i < rooms.length; i++) await client.nextOfType('room_joined');
      }
    }
    if (mode.endsWith('terminate')) client.terminate();
    else client.close();
    await client.closed;
    return mode;
  }

  it(`survives ${TOTAL} connects/disconnects with an empty registry and balanced presence`, async () => {
    expect(registry.footprint()).toEqual(EMPTY);
    const watcher = await t.chat({ sub: 'watcher', username: 'watcher' });
    for (const room of WATCHED) {
      watcher.send({ type: 'join_room', room });
      await watcher.nextOfType('room_joined');
    }
    const baseline = registry.footprint();
    expect(baseline).toEqual({ connections: 1, topics: 1 + WATCHED.length, ips: 1 });
    const [slots, entered] = [t.app.get(UserSlots), t.app.get(ClusterPresence)];
    expect([slots.size, entered.size]).toEqual([1, WATCHED.length]);

    const rng = mulberry32(0xc4_0112);
    const modes = new Map<Mode, number>();
    const started = Date.now();
    for (let first = 0; first < TOTAL; first += BATCH) {
      const done = await Promise.all(Array.from({ length: BATCH }, (_, i) => churnOne(first + i, rng)));
      for (const mode of done) modes.set(mode, (modes.get(mode) ?? 0) + 1);
    }
    const churnMs = Date.now() - started;

    await eventually(
      () => registry.footprint().connections === baseline.connections,
      10_000,
      'churned connections released',
    );
    expect(registry.footprint()).toEqual(baseline);
    expect([slots.size, entered.size]).toEqual([1, WATCHED.length]);

    // every user_joined the watcher saw is matched by a user_left, per user and room, in order
    const presence = (): Frame[] => watcher.frames.filter((f) => f.type === 'user_joined' || f.type === 'user_left');
    await eventually(
      () =>
        presence().filter((f) => f.type === 'user_joined').length ===
        presence().filter((f) => f.type === 'user_left').length,
      5000,
      'as many user_left as user_joined',
    );
    const sequences = new Map<string, string[]>();
    for (const frame of presence()) {
      const key = `${frame.data.user_id}@${frame.room}`;
      sequences.set(key, [...(sequences.get(key) ?? []), frame.type]);
    }
    const unbalanced = [...sequences].filter(
      ([, events]) =>
        events.length % 2 !== 0 || events.some((type, i) => type !== (i % 2 === 0 ? 'user_joined' : 'user_left')),
    );
    expect(unbalanced).toEqual([]);
    expect([...sequences.keys()].every((key) => key.startsWith('churn-'))).toBe(true);
    const joins = presence().filter((f) => f.type === 'user_joined').length;
    expect(joins).toBeGreaterThan(200);
    expect(watcher.ofType('error')).toHaveLength(0);
    expect(watcher.socket.readyState).toBe(watcher.socket.OPEN);

    watcher.close();
    await eventually(() => registry.footprint().connections === 0, 5000, 'watcher released');
    expect(registry.footprint()).toEqual(EMPTY);
    console.log(
      `churn: ${TOTAL} connections in ${churnMs} ms; ${joins} joins seen; modes ${JSON.stringify(Object.fromEntries(modes))}`,
    );
    expect([...modes.keys()].sort()).toEqual([...MODES].sort());
  }, 120_000); // 2,000 real connections: a loaded 2-core machine needs more than the default 30 s
});

describe('one large event', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ maxQueueBytes: 65_536 });
  });
  afterAll(() => t.close());

  it('is delivered to a reader with nothing pending even when larger than maxQueueBytes', async () => {
    const client = await t.chat({ sub: 'big' });
    client.send({ type: 'join_room', room: 'channel:9' });
    await client.nextOfType('room_joined');
    t.app.get(ChatPublisher).message('channel:9', { blob: 'x'.repeat(200_000) });
    expect((await client.nextOfType('message')).data.blob).toHaveLength(200_000);
    expect(client.socket.readyState).toBe(WebSocket.OPEN);
    client.close();
  });
});
