import { spawn } from 'node:child_process';
import { TestClient, eventually } from './support/test-client.js';
import { runStandalone as run, startStandalone } from './support/standalone-process.js';
import { hsToken } from './support/tokens.js';

const SECRET = 'standalone-secret-0123456789-0123456789';

describe('standalone app', () => {
  it('refuses to start in production without a real JWT secret', async () => {
    for (const secret of [undefined, 'change-me', 'short-secret']) {
      const app = run({ NODE_ENV: 'production', PORT: '0', ...(secret ? { JWT_SECRET: secret } : {}) });
      expect(await app.exited).toBe(1);
      expect(app.output()).toMatch(/JWT_SECRET/);
    }
  });

  it('stops at start-up on a bad variable, naming it', async () => {
    const app = run({ PORT: '0', WS_RATE_LIMIT_PER_SEC: 'lots' });
    expect(await app.exited).toBe(1);
    expect(app.output()).toMatch(/WS_RATE_LIMIT_PER_SEC/);
  });

  it('warns loudly about the development secret outside production', async () => {
    const app = await startStandalone({});
    expect(app.output()).toMatch(/INSECURE development secret/);
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
  });

  it('shuts down gracefully on SIGTERM (WS_SHUTDOWN_DRAIN=0): 503 health, no new upgrades, close 1012 on every gateway, exit within 10 s, no token in logs', async () => {
    const app = await startStandalone({ JWT_SECRET: SECRET, NODE_ENV: 'production', WS_SHUTDOWN_DRAIN: '0' });
    const port = app.port;
    const token = hsToken({ sub: '1', username: 'a' }, SECRET);
    const url = `ws://127.0.0.1:${port}/api/v1/ws/connect?token=${token}`;
    const schedulerUrl = `ws://127.0.0.1:${port}/ws/projects/p1?token=${token}`;
    const clients = await Promise.all([TestClient.open(url), TestClient.open(url), TestClient.open(schedulerUrl)]);
    // A client that never reads keeps the close handshake pending, so the shutdown window is observable.
    const stuck = await TestClient.open(url);
    await stuck.next();
    (stuck.socket as any)._socket.pause();
    await new TestClient(`ws://127.0.0.1:${port}/api/v1/ws/connect?token=bad.token.value`).waitClose();
    await new TestClient(`ws://127.0.0.1:${port}/ws/user?token=bad.token.value`).waitClose();

    const notify = await TestClient.open(`ws://127.0.0.1:${port}/ws/desk-7?token=${token}`);
    await notify.nextOfType('connected');
    notify.send({ type: 'hello', content: { text: 'hi' } });
    await eventually(
      () => /notify_message client=desk-7 user=1 type=hello bytes=13/.test(app.output()),
      5000,
      'logged',
    );
    clients.push(notify);

    const startedAt = Date.now();
    app.child.kill('SIGTERM');
    for (const client of clients)
      expect(await client.waitClose()).toEqual({ code: 1012, reason: 'Server shutting down' });
    const health = await fetch(`http://127.0.0.1:${port}/ws/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { status: string }).status).toBe('shutting_down');
    await expect(TestClient.open(url)).rejects.toThrow(/HTTP 503/);
    await expect(TestClient.open(schedulerUrl)).rejects.toThrow(/HTTP 503/);

    expect(await app.exited).toBe(0);
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    expect(app.output()).toMatch(/disconnect gateway=chat .*code=1012/);
    expect(app.output()).toMatch(/disconnect gateway=scheduler .*code=1012/);
    // Refusals from one address are summarized per second (SPEC §10.1): the scheduler's is its own
    // line, or counted in the summary when it came within the same second as the chat one.
    expect(app.output()).toMatch(/security.auth_failed gateway=chat .*ip=127\.0\.0\.1/);
    const schedulerLogged = /security.auth_failed gateway=scheduler/.test(app.output());
    const summarized = /security.auth_failed_summary ip=127\.0\.0\.1 also_refused=1/.test(app.output());
    expect([schedulerLogged, summarized]).toContainEqual(true);
    expect(schedulerLogged && summarized).toBe(false);
    expect(app.output()).not.toContain(token);
    expect(app.output()).not.toContain(token.split('.')[2]);
    expect(app.output()).not.toContain('bad.token.value');
  }, 20_000);

  it('drains on SIGTERM (SPEC §9): health 503 and upgrades refused at once, a request in flight answered, 1012 in waves over WS_SHUTDOWN_DRAIN, exit within WS_SHUTDOWN_TIMEOUT', async () => {
    const app = await startStandalone({
      JWT_SECRET: SECRET,
      NODE_ENV: 'production',
      WS_SHUTDOWN_DRAIN: '2',
      WS_SHUTDOWN_TIMEOUT: '8',
    });
    const url = (sub: string): string =>
      `ws://127.0.0.1:${app.port}/api/v1/ws/connect?token=${hsToken({ sub }, SECRET)}`;
    const clients = await Promise.all(Array.from({ length: 40 }, (_, i) => TestClient.open(url(`drain-${i}`))));
    await Promise.all(clients.map((client) => client.nextOfType('connected')));
    const rpc = await TestClient.open(
      `ws://127.0.0.1:${app.port}/ws/checkpoints?token=${hsToken({ sub: 'rpc' }, SECRET)}`,
    );
    const closedAt: number[] = [];
    for (const client of [...clients, rpc]) void client.closed.then(() => closedAt.push(Date.now()));

    rpc.send({ id: 'in-flight', method: 'create_session', params: { name: 'last words' } });
    const signalledAt = Date.now();
    app.child.kill('SIGTERM');
    // The balancer's view turns at once: 503 while connections are still open, and no new upgrade.
    await eventually(async () => (await fetch(`http://127.0.0.1:${app.port}/ws/health`)).status === 503, 3000, '503');
    expect(closedAt.length).toBeLessThan(clients.length);
    await expect(TestClient.open(url('late'))).rejects.toThrow(/HTTP 503/);

    // The request in flight was answered before its connection closed.
    expect(await rpc.next((frame) => frame.id === 'in-flight')).toMatchObject({ id: 'in-flight', success: true });
    for (const client of [...clients, rpc]) {
      expect(await client.waitClose(6000)).toEqual({ code: 1012, reason: 'Server shutting down' });
    }
    // Spread over the drain, not all at once: the closes span most of its 2 s, and no tenth of it holds a third of them.
    const offsets = closedAt.map((at) => at - signalledAt).sort((a, b) => a - b);
    expect(offsets[offsets.length - 1] - offsets[0]).toBeGreaterThan(1000);
    const perTenth = new Map<number, number>();
    for (const offset of offsets)
      perTenth.set(Math.floor(offset / 200), (perTenth.get(Math.floor(offset / 200)) ?? 0) + 1);
    expect(Math.max(...perTenth.values())).toBeLessThan(offsets.length / 3);
    expect(await app.exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(8000);
    expect(app.output()).toMatch(/shutdown connections=41 drain_ms=2000/);
  }, 30_000);

  it('writes the log lines of a burst of connects whole and in order, each connect before its disconnect', async () => {
    const app = await startStandalone({ JWT_SECRET: SECRET, NODE_ENV: 'production' });
    const users = Array.from({ length: 200 }, (_, i) => `burst-${i}`);
    const clients = await Promise.all(
      users.map((sub) =>
        TestClient.open(`ws://127.0.0.1:${app.port}/api/v1/ws/connect?token=${hsToken({ sub }, SECRET)}`),
      ),
    );
    for (const client of clients) client.close();
    await eventually(() => (app.output().match(/ disconnect gateway=chat /g) ?? []).length === 200, 10_000, 'logged');
    const lines = app.output().split('\n');
    for (const sub of users) {
      const connect = lines.findIndex(
        (line) => /^\[Nest\] \d+ .* connect gateway=chat /.test(line) && line.includes(` user=${sub} `),
      );
      const disconnect = lines.findIndex(
        (line) => / disconnect gateway=chat /.test(line) && line.includes(` user=${sub} `),
      );
      expect(connect).toBeGreaterThanOrEqual(0);
      expect(disconnect).toBeGreaterThan(connect);
    }
    app.child.kill('SIGTERM');
    expect(await app.exited).toBe(0);
  }, 30_000);

  it('loses no log line written just before the process exits', async () => {
    const script =
      "import { BatchingConsoleLogger } from './dist/realtime/index.js';" +
      "const logger = new BatchingConsoleLogger('Realtime');" +
      "for (let i = 0; i < 100; i++) logger.log('line ' + i); logger.error('last words'); process.exit(3);";
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect(code).toBe(3);
    expect(
      stdout
        .trimEnd()
        .split('\n')
        .map((line) => / (line \d+)$/.exec(line)?.[1]),
    ).toEqual(Array.from({ length: 100 }, (_, i) => `line ${i}`));
    expect(stderr).toMatch(/ERROR \[Realtime\] last words\n$/);
  });
});
