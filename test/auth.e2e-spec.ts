import { TestClient, eventually, sleep } from './support/test-client.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { confusedToken, hsToken, noneToken, rsaKeys, rsToken } from './support/tokens.js';
import { ConnectionRegistry } from '../src/realtime/index.js';

const CHAT = '/api/v1/ws/connect';

async function refused(url: string, options = {}): Promise<{ frames: any[]; code: number; reason: string }> {
  const client = new TestClient(url, options);
  const { code, reason } = await client.waitClose();
  return { frames: client.frames, code, reason };
}

function expectAuthError(result: { frames: any[]; code: number; reason: string }, reason: string): void {
  expect(result.code).toBe(4401);
  expect(result.reason).toBe(reason);
  expect(result.frames).toEqual([
    { type: 'error', data: { error: reason, code: 4401 }, timestamp: expect.any(String) },
  ]);
}

describe('upgrade authentication (SPEC §2)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      auth: {
        secret: 'test-secret-0123456789-0123456789-abcdef',
        issuer: 'https://issuer.test',
        audience: 'realtime',
        clockToleranceSec: 5,
      },
    });
  });
  afterAll(() => t.close());
  const claims = { sub: '1', username: 'a', iss: 'https://issuer.test', aud: 'realtime' };

  it('accepts a valid token from the query string', async () => {
    const client = await TestClient.open(t.wsUrl(CHAT, hsToken(claims)));
    expect((await client.next()).type).toBe('connected');
    client.close();
  });

  it('accepts a valid token from the Authorization: Bearer header', async () => {
    const client = await TestClient.open(t.wsUrl(CHAT), { headers: { authorization: `Bearer ${hsToken(claims)}` } });
    expect((await client.next()).type).toBe('connected');
    client.close();
  });

  it('prefers the query token over the header', async () => {
    const result = await refused(t.wsUrl(CHAT, 'garbage'), { headers: { authorization: `Bearer ${hsToken(claims)}` } });
    expectAuthError(result, 'Invalid or expired token');
  });

  it('refuses a missing token with an error frame, then close 4401 "Authentication required"', async () => {
    expectAuthError(await refused(t.wsUrl(CHAT)), 'Authentication required');
  });

  it.each([
    ['garbage', () => 'not.a.jwt'],
    ['a wrong signature', () => hsToken(claims, 'another-secret-another-secret-another')],
    ['an expired token', () => hsToken({ ...claims, exp: Math.floor(Date.now() / 1000) - 60 })],
    ['alg none', () => noneToken(claims)],
    ['a wrong issuer', () => hsToken({ ...claims, iss: 'https://evil.test' })],
    ['a wrong audience', () => hsToken({ ...claims, aud: 'other' })],
    ['no sub', () => hsToken({ username: 'x', iss: claims.iss, aud: claims.aud })],
  ])('refuses %s with close 4401 "Invalid or expired token"', async (_name, token) => {
    expectAuthError(await refused(t.wsUrl(CHAT, token())), 'Invalid or expired token');
  });

  it('tolerates clock skew within JWT_CLOCK_TOLERANCE, then closes 4401 "Token expired" while connected', async () => {
    const exp = Math.floor(Date.now() / 1000) - 3; // 3–4 s past exp, tolerance 5 s
    const client = await TestClient.open(t.wsUrl(CHAT, hsToken({ ...claims, exp })));
    expect((await client.next()).type).toBe('connected');
    await sleep(300);
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    expect(await client.waitClose(3000)).toEqual({ code: 4401, reason: 'Token expired' });
    expect(Date.now()).toBeGreaterThanOrEqual((exp + 5) * 1000 - 50);
  });
});

describe('public-key authentication', () => {
  const keys = rsaKeys();
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ auth: { publicKey: keys.publicKey } });
  });
  afterAll(() => t.close());

  it('accepts RS256 tokens signed by the private key', async () => {
    const client = await TestClient.open(t.wsUrl(CHAT, rsToken({ sub: '5' }, keys.privateKey)));
    expect((await client.next()).type).toBe('connected');
    client.close();
  });

  it('refuses an HS256 token signed with the public key (algorithm confusion)', async () => {
    expectAuthError(
      await refused(t.wsUrl(CHAT, confusedToken({ sub: '5' }, keys.publicKey))),
      'Invalid or expired token',
    );
  });
});

describe('upgrade routing, origins and limits', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({
      allowedOrigins: ['https://app.example.com'],
      heartbeatIntervalMs: 100,
      heartbeatTimeoutMs: 400,
    });
  });
  afterAll(() => t.close());

  async function upgradeStatus(path: string, headers: Record<string, string> = {}): Promise<number> {
    const client = new TestClient(t.wsUrl(path, hsToken({ sub: '1' })), { headers });
    return client.opened.then(
      () => {
        client.close();
        return 101;
      },
      (error: Error) => Number(/HTTP (\d+)/.exec(error.message)?.[1] ?? 0),
    );
  }

  it('answers unknown paths with HTTP 404 before upgrading', async () => {
    expect(await upgradeStatus('/nope')).toBe(404);
    expect(await upgradeStatus('/api/v1/ws/connect/extra')).toBe(404);
  });

  it('refuses an unlisted Origin with HTTP 403, accepts a listed one and a non-browser client', async () => {
    expect(await upgradeStatus(CHAT, { origin: 'https://evil.example.com' })).toBe(403);
    expect(await upgradeStatus(CHAT, { origin: 'https://app.example.com' })).toBe(101);
    expect(await upgradeStatus(CHAT)).toBe(101);
  });

  it('accepts the 5th connection of a user and refuses the 6th with 4429; other users are unaffected', async () => {
    const tabs: TestClient[] = [];
    for (let i = 0; i < 5; i++) tabs.push(await t.chat({ sub: 'limited' }));
    const sixth = await refused(t.wsUrl(CHAT, hsToken({ sub: 'limited' })));
    expect(sixth.code).toBe(4429);
    expect(sixth.reason).toBe('Too many connections');
    expect(sixth.frames).toEqual([
      { type: 'error', data: { error: 'Too many connections', code: 4429 }, timestamp: expect.any(String) },
    ]);
    const other = await t.chat({ sub: 'someone-else' });
    tabs[0].close();
    await tabs[0].waitClose();
    await eventually(async () => {
      const again = new TestClient(t.wsUrl(CHAT, hsToken({ sub: 'limited' })));
      const frame = await again.next().catch(() => undefined);
      if (frame?.type === 'connected') {
        tabs.push(again);
        return true;
      }
      return false;
    });
    [...tabs, other].forEach((c) => c.close());
  });

  it('terminates a socket that stops answering protocol pings, and keeps one that answers', async () => {
    const silent = await TestClient.open(t.wsUrl(CHAT, hsToken({ sub: 'silent' })), { autoPong: false });
    const alive = await TestClient.open(t.wsUrl(CHAT, hsToken({ sub: 'alive' })));
    const closed = await silent.waitClose(2000);
    expect(closed.code).toBe(1006);
    await sleep(300);
    expect(alive.socket.readyState).toBe(alive.socket.OPEN);
    const registry = t.app.get(ConnectionRegistry);
    expect(registry.list().map((c) => c.principal?.sub)).toEqual(['alive']);
    alive.close();
  });
});
