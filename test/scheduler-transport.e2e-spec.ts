import { eventually, sleep } from './support/test-client.js';
import { frameOfBytes } from './support/hostile-frames.js';
import { isoTimestamp, reply } from './support/scheduler-client.js';
import { schedulerApp } from './support/scheduler-fixtures.js';

/**
 * The scheduler gateway's transport (SPEC §10): frame size (messageMaxSize and the 1 MiB default,
 * 1009 above it), invalid UTF-8 (1007), and the app-level heartbeat (server pings, pong frames).
 */

describe('scheduler gateway: frame size and encoding (SPEC §10, messageMaxSize 4096)', () => {
  const { conn } = schedulerApp({ rateLimitPerSec: 1000, messageMaxSize: 4096 });

  /** A valid ping of exactly `bytes` UTF-8 bytes. */
  const pingOfBytes = (bytes: number): string =>
    frameOfBytes(bytes, (pad) => JSON.stringify({ type: 'ping', id: 'ping-size', pad }));

  it('accepts a frame of exactly messageMaxSize bytes', async () => {
    const client = await conn('/ws/experiments/exp-big', { sub: 'big' });
    const text = pingOfBytes(4096);
    expect(text.length).toBeLessThan(4096);
    expect(await reply(client, text)).toEqual({ type: 'pong', id: 'pong-size', timestamp: isoTimestamp() });
    client.close();
  });

  it('closes with 1009 on one byte more, text or binary', async () => {
    const text = await conn('/ws/experiments/exp-big', { sub: 'big' });
    text.send(pingOfBytes(4097));
    expect((await text.waitClose()).code).toBe(1009);
    expect(text.ofType('pong')).toHaveLength(0);
    const binary = await conn('/ws/tasks/t-big', { sub: 'big' });
    binary.send(Buffer.alloc(4097, 0x20), { invalid: true });
    expect((await binary.waitClose()).code).toBe(1009);
  });

  it('closes with 1007 on invalid UTF-8, without an error frame', async () => {
    const client = await conn('/ws/projects/p-utf8', { sub: 'utf8' });
    client.socket.send(Buffer.from([0x7b, 0x22, 0x74, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]), { binary: false });
    expect((await client.waitClose()).code).toBe(1007);
    expect(client.ofType('error')).toHaveLength(0);
  });
});

describe('scheduler gateway: default frame size (1 MiB)', () => {
  const { conn } = schedulerApp();

  it('accepts 1 MiB and closes with 1009 above it', async () => {
    const client = await conn('/ws/experiments/exp-mib', { sub: 'mib' });
    const frame = (n: number): string => {
      const head = JSON.stringify({ type: 'ping', id: 'ping-mib', pad: '' });
      return head.replace('"pad":""', `"pad":"${'x'.repeat(n - Buffer.byteLength(head))}"`);
    };
    expect(Buffer.byteLength(frame(1_048_576))).toBe(1_048_576);
    expect(await reply(client, frame(1_048_576), 10_000)).toEqual({
      type: 'pong',
      id: 'pong-mib',
      timestamp: isoTimestamp(),
    });
    client.send(frame(1_048_577));
    expect((await client.waitClose(10_000)).code).toBe(1009);
  });
});

describe('scheduler gateway: app-level heartbeat', () => {
  const { conn } = schedulerApp({ heartbeatIntervalMs: 150, heartbeatTimeoutMs: 800 });

  it('sends {"type":"ping","id":"ping…","timestamp"} every heartbeatIntervalMs', async () => {
    const client = await conn('/ws/experiments/exp-hb', { sub: 'hb' });
    await eventually(() => client.ofType('ping').length >= 3, 3000, 'three server pings');
    const pings = client.ofType('ping');
    for (const ping of pings) {
      expect(ping).toEqual({ type: 'ping', id: expect.stringMatching(/^ping/), timestamp: isoTimestamp() });
    }
    expect(new Set(pings.map((p) => p.id)).size).toBe(pings.length);
    client.close();
  });

  it('keeps a client that answers with pong frames alive (no protocol pongs), and answers the pongs with nothing', async () => {
    const client = await conn('/ws/tasks/task-hb', { sub: 'hb2' }, { autoPong: false });
    let answered = 0;
    client.socket.on('message', (raw) => {
      const frame = JSON.parse((raw as Buffer).toString());
      if (frame.type === 'ping') {
        client.send({ type: 'pong', id: String(frame.id).replace(/^ping/, 'pong') });
        answered++;
      }
    });
    await sleep(2000);
    expect(answered).toBeGreaterThanOrEqual(3);
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    expect(client.ofType('error')).toEqual([]);
    expect(client.frames.filter((f) => f.type !== 'ping' && f.type !== 'system_status')).toEqual([]);
    client.close();
  });

  it('terminates a client that answers nothing', async () => {
    const silent = await conn('/ws/projects/p-hb', { sub: 'hb3' }, { autoPong: false });
    const closed = await silent.waitClose(4000);
    expect(closed.code).not.toBe(1000);
  });
});
