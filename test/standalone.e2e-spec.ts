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

  it('shuts down gracefully on SIGTERM: 503 health, no new upgrades, close 1001 on every gateway, exit within 10 s, no token in logs', async () => {
    const app = await startStandalone({ JWT_SECRET: SECRET, NODE_ENV: 'production' });
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
      expect(await client.waitClose()).toEqual({ code: 1001, reason: 'Server shutting down' });
    const health = await fetch(`http://127.0.0.1:${port}/ws/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { status: string }).status).toBe('shutting_down');
    await expect(TestClient.open(url)).rejects.toThrow(/HTTP 503/);
    await expect(TestClient.open(schedulerUrl)).rejects.toThrow(/HTTP 503/);

    expect(await app.exited).toBe(0);
    expect(Date.now() - startedAt).toBeLessThan(10_000);
    expect(app.output()).toMatch(/disconnect gateway=chat .*code=1001/);
    expect(app.output()).toMatch(/disconnect gateway=scheduler .*code=1001/);
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
});
