import { ConsoleLogger, Inject, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { parseCookie } from 'cookie';
import { randomBytes } from 'node:crypto';
import {
  RealtimeModule,
  RealtimeWsAdapter,
  type AuthenticatedUser,
  type AuthenticationRequest,
  type RealtimeAuthenticator,
  type RealtimeModuleOptions,
} from '../src/realtime/index.js';
import { captureOutput, expectNoCrash, type Captured } from './support/capture-output.js';
import { useContract } from './support/frame-contract.js';
import { connectedFrame } from './support/notify-client.js';
import { RawSocket } from './support/raw-socket.js';
import { pathSubscribedFrame } from './support/scheduler-client.js';
import { ADMIN_TOKEN, wrap, type TestApp } from './support/test-app.js';
import { TestClient, closeAll, eventually, refused, waitFrame, type Frame } from './support/test-client.js';
import { hsToken, TEST_SECRET } from './support/tokens.js';

/**
 * Issue 24, deliver 1: the module embedded in a host app whose own authenticator decides who
 * connects — a session cookie looked up (asynchronously) in the host's session store, the host's
 * API keys, and the module's JWT check for bearer tokens (composition) — on the four gateways, the
 * admin API, `POST /ws/ticket` and the checkpoint `authenticate`; and the bounds of a host
 * authenticator that throws, hangs or answers something that is not a user ("Bad input").
 */

const CHAT = '/api/v1/ws/connect';
const CHECKPOINTS = '/ws/checkpoints';
const TIMEOUT_MS = 300;

const secret = (): string => randomBytes(18).toString('base64url');

// ---- the host application -----------------------------------------------------------------------

interface SessionUser {
  sub: string;
  username: string;
  roles: string[];
}

/** How a broken session database answers a lookup. */
type Fault = 'rejects' | 'throws' | 'hangs';

/**
 * The host's own sign-in: sessions (cookie `sid`) and API keys, in a database in real life. Rows
 * are `unknown`: a buggy host may have stored anything. Ids can be broken on purpose, like a
 * database that fails (rejects), a driver bug (throws synchronously) or a lookup that never ends.
 */
@Injectable()
class SessionStore {
  private readonly rows = new Map<string, unknown>();
  private readonly apiKeys = new Map<string, SessionUser>();
  private readonly faults = new Map<string, Fault>();
  /** Lookups still waiting for a database that never answers. */
  hanging = 0;

  signIn(user: SessionUser): string {
    const sid = secret();
    this.rows.set(sid, user);
    return sid;
  }

  /** A session whose row is whatever a buggy host wrote. */
  corrupt(row: unknown): string {
    const sid = secret();
    this.rows.set(sid, row);
    return sid;
  }

  broken(fault: Fault): string {
    const sid = secret();
    this.faults.set(sid, fault);
    return sid;
  }

  issueApiKey(user: SessionUser): string {
    const key = `sk_${secret()}`;
    this.apiKeys.set(key, user);
    return key;
  }

  /** The session's row; a database round trip (a promise), unless the id is broken. */
  find(sid: string): Promise<unknown> {
    const fault = this.faults.get(sid);
    // The error quotes the id, as database errors do: the module must not log it.
    if (fault === 'throws') throw new TypeError(`cannot read session ${sid}`);
    if (fault === 'rejects') return Promise.reject(new Error(`session ${sid}: connection refused`));
    if (fault === 'hangs') {
      this.hanging++;
      return new Promise(() => undefined);
    }
    return Promise.resolve(this.rows.get(sid));
  }

  async findApiKey(key: string): Promise<SessionUser | undefined> {
    await Promise.resolve();
    return this.apiKeys.get(key);
  }
}

/**
 * The host's authenticator, as the README shows it: the `sid` session cookie, then the host's own
 * API keys (`sk_…`); for anything else it answers `undefined`, which leaves the decision to the
 * module's JWT check (bearer tokens keep working beside the cookie). `null` refuses, for good.
 */
@Injectable()
class CookieAuthenticator implements RealtimeAuthenticator {
  /** What it was asked, for the tests: sources, and whether the headers carried the cookie. */
  readonly asked: Array<{ source: string; path: string; cookie: boolean; token: boolean; query: string }> = [];

  constructor(@Inject(SessionStore) private readonly store: SessionStore) {}

  authenticate(request: AuthenticationRequest): ReturnType<RealtimeAuthenticator['authenticate']> {
    const { source, path, headers, token, query } = request;
    this.asked.push({
      source,
      path,
      cookie: headers.cookie !== undefined,
      token: token !== undefined,
      query: query.toString(),
    });
    const sid = parseCookie(headers.cookie ?? '').sid;
    // Not `async`: a store that throws synchronously makes the authenticator throw synchronously.
    if (sid) return this.store.find(sid).then((row) => (row ?? null) as AuthenticatedUser | null);
    if (token?.startsWith('sk_')) return this.store.findApiKey(token).then((user) => user ?? null);
    return undefined; // not ours: the JWT check decides
  }
}

@Module({ providers: [SessionStore, CookieAuthenticator], exports: [SessionStore, CookieAuthenticator] })
class SessionModule {}

/** The realtime module configured with the host's authenticator (and a JWT secret, unless `keyless`). */
const realtimeFor = (keyless: boolean) =>
  RealtimeModule.forRootAsync({
    imports: [SessionModule],
    inject: [CookieAuthenticator],
    useFactory: (authenticator: CookieAuthenticator): RealtimeModuleOptions => ({
      auth: { ...(keyless ? {} : { secret: TEST_SECRET }), authenticator, timeoutMs: TIMEOUT_MS },
      adminToken: ADMIN_TOKEN,
    }),
  });

/** The host's root module: its session module, and the realtime module configured with the host's authenticator. */
@Module({ imports: [SessionModule, realtimeFor(false)] })
class HostModule {}

/** A host whose sign-in is its own only: no JWT key configured at all. */
@Module({ imports: [SessionModule, realtimeFor(true)] })
class KeylessHostModule {}

async function startHost(root: object = HostModule): Promise<TestApp> {
  // The testing module's own logger drops `log` and `warn` lines (security lines among them): the
  // console logger writes them, `log` level included, so that the capture checks every line.
  const moduleRef = await Test.createTestingModule({ imports: [root as never] })
    .setLogger(new ConsoleLogger('Host', { colors: false }))
    .compile();
  const app = moduleRef.createNestApplication({ logger: ['log', 'error', 'warn'] });
  app.useWebSocketAdapter(new RealtimeWsAdapter(app));
  await app.listen(0, '127.0.0.1');
  const t = wrap(app);
  const contract = await t.http('GET', '/ws/asyncapi.json', { token: ADMIN_TOKEN });
  expect(contract.status).toBe(200);
  useContract(contract.body);
  return t;
}

// ---- helpers ------------------------------------------------------------------------------------

const ANA: SessionUser = { sub: 'u-ana', username: 'Ana Admin', roles: ['admin'] };
const BOB: SessionUser = { sub: 'u-bob', username: 'Bob', roles: ['viewer'] };

/** Every credential the tests sent: none may appear in a log line. */
const credentials: string[] = [];
const remember = <T extends string>(value: T): T => {
  credentials.push(value);
  return value;
};

const cookie = (sid: string): { headers: Record<string, string> } => ({
  headers: { cookie: `theme=dark; sid=${remember(sid)}; lang=en` },
});

interface Rest {
  status: number;
  body: any;
  headers: Headers;
}

/** A REST request with a session cookie and/or a bearer token. */
async function rest(
  t: TestApp,
  method: string,
  path: string,
  { sid, token, body }: { sid?: string; token?: string; body?: unknown } = {},
): Promise<Rest> {
  const response = await fetch(`${t.baseUrl}${path}`, {
    method,
    headers: {
      ...(sid ? cookie(sid).headers : {}),
      ...(token ? { authorization: `Bearer ${remember(token)}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

const errorBody = (statusCode: number, error: string, message: string): object => ({
  statusCode,
  error,
  message: [message],
});

/** `realtime_authentications_total` by `source result`, as `/metrics` says. */
async function authCounts(t: TestApp): Promise<Map<string, number>> {
  const text = await (await fetch(`${t.baseUrl}/metrics`)).text();
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^realtime_authentications_total\{([^}]*)\} (\d+)$/.exec(line);
    if (!match) continue;
    const labels = Object.fromEntries([...match[1].matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]));
    counts.set(`${labels.source} ${labels.result}`, Number(match[2]));
  }
  return counts;
}

/** What changed between two `authCounts`, zeros left out. */
function delta(before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const changed: Record<string, number> = {};
  for (const [key, value] of after) {
    const difference = value - (before.get(key) ?? 0);
    if (difference !== 0) changed[key] = difference;
  }
  return changed;
}

/** The chat welcome of `user`. */
const welcome = (user: SessionUser): Frame =>
  expect.objectContaining({
    type: 'connected',
    data: expect.objectContaining({ message: 'Connected successfully', user_id: user.sub, username: user.username }),
  });

let rpcCounter = 0;
/** A checkpoint request; resolves with its response. */
function rpc(client: TestClient, method: string, params: Record<string, unknown>): Promise<Frame> {
  const id = `rq-${++rpcCounter}`;
  const start = client.frames.length;
  client.send({ id, method, params });
  return waitFrame(client, (f) => f.id === id && 'success' in f, start, 5000, `response to ${method}`);
}

/** One error frame, then the close, in each gateway's words. */
const refusals: Array<[string, string, (reason: string, code: number) => Frame]> = [
  ['chat', CHAT, (reason, code) => ({ type: 'error', data: { error: reason, code }, timestamp: expect.any(String) })],
  [
    'scheduler',
    '/ws/user',
    (reason) => ({ type: 'error', id: expect.any(String), timestamp: expect.any(String), error: reason }),
  ],
  [
    'notify',
    '/ws/cookie-tab',
    (reason) => ({ type: 'error', content: reason, meta: {}, timestamp: expect.any(String) }),
  ],
  ['checkpoint', CHECKPOINTS, (reason) => ({ id: 'init', success: false, error: reason })],
];

// ---- the tests ----------------------------------------------------------------------------------

describe('a host authenticator: session cookies from the host app (issue 24)', () => {
  let t: TestApp;
  let store: SessionStore;
  let authenticator: CookieAuthenticator;
  let output: Captured;
  let anaSid: string;
  let bobSid: string;
  let closed = false;
  const open: TestClient[] = [];
  const track = (client: TestClient): TestClient => {
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    output = captureOutput();
    t = await startHost();
    store = t.app.get(SessionStore);
    authenticator = t.app.get(CookieAuthenticator);
    anaSid = store.signIn(ANA);
    bobSid = store.signIn(BOB);
  });
  afterEach(() => closeAll(open.splice(0)));
  afterAll(async () => {
    if (!closed) await t?.close();
    output.restore();
  });

  describe('upgrades', () => {
    it("admits a valid session cookie on each of the four gateways as the store's user", async () => {
      const chat = track(await TestClient.open(t.wsUrl(CHAT), cookie(anaSid)));
      expect(await chat.next()).toEqual(welcome(ANA));

      const scheduler = track(await TestClient.open(t.wsUrl('/ws/user'), cookie(bobSid)));
      expect(await scheduler.next()).toEqual(pathSubscribedFrame('user', BOB.sub));

      const notify = track(await TestClient.open(t.wsUrl('/ws/ana-tab'), cookie(anaSid)));
      expect(await notify.next()).toEqual(connectedFrame('ana-tab'));

      // Authenticated at the upgrade, without `authenticate`: its session belongs to Ana...
      const checkpoint = track(await TestClient.open(t.wsUrl(CHECKPOINTS), cookie(anaSid)));
      const created = await rpc(checkpoint, 'create_session', { name: 'cookie' });
      expect(created).toMatchObject({ success: true, result: expect.any(String) });
      const session = created.result as string;
      // ...as her JWT (the default check the host delegates to) shows, and not to Bob.
      const anaByJwt = track(await TestClient.open(t.wsUrl(CHECKPOINTS, remember(hsToken({ sub: ANA.sub })))));
      expect(await rpc(anaByJwt, 'list_checkpoints', { session_id: session })).toMatchObject({
        success: true,
        result: [],
      });
      const bobByCookie = track(await TestClient.open(t.wsUrl(CHECKPOINTS), cookie(bobSid)));
      expect(await rpc(bobByCookie, 'list_checkpoints', { session_id: session })).toMatchObject({
        success: false,
        error: 'Session not found',
      });

      // The authenticator was given the upgrade's headers (the cookie) and its path, no token.
      const upgrades = authenticator.asked.filter((a) => a.source === 'upgrade');
      expect(upgrades.map((a) => a.path)).toEqual([
        CHAT,
        '/ws/user',
        '/ws/ana-tab',
        CHECKPOINTS,
        CHECKPOINTS,
        CHECKPOINTS,
      ]);
      expect(upgrades.map((a) => a.cookie)).toEqual([true, true, true, true, false, true]);
      expect(upgrades.map((a) => a.token)).toEqual([false, false, false, false, true, false]);
    });

    it("keeps bearer JWTs working beside the cookie: the host's undefined leaves them to the JWT check", async () => {
      const chat = track(await TestClient.open(t.wsUrl(CHAT, remember(hsToken({ sub: 'u-jwt', username: 'Jay' })))));
      expect(await chat.next()).toEqual(welcome({ sub: 'u-jwt', username: 'Jay', roles: [] }));
      // The host was asked first; the query string it saw had the token taken out.
      expect(authenticator.asked.at(-1)).toMatchObject({ source: 'upgrade', token: true, query: '' });
      const invalid = {
        code: 4401,
        reason: 'Invalid or expired token',
        frames: [refusals[0][2]('Invalid or expired token', 4401)],
      };
      expect(
        await refused(t.wsUrl(CHAT, remember(hsToken({ sub: 'u-jwt' }, 'another-secret-another-secret-abc')))),
      ).toEqual(invalid);
      // The host's own credential in the same place (`Authorization: Bearer`): its API key.
      const key = remember(store.issueApiKey(BOB));
      const byKey = track(await TestClient.open(t.wsUrl(CHAT), { headers: { authorization: `Bearer ${key}` } }));
      expect(await byKey.next()).toEqual(welcome(BOB));
      // The host's null is final: an unknown API key, or an unknown session beside a valid JWT, is
      // refused without the JWT check (which would have let that token in).
      expect(
        await refused(t.wsUrl(CHAT), { headers: { authorization: `Bearer ${remember(`sk_${secret()}`)}` } }),
      ).toEqual(invalid);
      const validJwt = remember(hsToken({ sub: 'u-jwt' }));
      expect(await refused(t.wsUrl(CHAT, validJwt), cookie(secret()))).toEqual(invalid);
    });

    it.each(refusals.filter(([gateway]) => gateway !== 'checkpoint'))(
      'refuses an unknown session on %s: its error frame, then 4401 "Authentication required"',
      async (_gateway, path, frame) => {
        for (const options of [cookie(secret()), {}]) {
          const result = await refused(t.wsUrl(path), options);
          // A refusal by the host has no credential the module knows of: "Authentication required".
          expect(result).toEqual({
            code: 4401,
            reason: 'Authentication required',
            frames: [frame('Authentication required', 4401)],
          });
        }
      },
    );

    it('admits a checkpoint connection without a cookie (or with an unknown one) anonymously: it may authenticate later', async () => {
      for (const options of [{}, cookie(secret())]) {
        const client = track(await TestClient.open(t.wsUrl(CHECKPOINTS), options));
        expect(await rpc(client, 'create_session', {})).toEqual({
          id: expect.any(String),
          success: false,
          error: 'Authentication required',
        });
        expect(client.socket.readyState).toBe(client.socket.OPEN);
      }
    });
  });

  describe('the admin REST API', () => {
    it('decides with the same authenticator: an admin session 200, another 403, none or unknown 401', async () => {
      const stats = await rest(t, 'GET', '/ws/stats', { sid: anaSid });
      expect(stats.status).toBe(200);
      expect(stats.body).toMatchObject({ connections: { total: expect.any(Number) } });
      expect(await rest(t, 'GET', '/ws/stats', { sid: bobSid })).toMatchObject({
        status: 403,
        body: errorBody(403, 'Forbidden', 'Admin role required'),
      });
      for (const sid of [undefined, secret()]) {
        expect(await rest(t, 'GET', '/ws/stats', { sid })).toMatchObject({
          status: 401,
          body: errorBody(401, 'Unauthorized', 'Admin credentials required'),
        });
      }
      // Bearer JWTs still decide through the delegation, and the static admin token as before.
      expect((await rest(t, 'GET', '/ws/stats', { token: hsToken({ sub: 'ops', roles: ['admin'] }) })).status).toBe(
        200,
      );
      expect((await rest(t, 'GET', '/ws/stats', { token: hsToken({ sub: 'ops' }) })).status).toBe(403);
      expect((await rest(t, 'GET', '/ws/stats', { token: ADMIN_TOKEN })).status).toBe(200);
      expect(authenticator.asked.filter((a) => a.source === 'http' && a.cookie).length).toBeGreaterThanOrEqual(3);
    });

    it('POST /ws/publish: an admin session publishes, a non-admin one is refused 403', async () => {
      const bobChat = track(await TestClient.open(t.wsUrl(CHAT), cookie(bobSid)));
      await bobChat.nextOfType('connected');
      const event = { room: `user:${BOB.sub}`, type: 'notification.new', data: { text: 'hi' } };
      expect(await rest(t, 'POST', '/ws/publish', { sid: anaSid, body: event })).toMatchObject({ status: 200 });
      expect(await bobChat.nextOfType('notification.new')).toMatchObject({ data: { text: 'hi' } });
      expect(await rest(t, 'POST', '/ws/publish', { sid: bobSid, body: event })).toMatchObject({
        status: 403,
        body: errorBody(403, 'Forbidden', 'Admin role required'),
      });
      expect(bobChat.ofType('notification.new')).toHaveLength(1);
    });

    it('POST /ws/publish refused for a non-admin cookie is answered before its body is sent, like a refused bearer', async () => {
      // SPEC §10.1: admin credentials are checked before the body is read. The synchronous JWT
      // path answers at once (test/hostile-bounds.e2e-spec.ts); the asynchronous host authenticator must too.
      const socket = await RawSocket.open(t.port);
      try {
        socket.write(
          'POST /ws/publish HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n' +
            `Content-Length: 100000\r\nCookie: sid=${remember(bobSid)}\r\n\r\n{"room":`,
        );
        expect((await socket.response(5000)).status).toBe(403);
        await socket.ended;
      } finally {
        socket.destroy();
      }
    });
  });

  describe('connect tickets', () => {
    it("POST /ws/ticket with the session cookie returns a ticket that opens a chat connection as the cookie's user", async () => {
      const issued = await rest(t, 'POST', '/ws/ticket', { sid: bobSid });
      expect(issued.status).toBe(200);
      expect(issued.body).toEqual({ ticket: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/), expires_in: 30 });
      expect(issued.headers.get('cache-control')).toBe('no-store');
      const ticket = remember(issued.body.ticket as string);
      const chat = track(await TestClient.open(t.wsUrl(`${CHAT}?ticket=${ticket}`)));
      expect(await chat.next()).toEqual(welcome(BOB));
      // Used up.
      expect((await refused(t.wsUrl(`${CHAT}?ticket=${ticket}`))).code).toBe(4401);
      // No session, no ticket.
      expect(await rest(t, 'POST', '/ws/ticket', { sid: secret() })).toMatchObject({
        status: 401,
        body: errorBody(401, 'Unauthorized', 'Authentication required'),
      });
    });
  });

  describe('bounds: an authenticator that throws, hangs or answers no user', () => {
    const UNAVAILABLE = 'Authentication unavailable';
    /** Rows a buggy host may return: not users (no non-empty string or finite number `sub`). */
    const malformed: Array<[string, unknown]> = [
      ['{}', {}],
      ["{sub: ''}", { sub: '' }],
      ['{sub: {}}', { sub: {} }],
      ['a string', 'u-ana'],
    ];

    it.each([
      ['rejects', () => store.broken('rejects')],
      ['throws synchronously', () => store.broken('throws')],
      ...malformed.map(([name, row]): [string, () => string] => [`returns ${name}`, () => store.corrupt(row)]),
    ])('one that %s: each gateway completes the upgrade, says so in its words, closes 1011', async (_name, sid) => {
      for (const [, path, frame] of refusals) {
        expect(await refused(t.wsUrl(path), cookie(sid()))).toEqual({
          code: 1011,
          reason: UNAVAILABLE,
          frames: [frame(UNAVAILABLE, 4503)],
        });
      }
    });

    it.each([
      ['rejects', () => store.broken('rejects')],
      ['throws synchronously', () => store.broken('throws')],
      ['hangs', () => store.broken('hangs')],
      ...malformed.map(([name, row]): [string, () => string] => [`returns ${name}`, () => store.corrupt(row)]),
    ])('one that %s: the REST routes answer 503 in the module error body', async (_name, sid) => {
      const unavailable = { status: 503, body: errorBody(503, 'Service Unavailable', UNAVAILABLE) };
      expect(await rest(t, 'GET', '/ws/stats', { sid: sid() })).toMatchObject(unavailable);
      expect(await rest(t, 'POST', '/ws/ticket', { sid: sid() })).toMatchObject(unavailable);
      const event = { room: 'channel:1', type: 'message', data: {} };
      expect(await rest(t, 'POST', '/ws/publish', { sid: sid(), body: event })).toMatchObject(unavailable);
    });

    it('one that hangs: 1011 after auth.timeoutMs, and the process keeps serving meanwhile', async () => {
      const hanging = store.hanging;
      const stuck = [CHAT, '/ws/user', CHECKPOINTS].map(
        (path) => new TestClient(t.wsUrl(path), cookie(store.broken('hangs'))),
      );
      // Every lookup has started and is waiting for an answer that never comes...
      await eventually(() => store.hanging === hanging + stuck.length, 5000, 'the hanging lookups');
      // ...while another user connects, publishes and is answered.
      const chat = track(await TestClient.open(t.wsUrl(CHAT), cookie(anaSid)));
      expect(await chat.next()).toEqual(welcome(ANA));
      chat.send({ type: 'join_room', room: 'channel:7' });
      expect(await chat.nextOfType('room_joined')).toMatchObject({ room: 'channel:7' });
      const closes = await Promise.all(stuck.map((client) => client.waitClose(10_000)));
      expect(closes).toEqual(stuck.map(() => ({ code: 1011, reason: UNAVAILABLE })));
      expect(stuck.map((client) => client.frames)).toEqual([
        [refusals[0][2](UNAVAILABLE, 4503)],
        [refusals[1][2](UNAVAILABLE, 4503)],
        [refusals[3][2](UNAVAILABLE, 4503)],
      ]);
      // And after them too.
      const again = track(await TestClient.open(t.wsUrl('/ws/user'), cookie(bobSid)));
      expect(await again.next()).toEqual(pathSubscribedFrame('user', BOB.sub));
    });

    it('/metrics counts realtime_authentications_total by source and result, exactly', async () => {
      const before = await authCounts(t);
      const oks = [
        await TestClient.open(t.wsUrl(CHAT), cookie(anaSid)),
        await TestClient.open(t.wsUrl('/ws/user'), cookie(bobSid)),
        await TestClient.open(t.wsUrl(CHAT, remember(hsToken({ sub: 'u-jwt' })))),
      ].map(track);
      await Promise.all(oks.map((client) => client.next()));
      await refused(t.wsUrl(CHAT), cookie(secret())); // refused
      await refused(t.wsUrl(CHAT)); // refused: no credential at all
      await refused(t.wsUrl(CHAT, 'not.a.jwt')); // refused: a token the JWT check refuses
      await refused(t.wsUrl(CHAT), cookie(store.broken('rejects'))); // error
      await refused(t.wsUrl('/ws/user'), cookie(store.broken('throws'))); // error
      await refused(t.wsUrl(CHAT), cookie(store.corrupt({ sub: '' }))); // error
      await refused(t.wsUrl(CHAT), cookie(store.broken('hangs')), 10_000); // timeout
      // A ticket is redeemed without the authenticator: only its issue counts (http ok).
      const ticket = remember((await rest(t, 'POST', '/ws/ticket', { sid: anaSid })).body.ticket as string);
      const byTicket = track(await TestClient.open(t.wsUrl(`${CHAT}?ticket=${ticket}`)));
      expect(await byTicket.next()).toEqual(welcome(ANA));
      expect((await rest(t, 'GET', '/ws/stats', { sid: anaSid })).status).toBe(200); // http ok
      expect((await rest(t, 'GET', '/ws/stats', { sid: bobSid })).status).toBe(403); // http ok (not an admin)
      expect((await rest(t, 'GET', '/ws/stats')).status).toBe(401); // http refused
      expect((await rest(t, 'GET', '/ws/stats', { token: ADMIN_TOKEN })).status).toBe(200); // the static token: not asked
      expect((await rest(t, 'GET', '/ws/stats', { sid: store.broken('rejects') })).status).toBe(503); // http error
      expect((await rest(t, 'GET', '/ws/stats', { sid: store.broken('hangs') })).status).toBe(503); // http timeout
      expect(delta(before, await authCounts(t))).toEqual({
        'upgrade ok': 3,
        'upgrade refused': 3,
        'upgrade error': 3,
        'upgrade timeout': 1,
        'http ok': 3,
        'http refused': 1,
        'http error': 1,
        'http timeout': 1,
      });
    });
  });

  describe('the checkpoint authenticate RPC', () => {
    it('asks the same authenticator: a delegated JWT, a host API key; a refused token leaves it anonymous', async () => {
      const owner = track(await TestClient.open(t.wsUrl(CHECKPOINTS), cookie(anaSid)));
      const session = (await rpc(owner, 'create_session', {})).result as string;
      const before = await authCounts(t);

      const byJwt = track(await TestClient.open(t.wsUrl(CHECKPOINTS)));
      expect(await rpc(byJwt, 'authenticate', { token: 'not.a.jwt' })).toMatchObject({
        success: false,
        error: 'Invalid authentication token',
      });
      expect(await rpc(byJwt, 'list_checkpoints', { session_id: session })).toMatchObject({
        success: false,
        error: 'Authentication required',
      });
      const jwt = remember(hsToken({ sub: ANA.sub, username: ANA.username }));
      expect(await rpc(byJwt, 'authenticate', { token: jwt })).toMatchObject({
        success: true,
        result: { authenticated: true },
      });
      expect(await rpc(byJwt, 'list_checkpoints', { session_id: session })).toMatchObject({
        success: true,
        result: [],
      });

      // A credential only the host knows (no JWT): the RPC went to the host's authenticator.
      const byKey = track(await TestClient.open(t.wsUrl(CHECKPOINTS)));
      const key = remember(store.issueApiKey(ANA));
      expect(await rpc(byKey, 'authenticate', { token: key })).toMatchObject({
        success: true,
        result: { authenticated: true },
      });
      expect(await rpc(byKey, 'list_checkpoints', { session_id: session })).toMatchObject({
        success: true,
        result: [],
      });
      expect(authenticator.asked.filter((a) => a.source === 'rpc')).toHaveLength(3);

      // The two anonymous upgrades asked it too (no credential: refused, and let in by the checkpoint gateway).
      expect(delta(before, await authCounts(t))).toEqual({ 'rpc ok': 2, 'rpc refused': 1, 'upgrade refused': 2 });
    });
  });

  it('logs no cookie, token or ticket, no stack trace, and did not crash (closes the app)', async () => {
    // The process still serves.
    const chat = track(await TestClient.open(t.wsUrl(CHAT), cookie(anaSid)));
    expect(await chat.next()).toEqual(welcome(ANA));
    await closeAll(open.splice(0));
    closed = true;
    await t.close(); // flushes the summarized refusal lines
    const lines = output.lines;
    // The capture saw the authenticator failures (so the checks below read real log lines)...
    const failures = lines.filter((line) => line.includes('security.authenticator_failed'));
    expect(failures.length).toBeGreaterThan(0);
    // ...and no credential in any line: session ids, JWTs, API keys, tickets, nor the errors quoting them.
    expect(credentials.length).toBeGreaterThan(10);
    const leaks = lines.filter((line) => credentials.some((value) => line.includes(value)));
    expect(leaks).toEqual([]);
    expect(lines.filter((line) => /cannot read session|connection refused/.test(line))).toEqual([]);
    expectNoCrash(output);
  });
});

describe('a host authenticator with no JWT key configured', () => {
  let t: TestApp;
  let output: Captured;

  beforeAll(async () => {
    output = captureOutput();
    t = await startHost(KeylessHostModule);
  });
  afterAll(async () => {
    await t?.close();
    output.restore();
  });

  it('boots without a secret, admits the session cookie, and refuses every JWT', async () => {
    const store = t.app.get(SessionStore);
    const sid = store.signIn(ANA);
    const chat = await TestClient.open(t.wsUrl(CHAT), cookie(sid));
    expect(await chat.next()).toEqual(welcome(ANA));
    expect((await rest(t, 'GET', '/ws/stats', { sid })).status).toBe(200);
    // A token signed with what would be the secret: no key, no JWT.
    const token = remember(hsToken({ sub: 'u-jwt', roles: ['admin'] }));
    expect(await refused(t.wsUrl(CHAT, token))).toEqual({
      code: 4401,
      reason: 'Invalid or expired token',
      frames: [refusals[0][2]('Invalid or expired token', 4401)],
    });
    expect(await rest(t, 'GET', '/ws/stats', { token })).toMatchObject({
      status: 401,
      body: errorBody(401, 'Unauthorized', 'Invalid or expired token'),
    });
    await closeAll([chat]);
    expect(output.lines.filter((line) => credentials.some((value) => line.includes(value)))).toEqual([]);
    expectNoCrash(output);
  });
});
