import { TestClient, eventually, sleep, type Frame } from './support/test-client.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { hsToken, noneToken } from './support/tokens.js';
import {
  AUTH_REQUIRED,
  BAD_SESSION,
  INVALID_AUTH,
  MISSING_SESSION,
  NO_CHECKPOINT,
  NO_SESSION,
  RATE_LIMITED,
  STACK_LINE,
  UUID,
  call,
  captureOutput,
  checkpoint,
  closeAll,
  createSession,
  eventFrame,
  events,
  failure,
  invalidJson,
  isResponse,
  list,
  openAnonymous,
  openCheckpoint,
  randomUUID,
  reply,
  rpc,
  subscribe,
  waitEvents,
} from './support/checkpoint-client.js';

/**
 * SPEC §10 on the checkpoint gateway: bad frames get `{"id","success":false,"error"}` and the
 * connection goes on; the hostile-frame generator of test/hostile-input.e2e-spec.ts worded for
 * this gateway, with and without a token; depth, binary, UTF-8, size and rate limits.
 */

const STATIC = 'static-token-4b8d2f0c1a';
const SEED = 0xc4ec_9017;
const MAX_DEPTH = 32;
const HOSTILE_KEYS = ['__proto__', 'constructor', 'prototype'] as const;
const METHODS = [
  'authenticate',
  'create_session',
  'list_checkpoints',
  'checkpoint',
  'restore',
  'delete_checkpoint',
  'compact',
  'subscribe',
  'unsubscribe',
  'metrics',
];

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

/** `n` nested objects: nestedObjects(1) = {}, nestedObjects(2) = {"a":{}}, … */
function nestedObjects(n: number): string {
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

/** What the generator needs to know: the session to aim at, and whether the connection is authenticated. */
interface Context {
  session: string;
  checkpointId: string;
  authenticated: boolean;
}

interface HostileCase {
  kind: string;
  payload: string | Buffer;
  /** The response ids the contract allows (`unknown`, the request's id, or either). */
  ids: string[];
  /** The exact error, or a pattern where the contract only says "an error". */
  error: string | RegExp;
}

const INVALID = /^Invalid JSON: /;
/** A pattern matching exactly one of `words`. */
const exactly = (...words: string[]): RegExp =>
  new RegExp(`^(${words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`, 's');
const ANY_ERROR = /\S/;
const UNKNOWN = ['unknown'];

let caseCounter = 0;
const caseId = (): string => `h-${++caseCounter}`;

/** A well-formed request: its error depends on authentication unless it is `authenticate`. */
function wellFormed(ctx: Context, kind: string, method: string, params: unknown, error: string | RegExp): HostileCase {
  const id = caseId();
  const payload = params === undefined ? j({ id, method }) : j({ id, method, params });
  const expected = method === 'authenticate' || ctx.authenticated ? error : AUTH_REQUIRED;
  return { kind, payload, ids: [id], error: expected };
}

const GARBAGE = [
  '',
  ' ',
  '\n\t',
  '{oops',
  '{',
  '}',
  '{{}}',
  "{'id':'a','method':'metrics'}",
  '{id:"a",method:"metrics"}',
  '{"id":"a","method":"metrics",}',
  '{"id":"a","method":"metrics"}}',
  '{"id":"a","method":"metrics"} {"id":"b","method":"metrics"}',
  '{"id":"a","method":"metrics"}x',
  '{"id":"a","method":"metrics"',
  '{"id":"a","method":metrics}',
  '{"id":"a","method":"metrics","n":01}',
  '{"id":"a","method":"metrics","n":NaN}',
  '{"id":"a","method":"metrics","n":Infinity}',
  '{"id":"a","method":"metrics","n":-}',
  '{"id":"a","method":"metrics","n":1e}',
  '{"id":"a","method":"met\u0001rics"}',
  '{"id":"a","method":"\\x41"}',
  '{"id":"a","method":"\\u12"}',
  'NaN',
  'undefined',
  'nul',
  'True',
  '🏓',
  '\u0000',
  '[1,2',
  '[,]',
  '{"id":"a","method":"authenticate","params":{"token":\'x\'}}',
];

function validFrames(ctx: Context): string[] {
  return [
    j({ id: 'v1', method: 'metrics' }),
    j({ id: 'v2', method: 'create_session', params: { name: 'truncated' } }),
    j({ id: 'v3', method: 'checkpoint', params: { session_id: ctx.session, message: 'x', state: { a: [1, 2] } } }),
    j({ id: 'v4', method: 'authenticate', params: { token: STATIC } }),
    j({ id: 'v5', method: 'compact', params: { session_id: ctx.session, keep: 0 } }),
  ];
}

function invalidJsonCase(rng: Rng): HostileCase {
  let text: string;
  if (rng() < 0.5) {
    text = pick(rng, GARBAGE);
  } else {
    do {
      text = (rng() < 0.5 ? '{' : '') + randomText(rng, 40);
    } while (parses(text));
  }
  return { kind: 'invalid JSON', payload: text, ids: UNKNOWN, error: INVALID };
}

function truncatedJson(rng: Rng, ctx: Context): HostileCase {
  const full = pick(rng, validFrames(ctx));
  const text = full.slice(0, int(rng, 1, full.length - 1));
  return { kind: 'truncated JSON', payload: text, ids: UNKNOWN, error: INVALID };
}

function tooDeep(rng: Rng, ctx: Context): HostileCase {
  // frame 1, params 2, state 3: state nested `extra` levels makes the frame 2 + extra deep
  const extra = rng() < 0.1 ? pick(rng, [100, 1_000, 20_000]) : int(rng, MAX_DEPTH - 1, MAX_DEPTH + 6);
  let state: string;
  if (extra > 1_000) state = `${'['.repeat(extra - 1)}{}${']'.repeat(extra - 1)}`;
  else state = wrapIn(rng, extra - 1, pick(rng, ['{}', '[]', '{"x":1}', '[0]']));
  const text = `{"id":"${caseId()}","method":"checkpoint","params":{"session_id":"${ctx.session}","state":${state}}}`;
  return { kind: `nested ${2 + extra} levels`, payload: text, ids: UNKNOWN, error: INVALID };
}

function hostileKey(rng: Rng, ctx: Context): HostileCase {
  const key = pick(rng, HOSTILE_KEYS);
  const spelled = rng() < 0.2 ? key.replace(/_/g, '\\u005f').replace(/^c/, '\\u0063').replace(/^p/, '\\u0070') : key;
  const where = int(rng, 0, 3);
  const value = pick(rng, ['{"authenticated":true}', '{}', '[]', '1', '{"polluted":"yes"}', 'null', '"x"']);
  const id = caseId();
  let text: string;
  switch (where) {
    case 0: // top level
      text =
        rng() < 0.5
          ? `{"${spelled}":${value},"id":"${id}","method":"metrics"}`
          : `{"id":"${id}","method":"create_session","params":{},"${spelled}":${value}}`;
      break;
    case 1: // in params
      text = `{"id":"${id}","method":"${pick(rng, ['authenticate', 'checkpoint', 'create_session'])}","params":{"session_id":"${ctx.session}","${spelled}":${value}}}`;
      break;
    case 2: // as the token
      text = `{"id":"${id}","method":"authenticate","params":{"token":{"${spelled}":${value}}}}`;
      break;
    default: {
      // deep in the state, keeping the frame within MAX_DEPTH
      const depth = int(rng, 4, MAX_DEPTH - 1);
      // a scalar value, so the holder adds no level of its own
      const scalar = /^[[{]/.test(value) ? '1' : value;
      const holder = `{"${spelled}":${scalar},"ok":true}`;
      text = `{"id":"${id}","method":"checkpoint","params":{"session_id":"${ctx.session}","state":${wrapIn(rng, depth - 3, holder)}}}`;
    }
  }
  return {
    kind: `${key} key (${['top', 'params', 'token', 'state'][where]})`,
    payload: text,
    ids: UNKNOWN,
    error: INVALID,
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
    '"metrics"',
    '""',
    '[]',
    '[null]',
    '[{"id":"a","method":"metrics"}]',
    '[[[[]]]]',
    '"{\\"id\\":\\"a\\",\\"method\\":\\"metrics\\"}"',
  ]);
  return { kind: `not an object: ${text}`, payload: text, ids: UNKNOWN, error: INVALID };
}

function binary(rng: Rng, ctx: Context): HostileCase {
  let bytes: Buffer;
  const roll = rng();
  if (roll < 0.3) bytes = Buffer.from(j({ id: caseId(), method: 'metrics' }));
  else if (roll < 0.4) bytes = Buffer.from(j({ id: caseId(), method: 'authenticate', params: { token: STATIC } }));
  else if (roll < 0.45)
    bytes = Buffer.from(j({ id: caseId(), method: 'compact', params: { session_id: ctx.session, keep: 0 } }));
  else if (roll < 0.5) bytes = Buffer.alloc(0);
  else bytes = Buffer.from(Array.from({ length: int(rng, 1, 256) }, () => int(rng, 0, 255)));
  return { kind: `binary frame of ${bytes.length} bytes`, payload: bytes, ids: UNKNOWN, error: INVALID };
}

const NON_STRINGS = [
  '5',
  '-1',
  '0.5',
  'true',
  'false',
  'null',
  '[]',
  '["a"]',
  '{}',
  '{"id":"a"}',
  '1e308',
  `1${'0'.repeat(400)}`,
];

function badId(rng: Rng): HostileCase {
  const method = pick(rng, ['metrics', 'create_session', 'authenticate']);
  const text =
    rng() < 0.3
      ? pick(rng, [`{"method":"${method}"}`, `{"Id":"a","method":"${method}"}`, `{"method":"${method}","params":{}}`])
      : `{"id":${pick(rng, NON_STRINGS)},"method":"${method}","params":{}}`;
  return { kind: 'missing or non-string id', payload: text, ids: UNKNOWN, error: INVALID };
}

function badMethod(rng: Rng): HostileCase {
  const id = caseId();
  const text =
    rng() < 0.3
      ? pick(rng, [`{"id":"${id}"}`, `{"id":"${id}","params":{}}`, `{"id":"${id}","Method":"metrics"}`])
      : `{"id":"${id}","method":${pick(rng, NON_STRINGS)},"params":{}}`;
  // the contract names the error but not the id of this response
  return { kind: 'missing or non-string method', payload: text, ids: [id, 'unknown'], error: INVALID };
}

function unknownMethod(rng: Rng, ctx: Context): HostileCase {
  let method: string;
  do {
    method = pick(rng, [
      '',
      'METRICS',
      ' metrics',
      'metrics ',
      'мetrics',
      'metrics\u0000',
      'checkpoint\u200b',
      'ｍｅｔｒｉｃｓ',
      '🏓',
      '\ud800',
      'toString',
      '__proto__',
      'constructor',
      'hasOwnProperty',
      'valueOf',
      'checkpoint_created',
      'subscribed',
      'init',
      'authenticated',
      randomText(rng, 30),
    ]);
  } while (METHODS.includes(method));
  const unknown = `Unknown method: ${method}`;
  if (ctx.authenticated) return wellFormed(ctx, 'unknown method', method, {}, unknown);
  // unauthenticated: the contract says Authentication required (test/checkpoint-auth checks that on its own);
  // here either exact string passes, so the barrage tests robustness, not that wording twice
  const id = caseId();
  return {
    kind: 'unknown method',
    payload: j({ id, method, params: {} }),
    ids: [id],
    error: exactly(AUTH_REQUIRED, unknown),
  };
}

function badParams(rng: Rng, ctx: Context): HostileCase {
  const method = pick(rng, ['list_checkpoints', 'checkpoint', 'restore', 'delete_checkpoint', 'compact', 'subscribe']);
  const extra: Record<string, unknown> =
    method === 'restore' || method === 'delete_checkpoint'
      ? { checkpoint_id: ctx.checkpointId }
      : method === 'compact'
        ? { keep: 1 }
        : {};
  const roll = int(rng, 0, 9);
  switch (roll) {
    case 0:
      return wellFormed(ctx, `${method} without session_id`, method, extra, MISSING_SESSION);
    case 1: {
      const value = pick<unknown>(rng, [5, null, true, {}, [ctx.session], { toString: ctx.session }]);
      return wellFormed(
        ctx,
        `${method} non-string session_id`,
        method,
        { ...extra, session_id: value },
        MISSING_SESSION,
      );
    }
    case 2: {
      const value = pick(rng, [
        '',
        'abc',
        'not-a-uuid',
        `${ctx.session}x`,
        '../../etc/passwd',
        'zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz',
        randomText(rng, 20),
      ]);
      if (UUID.test(value)) return wellFormed(ctx, 'filler', 'metrics', {}, 'never');
      return wellFormed(ctx, `${method} bad session_id`, method, { ...extra, session_id: value }, BAD_SESSION);
    }
    case 3:
      return wellFormed(ctx, `${method} unknown session`, method, { ...extra, session_id: randomUUID() }, NO_SESSION);
    case 4: {
      const m = pick(rng, ['restore', 'delete_checkpoint']);
      const value = pick(rng, [randomUUID(), 'abc', '', `${ctx.checkpointId}x`]);
      return wellFormed(
        ctx,
        `${m} unknown checkpoint`,
        m,
        { session_id: ctx.session, checkpoint_id: value },
        NO_CHECKPOINT,
      );
    }
    case 5: {
      const m = pick(rng, ['restore', 'delete_checkpoint']);
      const value = pick<unknown>(rng, [undefined, 5, null, {}, [ctx.checkpointId], true]);
      const params =
        value === undefined ? { session_id: ctx.session } : { session_id: ctx.session, checkpoint_id: value };
      return wellFormed(ctx, `${m} bad checkpoint_id`, m, params, ANY_ERROR);
    }
    case 6: {
      const keep = pick<unknown>(rng, [-1, -1000, 1.5, '2', null, true, [1], { n: 1 }, undefined, Infinity]);
      const params = keep === undefined ? { session_id: ctx.session } : { session_id: ctx.session, keep };
      // Infinity: JSON.stringify makes it null, still not an integer
      return wellFormed(ctx, `compact keep ${String(keep)}`, 'compact', params, ANY_ERROR);
    }
    case 7: {
      const message = pick<unknown>(rng, [5, true, {}, ['x'], { toString: 'x' }]);
      return wellFormed(
        ctx,
        'checkpoint non-string message',
        'checkpoint',
        { session_id: ctx.session, message },
        ANY_ERROR,
      );
    }
    case 8: {
      const name = pick<unknown>(rng, [5, true, {}, ['x'], { toString: 'x' }]);
      return wellFormed(ctx, 'create_session non-string name', 'create_session', { name }, ANY_ERROR);
    }
    default: {
      // params that are not an object
      const id = caseId();
      const params = pick(rng, ['5', '"x"', 'true', '[]', `["${ctx.session}"]`]);
      const m = pick(rng, ['checkpoint', 'list_checkpoints', 'compact', 'restore']);
      return {
        kind: `${m} params ${params}`,
        payload: `{"id":"${id}","method":"${m}","params":${params}}`,
        ids: [id, 'unknown'],
        error: ctx.authenticated ? ANY_ERROR : new RegExp(`^(${AUTH_REQUIRED}|Invalid JSON: .*)$`, 's'),
      };
    }
  }
}

/** `authenticate` with values that must never authenticate. */
function hostileAuth(rng: Rng, ctx: Context): HostileCase {
  const now = Math.floor(Date.now() / 1000);
  const params = pick<unknown>(rng, [
    { token: true },
    { token: false },
    { token: 1 },
    { token: null },
    { token: [STATIC] },
    { token: [] },
    { token: {} },
    { token: { toString: STATIC } },
    { token: { valueOf: STATIC } },
    { token: '' },
    { token: `${STATIC}\u0000` },
    { token: `\u0000${STATIC}` },
    { token: ` ${STATIC}` },
    { token: `${STATIC} ` },
    { token: `${STATIC}\n` },
    { token: STATIC.toUpperCase() },
    { token: STATIC.slice(0, -1) },
    { token: STATIC.replace('t', 'т') },
    { token: STATIC + STATIC },
    { token: 'static-token' },
    { token: 'not.a.jwt' },
    { token: hsToken({ sub: 'x' }, 'another-secret-another-secret-another') },
    { token: hsToken({ sub: 'x', exp: now - 120 }) },
    { token: noneToken({ sub: 'x', exp: now + 3600 }) },
    { token: hsToken({ username: 'no-sub' }) },
    { Token: STATIC },
    { tokens: [STATIC] },
    {},
    undefined,
  ]);
  return wellFormed(ctx, `authenticate ${j(params)?.slice(0, 40)}`, 'authenticate', params, INVALID_AUTH);
}

const GENERATORS: Array<[number, (rng: Rng, ctx: Context) => HostileCase]> = [
  [3, invalidJsonCase],
  [3, truncatedJson],
  [2, tooDeep],
  [4, hostileKey],
  [1, notAnObject],
  [1.5, binary],
  [2, badId],
  [2, badMethod],
  [2, unknownMethod],
  [4, badParams],
  [3, hostileAuth],
];

function barrage(seed: number, count: number, ctx: Context): HostileCase[] {
  const rng = mulberry32(seed);
  caseCounter = 0; // ids (and so frame sizes) are the same for the same seed
  const total = GENERATORS.reduce((sum, [weight]) => sum + weight, 0);
  const cases: HostileCase[] = [];
  for (const [, generate] of GENERATORS) cases.push(generate(rng, ctx));
  while (cases.length < count) {
    let roll = rng() * total;
    const entry = GENERATORS.find(([weight]) => (roll -= weight) < 0) ?? GENERATORS[0];
    cases.push(entry[1](rng, ctx));
  }
  return cases.filter((c) => c.kind !== 'filler');
}

/** Sanity checks on the generator itself, so a wrong expectation is ours and not the server's. */
function checkGenerated(c: HostileCase): void {
  if (Buffer.isBuffer(c.payload)) return;
  const text = c.payload;
  if (c.kind === 'invalid JSON' || c.kind === 'truncated JSON') {
    if (parses(text)) throw new Error(`generator bug: ${c.kind} parses: ${text}`);
    return;
  }
  const value = JSON.parse(text);
  if (c.kind.startsWith('nested')) {
    if (depthOf(value) <= MAX_DEPTH) throw new Error(`generator bug: ${c.kind} is ${depthOf(value)} deep`);
    return;
  }
  if (depthOf(value) > MAX_DEPTH) throw new Error(`generator bug: ${c.kind} is too deep: ${text.slice(0, 200)}`);
  if (c.kind.includes(' key (') && !/__proto__|constructor|prototype|\\u005f|\\u0063|\\u0070/.test(text))
    throw new Error(`generator bug: ${c.kind} has no hostile key`);
}

function expectCase(frame: Frame | undefined, c: HostileCase, label: string): void {
  const ok =
    frame !== undefined &&
    frame.success === false &&
    Object.keys(frame).sort().join() === 'error,id,success' &&
    c.ids.includes(frame.id) &&
    typeof frame.error === 'string' &&
    frame.error.length > 0 &&
    (typeof c.error === 'string' ? frame.error === c.error : c.error.test(frame.error));
  if (!ok) {
    throw new Error(
      `${label}: expected {id: ${c.ids.join('|')}, success: false, error: ${String(c.error)}} but got ${JSON.stringify(frame)}`,
    );
  }
}

const show = (c: HostileCase): string =>
  `${c.kind} ${Buffer.isBuffer(c.payload) ? '<binary>' : c.payload.slice(0, 120)}`;

describe('hostile input on the checkpoint gateway (SPEC §10)', () => {
  let t: TestApp;
  let session: string;
  let existing: string;

  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 100_000, checkpoint: { authToken: STATIC } });
    const setup = await openCheckpoint(t, { sub: 'setup' });
    session = await createSession(setup, 'hostile');
    existing = await checkpoint(setup, session, 'existing', { keep: true });
    await closeAll([setup]);
  });
  afterAll(() => t.close());

  it('replays the same barrage for the same seed, and the generator is sound', () => {
    const ctx = { session: randomUUID(), checkpointId: randomUUID(), authenticated: true };
    const render = (cs: HostileCase[]): string[] =>
      cs.map((c) => `${c.kind}|${String(c.payload).replace(/h-\d+/g, 'h')}|${String(c.error)}`);
    const first = barrage(SEED, 300, ctx);
    first.forEach(checkGenerated);
    // random UUIDs in "unknown session" cases differ run to run; compare without them
    const strip = (lines: string[]): string[] =>
      lines.map((l) => l.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'U'));
    expect(strip(render(barrage(SEED, 300, ctx)))).toEqual(strip(render(first)));
    expect(new Set(first.map((c) => c.kind.split(' ')[0])).size).toBeGreaterThanOrEqual(12);
    // well within the default inbound byte budget (1 MiB/s, burst one maximal frame)
    const bytes = first.reduce((sum, c) => sum + Buffer.byteLength(c.payload), 0);
    expect(bytes).toBeLessThan(512 * 1024);
  });

  describe.each([
    ['with a token', true],
    ['without a token', false],
  ])('%s', (_label, authenticated) => {
    it('answers every hostile frame with exactly one success:false, stays usable, leaks nothing, authenticates nothing', async () => {
      const ctx: Context = { session, checkpointId: existing, authenticated };
      const cases = barrage(SEED + (authenticated ? 1 : 2), 300, ctx);
      cases.forEach(checkGenerated);

      const bystander = await openCheckpoint(t, { sub: 'bystander' });
      const third = await openCheckpoint(t, { sub: 'third' });
      await subscribe(bystander, session);
      const hostile = authenticated ? await openCheckpoint(t, { sub: 'mallory' }) : await openAnonymous(t);
      const openedAt = Date.now();

      const output = captureOutput();
      const madeByThird: string[] = [];
      try {
        const chunk = 25;
        for (let i = 0; i < cases.length; i += chunk) {
          for (const c of cases.slice(i, i + chunk)) hostile.send(c.payload);
          madeByThird.push(await checkpoint(third, session, `during ${i}`));
        }
        await eventually(
          () => hostile.frames.filter(isResponse).length >= cases.length,
          10_000,
          `${cases.length} responses`,
        );
        await sleep(100);
      } finally {
        output.restore();
      }

      const responses = hostile.frames.filter(isResponse);
      expect(responses).toHaveLength(cases.length);
      expect(hostile.frames.filter((f) => !isResponse(f))).toEqual([]);
      cases.forEach((c, i) => expectCase(responses[i], c, `#${i} ${show(c)}`));

      // still open; an unauthenticated one is still unauthenticated, whatever it sent
      expect(hostile.socket.readyState).toBe(hostile.socket.OPEN);
      if (authenticated) {
        expect((await list(hostile, session)).map((e) => e.id)).toEqual([existing, ...madeByThird]);
      } else {
        for (const params of [
          { token: true },
          { token: [STATIC] },
          { token: `${STATIC}\u0000` },
          { token: { toString: STATIC } },
        ]) {
          const response = await rpc(hostile, 'authenticate', params);
          expect(response).toEqual(failure(response.id, INVALID_AUTH));
        }
        const polluted = await reply(
          hostile,
          `{"id":"p","method":"authenticate","params":{"token":{"__proto__":{"authenticated":true}}}}`,
        );
        expect(polluted).toEqual(failure('unknown', invalidJson()));
        const denied = await rpc(hostile, 'list_checkpoints', { session_id: session });
        expect(denied).toEqual(failure(denied.id, AUTH_REQUIRED));
        expect(Date.now() - openedAt).toBeLessThan(9000); // the 10 s deadline would close it
        expect(await call(hostile, 'authenticate', { token: STATIC })).toEqual({ authenticated: true });
        expect((await list(hostile, session)).map((e) => e.id)).toEqual([existing, ...madeByThird]);
      }

      // the bystander got exactly the third client's events, nothing caused by the barrage
      await waitEvents(bystander, (f) => f.data.checkpoint_id === madeByThird[madeByThird.length - 1]);
      await sleep(50);
      expect(events(bystander)).toEqual(madeByThird.map((id) => eventFrame('checkpoint_created', id, session)));
      expect(third.frames.filter((f) => f.success === false)).toEqual([]);

      // no stack trace, no unhandled error, nothing polluted
      expect(output.lines.filter((line) => STACK_LINE.test(line))).toEqual([]);
      expect(output.lines.filter((line) => /Unhandled|handler_failed|Internal server error/.test(line))).toEqual([]);
      expect(({} as Record<string, unknown>).authenticated).toBeUndefined();
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();

      // the store is as the third client left it
      expect((await list(third, session)).map((e) => e.id)).toEqual([existing, ...madeByThird]);
      await closeAll([hostile, bystander, third]);
      // reset the session for the next run
      await (async () => {
        const cleaner = await openCheckpoint(t, { sub: 'cleaner' });
        for (const id of madeByThird)
          await call(cleaner, 'delete_checkpoint', { session_id: session, checkpoint_id: id });
        await closeAll([cleaner]);
      })();
    }, 30_000);
  });
});

describe('bad frames on the checkpoint gateway (SPEC §5, §10)', () => {
  let t: TestApp;
  let c: TestClient;
  let session: string;

  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 10_000, messageMaxSize: 4096 });
    c = await openCheckpoint(t, { sub: 'frames' });
    session = await createSession(c);
  });
  afterAll(async () => {
    c.close();
    await t.close();
  });

  it.each([
    ['not JSON', '{oops'],
    ['an array', '[1,2]'],
    ['a string', '"metrics"'],
    ['null', 'null'],
    ['a number', '5'],
    ['no id', '{"method":"metrics"}'],
    ['a number id', '{"id":5,"method":"metrics"}'],
    ['a null id', '{"id":null,"method":"metrics"}'],
    ['an object id', '{"id":{"a":1},"method":"metrics"}'],
    ['an array id', '{"id":["x"],"method":"metrics"}'],
    ['a __proto__ key', '{"id":"p1","method":"metrics","__proto__":{"polluted":true}}'],
    ['a constructor key in params', '{"id":"p2","method":"create_session","params":{"constructor":{"name":"x"}}}'],
    ['a prototype key in state', '{"id":"p3","method":"create_session","params":{"name":"n","x":{"prototype":1}}}'],
  ])('answers %s with id unknown and Invalid JSON: …', async (_what, text) => {
    expect(await reply(c, text)).toEqual(failure('unknown', invalidJson()));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['no method', '{"id":"m1"}'],
    ['a number method', '{"id":"m2","method":5}'],
    ['a null method', '{"id":"m3","method":null}'],
    ['an array method', '{"id":"m4","method":["metrics"]}'],
  ])('answers %s with Invalid JSON: …', async (_what, text) => {
    const response = await reply(c, text);
    expect(response).toEqual(failure(response.id, invalidJson()));
    expect([JSON.parse(text).id, 'unknown']).toContain(response.id);
  });

  it('answers a binary frame with id unknown and Invalid JSON: …, even if it holds a valid request', async () => {
    expect(await reply(c, Buffer.from(JSON.stringify({ id: 'bin', method: 'metrics' })))).toEqual(
      failure('unknown', invalidJson()),
    );
    expect(await reply(c, Buffer.from([0, 1, 2, 255]))).toEqual(failure('unknown', invalidJson()));
    expect((await call(c, 'metrics')).connections).toBe(1);
  });

  it('accepts a frame nested exactly 32 levels and refuses 33, without storing anything', async () => {
    // frame 1, params 2, state 3: state nested 30 levels makes 32
    const frame = (state: string, id: string): string =>
      `{"id":"${id}","method":"checkpoint","params":{"session_id":"${session}","state":${state}}}`;
    const ok = frame(nestedObjects(30), 'deep-32');
    expect(depthOf(JSON.parse(ok))).toBe(32);
    const accepted = await reply(c, ok);
    expect(accepted).toEqual({ id: 'deep-32', success: true, result: expect.stringMatching(UUID) });
    const restored = await call(c, 'restore', { session_id: session, checkpoint_id: accepted.result });
    expect(restored.state).toEqual(JSON.parse(nestedObjects(30)));

    for (const state of [nestedObjects(31), `${'['.repeat(30)}{}${']'.repeat(30)}`, `{"a":[${nestedObjects(29)}]}`]) {
      const text = frame(state, 'deep-33');
      expect(depthOf(JSON.parse(text))).toBe(33);
      expect(await reply(c, text)).toEqual(failure('unknown', invalidJson()));
    }
    expect((await list(c, session)).map((e) => e.id)).toEqual([accepted.result]);
  });

  it('closes with 1009 on a frame over messageMaxSize, and 1007 on invalid UTF-8', async () => {
    const big = await openCheckpoint(t, { sub: 'big' });
    big.send(JSON.stringify({ id: 'big', method: 'create_session', params: { name: 'x'.repeat(5000) } }));
    expect((await big.waitClose()).code).toBe(1009);
    const utf8 = await openCheckpoint(t, { sub: 'utf8' });
    utf8.socket.send(Buffer.from([0x7b, 0x22, 0x69, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]), { binary: false });
    expect((await utf8.waitClose()).code).toBe(1007);
    // the others are unaffected
    expect(await createSession(c)).toMatch(UUID);
  });
});

describe('rate limit on the checkpoint gateway (SPEC §10)', () => {
  const isLimited = (f: Frame): boolean => f.success === false && f.error === RATE_LIMITED;

  async function flood(t: TestApp, count: number): Promise<{ c: TestClient; ids: string[] }> {
    const c = await openCheckpoint(t, { sub: `flood-${count}` });
    const ids = Array.from({ length: count }, (_, i) => `f-${count}-${i}`);
    for (const id of ids) c.send({ id, method: 'metrics' });
    await sleep(400);
    return { c, ids };
  }

  function expectLimited(c: TestClient, ids: string[], burst: number): void {
    const responses = c.frames.filter(isResponse);
    const served = responses.filter((f) => f.success === true);
    expect(served.map((f) => f.id)).toEqual(ids.slice(0, burst));
    const limited = responses.filter((f) => !('result' in f));
    expect(limited).toHaveLength(1); // at most one notice a second, and one there is
    expect(limited[0]).toEqual({ id: expect.any(String), success: false, error: RATE_LIMITED });
    expect(limited.every(isLimited)).toBe(true);
    expect(c.socket.readyState).toBe(c.socket.OPEN);
  }

  it('default 20/s, burst 40: lets 40 through, drops the rest with one notice, and recovers', async () => {
    const t = await startTestApp();
    try {
      const { c, ids } = await flood(t, 60);
      expectLimited(c, ids, 40);
      await sleep(1100);
      expect((await call(c, 'metrics')).connections).toBe(1);
      c.close();
    } finally {
      await t.close();
    }
  });

  it('rateLimitPerSec 5, burst 10, and at most one notice a second under a sustained flood', async () => {
    const t = await startTestApp({ rateLimitPerSec: 5 });
    try {
      const { c, ids } = await flood(t, 30);
      expectLimited(c, ids, 10);
      const started = Date.now();
      while (Date.now() - started < 2_500) {
        for (let i = 0; i < 10; i++) c.send({ id: `s-${Date.now()}-${i}`, method: 'metrics' });
        await sleep(50);
      }
      await sleep(200);
      const elapsed = Date.now() - started + 400;
      const limited = c.frames.filter((f) => isResponse(f) && f.success === false);
      limited.forEach((f) => expect(f).toEqual({ id: expect.any(String), success: false, error: RATE_LIMITED }));
      expect(limited.length).toBeGreaterThanOrEqual(2);
      expect(limited.length).toBeLessThanOrEqual(Math.ceil(elapsed / 1000));
      expect(c.socket.readyState).toBe(c.socket.OPEN);
      await sleep(2100);
      expect((await call(c, 'metrics')).connections).toBe(1);
      c.close();
    } finally {
      await t.close();
    }
  });
});

describe('too many subscriptions (SPEC §10.1)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 10_000 });
  });
  afterAll(() => t.close());

  it('refuses the 129th subscription of a connection with Too many subscriptions, and goes on', async () => {
    const c = await openCheckpoint(t, { sub: 'topics' });
    const sessions: string[] = [];
    for (let i = 0; i < 129; i++) sessions.push(await createSession(c));
    for (const s of sessions.slice(0, 128)) {
      const response = await rpc(c, 'subscribe', { session_id: s });
      expect(response.success).toBe(true);
    }
    const refusedSub = await rpc(c, 'subscribe', { session_id: sessions[128] });
    expect(refusedSub).toEqual(failure(refusedSub.id, 'Too many subscriptions'));
    await call(c, 'unsubscribe', { session_id: sessions[0] });
    expect(await call(c, 'subscribe', { session_id: sessions[128] })).toEqual({
      subscribed: true,
      session_id: sessions[128],
    });
    c.close();
  });
});
