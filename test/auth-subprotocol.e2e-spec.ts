import { ConsoleLogger, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { IncomingHttpHeaders } from 'node:http';
import WebSocket from 'ws';
import { RealtimeWsAdapter } from '../src/realtime/index.js';
import { captureOutput, expectNoCrash, type Captured } from './support/capture-output.js';
import { errorFrame as notifyError, connectedFrame } from './support/notify-client.js';
import { closeOf, jsonFrames, RawSocket, upgradeRequest } from './support/raw-socket.js';
import { errorFrame as schedulerError, pathSubscribedFrame } from './support/scheduler-client.js';
import { channelOf, checkFrame } from './support/frame-contract.js';
import { ADMIN_TOKEN, startTestApp, wrap, type Endpoints, type TestApp } from './support/test-app.js';
import { upgradeStatus, type Closed, type Frame } from './support/test-client.js';
import { hsToken, TEST_SECRET, type Claims } from './support/tokens.js';

/**
 * Issue 24, "No token in URLs": the `Sec-WebSocket-Protocol` bearer form (the client offers
 * `realtime.v1` and `base64url.bearer.<base64url(token)>`, the server selects `realtime.v1` and
 * never echoes the bearer), its bad offers, and `allowQueryToken: false` / `WS_ALLOW_QUERY_TOKEN=false`.
 * The browser side is test/auth-browser.e2e-spec.ts.
 */

const CHAT = '/api/v1/ws/connect';
const CHECKPOINTS = '/ws/checkpoints';
const REALTIME = 'realtime.v1';
const PREFIX = 'base64url.bearer.';
const INVALID = 'Invalid or expired token';
const REQUIRED = 'Authentication required';

const b64url = (token: string): string => Buffer.from(token).toString('base64url');
const bearer = (token: string): string => `${PREFIX}${b64url(token)}`;

/**
 * A `ws` client that offers subprotocols (TestClient offers none): the 101's headers, the frames
 * (checked against the served AsyncAPI document like TestClient's), the close, or how the
 * handshake failed (`status` for an HTTP answer, `error` for one the client itself rejected).
 */
class OfferingClient {
  readonly frames: Frame[] = [];
  readonly socket: WebSocket;
  upgradeHeaders?: IncomingHttpHeaders;
  status?: number;
  error?: Error;
  readonly closed: Promise<Closed>;
  readonly opened: Promise<void>;
  private readonly channel: ReturnType<typeof channelOf>;

  constructor(url: string, protocols: string[], options: WebSocket.ClientOptions = {}) {
    this.channel = channelOf(url);
    this.socket = new WebSocket(url, protocols, options);
    this.socket.on('upgrade', (response) => (this.upgradeHeaders = response.headers));
    this.socket.on('unexpected-response', (_request, response) => {
      this.status = response.statusCode;
      response.resume();
      this.socket.terminate();
    });
    this.socket.on('error', (error) => (this.error ??= error));
    this.socket.on('message', (data) => {
      const frame = JSON.parse((data as Buffer).toString()) as Frame;
      checkFrame(this.channel, 'send', frame);
      this.frames.push(frame);
    });
    this.closed = new Promise((resolve) =>
      this.socket.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    );
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('open', () => resolve());
      this.socket.once('close', () => reject(new Error(`closed before open: ${this.error?.message ?? this.status}`)));
    });
    this.opened.catch(() => undefined);
  }

  send(frame: Frame): void {
    checkFrame(this.channel, 'receive', frame);
    this.socket.send(JSON.stringify(frame));
  }

  /** The first frame received that matches (from the first one on), or rejects at the close or after `timeoutMs`. */
  frame(match: (frame: Frame) => boolean = () => true, timeoutMs = 5000): Promise<Frame> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = this.frames.find(match);
        if (found) {
          cleanup();
          resolve(found);
        }
        return found !== undefined;
      };
      const onClose = (): void => {
        setImmediate(() => {
          if (check()) return;
          cleanup();
          reject(new Error(`closed before the frame; frames ${JSON.stringify(this.frames).slice(0, 400)}`));
        });
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(
          new Error(`no matching frame within ${timeoutMs} ms; frames ${JSON.stringify(this.frames).slice(0, 400)}`),
        );
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.socket.off('message', check);
        this.socket.off('close', onClose);
      };
      this.socket.on('message', check);
      this.socket.on('close', onClose);
      check();
    });
  }

  async waitClose(timeoutMs = 5000): Promise<Closed> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`not closed within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.closed, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  close(): void {
    this.socket.close();
  }
}

/** Closes the clients and waits until each socket is closed. */
async function closeAll(clients: OfferingClient[]): Promise<void> {
  for (const client of clients) client.close();
  await Promise.all(clients.map((client) => client.waitClose().catch(() => client.socket.terminate())));
}

/** Each gateway: a path, and what its first frame (or, for checkpoint, a first request) shows of the user. */
interface GatewayCase {
  gateway: string;
  path: string;
  /** Resolves once the connection is known to be authenticated as `sub`. */
  welcomed(client: OfferingClient, sub: string): Promise<void>;
  /** The frames a refused upgrade gets before its close. */
  refusal(reason: string): Frame[];
}

const GATEWAYS: GatewayCase[] = [
  {
    gateway: 'chat',
    path: CHAT,
    async welcomed(client, sub) {
      expect(await client.frame()).toMatchObject({ type: 'connected', data: { user_id: sub, stream: `user:${sub}` } });
    },
    refusal: (reason) => [{ type: 'error', data: { error: reason, code: 4401 }, timestamp: expect.any(String) }],
  },
  {
    gateway: 'scheduler',
    path: '/ws/user',
    async welcomed(client, sub) {
      expect(await client.frame()).toEqual(pathSubscribedFrame('user', sub));
    },
    refusal: (reason) => [schedulerError(reason)],
  },
  {
    gateway: 'notify',
    path: '/ws/subprotocol-tab',
    async welcomed(client) {
      expect(await client.frame()).toEqual(connectedFrame('subprotocol-tab'));
    },
    refusal: (reason) => [notifyError(reason)],
  },
  {
    gateway: 'checkpoint',
    path: CHECKPOINTS,
    async welcomed(client) {
      // Authenticated at the upgrade: a method answers without `authenticate` (an anonymous one gets `Authentication required`).
      client.send({ id: 'm1', method: 'metrics' });
      expect(await client.frame((frame) => frame.id === 'm1')).toMatchObject({ id: 'm1', success: true });
    },
    refusal: (reason) => [{ id: 'init', success: false, error: reason }],
  },
];

/** The user ids the admin API lists for `gateway`. */
async function usersOf(t: Endpoints, gateway: string): Promise<unknown[]> {
  const { body } = await t.http('GET', '/ws/clients', { token: ADMIN_TOKEN });
  return (body.clients as Array<{ gateway: string; user_id: unknown }>)
    .filter((client) => client.gateway === gateway)
    .map((client) => client.user_id);
}

/**
 * A raw upgrade of `path` with this `Sec-WebSocket-Protocol` header (any bytes: no client-side checks):
 * the status and head, the body of a refusal, or the JSON frames until the close (or the first frame).
 */
async function rawOffer(
  t: TestApp,
  path: string,
  protocols: string,
  until: 'close' | 'first frame' = 'close',
): Promise<{ status: number; head: string; body?: string; frames: Frame[]; close?: Closed }> {
  const raw = await RawSocket.open(t.port);
  try {
    raw.write(upgradeRequest(path, { 'Sec-WebSocket-Protocol': protocols }));
    const { status, head } = await raw.response(5000);
    if (status !== 101) {
      await raw.ended;
      return { status, head, body: raw.received.subarray(head.length + 4).toString(), frames: [] };
    }
    const awaited = until === 'close' ? (frame: { opcode: number }) => frame.opcode === 0x8 : () => true;
    await raw.waitFrame(awaited, 5000, `the ${until}`);
    const close = raw.frames().find((frame) => frame.opcode === 0x8);
    return { status, head, frames: jsonFrames(raw.frames()), close: close && closeOf(close) };
  } finally {
    raw.destroy();
  }
}

describe('the Sec-WebSocket-Protocol bearer (issue 24)', () => {
  let t: TestApp;
  let output: Captured;
  const open: OfferingClient[] = [];
  /** Every token offered in this block: none of them (nor its base64url) may appear in a log line. */
  const offered: string[] = [];
  const token = (claims: Claims): string => {
    const value = hsToken(claims);
    offered.push(value);
    return value;
  };
  const offer = (path: string, protocols: string[], options?: WebSocket.ClientOptions): OfferingClient => {
    const client = new OfferingClient(t.wsUrl(path), protocols, options);
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    output = captureOutput();
    t = await startTestApp({ auth: { secret: TEST_SECRET } });
    // The testing module's logger prints errors only: the connect lines (their URL redacted) and the
    // security warnings are printed here, so that they are checked too.
    t.app.useLogger(new ConsoleLogger({ logLevels: ['log', 'warn', 'error'], colors: false }));
  });
  afterEach(() => closeAll(open.splice(0)));
  afterAll(async () => {
    await t.close();
    output.restore();
  });

  it.each(GATEWAYS)(
    'admits a $gateway connection by its bearer entry; the 101 selects exactly realtime.v1, never the token',
    async ({ gateway, path, welcomed }) => {
      const sub = `sp-${gateway}`;
      const value = token({ sub });
      const client = offer(path, [REALTIME, bearer(value)]);
      await client.opened;
      await welcomed(client, sub);
      expect(client.socket.protocol).toBe(REALTIME);
      expect(client.upgradeHeaders!['sec-websocket-protocol']).toBe(REALTIME);
      const answer = JSON.stringify(client.upgradeHeaders);
      expect(answer).not.toContain(b64url(value));
      expect(answer).not.toContain(value);
      expect(await usersOf(t, gateway)).toEqual([sub]);
    },
  );

  it('selects realtime.v1 wherever the bearer entry and realtime.v1 stand among the offered protocols', async () => {
    const first = offer(CHAT, [bearer(token({ sub: 'order-1' })), REALTIME]);
    const among = offer(CHAT, ['graphql-ws', bearer(token({ sub: 'order-2' })), REALTIME, 'chat.v2']);
    for (const [client, sub] of [
      [first, 'order-1'],
      [among, 'order-2'],
    ] as const) {
      await client.opened;
      expect(await client.frame()).toMatchObject({ type: 'connected', data: { user_id: sub } });
      expect(client.socket.protocol).toBe(REALTIME);
      expect(client.upgradeHeaders!['sec-websocket-protocol']).toBe(REALTIME);
    }
  });

  it('takes the bearer entry before ?token= and the Authorization header: a bad one is refused whatever they hold', async () => {
    const good = token({ sub: 'order-good' });
    const bad = hsToken({ sub: 'order-bad' }, 'another-secret-0123456789-0123456789');
    offered.push(bad);
    const client = new OfferingClient(t.wsUrl(CHAT, good), [REALTIME, bearer(bad)], {
      headers: { authorization: `Bearer ${good}` },
    });
    open.push(client);
    expect(await client.waitClose()).toEqual({ code: 4401, reason: INVALID });
    expect(client.frames).toEqual(GATEWAYS[0].refusal(INVALID));
    // And a good bearer entry wins over a bad ?token=.
    const winner = offer(`${CHAT}?token=garbage`, [REALTIME, bearer(good)]);
    expect(await winner.frame()).toMatchObject({ type: 'connected', data: { user_id: 'order-good' } });
  });

  const malformedOffers: Array<[string, () => string[]]> = [
    ['two bearer entries', () => [REALTIME, bearer(token({ sub: 'two-a' })), bearer(token({ sub: 'two-b' }))]],
    ['an empty bearer entry', () => [REALTIME, PREFIX]],
    ['an entry that decodes to nothing', () => [REALTIME, `${PREFIX}A`]],
    ['the raw JWT instead of its base64url (dots)', () => [REALTIME, `${PREFIX}${token({ sub: 'raw' })}`]],
    ['standard base64 (a +)', () => [REALTIME, `${PREFIX}${Buffer.from('>>>').toString('base64')}`]],
    ['a valid entry beside an empty one', () => [REALTIME, bearer(token({ sub: 'beside' })), PREFIX]],
  ];

  it.each(malformedOffers)(
    'refuses %s on chat: the error frame, then 4401 "Invalid or expired token"',
    async (_name, protocols) => {
      const offered = protocols();
      expect(new Set(offered).size).toBe(offered.length); // distinct: the ws client would refuse duplicates itself
      const client = offer(CHAT, offered);
      expect(await client.waitClose()).toEqual({ code: 4401, reason: INVALID });
      expect(client.frames).toEqual(GATEWAYS[0].refusal(INVALID));
      expect(client.socket.protocol).toBe(REALTIME);
    },
  );

  it.each(GATEWAYS.slice(1))(
    'refuses two bearer entries on $gateway with its own error frame, then 4401',
    async ({ path, refusal }) => {
      const client = offer(path, [REALTIME, bearer(token({ sub: 'two-c' })), bearer(token({ sub: 'two-d' }))]);
      expect(await client.waitClose()).toEqual({ code: 4401, reason: INVALID });
      expect(client.frames).toEqual(refusal(INVALID));
    },
  );

  it('refuses a bearer entry holding no valid token with "Invalid or expired token", like any bad token', async () => {
    const client = offer(CHAT, [REALTIME, bearer('not.a.jwt')]);
    expect(await client.waitClose()).toEqual({ code: 4401, reason: INVALID });
    expect(client.frames).toEqual(GATEWAYS[0].refusal(INVALID));
  });

  it.each([
    [
      'the same bearer entry twice',
      () => {
        const entry = bearer(token({ sub: 'dup' }));
        return `${REALTIME}, ${entry}, ${entry}`;
      },
    ],
    ['realtime.v1 twice', () => `${REALTIME}, ${REALTIME}, ${bearer(token({ sub: 'dup' }))}`],
    [
      'an entry in padded standard base64 (=, /)',
      () => `${REALTIME}, ${PREFIX}${Buffer.from('??>>?').toString('base64')}`,
    ],
    ['a space inside an entry', () => `${REALTIME}, ${PREFIX}abc def`],
  ])(
    'answers %s with HTTP 400 before the upgrade (ws refuses the header), and admits nobody',
    async (_name, header) => {
      const value = header();
      const raw = await rawOffer(t, CHAT, value);
      expect(raw.status).toBe(400);
      expect(raw.body).toBe('Invalid Sec-WebSocket-Protocol header');
      // A ws client that sends such a header itself (ws refuses to build it from a list of protocols).
      expect(await upgradeStatus(t.wsUrl(CHAT), { headers: { 'Sec-WebSocket-Protocol': value } })).toBe(400);
      expect(await usersOf(t, 'chat')).not.toContain('dup');
    },
  );

  it('refuses 20 KB of bearer entries before the upgrade (HTTP 431), and keeps serving', async () => {
    const entries: string[] = [];
    for (let i = 0; entries.join(', ').length < 20_000; i++) entries.push(bearer(token({ sub: `flood-${i}` })));
    const header = `${REALTIME}, ${entries.join(', ')}`;
    expect(header.length).toBeGreaterThanOrEqual(20_000);
    const raw = await RawSocket.open(t.port);
    raw.write(upgradeRequest(CHAT, { 'Sec-WebSocket-Protocol': header }));
    const { status } = await raw.response(5000);
    await raw.ended;
    raw.destroy();
    expect(status).toBe(431);
    expect(raw.frames()).toEqual([]);

    // As many entries as fit Node's header limit reach the module: refused as several entries.
    const many = entries.slice(0, 40);
    expect(many.join(', ').length).toBeLessThan(14_000);
    const fitting = offer(CHAT, [REALTIME, ...many]);
    expect(await fitting.waitClose()).toEqual({ code: 4401, reason: INVALID });
    expect(fitting.frames).toEqual(GATEWAYS[0].refusal(INVALID));

    const after = offer(CHAT, [REALTIME, bearer(token({ sub: 'after-flood' }))]);
    expect(await after.frame()).toMatchObject({ type: 'connected', data: { user_id: 'after-flood' } });
    expect((await t.http('GET', '/ws/health')).status).toBe(200);
  });

  it('refuses a bearer offer without realtime.v1 before the upgrade (400): no protocol could be selected', async () => {
    // Every client would fail a 101 that selects none of its offers (RFC 6455 §4.1), so the server says why
    // instead of admitting a connection the client is bound to drop; the token is not even read.
    const raw = await rawOffer(t, CHAT, bearer(token({ sub: 'no-realtime' })));
    expect(raw.status).toBe(400);
    expect(raw.body).toBe('Offer realtime.v1 beside a base64url.bearer subprotocol');
    expect(raw.head).not.toContain(PREFIX);
    for (const protocols of [[bearer(token({ sub: 'no-realtime' }))], ['graphql-ws', bearer(token({ sub: 'gql' }))]]) {
      const client = offer(CHAT, protocols);
      const closed = await client.waitClose();
      expect(closed.code).toBe(1006);
      expect(client.status).toBe(400);
      expect(client.frames).toEqual([]);
    }
    expect(await usersOf(t, 'chat')).not.toContainEqual(expect.objectContaining({ user_id: 'no-realtime' }));
  });

  it('keeps a plain offer as before: the first protocol offered is selected and ?token= authenticates', async () => {
    const client = offer(`${CHAT}?token=${token({ sub: 'plain' })}`, ['chat.v2', REALTIME]);
    expect(await client.frame()).toMatchObject({ type: 'connected', data: { user_id: 'plain' } });
    expect(client.socket.protocol).toBe('chat.v2');
    expect(client.upgradeHeaders!['sec-websocket-protocol']).toBe('chat.v2');
    const none = offer(CHAT, ['chat.v2']);
    expect(await none.waitClose()).toEqual({ code: 4401, reason: REQUIRED });
    expect(none.frames).toEqual(GATEWAYS[0].refusal(REQUIRED));
  });

  it('never logs an offered token, nor its base64url form', async () => {
    const text = output.lines.join('\n');
    // The lines are there to check: the connects above were logged, their URL redacted.
    expect(text).toContain('connect ');
    expect(text).toContain('token=[REDACTED]');
    expect(offered.length).toBeGreaterThan(20);
    for (const value of offered) {
      expect(text).not.toContain(value);
      expect(text).not.toContain(b64url(value));
      expect(text).not.toContain(value.split('.')[2]); // not even the signature
    }
    expectNoCrash(output);
  });
});

/** Connects with each credential the query token must not shadow; shared by the option and the environment variable. */
function queryTokenOff(get: () => TestApp): void {
  const open: OfferingClient[] = [];
  afterEach(() => closeAll(open.splice(0)));
  const connect = (path: string, protocols: string[] = [], options?: WebSocket.ClientOptions): OfferingClient => {
    const client = new OfferingClient(path, protocols, options);
    open.push(client);
    return client;
  };

  it.each(GATEWAYS.filter(({ gateway }) => gateway !== 'checkpoint'))(
    'ignores ?token= on $gateway: the error frame, then 4401 "Authentication required"',
    async ({ path, refusal }) => {
      const client = connect(get().wsUrl(path, hsToken({ sub: 'query' })));
      // The first frame first: an admitted connection (the query token used) fails here, without waiting.
      expect(await client.frame()).toEqual(refusal(REQUIRED)[0]);
      expect(await client.waitClose()).toEqual({ code: 4401, reason: REQUIRED });
      expect(client.frames).toEqual(refusal(REQUIRED));
    },
  );

  it('ignores ?token= on checkpoint: the connection is anonymous', async () => {
    const client = connect(get().wsUrl(CHECKPOINTS, hsToken({ sub: 'query' })));
    await client.opened;
    client.send({ id: 'm1', method: 'metrics' });
    expect(await client.frame((frame) => frame.id === 'm1')).toEqual({ id: 'm1', success: false, error: REQUIRED });
  });

  it('admits the subprotocol bearer, the Authorization header (a ?token= beside it ignored) and a ticket', async () => {
    const t = get();
    const viaProtocol = connect(t.wsUrl(CHAT), [REALTIME, bearer(hsToken({ sub: 'by-protocol' }))]);
    const viaHeader = connect(t.wsUrl(CHAT, 'garbage'), [], {
      headers: { authorization: `Bearer ${hsToken({ sub: 'by-header' })}` },
    });
    const issued = await fetch(`${t.baseUrl}/ws/ticket`, {
      method: 'POST',
      headers: { authorization: `Bearer ${hsToken({ sub: 'by-ticket' })}` },
    });
    expect(issued.status).toBe(200);
    const { ticket } = (await issued.json()) as { ticket: string };
    const viaTicket = connect(`${t.wsUrl(CHAT)}?ticket=${ticket}`);
    for (const [client, sub] of [
      [viaProtocol, 'by-protocol'],
      [viaHeader, 'by-header'],
      [viaTicket, 'by-ticket'],
    ] as const) {
      expect(await client.frame()).toMatchObject({ type: 'connected', data: { user_id: sub } });
    }
    expect(viaProtocol.socket.protocol).toBe(REALTIME);
  });
}

describe('allowQueryToken: false (issue 24)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ auth: { secret: TEST_SECRET, allowQueryToken: false } });
  });
  afterAll(() => t.close());

  queryTokenOff(() => t);
});

describe('WS_ALLOW_QUERY_TOKEN=false in the standalone app module (issue 24)', () => {
  let app: INestApplication;
  let t: TestApp;
  const saved = { ...process.env };
  beforeAll(async () => {
    // The standalone AppModule reads its environment when it is imported: set it first.
    Object.assign(process.env, { JWT_SECRET: TEST_SECRET, WS_ALLOW_QUERY_TOKEN: 'false', WS_ADMIN_TOKEN: ADMIN_TOKEN });
    const { AppModule } = await import('../src/app.module.js');
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
    app.useWebSocketAdapter(new RealtimeWsAdapter(app));
    await app.listen(0, '127.0.0.1');
    t = wrap(app);
  });
  afterAll(async () => {
    await app?.close();
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
  });

  it('reads WS_ALLOW_QUERY_TOKEN=false (and 0) as false', async () => {
    const { validateEnvironment } = await import('../src/config/environment.js');
    for (const value of ['false', '0']) {
      expect(validateEnvironment({ JWT_SECRET: TEST_SECRET, WS_ALLOW_QUERY_TOKEN: value }).WS_ALLOW_QUERY_TOKEN).toBe(
        false,
      );
    }
    expect(validateEnvironment({ JWT_SECRET: TEST_SECRET, WS_ALLOW_QUERY_TOKEN: 'true' }).WS_ALLOW_QUERY_TOKEN).toBe(
      true,
    );
  });

  queryTokenOff(() => t);
});
