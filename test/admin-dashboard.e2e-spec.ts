import { inStream } from './support/positions.js';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';
import { eventually, TestClient } from './support/test-client.js';
import { hsToken, TEST_SECRET } from './support/tokens.js';

/** Debian's chromium (`.ci/run` installs it); playwright-core drives it, no browser is downloaded. */
const CHROMIUM = '/usr/bin/chromium';
/**
 * The screenshot goes to an ignored path; `DASHBOARD_SCREENSHOT=docs/admin-dashboard.png npm test`
 * refreshes the README's picture when the page changes.
 */
const SCREENSHOT = join(process.cwd(), process.env.DASHBOARD_SCREENSHOT ?? join('test-output', 'admin-dashboard.png'));
const HOSTILE_NAME = '<img src=x onerror="window.__xss=1">';
const HOSTILE_AGENT = '<script>window.__xss=2</script> Mozilla/5.0';

// Inside page.evaluate the page's globals are reached through `globalThis as any`: the tests compile
// without the DOM library, and the callback is serialized to the browser on its own.
const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

describe('GET /ws/admin over HTTP', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('serves the page without credentials, as HTML under a strict CSP, with no secret in it', async () => {
    const response = await fetch(`${t.baseUrl}/ws/admin`);
    const html = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('x-frame-options')).toBe('DENY');

    const csp = response.headers.get('content-security-policy') ?? '';
    const directives = Object.fromEntries(
      csp.split(';').map((part) => {
        const [name, ...values] = part.trim().split(/\s+/);
        return [name, values];
      }),
    );
    expect(directives['default-src']).toEqual(["'none'"]);
    expect(directives['connect-src']).toEqual(["'self'"]);
    expect(directives['img-src']).toEqual(["'self'", 'data:']);
    expect(directives['frame-ancestors']).toEqual(["'none'"]);
    // Only the page's own inline script and style, by hash: nothing injected could run.
    const script = /<script>([\s\S]*?)<\/script>/.exec(html)![1];
    const style = /<style>([\s\S]*?)<\/style>/.exec(html)![1];
    expect(directives['script-src']).toEqual([sha256(script)]);
    expect(directives['style-src']).toEqual([sha256(style)]);
    expect(csp).not.toContain('unsafe');

    expect(html).toMatch(/^<!doctype html>/i);
    expect(html).toContain('id="token-input"');
    expect(html).not.toContain(ADMIN_TOKEN);
    expect(html).not.toContain(TEST_SECRET);
    // No CDN, no external asset: the only URL in it is the SVG namespace.
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+stylesheet|https?:\/\/(?!www\.w3\.org\/2000\/svg')/i);
  });

  it('is the same page with any credentials, and the API beside it still needs them', async () => {
    const anonymous = await (await fetch(`${t.baseUrl}/ws/admin`)).text();
    const withToken = await fetch(`${t.baseUrl}/ws/admin`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(await withToken.text()).toBe(anonymous);
    expect((await t.http('GET', '/ws/stats')).status).toBe(401);
    expect((await t.http('GET', '/ws/clients')).status).toBe(401);
  });
});

describe('the admin dashboard in chromium', () => {
  let browser: Browser | undefined;
  let t: TestApp | undefined;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `The admin dashboard test needs Chromium at ${CHROMIUM}: install it with \`apt-get install -y chromium\` ` +
          '(.ci/run does so when it is missing). It is not skipped.',
      );
    }
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
  }, 20_000);

  afterAll(async () => {
    for (const client of clients) client.terminate();
    await t?.close().catch(() => undefined);
    await browser?.close();
  });

  const notifyClient = async (id: string, claims: Record<string, unknown>, userAgent?: string) => {
    const client = await TestClient.open(
      t!.wsUrl(`/ws/${id}`, hsToken(claims)),
      userAgent ? { headers: { 'user-agent': userAgent } } : {},
    );
    clients.push(client);
    expect(await client.nextOfType('connected')).toMatchObject({ content: { client_id: id } });
    return client;
  };
  const row = (page: Page, id: string) => page.locator(`#clients-body tr[data-client-id="${id}"]`);
  /** A page in a context of its own (no session yet); `problems` collects its errors and CSP refusals. */
  const openPage = async () => {
    const page = await browser!.newPage({ viewport: { width: 1360, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && /Content Security Policy|Refused to/i.test(message.text())) {
        problems.push(message.text());
      }
    });
    return { page, problems };
  };

  it('signs in, lists, disconnects, broadcasts, charts, pages through 1,000 clients and notices the server gone', async () => {
    // 1,000 upgrades at once from one address: more than WS_MAX_PENDING_UPGRADES_PER_IP and
    // NOTIFY_MAX_CONNECTIONS_PER_IP allow by default.
    t = await startTestApp({ maxPendingUpgradesPerIp: 2000, notify: { maxConnectionsPerIp: 2000 } });
    const target = await notifyClient('dash-client-1', { sub: 'u1' });
    const receiver = await notifyClient('dash-client-2', { sub: 'u2', username: 'bob' });
    await notifyClient('dash-hostile', { sub: 'u6', username: HOSTILE_NAME }, HOSTILE_AGENT);
    const worker = await notifyClient(
      'worker-7.logs',
      { sub: 'svc-worker', username: 'task-worker' },
      'python-httpx/0.27',
    );
    const carol = await t.chat({ sub: 'u3', username: 'carol' });
    clients.push(carol);
    carol.send({ type: 'join_room', room: 'channel:1' });
    await carol.nextOfType('room_joined');
    const dave = await t.chat({ sub: 'u4', username: 'dave' });
    clients.push(dave);
    const scheduler = await TestClient.open(t.wsUrl('/ws/projects/proj-456', hsToken({ sub: 'u5', username: 'erin' })));
    clients.push(scheduler);

    const { page, problems } = await openPage();
    await page.goto(`${t.baseUrl}/ws/admin`);

    // A refused token asks again: 401 for a wrong one, 403 for a JWT without the admin role.
    await page.locator('#token-input').fill('not-the-admin-token');
    await page.locator('#login-submit').click();
    await page.locator('#login-error').getByText('HTTP 401').waitFor();
    await page.locator('#token-input').fill(hsToken({ sub: 'u9' }));
    await page.locator('#login-submit').click();
    await page.locator('#login-error').getByText('HTTP 403').waitFor();
    expect(await page.evaluate(() => (globalThis as any).sessionStorage.length)).toBe(0);

    await page.locator('#token-input').fill(ADMIN_TOKEN);
    await page.locator('#login-submit').click();
    await row(page, 'dash-client-1').waitFor();
    expect(await page.locator('#login').isHidden()).toBe(true);
    await expect(row(page, 'dash-client-1').locator('td').nth(1).textContent()).resolves.toBe('notify');
    // The token lives in this tab's sessionStorage only, and never in the document.
    expect(await page.evaluate(() => Object.values((globalThis as any).sessionStorage))).toEqual([ADMIN_TOKEN]);
    expect(await page.evaluate(() => (globalThis as any).localStorage.length)).toBe(0);
    expect(await page.content()).not.toContain(ADMIN_TOKEN);

    // Every listed client, each with its gateway; attacker-controlled values are shown as text.
    await eventually(async () => (await page.locator('#clients-body tr').count()) === 7, 5000, 'seven rows');
    const hostile = row(page, 'dash-hostile');
    expect(await hostile.locator('td').nth(2).textContent()).toContain(HOSTILE_NAME);
    expect(await hostile.locator('.ua').textContent()).toBe(HOSTILE_AGENT);
    expect(await page.locator('#clients-body img, #clients-body script').count()).toBe(0);
    expect(await page.evaluate(() => (globalThis as any).__xss)).toBeUndefined();

    // Filters: by gateway, by user.
    await page.locator('#filter-gateway').selectOption('chat');
    await eventually(async () => (await page.locator('#clients-body tr').count()) === 2, 5000, 'two chat rows');
    await page.locator('#filter-gateway').selectOption('');
    await page.locator('#filter-user').fill('u2');
    await eventually(
      async () =>
        (await page.locator('#clients-body tr').count()) === 1 && (await row(page, 'dash-client-2').count()) === 1,
      5000,
      'the rows of user u2',
    );
    await page.locator('#filter-user').fill('');
    await eventually(async () => (await page.locator('#clients-body tr').count()) === 7, 5000, 'all rows again');

    // Disconnect: the button asks for a second click, then the socket closes with 4000.
    const disconnect = row(page, 'dash-client-1').locator('button[data-action="disconnect"]');
    await disconnect.click();
    await expect(disconnect.textContent()).resolves.toBe('Confirm');
    await disconnect.click();
    expect(await target.waitClose()).toEqual({ code: 4000, reason: 'Disconnected by administrator' });
    await row(page, 'dash-client-1').waitFor({ state: 'detached' });

    // To one client (picked from its row), to an unknown one (reached 0), a bad meta refused in the page.
    await row(page, 'dash-client-2').locator('button[data-action="message"]').click();
    expect(await page.locator('#send-client-id').inputValue()).toBe('dash-client-2');
    await page.locator('#send-type').fill('dash_direct');
    await page.locator('#send-content').fill('Just for you');
    await page.locator('#send-submit').click();
    expect(await receiver.nextOfType('dash_direct')).toMatchObject({ type: 'dash_direct', content: 'Just for you' });
    await page.locator('#send-result').getByText('Sent to dash-client-2: reached 1 client.').waitFor();
    await page.locator('#send-client-id').fill('nobody-here');
    await page.locator('#send-submit').click();
    await page.locator('#send-result').getByText('nobody-here is not connected: reached 0 clients.').waitFor();
    await page.locator('#send-meta').fill('[1, 2]');
    await page.locator('#send-submit').click();
    await page.locator('#send-result').getByText('Meta must be a JSON object.').waitFor();
    expect(worker.ofType('dash_direct')).toEqual([]);

    // A broadcast from the form reaches every notify client, as entered.
    await page.locator('#send-target-all').check();
    await page.locator('#send-type').fill('dash_notice');
    await page.locator('#send-content').fill('Hello from the dashboard');
    await page.locator('#send-meta').fill('{"level": "info"}');
    await page.locator('#send-submit').click();
    const broadcast = {
      type: 'dash_notice',
      content: 'Hello from the dashboard',
      meta: { level: 'info' },
      timestamp: expect.anything(),
      ...inStream('broadcast'),
    };
    expect(await receiver.nextOfType('dash_notice')).toEqual(broadcast);
    expect(await worker.nextOfType('dash_notice')).toEqual(broadcast);
    await page.locator('#send-result').getByText('Broadcast sent: reached 3 clients.').waitFor();

    // Traffic on the chat gateway, then the charts: one SVG path per series, lines once there are samples.
    let sent = 0;
    const traffic = setInterval(() => {
      carol.send({ type: 'send_message', room: 'channel:1', data: { content: `hi ${sent++}` } });
    }, 150);
    try {
      await eventually(
        async () =>
          page.evaluate(() => {
            const points = (selector: string) =>
              ((globalThis as any).document.querySelector(selector)?.getAttribute('d') ?? '').split('L').length;
            return (
              points('#chart-connections path.series[data-series="total"]') >= 4 &&
              ['chart-in', 'chart-out', 'chart-instances'].every((id) => points(`#${id} path.series`) >= 2)
            );
          }),
        15_000,
        'lines of a few samples on every chart',
      );
    } finally {
      clearInterval(traffic);
    }
    for (const id of ['chart-connections', 'chart-in', 'chart-out', 'chart-instances']) {
      const paths = await page.locator(`#${id} path.series`).count();
      expect(paths).toBeGreaterThanOrEqual(1);
      expect(await page.locator(`#${id}-legend li`).count()).toBe(paths);
    }
    expect(await page.locator('#chart-connections path.series').count()).toBe(5); // total + four gateways
    expect(await page.locator('#gateways-body tr').count()).toBeGreaterThanOrEqual(4);
    expect(await page.locator('#instances-body tr').count()).toBeGreaterThanOrEqual(1);
    await page.locator('#stat-connections').getByText('6', { exact: true }).waitFor();
    await mkdir(dirname(SCREENSHOT), { recursive: true });
    // Clicking a row's button may have scrolled the table sideways; the picture shows it from its start.
    await page.evaluate(() => {
      for (const wrap of (globalThis as any).document.querySelectorAll('.table-wrap')) wrap.scrollLeft = 0;
    });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    // A reload keeps the session (sessionStorage): no second sign-in.
    await page.reload();
    await row(page, 'dash-client-2').waitFor();
    expect(await page.locator('#login').isHidden()).toBe(true);

    // 1,000 clients: only one page of rows is in the DOM, and the pager walks through them.
    const crowd = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        TestClient.open(t!.wsUrl(`/ws/crowd-${String(i).padStart(4, '0')}`, hsToken({ sub: `crowd-${i}` }))),
      ),
    );
    clients.push(...crowd);
    await page.locator('#filter-gateway').selectOption('notify');
    await page.locator('#clients-summary').getByText('1,003 matching').waitFor({ timeout: 5000 });
    expect(await page.locator('#clients-body tr').count()).toBe(50);
    await page.locator('#page-next').click();
    await page.locator('#page-info').getByText('Page 2 · 51–100 of 1,003').waitFor();
    expect(await page.locator('#clients-body tr').count()).toBe(50);
    await page.locator('#page-prev').click();
    await page.locator('#page-info').getByText('Page 1 · 1–50 of 1,003').waitFor();
    for (const client of crowd) client.terminate();

    expect(problems).toEqual([]);

    // The server goes away: a clear banner.
    await t.close();
    t = undefined;
    await page.locator('#banner[data-kind="unreachable"]').getByText('Server unreachable').waitFor({ timeout: 6000 });
    await page.close();
  }, 60_000);

  it('takes the gateways from GET /ws/stats: a gateway it has never heard of gets an option, a colour and a series', async () => {
    t = await startTestApp();
    await notifyClient('gw-notify-1', { sub: 'u1', username: 'alice' });
    const carol = await t.chat({ sub: 'u3', username: 'carol' });
    clients.push(carol);
    const { status, body: stats } = await t.http('GET', '/ws/stats', { token: ADMIN_TOKEN });
    expect(status).toBe(200);
    const registered = Object.keys(stats.connections.by_gateway);
    expect(registered).toEqual(expect.arrayContaining(['chat', 'notify']));

    const { page, problems } = await openPage();
    // The answers of a server with gateways of the host's own: `extra` are listed by the stats (after
    // the registered ones, as registered later), and `cursors` has a client.
    let extra = ['cursors'];
    await page.route(
      (url) => url.pathname === '/ws/stats',
      async (route) => {
        const response = await route.fetch();
        if (!response.ok()) return route.fulfill({ response });
        const body = await response.json();
        for (const [index, gateway] of extra.entries()) {
          body.connections.by_gateway[gateway] = index + 1;
          body.cluster.connections.by_gateway[gateway] = index + 1;
          body.messages.by_gateway[gateway] = { in: 3, out: 4 };
          body.rooms[gateway] = 1;
        }
        await route.fulfill({ response, json: body });
      },
    );
    await page.route(
      (url) => url.pathname === '/ws/clients',
      async (route) => {
        const response = await route.fetch();
        const filter = new URL(route.request().url()).searchParams.get('gateway');
        if (!response.ok() || (filter !== null && filter !== 'cursors')) return route.fulfill({ response });
        const body = await response.json();
        const [model] = body.clients;
        body.clients.unshift({ ...model, id: 'cursor-7', gateway: 'cursors', user_id: 'u7', username: 'pat' });
        body.total += 1;
        await route.fulfill({ response, json: body });
      },
    );
    await page.goto(`${t.baseUrl}/ws/admin`);
    await page.locator('#token-input').fill(ADMIN_TOKEN);
    await page.locator('#login-submit').click();

    const options = () =>
      page.locator('#filter-gateway option').evaluateAll((nodes) => nodes.map((node: any) => node.value));
    const color = (selector: string) =>
      page.locator(selector).evaluate((node) => (globalThis as any).getComputedStyle(node).color as string);
    const stroke = (gateway: string) =>
      page
        .locator(`#chart-connections path.series[data-series="${gateway}"]`)
        .evaluate((node) => (globalThis as any).getComputedStyle(node).stroke as string);

    // The filter offers "all" and every gateway of the stats, in their order: nothing of its own.
    await eventually(
      async () => JSON.stringify(await options()) === JSON.stringify(['', ...registered, 'cursors']),
      5000,
      'an option per gateway of GET /ws/stats',
    );

    // A badge per gateway, each of its own colour: the four of this module as before, the new one
    // the first colour of the palette none of them takes, the same as its line in the chart.
    await row(page, 'cursor-7').waitFor();
    expect(await row(page, 'cursor-7').locator('td').nth(1).textContent()).toBe('cursors');
    await page.locator('#chart-connections-legend li[data-series="cursors"]').getByText('cursors').waitFor();
    const cursors = await color('#clients-body tr[data-client-id="cursor-7"] .badge');
    expect(cursors).toBe(await stroke('cursors'));
    expect(cursors).toBe('rgb(139, 92, 246)');
    expect(await color('#clients-body tr[data-client-id="gw-notify-1"] .badge')).toBe('rgb(190, 18, 60)');
    const listed = await page
      .locator('#gateways-body tr')
      .evaluateAll((rows) =>
        rows.map((node: any) => (globalThis as any).getComputedStyle(node.querySelector('.badge')).color),
      );
    expect(listed).toHaveLength(registered.length + 1);
    expect(new Set(listed).size).toBe(listed.length);
    expect(await color('#gateways-body tr[data-gateway="chat"] .badge')).toBe('rgb(2, 132, 199)');
    expect(await page.locator('#chart-connections path.series').count()).toBe(registered.length + 2); // and the total
    expect(await stroke('chat')).toBe('rgb(14, 165, 233)');

    // A gateway appears while one is chosen: the choice stays; one no longer listed keeps its option and series.
    await page.locator('#filter-gateway').selectOption('notify');
    await eventually(async () => (await page.locator('#clients-body tr').count()) === 1, 5000, 'the notify row');
    extra = ['presence'];
    await eventually(
      async () => JSON.stringify(await options()) === JSON.stringify(['', ...registered, 'cursors', 'presence']),
      5000,
      'an option for the new gateway, the old one kept',
    );
    expect(await page.locator('#filter-gateway').inputValue()).toBe('notify');
    await page.locator('#chart-connections-legend li[data-series="presence"]').waitFor();
    expect(await page.locator('#chart-connections path.series[data-series="cursors"]').count()).toBe(1);
    expect(await stroke('presence')).toBe('rgb(20, 184, 166)');
    expect(await row(page, 'gw-notify-1').count()).toBe(1);

    expect(problems).toEqual([]);
    await page.close();
  }, 30_000);
});
