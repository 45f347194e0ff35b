import { anyPosition, seedFields } from './positions.js';
import type { Subscription } from 'rxjs';
import { NotifyPublisher, type NotifyInbound } from '../../src/realtime/index.js';
import { hostileFrames, int, j, pick, type Categories, type HostileCase } from './hostile-frames.js';
import { TestClient, frameWaiter, quietAfter, replyTo, waitFrame, type Frame } from './test-client.js';
import { openWithToken, type TestApp, type TokenOptions, type Endpoints } from './test-app.js';
import type { Claims } from './tokens.js';

export { closeAll, refused, upgradeStatus } from './test-client.js';

/**
 * Helpers for the notify gateway's e2e tests (SPEC §6, seed 002): the exact `{type, content, meta,
 * timestamp}` frames, connecting with or without a client id, replies, quiet points, what the host
 * app receives through `NotifyPublisher.messages()`, and what the hostile-frame generator
 * (test/support/hostile-frames.ts) needs to know of this gateway.
 */

export const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const isoTimestamp = (): unknown => expect.stringMatching(ISO_MS);

/** The exact frame the server sends: `meta` defaults to `{}`. */
export function frame(type: string, content: unknown, meta: Record<string, unknown> = {}): Frame {
  return { type, content, meta, timestamp: isoTimestamp() };
}

export const connectedFrame = (clientId: unknown): Frame =>
  frame('connected', {
    client_id: clientId,
    streams:
      typeof clientId === 'string'
        ? { [`client:${clientId}`]: anyPosition(), broadcast: anyPosition() }
        : expect.objectContaining({ broadcast: anyPosition() }),
  });
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
export const ID_IN_USE = { code: 4403, reason: 'Client id in use' };
export const TOO_MANY = { code: 4429, reason: 'Too many connections' };
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
  t: Endpoints,
  clientId?: string,
  claims: Claims = { sub: 'notify-user' },
  options: TokenOptions = {},
): Promise<TestClient> {
  const client = await openWithToken(t, notifyPath(clientId), claims, options);
  try {
    const first = await client.next();
    expect(first).toEqual(connectedFrame(clientId ?? expect.stringMatching(UUID)));
  } catch (error) {
    client.terminate();
    throw error;
  }
  return client;
}

/** A position in a notify client's stream (SPEC §11). */
export interface StreamAt {
  offset: number;
  epoch: string;
}

/** `/ws/<clientId>`, resuming the client's stream after `since` when given (SPEC §11). */
export const resumePath = (clientId: string, since?: StreamAt): string =>
  since ? `/ws/${clientId}?offset=${since.offset}&epoch=${since.epoch}` : `/ws/${clientId}`;

/** Where the client's own stream was when `client` was welcomed (its `streams["client:<id>"]`). */
export function welcomeAt(client: TestClient): StreamAt & { recovered?: boolean } {
  const welcome = client.frames.find((f) => f.type !== 'ping');
  if (welcome?.type !== 'connected') throw new Error(`no welcome: ${JSON.stringify(welcome)}`);
  return welcome.content.streams[`client:${welcome.content.client_id as string}`];
}

/** Opens `/ws/<clientId>` for `claims` resuming after `since`; resolves once welcomed (else rejects with what came instead). */
export async function resumeNotify(
  t: Endpoints,
  clientId: string,
  claims: Claims,
  since?: StreamAt,
): Promise<TestClient> {
  const client = await openWithToken(t, resumePath(clientId, since), claims);
  const first = await client.next((f) => f.type !== 'ping', 5000);
  if (first.type !== 'connected') {
    client.terminate();
    throw new Error(`not welcomed: ${JSON.stringify(first)}`);
  }
  return client;
}

/** Frames the server pushed on its own besides heartbeats: everything but the welcome and `ping`s. */
export function messages(client: TestClient, type?: string): Frame[] {
  return client.frames
    .slice(1)
    .filter((f) => f.type !== 'ping' && f.type !== 'pong' && (type === undefined || f.type === type))
    .map(seedFields);
}

/**
 * Sends `payload` and resolves with the first frame after it that is not a server heartbeat
 * (the reply). Reads the frames array only, so `next()`'s cursor is left alone. A frame sent wrong
 * on purpose is marked `invalid` (it is then not checked against the AsyncAPI document).
 */
export function reply(
  client: TestClient,
  payload: Frame | string | Buffer,
  timeoutMs = 3000,
  { invalid = false }: { invalid?: boolean } = {},
): Promise<Frame> {
  const isReply = (f: Frame): boolean => f.type !== 'ping';
  if (!invalid) return replyTo(client, payload, isReply, timeoutMs);
  const start = client.frames.length;
  client.send(payload, { invalid });
  return waitFrame(client, isReply, start, timeoutMs, 'a reply to an invalid frame');
}

let roundTrips = 0;

/** Keeps `client` alive as seed 002 clients do: every server `ping` is answered with its `pong`. */
export function answerPings(client: TestClient): TestClient {
  client.socket.on('message', (data) => {
    const text = (data as Buffer).toString();
    if (!text.includes('"ping"')) return;
    const ping = JSON.parse(text) as Frame;
    if (ping.type === 'ping') client.send({ type: 'pong', content: 'pong', meta: { ping_id: ping.meta?.ping_id } });
  });
  return client;
}

/** Sends the client's own ping with a fresh `ping_id` and checks the exact pong. */
export async function ping(client: TestClient, timeoutMs = 5000): Promise<void> {
  const pingId = `quiet-${process.pid}-${++roundTrips}`;
  const start = client.frames.length;
  client.send({ type: 'ping', meta: { ping_id: pingId } });
  const pong = await waitFrame(
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
export function quiet(clients: TestClient[], extraMs = 150): Promise<void> {
  return quietAfter(
    clients.filter((c) => c.socket.readyState === c.socket.OPEN),
    (c) => ping(c),
    extraMs,
  );
}

/** Waits until `client` has at least `count` pushed messages matching `match`. */
export const waitMessages = frameWaiter(messages, 'message(s)');

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

// ---------------------------------------------------------------------------------------------
// Hostile frames (test/support/hostile-frames.ts), worded for the notify gateway
// ---------------------------------------------------------------------------------------------

/** The error the notify gateway answers a hostile frame with: exact, or a pattern where the contract only names the subject. */
export interface NotifyErrors {
  error: string | RegExp;
}
export type NotifyCase = HostileCase<NotifyErrors>;

const answer = (error: string | RegExp): NotifyErrors => ({ error });

const hostile = hostileFrames<NotifyErrors>({ minimal: '{"type":"ping"}', word: 'ping' });

const VALID_FRAMES = [
  j({ type: 'ping', meta: { ping_id: 'p-1' } }),
  j({ type: 'hostile', content: 'should never reach the host', meta: { k: 'v' } }),
  j({ type: 'pong', meta: { ping_id: 'p-2' } }),
  j({ type: 'hostile', content: { nested: [1, 2, { deeper: ['é', '🏓', null, true, 1.5e300] }] } }),
];

const CATEGORIES: Categories<NotifyErrors> = [
  [3, hostile.invalidJson(`{"type":"hostile","content":'x'}`, answer(INVALID_JSON))],
  [3, hostile.truncatedJson(VALID_FRAMES, answer(INVALID_JSON))],
  [
    2,
    hostile.tooDeep(
      {
        frame: (rng, nested) => {
          const type = pick(rng, ['ping', 'pong', 'hostile']);
          return `{"type":"${type}","${pick(rng, ['content', 'meta', 'extra'])}":${nested}}`;
        },
      },
      answer(/nest|deep|depth/i),
    ),
  ],
  [
    4,
    hostile.hostileKey(
      {
        bases: [`"type":"ping"`, `"type":"hostile"`, `"type":"pong"`],
        holder: (rng, spelled, value) =>
          pick(rng, [
            `{"ping_id":"p-1","${spelled}":${value}}`,
            `{"${spelled}":${value},"level":"info"}`,
            `{"${spelled}":${value}}`,
          ]),
        field: (rng) => pick(rng, ['content', 'meta']),
      },
      (key) => answer(new RegExp(key)),
    ),
  ],
  [
    3,
    hostile.wrongType({
      missing: [
        '{}',
        '{"content":"x"}',
        '{"meta":{"ping_id":"p-1"}}',
        ...hostile.misspelledType,
        '{"type ":"hostile"}',
      ],
      missingBelow: 0.3,
      nonString: (value) => `{"type":${value},"content":"x"}`,
      nonStrings: ['null', ...hostile.nonStrings().filter((value) => value !== 'null')],
      nonStringBelow: 0.6,
      expected: { missing: answer(MISSING_TYPE), nonString: answer(MISSING_TYPE) },
      badString: (rng) => {
        const type = rng() < 0.3 ? '' : 'x'.repeat(int(rng, 65, 3000));
        return {
          kind: `type of ${type.length} characters`,
          payload: j({ type, content: 'x' }),
          ...answer(BAD_TYPE_LENGTH),
        };
      },
    }),
  ],
  [
    2,
    (rng) => {
      const meta = pick(rng, ['5', '"meta"', 'true', 'false', '[]', '[{"level":"info"}]', '0', '""', '1e400']);
      const type = pick(rng, ['hostile', 'logs', 'task_success', 'custom.event']);
      return { kind: `meta ${meta}`, payload: `{"type":"${type}","content":"x","meta":${meta}}`, ...answer(BAD_META) };
    },
  ],
  [1, hostile.notAnObject(answer(NOT_AN_OBJECT))],
  [
    1.5,
    hostile.binary(
      [() => j({ type: 'ping', meta: { ping_id: 'p-bin' } }), () => j({ type: 'hostile', content: 'binary' })],
      answer(BINARY),
    ),
  ],
];

/** `count` hostile frames; same seed, same frames. Each gets exactly one notify error frame. */
export function notifyBarrage(seed: number, count: number): NotifyCase[] {
  return hostile.barrage(seed, count, CATEGORIES);
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
