import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import {
  backoffDelay,
  ChatClient,
  DEFAULT_MAX_DELAY_MS,
  DEFAULT_MIN_DELAY_MS,
  RealtimeClient,
  type ChatRoomEvent,
  type ClientOptions,
  type ConnectionEvents,
  type WebSocketConstructor,
} from '../client/src/index.js';
import { captureOutput } from './support/capture-output.js';
import { startStandalone, type StandaloneProcess } from './support/standalone-process.js';
import { ADMIN_TOKEN, startTestApp, type Endpoints, type TestApp } from './support/test-app.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { eventually, sleep } from './support/test-client.js';
import { hsToken, TEST_SECRET } from './support/tokens.js';

/**
 * The client's connection core (client/src/core), through `ChatClient` against the real server:
 * the backoff's bounds and spread (1,000 clients that lose their server together do not come back
 * in lockstep), what each close code does, the heartbeat, the offline queue, the token refresh on
 * a live connection, and the token kept out of every URL. A TCP proxy in the test stands for the
 * network and the load balancer: it cuts, refuses or silences connections. The app runs in this
 * process (`startTestApp`), except under the 1,000 clients, where it runs in its own.
 *
 * Reconnect delays follow client/src/core/backoff.ts: try k (0 first) waits
 * min + random() × (min(max, min × 2^(k+1)) − min).
 */

const WS = WebSocket as unknown as WebSocketConstructor;
const CHAT = '/api/v1/ws/connect';
/** Long enough for every frame in flight to have arrived: exact counts are checked after it. */
const QUIET_MS = 400;
/** Small reconnect bounds keep the file fast. */
const RECONNECT = { minDelayMs: 50, maxDelayMs: 1000 };

/** The window a reconnect delay is drawn from (client/src/core/backoff.ts). */
function windowOf(attempt: number, min: number, max: number): [number, number] {
  return [min, Math.max(min, Math.min(max, min * 2 ** (attempt + 1)))];
}

/** The `q`-quantile of `values` (nearest rank). */
function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** The largest share of `values` that falls in any tenth of [from, to]. */
function fullestTenth(values: number[], from: number, to: number): number {
  const counts = new Array<number>(10).fill(0);
  for (const value of values) counts[Math.min(9, Math.max(0, Math.floor(((value - from) / (to - from)) * 10)))]++;
  return Math.max(...counts) / values.length;
}

const figures = (values: number[]): string =>
  `min ${Math.round(quantile(values, 0))} ms, p50 ${Math.round(quantile(values, 0.5))} ms, ` +
  `p90 ${Math.round(quantile(values, 0.9))} ms, max ${Math.round(quantile(values, 1))} ms`;

/** What a client told the app, with the moments (`performance.now()`). */
interface Watched {
  client: ChatClient;
  sub: string;
  tokens: number;
  opens: Array<{ at: number; reconnected: boolean }>;
  closes: Array<ConnectionEvents['close'] & { at: number }>;
  welcomes: Array<{ at: number; connectionId: string }>;
  recoveries: Array<ConnectionEvents['recovery']>;
  events: ChatRoomEvent[];
  errors: Error[];
  /** The `content` of every `message` of `room`, in arrival order. */
  contents(room: string): string[];
}

let subs = 0;
const clients: ChatClient[] = [];

/** A `ChatClient` of a new user (or `sub`) on `url`, recording everything it emits. */
function watch(url: string, options: Partial<ClientOptions> & { sub?: string } = {}): Watched {
  const { sub = `core-${process.pid}-${++subs}`, ...rest } = options;
  const watched: Watched = {
    sub,
    tokens: 0,
    opens: [],
    closes: [],
    welcomes: [],
    recoveries: [],
    events: [],
    errors: [],
    contents: (room: string) =>
      watched.events.flatMap((event) => (event.type === 'message' && event.room === room ? [event.data.content!] : [])),
  } as unknown as Watched;
  const getToken = rest.getToken ?? (() => hsToken({ sub, username: sub }));
  const client = new ChatClient({
    url,
    WebSocket: WS,
    reconnect: RECONNECT,
    ...rest,
    getToken: () => {
      watched.tokens++;
      return getToken();
    },
  });
  watched.client = client;
  clients.push(client);
  client.on('open', ({ reconnected }) => watched.opens.push({ at: performance.now(), reconnected }));
  client.on('close', (event) => watched.closes.push({ ...event, at: performance.now() }));
  client.on('welcome', (frame) =>
    watched.welcomes.push({ at: performance.now(), connectionId: frame.data.connection_id }),
  );
  client.on('recovery', (event) => watched.recoveries.push(event));
  client.on('event', (event) => watched.events.push(event));
  client.on('error', ({ error }) => watched.errors.push(error));
  return watched;
}

/** Resolves once `check` holds (polled), or fails after `timeoutMs` naming `what`. */
const until = (check: () => boolean, what: string | (() => string), timeoutMs = 10_000): Promise<void> =>
  eventually(check, timeoutMs, what);

const welcomed = (w: Watched, count = 1): Promise<void> =>
  until(
    () => w.welcomes.length >= count,
    () => `${w.sub}: welcome ${count} (closes ${JSON.stringify(w.closes)})`,
  );

/** Publishes a server message `content` to `room` through the admin API. */
async function publish(t: Endpoints, room: string, content: string): Promise<void> {
  const body = { room, type: 'message', data: { content } };
  const { status } = await t.http('POST', '/ws/publish', { token: ADMIN_TOKEN, body });
  expect(status).toBe(200);
}

/** Rooms of their own, so that no two tests share one. */
let rooms = 0;
const newRoom = (): string => `channel:${(process.pid % 10_000) * 1000 + ++rooms}`;

/** A watched client, its join of `room` answered. */
async function member(url: string, room: string, options: Parameters<typeof watch>[1] = {}): Promise<Watched> {
  const w = watch(url, options);
  await w.client.join(room);
  return w;
}

/** `w` receives what is published to `room` now (after its resume, if any). */
async function receives(t: Endpoints, w: Watched, room: string, content: string): Promise<void> {
  await publish(t, room, content);
  await until(() => w.contents(room).includes(content), `${w.sub}: ${content} in ${room}`);
}

/**
 * A minimal client of another gateway through the same core (the notify gateway's `/ws/:clientId`
 * for 4403 and 4409, the checkpoint gateway for 1013): its welcome is the first frame that says
 * the connection works.
 */
class ProbeClient extends RealtimeClient<ConnectionEvents> {
  constructor(
    options: ClientOptions,
    private readonly route: string,
    private readonly works: (frame: Record<string, unknown>) => boolean,
    private readonly hello?: object,
  ) {
    super(options);
    this.connect();
  }

  /** Sends `frame` (queued while disconnected). */
  post(frame: object): Promise<void> {
    return this.send(frame);
  }

  protected path(): string {
    return this.route;
  }

  protected resume(): void {
    if (this.hello) this.sendNow(this.hello);
  }

  protected received(frame: Record<string, unknown>): void {
    if (this.works(frame)) this.established();
  }

  protected ping(): object {
    return { type: 'ping' };
  }

  protected refresh(token: string): object {
    return { type: 'refresh', content: token };
  }
}

interface WatchedProbe {
  client: ProbeClient;
  tokens: number;
  established: number;
  closes: Array<ConnectionEvents['close']>;
}

const probes: ProbeClient[] = [];

function probe(
  t: Endpoints,
  sub: string,
  route: string,
  works: (frame: Record<string, unknown>) => boolean,
  hello?: object,
): WatchedProbe {
  const watched: WatchedProbe = { tokens: 0, established: 0, closes: [] } as unknown as WatchedProbe;
  const client = new ProbeClient(
    {
      url: t.baseUrl,
      WebSocket: WS,
      reconnect: RECONNECT,
      getToken: () => {
        watched.tokens++;
        return hsToken({ sub });
      },
    },
    route,
    (frame) => {
      const ok = works(frame);
      if (ok) watched.established++;
      return ok;
    },
    hello,
  );
  watched.client = client;
  probes.push(client);
  client.on('close', (event) => watched.closes.push(event));
  return watched;
}

afterEach(() => {
  for (const client of [...clients.splice(0), ...probes.splice(0)]) client.disconnect();
});

describe('backoffDelay: full jitter after the cap', () => {
  const bounds = [
    { min: 50, max: 1000 },
    { min: DEFAULT_MIN_DELAY_MS, max: DEFAULT_MAX_DELAY_MS },
    { min: 1, max: 10 },
    { min: 300, max: 300 },
  ];

  it.each(bounds)(
    'draws within [min, min(max, min·2^(attempt+1))] for min $min, max $max: the edges of random() give the edges',
    ({ min, max }) => {
      const options = max === DEFAULT_MAX_DELAY_MS ? {} : { minDelayMs: min, maxDelayMs: max };
      const wrong: string[] = [];
      for (let attempt = 0; attempt <= 60; attempt++) {
        const [low, high] = windowOf(attempt, min, max);
        const edges = [0, 1, 0.5].map((r) => backoffDelay(attempt, options, () => r));
        if (edges.join() !== [low, high, (low + high) / 2].join())
          wrong.push(`attempt ${attempt}: edges ${edges.join()}`);
        for (let k = 0; k < 200; k++) {
          const delay = backoffDelay(attempt, options);
          if (!(delay >= low && delay <= high)) wrong.push(`attempt ${attempt}: ${delay} outside [${low}, ${high}]`);
        }
      }
      expect(wrong).toEqual([]);
      // The window grows to the maximum and stays there.
      expect(windowOf(60, min, max)[1]).toBe(max);
    },
  );

  it('jitters from the first reconnect on: 1,000 first delays are not all the minimum', () => {
    const first = Array.from({ length: 1000 }, () => backoffDelay(0, RECONNECT));
    expect(new Set(first).size).toBeGreaterThan(900);
    expect(fullestTenth(first, ...windowOf(0, 50, 1000))).toBeLessThan(0.2);
  });

  it('keeps spreading once capped: 20,000 delays cover [min, max] evenly, not piled at the maximum', () => {
    const capped = Array.from({ length: 20_000 }, (_, k) => backoffDelay(10 + (k % 20), RECONNECT));
    expect(Math.min(...capped)).toBeGreaterThanOrEqual(50);
    expect(Math.max(...capped)).toBeLessThanOrEqual(1000);
    expect(capped.filter((delay) => delay === 1000).length).toBeLessThan(20);
    // Each tenth of the window holds a tenth of the delays (±3 points: 20,000 draws make that certain).
    expect(fullestTenth(capped, 50, 1000)).toBeLessThan(0.13);
    expect(quantile(capped, 0.5)).toBeGreaterThan(450);
    expect(quantile(capped, 0.5)).toBeLessThan(600);
  });

  it('is what the client waits: each failed try widens the window, a welcome starts it over', async () => {
    const t = await startTestApp({ auth: { secret: TEST_SECRET } });
    const proxy = await new TcpProxy(() => [t.port]).listen();
    try {
      proxy.refusing = true;
      const w = watch(proxy.url, { reconnect: { minDelayMs: 20, maxDelayMs: 200 }, random: () => 1 });
      await until(() => w.closes.length >= 6, 'six refused tries');
      expect(w.closes.slice(0, 6).map((close) => close.delayMs)).toEqual([40, 80, 160, 200, 200, 200]);
      expect(w.closes.every((close) => close.willReconnect && close.code === 1006)).toBe(true);
      proxy.refusing = false;
      await welcomed(w);
      const before = w.closes.length;
      proxy.dropAll();
      await welcomed(w, 2);
      expect(w.closes.slice(before).map((close) => close.delayMs)).toEqual([40]);
    } finally {
      await proxy.close();
      await t.close();
    }
  });
});

describe('1,000 clients that lose their server at the same moment', () => {
  const N = 1000;
  let server: StandaloneProcess & { port: number };
  let proxy: TcpProxy;
  let herd: Watched[];
  /** When each client's socket was created (its attempt started), by client. */
  const starts = new Map<ChatClient, number[]>();

  beforeAll(async () => {
    // The server in a process of its own: in this one, its work would delay the clients' timers
    // and blur the very spread measured.
    server = await startStandalone({
      NO_COLOR: '1',
      JWT_SECRET: TEST_SECRET,
      WS_ADMIN_TOKEN: ADMIN_TOKEN,
      WS_MAX_PENDING_UPGRADES_PER_IP: String(4 * N),
    });
    proxy = await new TcpProxy(() => [server.port]).listen();
    herd = [];
    // In waves of 100, as users arrive: the test is about their return, not their first visit.
    for (let wave = 0; wave < N / 100; wave++) {
      const next = Array.from({ length: 100 }, () => {
        const own: number[] = [];
        // A WebSocket that notes when it is created: the moment the core starts an attempt.
        const Timed = class extends WebSocket {
          constructor(url: string, protocols?: string | string[]) {
            super(url, protocols);
            own.push(performance.now());
          }
        } as unknown as WebSocketConstructor;
        const w = watch(proxy.url, { WebSocket: Timed, heartbeat: { intervalMs: 60_000, timeoutMs: 60_000 } });
        starts.set(w.client, own);
        return w;
      });
      herd.push(...next);
      await until(() => next.every((w) => w.welcomes.length === 1), 'a wave of 100 welcomed', 20_000);
    }
    // They live as long as the describe block (afterAll disconnects them), not one test.
    clients.splice(0);
  }, 60_000);

  afterAll(async () => {
    for (const w of herd ?? []) w.client.disconnect();
    await proxy?.close();
    server?.child.kill('SIGKILL');
    await server?.exited;
  });

  /** When each client started the attempt that brought it back (its `welcome` number `k`), after `since`. */
  const triesAfter = (since: number, welcomesBefore: number[]): number[] =>
    herd.map((w, k) => {
      const welcomed = w.welcomes[welcomesBefore[k]].at;
      const attempts = starts.get(w.client)!.filter((at) => at <= welcomed);
      return Math.max(0, attempts[attempts.length - 1] - since);
    });

  it('come back spread over the first window, each after the delay it drew', async () => {
    const arrived = proxy.arrivals.length;
    const dropped = performance.now();
    proxy.dropAll();
    await until(() => herd.every((w) => w.welcomes.length === 2), 'all 1,000 back', 30_000);
    const delays = herd.map((w) => w.closes[0].delayMs!);
    const tries = triesAfter(
      dropped,
      herd.map(() => 1),
    );
    const returns = herd.map((w) => w.welcomes[1].at - dropped);
    console.log(
      `1,000 clients cut at once, reconnect bounds [50 ms, 1 s]: first delays drawn ${figures(delays)}; ` +
        `reconnect attempts started after ${figures(tries)}; welcomed again after ${figures(returns)}; closes seen after ${figures(herd.map((w) => w.closes[0].at - dropped))}`,
    );
    expect(herd.every((w) => w.closes[0].code === 1006 && w.closes[0].willReconnect)).toBe(true);
    // One attempt each: none was refused or lost.
    expect(proxy.arrivals.length - arrived).toBe(N);
    const [low, high] = windowOf(0, 50, 1000);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(low);
    expect(Math.max(...delays)).toBeLessThanOrEqual(high);
    // Spread over the window: no tenth of it holds more than a fifth of the clients (expected: a tenth).
    expect(fullestTenth(delays, low, high)).toBeLessThan(0.2);
    expect(quantile(delays, 0.9) - quantile(delays, 0.1)).toBeGreaterThan(0.6 * (high - low));
    // Causality: no attempt before the shortest delay, nobody back before its own delay was over.
    expect(Math.min(...tries)).toBeGreaterThanOrEqual(low - 1);
    expect(herd.filter((w) => w.welcomes[1].at - w.closes[0].at < w.closes[0].delayMs! - 1)).toEqual([]);
  }, 40_000);

  it('keep spreading their returns over [min, max] once the window is capped (the server gone ~3 s)', async () => {
    const closesBefore = herd.map((w) => w.closes.length);
    const welcomesBefore = herd.map((w) => w.welcomes.length);
    proxy.refusing = true;
    proxy.dropAll();
    // Tries 6 and on draw from the capped window [50, 1000] (it is capped from the fifth on): two each.
    const capped = (w: Watched, k: number): number => w.closes.length - closesBefore[k] - 5;
    await until(() => herd.every((w, k) => capped(w, k) >= 2), 'two capped tries each', 30_000);
    const back = performance.now();
    proxy.refusing = false;
    await until(() => herd.every((w, k) => w.welcomes.length > welcomesBefore[k]), 'all 1,000 back', 30_000);
    const delays = herd.flatMap((w, k) => w.closes.slice(closesBefore[k] + 5).map((close) => close.delayMs!));
    const tries = triesAfter(back, welcomesBefore);
    const returns = herd.map((w, k) => w.welcomes[welcomesBefore[k]].at - back);
    console.log(
      `1,000 clients refused for a while, then the server back: delays drawn once capped (${delays.length}) ` +
        `${figures(delays)}; attempts started after ${figures(tries)}; welcomed after ${figures(returns)}`,
    );
    expect(herd.every((w, k) => w.closes.slice(closesBefore[k]).every((close) => close.willReconnect))).toBe(true);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(50);
    expect(Math.max(...delays)).toBeLessThanOrEqual(1000);
    // Not piled at the maximum (as when the jitter is applied before the cap), but even over [min, max].
    expect(delays.filter((delay) => delay === 1000).length).toBeLessThan(delays.length / 100);
    expect(fullestTenth(delays, 50, 1000)).toBeLessThan(0.15);
    expect(quantile(delays, 0.5)).toBeGreaterThan(400);
    expect(quantile(delays, 0.5)).toBeLessThan(650);
    // Not in lockstep: their attempts reach the server spread over the window too (no tenth of
    // [0, 1 s] holds a third of them; expected: under a fifth in the first tenth, less after).
    expect(tries).toHaveLength(N);
    expect(fullestTenth(tries, 0, Math.max(1000, ...tries))).toBeLessThan(0.34);
    expect(quantile(tries, 0.9) - quantile(tries, 0.1)).toBeGreaterThan(300);
  }, 40_000);
});

describe('the connection, through ChatClient', () => {
  let t: TestApp;
  let proxy: TcpProxy;

  beforeAll(async () => {
    t = await startTestApp({
      auth: { secret: TEST_SECRET, tokenExpiryNoticeSec: 2, clockToleranceSec: 0 },
      // Two: a connection the client gave up for dead may hold a slot until the server's heartbeat ends it.
      chat: { maxConnectionsPerUser: 2 },
      checkpoint: { maxConnections: 1 },
      rateLimitPerSec: 1000,
    });
    proxy = await new TcpProxy(() => [t.port]).listen();
  });

  afterEach(() => {
    proxy.refusing = false;
    proxy.silent = false;
  });

  afterAll(async () => {
    await proxy?.close();
    await t?.close();
  });

  /** An observer in a new room, and a member of it through the proxy, cut off (its close seen; no way back yet). */
  async function cutOff(
    options: Parameters<typeof watch>[1] = {},
  ): Promise<{ room: string; observer: Watched; w: Watched }> {
    const room = newRoom();
    const observer = await member(t.baseUrl, room);
    const w = await member(proxy.url, room, options);
    proxy.refusing = true;
    proxy.dropAll();
    await until(() => w.closes.length === 1, 'the cut seen');
    return { room, observer, w };
  }

  describe('close codes', () => {
    it('4401 at the door (an expired token): asks getToken() again before the next try, then connects', async () => {
      const now = Math.floor(Date.now() / 1000);
      const sub = `expired-${process.pid}`;
      const issued = [hsToken({ sub, exp: now - 60 }), hsToken({ sub })];
      const room = newRoom();
      const w = watch(t.baseUrl, { sub, getToken: () => issued.shift() ?? hsToken({ sub }) });
      const joined = w.client.join(room);
      await welcomed(w);
      expect(w.closes).toEqual([
        expect.objectContaining({ code: 4401, reason: 'Invalid or expired token', willReconnect: true }),
      ]);
      expect(w.tokens).toBe(2);
      // The refused socket was never `open` to the app; the join made before it is kept.
      expect(w.opens.map((open) => open.reconnected)).toEqual([false]);
      await joined;
      await receives(t, w, room, 'after 4401');
    });

    it('4000 (disconnected by an administrator): reconnects, rejoins its room from its position', async () => {
      const room = newRoom();
      const w = await member(t.baseUrl, room);
      await receives(t, w, room, 'before');
      const first = w.welcomes[0].connectionId;
      const deleted = await t.http('DELETE', `/ws/clients/${first}`, { token: ADMIN_TOKEN });
      expect(deleted.status).toBe(200);
      await welcomed(w, 2);
      expect(w.closes).toEqual([
        expect.objectContaining({ code: 4000, reason: 'Disconnected by administrator', willReconnect: true }),
      ]);
      expect(w.closes[0].delayMs).toBeGreaterThanOrEqual(windowOf(0, 50, 1000)[0]);
      expect(w.closes[0].delayMs).toBeLessThanOrEqual(windowOf(0, 50, 1000)[1]);
      expect(w.welcomes[1].connectionId).not.toBe(first);
      expect(w.opens.map((open) => open.reconnected)).toEqual([false, true]);
      // Both streams resumed from their positions: the room, and the user's own room (connect URL).
      await until(() => w.recoveries.length >= 2, 'both streams resumed');
      expect(w.recoveries).toEqual(
        expect.arrayContaining([
          { stream: room, recovered: true },
          { stream: `user:${w.sub}`, recovered: true },
        ]),
      );
      expect(w.recoveries).toHaveLength(2);
      await receives(t, w, room, 'after');
      await sleep(QUIET_MS);
      expect(w.contents(room)).toEqual(['before', 'after']);
    });

    it('4403 at the door (a notify client id owned by another user): no reconnect, queued frames fail', async () => {
      const id = `owned-${process.pid}`;
      const owner = probe(t, `owner-${process.pid}`, `/ws/${id}`, (frame) => frame.type === 'connected');
      await until(() => owner.established === 1, 'the owner connected');
      const intruder = probe(t, `intruder-${process.pid}`, `/ws/${id}`, (frame) => frame.type === 'connected');
      const queued = intruder.client.post({ type: 'note', content: { n: 1 } });
      await expect(queued).rejects.toThrow(/4403/);
      expect(intruder.closes).toEqual([{ code: 4403, reason: 'Client id in use', willReconnect: false }]);
      expect(intruder.client.connectionState).toBe('closed');
      // Longer than the longest delay: no second try.
      await sleep(RECONNECT.maxDelayMs + QUIET_MS);
      expect(intruder.tokens).toBe(1);
      expect(intruder.established).toBe(0);
      await expect(intruder.client.post({ type: 'note' })).rejects.toThrow(/disconnected/i);
      expect(owner.closes).toEqual([]);
    });

    it('4409 (replaced by a newer connection of the same notify client id): no reconnect', async () => {
      const id = `replaced-${process.pid}`;
      const sub = `replaced-${process.pid}`;
      const older = probe(t, sub, `/ws/${id}`, (frame) => frame.type === 'connected');
      await until(() => older.established === 1, 'the older tab connected');
      const newer = probe(t, sub, `/ws/${id}`, (frame) => frame.type === 'connected');
      await until(() => older.closes.length === 1, 'the older tab replaced');
      expect(older.closes).toEqual([{ code: 4409, reason: 'Replaced by a new connection', willReconnect: false }]);
      expect(older.client.connectionState).toBe('closed');
      await sleep(RECONNECT.maxDelayMs + QUIET_MS);
      // The older tab did not come back to replace the newer one in turn.
      expect(older.tokens).toBe(1);
      expect(newer.established).toBe(1);
      expect(newer.closes).toEqual([]);
    });

    it('4429 (the per-user limit): backs off and connects once a slot frees, its room and queued frames kept', async () => {
      const sub = `limited-${process.pid}`;
      const room = newRoom();
      const observer = await member(t.baseUrl, room);
      const holders = [watch(t.baseUrl, { sub }), watch(t.baseUrl, { sub })];
      for (const holder of holders) await welcomed(holder);
      const w = watch(t.baseUrl, { sub });
      const joined = w.client.join(room);
      const sent = w.client.sendMessage(room, 'queued while refused');
      await until(() => w.closes.length >= 3, 'three refused tries');
      expect(w.closes.slice(0, 3)).toEqual(
        [0, 1, 2].map(() =>
          expect.objectContaining({ code: 4429, reason: 'Too many connections', willReconnect: true }),
        ),
      );
      // Each try waited longer (or as long) at most: the windows widen while refused.
      for (const [k, close] of w.closes.slice(0, 3).entries()) {
        expect(close.delayMs).toBeLessThanOrEqual(windowOf(k, 50, 1000)[1]);
      }
      expect(w.opens).toEqual([]);
      holders[0].client.disconnect();
      await welcomed(w);
      await joined;
      await sent;
      await until(() => observer.contents(room).includes('queued while refused'), 'the queued message');
      await receives(t, w, room, 'live');
      await sleep(QUIET_MS);
      expect(observer.contents(room)).toEqual(['queued while refused', 'live']);
      expect(w.contents(room)).toEqual(['queued while refused', 'live']);
    });

    it('1013 (the checkpoint gateway at capacity): backs off and connects once a slot frees', async () => {
      const works = (frame: Record<string, unknown>): boolean => frame.id === 'hello' && frame.success === true;
      const hello = { id: 'hello', method: 'metrics' };
      const first = probe(t, `cp-a-${process.pid}`, '/ws/checkpoints', works, hello);
      await until(() => first.established === 1, 'the first checkpoint connection');
      const second = probe(t, `cp-b-${process.pid}`, '/ws/checkpoints', works, hello);
      await until(() => second.closes.length >= 2, 'two refused tries');
      expect(second.closes.slice(0, 2)).toEqual(
        [0, 1].map(() => expect.objectContaining({ code: 1013, reason: 'Server at capacity', willReconnect: true })),
      );
      first.client.disconnect();
      await until(() => second.established === 1, 'the second connected once the first left');
    });

    it('disconnect(): closes for good, queued sends reject, no try after it', async () => {
      const { room, observer, w } = await cutOff();
      const queued = [w.client.sendMessage(room, 'one'), w.client.sendMessage(room, 'two')];
      const states: string[] = [];
      w.client.on('state', (state) => states.push(state));
      w.client.disconnect();
      await expect(queued[0]).rejects.toThrow('Client disconnected');
      await expect(queued[1]).rejects.toThrow('Client disconnected');
      await expect(w.client.sendMessage(room, 'three')).rejects.toThrow('Client disconnected');
      expect(states).toEqual(['closed']);
      const tries = proxy.arrivals.length;
      const tokens = w.tokens;
      proxy.refusing = false;
      await sleep(RECONNECT.maxDelayMs + QUIET_MS);
      expect(proxy.arrivals.length).toBe(tries);
      expect(w.tokens).toBe(tokens);
      expect(observer.contents(room)).toEqual([]);
      expect(w.client.connectionState).toBe('closed');
    });
  });

  describe('heartbeat', () => {
    it('replaces a connection that hears nothing (the network went silent), and rejoins', async () => {
      const room = newRoom();
      const heartbeat = { intervalMs: 200, timeoutMs: 200 };
      const w = await member(proxy.url, room, { heartbeat });
      // The same heartbeat on a connection whose pings are answered: never replaced.
      const control = await member(t.baseUrl, room, { heartbeat });
      proxy.silenceAll();
      await welcomed(w, 2);
      expect(w.closes).toEqual([
        expect.objectContaining({ code: 4000, reason: 'No frame within the heartbeat timeout', willReconnect: true }),
      ]);
      expect(w.opens.map((open) => open.reconnected)).toEqual([false, true]);
      await receives(t, w, room, 'after the silence');
      await sleep(1000);
      expect(control.closes).toEqual([]);
      expect(control.welcomes).toHaveLength(1);
    });

    it('gives up a connect that never completes (the upgrade unanswered) and tries again', async () => {
      proxy.silent = true;
      const tries = proxy.arrivals.length;
      const w = watch(proxy.url, { heartbeat: { intervalMs: 200, timeoutMs: 200 } });
      await until(() => proxy.arrivals.length > tries, 'the first try at the proxy');
      proxy.silent = false;
      await welcomed(w);
      expect(w.closes).toEqual([
        expect.objectContaining({ code: 4000, reason: 'No frame within the heartbeat timeout', willReconnect: true }),
      ]);
      expect(w.opens.map((open) => open.reconnected)).toEqual([false]);
    });

    it('takes a live connection for alive after its timers were held up (a busy loop, a background tab): it pings first', async () => {
      const room = newRoom();
      const w = await member(t.baseUrl, room, { heartbeat: { intervalMs: 200, timeoutMs: 1000 } });
      // Every timer of this process is held up for longer than interval + timeout.
      const until = Date.now() + 1500;
      while (Date.now() < until);
      await sleep(1500);
      expect(w.closes).toEqual([]);
      await receives(t, w, room, 'still here');
    });
  });

  describe('offline queue', () => {
    it('sends what was sent while disconnected, in order, once the connection is back', async () => {
      const { room, observer, w } = await cutOff();
      const sent = ['q1', 'q2', 'q3', 'q4', 'q5'].map((content) => w.client.sendMessage(room, content));
      expect(w.client.queued).toBe(5);
      proxy.refusing = false;
      await Promise.all(sent);
      await until(() => observer.contents(room).length >= 5, 'the five queued messages');
      await receives(t, observer, room, 'live');
      await sleep(QUIET_MS);
      expect(observer.contents(room)).toEqual(['q1', 'q2', 'q3', 'q4', 'q5', 'live']);
      expect(w.contents(room)).toEqual(['q1', 'q2', 'q3', 'q4', 'q5', 'live']);
      expect(w.client.queued).toBe(0);
    });

    it('holds offlineQueueLimit frames: over it the oldest fail with the queue error, the newest are sent', async () => {
      const { room, observer, w } = await cutOff({ offlineQueueLimit: 3 });
      const outcomes: string[] = [];
      const sent = ['m1', 'm2', 'm3', 'm4', 'm5'].map((content) =>
        w.client.sendMessage(room, content).then(
          () => outcomes.push(`${content} sent`),
          (error: Error) => outcomes.push(`${content}: ${error.message}`),
        ),
      );
      expect(w.client.queued).toBe(3);
      proxy.refusing = false;
      await Promise.all(sent);
      const full = 'Offline queue full (3): the oldest message was dropped';
      expect(outcomes).toEqual([`m1: ${full}`, `m2: ${full}`, 'm3 sent', 'm4 sent', 'm5 sent']);
      await until(() => observer.contents(room).length >= 3, 'the three newest');
      await sleep(QUIET_MS);
      expect(observer.contents(room)).toEqual(['m3', 'm4', 'm5']);
    });
  });

  it('refreshes the token on the live connection when told it expires, and stays connected past its exp', async () => {
    const room = newRoom();
    const sub = `refresh-${process.pid}`;
    const exp = Math.floor(Date.now() / 1000) + 3;
    let asked = 0;
    const w = await member(t.baseUrl, room, {
      sub,
      getToken: () => (++asked === 1 ? hsToken({ sub, exp }) : hsToken({ sub })),
    });
    expect(w.tokens).toBe(1);
    // The notice comes (at most 2 s before exp) and is answered with getToken()'s fresh token.
    await until(() => w.tokens === 2, 'the token asked again', 5_000);
    // Past the first token's expiry (no clock tolerance): the server would have closed it 4401.
    await until(() => Date.now() > exp * 1000 + 300, 'the first token expired', 5_000);
    await receives(t, w, room, 'after exp');
    expect(w.closes).toEqual([]);
    expect(w.welcomes).toHaveLength(1);
    expect(w.errors).toEqual([]);
  });
});

describe('credentials: no token in any URL', () => {
  it('sends the token as a subprotocol by default, a one-time ticket with credentials: ticket', async () => {
    const output = captureOutput();
    let t: TestApp | undefined;
    let proxy: TcpProxy | undefined;
    try {
      t = await startTestApp({ auth: { secret: TEST_SECRET } }, [], { logLines: true });
      const app = t;
      proxy = await new TcpProxy(() => [app.port]).listen();
      const connectLine = async (mode: 'subprotocol' | 'ticket' | 'query', token: string): Promise<string> => {
        const w = watch(proxy!.url, { credentials: mode, getToken: () => token });
        await welcomed(w);
        const id = w.welcomes[0].connectionId;
        let line: string | undefined;
        await until(
          () => (line = output.lines.find((l) => l.includes('connect ') && l.includes(id))) !== undefined,
          `the connect line of ${mode}`,
        );
        return line!;
      };
      const tokens = {
        subprotocol: hsToken({ sub: `cred-sp-${process.pid}` }),
        ticket: hsToken({ sub: `cred-tk-${process.pid}` }),
        query: hsToken({ sub: `cred-q-${process.pid}` }),
      };
      const viaSubprotocol = await connectLine('subprotocol', tokens.subprotocol);
      const viaTicket = await connectLine('ticket', tokens.ticket);
      // The old form, for tools: the same checks see a token in its URL.
      const viaQuery = await connectLine('query', tokens.query);
      // A URL with a query is logged quoted (it holds `=`).
      expect(viaSubprotocol).toMatch(new RegExp(`url=${CHAT}$`));
      expect(viaTicket).toMatch(new RegExp(`url="${CHAT}\\?ticket=\\[REDACTED\\]"$`));
      expect(viaQuery).toMatch(new RegExp(`url="${CHAT}\\?token=\\[REDACTED\\]"$`));
      // What went over the wire: the request lines (the URLs) hold no token but the query mode's.
      const requestLines = proxy.heads.map((head) => head.split('\r\n')[0]);
      expect(requestLines).toEqual([
        `GET ${CHAT} HTTP/1.1`,
        // The ticket is asked with the token in the Authorization header.
        'POST /ws/ticket HTTP/1.1',
        expect.stringMatching(new RegExp(`^GET ${CHAT}\\?ticket=[A-Za-z0-9_-]{43} HTTP/1\\.1$`)),
        `GET ${CHAT}?token=${tokens.query} HTTP/1.1`,
      ]);
      expect(proxy.heads[1]).toMatch(new RegExp(`\\r\\nauthorization: Bearer ${tokens.ticket}(\\r\\n|$)`, 'i'));
      for (const token of [tokens.subprotocol, tokens.ticket]) {
        expect(requestLines.filter((line) => line.includes(token))).toEqual([]);
      }
      // The subprotocol form: realtime.v1 and the token as base64url.
      expect(proxy.heads[0]).toMatch(
        new RegExp(
          `\\r\\nsec-websocket-protocol: realtime\\.v1, ?base64url\\.bearer\\.${Buffer.from(tokens.subprotocol).toString('base64url')}\\r\\n`,
          'i',
        ),
      );
      expect(output.lines.filter((line) => line.includes(tokens.subprotocol) || line.includes(tokens.ticket))).toEqual(
        [],
      );
    } finally {
      for (const client of clients.splice(0)) client.disconnect();
      await proxy?.close();
      await t?.close();
      output.restore();
    }
  });
});
