import { once } from 'node:events';
import { connect } from 'node:net';
import { performance } from 'node:perf_hooks';
import { clientFrame, closeOf, jsonFrames, RawSocket, rawUpgrade, upgradeRequest } from './support/raw-socket.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';
import { eventually, sleep, TestClient, type Frame } from './support/test-client.js';
import { hsToken } from './support/tokens.js';

/**
 * SPEC.md §5 and §10.1 as issue 21 left them: what one connection, one user with many connections,
 * or many connections without a token can cost the server (CPU per frame, slots, sockets), checked
 * against the module embedded in a Nest app, on real sockets.
 */

const CHAT = '/api/v1/ws/connect';
const CHECKPOINTS = '/ws/checkpoints';
const MiB = 1024 * 1024;

const percentile = (values: number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))];
};

/** A frame `{"type":"ping","data":{…}}` of exactly `bytes` bytes holding as many keys as fit. */
function manyKeys(bytes: number, type = 'ping'): string {
  const head = `{"type":"${type}","data":{`;
  const parts: string[] = [];
  let size = head.length + 2;
  for (let i = 0; ; i++) {
    const part = `${i === 0 ? '' : ','}"k${i}":0`;
    if (size + part.length > bytes) break;
    parts.push(part);
    size += part.length;
  }
  const frame = `${head}${parts.join('')}}}`;
  return frame + ' '.repeat(bytes - frame.length);
}

/** The three shapes of a maximal frame: deep, wide (many keys), one long string. */
function shapes(bytes: number, type: string): Buffer[] {
  const deep = '['.repeat(bytes / 2) + ']'.repeat(bytes / 2);
  const text = `{"type":"${type}","content":"`;
  const long = text + 'x'.repeat(bytes - text.length - 2) + '"}';
  return [deep, manyKeys(bytes, type), long].map((payload) => {
    expect(Buffer.byteLength(payload)).toBe(bytes);
    return clientFrame(payload);
  });
}

/**
 * The bystander's chat pings (sequential, 60 ms apart: under its own frame budget), quiet and then
 * while `attack` runs; SPEC §10.1's bound: the attacked median and 90th percentile within
 * max(3 × quiet, quiet + 15 ms).
 */
async function expectBystanderUnharmed(t: TestApp, attack: (attacking: () => boolean) => Promise<void>): Promise<void> {
  const bystander = await t.chat({ sub: 'bystander' });
  const pings = async (count: number): Promise<number[]> => {
    const times: number[] = [];
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      bystander.send({ type: 'ping' });
      await bystander.nextOfType('pong', 10_000);
      times.push(performance.now() - started);
      await sleep(60);
    }
    return times;
  };
  await pings(5);
  const quiet = await pings(30);
  let attacking = true;
  const attackDone = attack(() => attacking);
  await sleep(300);
  const attacked = await pings(40);
  attacking = false;
  await attackDone;
  const report = (values: number[]): string =>
    `median ${percentile(values, 0.5).toFixed(2)} ms, p90 ${percentile(values, 0.9).toFixed(2)} ms`;
  console.log(`bystander ping: quiet ${report(quiet)}; attacked ${report(attacked)}`);
  for (const p of [0.5, 0.9]) {
    const calm = percentile(quiet, p);
    expect(percentile(attacked, p)).toBeLessThanOrEqual(Math.max(3 * calm, calm + 15));
  }
  expect(bystander.ofType('error')).toEqual([]);
  bystander.close();
}

/** Writes `frames` in turn on every socket, each waiting for its kernel buffer, while `attacking()`. */
async function flood(sockets: RawSocket[], frames: Buffer[], attacking: () => boolean): Promise<void> {
  await Promise.all(
    sockets.map(async (socket, n) => {
      for (let i = n; attacking() && !socket.closed; i++) await socket.writeDrained(frames[i % frames.length]);
    }),
  );
}

describe('hostile clients: CPU per user and per IP (SPEC §10.1)', () => {
  let t: TestApp;

  afterEach(async () => {
    await t?.close();
    t = undefined!;
  });

  it('one connection sending 1 MiB frames of ~95,000 keys does not slow a bystander: refused by the element scan, never parsed', async () => {
    t = await startTestApp();
    const attacker = await rawUpgrade(t.port, `${CHAT}?token=${hsToken({ sub: 'attacker' })}`);
    await attacker.waitFrame((frame) => frame.payload.includes('"connected"'), 5000, 'the welcome');
    const wide = clientFrame(manyKeys(MiB));
    await expectBystanderUnharmed(t, (attacking) => flood([attacker], [wide], attacking));
    const errors = jsonFrames(attacker.frames()).filter((frame) => frame.type === 'error');
    expect(errors.length).toBeGreaterThan(0);
    expect(errors.map((frame) => frame.data.error)).toContain('JSON with more than 10000 keys and elements');
    attacker.destroy();
  });

  it('one user with 20 notify connections sending maximal frames of every shape does not slow a bystander: one byte budget for the user', async () => {
    t = await startTestApp({ notify: { maxConnectionsPerUser: 20, maxConnectionsPerIp: 50 } });
    const token = hsToken({ sub: 'many-tabs' });
    const sockets = await Promise.all(Array.from({ length: 20 }, () => rawUpgrade(t.port, `/ws?token=${token}`)));
    await Promise.all(
      sockets.map((socket) => socket.waitFrame((frame) => frame.payload.includes('"connected"'), 5000, 'the welcome')),
    );
    await expectBystanderUnharmed(t, (attacking) => flood(sockets, shapes(MiB, 'log'), attacking));
    for (const socket of sockets) socket.destroy();
  });

  it('20 checkpoint sockets without a token sending 1 MiB frames do not slow a bystander: refused unparsed, one byte budget for the IP', async () => {
    t = await startTestApp();
    const sockets = await Promise.all(Array.from({ length: 20 }, () => rawUpgrade(t.port, CHECKPOINTS)));
    await expectBystanderUnharmed(t, (attacking) => flood(sockets, shapes(MiB, 'authenticate'), attacking));
    // Each frame was answered in seed 003's words without being parsed (id unknown): refused for its
    // size before authenticate, or over the IP's byte budget; none was closed for it.
    const allowed = new Set(
      ['Authentication required', 'Rate limit exceeded'].map((error) =>
        JSON.stringify({ id: 'unknown', success: false, error }),
      ),
    );
    for (const socket of sockets) {
      const replies = jsonFrames(socket.frames());
      expect(replies.length).toBeGreaterThan(0);
      for (const reply of replies) expect(allowed.has(JSON.stringify(reply))).toBe(true);
      expect(socket.frames().filter((frame) => frame.opcode === 0x8)).toEqual([]);
      socket.destroy();
    }
  });
});

describe('hostile clients: byte budgets shared per user and per IP, at their edges (SPEC §10.1)', () => {
  let t: TestApp;

  afterEach(async () => {
    await t?.close();
    t = undefined!;
  });

  /** Sends `frame` on `socket` and resolves with the next reply (a pong or the rate-limit error). */
  async function sendAndRead(socket: RawSocket, frame: Buffer): Promise<Frame> {
    const seen = jsonFrames(socket.frames()).length;
    socket.write(frame);
    await socket.waitFor(() => (jsonFrames(socket.frames()).length > seen ? true : undefined), 5000, 'a reply');
    return jsonFrames(socket.frames())[seen];
  }

  it("a user's connections share one budget: the user's burst (one maximal frame) passes on one connection, a frame on another right after is refused", async () => {
    // Per connection 64 KiB/s with 16 KiB frames, per user 16 KiB/s: one frame each would pass per
    // connection, but the user's budget holds one maximal frame (16 KiB) and refills 16 bytes a ms.
    t = await startTestApp({
      messageMaxSize: 16 * 1024,
      rateLimitBytesPerSec: 64 * 1024,
      rateLimitBytesPerSecPerUser: 16 * 1024,
    });
    const token = hsToken({ sub: 'two-tabs' });
    const [a, b] = await Promise.all([
      rawUpgrade(t.port, `${CHAT}?token=${token}`),
      rawUpgrade(t.port, `${CHAT}?token=${token}`),
    ]);
    for (const socket of [a, b]) await socket.waitFrame((f) => f.payload.includes('"connected"'), 5000, 'welcome');
    const ping = (bytes: number): Buffer => {
      const text = '{"type":"ping","pad":"';
      return clientFrame(text + 'x'.repeat(bytes - text.length - 2) + '"}');
    };
    expect((await sendAndRead(a, ping(16 * 1024))).type).toBe('pong');
    const refusedFrame = await sendAndRead(b, ping(8 * 1024));
    expect(refusedFrame).toMatchObject({ type: 'error', data: { code: 4429, error: 'Rate limit exceeded' } });
    // Another user is not touched by it.
    const other = await rawUpgrade(t.port, `${CHAT}?token=${hsToken({ sub: 'other' })}`);
    await other.waitFrame((f) => f.payload.includes('"connected"'), 5000, 'welcome');
    expect((await sendAndRead(other, ping(16 * 1024))).type).toBe('pong');
    for (const socket of [a, b, other]) socket.destroy();
  });

  it('connections without a principal share one budget per IP; a signed-in connection from that IP is not counted in it', async () => {
    t = await startTestApp({
      messageMaxSize: 16 * 1024,
      rateLimitBytesPerSec: 64 * 1024,
      rateLimitBytesPerSecPerIp: 8 * 1024,
    });
    const [a, b] = await Promise.all([rawUpgrade(t.port, CHECKPOINTS), rawUpgrade(t.port, CHECKPOINTS)]);
    const frame = (bytes: number, id: string): Buffer => {
      const text = `{"id":"${id}","method":"authenticate","params":{"token":"`;
      return clientFrame(text + 'x'.repeat(bytes - text.length - 3) + '"}}');
    };
    // The IP's burst is one maximal frame (16 KiB): 8 KiB on a, then 8 KiB on b pass; the next is refused.
    const first = await sendAndRead(a, frame(8 * 1024, 'a1'));
    expect(first).toEqual({ id: 'a1', success: false, error: 'Invalid authentication token' });
    const second = await sendAndRead(b, frame(8 * 1024, 'b1'));
    expect(second).toEqual({ id: 'b1', success: false, error: 'Invalid authentication token' });
    const third = await sendAndRead(a, frame(8 * 1024, 'a2'));
    expect(third).toEqual({ id: 'unknown', success: false, error: 'Rate limit exceeded' });
    // A connection with a token from the same address has its own budgets.
    const signedIn = await rawUpgrade(t.port, `${CHECKPOINTS}?token=${hsToken({ sub: 'signed-in' })}`);
    const text = '{"id":"s1","method":"metrics","pad":"';
    const reply = await sendAndRead(signedIn, clientFrame(text + 'x'.repeat(16 * 1024 - text.length - 2) + '"}'));
    expect(reply).toMatchObject({ id: 's1', success: true });
    for (const socket of [a, b, signedIn]) socket.destroy();
  });
});

describe('keys and elements per frame, at the edge, on every gateway (SPEC §10.1)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ maxJsonElements: 100 });
  });

  afterAll(async () => {
    await t?.close();
  });

  /** A frame of `fields` whose `extra` array brings its keys plus elements to exactly `total`. */
  const keysIn = (value: unknown): number =>
    typeof value === 'object' && value !== null
      ? Object.values(value).reduce<number>((sum, item) => sum + 1 + keysIn(item), 0)
      : 0;
  const sized = (fields: Record<string, unknown>, total: number): string => {
    const keys = keysIn(fields) + 1; // `extra` itself
    return JSON.stringify({ ...fields, extra: Array.from({ length: total - keys }, () => 0) });
  };

  it('chat: exactly WS_MAX_JSON_ELEMENTS is handled, one more is a 4400 error; the connection goes on', async () => {
    const client = await t.chat({ sub: 'elements' });
    client.send(sized({ type: 'ping' }, 100));
    await client.nextOfType('pong');
    client.send(sized({ type: 'ping' }, 101));
    expect(await client.nextOfType('error')).toMatchObject({
      data: { code: 4400, error: 'JSON with more than 100 keys and elements' },
    });
    client.send({ type: 'ping' });
    await client.nextOfType('pong');
    client.close();
  });

  it('scheduler, checkpoint and notify: one more than the bound is refused in each protocol, the bound itself passes', async () => {
    const token = hsToken({ sub: 'elements' });
    const scheduler = await TestClient.open(t.wsUrl('/ws/user', token));
    await scheduler.next((f) => f.type === 'system_status');
    scheduler.send(sized({ type: 'ping', id: 'ping-1' }, 100));
    expect(await scheduler.next((f) => f.type === 'pong')).toMatchObject({ id: 'pong-1' });
    scheduler.send(sized({ type: 'ping', id: 'ping-2' }, 101));
    // Seed 001 words every unreadable frame so.
    expect(await scheduler.next((f) => f.type === 'error')).toMatchObject({ error: 'Invalid message format' });
    scheduler.send({ type: 'ping', id: 'ping-3' });
    expect(await scheduler.next((f) => f.type === 'pong')).toMatchObject({ id: 'pong-3' });

    const checkpoint = await TestClient.open(t.wsUrl(CHECKPOINTS, token));
    checkpoint.send(sized({ id: 'm1', method: 'metrics' }, 100));
    expect(await checkpoint.next((f) => f.id === 'm1')).toMatchObject({ success: true });
    checkpoint.send(sized({ id: 'm2', method: 'metrics' }, 101));
    expect(await checkpoint.next((f) => f.id === 'unknown')).toEqual({
      id: 'unknown',
      success: false,
      error: 'Invalid JSON: JSON with more than 100 keys and elements',
    });

    const notify = await TestClient.open(t.wsUrl('/ws/elements-desk', token));
    await notify.next((f) => f.type === 'connected');
    notify.send(sized({ type: 'ping', meta: { ping_id: 'p1' } }, 100));
    expect(await notify.next((f) => f.type === 'pong')).toMatchObject({ meta: { ping_id: 'p1' } });
    notify.send(sized({ type: 'ping', meta: { ping_id: 'p2' } }, 101), { invalid: true });
    expect(await notify.next((f) => f.type === 'error')).toMatchObject({
      content: 'JSON with more than 100 keys and elements',
    });
    for (const client of [scheduler, checkpoint, notify]) client.close();
  });
});

describe('checkpoint connections before authentication (SPEC §5)', () => {
  let t: TestApp;

  afterEach(async () => {
    await t?.close();
    t = undefined!;
  });

  it('a frame over 8 KiB before authenticate is refused unparsed, with id unknown; 8 KiB exactly is read; the connection goes on', async () => {
    t = await startTestApp();
    const client = await TestClient.open(t.wsUrl(CHECKPOINTS));
    const frame = (bytes: number, id: string): string => {
      const text = `{"id":"${id}","method":"authenticate","params":{"token":"`;
      return text + 'x'.repeat(bytes - text.length - 3) + '"}}';
    };
    client.send(frame(8 * 1024, 'edge'));
    expect(await client.next((f) => f.id === 'edge')).toEqual({
      id: 'edge',
      success: false,
      error: 'Invalid authentication token',
    });
    client.send(frame(8 * 1024 + 1, 'over'));
    expect(await client.next()).toEqual({ id: 'unknown', success: false, error: 'Authentication required' });
    client.send({ id: 'auth', method: 'authenticate', params: { token: hsToken({ sub: 'late' }) } });
    expect(await client.next((f) => f.id === 'auth')).toEqual({
      id: 'auth',
      success: true,
      result: { authenticated: true },
    });
    // Authenticated, large frames are read again.
    client.send(frame(64 * 1024, 'big').replace('"authenticate"', '"metrics"'));
    expect(await client.next((f) => f.id === 'big')).toMatchObject({ success: true });
    client.close();
  });

  it('frames over 8 KiB before authenticate stay unparsed when the frame rate drops them too: every answer has id unknown', async () => {
    t = await startTestApp();
    const socket = await rawUpgrade(t.port, CHECKPOINTS);
    const text = '{"id":"big","method":"authenticate","params":{"token":"';
    const frame = clientFrame(text + 'x'.repeat(9 * 1024 - text.length - 3) + '"}}');
    socket.write(Buffer.concat(Array.from({ length: 60 }, () => frame)));
    await socket.waitFor(() => (jsonFrames(socket.frames()).length >= 60 ? true : undefined), 10_000, '60 answers');
    const answers = jsonFrames(socket.frames());
    expect(answers.filter((answer) => answer.id !== 'unknown')).toEqual([]);
    expect(answers.some((answer) => answer.error === 'Rate limit exceeded')).toBe(true);
    socket.destroy();
  });

  it('10,000 empty frames behind one request in a single write: the process goes on, the client is closed 1008 or answered', async () => {
    t = await startTestApp();
    const socket = await rawUpgrade(t.port, CHECKPOINTS);
    const first = clientFrame(JSON.stringify({ id: 'a', method: 'authenticate', params: { token: 'x' } }));
    socket.write(Buffer.concat([first, ...Array.from({ length: 10_000 }, () => clientFrame(''))]));
    await socket.ended;
    const close = socket.frames().find((frame) => frame.opcode === 0x8);
    expect(close && closeOf(close)).toEqual({ code: 1008, reason: 'Too many pending requests' });
    // The server still serves everyone else.
    const other = await TestClient.open(t.wsUrl(CHECKPOINTS, hsToken({ sub: 'after-the-flood' })));
    other.send({ id: 'm', method: 'metrics' });
    expect(await other.next((f) => f.id === 'm')).toMatchObject({ success: true });
    other.close();
  });

  it("tokenless sockets do not take the places of CHECKPOINT_MAX_CONNECTIONS: a signed-in user is admitted beside 30 of them; authenticating beyond the places is 'Server at capacity' then 1013", async () => {
    t = await startTestApp({ checkpoint: { maxConnections: 3 } });
    const anonymous = await Promise.all(Array.from({ length: 30 }, () => TestClient.open(t.wsUrl(CHECKPOINTS))));
    const signedIn = await Promise.all(
      [1, 2].map((n) => TestClient.open(t.wsUrl(CHECKPOINTS, hsToken({ sub: `member-${n}` })))),
    );
    for (const client of signedIn) {
      client.send({ id: 'm', method: 'metrics' });
      expect(await client.next((f) => f.id === 'm')).toMatchObject({ success: true });
    }
    // The third place goes to the first tokenless socket that authenticates; the next is refused.
    const login = (client: TestClient, sub: string): Promise<Frame> => {
      client.send({ id: `auth-${sub}`, method: 'authenticate', params: { token: hsToken({ sub }) } });
      return client.next((f) => f.id === `auth-${sub}`);
    };
    expect(await login(anonymous[0], 'late-1')).toMatchObject({ success: true });
    expect(await login(anonymous[1], 'late-2')).toEqual({
      id: 'auth-late-2',
      success: false,
      error: 'Server at capacity',
    });
    expect(await anonymous[1].waitClose(5000)).toMatchObject({ code: 1013 });
    // The other tokenless sockets are still open, and can still authenticate once a place is free.
    signedIn[0].close();
    await signedIn[0].waitClose(5000);
    await eventually(
      async () => (await login(anonymous[2], `late-3-${Date.now()}`)).success === true,
      5000,
      'a free place',
    );
    for (const client of [...anonymous, ...signedIn]) client.close();
  });

  it('a tokenless socket is closed 4401 after 10 s without authenticate, and cut off 2 s later when it does not answer the close', async () => {
    t = await startTestApp();
    const silent = await RawSocket.open(t.port);
    silent.write(upgradeRequest(CHECKPOINTS));
    expect((await silent.response()).status).toBe(101);
    const closeFrame = await silent.waitFrame((frame) => frame.opcode === 0x8, 12_000, 'the close frame');
    expect(closeOf(closeFrame)).toEqual({ code: 4401, reason: 'Authentication required' });
    const closeSeenAt = Date.now();
    // It never answers the close: the server ends the TCP connection after its 2 s grace.
    const endedAt = await silent.ended;
    expect(endedAt - closeSeenAt).toBeGreaterThanOrEqual(1500);
    expect(endedAt - closeSeenAt).toBeLessThan(5000);
  }, 20_000);

  it('1,000 pipelined requests get exactly 1,000 answers, each with its id, in the order sent (the rate-limited ones too)', async () => {
    t = await startTestApp();
    const client = await TestClient.open(t.wsUrl(CHECKPOINTS, hsToken({ sub: 'pipeliner' })));
    const ids = Array.from({ length: 1000 }, (_, i) => `p-${i}`);
    for (const id of ids) client.send({ id, method: 'metrics' });
    await eventually(
      () => client.frames.length >= 1000,
      15_000,
      () => `1,000 answers (have ${client.frames.length})`,
    );
    client.send({ id: 'last', method: 'metrics' });
    await eventually(() => client.frames.some((f) => f.id === 'last' || f.id === 'unknown'), 5000, 'the last answer');
    const answers = client.frames.filter((f) => f.id !== 'last');
    expect(answers.map((f) => f.id)).toEqual(ids);
    const served = answers.filter((f) => f.success === true).length;
    const limited = answers.filter((f) => f.error === 'Rate limit exceeded').length;
    expect(served + limited).toBe(1000);
    expect(served).toBeGreaterThanOrEqual(40);
    expect(limited).toBeGreaterThan(0);
    client.close();
  });
});

describe('refused connections and paths (SPEC §10.1)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ requireAcl: true });
  });

  afterAll(async () => {
    await t?.close();
  });

  it('a scheduler connection refused 4403 at connect that never answers the close is cut off after the 2 s grace', async () => {
    const socket = await RawSocket.open(t.port);
    socket.write(upgradeRequest(`/ws/projects/7?token=${hsToken({ sub: 'no-acl', acl: [] })}`));
    expect((await socket.response()).status).toBe(101);
    const closeFrame = await socket.waitFrame((frame) => frame.opcode === 0x8, 5000, 'the close frame');
    expect(closeOf(closeFrame)).toEqual({ code: 4403, reason: 'Forbidden' });
    expect(jsonFrames(socket.frames())).toEqual([expect.objectContaining({ type: 'error', error: 'Forbidden' })]);
    const closeSeenAt = Date.now();
    const endedAt = await socket.ended;
    expect(endedAt - closeSeenAt).toBeLessThan(5000);
  });

  it.each([
    '/ws/projects/../checkpoints',
    '/ws/projects/%2e%2e/checkpoints',
    '/ws/./checkpoints',
    '/api/v1/ws/../ws/connect',
  ])('an upgrade to %s is a 404, never another gateway', async (path) => {
    const socket = await RawSocket.open(t.port);
    socket.write(upgradeRequest(`${path}?token=${hsToken({ sub: 'dots' })}`));
    expect((await socket.response()).status).toBe(404);
    socket.destroy();
  });

  it.each(['/ws/x/../stats', '/ws/./stats', '/ws/%2e/health'])('REST %s is a 404', async (path) => {
    const socket = await RawSocket.open(t.port);
    socket.write(
      `GET ${path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer ${ADMIN_TOKEN}\r\nConnection: close\r\n\r\n`,
    );
    expect((await socket.response()).status).toBe(404);
    socket.destroy();
  });

  it('a user agent of 9 KB and a username of 2 KB are kept as their first 256 characters', async () => {
    const client = await TestClient.open(t.wsUrl(CHAT, hsToken({ sub: 'long-strings', username: 'u'.repeat(2048) })), {
      headers: { 'user-agent': 'a'.repeat(9 * 1024) },
    });
    await client.nextOfType('connected');
    const { body } = await t.http('GET', '/ws/clients?user=long-strings', { token: ADMIN_TOKEN });
    expect(body.clients).toHaveLength(1);
    expect(body.clients[0].user_agent ?? body.clients[0].userAgent).toBe('a'.repeat(256));
    expect(body.clients[0].username).toBe('u'.repeat(256));
    client.close();
  });
});

describe('pending bounds cannot be escaped with a keep-alive request first (SPEC §5, §10.1)', () => {
  let t: TestApp;

  afterEach(async () => {
    await t?.close();
    t = undefined!;
  });

  it('tokenless checkpoint sockets that first served a REST request still count as pending sockets of their address', async () => {
    t = await startTestApp({ maxPendingUpgradesPerIp: 5 });
    const viaRest = async (): Promise<RawSocket> => {
      const socket = await RawSocket.open(t.port);
      socket.write('GET /ws/health HTTP/1.1\r\nHost: localhost\r\n\r\n');
      const { status, head } = await socket.response();
      expect(status).toBe(200);
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1]);
      await socket.waitFor(
        () => (socket.received.length >= Buffer.byteLength(head) + 4 + length ? true : undefined),
        5000,
        'the whole health answer',
      );
      // What follows is the upgrade's answer only.
      socket.received = Buffer.alloc(0);
      socket.write(upgradeRequest(CHECKPOINTS));
      return socket;
    };
    const admitted: RawSocket[] = [];
    for (let i = 0; i < 5; i++) {
      const socket = await viaRest();
      expect((await socket.response()).status).toBe(101);
      admitted.push(socket);
    }
    // The sixth connection from this address is dropped at once: five tokenless sockets are pending.
    const sixth = await RawSocket.open(t.port);
    sixth.write('GET /ws/health HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await sixth.ended;
    expect(sixth.received.length).toBe(0);
    // Authenticating frees a place.
    admitted[0].write(
      clientFrame(JSON.stringify({ id: 'a', method: 'authenticate', params: { token: hsToken({ sub: 'p' }) } })),
    );
    await admitted[0].waitFrame((frame) => frame.payload.includes('"authenticated":true'), 5000, 'authenticated');
    const seventh = await viaRest();
    expect((await seventh.response()).status).toBe(101);
    for (const socket of [...admitted, seventh]) socket.destroy();
  });
});

describe('refused upgrades do not hold pending places (SPEC §10.1)', () => {
  let t: TestApp;

  afterAll(async () => {
    await t?.close();
  });

  it('refused upgrades whose clients never close (half-open) are closed by the server: the address may connect again', async () => {
    t = await startTestApp({ maxPendingUpgradesPerIp: 3 });
    // Clients that keep their side open after the server's answer, as an attacker's would.
    const held = await Promise.all(
      Array.from({ length: 3 }, async () => {
        const socket = connect({ port: t.port, host: '127.0.0.1', allowHalfOpen: true });
        socket.on('error', () => undefined);
        await once(socket, 'connect');
        let received = '';
        socket.on('data', (chunk: Buffer) => (received += chunk.toString('latin1')));
        socket.write(upgradeRequest('/nope'));
        await eventually(() => received.startsWith('HTTP/1.1 404'), 5000, 'the 404');
        return socket;
      }),
    );
    // Were the three still pending, every new socket from this address would be dropped.
    await eventually(
      async () => (await fetch(`${t.baseUrl}/ws/health`).catch(() => undefined))?.status === 200,
      5000,
      'a new request from the address served',
    );
    for (const socket of held) socket.destroy();
  });
});

describe('REST requests: slow bodies and credentials (SPEC §10.1)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ maxPendingUpgradesPerIp: 8 });
  });

  afterAll(async () => {
    await t?.close();
  });

  const post = (path: string, token: string | undefined, length: number): string =>
    `POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n` +
    `${token ? `Authorization: Bearer ${token}\r\n` : ''}\r\n`;

  it('without admin credentials, a POST is answered 401 at once, before its body is sent, and its connection closed', async () => {
    for (const path of ['/ws/publish', '/ws/send-message', '/WS/Send-Message', '/ws/publish/']) {
      const socket = await RawSocket.open(t.port);
      socket.write(post(path, undefined, 100_000));
      socket.write('{"room":');
      expect((await socket.response()).status).toBe(401);
      await socket.ended;
      const forbidden = await RawSocket.open(t.port);
      forbidden.write(post(path, hsToken({ sub: 'not-admin' }), 100_000));
      expect((await forbidden.response()).status).toBe(403);
      await forbidden.ended;
    }
  });

  it('an admin request whose body does not arrive whole within 10 s is cut off; open requests are bounded per IP', async () => {
    const slow = await Promise.all(Array.from({ length: 8 }, () => RawSocket.open(t.port)));
    for (const socket of slow) socket.write(post('/ws/publish', ADMIN_TOKEN, 1000) + '{');
    // The ninth open request from this address is dropped at once.
    await eventually(
      async () => {
        const ninth = await RawSocket.open(t.port);
        ninth.write(post('/ws/publish', ADMIN_TOKEN, 2) + '{}');
        await ninth.ended;
        return ninth.received.length === 0;
      },
      5000,
      'the ninth request dropped',
    );
    // Dribbling a byte a second does not keep them: all are cut off by the 10 s deadline.
    const startedAt = Date.now();
    const dribble = setInterval(() => slow.forEach((socket) => socket.closed || socket.write(' ')), 1000);
    try {
      await Promise.all(slow.map((socket) => socket.ended));
    } finally {
      clearInterval(dribble);
    }
    expect(Date.now() - startedAt).toBeLessThan(12_000);
    for (const socket of slow) expect(socket.received.length).toBe(0);
    // And the address may send requests again.
    expect((await t.http('GET', '/ws/stats', { token: ADMIN_TOKEN })).status).toBe(200);
  }, 20_000);
});
