import { ConsoleLogger } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import jwt from 'jsonwebtoken';
import { createHmac, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { captureOutput, expectNoCrash, expectNoStack, type Captured } from './support/capture-output.js';
import { TestClient, eventually, refused, sleep, type Frame } from './support/test-client.js';
import { useContract } from './support/frame-contract.js';
import { ADMIN_TOKEN, wrap, type TestApp } from './support/test-app.js';
import type { Claims } from './support/tokens.js';
import { RealtimeModule, RealtimeWsAdapter } from '../src/realtime/index.js';

/**
 * Issue 24, deliver 2 and its bad input: tokens checked against a JWKS provider started here (a
 * node:http server whose key set, failures and request count the tests control), on real sockets.
 */

const CHAT = '/api/v1/ws/connect';
const INVALID = 'Invalid or expired token';
const MiB = 1024 * 1024;
const HUGE_BYTES = 50 * MiB;
/** Cooldown of the apps below (`auth.jwksCooldownSec`), and the margin added when a test waits it out. */
const COOLDOWN_MS = 500;
const MARGIN_MS = 100;

// ---------------------------------------------------------------------------------------------
// Keys and tokens
// ---------------------------------------------------------------------------------------------

interface SigningKey {
  kid: string;
  alg: 'RS256' | 'ES256';
  privateKey: KeyObject;
  /** The public key as PEM (what an algorithm-confusion attacker would HMAC with). */
  publicPem: string;
  /** The public JWK the provider publishes. */
  jwk: Record<string, unknown>;
}

function signingKey(kid: string, type: 'rsa' | 'ec'): SigningKey {
  const { publicKey, privateKey } =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const alg = type === 'rsa' ? 'RS256' : 'ES256';
  return {
    kid,
    alg,
    privateKey,
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    jwk: { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' },
  };
}

const keySet = (...keys: SigningKey[]): { keys: Array<Record<string, unknown>> } => ({ keys: keys.map((k) => k.jwk) });

/** Every token this file minted: none may appear in a log line. */
const minted: string[] = [];
const remember = (token: string): string => {
  minted.push(token);
  return token;
};

/** A token signed by `key`, its header naming `kid` (the key's own unless given; `null`: no kid at all). */
function sign(key: SigningKey, claims: Claims, kid: string | null = key.kid): string {
  return remember(
    jwt.sign({ ...claims }, key.privateKey, {
      algorithm: key.alg,
      ...(claims.exp === undefined ? { expiresIn: 3600 } : {}),
      ...(kid === null ? {} : { keyid: kid }),
    }),
  );
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
const now = (): number => Math.floor(Date.now() / 1000);

/** An HS256 token with `kid` in its header, its HMAC keyed by `secret` (e.g. a public key's bytes). */
function hmacToken(kid: string, claims: Claims, secret: string | Buffer): string {
  const unsigned = `${b64({ alg: 'HS256', typ: 'JWT', kid })}.${b64({ iat: now(), exp: now() + 3600, ...claims })}`;
  return remember(`${unsigned}.${createHmac('sha256', secret).update(unsigned).digest('base64url')}`);
}

/** An unsigned `alg: none` token naming a key of the set. */
function noneToken(kid: string, claims: Claims): string {
  return remember(`${b64({ alg: 'none', typ: 'JWT', kid })}.${b64({ iat: now(), exp: now() + 3600, ...claims })}.`);
}

// ---------------------------------------------------------------------------------------------
// The identity provider
// ---------------------------------------------------------------------------------------------

type Document =
  | { kind: 'json'; body: unknown }
  | { kind: 'raw'; body: string; status?: number }
  /** 50 MB of JSON, streamed with back-pressure; `declared` sends its Content-Length first. */
  | { kind: 'huge'; declared: boolean }
  /** Accepts the request and never answers. */
  | { kind: 'hang' };

/** What the provider managed to hand to the socket of one huge answer before the client went away. */
interface HugeAnswer {
  written: number;
  /** Resolves when the connection of the answer is closed; `completed` tells whether all of it was written. */
  closed: Promise<{ completed: boolean }>;
}

/** A JWKS endpoint on an ephemeral port of loopback: serves `document`, counts and times its requests. */
class JwksProvider {
  readonly requests: number[] = [];
  readonly huge: HugeAnswer[] = [];
  /** Requests left unanswered (`hang`), and whether their connection is closed yet. */
  readonly hanging: Array<{ response: ServerResponse; closed: boolean }> = [];
  private document: Document;
  private readonly server: Server;
  url = '';

  private constructor(document: Document) {
    this.document = document;
    this.server = createServer((request, response) => this.answer(request, response));
  }

  static async start(document: Document): Promise<JwksProvider> {
    const provider = new JwksProvider(document);
    await new Promise<void>((resolve) => provider.server.listen(0, '127.0.0.1', resolve));
    provider.url = `http://127.0.0.1:${(provider.server.address() as AddressInfo).port}/.well-known/jwks.json`;
    return provider;
  }

  serve(document: Document): void {
    this.document = document;
  }

  get count(): number {
    return this.requests.length;
  }

  /** Down: the port refuses connections (kept-alive ones are closed too). */
  async stop(): Promise<void> {
    if (!this.server.listening) return;
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private answer(request: IncomingMessage, response: ServerResponse): void {
    this.requests.push(Date.now());
    request.resume();
    const document = this.document;
    switch (document.kind) {
      case 'json':
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(document.body));
        return;
      case 'raw':
        response.writeHead(document.status ?? 200, { 'content-type': 'application/json' }).end(document.body);
        return;
      case 'hang': {
        const hung = { response, closed: false };
        response.once('close', () => (hung.closed = true));
        this.hanging.push(hung);
        return;
      }
      case 'huge':
        this.huge.push(streamHuge(response, document.declared));
        return;
    }
  }
}

/** `{"keys":[` + spaces + `]}`, 50 MB in all, written only as fast as the client reads it. */
function streamHuge(response: ServerResponse, declared: boolean): HugeAnswer {
  const head = Buffer.from('{"keys":[');
  const tail = Buffer.from(']}');
  const filler = Buffer.alloc(64 * 1024, 0x20);
  const answer = { written: 0 } as HugeAnswer;
  answer.closed = new Promise((resolve) =>
    response.once('close', () => resolve({ completed: answer.written === HUGE_BYTES && response.writableFinished })),
  );
  response.writeHead(200, {
    'content-type': 'application/json',
    ...(declared ? { 'content-length': String(HUGE_BYTES) } : {}),
  });
  const write = (chunk: Buffer): boolean => {
    answer.written += chunk.length;
    return response.write(chunk);
  };
  let headSent = false;
  const pump = (): void => {
    if (!headSent) {
      headSent = true;
      if (!write(head)) return void response.once('drain', pump);
    }
    while (!response.destroyed) {
      const left = HUGE_BYTES - tail.length - answer.written;
      if (left <= 0) {
        write(tail);
        response.end();
        return;
      }
      if (!write(left >= filler.length ? filler : filler.subarray(0, left))) return void response.once('drain', pump);
    }
  };
  pump();
  return answer;
}

// ---------------------------------------------------------------------------------------------
// Connections, metrics, the cooldown
// ---------------------------------------------------------------------------------------------

/** When the last upgrade this file made was answered: any JWKS fetch it caused started before. */
let lastAnswered = 0;

/** Opens chat with `token` in the query string (so a URL logged anywhere would show it); returns the welcome. */
async function connects(t: TestApp, token: string): Promise<Frame> {
  const client = new TestClient(t.wsUrl(CHAT, token));
  try {
    const welcome = await client.next(() => true, 10_000);
    expect(welcome).toMatchObject({ type: 'connected', data: { user_id: expect.anything() } });
    return welcome;
  } finally {
    lastAnswered = Date.now();
    client.close();
    await client.waitClose(5000).catch(() => undefined);
  }
}

/** `token` is refused at the upgrade: the chat error frame, then close 4401 `Invalid or expired token`. */
async function expectRefused(t: TestApp, token: string): Promise<void> {
  const result = await refused(t.wsUrl(CHAT, token), {}, 10_000);
  lastAnswered = Date.now();
  expect(result).toEqual({
    code: 4401,
    reason: INVALID,
    frames: [{ type: 'error', data: { error: INVALID, code: 4401 }, timestamp: expect.any(String) }],
  });
}

/**
 * Waits until `ms` (the cooldown unless given) have passed since the last possible fetch (seen by
 * the provider, or caused by an upgrade): the app's own clock started before either.
 */
async function afterCooldown(provider: JwksProvider, ms = COOLDOWN_MS): Promise<void> {
  const last = Math.max(provider.requests.at(-1) ?? 0, lastAnswered);
  const wait = last + ms + MARGIN_MS - Date.now();
  if (wait > 0) await sleep(wait);
}

/** The value of one `/metrics` series (0 when absent). */
async function metric(t: TestApp, series: string): Promise<number> {
  const response = await fetch(`${t.baseUrl}/metrics`);
  expect(response.status).toBe(200);
  const line = (await response.text()).split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const FAILED = 'realtime_jwks_fetches_total{result="failed"}';
const OK = 'realtime_jwks_fetches_total{result="ok"}';

async function expectHealthy(t: TestApp): Promise<void> {
  expect((await t.http('GET', '/ws/health')).status).toBe(200);
}

/**
 * The module checking tokens against `url` (no secret, no public key), on an ephemeral port. Like
 * `startTestApp`, but with a console logger: the testing module's own drops `log` and `warn` lines
 * (the security lines among them), and the capture must see every line to show no token is in any.
 */
async function startApp(url: string, auth: { jwksCacheMaxAgeSec?: number; timeoutMs?: number } = {}): Promise<TestApp> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      RealtimeModule.forRoot({
        auth: { jwksUrl: url, jwksCooldownSec: COOLDOWN_MS / 1000, jwksCacheMaxAgeSec: 600, timeoutMs: 2000, ...auth },
        adminToken: ADMIN_TOKEN,
        maxPendingUpgradesPerIp: 1000,
      }),
    ],
  })
    .setLogger(new ConsoleLogger('Jwks', { colors: false }))
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

// ---------------------------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------------------------

describe('JWKS verification (issue 24)', () => {
  let output: Captured;
  beforeAll(() => {
    output = captureOutput();
  });
  afterAll(() => output.restore());

  describe('keys chosen by kid', () => {
    const rsa = signingKey('rsa-1', 'rsa');
    const rsaOther = signingKey('rsa-2', 'rsa');
    const ec = signingKey('ec-1', 'ec');
    let provider: JwksProvider;
    let t: TestApp;
    beforeAll(async () => {
      provider = await JwksProvider.start({ kind: 'json', body: keySet(rsa, rsaOther, ec) });
      t = await startApp(provider.url);
    });
    afterAll(async () => {
      await t.close();
      await provider.stop();
    });

    it('fetches the set once at start-up; RS256 and ES256 tokens of its keys connect without another fetch', async () => {
      expect(provider.count).toBe(1);
      expect((await connects(t, sign(rsa, { sub: 'ron', username: 'ron' }))).data).toMatchObject({
        user_id: 'ron',
        username: 'ron',
      });
      expect((await connects(t, sign(rsaOther, { sub: 7 }))).data.user_id).toBe(7);
      expect((await connects(t, sign(ec, { sub: 'eve' }))).data.user_id).toBe('eve');
      expect(provider.count).toBe(1);
      expect(await metric(t, OK)).toBe(1);
      expect(await metric(t, FAILED)).toBe(0);
    });

    it('refuses a token whose kid is not in the set with 4401, after asking the provider once', async () => {
      await afterCooldown(provider);
      const before = provider.count;
      await expectRefused(t, sign(rsa, { sub: 'mallory' }, 'unknown-kid'));
      expect(provider.count).toBe(before + 1);
      // A key of another issuer (not in the set) under a kid of the set: the signature does not verify.
      await expectRefused(t, sign(signingKey('rsa-1', 'rsa'), { sub: 'mallory' }));
    });

    it.each([
      ['alg none naming a key of the set', () => noneToken(rsa.kid, { sub: 'mallory' })],
      [
        'HS256 keyed by the RSA public key PEM (algorithm confusion)',
        () => hmacToken(rsa.kid, { sub: 'm' }, rsa.publicPem),
      ],
      [
        'HS256 keyed by the EC public key PEM (algorithm confusion)',
        () => hmacToken(ec.kid, { sub: 'm' }, ec.publicPem),
      ],
      ['HS256 keyed by the published JWK itself', () => hmacToken(rsa.kid, { sub: 'm' }, JSON.stringify(rsa.jwk))],
      ['no kid while the set holds several keys', () => sign(rsa, { sub: 'mallory' }, null)],
      ['an RSA-signed token naming the EC key', () => sign(rsa, { sub: 'mallory' }, ec.kid)],
      ['an EC-signed token naming an RSA key', () => sign(ec, { sub: 'mallory' }, rsa.kid)],
      ['an expired token of a key of the set', () => sign(rsa, { sub: 'mallory', exp: now() - 3600 })],
      ['a non-string kid', () => hmacToken(42 as unknown as string, { sub: 'm' }, 'x')],
    ])('refuses %s with 4401', async (_name, token) => {
      await expectRefused(t, token());
    });

    it('lets the admin API in for an admin-role token of a JWKS key (200) and not for another (403, 401)', async () => {
      const stats = await t.http('GET', '/ws/stats', { token: sign(rsa, { sub: 'ops', roles: ['admin'] }) });
      expect(stats.status).toBe(200);
      expect(stats.body).toMatchObject({ connections: expect.anything(), messages: expect.anything() });
      expect((await t.http('GET', '/ws/stats', { token: sign(ec, { sub: 'ops', roles: ['admin'] }) })).status).toBe(
        200,
      );
      expect(await t.http('GET', '/ws/stats', { token: sign(rsa, { sub: 'user', roles: ['user'] }) })).toMatchObject({
        status: 403,
        body: { statusCode: 403, message: ['Admin role required'] },
      });
      expect(
        await t.http('GET', '/ws/stats', { token: sign(rsa, { sub: 'ops', roles: ['admin'] }, 'not-in-the-set') }),
      ).toMatchObject({ status: 401, body: { statusCode: 401, message: [INVALID] } });
      expect(
        (await t.http('GET', '/ws/stats', { token: noneToken(rsa.kid, { sub: 'ops', roles: ['admin'] }) })).status,
      ).toBe(401);
    });
  });

  describe('key rotation without a restart, then the provider down', () => {
    const old = signingKey('2024-old', 'rsa');
    const next = signingKey('2025-new', 'ec');
    let provider: JwksProvider;
    let t: TestApp;
    beforeAll(async () => {
      provider = await JwksProvider.start({ kind: 'json', body: keySet(old) });
      t = await startApp(provider.url);
    });
    afterAll(async () => {
      await t.close();
      await provider.stop();
    });

    it('accepts a token without kid when the set holds a single key', async () => {
      expect((await connects(t, sign(old, { sub: 'solo' }, null))).data.user_id).toBe('solo');
      expect(provider.count).toBe(1);
    });

    it('follows a rotation: the new kid is accepted after exactly one refetch, the withdrawn key is refused', async () => {
      expect((await connects(t, sign(old, { sub: 'before' }))).data.user_id).toBe('before');
      provider.serve({ kind: 'json', body: keySet(next) });
      await afterCooldown(provider);
      const before = provider.count;
      expect((await connects(t, sign(next, { sub: 'after' }))).data.user_id).toBe('after');
      // The one fetch the unknown kid caused, and none for the next token of that key.
      expect(provider.count).toBe(before + 1);
      expect((await connects(t, sign(next, { sub: 'again' }))).data.user_id).toBe('again');
      expect(provider.count).toBe(before + 1);
      await expectRefused(t, sign(old, { sub: 'before' }));
    });

    it('keeps the fetched keys while the provider is down; an unknown kid is refused; the app stays healthy', async () => {
      await provider.stop();
      const failed = await metric(t, FAILED);
      expect((await connects(t, sign(next, { sub: 'during-outage' }))).data.user_id).toBe('during-outage');
      await afterCooldown(provider);
      await expectRefused(t, sign(next, { sub: 'x' }, 'rotated-again'));
      // The refusal followed a fetch that failed (not a skipped one).
      expect(await metric(t, FAILED)).toBe(failed + 1);
      expect((await connects(t, sign(next, { sub: 'still' }))).data.user_id).toBe('still');
      await expectHealthy(t);
      expect((await t.http('GET', '/ws/stats', { token: sign(next, { sub: 'ops', roles: ['admin'] }) })).status).toBe(
        200,
      );
    });
  });

  describe('a stale set (past jwksCacheMaxAgeSec)', () => {
    const first = signingKey('first', 'rsa');
    const second = signingKey('second', 'rsa');
    let provider: JwksProvider;
    let t: TestApp;
    beforeAll(async () => {
      provider = await JwksProvider.start({ kind: 'json', body: keySet(first) });
      t = await startApp(provider.url, { jwksCacheMaxAgeSec: 1 });
    });
    afterAll(async () => {
      await t.close();
      await provider.stop();
    });

    it('still verifies while it is refreshed in the background, then follows the provider', async () => {
      provider.serve({ kind: 'json', body: keySet(second) });
      await afterCooldown(provider, 1000);
      const before = provider.count;
      // Served from the stale set at once; the use starts one background fetch.
      expect((await connects(t, sign(first, { sub: 'stale' }))).data.user_id).toBe('stale');
      await eventually(() => provider.count === before + 1, 5000, 'the background refetch');
      await eventually(async () => (await metric(t, OK)) === 2, 5000, 'the refetched set in use');
      expect((await connects(t, sign(second, { sub: 'fresh' }))).data.user_id).toBe('fresh');
      await expectRefused(t, sign(first, { sub: 'stale' }));
    });
  });

  describe('a storm of unknown kids', () => {
    const key = signingKey('storm-key', 'rsa');
    let provider: JwksProvider;
    let t: TestApp;
    beforeAll(async () => {
      provider = await JwksProvider.start({ kind: 'json', body: keySet(key) });
      t = await startApp(provider.url);
    });
    afterAll(async () => {
      await t.close();
      await provider.stop();
    });

    it('costs at most 1 + ceil(elapsed / cooldown) fetches, and valid tokens keep connecting', async () => {
      const storm = Array.from({ length: 200 }, (_, i) =>
        sign(key, { sub: `storm-${i}` }, randomBytes(8).toString('hex')),
      );
      const valid = Array.from({ length: 10 }, (_, i) => sign(key, { sub: `valid-${i}` }));
      await afterCooldown(provider);
      const before = provider.count;
      const refusedBefore = await metric(t, 'realtime_authentications_total{source="upgrade",result="refused"}');
      const started = Date.now();
      const refusals = storm.map((token) => refused(t.wsUrl(CHAT, token), {}, 20_000));
      const welcomes = valid.map((token) => connects(t, token));
      const results = await Promise.all(refusals);
      const elapsed = Date.now() - started;
      lastAnswered = Date.now();
      for (const result of results) expect(result).toMatchObject({ code: 4401, reason: INVALID });
      expect((await Promise.all(welcomes)).map((w) => w.data.user_id)).toEqual(valid.map((_, i) => `valid-${i}`));
      const fetches = provider.count - before;
      // A fetch starts at most once per cooldown (1 s here): over `elapsed` ms, 1 + ceil(elapsed / 1000).
      expect(fetches).toBeGreaterThanOrEqual(1);
      expect(fetches).toBeLessThanOrEqual(1 + Math.ceil(elapsed / COOLDOWN_MS));
      expect(
        (await metric(t, 'realtime_authentications_total{source="upgrade",result="refused"}')) - refusedBefore,
      ).toBe(200);
      // No fetch was left queued by the storm.
      await sleep(COOLDOWN_MS + MARGIN_MS);
      expect(provider.count - before).toBe(fetches);
      expect((await connects(t, sign(key, { sub: 'after-storm' }))).data.user_id).toBe('after-storm');
      await expectHealthy(t);
    });
  });

  describe('bad documents after a good set was fetched', () => {
    const good = signingKey('good', 'rsa');
    let provider: JwksProvider;
    let t: TestApp;
    beforeAll(async () => {
      provider = await JwksProvider.start({ kind: 'json', body: keySet(good) });
      t = await startApp(provider.url, { timeoutMs: 3000 });
    });
    afterAll(async () => {
      await t.close();
      for (const { response } of provider.hanging) response.destroy();
      await provider.stop();
    });

    it.each<[string, Document]>([
      ['not JSON', { kind: 'raw', body: 'this is not JSON {' }],
      ['{}', { kind: 'json', body: {} }],
      ['{"keys": {}}', { kind: 'json', body: { keys: {} } }],
      ['a 500 answer', { kind: 'raw', status: 500, body: '{"keys":[]}' }],
    ])(
      '%s: the unknown kid is refused 4401, the fetch counts as failed, the good keys keep working',
      async (_n, doc) => {
        provider.serve(doc);
        await afterCooldown(provider);
        const before = provider.count;
        const failed = await metric(t, FAILED);
        await expectRefused(t, sign(good, { sub: 'x' }, 'not-yet-published'));
        expect(provider.count).toBe(before + 1);
        expect(await metric(t, FAILED)).toBe(failed + 1);
        expect((await connects(t, sign(good, { sub: 'kept' }))).data.user_id).toBe('kept');
        await expectHealthy(t);
      },
    );

    it.each([
      ['streamed without a length', false],
      ['with its Content-Length', true],
    ])('a 50 MB document %s is refused unread: 4401, the good keys keep working', async (_n, declared) => {
      provider.serve({ kind: 'huge', declared });
      await afterCooldown(provider);
      const failed = await metric(t, FAILED);
      const answers = provider.huge.length;
      await expectRefused(t, sign(good, { sub: 'x' }, 'not-yet-published'));
      expect(provider.huge.length).toBe(answers + 1);
      const answer = provider.huge[answers];
      // The client went away before the provider could write it all.
      expect(await Promise.race([answer.closed, sleep(10_000).then(() => 'still open after 10 s')])).toEqual({
        completed: false,
      });
      expect(answer.written).toBeLessThan(16 * MiB);
      expect(await metric(t, FAILED)).toBe(failed + 1);
      expect((await connects(t, sign(good, { sub: 'kept' }))).data.user_id).toBe('kept');
      await expectHealthy(t);
    });

    it('a provider that never answers: known keys connect meanwhile; the unknown kid is refused 4401 at the timeout', async () => {
      provider.serve({ kind: 'hang' });
      await afterCooldown(provider);
      const failed = await metric(t, FAILED);
      const hanging = provider.hanging.length;
      const client = new TestClient(t.wsUrl(CHAT, sign(good, { sub: 'x' }, 'not-yet-published')));
      await eventually(() => provider.hanging.length === hanging + 1, 5000, 'the fetch reaching the provider');
      // While that fetch is pending, a token of a known key is not held up by it.
      expect((await connects(t, sign(good, { sub: 'not-held' }))).data.user_id).toBe('not-held');
      expect(provider.hanging[hanging].closed).toBe(false);
      const closed = await client.waitClose(10_000);
      lastAnswered = Date.now();
      // The fetch gives up at auth.timeoutMs, and the kid is still unknown: refused like with the provider down.
      expect(client.frames).toEqual([
        { type: 'error', data: { error: INVALID, code: 4401 }, timestamp: expect.any(String) },
      ]);
      expect(closed).toEqual({ code: 4401, reason: INVALID });
      expect(await metric(t, FAILED)).toBe(failed + 1);
      // The app gave up on the fetch: the provider's connection was closed.
      await eventually(() => provider.hanging[hanging].closed, 5000, 'the abandoned fetch closed');
      await expectHealthy(t);
    });

    it('left nothing in the output that tells of a crash', () => {
      expectNoCrash(output);
      expectNoStack(output);
    });
  });

  describe('a well-formed set with no usable key, after a good set', () => {
    const good = signingKey('good', 'rsa');
    const oct = { kty: 'oct', kid: 'hmac', k: Buffer.from('a-shared-secret-a-shared-secret!').toString('base64url') };

    it.each<[string, unknown]>([
      ['{"keys": []}', { keys: [] }],
      ['only a symmetric (oct) key', { keys: [oct] }],
      ['only an encryption key', { keys: [{ ...good.jwk, kid: 'enc', use: 'enc' }] }],
    ])('%s: counted as a failed fetch, the good keys keep working', async (_n, body) => {
      const provider = await JwksProvider.start({ kind: 'json', body: keySet(good) });
      const t = await startApp(provider.url);
      try {
        expect((await connects(t, sign(good, { sub: 'first' }))).data.user_id).toBe('first');
        provider.serve({ kind: 'json', body });
        await afterCooldown(provider);
        await expectRefused(t, sign(good, { sub: 'x' }, 'not-yet-published'));
        expect(provider.count).toBe(2);
        expect((await connects(t, sign(good, { sub: 'kept' }))).data.user_id).toBe('kept');
        expect(await metric(t, FAILED)).toBe(1);
      } finally {
        await t.close();
        await provider.stop();
      }
    });
  });

  describe('bad documents before any good set', () => {
    const key = signingKey('later', 'ec');
    const oct = { kty: 'oct', kid: 'hmac', k: Buffer.from('a-shared-secret-a-shared-secret!').toString('base64url') };
    let provider: JwksProvider;
    let t: TestApp;
    beforeAll(async () => {
      provider = await JwksProvider.start({ kind: 'raw', body: '<html>Bad gateway</html>' });
      t = await startApp(provider.url);
    });
    afterAll(async () => {
      await t.close();
      await provider.stop();
    });

    it('starts although the first fetch failed, and counts it', async () => {
      expect(provider.count).toBe(1);
      expect(await metric(t, FAILED)).toBe(1);
      expect(await metric(t, OK)).toBe(0);
      await expectHealthy(t);
    });

    it.each<[string, Document, () => string]>([
      ['not JSON', { kind: 'raw', body: 'garbage' }, () => sign(key, { sub: 'x' })],
      ['{}', { kind: 'json', body: {} }, () => sign(key, { sub: 'x' })],
      ['{"keys": []}', { kind: 'json', body: { keys: [] } }, () => sign(key, { sub: 'x' })],
      ['a 50 MB document', { kind: 'huge', declared: false }, () => sign(key, { sub: 'x' })],
      [
        'a set holding only a symmetric (oct) key, and an HS256 token of it',
        { kind: 'json', body: { keys: [oct] } },
        () => hmacToken('hmac', { sub: 'x' }, Buffer.from(oct.k, 'base64url')),
      ],
      [
        'a set whose only key is for encryption',
        { kind: 'json', body: { keys: [{ ...key.jwk, use: 'enc' }] } },
        () => sign(key, { sub: 'x' }),
      ],
    ])('%s: the token is refused 4401 after one fetch', async (_n, doc, token) => {
      provider.serve(doc);
      await afterCooldown(provider);
      const before = provider.count;
      await expectRefused(t, token());
      expect(provider.count).toBe(before + 1);
      await expectHealthy(t);
    });

    it('a good set published at last: its key connects after one fetch', async () => {
      provider.serve({ kind: 'json', body: keySet(key) });
      await afterCooldown(provider);
      const before = provider.count;
      expect((await connects(t, sign(key, { sub: 'finally' }))).data.user_id).toBe('finally');
      expect(provider.count).toBe(before + 1);
      expect(await metric(t, FAILED)).toBeGreaterThanOrEqual(4);
    });
  });

  it('printed no token, no stack and no crash', () => {
    const text = output.lines.join('\n');
    // The capture saw the refusals and the connects (so the checks below read real log lines)...
    expect(output.lines.filter((line) => line.includes('security.auth_failed')).length).toBeGreaterThan(5);
    expect(
      output.lines.filter((line) => / connect gateway=chat .*token=\[REDACTED\]/.test(line)).length,
    ).toBeGreaterThan(5);
    // ...and none of the tokens this file minted, whole or its signature alone.
    expect(minted.length).toBeGreaterThan(250);
    for (const token of minted) {
      expect(text).not.toContain(token);
      const signature = token.split('.')[2];
      if (signature) expect(text).not.toContain(signature);
    }
    expectNoCrash(output);
  });
});
