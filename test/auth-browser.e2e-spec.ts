import { ConsoleLogger } from '@nestjs/common';
import { existsSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { captureOutput, expectNoCrash, type Captured } from './support/capture-output.js';
import { channelOf, checkFrame } from './support/frame-contract.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import type { Frame } from './support/test-client.js';
import { hsToken, TEST_SECRET } from './support/tokens.js';

/**
 * Issue 24, "No token in URLs", in a real browser (headless Chromium, driven by playwright-core):
 * `new WebSocket(url, ['realtime.v1', 'base64url.bearer.<token>'])` and the one-time ticket, from a
 * page of the app's origin, and neither the token (in any URL or log line) nor the ticket (in any log
 * line) leaks. The Node-client side is test/auth-subprotocol.e2e-spec.ts.
 */

/** Debian's chromium (`.ci/run` installs it); playwright-core drives it, no browser is downloaded. */
const CHROMIUM = '/usr/bin/chromium';
const CHAT = '/api/v1/ws/connect';
const REALTIME = 'realtime.v1';
const INVALID = 'Invalid or expired token';

const b64url = (token: string): string => Buffer.from(token).toString('base64url');

/** What a page's WebSocket saw: its first frame, the selected protocol, and how it closed. */
interface Seen {
  first?: Frame;
  protocol: string;
  opened: boolean;
  errored: boolean;
  close: { code: number; reason: string };
}

// The callbacks below run in the page: they compile without the DOM library, so the page's globals
// are reached through `globalThis as any`, and they are serialized to the browser on their own.

/**
 * Opens a WebSocket in the page with these protocols (`bearer` becomes the bearer entry, encoded in
 * the page), waits for its first frame, then closes it (or waits for the server's close) and reports.
 */
function openInPage(
  page: Page,
  url: string,
  protocols: string[],
  { bearer, keepOpen = false }: { bearer?: string; keepOpen?: boolean } = {},
): Promise<Seen> {
  return page.evaluate(
    ({ url, protocols, bearer, keepOpen }) =>
      new Promise<Seen>((resolve) => {
        const page = globalThis as any;
        const encode = (text: string): string =>
          page
            .btoa(String.fromCharCode(...new page.TextEncoder().encode(text)))
            .replace(/\+/g, '-')
            .replace(/\//g, '_')
            .replace(/=+$/, '');
        const offered = bearer === undefined ? protocols : [...protocols, `base64url.bearer.${encode(bearer)}`];
        const ws = new page.WebSocket(url, offered);
        const seen: Partial<Seen> = { opened: false, errored: false };
        ws.onopen = () => (seen.opened = true);
        ws.onerror = () => (seen.errored = true);
        ws.onmessage = (event: { data: string }) => {
          if (seen.first) return;
          seen.first = JSON.parse(event.data);
          seen.protocol = ws.protocol;
          // A refusal closes by itself; an admitted connection is closed by the page.
          if (!keepOpen && seen.first?.type !== 'error') ws.close(1000, 'done');
        };
        // A bound for a socket that never closes: reported as close code 0, so the test fails on it.
        const timer = page.setTimeout(
          () => resolve({ ...seen, close: { code: 0, reason: 'not closed in 15 s' } } as Seen),
          15_000,
        );
        ws.onclose = (event: { code: number; reason: string }) => {
          page.clearTimeout(timer);
          seen.protocol ??= ws.protocol;
          resolve({ ...seen, close: { code: event.code, reason: event.reason } } as Seen);
        };
      }),
    { url, protocols, bearer, keepOpen },
  );
}

/** `POST /ws/ticket` from the page, the token in the Authorization header. */
function ticketInPage(page: Page, token: string): Promise<{ status: number; body: any; cacheControl: string | null }> {
  return page.evaluate(async (token) => {
    const response = await (globalThis as any).fetch('/ws/ticket', {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    return {
      status: response.status,
      body: await response.json(),
      cacheControl: response.headers.get('cache-control'),
    };
  }, token);
}

describe('WebSocket authentication without a token in the URL, in Chromium (issue 24)', () => {
  let browser: Browser | undefined;
  let t: TestApp | undefined;
  let output: Captured | undefined;
  const pages: Page[] = [];
  /** Every URL the browser requested (HTTP and WebSocket), across the file. */
  const requested: string[] = [];
  /** The Sec-WebSocket-Protocol headers of the browser's handshakes (CDP): what it offered, what it got. */
  const handshakes: Array<{ offered?: string; selected?: string }> = [];
  /** Every token and ticket a page used: none of them may appear in a URL (tokens) or a log line (both). */
  const tokens: string[] = [];
  const tickets: string[] = [];

  const token = (sub: string): string => {
    const value = hsToken({ sub, username: sub });
    tokens.push(value);
    return value;
  };

  /** A page of the app's origin (its health endpoint), with every request and handshake recorded. */
  async function appPage(): Promise<Page> {
    const page = await browser!.newPage();
    pages.push(page);
    page.on('request', (request) => requested.push(request.url()));
    page.on('websocket', (socket) => requested.push(socket.url()));
    const cdp = await page.context().newCDPSession(page);
    const byId = new Map<string, { offered?: string; selected?: string }>();
    const entry = (id: string): { offered?: string; selected?: string } => {
      if (!byId.has(id)) {
        byId.set(id, {});
        handshakes.push(byId.get(id)!);
      }
      return byId.get(id)!;
    };
    const header = (headers: Record<string, string>): string | undefined =>
      Object.entries(headers).find(([name]) => name.toLowerCase() === 'sec-websocket-protocol')?.[1];
    cdp.on('Network.webSocketWillSendHandshakeRequest', (event) => {
      entry(event.requestId).offered = header(event.request.headers);
    });
    cdp.on('Network.webSocketHandshakeResponseReceived', (event) => {
      entry(event.requestId).selected = header(event.response.headers);
    });
    await cdp.send('Network.enable');
    const response = await page.goto(`${t!.baseUrl}/ws/health`);
    expect(response?.status()).toBe(200);
    return page;
  }

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `This test needs Chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\` ` +
          '(.ci/run does so when it is missing). It is not skipped.',
      );
    }
    output = captureOutput();
    t = await startTestApp({ auth: { secret: TEST_SECRET } });
    // The testing module's logger prints errors only: the connect lines (their URL redacted) and the
    // security warnings are printed here, so that they are checked too.
    t.app.useLogger(new ConsoleLogger({ logLevels: ['log', 'warn', 'error'], colors: false }));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 30_000);

  afterAll(async () => {
    for (const page of pages) await page.close().catch(() => undefined);
    await browser?.close();
    await t?.close();
    output?.restore();
  });

  it('connects with new WebSocket(url, [realtime.v1, base64url.bearer.…]): the welcome of the token’s user, protocol realtime.v1', async () => {
    const page = await appPage();
    const seen = await openInPage(page, t!.wsUrl(CHAT), [REALTIME], { bearer: token('browser-ana') });
    checkFrame(channelOf(t!.wsUrl(CHAT)), 'send', seen.first);
    expect(seen.first).toMatchObject({
      type: 'connected',
      data: { user_id: 'browser-ana', username: 'browser-ana', stream: 'user:browser-ana' },
    });
    expect(seen.protocol).toBe(REALTIME);
    expect(seen).toMatchObject({ opened: true, errored: false, close: { code: 1000, reason: 'done' } });
    // The browser's own handshake: it offered the bearer entry, and the 101 selected realtime.v1 alone.
    const last = handshakes.at(-1)!;
    expect(last.offered).toBe(`${REALTIME}, base64url.bearer.${b64url(tokens.at(-1)!)}`);
    expect(last.selected).toBe(REALTIME);
  });

  it('connects with a ticket it fetched with its bearer header; a second WebSocket with that ticket is closed 4401', async () => {
    const page = await appPage();
    const issued = await ticketInPage(page, token('browser-ben'));
    expect(issued.status).toBe(200);
    expect(issued.body).toEqual({ ticket: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), expires_in: 30 });
    expect(issued.cacheControl).toBe('no-store');
    const ticket = issued.body.ticket as string;
    tickets.push(ticket);
    const url = `${t!.wsUrl(CHAT)}?ticket=${ticket}`;

    const first = await openInPage(page, url, []);
    expect(first.first).toMatchObject({ type: 'connected', data: { user_id: 'browser-ben' } });
    expect(first.close.code).toBe(1000);

    const again = await openInPage(page, url, []);
    expect(again.first).toEqual({
      type: 'error',
      data: { error: INVALID, code: 4401 },
      timestamp: expect.any(String),
    });
    expect(again.close).toEqual({ code: 4401, reason: INVALID });
    for (const seen of [first, again]) checkFrame(channelOf(url), 'send', seen.first);
  });

  it('fails a bearer offer without realtime.v1 (the server selects nothing, so the browser fails the connection)', async () => {
    const page = await appPage();
    const seen = await openInPage(page, t!.wsUrl(CHAT), [], { bearer: token('browser-cy') });
    expect(seen).toMatchObject({ opened: false, errored: true, close: { code: 1006 } });
    expect(seen.first).toBeUndefined();
    expect(handshakes.at(-1)!.selected).toBeUndefined();
  });

  it('never puts the token in a URL the browser requested, nor the token or the ticket in a log line', async () => {
    // This test's own traffic, whatever ran before it: a subprotocol connect, a ticket connect.
    const page = await appPage();
    const bySubprotocol = await openInPage(page, t!.wsUrl(CHAT), [REALTIME], { bearer: token('browser-dee') });
    expect(bySubprotocol.first?.type).toBe('connected');
    const issued = await ticketInPage(page, token('browser-eve'));
    tickets.push(issued.body.ticket);
    const byTicket = await openInPage(page, `${t!.wsUrl(CHAT)}?ticket=${issued.body.ticket}`, []);
    expect(byTicket.first?.type).toBe('connected');

    // The URLs were recorded: pages, the ticket request, and the WebSocket URLs (the ticket's included).
    expect(requested).toEqual(
      expect.arrayContaining([
        `${t!.baseUrl}/ws/health`,
        `${t!.baseUrl}/ws/ticket`,
        t!.wsUrl(CHAT),
        `${t!.wsUrl(CHAT)}?ticket=${issued.body.ticket}`,
      ]),
    );
    const urls = requested.join('\n');
    const logs = output!.lines.join('\n');
    // The log lines were recorded too: the ticket connects were logged with their URL redacted.
    expect(logs).toContain(`${CHAT}?ticket=[REDACTED]`);
    for (const value of tokens) {
      for (const form of [value, b64url(value), value.split('.')[2]]) {
        expect(urls).not.toContain(form);
        expect(logs).not.toContain(form);
      }
    }
    for (const ticket of tickets) expect(logs).not.toContain(ticket);
    expectNoCrash(output!);
  });
});
