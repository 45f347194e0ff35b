import { TestClient, sleep } from './support/test-client.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { TEST_SECRET, hsToken, noneToken } from './support/tokens.js';
import {
  AUTH_REQUIRED,
  CHECKPOINTS,
  INVALID_AUTH,
  UUID,
  call,
  checkpoint,
  closeAll,
  createSession,
  failure,
  invalidJson,
  list,
  metrics,
  openAnonymous,
  openCheckpoint,
  refused,
  reply,
  rpc,
  tryOpen,
  upgradeStatus,
} from './support/checkpoint-client.js';

/**
 * SPEC §2 on the checkpoint path and SPEC §5's `authenticate`: a token at the upgrade, no token
 * (unauthenticated until `authenticate`, closed after 10 s), a bad token, origins, expiry, capacity.
 */

const STATIC = 'static-token-9f3c1e7a5b';
/** The owner of the session these tests read to tell an authenticated connection (sessions have owners, SPEC §5). */
const OWNER = 'setup';
const INIT_INVALID = { id: 'init', success: false, error: 'Invalid or expired token' };
const CAPACITY = { id: 'init', success: false, error: 'Server at capacity' };
const now = (): number => Math.floor(Date.now() / 1000);

/** Every method but `authenticate`, with params that would be valid for `session`. */
function guardedRequests(session: string, checkpointId: string): Array<[string, Record<string, unknown>]> {
  return [
    ['create_session', { name: 'x' }],
    ['list_checkpoints', { session_id: session }],
    ['checkpoint', { session_id: session, message: 'sneaky' }],
    ['restore', { session_id: session, checkpoint_id: checkpointId }],
    ['delete_checkpoint', { session_id: session, checkpoint_id: checkpointId }],
    ['compact', { session_id: session, keep: 0 }],
    ['subscribe', { session_id: session }],
    ['unsubscribe', { session_id: session }],
    ['metrics', {}],
  ];
}

/** Token values `authenticate` must refuse (none of them is a valid JWT or the static token). */
const BAD_TOKEN_PARAMS: Array<[string, unknown]> = [
  ['a wrong static token', { token: 'static-token-wrong' }],
  ['the static token with a NUL', { token: `${STATIC}\u0000` }],
  ['the static token with a space', { token: `${STATIC} ` }],
  ['the static token upper-cased', { token: STATIC.toUpperCase() }],
  ['a prefix of the static token', { token: STATIC.slice(0, -1) }],
  ['the static token twice', { token: STATIC + STATIC }],
  ['an empty token', { token: '' }],
  ['a boolean token', { token: true }],
  ['a number token', { token: 1 }],
  ['a null token', { token: null }],
  ['an array token', { token: [STATIC] }],
  ['an object token', { token: { toString: STATIC, valueOf: STATIC } }],
  ['no token', {}],
  ['another param', { auth_token: STATIC }],
  ['a JWT with a wrong signature', { token: hsToken({ sub: 'x' }, 'another-secret-another-secret-another') }],
  ['an expired JWT', { token: hsToken({ sub: 'x', exp: now() - 120 }) }],
  ['an alg:none JWT', { token: noneToken({ sub: 'x', exp: now() + 3600 }) }],
  ['a JWT without sub', { token: hsToken({ username: 'nobody' }) }],
  ['garbage', { token: 'not.a.jwt' }],
];

/** Whether `authenticate` params are malformed (no non-empty string token): sent as a frame the contract does not describe. */
const malformed = (params: unknown): boolean => {
  const token = (params as { token?: unknown }).token;
  return typeof token !== 'string' || token === '';
};

describe('checkpoint gateway: authentication (SPEC §2, §5)', () => {
  let t: TestApp;
  let session: string;
  let existing: string;
  const open: TestClient[] = [];

  const track = (client: TestClient): TestClient => {
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    t = await startTestApp({ checkpoint: { authToken: STATIC } });
    const setup = await openCheckpoint(t, { sub: OWNER });
    session = await createSession(setup, 'auth');
    existing = await checkpoint(setup, session, 'existing', { secret: 1 });
    await closeAll([setup]);
  });
  afterEach(async () => {
    await closeAll(open.splice(0));
  });
  afterAll(() => t.close());

  describe('at the upgrade', () => {
    it('authenticates from the start with a valid token in the query string, and sends nothing unasked', async () => {
      const c = track(await openCheckpoint(t, { sub: OWNER, username: 'q' }));
      await sleep(200);
      expect(c.frames).toEqual([]);
      expect(await createSession(c)).toMatch(UUID);
      expect(await list(c, session)).toHaveLength(1);
      expect(c.frames).toHaveLength(2);
    });

    it('authenticates from the start with Authorization: Bearer', async () => {
      const c = track(await openCheckpoint(t, { sub: OWNER, username: 'h' }, { viaHeader: true }));
      expect(await createSession(c)).toMatch(UUID);
      expect((await call(c, 'restore', { session_id: session, checkpoint_id: existing })).state).toEqual({
        secret: 1,
      });
    });

    it.each([
      ['garbage', () => 'not.a.jwt'],
      ['a wrong signature', () => hsToken({ sub: '1' }, 'another-secret-another-secret-another')],
      ['an expired token', () => hsToken({ sub: '1', exp: now() - 60 })],
      ['alg none', () => noneToken({ sub: '1', exp: now() + 3600 })],
      ['no sub', () => hsToken({ username: 'x' })],
    ])('refuses %s in the query with the init error frame, then 4401', async (_what, token) => {
      const result = await refused(t.wsUrl(CHECKPOINTS, token()));
      expect(result).toEqual({ frames: [INIT_INVALID], code: 4401, reason: 'Invalid or expired token' });
    });

    it('refuses a bad Bearer token the same way', async () => {
      const result = await refused(t.wsUrl(CHECKPOINTS), { headers: { authorization: 'Bearer not.a.jwt' } });
      expect(result).toEqual({ frames: [INIT_INVALID], code: 4401, reason: 'Invalid or expired token' });
    });

    it('prefers the query token over the header', async () => {
      const result = await refused(t.wsUrl(CHECKPOINTS, 'garbage'), {
        headers: { authorization: `Bearer ${hsToken({ sub: 'h' })}` },
      });
      expect(result).toEqual({ frames: [INIT_INVALID], code: 4401, reason: 'Invalid or expired token' });
    });
  });

  describe('without a token', () => {
    it('accepts the connection unauthenticated: every method but authenticate answers Authentication required', async () => {
      const probe = track(await openCheckpoint(t, { sub: OWNER, username: 'probe' }));
      const before = await metrics(probe);
      const c = track(await openAnonymous(t));
      await sleep(100);
      expect(c.frames).toEqual([]);
      for (const [method, params] of guardedRequests(session, existing)) {
        const response = await rpc(c, method, params);
        expect(response).toEqual(failure(response.id, AUTH_REQUIRED));
      }
      const bare = await reply(c, { id: 'bare', method: 'metrics' });
      expect(bare).toEqual(failure('bare', AUTH_REQUIRED));
      // nothing happened in the store
      const after = await metrics(probe);
      expect([after.sessions, after.checkpoints]).toEqual([before.sessions, before.checkpoints]);
      expect((await list(probe, session)).map((e) => e.id)).toEqual([existing]);
      expect(c.socket.readyState).toBe(c.socket.OPEN);
    });

    it('answers an unknown method with Authentication required too (the seed checks auth before dispatch)', async () => {
      const c = track(await openAnonymous(t));
      for (const method of ['dance', 'toString', '']) {
        const response = await rpc(c, method, {}, { invalid: true });
        expect(response).toEqual(failure(response.id, AUTH_REQUIRED));
      }
    });

    it('authenticates with a valid JWT', async () => {
      const c = track(await openAnonymous(t));
      const response = await rpc(c, 'authenticate', { token: hsToken({ sub: OWNER, username: 'late' }) });
      expect(response).toEqual({ id: response.id, success: true, result: { authenticated: true } });
      expect(await createSession(c)).toMatch(UUID);
      expect((await list(c, session)).map((e) => e.id)).toEqual([existing]);
    });

    it('authenticates with the configured static token', async () => {
      const c = track(await openAnonymous(t));
      const response = await rpc(c, 'authenticate', { token: STATIC });
      expect(response).toEqual({ id: response.id, success: true, result: { authenticated: true } });
      expect(await createSession(c)).toMatch(UUID);
    });

    it.each(BAD_TOKEN_PARAMS)(
      'refuses %s with Invalid authentication token; the connection stays unauthenticated',
      async (_what, params) => {
        const c = track(await openAnonymous(t));
        const response = await rpc(c, 'authenticate', params, { invalid: malformed(params) });
        expect(response).toEqual(failure(response.id, INVALID_AUTH));
        const denied = await rpc(c, 'create_session', {});
        expect(denied).toEqual(failure(denied.id, AUTH_REQUIRED));
      },
    );

    it('refuses authenticate without params, and a __proto__ token as invalid JSON', async () => {
      const c = track(await openAnonymous(t));
      expect(await reply(c, { id: 'no-params', method: 'authenticate' }, { invalid: true })).toEqual(
        failure('no-params', INVALID_AUTH),
      );
      const polluted = await reply(
        c,
        `{"id":"proto","method":"authenticate","params":{"token":{"__proto__":{"authenticated":true}}}}`,
        { invalid: true },
      );
      expect(polluted).toEqual(failure('proto', invalidJson()));
      const denied = await rpc(c, 'metrics');
      expect(denied).toEqual(failure(denied.id, AUTH_REQUIRED));
      expect(({} as Record<string, unknown>).authenticated).toBeUndefined();
    });
  });

  describe('a failed authenticate on an authenticated connection', () => {
    it.each([
      ['authenticated at the upgrade', async () => openCheckpoint(t, { sub: 'up' })],
      [
        'authenticated by authenticate',
        async () => {
          const c = await openAnonymous(t);
          await call(c, 'authenticate', { token: STATIC });
          return c;
        },
      ],
    ])('leaves a connection %s authenticated', async (_what, connect) => {
      const c = track(await connect());
      for (const [, params] of BAD_TOKEN_PARAMS.slice(0, 8)) {
        const response = await rpc(c, 'authenticate', params, { invalid: malformed(params) });
        expect(response).toEqual(failure(response.id, INVALID_AUTH));
      }
      const own = await createSession(c);
      expect(await list(c, own)).toEqual([]);
    });

    it('answers a valid authenticate on an authenticated connection with authenticated:true', async () => {
      const c = track(await openCheckpoint(t, { sub: 'twice' }));
      expect(await call(c, 'authenticate', { token: STATIC })).toEqual({ authenticated: true });
      expect(await call(c, 'authenticate', { token: hsToken({ sub: 'twice' }) })).toEqual({ authenticated: true });
      expect(await createSession(c)).toMatch(UUID);
    });
  });

  describe('the 10 s deadline', () => {
    it('closes an unauthenticated connection after 10 s with 4401 Authentication required, busy or idle', async () => {
      const idle = track(await openAnonymous(t));
      const opened = Date.now();
      const busy = track(await openAnonymous(t));
      const failing = track(await openAnonymous(t));
      const poke = async (): Promise<void> => {
        const denied = await rpc(busy, 'list_checkpoints', { session_id: session });
        expect(denied).toEqual(failure(denied.id, AUTH_REQUIRED));
        const refusedAuth = await rpc(failing, 'authenticate', { token: 'static-token-wrong' });
        expect(refusedAuth).toEqual(failure(refusedAuth.id, INVALID_AUTH));
      };
      await poke();
      await sleep(4000);
      await poke();
      await sleep(8500 - (Date.now() - opened));
      await poke();
      for (const c of [idle, busy, failing]) expect(c.socket.readyState).toBe(c.socket.OPEN);
      const closes = await Promise.all([idle, busy, failing].map((c) => c.waitClose(5000)));
      const closedAfter = Date.now() - opened;
      expect(closes).toEqual(Array(3).fill({ code: 4401, reason: 'Authentication required' }));
      expect(closedAfter).toBeGreaterThanOrEqual(9000);
    }, 20_000);

    it('cancels the deadline on a successful authenticate (JWT or static token)', async () => {
      const viaJwt = track(await openAnonymous(t));
      const opened = Date.now();
      const viaStatic = track(await openAnonymous(t));
      const fromUpgrade = track(await openCheckpoint(t, { sub: 'upgrade' }));
      expect(await call(viaJwt, 'authenticate', { token: hsToken({ sub: 'jwt' }) })).toEqual({ authenticated: true });
      await sleep(7000);
      const denied = await rpc(viaStatic, 'metrics');
      expect(denied).toEqual(failure(denied.id, AUTH_REQUIRED));
      expect(await call(viaStatic, 'authenticate', { token: STATIC })).toEqual({ authenticated: true });
      await sleep(12_500 - (Date.now() - opened));
      for (const c of [viaJwt, viaStatic, fromUpgrade]) {
        expect(c.socket.readyState).toBe(c.socket.OPEN);
        expect(await createSession(c)).toMatch(UUID);
      }
    }, 20_000);
  });
});

describe('checkpoint gateway: origins (SPEC §2)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ allowedOrigins: ['https://ok.example'] });
  });
  afterAll(() => t.close());

  it('refuses an unlisted Origin with HTTP 403 before the upgrade, with or without a token', async () => {
    const token = hsToken({ sub: 'o' });
    expect(await upgradeStatus(t.wsUrl(CHECKPOINTS, token), { headers: { origin: 'https://evil.example' } })).toBe(403);
    expect(await upgradeStatus(t.wsUrl(CHECKPOINTS), { headers: { origin: 'https://evil.example' } })).toBe(403);
    expect(
      await upgradeStatus(t.wsUrl(CHECKPOINTS), {
        headers: { origin: 'https://evil.example', authorization: `Bearer ${token}` },
      }),
    ).toBe(403);
  });

  it('accepts a listed Origin and a client without one', async () => {
    const listedOrigin = await openCheckpoint(t, { sub: 'o' }, { headers: { origin: 'https://ok.example' } });
    expect(await createSession(listedOrigin)).toMatch(UUID);
    const noOrigin = await openCheckpoint(t, { sub: 'o' });
    expect(await createSession(noOrigin)).toMatch(UUID);
    await closeAll([listedOrigin, noOrigin]);
  });
});

describe('checkpoint gateway: token expiry (SPEC §2)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ auth: { secret: TEST_SECRET, clockToleranceSec: 0 }, checkpoint: { authToken: STATIC } });
  });
  afterAll(() => t.close());

  it('closes with 4401 Token expired when the upgrade token’s exp passes', async () => {
    const exp = now() + 2;
    const c = await TestClient.open(t.wsUrl(CHECKPOINTS, hsToken({ sub: 'exp', exp })));
    expect(await createSession(c)).toMatch(UUID);
    expect(c.socket.readyState).toBe(c.socket.OPEN);
    expect(await c.waitClose(8000)).toEqual({ code: 4401, reason: 'Token expired' });
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000 - 50);
  }, 15_000);

  it('closes with 4401 Token expired when a JWT given to authenticate expires', async () => {
    const exp = now() + 2;
    const c = await openAnonymous(t);
    expect(await call(c, 'authenticate', { token: hsToken({ sub: 'exp', exp }) })).toEqual({ authenticated: true });
    expect(await createSession(c)).toMatch(UUID);
    expect(await c.waitClose(8000)).toEqual({ code: 4401, reason: 'Token expired' });
    expect(Date.now()).toBeGreaterThanOrEqual(exp * 1000 - 50);
  }, 15_000);

  it('refuses an expired JWT in authenticate', async () => {
    const c = await openAnonymous(t);
    const response = await rpc(c, 'authenticate', { token: hsToken({ sub: 'exp', exp: now() - 2 }) });
    expect(response).toEqual(failure(response.id, INVALID_AUTH));
    const denied = await rpc(c, 'create_session');
    expect(denied).toEqual(failure(denied.id, AUTH_REQUIRED));
    await closeAll([c]);
  });
});

describe('checkpoint gateway: capacity (SPEC §5, maxConnections 3)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ checkpoint: { maxConnections: 3, authToken: STATIC } });
  });
  afterAll(() => t.close());

  it('refuses the 4th signed-in connection with Server at capacity then 1013, and takes one again after a close; tokenless sockets take no place', async () => {
    const url = t.wsUrl(CHECKPOINTS, hsToken({ sub: 'cap' }));
    const anonymous = await openAnonymous(t);
    const denied = await rpc(anonymous, 'metrics');
    expect(denied).toEqual(failure(denied.id, AUTH_REQUIRED));
    const first = await tryOpen(url);
    const second = await tryOpen(url);
    const third = await tryOpen(url);
    expect([first, second, third].every((c) => c !== undefined)).toBe(true);

    const result = await refused(url);
    expect(result.frames).toEqual([CAPACITY]);
    expect(result.code).toBe(1013);
    // A tokenless socket is still let in (it is bounded as a pending socket of its address), but
    // cannot take a place by authenticating while the gateway is full.
    const late = await openAnonymous(t);
    const login = await rpc(late, 'authenticate', { token: STATIC });
    expect(login).toEqual(failure(login.id, 'Server at capacity'));
    expect((await late.waitClose()).code).toBe(1013);
    expect(await metrics(first!)).toMatchObject({ connections: 4 });

    first!.close();
    await first!.waitClose();
    let replacement: TestClient | undefined;
    for (let attempt = 0; attempt < 50 && !replacement; attempt++) {
      replacement = await tryOpen(url);
      if (!replacement) await sleep(50);
    }
    expect(replacement).toBeDefined();
    // full again: refused connections did not take a place
    const again = await refused(url);
    expect(again.frames).toEqual([CAPACITY]);
    expect(again.code).toBe(1013);
    for (const c of [second!, third!, anonymous, replacement!]) expect(c.socket.readyState).toBe(c.socket.OPEN);
    expect(await metrics(second!)).toMatchObject({ connections: 4 });
    await closeAll([second!, third!, anonymous, replacement!]);
  });
});

describe('checkpoint gateway: default capacity 100 (SPEC §5)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(() => t.close());

  it('accepts 100 connections and refuses the 101st', async () => {
    const url = t.wsUrl(CHECKPOINTS, hsToken({ sub: 'many' }));
    const clients: TestClient[] = [];
    for (let batch = 0; batch < 5; batch++) {
      const opened = await Promise.all(Array.from({ length: 20 }, () => tryOpen(url)));
      opened.forEach((c) => expect(c).toBeDefined());
      clients.push(...(opened as TestClient[]));
    }
    expect(await metrics(clients[0])).toMatchObject({ connections: 100 });
    const result = await refused(url);
    expect(result.frames).toEqual([CAPACITY]);
    expect(result.code).toBe(1013);
    const session = await createSession(clients[99]);
    expect(await list(clients[0], session)).toEqual([]);
    for (const c of clients) expect(c.socket.readyState).toBe(c.socket.OPEN);
    await closeAll(clients);
  }, 30_000);
});
