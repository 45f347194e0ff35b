import { TestClient, eventually, expectWithinRate, sleep, sustainedFlood } from './support/test-client.js';
import { anyPosition } from './support/positions.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { captureOutput, expectNoCrash, expectUnpolluted } from './support/capture-output.js';
import { caseLabel, checkGenerated, depthOf, nestedObjects } from './support/hostile-frames.js';
import { hsToken } from './support/tokens.js';
import {
  AUTH_REQUIRED,
  NO_SESSION,
  checkpointBarrage,
  expectCheckpointError,
  type CheckpointCase,
  type CheckpointContext,
  INVALID_AUTH,
  RATE_LIMITED,
  UUID,
  call,
  checkpoint,
  closeAll,
  createSession,
  eventFrame,
  events,
  failure,
  invalidJson,
  isResponse,
  list,
  openAnonymous,
  openCheckpoint,
  randomUUID,
  reply,
  rpc,
  subscribe,
  waitEvents,
} from './support/checkpoint-client.js';

/**
 * SPEC §10 on the checkpoint gateway: bad frames get `{"id","success":false,"error"}` and the
 * connection goes on; the hostile-frame generator (test/support/hostile-frames.ts) worded for
 * this gateway, with and without a token; depth, binary, UTF-8, size and rate limits.
 */

const STATIC = 'static-token-4b8d2f0c1a';
/**
 * The principal of the session the barrage aims at, and of every connection of that test but the
 * anonymous one: sessions have owners (SPEC §5), and the barrage expects the owner's answers.
 */
const OWNER = 'setup';
const SEED = 0xc4ec_9017;

describe('hostile input on the checkpoint gateway (SPEC §10)', () => {
  let t: TestApp;
  let session: string;
  let existing: string;

  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 100_000, checkpoint: { authToken: STATIC } });
    const setup = await openCheckpoint(t, { sub: OWNER });
    session = await createSession(setup, 'hostile');
    existing = await checkpoint(setup, session, 'existing', { keep: true });
    await closeAll([setup]);
  });
  afterAll(() => t.close());

  it('replays the same barrage for the same seed, and the generator is sound', () => {
    const ctx: CheckpointContext = {
      session: randomUUID(),
      checkpointId: randomUUID(),
      authenticated: true,
      staticToken: STATIC,
      now: Math.floor(Date.now() / 1000), // both barrages issue their tokens at the same second
    };
    const render = (cs: CheckpointCase[]): string[] =>
      cs.map((c) => `${c.kind}|${String(c.payload).replace(/h-\d+/g, 'h')}|${String(c.error)}`);
    const first = checkpointBarrage(SEED, 300, ctx);
    first.forEach(checkGenerated);
    // random UUIDs in "unknown session" cases differ run to run; compare without them
    const strip = (lines: string[]): string[] =>
      lines.map((l) => l.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, 'U'));
    expect(strip(render(checkpointBarrage(SEED, 300, ctx)))).toEqual(strip(render(first)));
    expect(new Set(first.map((c) => c.kind.split(' ')[0])).size).toBeGreaterThanOrEqual(12);
    // well within the default inbound byte budget (1 MiB/s, burst one maximal frame)
    const bytes = first.reduce((sum, c) => sum + Buffer.byteLength(c.payload), 0);
    expect(bytes).toBeLessThan(512 * 1024);
  });

  describe.each([
    ['with a token', true],
    ['without a token', false],
  ])('%s', (_label, authenticated) => {
    it('answers every hostile frame with exactly one success:false, stays usable, leaks nothing, authenticates nothing', async () => {
      const ctx: CheckpointContext = { session, checkpointId: existing, authenticated, staticToken: STATIC };
      const cases = checkpointBarrage(SEED + (authenticated ? 1 : 2), 300, ctx);
      cases.forEach(checkGenerated);

      const bystander = await openCheckpoint(t, { sub: OWNER, username: 'bystander' });
      const third = await openCheckpoint(t, { sub: OWNER, username: 'third' });
      await subscribe(bystander, session);
      const hostile = authenticated
        ? await openCheckpoint(t, { sub: OWNER, username: 'mallory' })
        : await openAnonymous(t);
      const openedAt = Date.now();

      const output = captureOutput();
      const madeByThird: string[] = [];
      try {
        const chunk = 25;
        for (let i = 0; i < cases.length; i += chunk) {
          for (const c of cases.slice(i, i + chunk)) hostile.send(c.payload, { invalid: true });
          madeByThird.push(await checkpoint(third, session, `during ${i}`));
        }
        await eventually(
          () => hostile.frames.filter(isResponse).length >= cases.length,
          10_000,
          `${cases.length} responses`,
        );
        await sleep(100);
      } finally {
        output.restore();
      }

      const responses = hostile.frames.filter(isResponse);
      expect(responses).toHaveLength(cases.length);
      expect(hostile.frames.filter((f) => !isResponse(f))).toEqual([]);
      cases.forEach((c, i) => expectCheckpointError(responses[i], c, caseLabel(c, i)));

      // still open; an unauthenticated one is still unauthenticated, whatever it sent
      expect(hostile.socket.readyState).toBe(hostile.socket.OPEN);
      if (authenticated) {
        expect((await list(hostile, session)).map((e) => e.id)).toEqual([existing, ...madeByThird]);
      } else {
        for (const params of [
          { token: true },
          { token: [STATIC] },
          { token: `${STATIC}\u0000` },
          { token: { toString: STATIC } },
        ]) {
          const response = await rpc(hostile, 'authenticate', params, { invalid: typeof params.token !== 'string' });
          expect(response).toEqual(failure(response.id, INVALID_AUTH));
        }
        const polluted = await reply(
          hostile,
          `{"id":"p","method":"authenticate","params":{"token":{"__proto__":{"authenticated":true}}}}`,
          { invalid: true },
        );
        expect(polluted).toEqual(failure('p', invalidJson()));
        const denied = await rpc(hostile, 'list_checkpoints', { session_id: session });
        expect(denied).toEqual(failure(denied.id, AUTH_REQUIRED));
        expect(Date.now() - openedAt).toBeLessThan(9000); // the 10 s deadline would close it
        expect(await call(hostile, 'authenticate', { token: STATIC })).toEqual({ authenticated: true });
        // the static token is a principal of its own, not the session's owner
        const notOwner = await rpc(hostile, 'list_checkpoints', { session_id: session });
        expect(notOwner).toEqual(failure(notOwner.id, NO_SESSION));
        // An authenticated connection keeps its principal: a token of another one is refused (a refresh keeps the sub).
        const switched = await rpc(hostile, 'authenticate', { token: hsToken({ sub: OWNER }) });
        expect(switched).toEqual(failure(switched.id, INVALID_AUTH));
        const stillNotOwner = await rpc(hostile, 'list_checkpoints', { session_id: session });
        expect(stillNotOwner).toEqual(failure(stillNotOwner.id, NO_SESSION));
        expect((await list(third, session)).map((e) => e.id)).toEqual([existing, ...madeByThird]);
      }

      // the bystander got exactly the third client's events, nothing caused by the barrage
      await waitEvents(bystander, (f) => f.data.checkpoint_id === madeByThird[madeByThird.length - 1]);
      await sleep(50);
      expect(events(bystander)).toEqual(madeByThird.map((id) => eventFrame('checkpoint_created', id, session)));
      expect(third.frames.filter((f) => f.success === false)).toEqual([]);

      // no stack trace, no unhandled error, nothing polluted
      expectNoCrash(output);
      expectUnpolluted(['authenticated', 'polluted']);

      // the store is as the third client left it
      expect((await list(third, session)).map((e) => e.id)).toEqual([existing, ...madeByThird]);
      await closeAll([hostile, bystander, third]);
      // reset the session for the next run
      await (async () => {
        const cleaner = await openCheckpoint(t, { sub: OWNER, username: 'cleaner' });
        for (const id of madeByThird)
          await call(cleaner, 'delete_checkpoint', { session_id: session, checkpoint_id: id });
        await closeAll([cleaner]);
      })();
    }, 30_000);
  });
});

describe('bad frames on the checkpoint gateway (SPEC §5, §10)', () => {
  let t: TestApp;
  let c: TestClient;
  let session: string;

  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 10_000, messageMaxSize: 4096 });
    c = await openCheckpoint(t, { sub: 'frames' });
    session = await createSession(c);
  });
  afterAll(async () => {
    c.close();
    await t.close();
  });

  it.each([
    ['not JSON', '{oops'],
    ['an array', '[1,2]'],
    ['a string', '"metrics"'],
    ['null', 'null'],
    ['a number', '5'],
    ['no id', '{"method":"metrics"}'],
    ['a number id', '{"id":5,"method":"metrics"}'],
    ['a null id', '{"id":null,"method":"metrics"}'],
    ['an object id', '{"id":{"a":1},"method":"metrics"}'],
    ['an array id', '{"id":["x"],"method":"metrics"}'],
  ])('answers %s with id unknown and Invalid JSON: …', async (_what, text) => {
    expect(await reply(c, text, { invalid: true })).toEqual(failure('unknown', invalidJson()));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['a __proto__ key', 'p1', '{"id":"p1","method":"metrics","__proto__":{"polluted":true}}'],
    [
      'a constructor key in params',
      'p2',
      '{"id":"p2","method":"create_session","params":{"constructor":{"name":"x"}}}',
    ],
    [
      'a prototype key in state',
      'p3',
      '{"id":"p3","method":"create_session","params":{"name":"n","x":{"prototype":1}}}',
    ],
  ])('answers %s under the request id with Invalid JSON: …, merging nothing', async (_what, id, text) => {
    expect(await reply(c, text, { invalid: true })).toEqual(failure(id, invalidJson()));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ['no method', '{"id":"m1"}'],
    ['a number method', '{"id":"m2","method":5}'],
    ['a null method', '{"id":"m3","method":null}'],
    ['an array method', '{"id":"m4","method":["metrics"]}'],
  ])('answers %s with Invalid JSON: …', async (_what, text) => {
    const response = await reply(c, text, { invalid: true });
    expect(response).toEqual(failure(response.id, invalidJson()));
    expect([JSON.parse(text).id, 'unknown']).toContain(response.id);
  });

  it('answers a binary frame with id unknown and Invalid JSON: …, even if it holds a valid request', async () => {
    expect(await reply(c, Buffer.from(JSON.stringify({ id: 'bin', method: 'metrics' })), { invalid: true })).toEqual(
      failure('unknown', invalidJson()),
    );
    expect(await reply(c, Buffer.from([0, 1, 2, 255]), { invalid: true })).toEqual(failure('unknown', invalidJson()));
    expect((await call(c, 'metrics')).connections).toBe(1);
  });

  it('accepts a frame nested exactly 32 levels and refuses 33, without storing anything', async () => {
    // frame 1, params 2, state 3: state nested 30 levels makes 32
    const frame = (state: string, id: string): string =>
      `{"id":"${id}","method":"checkpoint","params":{"session_id":"${session}","state":${state}}}`;
    const ok = frame(nestedObjects(30), 'deep-32');
    expect(depthOf(JSON.parse(ok))).toBe(32);
    const accepted = await reply(c, ok);
    expect(accepted).toEqual({ id: 'deep-32', success: true, result: expect.stringMatching(UUID) });
    const restored = await call(c, 'restore', { session_id: session, checkpoint_id: accepted.result });
    expect(restored.state).toEqual(JSON.parse(nestedObjects(30)));

    for (const state of [nestedObjects(31), `${'['.repeat(30)}{}${']'.repeat(30)}`, `{"a":[${nestedObjects(29)}]}`]) {
      const text = frame(state, 'deep-33');
      expect(depthOf(JSON.parse(text))).toBe(33);
      expect(await reply(c, text, { invalid: true })).toEqual(failure('unknown', invalidJson()));
    }
    expect((await list(c, session)).map((e) => e.id)).toEqual([accepted.result]);
  });

  it('closes with 1009 on a frame over messageMaxSize, and 1007 on invalid UTF-8', async () => {
    const big = await openCheckpoint(t, { sub: 'big' });
    big.send(JSON.stringify({ id: 'big', method: 'create_session', params: { name: 'x'.repeat(5000) } }), {
      invalid: true,
    });
    expect((await big.waitClose()).code).toBe(1009);
    const utf8 = await openCheckpoint(t, { sub: 'utf8' });
    utf8.socket.send(Buffer.from([0x7b, 0x22, 0x69, 0xff, 0xfe, 0xc3, 0x28, 0x22, 0x7d]), { binary: false });
    expect((await utf8.waitClose()).code).toBe(1007);
    // the others are unaffected
    expect(await createSession(c)).toMatch(UUID);
  });
});

describe('rate limit on the checkpoint gateway (SPEC §10)', () => {
  async function flood(t: TestApp, count: number): Promise<{ c: TestClient; ids: string[] }> {
    const c = await openCheckpoint(t, { sub: `flood-${count}` });
    const ids = Array.from({ length: count }, (_, i) => `f-${count}-${i}`);
    for (const id of ids) c.send({ id, method: 'metrics' });
    await eventually(() => c.frames.filter(isResponse).length >= count, 5000, `${count} answers`);
    return { c, ids };
  }

  /** Every request answered once, in order: the burst served, each one past it `Rate limit exceeded` with its id. */
  function expectLimited(c: TestClient, ids: string[], burst: number): void {
    const responses = c.frames.filter(isResponse);
    expect(responses.map((f) => f.id)).toEqual(ids);
    expect(responses.slice(0, burst).every((f) => f.success === true)).toBe(true);
    for (const f of responses.slice(burst)) expect(f).toEqual({ id: f.id, success: false, error: RATE_LIMITED });
    expect(c.socket.readyState).toBe(c.socket.OPEN);
  }

  it('default 20/s, burst 40: lets 40 through, answers each of the rest Rate limit exceeded under its id, and recovers', async () => {
    const t = await startTestApp();
    try {
      const { c, ids } = await flood(t, 60);
      expectLimited(c, ids, 40);
      await sleep(1100);
      expect((await call(c, 'metrics')).connections).toBe(1);
      c.close();
    } finally {
      await t.close();
    }
  });

  it('rateLimitPerSec 5, burst 10: under a sustained flood every request gets exactly one answer, served within the rate', async () => {
    const t = await startTestApp({ rateLimitPerSec: 5 });
    try {
      const { c, ids } = await flood(t, 30);
      expectLimited(c, ids, 10);
      const before = c.frames.length;
      const sent: string[] = [];
      const elapsed = await sustainedFlood(c, (i) => {
        const id = `s-${sent.length}-${i}`;
        sent.push(id);
        return { id, method: 'metrics' };
      });
      await eventually(() => c.frames.length - before >= sent.length, 5000, 'an answer to every request');
      const answers = c.frames.slice(before).filter(isResponse);
      expect(answers.map((f) => f.id)).toEqual(sent);
      const served = answers.filter((f) => f.success === true).length;
      for (const f of answers.filter((a) => a.success !== true)) {
        expect(f).toEqual({ id: f.id, success: false, error: RATE_LIMITED });
      }
      expectWithinRate(served, elapsed, 0, 5);
      expect(c.socket.readyState).toBe(c.socket.OPEN);
      await sleep(2100);
      expect((await call(c, 'metrics')).connections).toBe(1);
      c.close();
    } finally {
      await t.close();
    }
  });
});

describe('too many subscriptions (SPEC §10.1)', () => {
  let t: TestApp;
  beforeAll(async () => {
    // 129 sessions of one principal: more than the default quota of sessions (100)
    t = await startTestApp({ rateLimitPerSec: 10_000, checkpoint: { maxSessionsPerUser: 129 } });
  });
  afterAll(() => t.close());

  it('refuses the 129th subscription of a connection with Too many subscriptions, and goes on', async () => {
    const c = await openCheckpoint(t, { sub: 'topics' });
    const sessions: string[] = [];
    for (let i = 0; i < 129; i++) sessions.push(await createSession(c));
    for (const s of sessions.slice(0, 128)) {
      const response = await rpc(c, 'subscribe', { session_id: s });
      expect(response.success).toBe(true);
    }
    const refusedSub = await rpc(c, 'subscribe', { session_id: sessions[128] });
    expect(refusedSub).toEqual(failure(refusedSub.id, 'Too many subscriptions'));
    await call(c, 'unsubscribe', { session_id: sessions[0] });
    expect(await call(c, 'subscribe', { session_id: sessions[128] })).toEqual({
      subscribed: true,
      session_id: sessions[128],
      ...anyPosition(),
    });
    c.close();
  });
});
