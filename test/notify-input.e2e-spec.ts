import { ConnectionRegistry, NotifyPublisher } from '../src/realtime/index.js';
import { seedFields } from './support/positions.js';
import { eventually, expectOnePerSecond, sleep, sustainedFlood, type Frame } from './support/test-client.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { captureOutput, expectNoCrash, expectUnpolluted } from './support/capture-output.js';
import {
  MAX_DEPTH,
  caseLabel,
  checkGenerated,
  depthOf,
  frameOfBytes,
  nestedObjects,
} from './support/hostile-frames.js';
import {
  BINARY,
  ISO_MS,
  RATE_LIMITED,
  collectInbound,
  connectedFrame,
  errorFrame,
  expectNotifyError,
  frame,
  inbound,
  messages,
  notifyBarrage,
  openNotify,
  ping,
  pongFrame,
  quiet,
  reply,
  type NotifyCase,
} from './support/notify-client.js';

/**
 * SPEC §10 on the notify gateway: whatever a client sends gets the notify error frame and the
 * connection goes on; nothing crashes the process, prints a stack, reaches another socket or
 * reaches the host app's `NotifyPublisher.messages()` unless it is a well-formed typed frame.
 */

const SEED = 0x5eed_0002;

describe('hostile input on the notify gateway (SPEC §10)', () => {
  let t: TestApp;
  let registry: ConnectionRegistry;
  let publisher: NotifyPublisher;

  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 100_000 });
    registry = t.app.get(ConnectionRegistry);
    publisher = t.app.get(NotifyPublisher);
  });
  afterAll(() => t.close());

  it('answers every frame of a seeded hostile barrage with one error, stays usable, and leaks nothing to the host or others', async () => {
    const cases = notifyBarrage(SEED, 400);
    cases.forEach(checkGenerated);
    const kinds = new Set(cases.map((c) => c.kind.split(' ')[0]));
    expect(kinds.size).toBeGreaterThanOrEqual(8);

    const host = collectInbound(t);
    const hostile = await openNotify(t, 'hostile', { sub: 'mallory' });
    const bystander = await openNotify(t, 'bystander', { sub: 'bea' });
    const output = captureOutput();
    let ticks = 0;
    let legit = 0;
    try {
      const chunk = 25;
      for (let i = 0; i < cases.length; i += chunk) {
        for (const c of cases.slice(i, i + chunk)) hostile.send(c.payload, { invalid: true });
        // a well-formed frame amid the barrage: the only thing the host may receive
        hostile.send({ type: 'legit', content: legit++, meta: { chunk: i / chunk } });
        publisher.notify({ type: 'tick', content: ticks++ });
        await sleep(1);
      }
      await eventually(
        () => hostile.frames.filter((f) => f.type === 'error').length >= cases.length,
        10_000,
        `${cases.length} error frames`,
      );
      await ping(hostile);
      await ping(bystander);
      publisher.notify({ type: 'tick', content: ticks++ });
      await eventually(() => bystander.ofType('tick').length >= ticks, 5_000, 'ticks reach the bystander');
      await quiet([hostile, bystander]);
    } finally {
      output.restore();
      host.stop();
    }

    // one error per hostile frame, in order, each exactly the notify error frame
    const errors = hostile.frames.filter((f) => f.type === 'error');
    expect(errors).toHaveLength(cases.length);
    cases.forEach((c, i) => expectNotifyError(errors[i], c.error, caseLabel(c, i)));
    // besides its errors and pongs, the hostile client got only the host's broadcasts
    expect(hostile.frames.filter((f) => !['error', 'pong'].includes(f.type)).map(seedFields)).toEqual([
      connectedFrame('hostile'),
      ...Array.from({ length: ticks }, (_, i) => frame('tick', i)),
    ]);

    // the host got exactly the well-formed frames, in order, and nothing of the barrage
    expect(host.items).toEqual(
      Array.from({ length: legit }, (_, i) => inbound('hostile', 'mallory', 'legit', i, { chunk: i })),
    );

    // the bystander got every broadcast in order and nothing else
    expect(bystander.frames.filter((f) => f.type !== 'pong').map(seedFields)).toEqual([
      connectedFrame('bystander'),
      ...Array.from({ length: ticks }, (_, i) => frame('tick', i)),
    ]);

    // still open, still registered, still answering
    expect(hostile.socket.readyState).toBe(hostile.socket.OPEN);
    expect(registry.get('hostile')?.isOpen).toBe(true);
    expect(await reply(hostile, { type: 'ping', meta: { ping_id: 'after' } })).toEqual(pongFrame('after'));

    // no stack trace, no unhandled error, nothing polluted
    expectNoCrash(output);
    expectUnpolluted(['isAdmin', 'polluted', 'roles']);

    hostile.close();
    bystander.close();
    await eventually(() => registry.size === 0, 3000, 'connections released');
  });

  it('replays the same barrage for the same seed', () => {
    const render = (cs: NotifyCase[]): string[] => cs.map((c) => `${c.kind}|${String(c.payload)}`);
    expect(render(notifyBarrage(SEED, 400))).toEqual(render(notifyBarrage(SEED, 400)));
  });

  it('accepts JSON nested exactly 32 levels and refuses 33, in content and in meta', async () => {
    const host = collectInbound(t);
    try {
      const client = await openNotify(t, 'depth', { sub: 'd' });
      // the frame is level 1, so a field nested 31 levels makes 32
      const accepted = [
        `{"type":"deep","content":${nestedObjects(31)}}`,
        `{"type":"deep","content":${'['.repeat(30)}{}${']'.repeat(30)}}`,
        `{"type":"deep","meta":${nestedObjects(31)}}`,
        `{"type":"ping","meta":{"ping_id":"d32","x":${nestedObjects(30)}}}`,
      ];
      for (const text of accepted) expect(depthOf(JSON.parse(text))).toBe(MAX_DEPTH);
      for (const text of accepted.slice(0, 3)) client.send(text);
      expect(await reply(client, accepted[3])).toEqual(pongFrame('d32'));
      await eventually(() => host.items.length === 3, 2000, 'three deep frames at the host');
      expect(host.items.map((item) => item.type)).toEqual(['deep', 'deep', 'deep']);
      expect(host.items[0].content).toEqual(JSON.parse(accepted[0]).content);
      expect(host.items[2].meta).toEqual(JSON.parse(accepted[2]).meta);

      const refused = [
        `{"type":"deep","content":${nestedObjects(32)}}`,
        `{"type":"deep","content":${'['.repeat(31)}{}${']'.repeat(31)}}`,
        `{"type":"deep","meta":${nestedObjects(32)}}`,
        `{"type":"ping","meta":{"ping_id":"d33","x":${nestedObjects(31)}}}`,
      ];
      for (const text of refused) {
        expect(depthOf(JSON.parse(text))).toBe(MAX_DEPTH + 1);
        expectNotifyError(await reply(client, text, 3000, { invalid: true }), /nest|deep|depth/i, text.slice(0, 40));
      }
      await quiet([client]);
      expect(host.items).toHaveLength(3);
      expect(client.frames.filter((f) => f.type === 'pong' && f.meta.ping_id === 'd33')).toEqual([]);
      client.close();
    } finally {
      host.stop();
    }
  });

  it('refuses a text frame of invalid UTF-8 with 1007', async () => {
    const client = await openNotify(t, 'utf8', { sub: 'u' });
    expect(registry.get('utf8')).toBeDefined();
    client.socket.send(Buffer.from([0x7b, 0x22, 0x74, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]), { binary: false });
    expect((await client.waitClose()).code).toBe(1007);
    expect(client.ofType('error')).toHaveLength(0);
    await eventually(() => registry.get('utf8') === undefined, 3000, 'connection released');
  });
});

describe('frame size bound on the notify gateway (SPEC §10, messageMaxSize 4096)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 100_000, messageMaxSize: 4096 });
  });
  afterAll(() => t.close());

  /** A well-formed frame of exactly `bytes` UTF-8 bytes. */
  const bigOfBytes = (bytes: number): string =>
    frameOfBytes(bytes, (pad) => JSON.stringify({ type: 'big', content: pad }));

  it('hands a frame of exactly messageMaxSize bytes to the host', async () => {
    const host = collectInbound(t);
    try {
      const client = await openNotify(t, 'size-ok', { sub: 's' });
      const text = bigOfBytes(4096);
      expect(text.length).toBeLessThan(4096);
      client.send(text);
      await ping(client);
      expect(host.items).toEqual([inbound('size-ok', 's', 'big', JSON.parse(text).content)]);
      client.close();
    } finally {
      host.stop();
    }
  });

  it('closes with 1009 on one byte more (text or binary); the bystander stays', async () => {
    const host = collectInbound(t);
    try {
      const bystander = await openNotify(t, 'size-bystander', { sub: 's' });
      for (const payload of [bigOfBytes(4097), Buffer.alloc(4097, 0x20)]) {
        const client = await openNotify(t, 'size-big', { sub: 's' });
        client.send(payload, { invalid: true });
        expect((await client.waitClose()).code).toBe(1009);
        expect(client.frames).toEqual([connectedFrame('size-big')]);
        await eventually(
          () => t.app.get(ConnectionRegistry).get('size-big') === undefined,
          3000,
          'connection released',
        );
      }
      await ping(bystander);
      expect(host.items).toEqual([]);
      bystander.close();
    } finally {
      host.stop();
    }
  });
});

describe('inbound rate limit on the notify gateway (SPEC §10, 5/s, burst 10)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 5 });
  });
  afterAll(() => t.close());

  it('lets a burst of 10 through, drops the rest with one "Rate limit exceeded", and recovers', async () => {
    const host = collectInbound(t);
    try {
      const client = await openNotify(t, 'flood', { sub: 'f' });
      const bystander = await openNotify(t, 'calm', { sub: 'c' });
      for (let i = 0; i < 30; i++) client.send({ type: 'burst', content: i });
      await eventually(() => client.ofType('error').length >= 1, 2000, 'the rate-limit error');
      await sleep(300);
      expect(host.items).toEqual(Array.from({ length: 10 }, (_, i) => inbound('flood', 'f', 'burst', i)));
      expect(messages(client)).toEqual([errorFrame(RATE_LIMITED)]);
      expect(client.socket.readyState).toBe(client.socket.OPEN);

      // the bystander has its own budget
      expect(await reply(bystander, { type: 'ping', meta: { ping_id: 'calm' } })).toEqual(pongFrame('calm'));

      await sleep(1_100);
      client.send({ type: 'burst', content: 'after refill' });
      await eventually(() => host.items.length === 11, 2000, 'a frame after the bucket refilled');
      expect(host.items[10]).toEqual(inbound('flood', 'f', 'burst', 'after refill'));
      await ping(client);
      expect(messages(client)).toEqual([errorFrame(RATE_LIMITED)]);
      client.close();
      bystander.close();
    } finally {
      host.stop();
    }
  });

  it('counts pings against the limit too: 10 pongs for 30 pings', async () => {
    const client = await openNotify(t, 'ping-flood', { sub: 'p' });
    for (let i = 0; i < 30; i++) client.send({ type: 'ping', meta: { ping_id: `p${i}` } });
    await eventually(() => client.ofType('error').length >= 1, 2000, 'the rate-limit error');
    await sleep(300);
    expect(client.frames.slice(1)).toEqual([
      ...Array.from({ length: 10 }, (_, i) => pongFrame(`p${i}`)),
      errorFrame(RATE_LIMITED),
    ]);
    client.close();
  });

  it('sends at most one rate-limit error per second under a sustained flood', async () => {
    const client = await openNotify(t, 'flood2', { sub: 'f2' });
    const elapsed = await sustainedFlood(client, (i) => ({ type: 'flood', content: i }));
    const limited = client.frames.filter((f: Frame) => f.type === 'error');
    for (const error of limited) expect(error).toEqual(errorFrame(RATE_LIMITED));
    expectOnePerSecond(limited, elapsed);
    for (const error of limited) expect(error.timestamp).toMatch(ISO_MS);
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    client.close();
  });

  it('refuses a binary frame within the budget with its own error, not the rate-limit one', async () => {
    const client = await openNotify(t, 'binary', { sub: 'b' });
    expect(await reply(client, Buffer.from('{"type":"x"}'), 3000, { invalid: true })).toEqual(errorFrame(BINARY));
    client.close();
  });
});
