import { startStandalone } from './support/standalone-process.js';
import { eventually, TestClient } from './support/test-client.js';
import { hsToken } from './support/tokens.js';

/**
 * SPEC.md §10.1 (issue 11) against the standalone app as users run it (`node dist/main.js`, built
 * by `nest build`): what it writes to its output when hostile clients come, refusals summarized,
 * tokens redacted whatever the spelling, control characters escaped.
 */
const SECRET = 'hostile-process-secret-0123456789-0123456789';
const ADMIN = 'hostile-process-admin-token-0123456789';

type Started = Awaited<ReturnType<typeof startStandalone>>;

/**
 * NO_COLOR: the console logger's own colours are escape sequences too; without them, any control
 * character in the output came from a logged value.
 */
const start = (env: Record<string, string>): Promise<Started> => startStandalone({ NO_COLOR: '1', ...env });

/** Raw control characters (C0 but tab and newline, DEL, C1, U+2028/2029). */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const RAW_CONTROL = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029]/;

describe('hostile clients, the standalone process (SPEC §10.1)', () => {
  let app: Started;

  beforeAll(async () => {
    app = await start({
      JWT_SECRET: SECRET,
      WS_ADMIN_TOKEN: ADMIN,
      // The 300 refused attempts below are all pending at once: this test is about their log lines.
      WS_MAX_PENDING_UPGRADES_PER_IP: '1000',
      WS_TRUSTED_PROXIES: '127.0.0.1',
    });
  }, 90_000);

  afterAll(async () => {
    app.child.kill('SIGTERM');
    await app.exited;
  });

  const url = (path: string): string => `ws://127.0.0.1:${app.port}${path}`;

  it('300 refused attempts from one IP within a second: a handful of summarized refusal lines that account for all 300, no connect/disconnect lines', async () => {
    const from = app.output().length;
    const badToken = hsToken({ sub: 'intruder' }, 'not-the-secret-0123456789-0123456789');
    const started = Date.now();
    const attempts = Array.from({ length: 300 }, () => new TestClient(url(`/api/v1/ws/connect?token=${badToken}`)));
    const closes = await Promise.all(attempts.map((client) => client.waitClose(10_000)));
    const elapsedMs = Date.now() - started;
    expect(closes.filter((closed) => closed.code !== 4401)).toEqual([]);
    // The summary of a second is written when that second ends.
    await new Promise((resolve) => setTimeout(resolve, 2500));

    const lines = app
      .output()
      .slice(from)
      .split('\n')
      .filter((line) => line.trim() !== '');
    const refusalLines = lines.filter((line) => /security\.auth_failed/.test(line));
    const summaries = refusalLines.filter((line) => /security\.auth_failed_summary/.test(line));
    const firstLines = refusalLines.filter((line) => !summaries.includes(line));
    const alsoRefused = refusalLines.map((line) => Number(/also_refused=(\d+)/.exec(line)?.[1] ?? 0));
    console.log(
      `300 refused attempts in ${elapsedMs} ms: ${refusalLines.length} refusal lines\n${refusalLines.join('\n')}`,
    );
    expect(refusalLines.length).toBeGreaterThanOrEqual(2);
    expect(refusalLines.length).toBeLessThanOrEqual(5);
    expect(summaries.length).toBeGreaterThanOrEqual(1);
    for (const line of summaries) expect(line).toMatch(/ ip=127\.0\.0\.1 also_refused=\d+/);
    for (const line of firstLines) expect(line).toMatch(/gateway=chat .*ip=127\.0\.0\.1/);
    // Every attempt is accounted for: each first line is one refusal, `also_refused` counts the rest.
    expect(firstLines.length + alsoRefused.reduce((sum, n) => sum + n, 0)).toBe(300);
    // A refusal is logged as a refusal only, and nothing else is logged for these attempts.
    expect(lines.filter((line) => /\s(dis)?connect gateway=/.test(line))).toEqual([]);
    expect(lines.filter((line) => /security\./.test(line) && !refusalLines.includes(line))).toEqual([]);
    expect(app.output()).not.toContain(badToken.split('.')[2]);
  }, 30_000);

  it('one user flooding from 8 connections: rate-limit lines summarized per user, one a second at most, with a count', async () => {
    const from = app.output().length;
    const token = hsToken({ sub: 'flooder' }, SECRET);
    const clients = await Promise.all(
      Array.from({ length: 8 }, () => TestClient.open(url(`/ws/experiments/exp-1?token=${token}`))),
    );
    const started = Date.now();
    for (let round = 0; round < 30; round++) {
      for (const client of clients) for (let i = 0; i < 20; i++) client.send({ type: 'ping', id: `ping-${i}` });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const elapsedMs = Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    for (const client of clients) client.close();
    await Promise.all(clients.map((client) => client.waitClose(5000)));
    const lines = app
      .output()
      .slice(from)
      .split('\n')
      .filter((line) => /security\.rate_limited/.test(line));
    console.log(
      `8 connections, 4,800 frames in ${elapsedMs} ms: ${lines.length} rate-limit lines\n${lines.join('\n')}`,
    );
    expect(lines.length).toBeGreaterThanOrEqual(2);
    expect(lines.length).toBeLessThanOrEqual(2 * Math.ceil((elapsedMs + 2500) / 1000));
    for (const line of lines) expect(line).toMatch(/user=flooder/);
    expect(lines.some((line) => /rate_limited_summary .*also_refused=\d+/.test(line))).toBe(true);
  }, 30_000);

  it('a scheduler connection refused 4403 at connect is logged as one refusal, not as a connect and a disconnect', async () => {
    const from = app.output().length;
    const token = hsToken({ sub: 'outsider', acl: ['project:1'] }, SECRET);
    const client = new TestClient(url(`/ws/projects/2?token=${token}`));
    expect((await client.waitClose(5000)).code).toBe(4403);
    const ping = await TestClient.open(url(`/ws/projects/1?token=${token}`));
    ping.close();
    await ping.waitClose(5000);
    // Its own disconnect line: an earlier test's connections may still be logging theirs.
    await eventually(
      () => /disconnect gateway=scheduler[^\n]*user=outsider/.test(app.output().slice(from)),
      5000,
      'the allowed one logged',
    );
    const lines = app
      .output()
      .slice(from)
      .split('\n')
      .filter((line) => /user=outsider/.test(line));
    expect(lines.filter((line) => /security\.access_refused/.test(line))).toHaveLength(1);
    // Only the admitted connection has connect and disconnect lines.
    expect(lines.filter((line) => /\sconnect gateway=scheduler/.test(line))).toHaveLength(1);
    expect(lines.filter((line) => /\sdisconnect gateway=scheduler/.test(line))).toHaveLength(1);
  }, 15_000);

  it('a token is never written, whatever the spelling of its parameter; control characters in logged values are escaped', async () => {
    const from = app.output().length;
    const sub = 'evil\u001b[31m\u0085\u2028end';
    const token = hsToken({ sub, username: 'name\u001b[2J\u0085\u2028\u2029' }, SECRET);
    const signature = token.split('.')[2];
    const forwarded = { 'x-forwarded-for': '203.0.113.7' };

    // `%74oken` decodes to `token`: accepted, and its value redacted in the connect line's url.
    const encoded = await TestClient.open(url(`/api/v1/ws/connect?%74oken=${token}`), { headers: forwarded });
    await encoded.nextOfType('connected');
    // In the header: accepted, nothing of it logged.
    const header = await TestClient.open(url('/ws/desk-9'), { headers: { authorization: `Bearer ${token}` } });
    await header.nextOfType('connected');
    header.send({ type: 'hello', content: 'hi' });
    // `TOKEN` is not the `token` parameter (SPEC §2), but it is still never written.
    const upper = new TestClient(url(`/api/v1/ws/connect?TOKEN=${token}&access_token=${token}`));
    await upper.waitClose(5000);
    await eventually(
      () => /notify_message client=desk-9 /.test(app.output().slice(from)),
      5000,
      'the notify message logged',
    );
    encoded.close();
    header.close();
    await Promise.all([encoded.waitClose(), header.waitClose()]);
    await eventually(
      () =>
        (
          app
            .output()
            .slice(from)
            .match(/\sdisconnect gateway=/g) ?? []
        ).length >= 2,
      5000,
      'the disconnect lines',
    );

    const output = app.output().slice(from);
    expect(app.output()).not.toContain(token);
    expect(app.output()).not.toContain(signature);
    expect(app.output()).not.toContain(token.split('.')[1]);
    expect(output).toMatch(/token=\[REDACTED\]/);
    // The connect and notify lines name the user: escaped, `\u001b`, `\u0085`, `\u2028` as six characters.
    const escapedSub = 'evil\\u001b[31m\\u0085\\u2028end';
    expect(output).toContain(`connect gateway=chat id=`);
    expect(output).toMatch(
      new RegExp(`\\sconnect gateway=chat .*user="${escapedSub.replace(/[\\[\]]/g, '\\$&')}" ip=203\\.0\\.113\\.7`),
    );
    expect(output).toMatch(new RegExp(`notify_message client=desk-9 user="${escapedSub.replace(/[\\[\]]/g, '\\$&')}"`));
    expect(RAW_CONTROL.exec(app.output())).toBeNull();
  }, 20_000);

  it('REST: a 2,000-deep body is a 400 naming the depth; no response carries X-Powered-By or a stack trace', async () => {
    let deep: unknown = { leaf: true };
    for (let i = 1; i < 2000; i++) deep = { a: deep };
    const call = async (method: string, path: string, token?: string, body?: string) => {
      const response = await fetch(`http://127.0.0.1:${app.port}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body,
      });
      return {
        path,
        status: response.status,
        poweredBy: response.headers.get('x-powered-by'),
        text: await response.text(),
      };
    };
    const responses = [
      await call('POST', '/ws/publish', ADMIN, JSON.stringify({ room: 'channel:1', type: 'message', data: deep })),
      await call('POST', '/ws/send-message', ADMIN, JSON.stringify({ type: 'note', content: deep })),
      await call('POST', '/ws/publish', ADMIN, '{"room": "channel:1", "data": '),
      await call('GET', '/ws/health'),
      await call('GET', '/ws/stats', ADMIN),
      await call('GET', '/ws/stats'),
      await call('GET', '/ws/stats', 'not-a-token'),
      await call('GET', '/metrics', ADMIN),
      await call('GET', '/ws/admin', ADMIN),
    ];
    expect(responses.map(({ path, status }) => `${path} ${status}`)).toEqual([
      '/ws/publish 400',
      '/ws/send-message 400',
      '/ws/publish 400',
      '/ws/health 200',
      '/ws/stats 200',
      '/ws/stats 401',
      '/ws/stats 401',
      '/metrics 200',
      '/ws/admin 200',
    ]);
    for (const response of responses.slice(0, 2)) {
      expect((JSON.parse(response.text) as { message: string[] }).message.join(' ')).toMatch(/deep|depth|nest/i);
    }
    expect(responses.filter((response) => response.poweredBy !== null).map(({ path }) => path)).toEqual([]);
    expect(responses.filter((response) => /at .*\.(js|ts):\d+/.test(response.text)).map(({ path }) => path)).toEqual(
      [],
    );
    expect(app.output()).not.toMatch(/^\s+at\s/m);
  });
});
