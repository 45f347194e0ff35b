import { ChatPublisher, ConnectionRegistry } from '../src/realtime/index.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { TestClient, closeAll, eventually, sleep } from './support/test-client.js';
import { netSocket } from './support/slow-consumer.js';

/**
 * Issue 14: a turn's frames to one socket are corked and leave in one `writev` at the turn's end.
 * What batching could break, pinned: frames of one turn arrive complete and in order, a socket
 * closed within the turn still gets everything sent before its close, a slow reader is still
 * closed at its bound, and a socket that keeps up is never taken for a slow one.
 */
describe('writes batched per event-loop turn', () => {
  let t: TestApp;
  let publisher: ChatPublisher;
  let registry: ConnectionRegistry;
  const open: TestClient[] = [];

  const member = async (sub: string, room: string): Promise<TestClient> => {
    const client = await t.chat({ sub, username: sub });
    open.push(client);
    client.send({ type: 'join_room', room });
    await client.nextOfType('room_joined');
    return client;
  };

  const seqs = (client: TestClient): number[] => client.ofType('message').map((f) => f.data.seq as number);

  beforeAll(async () => {
    t = await startTestApp({ maxQueueSize: 50, maxQueueBytes: 262_144, chat: { maxConnectionsPerUser: 100 } });
    publisher = t.app.get(ChatPublisher);
    registry = t.app.get(ConnectionRegistry);
  });

  afterEach(() => closeAll(open.splice(0)));

  afterAll(() => t.close());

  it('delivers 2,000 frames published in one turn to 20 readers complete and in order, none closed', async () => {
    const readers = await Promise.all(Array.from({ length: 20 }, (_, i) => member(`reader-${i}`, 'channel:1')));
    // Far more messages in one turn than maxQueueSize (50): a reader that keeps up is not a slow one.
    for (let seq = 0; seq < 2000; seq++) publisher.message('channel:1', { seq, pad: 'x'.repeat(seq % 300) });
    const expected = Array.from({ length: 2000 }, (_, i) => i);
    for (const reader of readers) {
      await eventually(() => reader.ofType('message').length >= 2000, 10_000, 'the whole turn');
    }
    await sleep(100);
    for (const reader of readers) {
      expect(reader.frames.filter((f) => 'unparsable' in f)).toEqual([]);
      expect(seqs(reader)).toEqual(expected);
      expect(reader.socket.readyState).toBe(reader.socket.OPEN);
    }
  });

  it('sends a turn’s 100 frames to one socket in one write, and the next turn’s in another', async () => {
    const reader = await member('counted', 'channel:4');
    const [connection] = registry.list({ user: 'counted' });
    const raw = (connection.socket as unknown as { _socket: WriteCounted })._socket;
    const writes = countWrites(raw);
    for (let seq = 0; seq < 100; seq++) publisher.message('channel:4', { seq });
    await new Promise((resolve) => setImmediate(resolve));
    for (let seq = 100; seq < 200; seq++) publisher.message('channel:4', { seq });
    await eventually(() => reader.ofType('message').length >= 200, 5000, 'both turns');
    expect(writes()).toBe(2);
    expect(seqs(reader)).toEqual(Array.from({ length: 200 }, (_, i) => i));
  });

  it('sends the 101 response and the welcome frame in one write', async () => {
    let writes: (() => number) | undefined;
    const countUpgrade = (_request: unknown, socket: WriteCounted): void => {
      writes = countWrites(socket);
    };
    const server = t.app.getHttpServer() as import('node:http').Server;
    server.prependListener('upgrade', countUpgrade);
    try {
      const client = await t.chat({ sub: 'one-write', username: 'one-write' });
      open.push(client);
      expect(client.ofType('connected')).toHaveLength(1);
      expect(writes?.()).toBe(1);
    } finally {
      server.off('upgrade', countUpgrade);
    }
  });

  it('gives a socket closed within the turn everything written to it before its close', async () => {
    const reader = await member('closing', 'channel:2');
    const [connection] = registry.list({ user: 'closing' });
    for (let seq = 0; seq < 300; seq++) publisher.message('channel:2', { seq });
    connection.close(4000, 'Disconnected by administrator');
    for (let seq = 300; seq < 310; seq++) publisher.message('channel:2', { seq });
    expect(await reader.waitClose()).toEqual({ code: 4000, reason: 'Disconnected by administrator' });
    expect(seqs(reader)).toEqual(Array.from({ length: 300 }, (_, i) => i));
  });

  it('still closes a reader that stopped reading with 1013, at its bound, while the others get everything', async () => {
    const healthy = await member('healthy', 'channel:3');
    const slow = await member('slow', 'channel:3');
    const [slowConnection] = registry.list({ user: 'slow' });
    netSocket(slow).pause();
    let maxHeld = 0;
    let sent = 0;
    // Turns of 100 messages of ~2 KB until the slow reader is cut off.
    while (slowConnection.isOpen && sent < 20_000) {
      for (let i = 0; i < 100; i++) publisher.message('channel:3', { seq: sent++, pad: 'p'.repeat(2048) });
      maxHeld = Math.max(maxHeld, slowConnection.backlogBytes);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(slowConnection.isOpen).toBe(false);
    expect(slowConnection.closeCode).toBe(1013);
    // What the server held never passed the bound by more than one message.
    expect(maxHeld).toBeLessThanOrEqual(262_144 + 2048 + 256);
    await eventually(() => healthy.ofType('message').length >= sent, 10_000, 'the healthy reader got all');
    expect(seqs(healthy)).toEqual(Array.from({ length: sent }, (_, i) => i));
    netSocket(slow).resume();
  });
});

/** A net.Socket's own write entry points (what reaches the kernel: one call per `write` or `writev`). */
interface WriteCounted {
  _write: (...args: unknown[]) => unknown;
  _writev?: (...args: unknown[]) => unknown;
}

/** Counts the writes `socket` hands down from now on. */
function countWrites(socket: WriteCounted): () => number {
  let count = 0;
  const write = socket._write;
  socket._write = function (this: unknown, ...args: unknown[]) {
    count++;
    return write.apply(this, args);
  };
  const writev = socket._writev;
  if (writev) {
    socket._writev = function (this: unknown, ...args: unknown[]) {
      count++;
      return writev.apply(this, args);
    };
  }
  return () => count;
}
