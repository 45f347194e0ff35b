import { performance } from 'node:perf_hooks';
import {
  clientFrame,
  closeOf,
  jsonFrames,
  RawSocket,
  rawUpgrade,
  upgradeRequest,
  type ServerFrame,
} from './support/raw-socket.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';
import { eventually, sleep, TestClient } from './support/test-client.js';
import { hsToken } from './support/tokens.js';

/**
 * SPEC.md §10.1 "Hostile clients cannot stall or exhaust the server" (issue 11), against the module
 * embedded in a Nest app: CPU (depth scan, byte budget), connections before authentication,
 * trusted proxies, and REST bodies. The real-process checks (log lines) are in
 * hostile-clients-process.e2e-spec.ts.
 */

const CHAT = '/api/v1/ws/connect';
const MiB = 1024 * 1024;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** When `ended` resolves, or NaN if it has not after `ms` (the timer is cleared either way). */
async function endedWithin(ended: Promise<number>, ms: number): Promise<number> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<number>((resolve) => (timer = setTimeout(() => resolve(Number.NaN), ms)));
  try {
    return await Promise.race([ended, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** One value of a Prometheus counter or gauge (0 when the series is absent). */
async function metric(t: TestApp, name: string, labels: string): Promise<number> {
  const text = (await t.http('GET', '/metrics', { token: ADMIN_TOKEN })).body as string;
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

/** The admin view of the connected clients. */
async function clients(t: TestApp, query = ''): Promise<Array<Record<string, any>>> {
  const { status, body } = await t.http('GET', `/ws/clients${query}`, { token: ADMIN_TOKEN });
  expect(status).toBe(200);
  return body.clients;
}

const isChatError = (frame: Record<string, any>, error: string | RegExp, code: number): boolean =>
  frame.type === 'error' &&
  frame.data?.code === code &&
  (typeof error === 'string' ? frame.data?.error === error : error.test(String(frame.data?.error)));

describe('hostile clients: CPU (SPEC §10.1)', () => {
  let t: TestApp;

  afterEach(async () => {
    await t?.close();
    t = undefined!;
  });

  /**
   * A bystander's ping round trips, quiet and then while an attacker on a raw socket sends 1 MiB
   * frames nested 524288 deep (exactly `messageMaxSize`) and small deep frames, paced by `attack`;
   * then the tally of what became of the attacker's frames.
   */
  async function underAttack(
    attack: (
      send: { big(): Promise<void>; small(): void; depthRefusals(): number },
      attacking: () => boolean,
    ) => Promise<void>,
  ) {
    const bystander = await t.chat({ sub: 'bystander' });
    let bystanderFrames = 0;
    /** Sequential pings, 60 ms apart (16/s: under the bystander's own frame budget); round trips in ms. */
    const pings = async (count: number): Promise<number[]> => {
      const times: number[] = [];
      for (let i = 0; i < count; i++) {
        const started = performance.now();
        bystander.send({ type: 'ping' });
        bystanderFrames++;
        await bystander.nextOfType('pong', 10_000);
        times.push(performance.now() - started);
        await sleep(60);
      }
      return times;
    };
    await pings(5); // warm-up
    const quiet = await pings(30);

    // Premasked frames with a random mask, so the server unmasks every byte as with a real
    // client, while the test process spends nothing on them.
    const attacker = await rawUpgrade(t.port, `${CHAT}?token=${hsToken({ sub: 'attacker' })}`);
    await attacker.waitFrame((frame) => frame.payload.includes('"connected"'), 3000, 'the welcome');
    const deep = '['.repeat(MiB / 2) + ']'.repeat(MiB / 2);
    expect(Buffer.byteLength(deep)).toBe(MiB);
    const big = clientFrame(deep);
    const small = clientFrame('['.repeat(64) + ']'.repeat(64));
    const sent = { big: 0, small: 0 };
    let attacking = true;
    const attackStarted = Date.now();
    const attackDone = attack(
      {
        big: async () => {
          sent.big++;
          await attacker.writeDrained(big);
        },
        small: () => {
          sent.small++;
          attacker.write(small);
        },
        depthRefusals: () =>
          jsonFrames(attacker.frames()).filter((frame) => isChatError(frame, 'JSON nested deeper than 32', 4400))
            .length,
      },
      () => attacking && !attacker.closed,
    );
    await sleep(200);
    const attacked = await pings(40);
    attacking = false;
    await attackDone;
    const attackMs = Date.now() - attackStarted;
    const attackFrames = sent.big + sent.small;

    // Every frame reached the server (counted in) before the tally.
    const expectedIn = attackFrames + bystanderFrames;
    await eventually(
      async () => (await metric(t, 'realtime_messages_received_total', 'gateway="chat"')) >= expectedIn,
      15_000,
      'all frames received',
    );
    await sleep(300);
    // A connection over its byte budget is not read from for a while, so its last frames may be
    // read (and answered) after the attack: notices are bounded over the whole span.
    const spanMs = Date.now() - attackStarted;
    const replies = jsonFrames(attacker.frames()).filter((frame) => frame.type !== 'connected');
    const depthErrors = replies.filter((frame) => isChatError(frame, 'JSON nested deeper than 32', 4400));
    const rateNotices = replies.filter((frame) => isChatError(frame, 'Rate limit exceeded', 4429));
    const result = {
      bystander,
      attacker,
      quietMedian: median(quiet),
      attackedMedian: median(attacked),
      attackedMax: Math.max(...attacked),
      attackMs,
      sent,
      attackFrames,
      expectedIn,
      received: await metric(t, 'realtime_messages_received_total', 'gateway="chat"'),
      dropped: await metric(t, 'realtime_rate_limited_frames_total', 'gateway="chat"'),
      replies,
      depthErrors,
      rateNotices,
      spanMs,
    };
    console.log(
      `bystander ping: quiet median ${result.quietMedian.toFixed(3)} ms, attacked median ` +
        `${result.attackedMedian.toFixed(3)} ms (max ${result.attackedMax.toFixed(1)} ms); attack ${attackMs} ms: ` +
        `${sent.big} frames of 1 MiB + ${sent.small} small deep frames sent, ${result.dropped} dropped by the budgets, ` +
        `${depthErrors.length} refused by the depth scan, ${rateNotices.length} rate-limit notices`,
    );
    return result;
  }

  /** What must hold of any attack: each attacker frame dropped by a budget or refused by the depth scan, nothing else. */
  async function expectAllRefused(run: Awaited<ReturnType<typeof underAttack>>): Promise<void> {
    // The bystander: every ping answered (awaited above), never rate-limited.
    expect(run.bystander.ofType('error')).toEqual([]);
    // Exactly the bystander's and the attacker's frames came in; each of the attacker's was either
    // dropped by a budget or refused with the depth error: no other reply, nothing processed.
    expect(run.received).toBe(run.expectedIn);
    expect(run.replies.filter((f) => !run.depthErrors.includes(f) && !run.rateNotices.includes(f))).toEqual([]);
    expect(run.dropped + run.depthErrors.length).toBe(run.attackFrames);
    expect(run.depthErrors.length).toBeGreaterThanOrEqual(1);
    // The frame budget held: at most its burst (40) plus 20 a second were parsed at all.
    expect(run.depthErrors.length).toBeLessThanOrEqual(40 + Math.ceil((run.attackMs / 1000) * 20) + 1);
    expect(run.dropped).toBeGreaterThan(0);
    expect(run.rateNotices.length).toBeGreaterThanOrEqual(1);
    expect(run.rateNotices.length).toBeLessThanOrEqual(Math.ceil(run.spanMs / 1000) + 1);
    // Its connection goes on (no close, no 1009: the frames were within the size limit), and its budget comes back.
    expect(run.attacker.frames().filter((frame) => frame.opcode === 0x8)).toEqual([]);
    await sleep(1100);
    run.attacker.write(clientFrame(JSON.stringify({ type: 'ping' })));
    await run.attacker.waitFrame((frame) => frame.payload.includes('"pong"'), 5000, 'the attacker pong');
    run.attacker.destroy();
    run.bystander.close();
  }

  it("a client sending 1 MiB deep-nested frames at its frame and byte budgets does not slow a bystander's ping; none of its frames is processed", async () => {
    // The defaults, spelled out: frames up to 1 MiB, 1 MiB/s of bytes, 20 frames/s (burst 40), depth 32.
    t = await startTestApp({ messageMaxSize: MiB, rateLimitBytesPerSec: MiB, rateLimitPerSec: 20, maxJsonDepth: 32 });
    const run = await underAttack(async (send, attacking) => {
      // At every limit at once: a maximal frame (the whole byte burst), refused by the depth scan
      // (so it got past both budgets); the rest of the frame burst in small deep frames; then, a
      // little over both budgets, a maximal frame every 500 ms (2 MiB/s) and a small one every 40 ms
      // (25 frames/s), so that both budgets keep refusing.
      await send.big();
      await eventually(() => send.depthRefusals() === 1, 5000, 'the first maximal frame refused by the depth scan');
      for (let i = 0; i < 39; i++) send.small();
      let lastBig = Date.now();
      while (attacking()) {
        await sleep(40);
        send.small();
        if (Date.now() - lastBig >= 500) {
          lastBig = Date.now();
          await send.big();
        }
      }
    });
    // The bystander's round trip is not raised beyond a few milliseconds (compared with the quiet
    // median in the same test, not an absolute bound).
    expect(run.attackedMedian).toBeLessThan(10 * run.quietMedian + 3);
    await expectAllRefused(run);
  }, 30_000);

  it('a client flooding 1 MiB deep-nested frames far beyond its budgets: every frame is dropped or refused, the bystander is still answered', async () => {
    t = await startTestApp({ messageMaxSize: MiB, rateLimitBytesPerSec: MiB, rateLimitPerSec: 20, maxJsonDepth: 32 });
    const run = await underAttack(async (send, attacking) => {
      while (attacking()) {
        await send.big(); // as fast as the socket drains
        for (let i = 0; i < 4; i++) send.small();
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    // Past its byte budget the attacker is not read from until the budget is back, so even a flood
    // costs the server no more than the budget: the bystander's round trip stays where it was.
    expect(run.sent.big).toBeGreaterThan(5);
    expect(run.attackedMedian).toBeLessThan(10 * run.quietMedian + 3);
    await expectAllRefused(run);
  }, 40_000);

  it('byte budget at its edge: one maximal frame passes, the next right after it is refused with the rate-limit error, then the budget is back', async () => {
    t = await startTestApp({ rateLimitBytesPerSec: 8192, messageMaxSize: 8192, rateLimitPerSec: 20 });
    const chat = await t.chat({ sub: 'edge' });
    /** A ping padded to exactly `bytes` bytes (the ping handler ignores other fields). */
    const ping = (tag: string, bytes: number): string => {
      const bare = JSON.stringify({ type: 'ping', tag, pad: '' });
      const frame = JSON.stringify({ type: 'ping', tag, pad: 'x'.repeat(bytes - bare.length) });
      expect(Buffer.byteLength(frame)).toBe(bytes);
      return frame;
    };
    const pongs = (): number => chat.ofType('pong').length;

    chat.send(ping('first', 8192));
    chat.send(ping('second', 1024)); // sent right after: 1024 bytes take 125 ms to come back
    await chat.nextOfType('pong');
    expect(await chat.nextOfType('error')).toEqual({
      type: 'error',
      data: { error: 'Rate limit exceeded', code: 4429 },
      timestamp: expect.any(String),
    });
    await sleep(300);
    expect(pongs()).toBe(1); // the second ping was dropped, not answered
    expect(await metric(t, 'realtime_rate_limited_frames_total', 'gateway="chat"')).toBe(1);

    // About a second later the budget is full again: another maximal frame is answered.
    await sleep(900);
    chat.send(ping('third', 8192));
    await chat.nextOfType('pong');
    expect(pongs()).toBe(2);
    // And the next maximal frame right after it is refused again (the burst is one frame, not more).
    chat.send(ping('fourth', 8192));
    await sleep(300);
    expect(pongs()).toBe(2);
    expect(await metric(t, 'realtime_rate_limited_frames_total', 'gateway="chat"')).toBe(2);
    expect(chat.socket.readyState).toBe(chat.socket.OPEN);
    // A frame over the size limit is still closed with 1009 (the budget does not replace it).
    chat.send(ping('too-big', 8193));
    expect((await chat.waitClose()).code).toBe(1009);
  });
});

describe('hostile clients: connections before authentication (SPEC §10.1)', () => {
  let t: TestApp;

  afterEach(async () => {
    await t?.close();
    t = undefined!;
  });

  it('a refused connection that never answers the close frame is cut off after the 2 s grace; half an upgrade request, or none, is dropped after 10 s', async () => {
    t = await startTestApp({ chat: { maxConnectionsPerUser: 1 } });
    // Started first: it takes 10 s, the other checks run meanwhile.
    const half = await RawSocket.open(t.port);
    half.write(upgradeRequest(`${CHAT}?token=${hsToken({ sub: 'slow' })}`, {}, true));
    const silent = await RawSocket.open(t.port); // connects and sends nothing at all

    /** A raw upgrade that is refused: it reads what it is sent and never writes anything back. */
    const refusedSilently = async (
      path: string,
    ): Promise<{ frames: ServerFrame[]; upgradedAt: number; closedAt: number }> => {
      const raw = await rawUpgrade(t.port, path);
      const upgradedAt = Date.now();
      await raw.waitFrame((frame) => frame.opcode === 0x8, 3000, 'a close frame');
      const closedAt = await endedWithin(raw.ended, 10_000);
      raw.destroy();
      return { frames: raw.frames(), upgradedAt, closedAt };
    };
    const kept = await t.chat({ sub: 'one' });
    const [noToken, badToken, overLimit] = await Promise.all([
      refusedSilently(CHAT),
      refusedSilently(`${CHAT}?token=${hsToken({ sub: 'x' }, 'another-secret-0123456789-0123456789')}`),
      refusedSilently(`${CHAT}?token=${hsToken({ sub: 'one' })}`),
    ]);
    const expectations: Array<[typeof noToken, string, number]> = [
      [noToken, 'Authentication required', 4401],
      [badToken, 'Invalid or expired token', 4401],
      [overLimit, 'Too many connections', 4429],
    ];
    for (const [result, reason, code] of expectations) {
      expect(jsonFrames(result.frames)).toEqual([
        { type: 'error', data: { error: reason, code }, timestamp: expect.any(String) },
      ]);
      expect(closeOf(result.frames.find((frame) => frame.opcode === 0x8)!)).toEqual({ code, reason });
      // Not before the grace (the client may still answer), and not long after it (ws alone waits 30 s).
      const heldMs = result.closedAt - result.upgradedAt;
      expect(heldMs).toBeGreaterThanOrEqual(1500);
      expect(heldMs).toBeLessThanOrEqual(6000);
    }
    // The admitted connection is untouched.
    kept.send({ type: 'ping' });
    await kept.nextOfType('pong');

    for (const raw of [half, silent]) {
      const closedAt = await endedWithin(raw.ended, 16_000);
      const heldMs = closedAt - raw.connectedAt;
      expect(raw.received.length).toBe(0); // dropped, not answered
      expect(heldMs).toBeGreaterThanOrEqual(9000);
      expect(heldMs).toBeLessThanOrEqual(15_000);
    }
    // The server still serves.
    expect((await t.http('GET', '/ws/health')).status).toBe(200);
    kept.close();
  }, 30_000);

  it('pending sockets are bounded per IP: beyond 20 idle sockets the next are closed at once; the same IP connects again once the idle ones are gone', async () => {
    t = await startTestApp({ maxPendingUpgradesPerIp: 20 });
    const idle: RawSocket[] = [];
    for (let i = 0; i < 30; i++) idle.push(await RawSocket.open(t.port));
    await sleep(700);
    const indices = (which: (raw: RawSocket) => boolean): number[] =>
      idle.flatMap((raw, i) => (which(raw) ? [i + 1] : []));
    // The 21st to the 30th were closed by the server at once, unanswered; the first 20 are held.
    expect(indices((raw) => raw.closed)).toEqual([21, 22, 23, 24, 25, 26, 27, 28, 29, 30]);
    expect(indices((raw) => raw.closed && raw.closedAt! - raw.connectedAt < 700)).toHaveLength(10);
    expect(indices((raw) => raw.received.length > 0)).toEqual([]);

    // While 20 are pending, a normal client from the same address is refused too (it could be one of them).
    await expect(TestClient.open(t.wsUrl(CHAT, hsToken({ sub: 'normal' })))).rejects.toThrow();

    // Once the idle ones are gone (here the client gives up on them: the header timeout is checked
    // above), the address is served again.
    for (const raw of idle) raw.destroy();
    await eventually(
      () =>
        TestClient.open(t.wsUrl(CHAT, hsToken({ sub: 'probe' }))).then(
          (client) => (client.close(), true),
          () => false,
        ),
      3000,
      'a connection accepted once the idle sockets are gone',
    );
    const normal = await t.chat({ sub: 'normal' });
    normal.send({ type: 'ping' });
    await normal.nextOfType('pong');
    normal.close();
  }, 30_000);

  it('pending sockets are bounded in total; a trusted proxy is not counted as one client (per-IP bound not applied to it)', async () => {
    t = await startTestApp({ trustedProxies: ['127.0.0.1'], maxPendingUpgradesPerIp: 3, maxPendingUpgrades: 8 });
    const idle: RawSocket[] = [];
    for (let i = 0; i < 10; i++) idle.push(await RawSocket.open(t.port));
    await sleep(700);
    // More than 3 from the proxy's address are kept; the total bound (8) still holds.
    expect(idle.flatMap((raw, i) => (raw.closed ? [i + 1] : []))).toEqual([9, 10]);
    for (const raw of idle) raw.destroy();
    await eventually(
      () =>
        TestClient.open(t.wsUrl(CHAT, hsToken({ sub: 'after' }))).then(
          (client) => (client.close(), true),
          () => false,
        ),
      3000,
      'a connection accepted once the idle sockets are gone',
    );
  });
});

describe('hostile clients: behind a trusted proxy (SPEC §10.1)', () => {
  let t: TestApp;

  afterEach(async () => {
    await t?.close();
    t = undefined!;
  });

  const chatVia = async (headers: Record<string, string>, sub: string): Promise<TestClient> => {
    const client = await TestClient.open(t.wsUrl(CHAT, hsToken({ sub })), { headers });
    await client.nextOfType('connected');
    return client;
  };
  const ipOf = async (sub: string): Promise<string> => {
    const found = (await clients(t, `?gateway=chat&user=${sub}`)).map((client) => client.ip);
    expect(found).toHaveLength(1);
    return found[0];
  };
  const scheduler = (sub: string, forwardedFor: string): TestClient =>
    new TestClient(t.wsUrl('/ws/projects/1', hsToken({ sub })), { headers: { 'x-forwarded-for': forwardedFor } });

  it('with the loopback peer trusted: X-Forwarded-For and Forwarded give the client IP, in the admin view and in per-IP limits', async () => {
    t = await startTestApp({ trustedProxies: ['127.0.0.1'], scheduler: { maxConnectionsPerIp: 2 } });
    const opened = [
      await chatVia({ 'x-forwarded-for': '203.0.113.7' }, 'xff'),
      await chatVia({ forwarded: 'for=198.51.100.9' }, 'fwd'),
      await chatVia({ forwarded: 'for="[2001:db8::1]:443";proto=https' }, 'fwd6'),
      // A spoofed first hop: only the address the trusted proxy saw counts.
      await chatVia({ 'x-forwarded-for': '10.9.9.9, 203.0.113.8' }, 'chain'),
      await chatVia({}, 'direct'),
    ];
    expect(await ipOf('xff')).toBe('203.0.113.7');
    expect(await ipOf('fwd')).toBe('198.51.100.9');
    expect(await ipOf('fwd6')).toBe('2001:db8::1');
    expect(await ipOf('chain')).toBe('203.0.113.8');
    expect(await ipOf('direct')).toBe('127.0.0.1');

    // Scheduler, 2 connections per IP: two as A and one as B are accepted, a third as A is refused.
    const A = '203.0.113.10';
    const B = '203.0.113.11';
    const accepted = [scheduler('s1', A), scheduler('s2', A), scheduler('s3', B)];
    for (const client of accepted) await client.nextOfType('system_status');
    const third = scheduler('s4', A);
    expect(await third.waitClose()).toEqual({ code: 4429, reason: 'Too many connections' });
    expect(third.ofType('error').map((frame) => frame.error)).toEqual(['Too many connections']);
    const ips = (await clients(t, '?gateway=scheduler')).map((client) => client.ip).sort();
    expect(ips).toEqual([A, A, B]);
    for (const client of [...opened, ...accepted]) client.close();
  });

  it('with no trusted proxy: the forwarding headers are ignored, in the admin view and in per-IP limits', async () => {
    t = await startTestApp({ trustedProxies: [], scheduler: { maxConnectionsPerIp: 2 } });
    const opened = [
      await chatVia({ 'x-forwarded-for': '203.0.113.7' }, 'xff'),
      await chatVia({ forwarded: 'for=198.51.100.9' }, 'fwd'),
    ];
    expect(await ipOf('xff')).toBe('127.0.0.1');
    expect(await ipOf('fwd')).toBe('127.0.0.1');
    const accepted = [scheduler('s1', '203.0.113.10'), scheduler('s2', '203.0.113.11')];
    for (const client of accepted) await client.nextOfType('system_status');
    const third = scheduler('s3', '203.0.113.12');
    expect((await third.waitClose()).code).toBe(4429);
    for (const client of [...opened, ...accepted]) client.close();
  });
});

describe('hostile clients: REST bodies and headers (SPEC §10.1)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ maxJsonDepth: 32 });
  });

  afterAll(() => t.close());

  const deepObject = (levels: number): unknown => {
    let value: unknown = { leaf: true };
    for (let i = 1; i < levels; i++) value = { a: value };
    return value;
  };
  const STACK = /at .*\.(js|ts):\d+/;

  async function call(
    method: string,
    path: string,
    body?: string,
    token: string | null = ADMIN_TOKEN,
  ): Promise<{ status: number; headers: Headers; text: string }> {
    const response = await fetch(`${t.baseUrl}${path}`, {
      method,
      headers: {
        ...(token ? { authorization: `Bearer ${token}` } : {}),
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body,
    });
    return { status: response.status, headers: response.headers, text: await response.text() };
  }

  it('a 2,000-deep body to POST /ws/publish and /ws/send-message is a 400 naming the depth: no 500, no stack, no X-Powered-By', async () => {
    const deep = deepObject(2000);
    const bodies: Array<[string, unknown]> = [
      ['/ws/publish', { room: 'channel:1', type: 'message', data: deep }],
      ['/ws/publish', { gateway: 'scheduler', type: 'experiment_updated', data: deep, scope: {} }],
      ['/ws/send-message', { type: 'note', content: deep }],
      ['/ws/send-message', { type: 'note', content: 'x', meta: deep }],
    ];
    for (const [path, body] of bodies) {
      const response = await call('POST', path, JSON.stringify(body));
      expect({ path, status: response.status }).toEqual({ path, status: 400 });
      const parsed = JSON.parse(response.text) as { message: unknown };
      expect(Array.isArray(parsed.message)).toBe(true);
      expect((parsed.message as string[]).join(' ')).toMatch(/deep|depth|nest/i);
      expect(response.text).not.toMatch(STACK);
      expect(response.headers.get('x-powered-by')).toBeNull();
    }
    // A body within the depth limit is still served (the check is about depth, not the route).
    const ok = await call('POST', '/ws/send-message', JSON.stringify({ type: 'note', content: deepObject(30) }));
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-powered-by')).toBeNull();
    // The server is unharmed.
    expect((await call('GET', '/ws/health')).status).toBe(200);
  });

  it("the module's REST responses (health, stats, metrics, dashboard, validation 400s) carry no X-Powered-By and no stack trace", async () => {
    const responses = [
      await call('GET', '/ws/health', undefined, null),
      await call('GET', '/ws/stats'),
      await call('GET', '/metrics'),
      await call('GET', '/ws/admin'),
      await call('GET', '/ws/clients?limit=abc'),
      await call('POST', '/ws/publish', JSON.stringify({ room: 'channel:1', type: 'nope', data: {} })),
      await call('POST', '/ws/send-message', JSON.stringify({ type: 'note', content: 'x', unknown: 1 })),
      await call('GET', '/ws/clients/nope'),
    ];
    expect(responses.map((response) => response.status)).toEqual([200, 200, 200, 200, 400, 400, 400, 404]);
    for (const response of responses) {
      expect(response.headers.get('x-powered-by')).toBeNull();
      expect(response.text).not.toMatch(STACK);
    }
  });

  it("the module's error responses before its handlers (401/403 from the admin guard, 400 for a body that is not JSON) carry no X-Powered-By and no stack trace", async () => {
    const cases: Array<[string, Promise<{ status: number; headers: Headers; text: string }>, number]> = [
      ['GET /ws/stats without credentials', call('GET', '/ws/stats', undefined, null), 401],
      ['GET /ws/stats with a bad token', call('GET', '/ws/stats', undefined, 'not-a-token'), 401],
      ['GET /ws/stats, not admin', call('GET', '/ws/stats', undefined, hsToken({ sub: 'plain' })), 403],
      ['POST /ws/publish, body not JSON', call('POST', '/ws/publish', '{"room": "channel:1", "data": '), 400],
    ];
    const seen: string[] = [];
    for (const [what, pending, status] of cases) {
      const response = await pending;
      expect({ what, status: response.status }).toEqual({ what, status });
      expect(response.text).not.toMatch(STACK);
      seen.push(`${what}: ${response.status} X-Powered-By=${response.headers.get('x-powered-by')}`);
    }
    expect(seen.filter((line) => !line.endsWith('X-Powered-By=null'))).toEqual([]);
  });
});
