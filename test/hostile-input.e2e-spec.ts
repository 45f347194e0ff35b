import { ConnectionRegistry } from '../src/realtime/index.js';
import { eventually, expectOnePerSecond, expectWithinRate, sleep, sustainedFlood } from './support/test-client.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { captureOutput, expectNoCrash, expectNoStack, expectUnpolluted } from './support/capture-output.js';
import { caseLabel, checkGenerated, depthOf, frameOfBytes, nestedObjects } from './support/hostile-frames.js';
import { HOSTILE_ROOM, ISO_MS, chatBarrage, expectChatError, type ChatCase } from './support/chat-client.js';

/**
 * SPEC §10 on the chat gateway: whatever a client sends gets the chat error frame and the
 * connection goes on; nothing crashes the process, prints a stack or reaches another socket.
 * The hostile frames come from test/support/hostile-frames.ts, worded for chat in
 * test/support/chat-client.ts.
 */

const SEED = 0x5eed_c4a7;

describe('hostile input on the chat gateway (SPEC §10)', () => {
  let t: TestApp;
  let registry: ConnectionRegistry;

  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 100_000 });
    registry = t.app.get(ConnectionRegistry);
  });
  afterAll(() => t.close());

  it('answers every frame of a seeded hostile barrage with an error, stays open, leaks nothing to others and prints no stack', async () => {
    const cases = chatBarrage(SEED, 400);
    cases.forEach(checkGenerated);
    const kinds = new Set(cases.map((c) => c.kind.split(' ')[0]));
    expect(kinds.size).toBeGreaterThanOrEqual(10);

    const hostile = await t.chat({ sub: 'hostile', username: 'mallory' });
    const bystander = await t.chat({ sub: 'bystander', username: 'bea' });
    const third = await t.chat({ sub: 'third', username: 'tom' });
    for (const client of [bystander, hostile, third]) {
      client.send({ type: 'join_room', room: HOSTILE_ROOM });
      await client.nextOfType('room_joined');
    }
    const before = hostile.frames.length;

    const output = captureOutput();
    let sentByThird = 0;
    try {
      const chunk = 25;
      for (let i = 0; i < cases.length; i += chunk) {
        for (const c of cases.slice(i, i + chunk)) hostile.send(c.payload, { invalid: true });
        third.send({ type: 'send_message', room: HOSTILE_ROOM, data: { content: `during ${sentByThird++}` } });
        await sleep(1);
      }
      await eventually(
        () => hostile.frames.slice(before).filter((f) => f.type === 'error').length >= cases.length,
        10_000,
        `${cases.length} error frames`,
      );
      hostile.send({ type: 'ping' });
      await hostile.nextOfType('pong');
      third.send({ type: 'send_message', room: HOSTILE_ROOM, data: { content: `after ${sentByThird++}` } });
      await eventually(() => bystander.ofType('message').length >= sentByThird, 5_000, 'messages reach the bystander');
      await sleep(100);
    } finally {
      output.restore();
    }

    // one reply per hostile frame, in order, each the chat error frame, then the pong
    const replies = hostile.frames.slice(before);
    const errors = replies.filter((frame) => frame.type === 'error');
    expect(errors).toHaveLength(cases.length);
    const ownReplies = replies.filter((frame) => frame.type === 'error' || frame.type === 'pong');
    cases.forEach((c, i) => expectChatError(ownReplies[i], c.code, c.error, caseLabel(c, i)));
    expect(ownReplies[cases.length]).toEqual({ type: 'pong', timestamp: expect.stringMatching(ISO_MS) });
    expect(ownReplies).toHaveLength(cases.length + 1);
    // the hostile client only ever received the third member's messages besides its own replies
    expect(replies.filter((f) => f.type === 'message').every((f) => f.sender === 'tom')).toBe(true);

    // still open, still registered, still answering
    expect(hostile.socket.readyState).toBe(hostile.socket.OPEN);
    hostile.send({ type: 'ping' });
    expect(await hostile.nextOfType('pong')).toEqual({ type: 'pong', timestamp: expect.stringMatching(ISO_MS) });

    // the bystander got exactly the third member's messages, in order, and nothing of the barrage
    const messages = bystander.ofType('message');
    expect(messages.map((m) => m.data.content)).toEqual(
      Array.from({ length: sentByThird }, (_, i) => `${i === sentByThird - 1 ? 'after' : 'during'} ${i}`),
    );
    expect(messages.every((m) => m.sender === 'tom' && m.data.user_id === 'third')).toBe(true);
    expect(bystander.ofType('error')).toHaveLength(0);
    expect(third.ofType('error')).toHaveLength(0);
    expect(
      bystander.frames.filter((f) => !['connected', 'room_joined', 'message', 'user_joined'].includes(f.type)),
    ).toEqual([]);
    expect(bystander.ofType('room_joined')).toHaveLength(1);

    // no stack trace, no unhandled error, nothing polluted
    expectNoCrash(output);
    expectUnpolluted(['isAdmin', 'polluted']);

    for (const client of [hostile, bystander, third]) client.close();
    await eventually(() => registry.size === 0, 3000, 'connections released');
  });

  it('replays the same barrage for the same seed', () => {
    const render = (cs: ChatCase[]): string[] => cs.map((c) => `${c.kind}|${String(c.payload)}`);
    expect(render(chatBarrage(SEED, 400))).toEqual(render(chatBarrage(SEED, 400)));
  });

  it('accepts JSON nested exactly 32 levels and refuses 33', async () => {
    const client = await t.chat({ sub: 'depth' });
    // the frame is level 1, so data nested 31 levels makes 32
    for (const data of [nestedObjects(31), `${'['.repeat(30)}{}${']'.repeat(30)}`, `{"a":[${nestedObjects(29)}]}`]) {
      const text = `{"type":"ping","data":${data}}`;
      expect(depthOf(JSON.parse(text))).toBe(32);
      client.send(text);
      expect(await client.next()).toEqual({ type: 'pong', timestamp: expect.stringMatching(ISO_MS) });
    }
    const joined = `{"type":"join_room","room":"channel:32","data":${nestedObjects(31)}}`;
    client.send(joined);
    expect(await client.next()).toMatchObject({ type: 'room_joined', room: 'channel:32' });

    for (const data of [nestedObjects(32), `${'['.repeat(31)}{}${']'.repeat(31)}`, `{"a":[${nestedObjects(30)}]}`]) {
      const text = `{"type":"ping","data":${data}}`;
      expect(depthOf(JSON.parse(text))).toBe(33);
      client.send(text, { invalid: true });
      expectChatError(await client.next(), 4400, /nested|deep|depth/i, '33 levels');
    }
    client.send({ type: 'ping' });
    expect((await client.next()).type).toBe('pong');
    client.close();
  });

  it('refuses a text frame of invalid UTF-8 with 1007', async () => {
    const client = await t.chat({ sub: 'utf8' });
    const id = client.frames[0].data.connection_id as string;
    expect(registry.get(id)).toBeDefined();
    client.socket.send(Buffer.from([0x7b, 0x22, 0x74, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]), { binary: false });
    expect((await client.waitClose()).code).toBe(1007);
    expect(client.ofType('error')).toHaveLength(0);
    await eventually(() => registry.get(id) === undefined, 3000, 'connection released');
  });
});

describe('frame size bound (SPEC §10, messageMaxSize 4096)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 100_000, messageMaxSize: 4096 });
  });
  afterAll(() => t.close());

  /** A valid ping of exactly `bytes` UTF-8 bytes. */
  const pingOfBytes = (bytes: number): string => frameOfBytes(bytes, (pad) => JSON.stringify({ type: 'ping', pad }));

  it('accepts a frame of exactly messageMaxSize bytes', async () => {
    const client = await t.chat({ sub: 'size' });
    const text = pingOfBytes(4096);
    expect(text.length).toBeLessThan(4096);
    client.send(text);
    expect(await client.next()).toEqual({ type: 'pong', timestamp: expect.stringMatching(ISO_MS) });
    client.send(pingOfBytes(4095));
    expect((await client.next()).type).toBe('pong');
    client.close();
  });

  it('closes with 1009 on one byte more', async () => {
    const client = await t.chat({ sub: 'size' });
    const id = client.frames[0].data.connection_id as string;
    client.send(pingOfBytes(4097), { invalid: true });
    expect((await client.waitClose()).code).toBe(1009);
    expect(client.ofType('pong')).toHaveLength(0);
    await eventually(() => t.app.get(ConnectionRegistry).get(id) === undefined, 3000, 'connection released');
  });

  it('closes with 1009 on a binary frame over the bound too', async () => {
    const client = await t.chat({ sub: 'size' });
    client.send(Buffer.alloc(4097, 0x20), { invalid: true });
    expect((await client.waitClose()).code).toBe(1009);
  });
});

describe('inbound rate limit (SPEC §10, 5/s, burst 10)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 5 });
  });
  afterAll(() => t.close());

  it('lets a burst of 10 through, drops the rest with one 4429 error, and recovers', async () => {
    const client = await t.chat({ sub: 'flood' });
    const output = captureOutput();
    try {
      for (let i = 0; i < 30; i++) client.send({ type: 'ping' });
      await sleep(300);
    } finally {
      output.restore();
    }
    expect(client.ofType('pong')).toHaveLength(10);
    const limited = client.ofType('error');
    expect(limited.length).toBeGreaterThanOrEqual(1);
    for (const error of limited) expectChatError(error, 4429, /^Rate limit exceeded$/, 'rate limit');
    expect(limited).toHaveLength(1); // at most one notice per second
    expectNoStack(output);

    await sleep(1_100);
    const pongs = client.ofType('pong').length;
    client.send({ type: 'ping' });
    await eventually(() => client.ofType('pong').length === pongs + 1, 2000, 'pong after the bucket refilled');
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    client.close();
  });

  it('sends at most one rate-limit error per second under a sustained flood', async () => {
    const client = await t.chat({ sub: 'flood2' });
    const elapsed = await sustainedFlood(client, () => ({ type: 'ping' }));
    const limited = client.ofType('error');
    limited.forEach((error) => expectChatError(error, 4429, /^Rate limit exceeded$/, 'rate limit'));
    expectOnePerSecond(limited, elapsed);
    // pongs kept to the refill rate: the burst of 10 plus ~5 a second
    expectWithinRate(client.ofType('pong').length, elapsed, 10, 5);
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    client.close();
  });
});
