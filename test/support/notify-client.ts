import type { Subscription } from 'rxjs';
import type WebSocket from 'ws';
import { NotifyPublisher, type NotifyInbound } from '../../src/realtime/index.js';
import { TestClient, eventually, sleep, type Frame } from './test-client.js';
import type { TestApp } from './test-app.js';
import { hsToken, type Claims } from './tokens.js';

/**
 * Helpers for the notify gateway's e2e tests (SPEC §6, seed 002): the exact `{type, content, meta,
 * timestamp}` frames, connecting with or without a client id, replies, quiet points, what the host
 * app receives through `NotifyPublisher.messages()`, and the hostile-frame generator of
 * test/hostile-input.e2e-spec.ts worded for this gateway.
 */

export const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isoTimestamp = (): unknown => expect.stringMatching(ISO_MS);

/** The exact frame the server sends: `meta` defaults to `{}`. */
export function frame(type: string, content: unknown, meta: Record<string, unknown> = {}): Frame {
  return { type, content, meta, timestamp: isoTimestamp() };
}

export const connectedFrame = (clientId: unknown): Frame => frame('connected', { client_id: clientId });
export const errorFrame = (message: unknown): Frame => frame('error', message);
export const pongFrame = (pingId: unknown): Frame => frame('pong', 'pong', { ping_id: pingId });
export const heartbeatFrame = (): Frame => frame('ping', 'ping', { ping_id: expect.any(String) });

export const AUTH_REQUIRED = 'Authentication required';
export const INVALID_TOKEN = 'Invalid or expired token';
export const MISSING_TYPE = 'Missing message type';
export const INVALID_JSON = 'Invalid JSON';
export const NOT_AN_OBJECT = 'Frame must be a JSON object';
export const BINARY = 'Binary frames are not supported';
export const RATE_LIMITED = 'Rate limit exceeded';
export const BAD_META = 'meta must be an object';
export const BAD_TYPE_LENGTH = 'type must be 1 to 64 characters';
export const REPLACED = { code: 4409, reason: 'Replaced by a new connection' };
export const ADMIN_CLOSED = { code: 4000, reason: 'Disconnected by administrator' };

/** The URL path of a notify client: `/ws` (generated id) or `/ws/<clientId>`. */
export const notifyPath = (clientId?: string): string => (clientId === undefined ? '/ws' : `/ws/${clientId}`);

/** The client id a notify client was welcomed with. */
export const clientIdOf = (client: TestClient): string => client.frames[0].content.client_id as string;

/**
 * Opens a notify connection for `claims` (token in the query string, or the header with `viaHeader`)
 * and checks that its first frame is exactly the welcome for `clientId` (a UUID for `/ws`).
 */
export async function openNotify(
  t: TestApp,
  clientId?: string,
  claims: Claims = { sub: 'notify-user' },
  options: WebSocket.ClientOptions & { viaHeader?: boolean } = {},
): Promise<TestClient> {
  const { viaHeader, ...clientOptions } = options;
  const token = hsToken(claims);
  const path = notifyPath(clientId);
  const client = viaHeader
    ? await TestClient.open(t.wsUrl(path), {
        ...clientOptions,
        headers: { ...clientOptions.headers, authorization: `Bearer ${token}` },
      })
    : await TestClient.open(t.wsUrl(path, token), clientOptions);
  try {
    const first = await client.next();
    expect(first).toEqual(connectedFrame(clientId ?? expect.stringMatching(UUID)));
  } catch (error) {
    client.terminate();
    throw error;
  }
  return client;
}

/** A connection the server refuses after the upgrade: the frames it got and how it was closed. */
export async function refused(
  url: string,
  options: WebSocket.ClientOptions = {},
  timeoutMs = 3000,
): Promise<{ frames: Frame[]; code: number; reason: string }> {
  const client = new TestClient(url, options);
  const { code, reason } = await client.waitClose(timeoutMs);
  return { frames: client.frames, code, reason };
}

/** The HTTP status an upgrade gets (101 when it is upgraded; the socket is then closed). */
export async function upgradeStatus(url: string, options: WebSocket.ClientOptions = {}): Promise<number> {
  const client = new TestClient(url, options);
  return client.opened.then(
    () => {
      client.close();
      return 101;
    },
    (error: Error) => Number(/HTTP (\d+)/.exec(error.message)?.[1] ?? 0),
  );
}

/** Frames the server pushed on its own besides heartbeats: everything but the welcome and `ping`s. */
export function messages(client: TestClient, type?: string): Frame[] {
  return client.frames
    .slice(1)
    .filter((f) => f.type !== 'ping' && f.type !== 'pong' && (type === undefined || f.type === type));
}

/**
 * Sends `payload` and resolves with the first frame after it that is not a server heartbeat
 * (the reply). Reads the frames array only, so `next()`'s cursor is left alone.
 */
export function reply(client: TestClient, payload: Frame | string | Buffer, timeoutMs = 3000): Promise<Frame> {
  const start = client.frames.length;
  client.send(payload);
  const shown = Buffer.isBuffer(payload) ? '<binary>' : typeof payload === 'string' ? payload : JSON.stringify(payload);
  return waitFor(client, (f) => f.type !== 'ping', start, timeoutMs, `a reply to ${shown.slice(0, 100)}`);
}

/** Resolves with the first frame from index `start` matching `match`, or rejects on timeout or close. */
export function waitFor(
  client: TestClient,
  match: (frame: Frame) => boolean,
  start = 0,
  timeoutMs = 5000,
  what = 'a matching frame',
): Promise<Frame> {
  return new Promise((resolve, reject) => {
    const check = (): boolean => {
      const found = client.frames.slice(start).find(match);
      if (!found) return false;
      cleanup();
      resolve(found);
      return true;
    };
    const onClose = (code: number, reason: Buffer): void => {
      setImmediate(() => {
        if (check()) return;
        cleanup();
        reject(new Error(`socket closed (${code} ${reason.toString()}) before ${what}; frames ${tail(client)}`));
      });
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`no ${what} within ${timeoutMs} ms; last frames ${tail(client)}`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      client.socket.off('message', check);
      client.socket.off('close', onClose);
    };
    // registered after TestClient's own listener, so the frame is already recorded when this runs
    client.socket.on('message', check);
    client.socket.on('close', onClose);
    check();
  });
}

const tail = (client: TestClient): string => JSON.stringify(client.frames.slice(-4)).slice(0, 600);

let roundTrips = 0;

/** Sends the client's own ping with a fresh `ping_id` and checks the exact pong. */
export async function ping(client: TestClient, timeoutMs = 5000): Promise<void> {
  const pingId = `quiet-${process.pid}-${++roundTrips}`;
  const start = client.frames.length;
  client.send({ type: 'ping', meta: { ping_id: pingId } });
  const pong = await waitFor(
    client,
    (f) => f.type === 'pong' && f.meta?.ping_id === pingId,
    start,
    timeoutMs,
    `pong ${pingId}`,
  );
  expect(pong).toEqual(pongFrame(pingId));
}

/**
 * The quiet point of exactly-once checks: a ping/pong round trip on each client (whatever was
 * fanned out to it before is then in its `frames`), then `extraMs` more.
 */
export async function quiet(clients: TestClient[], extraMs = 150): Promise<void> {
  await Promise.all(clients.filter((c) => c.socket.readyState === c.socket.OPEN).map((c) => ping(c)));
  await sleep(extraMs);
}

/** Waits until `client` has at least `count` pushed messages matching `match`. */
export async function waitMessages(
  client: TestClient,
  match: (frame: Frame) => boolean,
  count = 1,
  timeoutMs = 5000,
): Promise<Frame[]> {
  await eventually(
    () => messages(client).filter(match).length >= count,
    timeoutMs,
    `${count} matching message(s); last frames ${tail(client)}`,
  );
  return messages(client).filter(match);
}

/** Everything `NotifyPublisher.messages()` emits from now on, until `stop()`. */
export interface Inbound {
  items: NotifyInbound[];
  stop(): void;
}

export function collectInbound(t: TestApp): Inbound {
  const items: NotifyInbound[] = [];
  const subscription: Subscription = t.app
    .get(NotifyPublisher)
    .messages()
    .subscribe((item) => items.push(item));
  return { items, stop: () => subscription.unsubscribe() };
}

/** What the host receives for a frame of `clientId`/`userId` (content null and meta {} when absent). */
export function inbound(
  clientId: unknown,
  userId: unknown,
  type: string,
  content: unknown = null,
  meta: Record<string, unknown> = {},
): NotifyInbound {
  return { clientId, userId, type, content, meta, receivedAt: isoTimestamp() } as NotifyInbound;
}

/** The notify clients the admin view lists (ids), across the cluster. */
export async function listedNotifyIds(t: TestApp, token: string): Promise<string[]> {
  const response = await t.http('GET', '/ws/clients?gateway=notify&limit=1000', { token });
  expect(response.status).toBe(200);
  return (response.body.clients as Array<{ id: string }>).map((c) => c.id).sort();
}

/** Closes the clients and waits until each socket is closed. */
export async function closeAll(clients: TestClient[]): Promise<void> {
  for (const client of clients) client.close();
  await Promise.all(clients.map((c) => c.waitClose(5000).catch(() => undefined)));
}

// ---------------------------------------------------------------------------------------------
// Output capture (no stack traces), as in test/hostile-input.e2e-spec.ts
// ---------------------------------------------------------------------------------------------

export interface Captured {
  lines: string[];
  restore(): void;
}

/** Captures what the process writes to stdout/stderr (the Nest logger, console, crashes). */
export function captureOutput(): Captured {
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

export const STACK_LINE = /^\s+at\s/;

// ---------------------------------------------------------------------------------------------
// Hostile-frame generator (test/hostile-input.e2e-spec.ts, worded for the notify gateway)
// ---------------------------------------------------------------------------------------------

export const MAX_DEPTH = 32;
const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

export interface HostileCase {
  kind: string;
  payload: string | Buffer;
  /** The error the notify gateway answers with: exact, or a pattern where the contract only names the subject. */
  error: string | RegExp;
}

/** Tiny deterministic PRNG (mulberry32): same seed, same barrage. */
export function mulberry32(seed: number): () => number {
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
const j = (value: unknown): string => JSON.stringify(value);

/** Wraps JSON text `inner` in `levels` containers (objects or arrays, chosen by `rng`). */
function wrapIn(rng: Rng, levels: number, inner: string): string {
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
export function depthOf(root: unknown): number {
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

export function parses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** `n` nested objects: nestedObjects(1) = {}, nestedObjects(2) = {"a":{}}, … */
export function nestedObjects(n: number): string {
  return `${'{"a":'.repeat(n - 1)}{}${'}'.repeat(n - 1)}`;
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
  '{"type":"hostile","content":\'x\'}',
];

const VALID_FRAMES = [
  j({ type: 'ping', meta: { ping_id: 'p-1' } }),
  j({ type: 'hostile', content: 'should never reach the host', meta: { k: 'v' } }),
  j({ type: 'pong', meta: { ping_id: 'p-2' } }),
  j({ type: 'hostile', content: { nested: [1, 2, { deeper: ['é', '🏓', null, true, 1.5e300] }] } }),
];

const DEPTH_ERROR = /nest|deep|depth/i;

function invalidJson(rng: Rng): HostileCase {
  let text: string;
  if (rng() < 0.5) {
    text = pick(rng, GARBAGE);
  } else {
    do {
      text = (rng() < 0.5 ? '{' : '') + randomText(rng, 40);
    } while (parses(text));
  }
  return { kind: 'invalid JSON', payload: text, error: INVALID_JSON };
}

function truncatedJson(rng: Rng): HostileCase {
  const full = pick(rng, VALID_FRAMES);
  const text = full.slice(0, int(rng, 1, full.length - 1));
  return { kind: 'truncated JSON', payload: text, error: INVALID_JSON };
}

function tooDeep(rng: Rng): HostileCase {
  // depth of the frame = 1 (the frame) + the nested field's depth
  const extra = rng() < 0.1 ? pick(rng, [100, 1_000, 50_000]) : int(rng, MAX_DEPTH, MAX_DEPTH + 8);
  let nested: string;
  if (extra > 1_000) nested = `${'['.repeat(extra - 1)}{}${']'.repeat(extra - 1)}`;
  else nested = wrapIn(rng, extra - 1, pick(rng, ['{}', '[]', '{"x":1}', '[0]']));
  const type = pick(rng, ['ping', 'pong', 'hostile']);
  const field = pick(rng, ['content', 'meta', 'extra']);
  const text = `{"type":"${type}","${field}":${nested}}`;
  return { kind: `nested ${1 + extra} levels`, payload: text, error: DEPTH_ERROR };
}

function hostileKey(rng: Rng): HostileCase {
  const key = pick(rng, HOSTILE_KEYS);
  const spelled = rng() < 0.2 ? key.replace(/_/g, '\\u005f').replace(/^c/, '\\u0063').replace(/^p/, '\\u0070') : key;
  const depth = rng() < 0.3 ? 1 : int(rng, 2, MAX_DEPTH);
  // the value's own nesting must keep the frame within MAX_DEPTH: only the key is hostile
  const value =
    depth >= MAX_DEPTH
      ? pick(rng, ['1', 'null', '"x"', 'true'])
      : depth === MAX_DEPTH - 1
        ? pick(rng, ['{}', '[]', '{"polluted":"yes"}', '{"isAdmin":true}'])
        : pick(rng, ['{"roles":["admin"]}', '{}', '[]', '1', '{"polluted":"yes"}', 'null', '{"isAdmin":true}']);
  const base = pick(rng, [`"type":"ping"`, `"type":"hostile"`, `"type":"pong"`]);
  let text: string;
  if (depth === 1) {
    text = rng() < 0.5 ? `{"${spelled}":${value},${base}}` : `{${base},"${spelled}":${value}}`;
  } else {
    // the hostile key sits in an object at `depth`; the field itself is depth 2
    const holder = pick(rng, [
      `{"ping_id":"p-1","${spelled}":${value}}`,
      `{"${spelled}":${value},"level":"info"}`,
      `{"${spelled}":${value}}`,
    ]);
    const field = pick(rng, ['content', 'meta']);
    text = `{${base},"${field}":${depth === 2 ? holder : wrapIn(rng, depth - 2, holder)}}`;
  }
  return { kind: `${key} key at depth ${depth}`, payload: text, error: new RegExp(key) };
}

const NON_STRINGS = [
  'null',
  '5',
  '-1',
  '0.5',
  'true',
  'false',
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
  if (roll < 0.3) {
    const text = pick(rng, [
      '{}',
      '{"content":"x"}',
      '{"meta":{"ping_id":"p-1"}}',
      '{"Type":"ping"}',
      '{" type":"ping"}',
      '{"type ":"hostile"}',
    ]);
    return { kind: 'missing type', payload: text, error: MISSING_TYPE };
  }
  if (roll < 0.6) {
    const text = `{"type":${pick(rng, NON_STRINGS)},"content":"x"}`;
    return { kind: 'non-string type', payload: text, error: MISSING_TYPE };
  }
  const type = rng() < 0.3 ? '' : 'x'.repeat(int(rng, 65, 3000));
  return { kind: `type of ${type.length} characters`, payload: j({ type, content: 'x' }), error: BAD_TYPE_LENGTH };
}

function badMeta(rng: Rng): HostileCase {
  const meta = pick(rng, ['5', '"meta"', 'true', 'false', '[]', '[{"level":"info"}]', '0', '""', '1e400']);
  const type = pick(rng, ['hostile', 'logs', 'task_success', 'custom.event']);
  return { kind: `meta ${meta}`, payload: `{"type":"${type}","content":"x","meta":${meta}}`, error: BAD_META };
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
  return { kind: `not an object: ${text}`, payload: text, error: NOT_AN_OBJECT };
}

function binary(rng: Rng): HostileCase {
  let bytes: Buffer;
  const roll = rng();
  if (roll < 0.3) bytes = Buffer.from(j({ type: 'ping', meta: { ping_id: 'p-bin' } }));
  else if (roll < 0.4) bytes = Buffer.from(j({ type: 'hostile', content: 'binary' }));
  else if (roll < 0.45) bytes = Buffer.alloc(0);
  else bytes = Buffer.from(Array.from({ length: int(rng, 1, 256) }, () => int(rng, 0, 255)));
  return { kind: `binary frame of ${bytes.length} bytes`, payload: bytes, error: BINARY };
}

const GENERATORS: Array<[number, (rng: Rng) => HostileCase]> = [
  [3, invalidJson],
  [3, truncatedJson],
  [2, tooDeep],
  [4, hostileKey],
  [3, wrongType],
  [2, badMeta],
  [1, notAnObject],
  [1.5, binary],
];

/** `count` hostile frames; same seed, same frames. Each gets exactly one notify error frame. */
export function barrage(seed: number, count: number): HostileCase[] {
  const rng = mulberry32(seed);
  const total = GENERATORS.reduce((sum, [weight]) => sum + weight, 0);
  const cases: HostileCase[] = [];
  for (const [, generate] of GENERATORS) cases.push(generate(rng));
  while (cases.length < count) {
    let roll = rng() * total;
    const entry = GENERATORS.find(([weight]) => (roll -= weight) < 0) ?? GENERATORS[0];
    cases.push(entry[1](rng));
  }
  return cases;
}

/** Sanity checks on the generator itself, so a wrong expectation is ours and not the server's. */
export function checkGenerated(c: HostileCase): void {
  if (Buffer.isBuffer(c.payload)) return;
  const text = c.payload;
  if (c.kind === 'invalid JSON' || c.kind === 'truncated JSON') {
    if (parses(text)) throw new Error(`generator bug: ${c.kind} parses: ${text}`);
    return;
  }
  const value = JSON.parse(text);
  if (c.kind.startsWith('nested') && depthOf(value) <= MAX_DEPTH)
    throw new Error(`generator bug: ${c.kind} is ${depthOf(value)} deep`);
  if (!c.kind.startsWith('nested') && depthOf(value) > MAX_DEPTH)
    throw new Error(`generator bug: ${c.kind} is too deep: ${text.slice(0, 200)}`);
}

/** Throws unless `f` is exactly a notify error frame whose content is (or matches) `error`. */
export function expectNotifyError(f: Frame | undefined, error: string | RegExp, label: string): void {
  const ok =
    f !== undefined &&
    f.type === 'error' &&
    typeof f.content === 'string' &&
    (typeof error === 'string' ? f.content === error : error.test(f.content)) &&
    typeof f.meta === 'object' &&
    f.meta !== null &&
    Object.keys(f.meta).length === 0 &&
    typeof f.timestamp === 'string' &&
    ISO_MS.test(f.timestamp) &&
    Object.keys(f).sort().join() === 'content,meta,timestamp,type';
  if (!ok) throw new Error(`${label}: expected notify error ${String(error)} but got ${JSON.stringify(f)}`);
}
