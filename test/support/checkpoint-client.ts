import { anyPosition, inStream } from './positions.js';
import { randomUUID } from 'node:crypto';
import { Cluster, Redis } from 'ioredis';
import type WebSocket from 'ws';
import type { RealtimeModuleOptions } from '../../src/realtime/index.js';
import { clusterPrefix, startOnRedis } from './cluster-pair.js';
import { testRedisCluster, testRedisUrl } from './redis.js';
import {
  TestClient,
  eventually,
  frameWaiter,
  lastFrames,
  quietAfter,
  refused as refusedAfter,
  replyTo,
  waitFrame,
  type Frame,
} from './test-client.js';
import { openWithToken, startTestApp, type TestApp, type TokenOptions, type Endpoints } from './test-app.js';
import { hsToken, noneToken, type Claims } from './tokens.js';
import {
  MAX_DEPTH,
  hostileFrames,
  hostileKeyName,
  int,
  j,
  pick,
  randomText,
  wrap,
  type Categories,
  type HostileCase,
  type Rng,
} from './hostile-frames.js';

export { closeAll, upgradeStatus } from './test-client.js';

/**
 * Helpers for the checkpoint RPC gateway's e2e tests (SPEC §5, seed 003): requests with unique ids
 * and their responses, the exact frame shapes, events, connections with and without a token, and
 * what the hostile-frame generator (test/support/hostile-frames.ts) needs to know of this gateway.
 */

export const CHECKPOINTS = '/ws/checkpoints';

export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** ISO 8601 date-time (toISOString or RFC 3339 with an offset). */
export const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;

export const anyUuid = (): unknown => expect.stringMatching(UUID);
export const anyIso = (): unknown => expect.stringMatching(ISO);
export const invalidJson = (): unknown => expect.stringMatching(/^Invalid JSON: /);
/** A non-empty error string. */
export const someError = (): unknown => expect.stringMatching(/\S/);

export const AUTH_REQUIRED = 'Authentication required';
export const INVALID_AUTH = 'Invalid authentication token';
export const MISSING_SESSION = 'Missing session_id parameter';
export const BAD_SESSION = 'Invalid session_id format';
export const NO_SESSION = 'Session not found';
export const NO_CHECKPOINT = 'Checkpoint not found';
export const RATE_LIMITED = 'Rate limit exceeded';
/** SPEC §5's storage bounds and unreachable store. */
export const STATE_TOO_LARGE = 'State too large';
export const TOO_MANY_CHECKPOINTS = 'Too many checkpoints';
export const TOO_MANY_SESSIONS = 'Too many sessions';
export const QUOTA_EXCEEDED = 'Storage quota exceeded';
export const UNAVAILABLE = 'Service unavailable';

export const EVENT_TYPES = [
  'checkpoint_created',
  'checkpoint_restored',
  'checkpoint_deleted',
  'checkpoints_compacted',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The methods that take a `session_id`. */
export const SESSION_METHODS = [
  'list_checkpoints',
  'checkpoint',
  'restore',
  'delete_checkpoint',
  'compact',
  'subscribe',
  'unsubscribe',
];

export { randomUUID };

let counter = 0;
/** A request id no other request of the run uses. */
export const nextId = (prefix = 'rq'): string => `${prefix}-${process.pid}-${++counter}`;

/** A response frame (as opposed to a pushed event). */
export const isResponse = (frame: Frame): boolean => 'success' in frame && !('event_type' in frame);
export const isEvent = (frame: Frame): boolean => 'event_type' in frame;

/** The request frame; `params` left out when undefined ("params may be omitted"). */
export function request(method: unknown, params?: unknown, id: unknown = nextId()): Frame {
  return params === undefined ? { id, method } : { id, method, params };
}

/** How a request is sent: `invalid` marks a frame the AsyncAPI document does not describe, sent on purpose. */
export interface SendOptions {
  timeoutMs?: number;
  invalid?: boolean;
}

/** Sends `{id, method, params}` with a unique id and resolves with the response carrying that id. */
export function rpc(
  client: TestClient,
  method: string,
  params?: unknown,
  { timeoutMs = 5000, invalid = false }: SendOptions = {},
): Promise<Frame> {
  const frame = request(method, params);
  const start = client.frames.length;
  client.send(frame, { invalid });
  return waitFrame(
    client,
    (f) => f.id === frame.id && isResponse(f),
    start,
    timeoutMs,
    `response to ${method} ${String(frame.id)}`,
  );
}

/** Sends several requests without waiting, then resolves with their responses (matched by id). */
export async function pipeline(
  client: TestClient,
  requests: Array<{ method: string; params?: unknown; invalid?: boolean }>,
  timeoutMs = 15_000,
): Promise<{ ids: string[]; responses: Frame[] }> {
  const start = client.frames.length;
  const frames = requests.map(({ method, params }) => request(method, params));
  frames.forEach((frame, i) => client.send(frame, { invalid: requests[i].invalid }));
  const ids = frames.map((f) => f.id as string);
  const wanted = new Set(ids);
  await eventually(
    () => client.frames.slice(start).filter((f) => isResponse(f) && wanted.has(f.id)).length >= ids.length,
    timeoutMs,
    () => `${ids.length} responses; last frames ${lastFrames(client)}`,
  );
  const byId = new Map(
    client.frames
      .slice(start)
      .filter(isResponse)
      .map((f) => [f.id as string, f]),
  );
  return { ids, responses: ids.map((id) => byId.get(id)!) };
}

/** Sends `payload` as is and resolves with the first response frame after it. */
export function reply(
  client: TestClient,
  payload: Frame | string | Buffer,
  { timeoutMs = 5000, invalid = false }: SendOptions = {},
): Promise<Frame> {
  if (!invalid) return replyTo(client, payload, isResponse, timeoutMs);
  const start = client.frames.length;
  client.send(payload, { invalid });
  return waitFrame(client, isResponse, start, timeoutMs, 'a response');
}

/** A successful call: checks the exact success envelope and returns `result`. */
export async function call(client: TestClient, method: string, params?: unknown): Promise<any> {
  const response = await rpc(client, method, params);
  if (response.success !== true) {
    throw new Error(`${method} ${JSON.stringify(params)} failed: ${JSON.stringify(response)}`);
  }
  expect(response).toEqual({ id: response.id, success: true, result: response.result });
  expect(Object.keys(response).sort()).toEqual(['id', 'result', 'success']);
  return response.result;
}

/** A failed call: returns the response; callers compare it with `failure(…)`. */
export async function fail(
  client: TestClient,
  method: string,
  params?: unknown,
  options: SendOptions = {},
): Promise<Frame> {
  return rpc(client, method, params, options);
}

/** The exact error response for request `id` (or any id when `id` is a matcher). */
export function failure(id: unknown, error: unknown): Frame {
  return { id, success: false, error };
}

export async function createSession(client: TestClient, name?: string): Promise<string> {
  const id = await call(client, 'create_session', name === undefined ? {} : { name });
  expect(id).toMatch(UUID);
  return id as string;
}

export async function checkpoint(
  client: TestClient,
  sessionId: string,
  message?: string,
  state?: unknown,
): Promise<string> {
  const params: Record<string, unknown> = { session_id: sessionId };
  if (message !== undefined) params.message = message;
  if (state !== undefined) params.state = state;
  const id = await call(client, 'checkpoint', params);
  expect(id).toMatch(UUID);
  return id as string;
}

export async function list(client: TestClient, sessionId: string): Promise<Frame[]> {
  const result = await call(client, 'list_checkpoints', { session_id: sessionId });
  expect(Array.isArray(result)).toBe(true);
  return result as Frame[];
}

export async function subscribe(client: TestClient, sessionId: string): Promise<void> {
  const response = await rpc(client, 'subscribe', { session_id: sessionId });
  expect(response).toEqual({
    id: response.id,
    success: true,
    result: { subscribed: true, session_id: sessionId, ...anyPosition() },
  });
}

export async function unsubscribe(client: TestClient, sessionId: string): Promise<void> {
  const response = await rpc(client, 'unsubscribe', { session_id: sessionId });
  expect(response).toEqual({
    id: response.id,
    success: true,
    result: { unsubscribed: true, session_id: sessionId },
  });
}

export interface Metrics {
  sessions: number;
  checkpoints: number;
  subscriptions: number;
  connections: number;
  requests_served: number;
}

export async function metrics(client: TestClient): Promise<Metrics> {
  const result = await call(client, 'metrics');
  expect(result).toEqual({
    sessions: expect.any(Number),
    checkpoints: expect.any(Number),
    subscriptions: expect.any(Number),
    connections: expect.any(Number),
    requests_served: expect.any(Number),
  });
  for (const value of Object.values(result)) {
    expect(Number.isInteger(value)).toBe(true);
    expect(value as number).toBeGreaterThanOrEqual(0);
  }
  return result as Metrics;
}

/** A list entry as `list_checkpoints` shows it (no `state`). */
export function listed(id: string, sessionId: string, message: string, sequence: number, createdAt?: string): Frame {
  return { id, session_id: sessionId, message, sequence, created_at: createdAt ?? anyIso() };
}

/** The exact event frame; `checkpointsCompacted` takes `remaining` instead of a checkpoint id. */
export function eventFrame(
  eventType: Exclude<EventType, 'checkpoints_compacted'>,
  checkpointId: string,
  sessionId: string,
): Frame {
  return {
    event_type: eventType,
    data: { checkpoint_id: checkpointId, session_id: sessionId, timestamp: anyIso() },
    ...inStream(`session:${sessionId}`),
  };
}

export function compactedFrame(sessionId: string, remaining: number): Frame {
  return {
    event_type: 'checkpoints_compacted',
    data: { session_id: sessionId, remaining, timestamp: anyIso() },
    ...inStream(`session:${sessionId}`),
  };
}

/** Pushed events received so far, optionally of one session and/or type. */
export function events(client: TestClient, sessionId?: string, type?: EventType): Frame[] {
  return client.frames.filter(
    (f) =>
      isEvent(f) &&
      (sessionId === undefined || f.data?.session_id === sessionId) &&
      (type === undefined || f.event_type === type),
  );
}

/** Waits until `client` has at least `count` events matching `match`; returns all matching. */
export const waitEvents = frameWaiter((c) => c.frames.filter(isEvent), 'event(s)');

/** Waits for the `checkpoint_created` event of `checkpointId` on each client (the "quiet point"). */
export function awaitCreated(clients: TestClient[], checkpointId: string, timeoutMs = 5000): Promise<void> {
  const created = (f: Frame): boolean =>
    f.event_type === 'checkpoint_created' && f.data?.checkpoint_id === checkpointId;
  return quietAfter(clients, (c) => waitEvents(c, created, 1, timeoutMs), 50);
}

/** A checkpoint connection authenticated at the upgrade (token in the query string, or the header). */
export function openCheckpoint(
  t: Endpoints,
  claims: Claims = { sub: 'cp-user' },
  options: TokenOptions = {},
): Promise<TestClient> {
  return openWithToken(t, CHECKPOINTS, claims, options);
}

/** A checkpoint connection without any token (accepted, unauthenticated). */
export function openAnonymous(t: TestApp, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
  return TestClient.open(t.wsUrl(CHECKPOINTS), options);
}

/** A connection the server refuses after the upgrade: the frames it got and how it was closed. */
export function refused(
  url: string,
  options: WebSocket.ClientOptions = {},
  timeoutMs = 5000,
): Promise<{ frames: Frame[]; code: number; reason: string }> {
  return refusedAfter(url, options, timeoutMs);
}

/**
 * Opens a connection and tells whether the gateway kept it: a `metrics` request answered (accepted)
 * or the `init` capacity frame (refused). A refused client is left to close by itself.
 */
export async function tryOpen(url: string, options: WebSocket.ClientOptions = {}): Promise<TestClient | undefined> {
  const client = new TestClient(url, options);
  await client.opened;
  const frame = request('metrics');
  const start = client.frames.length;
  client.send(frame);
  const first = await waitFrame(
    client,
    (f) => f.id === frame.id || f.id === 'init',
    start,
    5000,
    'a metrics response or the init frame',
  ).catch(() => client.frames[0] ?? { id: 'closed' });
  if (first.id === frame.id && first.success === true) return client;
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Owners, storage bounds and TTL (SPEC §5), on each store
// ---------------------------------------------------------------------------------------------

/**
 * A state (a JSON string) whose JSON text is exactly `bytes` bytes of UTF-8, made of `char` (which may
 * take several bytes) and ASCII filler; `bytes` is at least 2 (the quotes).
 */
export function stateOfBytes(bytes: number, char = 'x'): string {
  const width = Buffer.byteLength(char);
  const count = Math.floor((bytes - 2) / width);
  const state = char.repeat(count) + 'x'.repeat(bytes - 2 - count * width);
  if (Buffer.byteLength(JSON.stringify(state)) !== bytes) throw new Error(`no state of ${bytes} bytes from ${char}`);
  return state;
}

/** Where the checkpoint store of an instance lives: memory, the run's Redis, or the run's 3-node Redis Cluster. */
export type StoreKind = 'memory' | 'redis' | 'cluster';
export const STORE_KINDS: StoreKind[] = ['memory', 'redis', 'cluster'];

/** An instance on a store, and the Redis keys under its prefix (none in memory). */
export interface StoreApp {
  t: TestApp;
  kind: StoreKind;
  prefix: string;
  /** Every key under the instance's prefix, on every node. */
  keys(): Promise<string[]>;
  /** Milliseconds to live of `key` (-1: no TTL, -2: no key). */
  pttl(key: string): Promise<number>;
  close(): Promise<void>;
}

/** An instance of the module on `kind` (its own key prefix), once its Redis is up. */
export async function startOnStore(
  kind: StoreKind,
  name: string,
  options: RealtimeModuleOptions = {},
  prefix = clusterPrefix(name),
): Promise<StoreApp> {
  let t: TestApp;
  let redis: Redis | Cluster | undefined;
  if (kind === 'memory') t = await startTestApp(options);
  else if (kind === 'redis') t = await startOnRedis(prefix, name, options);
  else {
    const cluster = await testRedisCluster();
    t = await startTestApp({
      ...options,
      redis: { clusterNodes: cluster.nodes, prefix },
      instanceId: `${prefix}${name}`,
    });
    await eventually(async () => (await t.http('GET', '/ws/health')).body.redis === 'up', 10_000, 'cluster up');
    redis = new Cluster(cluster.startupNodes);
  }
  if (kind === 'redis') redis = new Redis(testRedisUrl());
  return {
    t,
    kind,
    prefix,
    async keys() {
      if (!redis) return [];
      const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
      const found = await Promise.all(nodes.map((node) => node.keys(`${prefix}*`)));
      return found.flat().sort();
    },
    async pttl(key) {
      return redis ? redis.pttl(key) : -2;
    },
    async close() {
      await t.close();
      redis?.disconnect();
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Hostile frames (test/support/hostile-frames.ts), worded for the checkpoint gateway
// ---------------------------------------------------------------------------------------------

/** Every method the gateway has. */
const METHODS = ['authenticate', 'create_session', ...SESSION_METHODS, 'metrics'];

/** What the generator needs to know: the session to aim at, whether the connection is authenticated, and the static token the app takes. */
export interface CheckpointContext {
  session: string;
  checkpointId: string;
  authenticated: boolean;
  staticToken: string;
  /** The time (Unix seconds) the JWTs of `authenticate` cases are issued at: the clock's by default. */
  now?: number;
}

/** What the checkpoint gateway answers a hostile frame with. */
export interface CheckpointErrors {
  /** The response ids the contract allows (`unknown`, the request's id, or either). */
  ids: string[];
  /** The exact error, or a pattern where the contract only says "an error". */
  error: string | RegExp;
}
export type CheckpointCase = HostileCase<CheckpointErrors>;

const INVALID = /^Invalid JSON: /;
/** A pattern matching exactly one of `words`. */
const exactly = (...words: string[]): RegExp =>
  new RegExp(`^(${words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('|')})$`, 's');
const ANY_ERROR = /\S/;
const UNKNOWN = ['unknown'];
/** Refused before it is read as a request: `Invalid JSON: …` for id `unknown`. */
const UNREAD: CheckpointErrors = { ids: UNKNOWN, error: INVALID };

let caseCounter = 0;
const caseId = (): string => `h-${++caseCounter}`;

/** A well-formed request: its error depends on authentication unless it is `authenticate`. */
function wellFormed(
  ctx: CheckpointContext,
  kind: string,
  method: string,
  params: unknown,
  error: string | RegExp,
): CheckpointCase {
  const id = caseId();
  const payload = params === undefined ? j({ id, method }) : j({ id, method, params });
  const expected = method === 'authenticate' || ctx.authenticated ? error : AUTH_REQUIRED;
  return { kind, payload, ids: [id], error: expected };
}

const hostile = hostileFrames<CheckpointErrors>({ minimal: '{"id":"a","method":"metrics"}', word: 'metrics' });

function validFrames(ctx: CheckpointContext): string[] {
  return [
    j({ id: 'v1', method: 'metrics' }),
    j({ id: 'v2', method: 'create_session', params: { name: 'truncated' } }),
    j({ id: 'v3', method: 'checkpoint', params: { session_id: ctx.session, message: 'x', state: { a: [1, 2] } } }),
    j({ id: 'v4', method: 'authenticate', params: { token: ctx.staticToken } }),
    j({ id: 'v5', method: 'compact', params: { session_id: ctx.session, keep: 0 } }),
  ];
}

/** A prototype key at the top level, in `params`, as the token, or deep in the state. */
function hostileKey(rng: Rng, ctx: CheckpointContext): CheckpointCase {
  const { key, spelled } = hostileKeyName(rng);
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
      text = `{"id":"${id}","method":"checkpoint","params":{"session_id":"${ctx.session}","state":${wrap(rng, depth - 3, holder)}}}`;
    }
  }
  // Parsed, then refused: answered under its own id, in seed 003's `Invalid JSON` words.
  return {
    kind: `${key} key (${['top', 'params', 'token', 'state'][where]})`,
    payload: text,
    ids: [id],
    error: INVALID,
  };
}

/** Ids and methods that are not strings (the usual ones but for two of the big numbers). */
const NON_STRINGS = hostile
  .nonStrings('{"id":"a"}', 'a')
  .filter((value) => value !== '-1e400' && value !== '123456789012345678901234567890');

function badId(rng: Rng): CheckpointCase {
  const method = pick(rng, ['metrics', 'create_session', 'authenticate']);
  const text =
    rng() < 0.3
      ? pick(rng, [`{"method":"${method}"}`, `{"Id":"a","method":"${method}"}`, `{"method":"${method}","params":{}}`])
      : `{"id":${pick(rng, NON_STRINGS)},"method":"${method}","params":{}}`;
  return { kind: 'missing or non-string id', payload: text, ...UNREAD };
}

function badMethod(rng: Rng): CheckpointCase {
  const id = caseId();
  const text =
    rng() < 0.3
      ? pick(rng, [`{"id":"${id}"}`, `{"id":"${id}","params":{}}`, `{"id":"${id}","Method":"metrics"}`])
      : `{"id":"${id}","method":${pick(rng, NON_STRINGS)},"params":{}}`;
  // the contract names the error but not the id of this response
  return { kind: 'missing or non-string method', payload: text, ids: [id, 'unknown'], error: INVALID };
}

function unknownMethod(rng: Rng, ctx: CheckpointContext): CheckpointCase {
  const method = hostile.unknownName(rng, {
    also: 'checkpoint',
    server: ['checkpoint_created', 'subscribed', 'init', 'authenticated'],
    real: METHODS,
  });
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

function badParams(rng: Rng, ctx: CheckpointContext): CheckpointCase {
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
function hostileAuth(rng: Rng, ctx: CheckpointContext): CheckpointCase {
  const now = ctx.now ?? Math.floor(Date.now() / 1000);
  // what hsToken would issue at `now`, so the same `ctx.now` makes the same token
  const signed = (claims: Claims, secret?: string): string => hsToken({ iat: now, exp: now + 3600, ...claims }, secret);
  const params = pick<unknown>(rng, [
    { token: true },
    { token: false },
    { token: 1 },
    { token: null },
    { token: [ctx.staticToken] },
    { token: [] },
    { token: {} },
    { token: { toString: ctx.staticToken } },
    { token: { valueOf: ctx.staticToken } },
    { token: '' },
    { token: `${ctx.staticToken}\u0000` },
    { token: `\u0000${ctx.staticToken}` },
    { token: ` ${ctx.staticToken}` },
    { token: `${ctx.staticToken} ` },
    { token: `${ctx.staticToken}\n` },
    { token: ctx.staticToken.toUpperCase() },
    { token: ctx.staticToken.slice(0, -1) },
    { token: ctx.staticToken.replace('t', 'т') },
    { token: ctx.staticToken + ctx.staticToken },
    { token: 'static-token' },
    { token: 'not.a.jwt' },
    { token: signed({ sub: 'x' }, 'another-secret-another-secret-another') },
    { token: signed({ sub: 'x', exp: now - 120 }) },
    { token: noneToken({ sub: 'x', exp: now + 3600 }) },
    { token: signed({ username: 'no-sub' }) },
    { Token: ctx.staticToken },
    { tokens: [ctx.staticToken] },
    {},
    undefined,
  ]);
  return wellFormed(ctx, `authenticate ${j(params)?.slice(0, 40)}`, 'authenticate', params, INVALID_AUTH);
}

function categories(ctx: CheckpointContext): Categories<CheckpointErrors> {
  const withCtx =
    (draw: (rng: Rng, ctx: CheckpointContext) => CheckpointCase) =>
    (rng: Rng): CheckpointCase =>
      draw(rng, ctx);
  return [
    [
      3,
      hostile.invalidJson(
        `{"id":"a","method":"authenticate","params":{"token":'x'}}`,
        UNREAD,
        '{"id":"b","method":"metrics"}',
      ),
    ],
    [3, hostile.truncatedJson(validFrames(ctx), UNREAD)],
    [
      2,
      // frame 1, params 2, state 3: state nested `levels` levels makes the frame 2 + levels deep
      hostile.tooDeep(
        {
          outer: 2,
          deepest: MAX_DEPTH + 8,
          huge: [100, 1_000, 20_000],
          frame: (_rng, state) =>
            `{"id":"${caseId()}","method":"checkpoint","params":{"session_id":"${ctx.session}","state":${state}}}`,
        },
        UNREAD,
      ),
    ],
    [4, withCtx(hostileKey)],
    [1, hostile.notAnObject(UNREAD)],
    [
      1.5,
      hostile.binary(
        [
          () => j({ id: caseId(), method: 'metrics' }),
          () => j({ id: caseId(), method: 'authenticate', params: { token: ctx.staticToken } }),
          () => j({ id: caseId(), method: 'compact', params: { session_id: ctx.session, keep: 0 } }),
        ],
        UNREAD,
      ),
    ],
    [2, badId],
    [2, badMethod],
    [2, withCtx(unknownMethod)],
    [4, withCtx(badParams)],
    [3, withCtx(hostileAuth)],
  ];
}

/** `count` hostile frames aimed at `ctx`; same seed, same frames (but for fresh UUIDs and tokens). */
export function checkpointBarrage(seed: number, count: number, ctx: CheckpointContext): CheckpointCase[] {
  caseCounter = 0; // ids (and so frame sizes) are the same for the same seed
  return hostile.barrage(seed, count, categories(ctx)).filter((c) => c.kind !== 'filler');
}

/** Throws unless `frame` is exactly the `success: false` response `c` allows. */
export function expectCheckpointError(frame: Frame | undefined, c: CheckpointCase, label: string): void {
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
