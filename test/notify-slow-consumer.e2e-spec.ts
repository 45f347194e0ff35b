import { ConnectionRegistry, NotifyPublisher } from '../src/realtime/index.js';
import { TestClient, eventually, sleep } from './support/test-client.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';
import { hsToken } from './support/tokens.js';
import { connectedFrame, listedNotifyIds, openNotify, ping } from './support/notify-client.js';
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
 * SPEC §9 slow consumers on the notify gateway: a client that does not read is closed with 1013
 * (terminated if the close handshake cannot complete) instead of growing memory, while the other
 * notify clients get every broadcast, in order; the server forgets it everywhere.
 */

/** A notify client (`clientId`) counting the `burst` messages of a burst. */
const connectReader = (t: TestApp, clientId: string): Promise<BurstReader> =>
  BurstReader.open(
    t.wsUrl(`/ws/${clientId}`, hsToken({ sub: `reader-${clientId}` })),
    `reader ${clientId} got no welcome`,
    (reader, frame, ready) => {
      if (frame.type === 'connected') {
        if (frame.content?.client_id !== clientId) reader.others.push(frame);
        ready();
      } else if (frame.type === 'burst') {
        const inOrder = frame.content?.seq === reader.received && frame.meta?.seq === reader.received;
        reader.count(inOrder, JSON.stringify(frame.content?.seq));
      } else {
        reader.others.push(frame);
      }
    },
  );

/** Broadcasts `count` notify messages (see `publishBurst`). */
const burst = (publisher: NotifyPublisher, count: number, options: BurstOptions): Promise<Burst> =>
  publishBurst((seq, pad) => publisher.notify({ type: 'burst', content: { seq, pad }, meta: { seq } }), count, options);

/** A notify client that stops reading right after its welcome. */
async function slowClient(t: TestApp, clientId: string): Promise<TestClient> {
  const client = await openNotify(t, clientId, { sub: `slow-${clientId}` });
  netSocket(client).pause();
  return client;
}

/** The `burst` seqs a client received: they must be a gapless prefix of the burst. */
function expectGaplessPrefix(client: TestClient, total: number): number {
  const seqs = client.frames.filter((f) => f.type === 'burst').map((f) => f.content.seq as number);
  expect(seqs).toEqual(seqs.map((_, i) => i));
  expect(seqs.length).toBeLessThan(total);
  return seqs.length;
}

describe('slow consumers on the notify gateway (SPEC §9, maxQueueBytes 256 KiB)', () => {
  const MAX_QUEUE_BYTES = 262_144;
  let t: TestApp;
  let registry: ConnectionRegistry;
  let publisher: NotifyPublisher;
  let gc: () => void;

  beforeAll(async () => {
    gc = exposeGc();
    // 51 clients from one address: above the notify gateway's default per-IP limit (50).
    t = await startTestApp({
      maxQueueBytes: MAX_QUEUE_BYTES,
      rateLimitPerSec: 100_000,
      notify: { maxConnectionsPerIp: 100 },
    });
    registry = t.app.get(ConnectionRegistry);
    publisher = t.app.get(NotifyPublisher);
  });
  afterAll(() => t.close());

  it('closes a client that never reads with 1013 past maxQueueBytes, while 50 readers get every broadcast in order', async () => {
    // Loopback kernel buffers take a few MB of a paused socket's data, so 3000 × 2 KB (6 MB) is
    // needed for the server-side backlog to build up at all.
    const MESSAGES = 3000;
    const SIZE = 2048;
    expect(registry.footprint()).toEqual(EMPTY);
    gc();
    const heapBefore = process.memoryUsage().heapUsed;

    const readerIds = Array.from({ length: 50 }, (_, i) => `reader-${i}`);
    const readers = await Promise.all(readerIds.map((id) => connectReader(t, id)));
    const slow = await slowClient(t, 'slow');
    const slowConnection = registry.get('slow')!;
    expect(slowConnection).toBeDefined();
    expect(slowConnection.gateway).toBe('notify');
    expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual([...readerIds, 'slow'].sort());

    const started = Date.now();
    const result = await burst(publisher, MESSAGES, {
      size: SIZE,
      chunk: 50,
      watch: () => slowConnection.backlogBytes,
    });
    expect(result.sent).toBe(MESSAGES);
    await eventually(() => readers.every((r) => r.received >= MESSAGES), 30_000, 'every reader got every message');
    const deliveredIn = Date.now() - started;

    // the readers: everything, in order, nothing else, still open
    for (const reader of readers) {
      expect(reader.outOfOrder).toEqual([]);
      expect(reader.received).toBe(MESSAGES);
      expect(reader.others).toEqual([]);
      expect(reader.isOpen).toBe(true);
    }

    // the slow client: closed by the server with 1013, its backlog bounded meanwhile
    expect(slowConnection.closeCode).toBe(1013);
    expect(slowConnection.isOpen).toBe(false);
    expect(result.maxBacklog).toBeLessThanOrEqual(MAX_QUEUE_BYTES + SIZE + 256);

    // once it reads again it sees the 1013 close, or an abnormal close when the server's 2 s grace
    // ran out while the close frame was still queued behind the backlog (delivery took ~3 s here)
    netSocket(slow).resume();
    const closed = await slow.waitClose(5000);
    expect(slow.frames[0]).toEqual(connectedFrame('slow'));
    const got = expectGaplessPrefix(slow, MESSAGES);
    expect([1013, 1006]).toContain(closed.code);

    // the server forgets it everywhere: registry and admin view
    await eventually(() => registry.get('slow') === undefined, 5000, 'slow client removed from the registry');
    expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual([...readerIds].sort());
    expect((await t.http('GET', '/ws/clients/slow', { token: ADMIN_TOKEN })).status).toBe(404);

    for (const reader of readers) reader.socket.close();
    await Promise.all(readers.map((r) => r.closed));
    await eventually(() => registry.footprint().connections === 0, 5000, 'readers released');
    expect(registry.footprint()).toEqual(EMPTY);

    gc();
    const heapGrowth = process.memoryUsage().heapUsed - heapBefore;
    console.log(
      `notify slow consumer: ${MESSAGES} × 50 delivered in ${deliveredIn} ms; slow client got ${got}; max backlog ${result.maxBacklog} B; heap growth ${(heapGrowth / 1048576).toFixed(1)} MB`,
    );
    expect(heapGrowth).toBeLessThan(32 * 1048576);
  });

  it('reconnects the same client id after a 1013 and gets new messages', async () => {
    const slow = await slowClient(t, 'comeback');
    const reader = await connectReader(t, 'comeback-reader');
    const connection = registry.get('comeback')!;
    await burst(publisher, 3000, { size: 2048, chunk: 50, stop: () => !connection.isOpen });
    expect(connection.closeCode).toBe(1013);
    netSocket(slow).resume();
    expect((await slow.waitClose(5000)).code).toBe(1013);
    await eventually(() => registry.get('comeback') === undefined, 5000, 'closed client removed');

    const again = await openNotify(t, 'comeback', { sub: 'slow-comeback' });
    publisher.notify({ type: 'welcome-back', content: 1 }, 'comeback');
    expect(await again.nextOfType('welcome-back')).toMatchObject({ type: 'welcome-back', content: 1 });
    await ping(again);
    again.close();
    reader.socket.close();
    await eventually(() => registry.footprint().connections === 0, 5000, 'released');
  });
});

describe('slow consumers on the notify gateway by message count (SPEC §9, maxQueueSize 50)', () => {
  let t: TestApp;
  let registry: ConnectionRegistry;
  let publisher: NotifyPublisher;

  beforeAll(async () => {
    t = await startTestApp({ maxQueueSize: 50, maxQueueBytes: 512 * 1048576, rateLimitPerSec: 100_000 });
    registry = t.app.get(ConnectionRegistry);
    publisher = t.app.get(NotifyPublisher);
  });
  afterAll(() => t.close());

  it('terminates a paused client that cannot finish the close handshake, and drops it from the admin view', async () => {
    const reader = await connectReader(t, 'count-reader');
    const slow = await slowClient(t, 'count-slow');
    const connection = registry.get('count-slow')!;
    const result = await burst(publisher, 40_000, { size: 1000, chunk: 20, stop: () => !connection.isOpen });
    const overflowAt = Date.now();
    expect(connection.closeCode).toBe(1013);
    expect(result.sent).toBeLessThan(40_000);

    // never resumed: the close frame cannot be read, so the server must terminate and forget it
    await eventually(
      async () => !(await listedNotifyIds(t, ADMIN_TOKEN)).includes('count-slow'),
      6000,
      'terminated slow client gone from GET /ws/clients?gateway=notify',
    );
    expect(Date.now() - overflowAt).toBeGreaterThanOrEqual(1500);
    expect(registry.get('count-slow')).toBeUndefined();
    expect(await listedNotifyIds(t, ADMIN_TOKEN)).toEqual(['count-reader']);

    await eventually(() => reader.received >= result.sent, 5000, 'reader got every message');
    expect(reader.outOfOrder).toEqual([]);
    expect(reader.received).toBe(result.sent);
    expect(reader.isOpen).toBe(true);

    netSocket(slow).resume();
    // the close frame was still queued when the server gave up, so the client sees an abnormal close
    expect((await slow.waitClose(5000)).code).toBe(1006);
    expectGaplessPrefix(slow, result.sent + 1);
    reader.socket.close();
    await eventually(() => registry.footprint().connections === 0, 5000, 'reader released');
    expect(registry.footprint()).toEqual(EMPTY);
  });

  it('does not close healthy clients for a synchronous burst larger than maxQueueSize', async () => {
    const readers = await Promise.all(['sync-0', 'sync-1', 'sync-2'].map((id) => connectReader(t, id)));
    await burst(publisher, 100, { size: 10, chunk: 100 });
    await eventually(() => readers.every((r) => r.received >= 100 || !r.isOpen), 3000, 'readers got the burst');
    await sleep(100);
    for (const reader of readers) {
      expect({ closeCode: reader.closeCode, received: reader.received, outOfOrder: reader.outOfOrder }).toEqual({
        closeCode: undefined,
        received: 100,
        outOfOrder: [],
      });
    }
    for (const reader of readers) reader.socket.close();
    await eventually(() => registry.footprint().connections === 0, 5000, 'readers released');
  });
});
