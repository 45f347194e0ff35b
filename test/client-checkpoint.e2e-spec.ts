import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import {
  CheckpointClient,
  CheckpointRpcError,
  CheckpointTimeoutError,
  type CheckpointClientOptions,
  type CheckpointEvents,
  type CheckpointMethod,
  type CheckpointResults,
} from '../client/src/checkpoint-client.js';
import type { WebSocketConstructor } from '../client/src/core/realtime-client.js';
import type { CheckpointSessionEvent } from '../client/src/frames.generated.js';
import { channelOf, checkFrame } from './support/frame-contract.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';
import { eventually, sleep, type Frame } from './support/test-client.js';
import { TEST_SECRET, hsToken } from './support/tokens.js';

/**
 * Issue 25: the typed client of the checkpoint RPC (`CheckpointClient`, client/src/checkpoint-client.ts)
 * against the real gateway (SPEC §5, docs/protocol.md "Checkpoint RPC" and "Positions and resume"):
 * every method's round trip, the server's errors, per-call timeouts, the offline queue (order, bound),
 * subscriptions resumed after a reconnect with every missed event once and in order, the static token
 * sent again after a reconnect, a token refresh on a live connection, and the heartbeat's `metrics`
 * ping whose answer settles no call.
 *
 * A reconnect is caused by the server (`DELETE /ws/clients/:id`, close 4000). How long the client
 * stays away is decided by the test, not by a timer: `getToken` (asked before every connect) waits on
 * a gate the test opens. Every frame the client sends or receives is recorded and checked against the
 * AsyncAPI document.
 */

const STATIC = 'client-checkpoint-static-token-0123456789';
const NOTICE_SEC = 2;
/** History per stream: enough for the resume test's gap, not for the one that must fail to recover. */
const HISTORY = 8;
const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CONNECTION_LOST = 'Connection lost before the answer';

let t: TestApp;
let seq = 0;
const unique = (prefix: string): string => `${prefix}-${process.pid}-${++seq}`;
const nowSec = (): number => Math.floor(Date.now() / 1000);

/** Frames one client sent and received (each checked against the contract), and a hook on every send. */
interface Wire {
  sent: Frame[];
  received: Frame[];
  sockets: WebSocket[];
  onSend?: (frame: Frame) => void;
}

/** `ws`, recording the client's frames on `wire`. */
function recordingSocket(wire: Wire): WebSocketConstructor {
  class Recording extends WebSocket {
    constructor(url: string, protocols?: string | string[]) {
      super(url, protocols);
      wire.sockets.push(this);
      const channel = channelOf(url);
      // Registered before the client's own listener: a frame is recorded before the client reads it.
      this.on('message', (data) => {
        const frame = JSON.parse((data as Buffer).toString()) as Frame;
        checkFrame(channel, 'send', frame);
        wire.received.push(frame);
      });
      const send = this.send.bind(this);
      this.send = ((data: string) => {
        const frame = JSON.parse(data) as Frame;
        checkFrame(channel, 'receive', frame);
        wire.sent.push(frame);
        send(data);
        wire.onSend?.(frame);
      }) as WebSocket['send'];
    }
  }
  return Recording as unknown as WebSocketConstructor;
}

/** Holds the client's next connect (its `getToken`) while closed. */
class Gate {
  private held: Promise<void> = Promise.resolve();
  private release = (): void => undefined;

  close(): void {
    this.held = new Promise((resolve) => (this.release = resolve));
  }

  open(): void {
    this.release();
  }

  pass(): Promise<void> {
    return this.held;
  }
}

interface Harness {
  client: CheckpointClient;
  wire: Wire;
  gate: Gate;
  events: CheckpointSessionEvent[];
  closes: Array<CheckpointEvents['close']>;
  errors: Error[];
}

const opened: CheckpointClient[] = [];

/** A client of `sub` (its tokens from `token`, through a gate) recording its frames and events. */
function connect(
  sub: string | undefined,
  options: Partial<CheckpointClientOptions> & { token?: () => string } = {},
): Harness {
  const wire: Wire = { sent: [], received: [], sockets: [] };
  const gate = new Gate();
  const { token = () => hsToken({ sub }), ...rest } = options;
  const client = new CheckpointClient({
    url: t.baseUrl,
    WebSocket: recordingSocket(wire),
    getToken: sub === undefined ? undefined : () => gate.pass().then(token),
    reconnect: { minDelayMs: 20, maxDelayMs: 200 },
    ...rest,
  });
  opened.push(client);
  const harness: Harness = { client, wire, gate, events: [], closes: [], errors: [] };
  client.on('event', (event) => harness.events.push(event));
  client.on('close', (close) => harness.closes.push(close));
  client.on('error', ({ error }) => harness.errors.push(error));
  return harness;
}

/** The next `event` of `client` that `match` takes (rejects after `timeoutMs`). */
function next<K extends keyof CheckpointEvents>(
  client: CheckpointClient,
  event: K,
  match: (payload: CheckpointEvents[K]) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<CheckpointEvents[K]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${String(event)} within ${timeoutMs} ms`));
    }, timeoutMs);
    const off = client.on(event, (payload) => {
      if (!match(payload)) return;
      clearTimeout(timer);
      off();
      resolve(payload);
    });
  });
}

/** The admin API's id of the one checkpoint connection of `user` (once a dropped one is gone). */
async function connectionOf(user: string): Promise<string> {
  let clients: Array<{ id: string }> = [];
  await eventually(
    async () => {
      const { body } = await t.http('GET', `/ws/clients?gateway=checkpoint&user=${encodeURIComponent(user)}`, {
        token: ADMIN_TOKEN,
      });
      clients = body.clients;
      return clients.length === 1;
    },
    5000,
    () => `one connection of ${user} (${clients.length})`,
  );
  return clients[0].id;
}

/** Waits until `harness` got an event that `match` takes. */
async function eventSeen(harness: Harness, match: (event: CheckpointSessionEvent) => boolean): Promise<void> {
  await eventually(() => harness.events.some(match), 10_000, 'the event');
}

/**
 * Drops connection `id` server-side (close 4000) with the client's next connect held at its gate, and
 * waits until the client knows.
 */
async function cutOff(harness: Harness, id: string): Promise<void> {
  harness.gate.close();
  const closed = next(harness.client, 'close');
  expect(await t.http('DELETE', `/ws/clients/${id}`, { token: ADMIN_TOKEN })).toEqual({
    status: 200,
    body: { disconnected: true, id },
  });
  expect(await closed).toMatchObject({ code: 4000, willReconnect: true });
  expect(harness.client.connectionState).toBe('reconnecting');
}

/** Lets the client back in and waits for its `open`. */
async function letBackIn(harness: Harness): Promise<void> {
  const back = next(harness.client, 'open');
  harness.gate.open();
  expect(await back).toEqual({ reconnected: true });
}

/** The event of `type` for checkpoint `id`, as `event` delivers it: with its position in the session's stream. */
function eventOf(type: CheckpointSessionEvent['event_type'], sessionId: string, id?: string, remaining?: number) {
  return {
    event_type: type,
    data: {
      session_id: sessionId,
      ...(id === undefined ? {} : { checkpoint_id: id }),
      ...(remaining === undefined ? {} : { remaining }),
      timestamp: expect.stringMatching(ISO),
    },
    stream: `session:${sessionId}`,
    offset: expect.any(Number),
    epoch: expect.any(String),
  };
}

/** Offsets one apart in one epoch: no event twice, none missing, in order. */
function expectContiguous(events: CheckpointSessionEvent[]): void {
  const first = events[0].offset!;
  expect(events.map((e) => e.offset)).toEqual(events.map((_, i) => first + i));
  expect(new Set(events.map((e) => e.epoch)).size).toBe(1);
}

/** Quiet point of an exactly-once check: a round trip on `client`, then a little more. */
async function quiet(client: CheckpointClient): Promise<void> {
  await client.metrics();
  await sleep(300);
}

beforeAll(async () => {
  t = await startTestApp({
    auth: { secret: TEST_SECRET, clockToleranceSec: 0, tokenExpiryNoticeSec: NOTICE_SEC },
    checkpoint: { authToken: STATIC },
    historySize: HISTORY,
  });
});

afterEach(() => {
  for (const client of opened.splice(0)) client.disconnect();
});

afterAll(async () => {
  await t?.close();
});

describe('CheckpointClient (issue 25)', () => {
  it('calls every method of the contract and resolves with its typed result', async () => {
    const { client, errors } = connect(unique('methods'));
    const sessionId: string = await client.createSession('planner');
    expect(sessionId).toMatch(UUID);
    expect(await client.createSession()).toMatch(UUID);

    const first: string = await client.checkpoint(sessionId, 'step 1', { plan: ['a', 'b'] });
    const second = await client.checkpoint(sessionId, 'step 2');
    expect([first, second]).toEqual([expect.stringMatching(UUID), expect.stringMatching(UUID)]);

    const listed: CheckpointResults['list_checkpoints'] = await client.listCheckpoints(sessionId);
    const entry = (id: string, message: string, sequence: number) => ({
      id,
      session_id: sessionId,
      message,
      sequence,
      created_at: expect.stringMatching(ISO),
    });
    expect(listed).toEqual([entry(first, 'step 1', 1), entry(second, 'step 2', 2)]);

    const restored: CheckpointResults['restore'] = await client.restore(sessionId, first);
    expect(restored).toEqual({ ...entry(first, 'step 1', 1), state: { plan: ['a', 'b'] } });
    expect((await client.restore(sessionId, second)).state).toBeNull();

    const deleted: { deleted: true } = await client.deleteCheckpoint(sessionId, second);
    expect(deleted).toEqual({ deleted: true });
    await client.checkpoint(sessionId, 'step 3');
    const compacted: { remaining: number } = await client.compact(sessionId, 1);
    expect(compacted).toEqual({ remaining: 1 });

    const subscribed: CheckpointResults['subscribe'] = await client.subscribe(sessionId);
    expect(subscribed).toEqual({
      subscribed: true,
      session_id: sessionId,
      offset: expect.any(Number),
      epoch: expect.any(String),
    });
    expect(await client.unsubscribe(sessionId)).toEqual({ unsubscribed: true, session_id: sessionId });

    const metrics: CheckpointResults['metrics'] = await client.metrics();
    expect(metrics).toEqual({
      sessions: expect.any(Number),
      checkpoints: expect.any(Number),
      subscriptions: expect.any(Number),
      connections: expect.any(Number),
      requests_served: expect.any(Number),
    });
    expect(metrics.sessions).toBeGreaterThanOrEqual(2);
    expect(metrics.connections).toBeGreaterThanOrEqual(1);

    // The generic call, typed by method.
    expect(await client.call('list_checkpoints', { session_id: sessionId })).toEqual([
      expect.objectContaining({ message: 'step 3', sequence: 3 }),
    ]);
    // At compile time: metrics takes no params, compact must have them.
    type Args<M extends CheckpointMethod> = Parameters<typeof client.call<M>>;
    const none: Args<'metrics'> = ['metrics'];
    // @ts-expect-error: compact takes params
    const missing: Args<'compact'> = ['compact'];
    expect([none, missing]).toEqual([['metrics'], ['compact']]);
    expect(errors).toEqual([]);
  });

  it("rejects with CheckpointRpcError in the server's words", async () => {
    const { client } = connect(unique('errors'));
    const missing = client.restore(randomUUID(), randomUUID());
    await expect(missing).rejects.toBeInstanceOf(CheckpointRpcError);
    await expect(missing).rejects.toThrow(/^Session not found$/);
    const sessionId = await client.createSession();
    await expect(client.deleteCheckpoint(sessionId, randomUUID())).rejects.toEqual(
      new CheckpointRpcError('Checkpoint not found'),
    );
    await expect(client.subscribe(randomUUID())).rejects.toThrow('Session not found');
    // The connection goes on.
    expect(await client.listCheckpoints(sessionId)).toEqual([]);
  });

  it("reports a credential refused at the door in the server's words, and backs off", async () => {
    const harness = connect(unique('refused'), { token: () => 'not-a-jwt', random: () => 1 });
    await eventually(() => harness.closes.length >= 2, 10_000, 'two refusals');
    expect(harness.errors[0]).toEqual(new CheckpointRpcError('Invalid or expired token'));
    expect(harness.errors[0]).toBeInstanceOf(CheckpointRpcError);
    expect(harness.closes[0]).toMatchObject({ code: 4401, willReconnect: true });
    // The longest delay of each attempt: the refusal does not start the backoff over.
    expect(harness.closes.slice(0, 2).map((close) => close.delayMs)).toEqual([40, 80]);
  });

  it('rejects a call with CheckpointTimeoutError once its timeout runs out, counted from the call', async () => {
    const user = unique('timeout');
    const harness = connect(user);
    const { client } = harness;
    const sessionId = await client.createSession();
    await cutOff(harness, await connectionOf(user));

    const patient = client.listCheckpoints(sessionId);
    const started = Date.now();
    const hasty = client.call('checkpoint', { session_id: sessionId, message: 'too late' }, { timeoutMs: 150 });
    await expect(hasty).rejects.toBeInstanceOf(CheckpointTimeoutError);
    await expect(hasty).rejects.toThrow('No answer to checkpoint within 150 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    // Rejected while the connection was still down: the timeout did not wait for it, and the call left the queue.
    expect(client.connectionState).toBe('reconnecting');
    expect(client.queued).toBe(1);

    await letBackIn(harness);
    // The timed-out call never reached the server: its caller was told it failed.
    expect(await patient).toEqual([]);
    expect(await client.listCheckpoints(sessionId)).toEqual([]);
    await quiet(client);
    expect(harness.errors).toEqual([]);
  });

  it('sends the calls made while disconnected in order after the resubscriptions', async () => {
    const user = unique('queue');
    const harness = connect(user);
    const { client, wire } = harness;
    const sessionId = await client.createSession();
    await client.subscribe(sessionId);
    const before = await client.checkpoint(sessionId, 'before');
    await eventSeen(harness, (event) => event.data.checkpoint_id === before);
    await cutOff(harness, await connectionOf(user));

    const q1 = client.checkpoint(sessionId, 'q1');
    const q2 = client.checkpoint(sessionId, 'q2');
    const q3 = client.checkpoint(sessionId, 'q3');
    const listed = client.listCheckpoints(sessionId);
    expect(client.queued).toBe(4);
    const sentBefore = wire.sent.length;
    await letBackIn(harness);

    const ids = await Promise.all([q1, q2, q3]);
    expect((await listed).map(({ id, message, sequence }) => ({ id, message, sequence }))).toEqual([
      { id: before, message: 'before', sequence: 1 },
      { id: ids[0], message: 'q1', sequence: 2 },
      { id: ids[1], message: 'q2', sequence: 3 },
      { id: ids[2], message: 'q3', sequence: 4 },
    ]);
    const resumed = wire.sent.slice(sentBefore);
    expect(resumed.map((frame) => frame.method)).toEqual([
      'subscribe',
      'checkpoint',
      'checkpoint',
      'checkpoint',
      'list_checkpoints',
    ]);
    expect(resumed[0].params).toEqual({ session_id: sessionId, since: { offset: 1, epoch: expect.any(String) } });
    expect(client.queued).toBe(0);

    await quiet(client);
    expect(harness.events).toEqual([before, ...ids].map((id) => eventOf('checkpoint_created', sessionId, id)));
    expectContiguous(harness.events);
    // Every request had an id of its own.
    expect(new Set(wire.sent.map((frame) => frame.id)).size).toBe(wire.sent.length);
  });

  it("bounds the offline queue: the oldest calls fail with the queue's error, the newest go through", async () => {
    const user = unique('bound');
    const harness = connect(user, { offlineQueueLimit: 3 });
    const { client } = harness;
    const sessionId = await client.createSession();
    await cutOff(harness, await connectionOf(user));

    const calls = ['m1', 'm2', 'm3', 'm4', 'm5'].map((message) => client.checkpoint(sessionId, message));
    const settled = Promise.allSettled(calls);
    expect(client.queued).toBe(3);
    await letBackIn(harness);
    const outcomes = await settled;
    expect(outcomes.map((outcome) => outcome.status)).toEqual([
      'rejected',
      'rejected',
      'fulfilled',
      'fulfilled',
      'fulfilled',
    ]);
    for (const outcome of outcomes.slice(0, 2)) {
      expect((outcome as PromiseRejectedResult).reason).toEqual(
        new Error('Offline queue full (3): the oldest message was dropped'),
      );
    }
    // The pushed-out calls never reached the server.
    expect((await client.listCheckpoints(sessionId)).map((c) => c.message)).toEqual(['m3', 'm4', 'm5']);
  });

  it('resumes a subscription after a reconnect: every event made meanwhile arrives once, in order', async () => {
    const user = unique('resume');
    const watcher = connect(user);
    const { client } = watcher;
    const sessionId = await watcher.client.createSession('watched');
    await client.subscribe(sessionId);
    const watcherId = await connectionOf(user);
    const writer = connect(user);
    const stream = `session:${sessionId}`;

    const c1 = await writer.client.checkpoint(sessionId, 'one');
    await eventSeen(watcher, (event) => event.data.checkpoint_id === c1);
    await cutOff(watcher, watcherId);

    // Made while the watcher is away (its reconnect is held at the gate).
    const c2 = await writer.client.checkpoint(sessionId, 'two');
    const c3 = await writer.client.checkpoint(sessionId, 'three');
    await writer.client.restore(sessionId, c2);
    await writer.client.deleteCheckpoint(sessionId, c3);
    await writer.client.compact(sessionId, 1);

    const recovery = next(client, 'recovery');
    await letBackIn(watcher);
    expect(await recovery).toEqual({ stream, recovered: true });
    const c4 = await writer.client.checkpoint(sessionId, 'four');
    await eventSeen(watcher, (event) => event.data.checkpoint_id === c4);
    await quiet(client);

    expect(watcher.events).toEqual([
      eventOf('checkpoint_created', sessionId, c1),
      eventOf('checkpoint_created', sessionId, c2),
      eventOf('checkpoint_created', sessionId, c3),
      eventOf('checkpoint_restored', sessionId, c2),
      eventOf('checkpoint_deleted', sessionId, c3),
      eventOf('checkpoints_compacted', sessionId, undefined, 1),
      eventOf('checkpoint_created', sessionId, c4),
    ]);
    expectContiguous(watcher.events);
    expect(client.positions.get(stream)).toEqual({ offset: watcher.events[6].offset, epoch: watcher.events[6].epoch });
    expect([...watcher.errors, ...writer.errors]).toEqual([]);
  });

  it('says recovered: false when the missed events are no longer all kept, and goes on from there', async () => {
    const user = unique('gap');
    const watcher = connect(user);
    const { client } = watcher;
    const sessionId = await client.createSession();
    await client.subscribe(sessionId);
    const watcherId = await connectionOf(user);
    const writer = connect(user);
    const seen = await writer.client.checkpoint(sessionId, 'seen');
    await eventSeen(watcher, (event) => event.data.checkpoint_id === seen);
    await cutOff(watcher, watcherId);

    for (let i = 0; i < HISTORY + 2; i++) await writer.client.checkpoint(sessionId, `missed ${i}`);
    const recovery = next(client, 'recovery');
    await letBackIn(watcher);
    expect(await recovery).toEqual({ stream: `session:${sessionId}`, recovered: false });
    const live = await writer.client.checkpoint(sessionId, 'live');
    await eventSeen(watcher, (event) => event.data.checkpoint_id === live);
    await quiet(client);

    // The seen one, then the live one: nothing of the gap (the app reloads what it missed).
    expect(watcher.events.map((event) => event.data.checkpoint_id)).toEqual([seen, live]);
    expect(watcher.events[1]).toEqual(eventOf('checkpoint_created', sessionId, live));
    expect(watcher.events[1].offset).toBe(watcher.events[0].offset! + HISTORY + 3);
  });

  it('fails the calls in flight when the connection is lost, and resumes only the sessions still subscribed', async () => {
    const harness = connect(unique('lost'));
    const { client, wire } = harness;
    const kept = await client.createSession();
    const dropped = await client.createSession();
    await client.subscribe(kept);
    await client.subscribe(dropped);
    await client.unsubscribe(dropped);

    // The network dies right after a call is written: its answer can never come.
    wire.onSend = (frame) => {
      if (frame.method !== 'list_checkpoints') return;
      wire.onSend = undefined;
      harness.gate.close();
      wire.sockets.at(-1)!.terminate();
    };
    const inFlight = client.listCheckpoints(kept);
    await expect(inFlight).rejects.toThrow(CONNECTION_LOST);
    expect(client.connectionState).toBe('reconnecting');
    expect(harness.closes).toEqual([expect.objectContaining({ code: 1006, willReconnect: true })]);

    const sentBefore = wire.sent.length;
    await letBackIn(harness);
    expect(await client.listCheckpoints(kept)).toEqual([]);
    expect(wire.sent.slice(sentBefore).filter((frame) => frame.method === 'subscribe')).toEqual([
      { id: expect.any(String), method: 'subscribe', params: { session_id: kept, since: expect.any(Object) } },
    ]);
  });

  it('sends the static token of authenticate() again first after every reconnect', async () => {
    const harness = connect(undefined);
    const { client, wire } = harness;
    expect(await client.authenticate(STATIC)).toEqual({ authenticated: true });
    const sessionId = await client.createSession();
    await client.subscribe(sessionId);

    for (let round = 0; round < 2; round++) {
      const id = await connectionOf('checkpoint:static-token');
      const back = next(client, 'open');
      const sentBefore = wire.sent.length;
      await t.http('DELETE', `/ws/clients/${id}`, { token: ADMIN_TOKEN });
      expect(await back).toEqual({ reconnected: true });
      const created = await client.checkpoint(sessionId, `after reconnect ${round}`);
      await eventSeen(harness, (event) => event.data.checkpoint_id === created);
      expect(wire.sent.slice(sentBefore, sentBefore + 3)).toEqual([
        { id: expect.any(String), method: 'authenticate', params: { token: STATIC } },
        { id: expect.any(String), method: 'subscribe', params: { session_id: sessionId, since: expect.any(Object) } },
        {
          id: expect.any(String),
          method: 'checkpoint',
          params: { session_id: sessionId, message: `after reconnect ${round}` },
        },
      ]);
    }
    expect(harness.errors).toEqual([]);
  });

  it('refreshes a token about to expire on the live connection, which outlives the first token', async () => {
    const user = unique('refresh');
    const exp = nowSec() + 4;
    const tokens = [hsToken({ sub: user, exp }), hsToken({ sub: user, exp: nowSec() + 600 })];
    let asked = 0;
    const harness = connect(user, { token: () => tokens[Math.min(asked++, 1)] });
    const { client, wire } = harness;
    const sessionId = await client.createSession();
    await client.subscribe(sessionId);

    // The notice, then the refresh (`authenticate` with the second token), answered under its own id.
    await eventually(() => wire.sent.some((frame) => frame.method === 'authenticate'), 10_000, 'a refresh');
    const refresh = wire.sent.find((frame) => frame.method === 'authenticate')!;
    expect(refresh).toEqual({ id: expect.any(String), method: 'authenticate', params: { token: tokens[1] } });
    const notice = wire.received.findIndex((frame) => frame.event_type === 'token_expiring');
    expect(notice).toBeGreaterThanOrEqual(0);
    await eventually(() => wire.received.some((frame) => frame.id === refresh.id), 5000, 'the refresh answer');
    expect(wire.received.find((frame) => frame.id === refresh.id)).toEqual({
      id: refresh.id,
      success: true,
      result: { authenticated: true },
    });

    // Past the first token's expiry: the same connection still answers, and its subscription lives.
    while (Date.now() <= exp * 1000 + 500) await sleep(100);
    const created = await client.checkpoint(sessionId, 'after expiry');
    await eventSeen(harness, (event) => event.data.checkpoint_id === created);
    expect(harness.closes).toEqual([]);
    expect(asked).toBe(2);
    expect(wire.sent.filter((frame) => frame.method === 'authenticate')).toHaveLength(1);
    expect(harness.errors).toEqual([]);
  });

  it('pings with a metrics request whose answer settles no call, and starts the backoff over once answered', async () => {
    const user = unique('ping');
    const harness = connect(user, {
      heartbeat: { intervalMs: 150, timeoutMs: 5000 },
      reconnect: { minDelayMs: 40, maxDelayMs: 5000 },
      // The longest delay of each attempt: without a reset, 40, 80, 160 ms.
      random: () => 1,
    });
    const { client, wire } = harness;

    // A call written right behind a ping: the ping's answer comes first and must not settle it.
    const racing = new Promise<string>((resolve, reject) => {
      wire.onSend = (frame) => {
        if (frame.method !== 'metrics') return;
        wire.onSend = undefined;
        client.createSession('behind a ping').then(resolve, reject);
      };
    });
    const sessionId = await racing;
    expect(sessionId).toMatch(UUID);
    const pings = (): Frame[] => wire.sent.filter((frame) => frame.method === 'metrics');
    await eventually(() => pings().length >= 3, 10_000, 'three pings');
    const answered = (): number => pings().filter((ping) => wire.received.some((f) => f.id === ping.id)).length;
    expect(answered()).toBeGreaterThanOrEqual(2);

    // An idle client: after each reconnect its resume ping's answer resets the backoff.
    for (let round = 0; round < 3; round++) {
      const answeredBefore = answered();
      await cutOff(harness, await connectionOf(user));
      await letBackIn(harness);
      await eventually(() => answered() > answeredBefore, 5000, 'an answered ping');
    }
    expect(harness.closes.map((close) => close.delayMs)).toEqual([80, 80, 80]);
    expect(new Set(wire.sent.map((frame) => frame.id)).size).toBe(wire.sent.length);
    expect(harness.errors).toEqual([]);
  });
});
