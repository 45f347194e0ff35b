import { ConsoleLogger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { RealtimeModule, RealtimeWsAdapter } from '../src/realtime/index.js';
import { captureOutput, expectNoCrash, type Captured } from './support/capture-output.js';
import { clusterPrefix, startOnRedis } from './support/cluster-pair.js';
import { freePort, testRedisUrl } from './support/redis.js';
import { ADMIN_TOKEN, wrap, type TestApp } from './support/test-app.js';
import { eventually, sleep } from './support/test-client.js';
import { hsToken, TEST_SECRET } from './support/tokens.js';

/**
 * Issue 25 in a real browser (headless Chromium, driven by playwright-core): a page of the app's
 * origin loads the client package bundled by esbuild (client/src/index.ts, an IIFE), and its
 * `ChatClient` joins a room. The server (on Redis, so that the room's history outlives it) is
 * closed and started again on the same port: the page ends with every event published exactly
 * once, in order, with no gap, and is told that the room was recovered. The token never appears in
 * a URL the browser requested nor in a server log line, with the subprotocol credentials and with
 * tickets. The browser's offline/online events: back online, the client reconnects at once, not
 * after its (here 30 s) backoff.
 */

/** Debian's chromium (`.ci/run` installs it); playwright-core drives it, no browser is downloaded. */
const CHROMIUM = '/usr/bin/chromium';
const CHAT = '/api/v1/ws/connect';
/** The global the bundle defines in the page. */
const GLOBAL = 'nestRealtime';
/** Long enough for every frame in flight to have arrived: exact counts are checked after it. */
const QUIET_MS = 400;
/** Fast reconnects for the restart tests (the server is down for a moment only). */
const FAST = { minDelayMs: 50, maxDelayMs: 400 };
/** A backoff that only the `online` event can cut short. */
const SLOW = { minDelayMs: 30_000, maxDelayMs: 30_000 };

const b64url = (token: string): string => Buffer.from(token).toString('base64url');
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** One room event as the page's `event` listener recorded it. */
interface PageEvent {
  type: string;
  room?: string;
  i?: number;
  user?: string;
  stream?: string;
  offset?: number;
  epoch?: string;
}

/** What the page's client told, in the order it told it (with `performance.now()`). */
interface Step {
  what: 'open' | 'close' | 'online' | 'offline' | 'state';
  at: number;
  reconnected?: boolean;
  code?: number;
  reason?: string;
  willReconnect?: boolean;
  delayMs?: number;
  state?: string;
}

interface PageLog {
  events: PageEvent[];
  recovery: Array<{ stream: string; recovered: boolean }>;
  steps: Step[];
  errors: string[];
}

// The callbacks below run in the page: they compile without the DOM library, so the page's globals
// are reached through `globalThis as any`, and they are serialized to the browser on their own.

/**
 * Starts a `ChatClient` in the page (getToken answers `token`), records what it tells in
 * `globalThis.__log`, joins `room` and resolves with the join's reply data.
 */
function startChatInPage(
  page: Page,
  options: { url: string; token: string; room: string; credentials?: string; reconnect: object },
): Promise<{ room: string; offset: number; epoch: string }> {
  return page.evaluate(
    ({ global, url, token, room, credentials, reconnect }) => {
      const w = globalThis as any;
      const log: PageLog = (w.__log = { events: [], recovery: [], steps: [], errors: [] });
      const step = (what: Step['what'], fields: Partial<Step> = {}): number =>
        log.steps.push({ what, at: w.performance.now(), ...fields });
      w.addEventListener('online', () => step('online'));
      w.addEventListener('offline', () => step('offline'));
      const client = new w[global].ChatClient({
        url,
        getToken: () => token,
        ...(credentials && { credentials }),
        reconnect,
      });
      w.__client = client;
      client.on('event', (e: any) =>
        log.events.push({
          type: e.type,
          room: e.room,
          i: e.data?.i,
          user: e.data?.user_id,
          stream: e.stream,
          offset: e.offset,
          epoch: e.epoch,
        }),
      );
      client.on('recovery', (r: any) => log.recovery.push({ stream: r.stream, recovered: r.recovered }));
      client.on('open', (o: any) => step('open', { reconnected: o.reconnected }));
      client.on('close', (c: any) =>
        step('close', { code: c.code, reason: c.reason, willReconnect: c.willReconnect, delayMs: c.delayMs }),
      );
      client.on('state', (state: string) => step('state', { state }));
      client.on('error', (e: any) => log.errors.push(String(e.error?.message)));
      return client.join(room).then((reply: any) => reply.data);
    },
    { global: GLOBAL, ...options },
  );
}

const pageLog = (page: Page): Promise<PageLog> => page.evaluate(() => (globalThis as any).__log as PageLog);

/** Waits (in the page) until its client has delivered the message of index `i` of `room`. */
async function waitMessage(page: Page, room: string, i: number, timeout = 20_000): Promise<void> {
  await page.waitForFunction(
    ({ room, i }) =>
      ((globalThis as any).__log as PageLog).events.some((e) => e.type === 'message' && e.room === room && e.i === i),
    { room, i },
    { timeout, polling: 25 },
  );
}

/** Waits (in the page) for the `count`-th step of kind `what`. */
async function waitStep(page: Page, what: Step['what'], count = 1, timeout = 20_000): Promise<void> {
  await page.waitForFunction(
    ({ what, count }) => ((globalThis as any).__log as PageLog).steps.filter((s) => s.what === what).length >= count,
    { what, count },
    { timeout, polling: 25 },
  );
}

describe('the client package in Chromium: resume across a server restart, no token in URLs, offline/online (issue 25)', () => {
  /** The Redis key prefix of this file's instances: the room histories outlive each instance. */
  const prefix = clusterPrefix('client-browser');
  let port = 0;
  let lives = 0;
  let t: TestApp | undefined;
  /** Another instance on the same Redis prefix: it publishes while the page's server is down. */
  let publisher: TestApp | undefined;
  let browser: Browser | undefined;
  let output: Captured | undefined;
  let bundle = '';
  const contexts: BrowserContext[] = [];
  /** Every token a page used: none may appear in a URL the browser requested or in a log line. */
  const tokens: string[] = [];

  /** The module on Redis under `prefix`, listening on `port` (the same one every time), every log line printed. */
  async function startServer(): Promise<TestApp> {
    const builder = Test.createTestingModule({
      imports: [
        RealtimeModule.forRoot({
          auth: { secret: TEST_SECRET },
          adminToken: ADMIN_TOKEN,
          redis: { url: testRedisUrl(), prefix },
          instanceId: `${prefix}life-${++lives}`,
        }),
      ],
    });
    builder.setLogger(new ConsoleLogger('Test', { colors: false }));
    const app = (await builder.compile()).createNestApplication({ logger: ['log', 'error', 'warn'] });
    app.useWebSocketAdapter(new RealtimeWsAdapter(app));
    await app.listen(port, '127.0.0.1');
    const started = wrap(app);
    expect(started.port).toBe(port);
    await eventually(
      async () => (await started.http('GET', '/ws/health')).body.redis === 'up',
      10_000,
      `life ${lives}: redis up`,
    );
    return started;
  }

  /** Disconnects the page's client, then closes its context. */
  async function closePage(context: BrowserContext, page: Page): Promise<void> {
    await page.evaluate(() => (globalThis as any).__client?.disconnect());
    await context.close();
  }

  async function publish(room: string, i: number, through: TestApp = t!): Promise<void> {
    const body = { room, type: 'message', data: { i } };
    const { status } = await through.http('POST', '/ws/publish', { token: ADMIN_TOKEN, body });
    expect({ i, status }).toEqual({ i, status: 200 });
  }

  /** A page of the app's origin (its health endpoint) in a context of its own, every URL it requests recorded. */
  async function appPage(): Promise<{ context: BrowserContext; page: Page; urls: string[]; sockets: string[] }> {
    const context = await browser!.newContext();
    contexts.push(context);
    const page = await context.newPage();
    const urls: string[] = [];
    const sockets: string[] = [];
    page.on('request', (request) => urls.push(request.url()));
    page.on('websocket', (socket) => sockets.push(socket.url()));
    const response = await page.goto(`${t!.baseUrl}/ws/health`);
    expect(response?.status()).toBe(200);
    await page.addScriptTag({ content: bundle });
    expect(await page.evaluate((global) => typeof (globalThis as any)[global]?.ChatClient, GLOBAL)).toBe('function');
    return { context, page, urls, sockets };
  }

  const token = (sub: string): string => {
    const value = hsToken({ sub, username: sub });
    tokens.push(value);
    return value;
  };

  /** No form of any token (raw, base64url, its signature) in `urls` nor in the server's log lines. */
  function expectNoToken(urls: string[]): void {
    const requested = urls.join('\n');
    const logs = output!.lines.join('\n');
    for (const value of tokens) {
      for (const form of [value, b64url(value), value.split('.')[2]]) {
        expect(requested).not.toContain(form);
        expect(logs).not.toContain(form);
      }
    }
  }

  /**
   * The restart scenario for one credential mode: 1..5 seen; 6..8 published right before the
   * server closes (the page may not have seen them); 9..12 published through the other instance
   * while the page's server is down (the page cannot have them before it resumes); 13..16 as soon
   * as the server is back; 17 once the page is open again. The page gets 1..17 once each, in
   * order, and the room's whole history after its join (its own presence aside), and is told that
   * the room was recovered.
   */
  async function restartScenario(credentials: 'subprotocol' | 'ticket', room: string) {
    const user = `cb-${credentials}`;
    const { context, page, urls, sockets } = await appPage();
    const joined = await startChatInPage(page, {
      url: t!.baseUrl,
      token: token(user),
      room,
      reconnect: FAST,
      ...(credentials === 'ticket' && { credentials }),
    });
    expect(joined).toMatchObject({ room, offset: expect.any(Number), epoch: expect.any(String) });

    for (const i of range(1, 5)) await publish(room, i);
    await waitMessage(page, room, 5);
    for (const i of range(6, 8)) await publish(room, i);
    await t!.close();
    t = undefined;
    for (const i of range(9, 12)) await publish(room, i, publisher);
    t = await startServer();
    for (const i of range(13, 16)) await publish(room, i);
    await waitStep(page, 'open', 2);
    await publish(room, 17);
    await waitMessage(page, room, 17);
    await sleep(QUIET_MS);

    const log = await pageLog(page);
    const messages = log.events.filter((e) => e.type === 'message');
    expect(messages.map((e) => e.i)).toEqual(range(1, 17));
    // Everything the room's stream holds after the join reached the page once, in order: no gap
    // (others' presence included), but the user's own arrival and departure, of which its tabs are
    // never told (live or on resume: the restart's user_left is in the history, not for the page).
    const history = await t.http(
      'GET',
      `/ws/history?stream=${encodeURIComponent(room)}&gateway=chat&since=${joined.offset}&limit=100`,
      { token: ADMIN_TOKEN },
    );
    expect(history.status).toBe(200);
    const expected = (history.body.events as Array<{ offset: number; epoch: string; frame: any }>)
      .filter((e) => !(/^user_(joined|left)$/.test(e.frame.type) && e.frame.data?.user_id === user))
      .map((e) => ({ type: e.frame.type, offset: e.offset, epoch: e.epoch }));
    expect(log.events.map((e) => ({ type: e.type, offset: e.offset, epoch: e.epoch }))).toEqual(expected);
    expect(new Set(log.events.map((e) => e.epoch))).toEqual(new Set([joined.epoch]));
    expect(log.events.every((e) => e.stream === room && e.room === room)).toBe(true);

    // The restart was a drain (1012, SPEC §9), followed by a reconnect that resumed the room.
    const closes = log.steps.filter((s) => s.what === 'close');
    expect(closes[0]).toMatchObject({ code: 1012, willReconnect: true });
    expect(log.steps.filter((s) => s.what === 'open').map((s) => s.reconnected)).toEqual([false, true]);
    expect(log.recovery.length).toBeGreaterThanOrEqual(1);
    // Every stream resumed without loss: the room, and the user's own room (resumed from the query).
    expect(log.recovery).toEqual(log.recovery.map(() => ({ stream: expect.any(String), recovered: true })));
    expect(log.recovery.map((r: { stream: string }) => r.stream)).toContain(room);
    // A server that is away is no error of the app's: with tickets too, the tries are retried quietly.
    expect(log.errors).toEqual([]);

    // Every URL the browser requested: the page, (tickets), and the WebSockets, the resume's
    // position in the reconnect's query; none holds the token, nor does any log line.
    expect(sockets.length).toBeGreaterThanOrEqual(2);
    expect(sockets.at(-1)).toMatch(/[?&]offset=\d+&epoch=\w+/);
    expectNoToken([...urls, ...sockets]);
    // …and the log lines were recorded: this user's connect lines, the first and the resume.
    const connects = output!.lines.filter((line) => new RegExp(`\\bconnect gateway=chat .* user=${user} `).test(line));
    expect(connects.length).toBeGreaterThanOrEqual(2);
    expect(connects.at(-1)).toMatch(/ url="\/api\/v1\/ws\/connect\?offset=\d+&epoch=\w+/);
    expectNoCrash(output!);
    await closePage(context, page);
    return { urls, sockets };
  }

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `This test needs Chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\` ` +
          '(.ci/run does so when it is missing). It is not skipped.',
      );
    }
    const built = await build({
      entryPoints: [fileURLToPath(new URL('../client/src/index.ts', import.meta.url))],
      bundle: true,
      format: 'iife',
      globalName: GLOBAL,
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    bundle = built.outputFiles[0].text;
    output = captureOutput();
    port = await freePort();
    // The publisher first: Nest's log levels are global, the last app started sets them (all for the server).
    publisher = await startOnRedis(prefix, 'publisher');
    t = await startServer();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 60_000);

  afterAll(async () => {
    for (const context of contexts) {
      for (const page of context.pages()) {
        await page.evaluate(() => (globalThis as any).__client?.disconnect()).catch(() => undefined);
      }
      await context.close().catch(() => undefined);
    }
    await browser?.close();
    await t?.close();
    await publisher?.close();
    output?.restore();
  });

  it('subprotocol credentials: across a server restart the page gets every event once, in order, no gap, the room recovered; no token in any URL or log line', async () => {
    const { sockets } = await restartScenario('subprotocol', 'channel:2501');
    // The token travelled in Sec-WebSocket-Protocol only: the WebSocket URLs are the gateway's path
    // and the resume positions.
    const gateway = t!.wsUrl(CHAT).replace(/[.?]/g, '\\$&');
    for (const url of sockets) expect(url).toMatch(new RegExp(`^${gateway}(\\?offset=\\d+&epoch=\\w+)?$`));
  });

  it('ticket credentials: the same across a restart, each connect with a one-time ticket (redacted in the log), never the token', async () => {
    const { urls, sockets } = await restartScenario('ticket', 'channel:2502');
    // One POST /ws/ticket per connect, each WebSocket URL with its own ticket.
    const tickets = sockets.map((url) => new URL(url).searchParams.get('ticket'));
    expect(tickets.every((ticket) => typeof ticket === 'string' && /^[A-Za-z0-9_-]{43}$/.test(ticket))).toBe(true);
    expect(new Set(tickets).size).toBe(tickets.length);
    expect(urls.filter((url) => url === `${t!.baseUrl}/ws/ticket`).length).toBeGreaterThanOrEqual(sockets.length);
    const logs = output!.lines.join('\n');
    expect(logs).toContain(`${CHAT}?ticket=[REDACTED]`);
    for (const ticket of tickets) expect(logs).not.toContain(ticket);
  });

  it('offline then online: the client drops its socket, does not retry while offline, and reconnects at the online event, not after its 30 s backoff', async () => {
    const room = 'channel:2503';
    const { context, page, sockets } = await appPage();
    await startChatInPage(page, { url: t!.baseUrl, token: token('cb-offline'), room, reconnect: SLOW });
    await publish(room, 1);
    await waitMessage(page, room, 1);
    expect(sockets).toHaveLength(1);

    await context.setOffline(true);
    await waitStep(page, 'close');
    expect(await page.evaluate(() => (globalThis as any).__client.connectionState)).toBe('reconnecting');
    // Missed while offline: recovered once back.
    await publish(room, 2);
    // Offline, the client does not try: no WebSocket until the browser is online again.
    await sleep(QUIET_MS);
    expect(sockets).toHaveLength(1);

    await context.setOffline(false);
    // Well within the 30 s backoff: only the online event can have brought the client back.
    await waitStep(page, 'open', 2, 15_000);
    await waitMessage(page, room, 2);
    await sleep(QUIET_MS);

    const log = await pageLog(page);
    const order = log.steps.filter((s) => s.what !== 'state');
    expect(order.map((s) => s.what)).toEqual(['open', 'offline', 'close', 'online', 'open']);
    const [, , close, online, open] = order;
    expect(close).toMatchObject({ code: 1006, reason: 'Offline', willReconnect: true });
    // Offline: no backoff timer runs (none is announced); only the online event brings it back.
    expect(close.delayMs).toBeUndefined();
    // Causality: the reconnect came after the online event, and before the backoff could have ended.
    expect(open).toMatchObject({ reconnected: true });
    expect(open.at).toBeGreaterThanOrEqual(online.at);
    expect(open.at - close.at).toBeLessThan(SLOW.minDelayMs);
    expect(sockets).toHaveLength(2);

    expect(log.events.filter((e) => e.type === 'message').map((e) => e.i)).toEqual([1, 2]);
    expect(log.recovery).toEqual([
      { stream: expect.stringMatching(/^user:/), recovered: true },
      { stream: room, recovered: true },
    ]);
    expect(log.errors).toEqual([]);
    expectNoToken(sockets);
    await closePage(context, page);
  });
});
