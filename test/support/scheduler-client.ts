import { hostileFrames, int, j, pick, type Categories, type HostileCase, type Rng } from './hostile-frames.js';
import { TestClient, eventually, frameWaiter, quietAfter, replyTo, waitFrame, type Frame } from './test-client.js';
import { openWithToken, type Endpoints, type TokenOptions } from './test-app.js';
import type { Claims } from './tokens.js';

export { refused, upgradeStatus } from './test-client.js';

/**
 * Helpers for the scheduler gateway's e2e tests (SPEC §4, seed 001): frame shapes, connecting
 * to a path and checking its subscription response, subscribing, counting events, and what the
 * hostile-frame generator (test/support/hostile-frames.ts) needs to know of this gateway.
 */

import { anyPosition, seedFields } from './positions.js';

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
    data: { action, resourceType, resourceId, status: 'success', ...(action === 'subscribed' && anyPosition()) },
  };
}

/** The response a connection gets first, for its path's resource: it also tells the broadcast stream's position. */
export function pathSubscribedFrame(resourceType: string, resourceId: string): Frame {
  const frame = subscribedFrame(resourceType, resourceId);
  return { ...frame, data: { ...frame.data, broadcast: anyPosition() } };
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
  t: Endpoints,
  path: string,
  claims: Claims,
  options: TokenOptions = {},
): Promise<TestClient> {
  const client = await openWithToken(t, path, claims, options);
  const first = await client.next();
  const { resourceType, resourceId } = pathResource(path, claims.sub);
  expect(first).toEqual(pathSubscribedFrame(resourceType, resourceId));
  return client;
}

/** A frame the server sends on its own: an event (see `events`) or an app-level heartbeat ping. */
export function isServerPush(frame: Frame): boolean {
  return (
    EVENT_TYPE.test(String(frame.type)) ||
    (frame.type === 'system_status' && /^system_\d+_[0-9a-z]+$/.test(String(frame.id))) ||
    frame.type === 'ping'
  );
}

/**
 * Sends `frame` and returns the first frame after it that is not a server push (event or
 * heartbeat): the reply. Reads the frames array, so events waited for elsewhere do not get in the way.
 */
export function reply(client: TestClient, frame: Frame | string | Buffer, timeoutMs = 3000): Promise<Frame> {
  return replyTo(client, frame, (f) => !isServerPush(f), timeoutMs);
}

/** `reply` to a frame the contract does not describe, sent so on purpose (not checked against the AsyncAPI document). */
export function replyToInvalid(client: TestClient, frame: Frame | string | Buffer, timeoutMs = 3000): Promise<Frame> {
  const start = client.frames.length;
  client.send(frame, { invalid: true });
  return waitFrame(client, (f) => !isServerPush(f), start, timeoutMs, 'the reply to an invalid frame');
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
export function quiet(clients: TestClient[], extraMs = 100): Promise<void> {
  return quietAfter(
    clients,
    async (client) => {
      const id = `ping-quiet-${++roundTrips}`;
      const expected = id.replace(/^ping/, 'pong');
      client.send({ type: 'ping', id });
      await eventually(
        () => client.frames.some((frame) => frame.type === 'pong' && frame.id === expected),
        5000,
        `pong ${expected}`,
      );
    },
    extraMs,
  );
}

/** Server events (not replies): experiment/task/worker events and broadcast `system_status` (id `system_…`). */
export function events(client: TestClient, type?: string): Frame[] {
  return client.frames
    .filter(
      (frame) =>
        (type === undefined || frame.type === type) &&
        (EVENT_TYPE.test(String(frame.type)) ||
          (frame.type === 'system_status' && /^system_\d+_[0-9a-z]+$/.test(String(frame.id)))),
    )
    .map(seedFields);
}

/** Waits until `client` has at least `count` events matching `match`; returns them all. */
export const waitEvents = frameWaiter(events, 'event(s)');

/** `prefix_<unixSeconds>_<suffix>` with the seconds between `from` and `to` (ms timestamps). */
export function expectEventId(id: unknown, prefix: string, from: number, to: number): void {
  expect(typeof id).toBe('string');
  const escaped = prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp(`^${escaped}_(\\d+)_[0-9a-z]+$`).exec(id as string);
  if (!match) throw new Error(`event id ${String(id)} is not ${prefix}_<unixSeconds>_<suffix>`);
  const seconds = Number(match[1]);
  expect(seconds).toBeGreaterThanOrEqual(Math.floor(from / 1000));
  expect(seconds).toBeLessThanOrEqual(Math.floor(to / 1000));
}

export const idPattern = (prefix: string): unknown =>
  expect.stringMatching(new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_\\d+_[0-9a-z]+$`));

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

/** Seed 001's system statistics, the data of a `system_status` event (a host may add fields: `over`). */
export function sampleStatus<T extends object = Record<never, never>>(over: T = {} as T) {
  return {
    totalConnections: 150,
    activeConnections: 120,
    totalMessages: 15420,
    messagesPerSecond: 25.5,
    averageLatency: '0.05s',
    uptime: '2h 30m 15s',
    ...over,
  };
}

// ---------------------------------------------------------------------------------------------
// Hostile frames (test/support/hostile-frames.ts), worded for the scheduler
// ---------------------------------------------------------------------------------------------

export const INVALID = 'Invalid message format';
export const UNKNOWN = 'Unknown message type';
export const FORBIDDEN = 'Forbidden';

/** The scheduler errors the contract allows for a hostile frame (one, except where two are defensible). */
export interface SchedulerErrors {
  errors: string[];
}
export type SchedulerCase = HostileCase<SchedulerErrors>;

const only = (...errors: string[]): SchedulerErrors => ({ errors });

const hostile = hostileFrames<SchedulerErrors>({ minimal: '{"type":"ping"}', word: 'ping' });

const VALID_FRAMES = [
  j({ type: 'ping', id: 'ping-1' }),
  j({ type: 'system_status' }),
  j({ type: 'system_status', data: { action: 'subscribe', resourceType: 'experiment', resourceId: 'exp-9' } }),
  j({ type: 'system_status', data: { action: 'unsubscribe', resourceType: 'project', resourceId: 'p-1' } }),
  j({ type: 'ping', id: 'ping-2', data: { nested: [1, 2, { deeper: ['é', '🏓', null, true, 1.5e300] }] } }),
];

function unknownType(rng: Rng): SchedulerCase {
  const type = hostile.unknownName(rng, {
    also: 'system_status',
    server: ['error', 'subscribe', 'experiment_created', 'task_updated', 'worker_registered', 'system'],
    real: ['ping', 'pong', 'system_status'],
    long: true,
  });
  return { kind: 'unknown type', payload: j({ type, id: 'x' }), ...only(UNKNOWN) };
}

function badSubscription(rng: Rng): SchedulerCase {
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

function forbidden(rng: Rng): SchedulerCase {
  const data = pick(rng, [
    { action: 'subscribe', resourceType: 'system' },
    { action: 'subscribe', resourceType: 'system', resourceId: 'system' },
    { action: 'subscribe', resourceType: 'worker', resourceId: `w-${int(rng, 1, 99)}` },
    { action: 'subscribe', resourceType: 'user', resourceId: pick(rng, ['bystander', 'root', 'admin', '1']) },
  ]);
  return { kind: `forbidden ${data.resourceType}`, payload: j({ type: 'system_status', data }), errors: [FORBIDDEN] };
}

const CATEGORIES: Categories<SchedulerErrors> = [
  [3, hostile.invalidJson(`{"type":"system_status","data":{"action":'subscribe'}}`, only(INVALID))],
  [3, hostile.truncatedJson(VALID_FRAMES, only(INVALID))],
  [
    2,
    hostile.tooDeep(
      { frame: (rng, data) => `{"type":"${pick(rng, ['ping', 'system_status'])}","data":${data}}` },
      only(INVALID),
    ),
  ],
  [
    4,
    hostile.hostileKey(
      {
        bases: [`"type":"ping"`, `"type":"system_status"`],
        rest: (rng, base) =>
          base.includes('system_status')
            ? pick(rng, [
                `,"data":{"action":"subscribe","resourceType":"system"}`,
                `,"data":{"action":"subscribe","resourceType":"experiment","resourceId":"exp-1"}`,
                '',
              ])
            : '',
        holder: (rng, spelled, value) =>
          pick(rng, [
            `{"action":"subscribe","resourceType":"system","${spelled}":${value}}`,
            `{"${spelled}":${value},"action":"subscribe","resourceType":"worker","resourceId":"w-1"}`,
            `{"action":"subscribe","resourceType":"experiment","resourceId":"exp-1","${spelled}":${value}}`,
            `{"${spelled}":${value}}`,
          ]),
      },
      () => only(INVALID),
    ),
  ],
  [
    3,
    hostile.wrongType({
      missing: [
        '{}',
        '{"id":"ping-1"}',
        '{"data":{"action":"subscribe","resourceType":"system"}}',
        ...hostile.misspelledType,
      ],
      missingBelow: 0.2,
      nonString: (value) => `{"type":${value},"id":"ping-1"}`,
      nonStrings: hostile.nonStrings().filter((value) => value !== 'null'),
      nonStringBelow: 0.45,
      // neither named by the contract: a type that is not a string is a bad frame or an unknown type
      expected: { missing: only(UNKNOWN), nonString: only(INVALID, UNKNOWN) },
      badString: unknownType,
    }),
  ],
  [4, badSubscription],
  [1.5, forbidden],
  [1, hostile.notAnObject(only(INVALID))],
  [
    1.5,
    hostile.binary(
      [
        () => j({ type: 'ping', id: 'ping-bin' }),
        () =>
          j({ type: 'system_status', data: { action: 'subscribe', resourceType: 'experiment', resourceId: 'exp-b' } }),
      ],
      only(INVALID),
    ),
  ],
];

/** `count` hostile frames for a non-admin connection without an `acl` claim; same seed, same frames. */
export function schedulerBarrage(seed: number, count: number): SchedulerCase[] {
  return hostile.barrage(seed, count, CATEGORIES);
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

/** An `experiment_progress` payload of seed 001's shape, with `over` (e.g. a test's own counter) added. */
export function sampleExperimentProgress<T extends object = Record<never, never>>(
  experimentId: string,
  over: T = {} as T,
) {
  return {
    experimentId,
    totalTasks: 10,
    completedTasks: 4,
    failedTasks: 0,
    runningTasks: 2,
    progressPercent: 40,
    lastUpdated: new Date().toISOString(),
    ...over,
  };
}
