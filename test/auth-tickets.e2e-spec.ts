import { randomBytes } from 'node:crypto';
import { captureOutput, expectNoCrash, type Captured } from './support/capture-output.js';
import { clusterPrefix, startPair, stopAll } from './support/cluster-pair.js';
import { TestClient, closeAll, eventually, type Frame } from './support/test-client.js';
import { startTestApp, type Endpoints, type TestApp } from './support/test-app.js';
import { hsToken, TEST_SECRET, type Claims } from './support/tokens.js';

const CHAT = '/api/v1/ws/connect';

/** `POST /ws/ticket` with a bearer token (or none). */
async function ticketFor(t: Endpoints, token?: string): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(`${t.baseUrl}/ws/ticket`, {
    method: 'POST',
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

async function ticket(t: Endpoints, claims: Claims): Promise<string> {
  const { status, body } = await ticketFor(t, hsToken(claims));
  expect(status).toBe(200);
  return body.ticket as string;
}

/** A connection with `?ticket=`: its first frame, or its refusal. */
async function connectWith(t: Endpoints, path: string, value: string): Promise<{ client: TestClient; first: Frame }> {
  const client = new TestClient(`${t.wsUrl(path)}${path.includes('?') ? '&' : '?'}ticket=${value}`);
  const first = await client.next();
  return { client, first };
}

async function expectRefused(t: Endpoints, value: string): Promise<void> {
  const { client, first } = await connectWith(t, CHAT, value);
  expect(first).toEqual({
    type: 'error',
    data: { error: 'Invalid or expired token', code: 4401 },
    timestamp: expect.any(String),
  });
  expect(await client.waitClose()).toEqual({ code: 4401, reason: 'Invalid or expired token' });
}

describe('one-time connect tickets (issue 24)', () => {
  let t: TestApp;
  let output: Captured;
  const open: TestClient[] = [];
  beforeAll(async () => {
    output = captureOutput();
    t = await startTestApp({ auth: { secret: TEST_SECRET, ticketTtlSec: 1 } }, [], { logLines: true });
  });
  afterEach(() => closeAll(open.splice(0)));
  afterAll(async () => {
    await t.close();
    output.restore();
  });

  it('are issued to a bearer JWT: 43 random base64url characters, their lifetime, never cached', async () => {
    const first = await ticketFor(t, hsToken({ sub: 'ana' }));
    const second = await ticketFor(t, hsToken({ sub: 'ana' }));
    expect(first.status).toBe(200);
    expect(first.body).toEqual({ ticket: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), expires_in: 1 });
    expect(first.headers.get('cache-control')).toBe('no-store');
    expect(second.body.ticket).not.toBe(first.body.ticket);
  });

  it('are refused without credentials (401) or with a bad token (401), in the module error shape', async () => {
    expect(await ticketFor(t)).toMatchObject({
      status: 401,
      body: { statusCode: 401, error: 'Unauthorized', message: ['Authentication required'] },
    });
    expect(await ticketFor(t, hsToken({ sub: 'ana' }, 'another-secret-0123456789-0123456789'))).toMatchObject({
      status: 401,
      body: { statusCode: 401, error: 'Unauthorized', message: ['Invalid or expired token'] },
    });
  });

  it('authenticate one upgrade on every gateway, as the principal that asked', async () => {
    const chat = await connectWith(t, CHAT, await ticket(t, { sub: 42, username: 'ana' }));
    const scheduler = await connectWith(t, '/ws/user', await ticket(t, { sub: 'ana' }));
    const notify = await connectWith(t, '/ws/ana-tab-1', await ticket(t, { sub: 'ana' }));
    // The checkpoint gateway sends nothing first: its first answer is to a request.
    const checkpoint = new TestClient(`${t.wsUrl('/ws/checkpoints')}?ticket=${await ticket(t, { sub: 'ana' })}`);
    open.push(chat.client, scheduler.client, notify.client, checkpoint);
    // The principal's claims travel with the ticket: a number `sub` stays a number.
    expect(chat.first).toMatchObject({ type: 'connected', data: { user_id: 42, username: 'ana' } });
    expect(scheduler.first).toMatchObject({ type: 'system_status', data: { action: 'subscribed', resourceId: 'ana' } });
    expect(notify.first).toMatchObject({ type: 'connected', content: { client_id: 'ana-tab-1' } });
    // Already authenticated: a method answers without `authenticate`.
    await checkpoint.opened;
    checkpoint.send({ id: 'm1', method: 'create_session', params: { name: 'ticketed' } });
    expect(await checkpoint.next((frame) => frame.id === 'm1')).toEqual({
      id: 'm1',
      success: true,
      result: expect.any(String),
    });
  });

  it('carry the roles of the principal (an admin ticket opens the admin-only system subscription)', async () => {
    const admin = await connectWith(t, '/ws/user', await ticket(t, { sub: 'root', roles: ['admin'] }));
    const user = await connectWith(t, '/ws/user', await ticket(t, { sub: 'joe' }));
    open.push(admin.client, user.client);
    const ask = { type: 'system_status', id: 's1', data: { action: 'subscribe', resourceType: 'system' } };
    admin.client.send(ask);
    user.client.send(ask);
    expect(await admin.client.next((frame) => frame.data?.resourceType === 'system')).toMatchObject({
      data: { action: 'subscribed', status: 'success' },
    });
    expect(await user.client.next((frame) => frame.type === 'error')).toMatchObject({ id: 's1' });
  });

  it('work once: a second use is refused 4401', async () => {
    const value = await ticket(t, { sub: 'ana' });
    const first = await connectWith(t, CHAT, value);
    open.push(first.client);
    expect(first.first.type).toBe('connected');
    await expectRefused(t, value);
  });

  it('are refused when forged, malformed or unknown', async () => {
    await expectRefused(t, randomBytes(32).toString('base64url'));
    await expectRefused(t, 'short');
    await expectRefused(t, `${'A'.repeat(42)}%2B`);
    await expectRefused(t, 'x'.repeat(4000));
  });

  it('expire after their lifetime', async () => {
    const value = await ticket(t, { sub: 'ana' });
    const issuedAt = Date.now();
    // The subject is the lifetime itself: wait it out (1 s), with a margin.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, issuedAt + 1_200 - Date.now())));
    await expectRefused(t, value);
  });

  it('win over a bad ?token= and never appear in a log line', async () => {
    const value = await ticket(t, { sub: 'ana' });
    const client = new TestClient(`${t.wsUrl(CHAT)}?ticket=${value}&token=garbage`);
    open.push(client);
    expect((await client.next()).type).toBe('connected');
    client.close();
    await client.closed;
    // Every line this app wrote (connects, refusals of used and forged tickets) is free of tickets.
    await eventually(() => output.lines.some((line) => line.includes('disconnect')), 3000, 'the disconnect line');
    expect(output.lines.some((line) => line.includes('ticket=[REDACTED]'))).toBe(true);
    expect(output.lines.some((line) => line.includes('auth_failed'))).toBe(true);
    expect(output.lines.join('\n')).not.toContain(value);
    expectNoCrash(output);
  });
});

describe('connect tickets on Redis (issue 24: any instance)', () => {
  let a: TestApp;
  let b: TestApp;
  const open: TestClient[] = [];
  beforeAll(async () => {
    [a, b] = await startPair(clusterPrefix('tickets'), { auth: { secret: TEST_SECRET } });
  });
  afterEach(() => closeAll(open.splice(0)));
  afterAll(() => stopAll([a, b]));

  it('are redeemed once on any instance: issued on A, used on B, refused on A after that', async () => {
    const value = await ticket(a, { sub: 'ana', username: 'ana' });
    const onB = await connectWith(b, CHAT, value);
    open.push(onB.client);
    expect(onB.first).toMatchObject({ type: 'connected', data: { user_id: 'ana' } });
    await expectRefused(a, value);
    await expectRefused(b, value);
  });

  it('are redeemed at most once when two instances race for the same ticket', async () => {
    const value = await ticket(a, { sub: 'ana' });
    const results = await Promise.all([connectWith(a, CHAT, value), connectWith(b, CHAT, value)]);
    open.push(...results.map((result) => result.client));
    expect(results.map((result) => result.first.type).sort()).toEqual(['connected', 'error']);
  });
});
