import { randomUUID } from 'node:crypto';
import type WebSocket from 'ws';
import { TestClient, eventually, sleep, type Frame } from './test-client.js';
import type { TestApp } from './test-app.js';
import { hsToken, type Claims } from './tokens.js';

/**
 * Helpers for the checkpoint RPC gateway's e2e tests (SPEC §5, seed 003): requests with unique ids
 * and their responses, the exact frame shapes, events, connections with and without a token.
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

export const EVENT_TYPES = [
  'checkpoint_created',
  'checkpoint_restored',
  'checkpoint_deleted',
  'checkpoints_compacted',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export { randomUUID };

let counter = 0;
/** A request id no other request of the run uses. */
export const nextId = (prefix = 'rq'): string => `${prefix}-${process.pid}-${++counter}`;

/** A response frame (as opposed to a pushed event). */
export const isResponse = (frame: Frame): boolean => 'success' in frame && !('event_type' in frame);
export const isEvent = (frame: Frame): boolean => 'event_type' in frame;

/**
 * Resolves with the first frame from index `start` of `client.frames` that matches, or rejects
 * after `timeoutMs` (or when the socket closes first). Reads the frames array only, so it leaves
 * `next()`'s cursor alone and never misses a frame that arrived before it was called.
 */
export function waitFrame(
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

/** The request frame; `params` left out when undefined ("params may be omitted"). */
export function request(method: unknown, params?: unknown, id: unknown = nextId()): Frame {
  return params === undefined ? { id, method } : { id, method, params };
}

/** Sends `{id, method, params}` with a unique id and resolves with the response carrying that id. */
export function rpc(client: TestClient, method: string, params?: unknown, timeoutMs = 5000): Promise<Frame> {
  const frame = request(method, params);
  const start = client.frames.length;
  client.send(frame);
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
  requests: Array<{ method: string; params?: unknown }>,
  timeoutMs = 15_000,
): Promise<{ ids: string[]; responses: Frame[] }> {
  const start = client.frames.length;
  const frames = requests.map(({ method, params }) => request(method, params));
  for (const frame of frames) client.send(frame);
  const ids = frames.map((f) => f.id as string);
  const wanted = new Set(ids);
  await eventually(
    () => client.frames.slice(start).filter((f) => isResponse(f) && wanted.has(f.id)).length >= ids.length,
    timeoutMs,
    `${ids.length} responses; last frames ${tail(client)}`,
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
export function reply(client: TestClient, payload: Frame | string | Buffer, timeoutMs = 5000): Promise<Frame> {
  const start = client.frames.length;
  client.send(payload);
  const shown = Buffer.isBuffer(payload) ? '<binary>' : typeof payload === 'string' ? payload : JSON.stringify(payload);
  return waitFrame(client, isResponse, start, timeoutMs, `response to ${shown.slice(0, 100)}`);
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
export async function fail(client: TestClient, method: string, params?: unknown): Promise<Frame> {
  return rpc(client, method, params);
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
    result: { subscribed: true, session_id: sessionId },
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
  return { event_type: eventType, data: { checkpoint_id: checkpointId, session_id: sessionId, timestamp: anyIso() } };
}

export function compactedFrame(sessionId: string, remaining: number): Frame {
  return { event_type: 'checkpoints_compacted', data: { session_id: sessionId, remaining, timestamp: anyIso() } };
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
export async function waitEvents(
  client: TestClient,
  match: (frame: Frame) => boolean,
  count = 1,
  timeoutMs = 5000,
): Promise<Frame[]> {
  await eventually(
    () => client.frames.filter((f) => isEvent(f) && match(f)).length >= count,
    timeoutMs,
    `${count} matching event(s); last frames ${tail(client)}`,
  );
  return client.frames.filter((f) => isEvent(f) && match(f));
}

/** Waits for the `checkpoint_created` event of `checkpointId` on each client (the "quiet point"). */
export async function awaitCreated(clients: TestClient[], checkpointId: string, timeoutMs = 5000): Promise<void> {
  await Promise.all(
    clients.map((c) =>
      waitEvents(
        c,
        (f) => f.event_type === 'checkpoint_created' && f.data?.checkpoint_id === checkpointId,
        1,
        timeoutMs,
      ),
    ),
  );
  await sleep(50);
}

/** A checkpoint connection authenticated at the upgrade (token in the query string, or the header). */
export async function openCheckpoint(
  t: TestApp,
  claims: Claims = { sub: 'cp-user' },
  options: WebSocket.ClientOptions & { viaHeader?: boolean } = {},
): Promise<TestClient> {
  const { viaHeader, ...clientOptions } = options;
  const token = hsToken(claims);
  return viaHeader
    ? TestClient.open(t.wsUrl(CHECKPOINTS), {
        ...clientOptions,
        headers: { ...clientOptions.headers, authorization: `Bearer ${token}` },
      })
    : TestClient.open(t.wsUrl(CHECKPOINTS, token), clientOptions);
}

/** A checkpoint connection without any token (accepted, unauthenticated). */
export function openAnonymous(t: TestApp, options: WebSocket.ClientOptions = {}): Promise<TestClient> {
  return TestClient.open(t.wsUrl(CHECKPOINTS), options);
}

/** A connection the server refuses after the upgrade: the frames it got and how it was closed. */
export async function refused(
  url: string,
  options: WebSocket.ClientOptions = {},
  timeoutMs = 5000,
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
