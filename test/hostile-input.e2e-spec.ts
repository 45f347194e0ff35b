import { ConnectionRegistry } from '../src/realtime/index.js';
import { eventually, sleep, type Frame } from './support/test-client.js';
import { startTestApp, type TestApp } from './support/test-app.js';

/**
 * SPEC §10 on the chat gateway: whatever a client sends gets the chat error frame and the
 * connection goes on; nothing crashes the process, prints a stack or reaches another socket.
 */

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const SEED = 0x5eed_c4a7;
const MAX_DEPTH = 32;
const HOSTILE_ROOM = 'channel:1';
const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

/** Tiny deterministic PRNG (mulberry32): same seed, same barrage. */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rng = () => number;
const int = (rng: Rng, min: number, max: number): number => min + Math.floor(rng() * (max - min + 1));
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)];

interface HostileCase {
  kind: string;
  payload: string | Buffer;
  /** The chat error code SPEC §3 prescribes; `either` where 4400 and 4403 are both defensible. */
  code: 4400 | 4403 | 'either';
  error: RegExp;
}

const j = (value: unknown): string => JSON.stringify(value);

/** Wraps JSON text `inner` in `levels` containers (objects or arrays, chosen by `rng`). */
function wrap(rng: Rng, levels: number, inner: string): string {
  let text = inner;
  for (let i = 0; i < levels; i++) {
    switch (int(rng, 0, 3)) {
      case 0:
        text = `{"k${i}":${text}}`;
        break;
      case 1:
        text = `[${text}]`;
        break;
      case 2:
        text = `[1,"x",${text}]`;
        break;
      default:
        text = `{"a":null,"b":${text},"c":[]}`;
    }
  }
  return text;
}

/** Reference depth, counted as the server must: the top-level object is depth 1. */
function depthOf(root: unknown): number {
  let deepest = 0;
  const stack: Array<[unknown, number]> = [[root, 1]];
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (typeof value !== 'object' || value === null) continue;
    deepest = Math.max(deepest, depth);
    for (const child of Array.isArray(value) ? value : Object.values(value)) stack.push([child, depth + 1]);
  }
  return deepest;
}

function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

const UNICODE_BITS = [
  'é',
  'ß',
  'Ω',
  'р',
  'ı',
  '١',
  '９',
  '🏓',
  '👩‍💻',
  '\u200b',
  '\u202e',
  '\ufeff',
  '\u0000',
  '\u0007',
  '\\',
  '"',
  '\n',
];
const REAL_TYPES = new Set(['join_room', 'leave_room', 'send_message', 'ping']);

function randomText(rng: Rng, maxLength: number): string {
  let text = '';
  const length = int(rng, 1, maxLength);
  for (let i = 0; i < length; i++) {
    text += rng() < 0.3 ? pick(rng, UNICODE_BITS) : String.fromCharCode(int(rng, 0x20, 0x7e));
  }
  return text;
}

const GARBAGE = [
  '',
  ' ',
  '\n\t',
  '{oops',
  '{',
  '}',
  '{{}}',
  "{'type':'ping'}",
  '{type:"ping"}',
  '{"type":"ping",}',
  '{"type":"ping"}}',
  '{"type":"ping"} {"type":"ping"}',
  '{"type":"ping"}x',
  '{"type":"ping"',
  '{"type":ping}',
  '{"type":"ping","n":01}',
  '{"type":"ping","n":NaN}',
  '{"type":"ping","n":Infinity}',
  '{"type":"ping","n":-}',
  '{"type":"ping","n":1e}',
  '{"type":"pi\u0001ng"}',
  '{"type":"\\x41"}',
  '{"type":"\\u12"}',
  'NaN',
  'undefined',
  'nul',
  'True',
  '🏓',
  '\u0000',
  '[1,2',
  '[,]',
  '{"type":"send_message","room":"channel:1","data":{"content":\'x\'}}',
];

const VALID_FRAMES = [
  j({ type: 'ping' }),
  j({ type: 'join_room', room: 'channel:42' }),
  j({ type: 'send_message', room: HOSTILE_ROOM, data: { content: 'hostile: should never be delivered' } }),
  j({ type: 'ping', data: { nested: [1, 2, { deeper: ['é', '🏓', null, true, 1.5e300] }] } }),
];

function invalidJson(rng: Rng): HostileCase {
  let text: string;
  if (rng() < 0.5) {
    text = pick(rng, GARBAGE);
  } else {
    do {
      text = (rng() < 0.5 ? '{' : '') + randomText(rng, 40);
    } while (parses(text));
  }
  return { kind: 'invalid JSON', payload: text, code: 4400, error: /Invalid JSON/ };
}

function truncatedJson(rng: Rng): HostileCase {
  const full = pick(rng, VALID_FRAMES);
  const text = full.slice(0, int(rng, 1, full.length - 1));
  return { kind: 'truncated JSON', payload: text, code: 4400, error: /Invalid JSON/ };
}

function tooDeep(rng: Rng): HostileCase {
  // depth of the frame = 1 (the frame) + data's depth
  const extra = rng() < 0.1 ? pick(rng, [100, 1_000, 50_000]) : int(rng, MAX_DEPTH, MAX_DEPTH + 8);
  let data: string;
  if (extra > 1_000) data = `${'['.repeat(extra - 1)}{}${']'.repeat(extra - 1)}`;
  else data = wrap(rng, extra - 1, pick(rng, ['{}', '[]', '{"x":1}', '[0]']));
  const type = pick(rng, ['ping', 'join_room', 'send_message']);
  const text = `{"type":"${type}","room":"${HOSTILE_ROOM}","data":${data}}`;
  return { kind: `nested ${1 + extra} levels`, payload: text, code: 4400, error: /nested|deep|depth/i };
}

function hostileKey(rng: Rng): HostileCase {
  const key = pick(rng, HOSTILE_KEYS);
  const spelled = rng() < 0.2 ? key.replace(/_/g, '\\u005f').replace(/^c/, '\\u0063').replace(/^p/, '\\u0070') : key;
  const depth = rng() < 0.3 ? 1 : int(rng, 2, MAX_DEPTH);
  const value =
    depth >= MAX_DEPTH
      ? pick(rng, ['1', 'null', '"x"', 'true'])
      : pick(rng, ['{"isAdmin":true}', '{}', '[]', '1', '{"polluted":"yes"}', 'null']);
  const base = pick(rng, [
    `"type":"ping"`,
    `"type":"join_room","room":"channel:7"`,
    `"type":"send_message","room":"${HOSTILE_ROOM}"`,
  ]);
  let text: string;
  if (depth === 1) {
    const content = base.includes('send_message') ? `,"data":{"content":"via ${key}"}` : '';
    text = rng() < 0.5 ? `{"${spelled}":${value},${base}${content}}` : `{${base}${content},"${spelled}":${value}}`;
  } else {
    // the hostile key sits in an object at `depth`; data itself is depth 2
    const holder =
      rng() < 0.5 ? `{"content":"via ${key}","${spelled}":${value}}` : `{"${spelled}":${value},"content":"x"}`;
    text = `{${base},"data":${wrap(rng, depth - 2, holder)}}`;
  }
  return { kind: `${key} key at depth ${depth}`, payload: text, code: 4400, error: new RegExp(key) };
}

const NON_STRINGS = [
  '5',
  '-1',
  '0.5',
  'true',
  'false',
  'null',
  '[]',
  '["ping"]',
  '{}',
  '{"type":"ping"}',
  '1e308',
  '-1e400',
  '123456789012345678901234567890',
  `1${'0'.repeat(400)}`,
];

function wrongType(rng: Rng): HostileCase {
  const roll = rng();
  if (roll < 0.15) {
    const text = pick(rng, [
      '{}',
      '{"room":"channel:1"}',
      '{"data":{"content":"x"}}',
      '{"Type":"ping"}',
      '{" type":"ping"}',
    ]);
    return { kind: 'missing type', payload: text, code: 4400, error: /type/i };
  }
  if (roll < 0.5) {
    const text = `{"type":${pick(rng, NON_STRINGS)},"room":"channel:1","data":{"content":"x"}}`;
    return { kind: 'non-string type', payload: text, code: 4400, error: /type/i };
  }
  let type: string;
  do {
    type = pick(rng, [
      '',
      'PING',
      ' ping',
      'ping ',
      'рing',
      'ping\u0000',
      'join_room\u200b',
      'ｐｉｎｇ',
      '🏓',
      '\ud800',
      'toString',
      '__proto__',
      'constructor',
      'hasOwnProperty',
      'valueOf',
      'pong',
      'room_joined',
      'message',
      'error',
      'connected',
      'user_joined',
      randomText(rng, 30),
      'x'.repeat(int(rng, 100, 3000)),
    ]);
  } while (REAL_TYPES.has(type));
  return { kind: 'unknown type', payload: j({ type, room: 'channel:1' }), code: 4400, error: /type/i };
}

function wrongRoomType(rng: Rng): HostileCase {
  const type = pick(rng, ['join_room', 'leave_room', 'send_message']);
  const room = pick(rng, [...NON_STRINGS.filter((v) => v !== 'null'), '["channel:1"]', '{"toString":"channel:1"}']);
  const data = type === 'send_message' ? ',"data":{"content":"x"}' : '';
  return {
    kind: `${type} with room ${room.slice(0, 20)}`,
    payload: `{"type":"${type}","room":${room}${data}}`,
    code: 4400,
    error: /room/i,
  };
}

function missingRoom(rng: Rng): HostileCase {
  const type = pick(rng, ['join_room', 'leave_room', 'send_message']);
  const room = rng() < 0.5 ? '' : ',"room":null';
  const data = type === 'send_message' ? ',"data":{"content":"x"}' : '';
  return { kind: `${type} without room`, payload: `{"type":"${type}"${room}${data}}`, code: 4400, error: /room/i };
}

const BAD_ROOMS = [
  'channel:',
  ':1',
  'channel',
  'channel:-1',
  'channel:1.5',
  'channel: 1',
  ' channel:1',
  'channel:1 ',
  'channel:1\n',
  'Channel:1',
  'CHANNEL:1',
  'channel:١٢٣',
  'channel:１',
  'channel:1:2',
  'channel:0x1',
  'project:1e3',
  'task:+1',
  `channel:${'9'.repeat(21)}`,
  'user:1',
  'user:hostile',
  'room:1',
  '__proto__:1',
  'constructor:1',
  'channel:1\u0000',
  'channel:🏓',
  'chаnnel:1',
];

function badRoom(rng: Rng): HostileCase {
  const type = pick(rng, ['join_room', 'leave_room', 'send_message']);
  const room =
    rng() < 0.85 ? pick(rng, BAD_ROOMS) : `${pick(rng, ['channel', 'task', 'project'])}:${randomText(rng, 10)}`;
  const code = /^(channel|project|task):\d{1,20}$/.test(room) ? null : 4403;
  if (code === null) return badRoom(rng);
  const frame: Frame = { type, room };
  if (type === 'send_message') frame.data = { content: 'x' };
  return { kind: `${type} to ${JSON.stringify(room)}`, payload: j(frame), code: 4403, error: /room/i };
}

function emptyRoom(rng: Rng): HostileCase {
  const type = pick(rng, ['join_room', 'leave_room', 'send_message']);
  const frame: Frame = { type, room: '' };
  if (type === 'send_message') frame.data = { content: 'x' };
  return { kind: `${type} to ""`, payload: j(frame), code: 'either', error: /room/i };
}

function notJoined(rng: Rng): HostileCase {
  const room = `${pick(rng, ['channel', 'project', 'task'])}:${int(rng, 2, 999_999)}`;
  return {
    kind: `send to ${room} not joined`,
    payload: j({ type: 'send_message', room, data: { content: 'x' } }),
    code: 4403,
    error: /member|room/i,
  };
}

function badData(rng: Rng): HostileCase {
  const data = pick(rng, [
    '',
    ',"data":null',
    ',"data":"content"',
    ',"data":5',
    ',"data":true',
    ',"data":[]',
    ',"data":[{"content":"x"}]',
    ',"data":{}',
    ',"data":{"Content":"x"}',
    ',"data":{"content":null}',
    ',"data":{"content":5}',
    ',"data":{"content":1e400}',
    `,"data":{"content":1${'0'.repeat(310)}}`,
    ',"data":{"content":true}',
    ',"data":{"content":[]}',
    ',"data":{"content":["x"]}',
    ',"data":{"content":{}}',
    ',"data":{"content":{"length":1}}',
    ',"data":{"content":""}',
    `,"data":{"content":"${'x'.repeat(4001)}"}`,
    `,"data":{"content":"${'🏓'.repeat(2001)}"}`,
  ]);
  return {
    kind: `send_message data ${data.slice(0, 30)}`,
    payload: `{"type":"send_message","room":"${HOSTILE_ROOM}"${data}}`,
    code: 4400,
    error: /content/,
  };
}

function notAnObject(rng: Rng): HostileCase {
  const text = pick(rng, [
    'null',
    'true',
    'false',
    '0',
    '-0',
    '1e400',
    '"ping"',
    '""',
    '[]',
    '[null]',
    '[{"type":"ping"}]',
    '[[[[]]]]',
    '"{\\"type\\":\\"ping\\"}"',
  ]);
  return { kind: `not an object: ${text}`, payload: text, code: 4400, error: /object/ };
}

function binary(rng: Rng): HostileCase {
  let bytes: Buffer;
  const roll = rng();
  if (roll < 0.3) bytes = Buffer.from(j({ type: 'ping' }));
  else if (roll < 0.4)
    bytes = Buffer.from(j({ type: 'send_message', room: HOSTILE_ROOM, data: { content: 'binary' } }));
  else if (roll < 0.45) bytes = Buffer.alloc(0);
  else bytes = Buffer.from(Array.from({ length: int(rng, 1, 256) }, () => int(rng, 0, 255)));
  return { kind: `binary frame of ${bytes.length} bytes`, payload: bytes, code: 4400, error: /Binary/i };
}

const GENERATORS: Array<[number, (rng: Rng) => HostileCase]> = [
  [3, invalidJson],
  [3, truncatedJson],
  [2, tooDeep],
  [4, hostileKey],
  [3, wrongType],
  [2, wrongRoomType],
  [1, missingRoom],
  [2, badRoom],
  [0.3, emptyRoom],
  [1, notJoined],
  [2, badData],
  [1, notAnObject],
  [1.5, binary],
];

function barrage(seed: number, count: number): HostileCase[] {
  const rng = mulberry32(seed);
  const total = GENERATORS.reduce((sum, [weight]) => sum + weight, 0);
  const cases: HostileCase[] = [];
  // every generator at least once, then weighted at random
  for (const [, generate] of GENERATORS) cases.push(generate(rng));
  while (cases.length < count) {
    let roll = rng() * total;
    const entry = GENERATORS.find(([weight]) => (roll -= weight) < 0) ?? GENERATORS[0];
    cases.push(entry[1](rng));
  }
  return cases;
}

/** Sanity checks on the generator itself, so a wrong expectation is ours and not the server's. */
function checkGenerated(c: HostileCase): void {
  if (Buffer.isBuffer(c.payload)) return;
  const text = c.payload;
  if (c.error.source === 'Invalid JSON') {
    if (parses(text)) throw new Error(`generator bug: ${c.kind} parses: ${text}`);
    return;
  }
  const value = JSON.parse(text);
  if (c.kind.startsWith('nested') && depthOf(value) <= MAX_DEPTH)
    throw new Error(`generator bug: ${c.kind} is ${depthOf(value)} deep`);
  if (!c.kind.startsWith('nested') && depthOf(value) > MAX_DEPTH)
    throw new Error(`generator bug: ${c.kind} is too deep`);
}

/** `levels` nested objects: levels(1) = {}, levels(2) = {"a":{}}, … */
function levels(n: number): string {
  return `${'{"a":'.repeat(n - 1)}{}${'}'.repeat(n - 1)}`;
}

interface Captured {
  lines: string[];
  restore(): void;
}

/** Captures what the process writes to stdout/stderr (the Nest logger, console, crashes). */
function captureOutput(): Captured {
  const lines: string[] = [];
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((stream) => stream.write);
  for (const stream of streams) {
    stream.write = (chunk: unknown, ...rest: unknown[]) => {
      lines.push(...String(chunk).split('\n'));
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    };
  }
  return {
    lines,
    restore: () => streams.forEach((stream, i) => (stream.write = originals[i])),
  };
}

const STACK_LINE = /^\s+at\s/;

function expectError(frame: Frame, code: 4400 | 4403 | 'either' | 4429, error: RegExp, label: string): void {
  const codes = code === 'either' ? [4400, 4403] : [code];
  const ok =
    frame.type === 'error' &&
    codes.includes(frame.data?.code) &&
    typeof frame.data?.error === 'string' &&
    error.test(frame.data.error) &&
    ISO_MS.test(frame.timestamp) &&
    Object.keys(frame).sort().join() === 'data,timestamp,type' &&
    Object.keys(frame.data).sort().join() === 'code,error';
  if (!ok)
    throw new Error(`${label}: expected chat error ${codes.join('|')} ${error} but got ${JSON.stringify(frame)}`);
}

describe('hostile input on the chat gateway (SPEC §10)', () => {
  let t: TestApp;
  let registry: ConnectionRegistry;

  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 100_000 });
    registry = t.app.get(ConnectionRegistry);
  });
  afterAll(() => t.close());

  it('answers every frame of a seeded hostile barrage with an error, stays open, leaks nothing to others and prints no stack', async () => {
    const cases = barrage(SEED, 400);
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
        for (const c of cases.slice(i, i + chunk)) hostile.send(c.payload);
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
    cases.forEach((c, i) =>
      expectError(ownReplies[i], c.code, c.error, `#${i} ${c.kind} ${String(c.payload).slice(0, 120)}`),
    );
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
    const stackLines = output.lines.filter((line) => STACK_LINE.test(line));
    expect(stackLines).toEqual([]);
    expect(output.lines.filter((line) => /Unhandled|handler_failed|Internal server error/.test(line))).toEqual([]);
    expect(({} as Record<string, unknown>).isAdmin).toBeUndefined();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();

    for (const client of [hostile, bystander, third]) client.close();
    await eventually(() => registry.size === 0, 3000, 'connections released');
  });

  it('replays the same barrage for the same seed', () => {
    const render = (cs: HostileCase[]): string[] => cs.map((c) => `${c.kind}|${String(c.payload)}`);
    expect(render(barrage(SEED, 400))).toEqual(render(barrage(SEED, 400)));
  });

  it('accepts JSON nested exactly 32 levels and refuses 33', async () => {
    const client = await t.chat({ sub: 'depth' });
    // the frame is level 1, so data nested 31 levels makes 32
    for (const data of [levels(31), `${'['.repeat(30)}{}${']'.repeat(30)}`, `{"a":[${levels(29)}]}`]) {
      const text = `{"type":"ping","data":${data}}`;
      expect(depthOf(JSON.parse(text))).toBe(32);
      client.send(text);
      expect(await client.next()).toEqual({ type: 'pong', timestamp: expect.stringMatching(ISO_MS) });
    }
    const joined = `{"type":"join_room","room":"channel:32","data":${levels(31)}}`;
    client.send(joined);
    expect(await client.next()).toMatchObject({ type: 'room_joined', room: 'channel:32' });

    for (const data of [levels(32), `${'['.repeat(31)}{}${']'.repeat(31)}`, `{"a":[${levels(30)}]}`]) {
      const text = `{"type":"ping","data":${data}}`;
      expect(depthOf(JSON.parse(text))).toBe(33);
      client.send(text);
      expectError(await client.next(), 4400, /nested|deep|depth/i, '33 levels');
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

  /** A valid ping of exactly `bytes` UTF-8 bytes, padded with two-byte characters (bytes, not chars, count). */
  function pingOfBytes(bytes: number): string {
    const frame = (pad: string): string => j({ type: 'ping', pad });
    let pad = 'é'.repeat(Math.floor((bytes - Buffer.byteLength(frame(''))) / 2));
    while (Buffer.byteLength(frame(pad)) < bytes) pad += 'x';
    const text = frame(pad);
    if (Buffer.byteLength(text) !== bytes) throw new Error(`could not build a ${bytes}-byte frame`);
    return text;
  }

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
    client.send(pingOfBytes(4097));
    expect((await client.waitClose()).code).toBe(1009);
    expect(client.ofType('pong')).toHaveLength(0);
    await eventually(() => t.app.get(ConnectionRegistry).get(id) === undefined, 3000, 'connection released');
  });

  it('closes with 1009 on a binary frame over the bound too', async () => {
    const client = await t.chat({ sub: 'size' });
    client.send(Buffer.alloc(4097, 0x20));
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
    for (const error of limited) expectError(error, 4429, /^Rate limit exceeded$/, 'rate limit');
    expect(limited).toHaveLength(1); // at most one notice per second
    expect(output.lines.filter((line) => STACK_LINE.test(line))).toEqual([]);

    await sleep(1_100);
    const pongs = client.ofType('pong').length;
    client.send({ type: 'ping' });
    await eventually(() => client.ofType('pong').length === pongs + 1, 2000, 'pong after the bucket refilled');
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    client.close();
  });

  it('sends at most one rate-limit error per second under a sustained flood', async () => {
    const client = await t.chat({ sub: 'flood2' });
    const started = Date.now();
    while (Date.now() - started < 2_500) {
      for (let i = 0; i < 10; i++) client.send({ type: 'ping' });
      await sleep(50);
    }
    await sleep(200);
    const elapsed = Date.now() - started;
    const limited = client.ofType('error');
    limited.forEach((error) => expectError(error, 4429, /^Rate limit exceeded$/, 'rate limit'));
    expect(limited.length).toBeGreaterThanOrEqual(2);
    expect(limited.length).toBeLessThanOrEqual(Math.ceil(elapsed / 1000));
    const times = limited.map((error) => Date.parse(error.timestamp));
    for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(990);
    // pongs kept to the refill rate: the burst of 10 plus ~5 a second
    const pongs = client.ofType('pong').length;
    expect(pongs).toBeGreaterThanOrEqual(10);
    expect(pongs).toBeLessThanOrEqual(10 + Math.ceil((elapsed / 1000) * 5) + 1);
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    client.close();
  });
});
