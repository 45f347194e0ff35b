import type { INestApplication } from '@nestjs/common';
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
      const onClose = (): void =>
        setImmediate(() => {
          if (check()) return;
          cleanup();
          reject(new Error(`closed before the frame; frames ${JSON.stringify(this.frames).slice(0, 400)}`));
        });
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`no matching frame within ${timeoutMs} ms; frames ${JSON.stringify(this.frames).slice(0, 400)}`));
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

/** A raw upgrade of `path` with this `Sec-WebSocket-Protocol` header: the status, the head, the JSON frames and the close. */
async function rawOffer(
  t: TestApp,
  path: string,
  protocols: string,
): Promise<{ status: number; head: string; frames: Frame[]; close?: Closed }> {
  const raw = await RawSocket.open(t.port);
  try {
    raw.write(upgradeRequest(path, { 'Sec-WebSocket-Protocol': protocols }));
    const { status, head } = await raw.response(5000);
    if (status !== 101) return { status, head, frames: [] };
    const close = await raw.waitFrame((frame) => frame.opcode === 0x8, 5000, 'a close frame');
    return { status, head, frames: jsonFrames(raw.frames()), close: closeOf(close) };
  } finally {
    raw.destroy();
  }
}

/** The `Sec-WebSocket-Protocol` header lines of a raw response head. */
const protocolHeaders = (head: string): string[] =>
  head.split('\r\n').filter((line) => line.toLowerCase().startsWith('sec-websocket-protocol:'));

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
    // The connect lines (with their redacted URL) are info lines: logged here, so that they are checked too.
    // t.app.useLogger(['log', 'warn', 'error']);
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
    ['standard base64 (a +)', () => [REALTIME, `${PREFIX}${Buffer.from('>>>?').toString('base64')}`]],
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

  it.each([
    ['a padded standard base64 (=, /)', `${REALTIME}, ${PREFIX}${Buffer.from('??>>?').toString('base64')}`],
    ['a space inside the entry', `${REALTIME}, ${PREFIX}abc def`],
  ])(
    'refuses %s (characters no ws client sends) before reading any token: 4401, or 400 from ws',
    async (_name, header) => {
      const result = await rawOffer(t, CHAT, header);
      if (result.status === 101) {
        expect(result.frames).toEqual(GATEWAYS[0].refusal(INVALID));
        expect(result.close).toEqual({ code: 4401, reason: INVALID });
      } else {
        expect(result.status).toBe(400);
      }
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

  it('answers a duplicated entry with HTTP 400 (ws refuses the header), and admits nobody', async () => {
    const entry = bearer(token({ sub: 'dup' }));
    for (const header of [`${REALTIME}, ${entry}, ${entry}`, `${REALTIME}, ${REALTIME}, ${entry}`]) {
      expect(await upgradeStatus(t.wsUrl(CHAT), { headers: { 'Sec-WebSocket-Protocol': header } })).toBe(400);
      const raw = await rawOffer(t, CHAT, header);
      expect(raw.status).toBe(400);
    }
    expect(await usersOf(t, 'chat')).toEqual([]);
  });

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

    // A hundred entries that fit Node's header limit reach the module: refused as several entries.
    const hundred = offer(CHAT, [REALTIME, ...entries.slice(0, 100)]);
    expect(await hundred.waitClose()).toEqual({ code: 4401, reason: INVALID });
    expect(hundred.frames).toEqual(GATEWAYS[0].refusal(INVALID));

    const after = offer(CHAT, [REALTIME, bearer(token({ sub: 'after-flood' }))]);
    expect(await after.frame()).toMatchObject({ type: 'connected', data: { user_id: 'after-flood' } });
    expect((await t.http('GET', '/ws/health')).status).toBe(200);
  });

  it('selects nothing for a bearer offer without realtime.v1: the ws client then fails the handshake itself', async () => {
    // What the server does: a 101 without Sec-WebSocket-Protocol (the bearer entry is never selected).
    // The token is still read, so the upgrade itself is authenticated as usual.
    const raw = await rawOffer(t, CHAT, bearer(token({ sub: 'no-realtime' })));
    expect(raw.status).toBe(101);
    expect(protocolHeaders(raw.head)).toEqual([]);
    expect(raw.head).not.toContain(PREFIX);
    // What a client does with that answer: RFC 6455 §4.1 (and every browser) fails the connection.
    for (const protocols of [[bearer(token({ sub: 'no-realtime' }))], ['graphql-ws', bearer(token({ sub: 'gql' }))]]) {
      const client = offer(CHAT, protocols);
      const closed = await client.waitClose();
      expect(closed.code).toBe(1006);
      expect(client.error?.message).toBe('Server sent no subprotocol');
      expect(client.upgradeHeaders?.['sec-websocket-protocol']).toBeUndefined();
      expect(client.frames).toEqual([]);
    }
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
    const { Logger } = await import('@nestjs/common');
    new Logger('Dbg').warn('debug-warn-line');
    process.stdout.write('direct-line\n');
    (await import('node:fs')).writeFileSync('/tmp/sp-lines.txt', JSON.stringify([Logger.isLevelEnabled('log'), Logger.isLevelEnabled('warn'), process.stdout.write.toString().slice(0,100), ...output.lines.slice(0, 50)]));
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

  queryTokenOff(() => t);
});
