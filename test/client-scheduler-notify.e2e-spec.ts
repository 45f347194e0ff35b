import { Test } from '@nestjs/testing';
import WebSocket from 'ws';
import { NotifyClient } from '../client/src/notify-client.js';
import { SchedulerClient, type SchedulerPath } from '../client/src/scheduler-client.js';
import type { WebSocketConstructor } from '../client/src/core/realtime-client.js';
import { RealtimeModule, RealtimeWsAdapter, type RealtimeModuleOptions } from '../src/realtime/index.js';
import { channelOf, checkFrame } from './support/frame-contract.js';
import { freePort } from './support/redis.js';
import { sampleExperimentProgress } from './support/scheduler-client.js';
import { ADMIN_TOKEN, startTestApp, wrap, type TestApp } from './support/test-app.js';
import { eventually, sleep } from './support/test-client.js';
import { hsToken, TEST_SECRET } from './support/tokens.js';

/**
 * Issue 25's `SchedulerClient` and `NotifyClient` against the real server (in process, history on
 * unless said otherwise). The client is cut off from the server side (`DELETE /ws/clients/:id`,
 * close 4000) and held away (its `getToken()` waits) while events are published; once let back, it
 * gets every missed event exactly once, each stream in order, then the live ones. Refused
 * subscriptions are dropped, the servers' app-level pings answered, and a replaced notify client
 * (4409) stays closed. Every frame both ways is checked against the app's AsyncAPI document.
 */

type Frame = Record<string, any>;

/** Long enough for every frame in flight to have arrived: exact counts are checked after it. */
const QUIET_MS = 300;
/** Fast reconnects: the client is held away by its gate, not by its backoff. */
const FAST = { minDelayMs: 20, maxDelayMs: 200 };

/** Holds the client's next connect while closed: `getToken()` waits on it. */
class Gate {
  private held?: Promise<void>;
  private release?: () => void;

  close(): void {
    this.held = new Promise((resolve) => (this.release = resolve));
  }

  open(): void {
    this.release?.();
    this.held = undefined;
  }

  passed(): Promise<void> | undefined {
    return this.held;
  }
}

/** What a client told and sent: its events by name, the frames both ways, the URLs it opened. */
interface Observed<C> {
  client: C;
  got: Record<string, any[]>;
  sent: Frame[];
  received: Frame[];
  urls: string[];
  gate: Gate;
}

const clients: Array<{ disconnect(): void }> = [];
const gates: Gate[] = [];

afterEach(() => {
  for (const client of clients.splice(0)) client.disconnect();
  for (const gate of gates.splice(0)) gate.open();
});

/** `ws`, with every frame recorded and checked against the contract, and every URL opened. */
function recordingWebSocket(log: Pick<Observed<unknown>, 'sent' | 'received' | 'urls'>): WebSocketConstructor {
  return function (url: string, protocols?: string | string[]) {
    const socket = new WebSocket(url, protocols);
    const channel = channelOf(url);
    log.urls.push(url);
    const send = socket.send.bind(socket);
    socket.send = ((data: string) => {
      const frame = JSON.parse(data);
      checkFrame(channel, 'receive', frame);
      log.sent.push(frame);
      send(data);
    }) as typeof socket.send;
    socket.on('message', (data) => {
      const frame = JSON.parse((data as Buffer).toString());
      checkFrame(channel, 'send', frame);
      log.received.push(frame);
    });
    return socket;
  } as unknown as WebSocketConstructor;
}

function observe<C extends { on(event: any, listener: (payload: any) => void): () => void; disconnect(): void }>(
  create: (options: { getToken: () => Promise<string>; WebSocket: WebSocketConstructor }) => C,
  sub: string | (() => string),
  names: string[],
): Observed<C> {
  const gate = new Gate();
  const log = { sent: [] as Frame[], received: [] as Frame[], urls: [] as string[] };
  const getToken = async (): Promise<string> => {
    await gate.passed();
    return typeof sub === 'string' ? hsToken({ sub }) : sub();
  };
  const client = create({ getToken, WebSocket: recordingWebSocket(log) });
  const got: Record<string, any[]> = {};
  const all = ['open', 'close', 'recovery', 'error', ...names];
  for (const name of all) {
    got[name] = [];
    client.on(name, (payload) => got[name].push(payload));
  }
  clients.push(client);
  gates.push(gate);
  return { client, got, gate, ...log };
}

/** Closes the user's only connection of `gateway` from the server side (4000), and waits for the client to see it. */
async function cutOff(t: TestApp, gateway: string, user: string, seen: Observed<unknown>): Promise<void> {
  const closes = seen.got.close.length;
  const list = await t.http('GET', `/ws/clients?gateway=${gateway}&user=${encodeURIComponent(user)}`, {
    token: ADMIN_TOKEN,
  });
  expect(list.body.clients).toHaveLength(1);
  const cut = await t.http('DELETE', `/ws/clients/${encodeURIComponent(list.body.clients[0].id)}`, {
    token: ADMIN_TOKEN,
  });
  expect(cut.status).toBe(200);
  await eventually(() => seen.got.close.length > closes, 5000, 'the close');
  expect(seen.got.close[closes]).toMatchObject({ code: 4000, willReconnect: true });
}

const count = (list: string[], item: string): number => list.filter((x) => x === item).length;

describe('SchedulerClient', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  const open = (sub: string, path: SchedulerPath) =>
    observe((options) => new SchedulerClient({ url: t.baseUrl, path, reconnect: FAST, ...options }), sub, [
      'welcome',
      'event',
      'refused',
      'serverError',
    ]);

  /** An `experiment_progress` of `experimentId` (in `projectId`'s project when given); its id. */
  async function progress(experimentId: string, projectId?: string): Promise<string> {
    const published = await t.http('POST', '/ws/publish', {
      token: ADMIN_TOKEN,
      body: {
        gateway: 'scheduler',
        type: 'experiment_progress',
        data: sampleExperimentProgress(experimentId),
        scope: { experimentId, ...(projectId && { projectId }) },
      },
    });
    expect(published.status).toBe(200);
    return published.body.id as string;
  }

  it('delivers an event routed to two subscriptions once; after a cut, every missed event once, each stream in order, then the live ones', async () => {
    const s = open('alice', '/ws/experiments/exp-1');
    const ids = (): string[] => s.got.event.map((event) => event.id as string);
    await eventually(() => s.got.welcome.length === 1, 5000, 'the welcome');
    expect(s.got.welcome[0].data).toMatchObject({ resourceType: 'experiment', resourceId: 'exp-1' });
    await s.client.subscribe('project', 'p-1');
    const first = await progress('exp-1', 'p-1');
    await eventually(() => ids().includes(first), 5000, 'the first event');
    expect(Object.keys(s.got.event[0].positions).sort()).toEqual(['experiment:exp-1', 'project:p-1']);

    s.gate.close();
    await cutOff(t, 'scheduler', 'alice', s);
    // Away: events of the experiment in the project, of another experiment in the project, of the experiment alone.
    const missed = {
      both1: await progress('exp-1', 'p-1'),
      projectOnly1: await progress('exp-2', 'p-1'),
      both2: await progress('exp-1', 'p-1'),
      experimentOnly: await progress('exp-1'),
      projectOnly2: await progress('exp-2', 'p-1'),
    };
    s.gate.open();
    await eventually(
      () => Object.values(missed).every((id) => ids().includes(id)),
      5000,
      () => `missed: ${ids().join()}`,
    );
    const live = { both: await progress('exp-1', 'p-1'), projectOnly: await progress('exp-2', 'p-1') };
    await eventually(() => Object.values(live).every((id) => ids().includes(id)), 5000, 'the live events');
    await sleep(QUIET_MS);

    const all = [first, ...Object.values(missed), ...Object.values(live)];
    expect(all.map((id) => count(ids(), id))).toEqual(all.map(() => 1));
    expect(ids()).toHaveLength(all.length);
    const order = (some: string[]): string[] => ids().filter((id) => some.includes(id));
    // The path's stream in publish order, the project's own events too; the missed ones before the live.
    const experiment = [first, missed.both1, missed.both2, missed.experimentOnly, live.both];
    expect(order(experiment)).toEqual(experiment);
    const projectOnly = [missed.projectOnly1, missed.projectOnly2, live.projectOnly];
    expect(order(projectOnly)).toEqual(projectOnly);
    expect(ids().slice(-2).sort()).toEqual(Object.values(live).sort());
    expect(s.got.recovery).toEqual(
      expect.arrayContaining([
        { stream: 'experiment:exp-1', recovered: true },
        { stream: 'broadcast', recovered: true },
        { stream: 'project:p-1', recovered: true },
      ]),
    );
    expect(s.got.recovery).toHaveLength(3);
    // Out-of-order arrivals of the project's stream were all filled in: its position is its last event's.
    const last = s.got.event.find((event) => event.id === live.projectOnly);
    expect(s.client.positions.get('project:p-1')).toEqual(last.positions['project:p-1']);
    expect(s.client.positions.get('experiment:exp-1')).toEqual(
      s.got.event.find((event) => event.id === live.both).positions['experiment:exp-1'],
    );
    // The reconnect named the path's and the broadcast's positions in its query.
    expect(new URL(s.urls[1]).searchParams.get('offset')).toBe('1');
    expect(new URL(s.urls[1]).searchParams.has('broadcast_epoch')).toBe(true);
    expect(s.got.serverError).toEqual([]);
  });

  it('drops a refused subscription and one the app ended: neither is asked for again after a reconnect', async () => {
    const s = open('bob', '/ws/user');
    await eventually(() => s.got.welcome.length === 1, 5000, 'the welcome');
    const refusal = s.client.subscribe('system').catch((error: Error) => error);
    await s.client.subscribe('project', 'p-2');
    await s.client.subscribe('project', 'p-3');
    expect(await refusal).toEqual(new Error('Forbidden'));
    expect(s.got.refused).toEqual([{ resourceType: 'system', resourceId: 'system', error: 'Forbidden' }]);
    s.client.unsubscribe('project', 'p-3');
    expect(s.client.positions.get('project:p-3')).toBeUndefined();

    const before = s.sent.length;
    await cutOff(t, 'scheduler', 'bob', s);
    await eventually(() => s.got.recovery.some((r) => r.stream === 'project:p-2'), 5000, 'the resubscription');
    const resent = s.sent.slice(before).filter((frame) => frame.type === 'system_status');
    expect(resent).toEqual([
      {
        type: 'system_status',
        id: 's:project:p-2',
        data: { action: 'subscribe', resourceType: 'project', resourceId: 'p-2', since: expect.any(Object) },
      },
    ]);
    const [client] = (await t.http('GET', '/ws/clients?gateway=scheduler&user=bob', { token: ADMIN_TOKEN })).body
      .clients;
    expect(client.rooms.sort()).toEqual(['project:p-2', 'user:bob']);
    await sleep(QUIET_MS);
    expect(s.got.refused).toHaveLength(1);
    expect(s.got.serverError).toEqual([]);
  });
});

describe('NotifyClient', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t?.close());

  const open = (sub: string, clientId?: string, url = t.baseUrl) =>
    observe((options) => new NotifyClient({ url, clientId, reconnect: FAST, ...options }), sub, [
      'welcome',
      'message',
      'serverError',
    ]);

  /** `POST /ws/send-message`: to `clientId`, or to every notify client. */
  async function sendMessage(content: string, clientId?: string, app: TestApp = t): Promise<void> {
    const sent = await app.http('POST', '/ws/send-message', {
      token: ADMIN_TOKEN,
      body: { type: 'status', content, ...(clientId && { client_id: clientId }) },
    });
    expect(sent.status).toBe(200);
  }

  const contents = (seen: Observed<unknown>, stream?: string): string[] =>
    seen.got.message.filter((m) => stream === undefined || m.stream === stream).map((m) => m.content as string);

  it('gets the messages to its client id and the broadcasts it missed once, in order, after a cut; then the live ones', async () => {
    const n = open('carol', 'desk-1');
    await eventually(() => n.got.welcome.length === 1, 5000, 'the welcome');
    expect(n.client.clientId).toBe('desk-1');
    await sendMessage('m0', 'desk-1');
    await eventually(() => contents(n).includes('m0'), 5000, 'm0');

    n.gate.close();
    await cutOff(t, 'notify', 'carol', n);
    await sendMessage('m1', 'desk-1');
    await sendMessage('b1');
    await sendMessage('m2', 'desk-1');
    await sendMessage('b2');
    await sendMessage('m3', 'desk-1');
    n.gate.open();
    await eventually(
      () => ['m3', 'b2'].every((m) => contents(n).includes(m)),
      5000,
      () => `missed: ${contents(n).join()}`,
    );
    await sendMessage('m4', 'desk-1');
    await sendMessage('b3');
    await eventually(() => ['m4', 'b3'].every((m) => contents(n).includes(m)), 5000, 'the live messages');
    await sleep(QUIET_MS);

    expect(contents(n, 'client:desk-1')).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    expect(contents(n, 'broadcast')).toEqual(['b1', 'b2', 'b3']);
    expect(contents(n)).toHaveLength(8);
    expect(n.got.recovery).toEqual([
      { stream: 'client:desk-1', recovered: true },
      { stream: 'broadcast', recovered: true },
    ]);
    const query = new URL(n.urls[1]).searchParams;
    expect([query.get('offset'), query.get('broadcast_offset')]).toEqual(['1', expect.any(String)]);
    expect(n.got.serverError).toEqual([]);
  });

  it('without a client id: tells the one the server gave, and resumes only the broadcast after a cut', async () => {
    const n = open('dave');
    await eventually(() => n.got.welcome.length === 1, 5000, 'the welcome');
    const first = n.client.clientId!;
    expect(first).toBe(n.got.welcome[0].content.client_id);
    await sendMessage('to-first', first);
    await eventually(() => contents(n).includes('to-first'), 5000, 'to-first');

    n.gate.close();
    await cutOff(t, 'notify', 'dave', n);
    await sendMessage('missed-broadcast');
    n.gate.open();
    await eventually(() => contents(n).includes('missed-broadcast'), 5000, 'the missed broadcast');
    const second = n.client.clientId!;
    expect(second).not.toBe(first);
    expect(second).toBe(n.got.welcome[1].content.client_id);
    const url = new URL(n.urls[1]);
    expect(url.pathname).toBe('/ws');
    expect([...url.searchParams.keys()].sort()).toEqual(['broadcast_epoch', 'broadcast_offset']);
    expect(n.got.recovery).toEqual([{ stream: 'broadcast', recovered: true }]);
    expect(n.client.positions.get(`client:${first}`)).toBeUndefined();
    await sendMessage('to-second', second);
    await eventually(() => contents(n).includes('to-second'), 5000, 'to-second');
  });

  it('replaced by a newer connection of its client id (4409), does not come back', async () => {
    const first = open('erin', 'desk-9');
    await eventually(() => first.got.welcome.length === 1, 5000, 'the first welcome');
    const second = open('erin', 'desk-9');
    await eventually(() => second.got.welcome.length === 1, 5000, 'the second welcome');
    await eventually(() => first.got.close.length === 1, 5000, 'the close of the first');
    expect(first.got.close).toEqual([{ code: 4409, reason: expect.any(String), willReconnect: false }]);
    expect(first.client.connectionState).toBe('closed');
    await sleep(QUIET_MS + FAST.maxDelayMs);
    expect(first.urls).toHaveLength(1);
    expect(second.got.close).toEqual([]);
    const listed = await t.http('GET', '/ws/clients?gateway=notify&user=erin', { token: ADMIN_TOKEN });
    expect(listed.body.clients.map((client: Frame) => client.id)).toEqual(['desk-9']);
    await sendMessage('after', 'desk-9');
    await eventually(() => contents(second).includes('after'), 5000, 'a message to the second');
    expect(contents(first)).toEqual([]);
  });

  it('tells recovered:false for both streams when the server it comes back to keeps no history', async () => {
    const port = await freePort();
    const startOn = async (options: RealtimeModuleOptions): Promise<TestApp> => {
      const moduleRef = await Test.createTestingModule({
        imports: [RealtimeModule.forRoot({ auth: { secret: TEST_SECRET }, adminToken: ADMIN_TOKEN, ...options })],
      }).compile();
      const app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
      app.useWebSocketAdapter(new RealtimeWsAdapter(app));
      await app.listen(port, '127.0.0.1');
      return wrap(app);
    };
    let app = await startOn({});
    try {
      const n = open('fred', 'desk-5', app.baseUrl);
      await eventually(() => n.got.welcome.length === 1, 5000, 'the welcome');
      await sendMessage('m1', 'desk-5', app);
      await sendMessage('b1', undefined, app);
      await eventually(() => contents(n).length === 2, 5000, 'm1 and b1');
      await app.close();
      await eventually(() => n.got.close.length > 0, 5000, 'the close');
      app = await startOn({ historySize: 0 });
      await eventually(() => n.got.welcome.length === 2, 10_000, 'the welcome of the restarted server');
      expect(n.got.recovery).toEqual([
        { stream: 'client:desk-5', recovered: false },
        { stream: 'broadcast', recovered: false },
      ]);
      await sendMessage('m2', 'desk-5', app);
      await eventually(() => contents(n).includes('m2'), 5000, 'm2');
      await sleep(QUIET_MS);
      expect(contents(n)).toEqual(['m1', 'b1', 'm2']);
      expect(n.got.message[2].stream).toBeUndefined();
    } finally {
      for (const client of clients.splice(0)) client.disconnect();
      await app.close();
    }
  });
});

describe("the server's app-level pings", () => {
  const INTERVAL_MS = 200;
  const TIMEOUT_MS = 1000;
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ heartbeatIntervalMs: INTERVAL_MS, heartbeatTimeoutMs: TIMEOUT_MS });
  });
  afterAll(() => t?.close());

  it('SchedulerClient answers each ping with the pong of its id', async () => {
    const s = observe((options) => new SchedulerClient({ url: t.baseUrl, reconnect: FAST, ...options }), 'gina', [
      'welcome',
      'serverError',
    ]);
    const pongs = (): Frame[] => s.sent.filter((frame) => frame.type === 'pong');
    await eventually(() => pongs().length >= 5, 10_000, 'five pongs');
    const pings = s.received.filter((frame) => frame.type === 'ping').slice(0, 5);
    expect(pings.every((ping) => /^ping/.test(ping.id))).toBe(true);
    expect(pongs().slice(0, 5)).toEqual(pings.map((ping) => ({ type: 'pong', id: ping.id.replace(/^ping/, 'pong') })));
    expect(s.got.close).toEqual([]);
    expect(s.got.serverError).toEqual([]);
  });

  it('NotifyClient answers each ping with its ping_id, and is kept across many timeouts (frames are its only proof of life)', async () => {
    const n = observe(
      (options) => new NotifyClient({ url: t.baseUrl, clientId: 'desk-hb', reconnect: FAST, ...options }),
      'hank',
      ['welcome', 'serverError'],
    );
    await eventually(() => n.got.welcome.length === 1, 5000, 'the welcome');
    const pongs = (): Frame[] => n.sent.filter((frame) => frame.type === 'pong');
    // Pings answered over three timeouts: a client that did not answer would have been cut after one.
    const answered = Math.ceil((3 * TIMEOUT_MS) / INTERVAL_MS);
    await eventually(
      () => {
        if (n.got.close.length > 0) throw new Error(`cut off: ${JSON.stringify(n.got.close)}`);
        return pongs().length >= answered;
      },
      20_000,
      `${answered} pongs`,
    );
    const pings = n.received.filter((frame) => frame.type === 'ping').slice(0, answered);
    expect(pongs().slice(0, answered)).toEqual(
      pings.map((ping) => ({ type: 'pong', meta: { ping_id: ping.meta.ping_id } })),
    );
    expect(n.got.close).toEqual([]);
    expect(n.urls).toHaveLength(1);
    expect(n.sent.filter((frame) => frame.type !== 'pong')).toEqual([]);
    expect(n.got.serverError).toEqual([]);
  });
});

describe('token refresh on the live connection', () => {
  const NOTICE_SEC = 2;
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ auth: { secret: TEST_SECRET, tokenExpiryNoticeSec: NOTICE_SEC } });
  });
  afterAll(() => t?.close());

  it('both clients answer token_expiring with a fresh token and outlive their first one', async () => {
    const exp = Math.floor(Date.now() / 1000) + 2 * NOTICE_SEC;
    /** A token that expires at `exp` first, then fresh ones. */
    const firstShort = (sub: string) => {
      let calls = 0;
      return (): string => hsToken(calls++ === 0 ? { sub, exp } : { sub });
    };
    const s = observe(
      (options) => new SchedulerClient({ url: t.baseUrl, path: '/ws/projects/p-r', reconnect: FAST, ...options }),
      firstShort('ivy'),
      ['welcome', 'event', 'serverError'],
    );
    const n = observe(
      (options) => new NotifyClient({ url: t.baseUrl, clientId: 'desk-r', reconnect: FAST, ...options }),
      firstShort('jack'),
      ['welcome', 'message', 'serverError'],
    );
    const refreshed = (seen: Observed<unknown>): boolean => seen.received.some((f) => f.type === 'token_refreshed');
    await eventually(() => refreshed(s) && refreshed(n), 10_000, 'both refreshes answered');
    expect(s.received.filter((f) => f.type === 'token_expiring')).toHaveLength(1);
    expect(n.received.filter((f) => f.type === 'token_expiring')).toHaveLength(1);
    expect(s.sent.filter((f) => f.type === 'refresh')).toEqual([
      { type: 'refresh', data: { token: expect.any(String) } },
    ]);
    expect(n.sent.filter((f) => f.type === 'refresh')).toEqual([{ type: 'refresh', content: expect.any(String) }]);
    // Past the first token's expiry (when the server would close 4401): the same connections still deliver.
    await eventually(() => Date.now() > exp * 1000 + 1000, 10_000, 'the first expiry');
    const published = await t.http('POST', '/ws/publish', {
      token: ADMIN_TOKEN,
      body: {
        gateway: 'scheduler',
        type: 'experiment_progress',
        data: sampleExperimentProgress('exp-r'),
        scope: { experimentId: 'exp-r', projectId: 'p-r' },
      },
    });
    await t.http('POST', '/ws/send-message', {
      token: ADMIN_TOKEN,
      body: { type: 'status', content: 'still', client_id: 'desk-r' },
    });
    await eventually(() => s.got.event.some((e) => e.id === published.body.id), 5000, 'the scheduler event');
    await eventually(() => n.got.message.some((m) => m.content === 'still'), 5000, 'the notify message');
    for (const seen of [s, n]) {
      expect(seen.got.close).toEqual([]);
      expect(seen.urls).toHaveLength(1);
      expect(seen.got.serverError).toEqual([]);
    }
  });
});
