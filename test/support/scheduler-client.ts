import type WebSocket from 'ws';
import { TestClient, eventually, sleep, type Frame } from './test-client.js';
import type { TestApp } from './test-app.js';
import { hsToken, type Claims } from './tokens.js';

/**
 * Helpers for the scheduler gateway's e2e tests (SPEC §4, seed 001): frame shapes, connecting
 * to a path and checking its subscription response, subscribing, counting events, and the
 * hostile-frame generator of test/hostile-input.e2e-spec.ts re-worded for this gateway.
 */

export const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

const EVENT_TYPE = /^(experiment|task|worker)_[a-z]+$/;

export type ResourceType = 'experiment' | 'task' | 'project' | 'user' | 'worker' | 'system';

/** A non-empty string id. */
export const anyId = (): unknown => expect.stringMatching(/^[\s\S]+$/);
export const isoTimestamp = (): unknown => expect.stringMatching(ISO_MS);

export function subscribedFrame(resourceType: string, resourceId: string, action = 'subscribed'): Frame {
  return {
    type: 'system_status',
    id: anyId(),
    timestamp: isoTimestamp(),
    data: { action, resourceType, resourceId, status: 'success' },
  };
}

export function errorFrame(error: string): Frame {
  return { type: 'error', id: anyId(), timestamp: isoTimestamp(), error };
}

/** The resource a path subscribes its connection to (`/ws/user`: the token's `sub`, as a string). */
export function pathResource(path: string, sub: unknown): { resourceType: ResourceType; resourceId: string } {
  const [, , kind, id] = path.split('?')[0].split('/');
  switch (kind) {
    case 'experiments':
      return { resourceType: 'experiment', resourceId: decodeURIComponent(id) };
    case 'tasks':
      return { resourceType: 'task', resourceId: decodeURIComponent(id) };
    case 'projects':
      return { resourceType: 'project', resourceId: decodeURIComponent(id) };
    case 'user':
      return { resourceType: 'user', resourceId: String(sub) };
    default:
      throw new Error(`not a scheduler path: ${path}`);
  }
}

/** One of each scheduler path. */
export const SCHEDULER_PATHS = ['/ws/experiments/exp-1', '/ws/tasks/task-1', '/ws/projects/proj-1', '/ws/user'];

/**
 * Opens a scheduler connection for `claims` (token in the query string unless `headers` carry one)
 * and checks that its first frame is the subscription response for the path's resource.
 */
export async function openScheduler(
  t: TestApp,
  path: string,
  claims: Claims,
  options: WebSocket.ClientOptions & { viaHeader?: boolean } = {},
): Promise<TestClient> {
  const { viaHeader, ...clientOptions } = options;
  const token = hsToken(claims);
  const client = viaHeader
    ? await TestClient.open(t.wsUrl(path), {
        ...clientOptions,
        headers: { ...clientOptions.headers, authorization: `Bearer ${token}` },
      })
    : await TestClient.open(t.wsUrl(path, token), clientOptions);
  const first = await client.next();
  const { resourceType, resourceId } = pathResource(path, claims.sub);
  expect(first).toEqual(subscribedFrame(resourceType, resourceId));
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

/** The HTTP status an upgrade gets (101 when it is upgraded). */
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

/** A frame the server sends on its own: an event (see `events`) or an app-level heartbeat ping. */
export function isServerPush(frame: Frame): boolean {
  return (
    EVENT_TYPE.test(String(frame.type)) ||
    (frame.type === 'system_status' && /^system_\d+$/.test(String(frame.id))) ||
    frame.type === 'ping'
  );
}

/**
 * Sends `frame` and returns the first frame after it that is not a server push (event or
 * heartbeat): the reply. Reads the frames array, so events waited for elsewhere do not get in the way.
 */
export function reply(client: TestClient, frame: Frame | string | Buffer, timeoutMs = 3000): Promise<Frame> {
  const start = client.frames.length;
  return new Promise((resolve, reject) => {
    const check = (): void => {
      const found = client.frames.slice(start).find((f) => !isServerPush(f));
      if (!found) return;
      cleanup();
      resolve(found);
    };
    const timer = setTimeout(() => {
      cleanup();
      const sent = Buffer.isBuffer(frame) ? '<binary>' : typeof frame === 'string' ? frame : JSON.stringify(frame);
      reject(new Error(`no reply to ${sent.slice(0, 100)} within ${timeoutMs} ms`));
    }, timeoutMs);
    const cleanup = (): void => {
      clearTimeout(timer);
      client.socket.off('message', check);
    };
    // registered after TestClient's own listener, so the frame is already recorded when this runs
    client.socket.on('message', check);
    client.send(frame);
  });
}

export function subscribeMessage(
  action: 'subscribe' | 'unsubscribe',
  resourceType: string,
  resourceId?: string,
): Frame {
  return {
    type: 'system_status',
    data: { action, resourceType, ...(resourceId === undefined ? {} : { resourceId }) },
  };
}

/** Subscribes and checks the exact success response. */
export async function subscribe(
  client: TestClient,
  resourceType: ResourceType,
  resourceId?: string,
  expectedId = resourceId ?? resourceType,
): Promise<Frame> {
  const response = await reply(client, subscribeMessage('subscribe', resourceType, resourceId));
  expect(response).toEqual(subscribedFrame(resourceType, expectedId));
  return response;
}

export async function unsubscribe(client: TestClient, resourceType: ResourceType, resourceId?: string): Promise<Frame> {
  const response = await reply(client, subscribeMessage('unsubscribe', resourceType, resourceId));
  expect(response).toEqual(subscribedFrame(resourceType, resourceId ?? resourceType, 'unsubscribed'));
  return response;
}

let roundTrips = 0;

/**
 * A ping/pong round trip on each client (frames already fanned out to it are then in its
 * `frames`), then a short quiet wait: the "count after a quiet wait" of exactly-once checks.
 * Uses the frames array only, so it leaves `next()`'s cursor alone.
 */
export async function quiet(clients: TestClient[], extraMs = 100): Promise<void> {
  await Promise.all(
    clients.map(async (client) => {
      const id = `ping-quiet-${++roundTrips}`;
      const expected = id.replace(/^ping/, 'pong');
      client.send({ type: 'ping', id });
      await eventually(
        () => client.frames.some((frame) => frame.type === 'pong' && frame.id === expected),
        5000,
        `pong ${expected}`,
      );
    }),
  );
  await sleep(extraMs);
}

/** Server events (not replies): experiment/task/worker events and broadcast `system_status` (id `system_…`). */
export function events(client: TestClient, type?: string): Frame[] {
  return client.frames.filter(
    (frame) =>
      (type === undefined || frame.type === type) &&
      (EVENT_TYPE.test(String(frame.type)) ||
        (frame.type === 'system_status' && /^system_\d+$/.test(String(frame.id)))),
  );
}

/** Waits until `client` has at least `count` events matching `match`; returns them all. */
export async function waitEvents(
  client: TestClient,
  match: (frame: Frame) => boolean,
  count = 1,
  timeoutMs = 5000,
): Promise<Frame[]> {
  await eventually(
    () => events(client).filter(match).length >= count,
    timeoutMs,
    `${count} matching event(s); last frames ${JSON.stringify(client.frames.slice(-3))}`,
  );
  return events(client).filter(match);
}

/** `prefix_<unixSeconds>` with the seconds between `from` and `to` (ms timestamps). */
export function expectEventId(id: unknown, prefix: string, from: number, to: number): void {
  expect(typeof id).toBe('string');
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`^${escaped}_(\\d+)$`).exec(id as string);
  if (!match) throw new Error(`event id ${String(id)} is not ${prefix}_<unixSeconds>`);
  const seconds = Number(match[1]);
  expect(seconds).toBeGreaterThanOrEqual(Math.floor(from / 1000));
  expect(seconds).toBeLessThanOrEqual(Math.floor(to / 1000));
}

export const idPattern = (prefix: string): unknown =>
  expect.stringMatching(new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_\\d+$`));

// ---------------------------------------------------------------------------------------------
// Sample resources, seed 001 shapes
// ---------------------------------------------------------------------------------------------

export function sampleExperiment<T extends object = Record<never, never>>(id: string, over: T = {} as T) {
  return {
    id,
    name: `Parameter Sweep ${id}`,
    status: 'CREATED',
    ownerId: 'user-456',
    projectId: 'proj-789',
    ...over,
  };
}

export function sampleTask<T extends object = Record<never, never>>(id: string, over: T = {} as T) {
  return { id, experimentId: 'exp-123', status: 'CREATED', command: 'python script.py --param1 value1', ...over };
}

export function sampleWorker<T extends object = Record<never, never>>(id: string, over: T = {} as T) {
  return {
    id,
    computeResourceId: 'compute-123',
    experimentId: 'exp-123',
    status: 'RUNNING',
    currentTaskId: null as string | null,
    ...over,
  };
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
// Hostile frames (the generator of test/hostile-input.e2e-spec.ts, worded for the scheduler)
// ---------------------------------------------------------------------------------------------

export const MAX_DEPTH = 32;
const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype'] as const;

export const INVALID = 'Invalid message format';
export const UNKNOWN = 'Unknown message type';
export const FORBIDDEN = 'Forbidden';

export interface HostileCase {
  kind: string;
  payload: string | Buffer;
  /** The scheduler errors the contract allows for this frame (one, except where two are defensible). */
  errors: string[];
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

/** Types a client may send: these never get `Unknown message type`. */
const REAL_TYPES = new Set(['ping', 'pong', 'system_status']);

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
  '{"type":"system_status","data":{"action":\'subscribe\'}}',
];

const VALID_FRAMES = [
  j({ type: 'ping', id: 'ping-1' }),
  j({ type: 'system_status' }),
  j({ type: 'system_status', data: { action: 'subscribe', resourceType: 'experiment', resourceId: 'exp-9' } }),
  j({ type: 'system_status', data: { action: 'unsubscribe', resourceType: 'project', resourceId: 'p-1' } }),
  j({ type: 'ping', id: 'ping-2', data: { nested: [1, 2, { deeper: ['é', '🏓', null, true, 1.5e300] }] } }),
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
  return { kind: 'invalid JSON', payload: text, errors: [INVALID] };
}

function truncatedJson(rng: Rng): HostileCase {
  const full = pick(rng, VALID_FRAMES);
  const text = full.slice(0, int(rng, 1, full.length - 1));
  return { kind: 'truncated JSON', payload: text, errors: [INVALID] };
}

function tooDeep(rng: Rng): HostileCase {
  // depth of the frame = 1 (the frame) + data's depth
  const extra = rng() < 0.1 ? pick(rng, [100, 1_000, 50_000]) : int(rng, MAX_DEPTH, MAX_DEPTH + 8);
  let data: string;
  if (extra > 1_000) data = `${'['.repeat(extra - 1)}{}${']'.repeat(extra - 1)}`;
  else data = wrapIn(rng, extra - 1, pick(rng, ['{}', '[]', '{"x":1}', '[0]']));
  const type = pick(rng, ['ping', 'system_status']);
  const text = `{"type":"${type}","data":${data}}`;
  return { kind: `nested ${1 + extra} levels`, payload: text, errors: [INVALID] };
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
  const base = pick(rng, [`"type":"ping"`, `"type":"system_status"`]);
  let text: string;
  if (depth === 1) {
    const data = base.includes('system_status')
      ? pick(rng, [
          `,"data":{"action":"subscribe","resourceType":"system"}`,
          `,"data":{"action":"subscribe","resourceType":"experiment","resourceId":"exp-1"}`,
          '',
        ])
      : '';
    text = rng() < 0.5 ? `{"${spelled}":${value},${base}${data}}` : `{${base}${data},"${spelled}":${value}}`;
  } else {
    // the hostile key sits in an object at `depth`; data itself is depth 2
    const holder = pick(rng, [
      `{"action":"subscribe","resourceType":"system","${spelled}":${value}}`,
      `{"${spelled}":${value},"action":"subscribe","resourceType":"worker","resourceId":"w-1"}`,
      `{"action":"subscribe","resourceType":"experiment","resourceId":"exp-1","${spelled}":${value}}`,
      `{"${spelled}":${value}}`,
    ]);
    text = `{${base},"data":${depth === 2 ? holder : wrapIn(rng, depth - 2, holder)}}`;
  }
  return { kind: `${key} key at depth ${depth}`, payload: text, errors: [INVALID] };
}

const NON_STRINGS = [
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
  if (roll < 0.2) {
    const text = pick(rng, [
      '{}',
      '{"id":"ping-1"}',
      '{"data":{"action":"subscribe","resourceType":"system"}}',
      '{"Type":"ping"}',
      '{" type":"ping"}',
    ]);
    return { kind: 'missing type', payload: text, errors: [UNKNOWN] };
  }
  if (roll < 0.45) {
    // neither named by the contract: a type that is not a string is a bad frame or an unknown type
    const text = `{"type":${pick(rng, NON_STRINGS)},"id":"ping-1"}`;
    return { kind: 'non-string type', payload: text, errors: [INVALID, UNKNOWN] };
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
      'system_status\u200b',
      'ｐｉｎｇ',
      '🏓',
      '\ud800',
      'toString',
      '__proto__',
      'constructor',
      'hasOwnProperty',
      'valueOf',
      'error',
      'subscribe',
      'experiment_created',
      'task_updated',
      'worker_registered',
      'system',
      randomText(rng, 30),
      'x'.repeat(int(rng, 100, 3000)),
    ]);
  } while (REAL_TYPES.has(type));
  return { kind: 'unknown type', payload: j({ type, id: 'x' }), errors: [UNKNOWN] };
}

function badSubscription(rng: Rng): HostileCase {
  const action = pick(rng, ['subscribe', 'unsubscribe']);
  const data = pick(rng, [
    // data that is not an object
    '"subscribe"',
    '5',
    'true',
    '[]',
    '[{"action":"subscribe","resourceType":"system"}]',
    // bad actions
    `{"action":"delete","resourceType":"experiment","resourceId":"exp-1"}`,
    `{"action":"SUBSCRIBE","resourceType":"experiment","resourceId":"exp-1"}`,
    `{"action":"subscribed","resourceType":"experiment","resourceId":"exp-1"}`,
    `{"action":5,"resourceType":"experiment","resourceId":"exp-1"}`,
    `{"action":["subscribe"],"resourceType":"experiment","resourceId":"exp-1"}`,
    `{"action":{},"resourceType":"experiment","resourceId":"exp-1"}`,
    `{"action":"","resourceType":"experiment","resourceId":"exp-1"}`,
    // bad resource types
    `{"action":"${action}","resourceType":"dataset","resourceId":"d-1"}`,
    `{"action":"${action}","resourceType":"Experiment","resourceId":"exp-1"}`,
    `{"action":"${action}","resourceType":"experiments","resourceId":"exp-1"}`,
    `{"action":"${action}","resourceType":"","resourceId":"exp-1"}`,
    `{"action":"${action}","resourceType":5,"resourceId":"exp-1"}`,
    `{"action":"${action}","resourceType":null,"resourceId":"exp-1"}`,
    `{"action":"${action}","resourceType":["experiment"],"resourceId":"exp-1"}`,
    `{"action":"${action}","resourceId":"exp-1"}`,
    `{"action":"${action}","resourceType":"__proto__","resourceId":"x"}`,
    `{"action":"${action}","resourceType":"toString","resourceId":"x"}`,
    // bad resource ids
    `{"action":"${action}","resourceType":"experiment"}`,
    `{"action":"${action}","resourceType":"experiment","resourceId":""}`,
    `{"action":"${action}","resourceType":"experiment","resourceId":5}`,
    `{"action":"${action}","resourceType":"experiment","resourceId":null}`,
    `{"action":"${action}","resourceType":"experiment","resourceId":["exp-1"]}`,
    `{"action":"${action}","resourceType":"experiment","resourceId":{"id":"exp-1"}}`,
    `{"action":"${action}","resourceType":"task","resourceId":"${'t'.repeat(129)}"}`,
    `{"action":"${action}","resourceType":"task","resourceId":"a b"}`,
    `{"action":"${action}","resourceType":"task","resourceId":"a/b"}`,
    `{"action":"${action}","resourceType":"project","resourceId":"p*"}`,
    `{"action":"${action}","resourceType":"project","resourceId":"é"}`,
    `{"action":"${action}","resourceType":"project","resourceId":"p\\u0000"}`,
    `{"action":"${action}","resourceType":"project","resourceId":"p\\n"}`,
    `{"action":"${action}","resourceType":"user","resourceId":5}`,
    `{"action":"${action}","resourceType":"user","resourceId":"../admin"}`,
  ]);
  return {
    kind: `bad subscription ${data.slice(0, 40)}`,
    payload: `{"type":"system_status","data":${data}}`,
    errors: [INVALID],
  };
}

function forbidden(rng: Rng): HostileCase {
  const data = pick(rng, [
    { action: 'subscribe', resourceType: 'system' },
    { action: 'subscribe', resourceType: 'system', resourceId: 'system' },
    { action: 'subscribe', resourceType: 'worker', resourceId: `w-${int(rng, 1, 99)}` },
    { action: 'subscribe', resourceType: 'user', resourceId: pick(rng, ['bystander', 'root', 'admin', '1']) },
  ]);
  return { kind: `forbidden ${data.resourceType}`, payload: j({ type: 'system_status', data }), errors: [FORBIDDEN] };
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
  return { kind: `not an object: ${text}`, payload: text, errors: [INVALID] };
}

function binary(rng: Rng): HostileCase {
  let bytes: Buffer;
  const roll = rng();
  if (roll < 0.3) bytes = Buffer.from(j({ type: 'ping', id: 'ping-bin' }));
  else if (roll < 0.4)
    bytes = Buffer.from(
      j({ type: 'system_status', data: { action: 'subscribe', resourceType: 'experiment', resourceId: 'exp-b' } }),
    );
  else if (roll < 0.45) bytes = Buffer.alloc(0);
  else bytes = Buffer.from(Array.from({ length: int(rng, 1, 256) }, () => int(rng, 0, 255)));
  return { kind: `binary frame of ${bytes.length} bytes`, payload: bytes, errors: [INVALID] };
}

const GENERATORS: Array<[number, (rng: Rng) => HostileCase]> = [
  [3, invalidJson],
  [3, truncatedJson],
  [2, tooDeep],
  [4, hostileKey],
  [3, wrongType],
  [4, badSubscription],
  [1.5, forbidden],
  [1, notAnObject],
  [1.5, binary],
];

/** `count` hostile frames for a non-admin connection without an `acl` claim; same seed, same frames. */
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

/** Throws unless `frame` is exactly a scheduler error frame with one of `errors`. */
export function expectSchedulerError(frame: Frame | undefined, errors: string[], label: string): void {
  const ok =
    frame !== undefined &&
    frame.type === 'error' &&
    typeof frame.id === 'string' &&
    frame.id.length > 0 &&
    typeof frame.timestamp === 'string' &&
    ISO_MS.test(frame.timestamp) &&
    errors.includes(frame.error) &&
    Object.keys(frame).sort().join() === 'error,id,timestamp,type';
  if (!ok) throw new Error(`${label}: expected error ${errors.join(' | ')} but got ${JSON.stringify(frame)}`);
}
