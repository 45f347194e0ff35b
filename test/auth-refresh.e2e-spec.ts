import { WhiteboardModule } from './host-gateway/whiteboard.module.js';
import { sampleExperiment } from './support/scheduler-client.js';
import { ADMIN_TOKEN, startTestApp, type TestApp } from './support/test-app.js';
import { TestClient, closeAll, eventually, refused, sleep, waitFrame, type Frame } from './support/test-client.js';
import { TEST_SECRET, hsToken } from './support/tokens.js';

/**
 * Issue 24, deliver 4: refresh without reconnecting. Before its token expires a connection is told
 * so in its gateway's words (`token_expiring`), may present a new token of the same `sub` in its own
 * protocol (chat, scheduler, notify: a `refresh` frame; checkpoint: `authenticate` again; a host
 * gateway: the module's default wording) and stays open past the old expiry with its rooms,
 * subscriptions, streams and limits untouched. A refused refresh (another `sub`, an expired token,
 * garbage, no token) leaves the old expiry standing; a refresh flood is rate limited like every frame.
 *
 * Time is the subject here: tokens live 3–4 s (`exp` is whole seconds), the clock tolerance is 0 and
 * the notice comes `NOTICE_SEC` (or half the remaining lifetime) before `exp`. The tests check order
 * and causality (notice before close, no close before `exp`, still answering after the old `exp`),
 * never a narrow window; the four gateways run side by side within a test.
 */

const CHAT = '/api/v1/ws/connect';
const CHECKPOINTS = '/ws/checkpoints';
const NOTICE_SEC = 2;
const AUTH = { secret: TEST_SECRET, clockToleranceSec: 0, tokenExpiryNoticeSec: NOTICE_SEC };
/** Longest wait for anything scheduled by a 3–4 s token (generous: a loaded machine). */
const LONG = 10_000;

const SUBJECT_MISMATCH = 'Token subject does not match the connection';
const INVALID_TOKEN = 'Invalid or expired token';
const INVALID_AUTH = 'Invalid authentication token';
const RATE_LIMITED = 'Rate limit exceeded';
const EXPIRED = { code: 4401, reason: 'Token expired' };
const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

const nowSec = (): number => Math.floor(Date.now() / 1000);
/** An `exp` 4 whole seconds ahead: the token lives 3–4 s from now. */
const shortExp = (): number => nowSec() + 4;
const iso = (exp: number): string => new Date(exp * 1000).toISOString();
const token = (sub: string, exp: number): string => hsToken({ sub, exp });
/** A token of `sub` valid for the rest of the file. */
const longToken = (sub: string): string => hsToken({ sub, exp: nowSec() + 600 });

/** Waits until the wall clock is past `epochMs` (the point of the test: the old expiry has passed). */
async function pastTime(epochMs: number): Promise<void> {
  while (Date.now() <= epochMs) await sleep(Math.max(10, epochMs - Date.now() + 1));
}

let seq = 0;
const unique = (prefix: string): string => `${prefix}-${process.pid}-${++seq}`;

/** The token field of a refresh, when the frame breaks the contract on purpose (`invalid`). */
interface RefreshToken {
  value?: unknown;
  /** Leave the token field out altogether. */
  missing?: boolean;
  invalid?: boolean;
}

/** What the tests need to know of one gateway's refresh wording. */
interface Gateway {
  name: string;
  /** The path a connection of `sub` opens. */
  path(sub: string): string;
  /** Opens `path` with `token` and waits until the gateway has admitted it. */
  open(t: TestApp, path: string, token: string): Promise<TestClient>;
  /** Sends a refresh with `token`; resolves with the gateway's answer to it. */
  refresh(client: TestClient, token: RefreshToken): Promise<Frame>;
  /** The exact `token_refreshed` answer for a new token expiring at `exp`, to `request` (the answered frame's id). */
  refreshed(exp: number, request: Frame): Frame;
  /** The exact refusal of a refresh, in the gateway's words. */
  refused(error: string, request: Frame): Frame;
  isNotice(frame: Frame): boolean;
  /** The exact `token_expiring` notice for `exp`. */
  notice(exp: number): Frame;
  /** The notice's `expires_at` and `expires_in`. */
  noticeOf(frame: Frame): { expires_at: string; expires_in: number };
  /** A round trip: a request answered. */
  ping(client: TestClient): Promise<void>;
  /** Whether `frame` is the gateway's rate-limit answer. */
  isRateLimited(frame: Frame): boolean;
}

/** Sends `frame` and resolves with the first frame after it that `isAnswer` takes for the answer. */
function answer(client: TestClient, frame: Frame, invalid: boolean, isAnswer: (f: Frame) => boolean): Promise<Frame> {
  const start = client.frames.length;
  client.send(frame, { invalid });
  return waitFrame(client, isAnswer, start, 5000, `the answer to ${JSON.stringify(frame).slice(0, 80)}`);
}

/** `{…, token}` or without the field. */
const withToken = (key: string, { value, missing }: RefreshToken): Frame => (missing ? {} : { [key]: value });

const CHAT_GATEWAY: Gateway = {
  name: 'chat',
  path: () => CHAT,
  async open(t, path, tok) {
    const client = await TestClient.open(t.wsUrl(path, tok));
    await client.nextOfType('connected', 5000);
    return client;
  },
  refresh: (client, tok) =>
    answer(client, { type: 'refresh', data: withToken('token', tok) }, tok.invalid ?? false, (f) =>
      ['token_refreshed', 'error'].includes(f.type),
    ),
  refreshed: (exp) => ({
    type: 'token_refreshed',
    data: { expires_at: iso(exp) },
    timestamp: expect.stringMatching(ISO_MS),
  }),
  refused: (error) => ({ type: 'error', data: { error, code: 4401 }, timestamp: expect.stringMatching(ISO_MS) }),
  isNotice: (f) => f.type === 'token_expiring',
  notice: (exp) => ({
    type: 'token_expiring',
    data: { expires_at: iso(exp), expires_in: expect.any(Number) },
    timestamp: expect.stringMatching(ISO_MS),
  }),
  noticeOf: (f) => f.data,
  async ping(client) {
    await answer(client, { type: 'ping' }, false, (f) => f.type === 'pong');
  },
  isRateLimited: (f) => f.type === 'error' && f.data?.code === 4429,
};

const SCHEDULER_GATEWAY: Gateway = {
  name: 'scheduler',
  path: () => '/ws/user',
  async open(t, path, tok) {
    const client = await TestClient.open(t.wsUrl(path, tok));
    const first = await client.next(() => true, 5000);
    expect(first).toMatchObject({ type: 'system_status', data: { action: 'subscribed', resourceType: 'user' } });
    return client;
  },
  refresh(client, tok) {
    const id = unique('refresh');
    return answer(
      client,
      { type: 'refresh', id, data: withToken('token', tok) },
      tok.invalid ?? false,
      (f) => f.id === id,
    );
  },
  refreshed: (exp, request) => ({
    type: 'token_refreshed',
    id: request.id,
    timestamp: expect.stringMatching(ISO_MS),
    data: { expires_at: iso(exp) },
  }),
  refused: (error, request) => ({ type: 'error', id: request.id, timestamp: expect.stringMatching(ISO_MS), error }),
  isNotice: (f) => f.type === 'token_expiring',
  notice: (exp) => ({
    type: 'token_expiring',
    id: expect.stringMatching(new RegExp(`^token_expiring-${UUID}$`)),
    timestamp: expect.stringMatching(ISO_MS),
    data: { expires_at: iso(exp), expires_in: expect.any(Number) },
  }),
  noticeOf: (f) => f.data,
  async ping(client) {
    const id = unique('ping');
    await answer(client, { type: 'ping', id }, false, (f) => f.type === 'pong' && f.id === id.replace(/^ping/, 'pong'));
  },
  isRateLimited: (f) => f.type === 'error' && f.error === RATE_LIMITED,
};

const NOTIFY_GATEWAY: Gateway = {
  name: 'notify',
  path: (sub) => `/ws/${sub}-client`,
  async open(t, path, tok) {
    const client = await TestClient.open(t.wsUrl(path, tok));
    expect((await client.next(() => true, 5000)).type).toBe('connected');
    return client;
  },
  refresh: (client, tok) =>
    answer(client, { type: 'refresh', ...withToken('content', tok) }, tok.invalid ?? false, (f) =>
      ['token_refreshed', 'error'].includes(f.type),
    ),
  refreshed: (exp) => ({
    type: 'token_refreshed',
    content: 'Token refreshed',
    meta: { expires_at: iso(exp) },
    timestamp: expect.stringMatching(ISO_MS),
  }),
  refused: (error) => ({ type: 'error', content: error, meta: {}, timestamp: expect.stringMatching(ISO_MS) }),
  isNotice: (f) => f.type === 'token_expiring',
  notice: (exp) => ({
    type: 'token_expiring',
    content: 'Token expires soon',
    meta: { expires_at: iso(exp), expires_in: expect.any(Number) },
    timestamp: expect.stringMatching(ISO_MS),
  }),
  noticeOf: (f) => f.meta,
  async ping(client) {
    const pingId = unique('ping');
    await answer(
      client,
      { type: 'ping', meta: { ping_id: pingId } },
      false,
      (f) => f.type === 'pong' && f.meta?.ping_id === pingId,
    );
  },
  isRateLimited: (f) => f.type === 'error' && f.content === RATE_LIMITED,
};

/** A checkpoint request and its response (matched by id). */
function rpc(client: TestClient, method: string, params: Frame, invalid = false): Promise<Frame> {
  const id = unique('rq');
  return answer(client, { id, method, params }, invalid, (f) => f.id === id && 'success' in f);
}

const CHECKPOINT_GATEWAY: Gateway = {
  name: 'checkpoint',
  path: () => CHECKPOINTS,
  async open(t, path, tok) {
    const client = await TestClient.open(t.wsUrl(path, tok));
    // no welcome frame on this gateway: a request answered tells that the connection was admitted
    expect((await rpc(client, 'metrics', {})).success).toBe(true);
    return client;
  },
  refresh: (client, tok) => rpc(client, 'authenticate', withToken('token', tok), tok.invalid ?? false),
  refreshed: (_exp, request) => ({ id: request.id, success: true, result: { authenticated: true } }),
  // seed 003's wording for every refused token, the other subject's included
  refused: (_error, request) => ({ id: request.id, success: false, error: INVALID_AUTH }),
  isNotice: (f) => f.event_type === 'token_expiring',
  notice: (exp) => ({ event_type: 'token_expiring', data: { expires_at: iso(exp), expires_in: expect.any(Number) } }),
  noticeOf: (f) => f.data,
  async ping(client) {
    const response = await rpc(client, 'metrics', {});
    expect(response).toMatchObject({ success: true, result: { connections: expect.any(Number) } });
  },
  isRateLimited: (f) => f.success === false && f.error === RATE_LIMITED,
};

const GATEWAYS = [CHAT_GATEWAY, SCHEDULER_GATEWAY, NOTIFY_GATEWAY, CHECKPOINT_GATEWAY];

/** Runs the named scenarios at the same time (their waits overlap); a failure names its scenario. */
async function sideBySide(scenarios: Record<string, () => Promise<void>>): Promise<void> {
  const names = Object.keys(scenarios);
  const results = await Promise.allSettled(names.map((name) => scenarios[name]()));
  const failures = results.flatMap((result, i) =>
    result.status === 'rejected' ? [`${names[i]}: ${(result.reason as Error)?.stack ?? String(result.reason)}`] : [],
  );
  if (failures.length) throw new Error(failures.join('\n\n'));
}

/** Runs `scenario` for each built-in gateway at the same time; a failure names its gateway. */
function eachGateway(scenario: (gw: Gateway) => Promise<void>): Promise<void> {
  return sideBySide(Object.fromEntries(GATEWAYS.map((gw) => [gw.name, () => scenario(gw)])));
}

/** The server's own stamp of a frame (chat, scheduler, notify), else when it arrived here. */
const stampOf = (frame: Frame, arrivedAt: number): number =>
  typeof frame.timestamp === 'string' ? Date.parse(frame.timestamp) : arrivedAt;

/**
 * Waits for the notice of `exp`, then for the close: the notice is stamped before `exp` and came
 * while the connection was open; the close is 4401 `Token expired`, not before `exp`.
 */
async function expectNoticeThenExpiry(gw: Gateway, client: TestClient, exp: number, from = 0): Promise<void> {
  const notice = await waitFrame(
    client,
    (f) => gw.isNotice(f) && gw.noticeOf(f).expires_at === iso(exp),
    from,
    LONG,
    `${gw.name} token_expiring for ${iso(exp)}`,
  );
  const arrivedAt = Date.now();
  expect(client.socket.readyState).toBe(client.socket.OPEN);
  expect(notice).toEqual(gw.notice(exp));
  const { expires_in } = gw.noticeOf(notice);
  expect(Number.isInteger(expires_in)).toBe(true);
  expect(expires_in).toBeGreaterThanOrEqual(0);
  expect(expires_in).toBeLessThanOrEqual(NOTICE_SEC);
  expect(stampOf(notice, arrivedAt)).toBeLessThan(exp * 1000);

  expect(await client.waitClose(LONG)).toEqual(EXPIRED);
  const closedAt = Date.now();
  expect(closedAt).toBeGreaterThanOrEqual(exp * 1000 - 20);
  expect(closedAt).toBeGreaterThanOrEqual(arrivedAt);
  // no later notice of another expiry came after it
  expect(client.frames.filter(gw.isNotice).at(-1)).toBe(notice);
}

describe('token refresh on a live connection (issue 24, deliver 4)', () => {
  let t: TestApp;
  const open: TestClient[] = [];
  const track = (client: TestClient): TestClient => (open.push(client), client);
  const connect = async (gw: Gateway, sub: string, tok: string, path = gw.path(sub)): Promise<TestClient> =>
    track(await gw.open(t, path, tok));

  beforeAll(async () => {
    t = await startTestApp({
      auth: AUTH,
      chat: { maxConnectionsPerUser: 2 },
      scheduler: { maxConnectionsPerUser: 2 },
    });
  });
  afterEach(() => closeAll(open.splice(0)));
  afterAll(() => t.close());

  it('warns a connection with token_expiring before its token expires, then closes it 4401 "Token expired" (each gateway)', async () => {
    await eachGateway(async (gw) => {
      const sub = unique(`expiring-${gw.name}`);
      const exp = shortExp();
      const client = await connect(gw, sub, token(sub, exp));
      await expectNoticeThenExpiry(gw, client, exp);
      expect(client.frames.filter(gw.isNotice)).toHaveLength(1);
    });
  });

  it('a refresh of the same sub answers token_refreshed with the new expiry; the connection outlives the old exp, is warned of the new one and closed at it (each gateway)', async () => {
    await eachGateway(async (gw) => {
      const sub = unique(`refresh-${gw.name}`);
      const oldExp = shortExp();
      const client = await connect(gw, sub, token(sub, oldExp));
      // a client without a timer of its own refreshes when told to
      await waitFrame(client, gw.isNotice, 0, LONG, `${gw.name} first notice`);
      const newExp = oldExp + 3;
      const sentAt = client.frames.length;
      const reply = await gw.refresh(client, { value: token(sub, newExp) });
      expect(reply).toEqual(gw.refreshed(newExp, reply));

      await pastTime(oldExp * 1000 + 250);
      await gw.ping(client);
      expect(client.socket.readyState).toBe(client.socket.OPEN);

      await expectNoticeThenExpiry(gw, client, newExp, sentAt);
      expect(client.frames.filter(gw.isNotice).map((f) => gw.noticeOf(f).expires_at)).toEqual([
        iso(oldExp),
        iso(newExp),
      ]);
    });
  });

  describe('a refresh leaves the connection state as it was', () => {
    /** chat: the joined room still delivers both ways after the old expiry; user_joined is not announced again. */
    async function chatRoomKept(): Promise<void> {
      const sub = unique('chat-state');
      const room = `channel:${700_000 + seq}`;
      const oldExp = shortExp();
      const other = await connect(CHAT_GATEWAY, `${sub}-other`, longToken(`${sub}-other`));
      other.send({ type: 'join_room', room });
      await other.nextOfType('room_joined', 5000);
      const client = await connect(CHAT_GATEWAY, sub, token(sub, oldExp));
      client.send({ type: 'join_room', room });
      await client.nextOfType('room_joined', 5000);
      await waitFrame(other, (f) => f.type === 'user_joined' && f.data?.user_id === sub, 0, 5000, 'user_joined');

      const newExp = nowSec() + 600;
      const reply = await CHAT_GATEWAY.refresh(client, { value: token(sub, newExp) });
      expect(reply).toEqual(CHAT_GATEWAY.refreshed(newExp, reply));
      await pastTime(oldExp * 1000 + 250);

      // a message from the other member reaches it, and it may still send to the room (membership kept)
      const from = client.frames.length;
      other.send({ type: 'send_message', room, data: { content: 'after the old expiry' } });
      const heard = await waitFrame(client, (f) => f.type === 'message', from, 5000, 'the message');
      expect(heard).toMatchObject({ type: 'message', room, data: { content: 'after the old expiry' } });
      const own = await answer(
        client,
        { type: 'send_message', room, data: { content: 'still a member' } },
        false,
        (f) => ['message', 'error'].includes(f.type),
      );
      expect(own).toMatchObject({ type: 'message', room, data: { content: 'still a member' } });
      await waitFrame(
        other,
        (f) => f.type === 'message' && f.data?.content === 'still a member',
        0,
        5000,
        'its message',
      );
      // the quiet point: a round trip on the other member, then its frames are complete
      await CHAT_GATEWAY.ping(other);
      expect(other.frames.filter((f) => f.type === 'user_joined' && f.data?.user_id === sub)).toHaveLength(1);
      expect(other.frames.filter((f) => f.type === 'user_left')).toEqual([]);
      expect(client.frames.filter((f) => f.type === 'room_joined')).toHaveLength(1);
    }

    /** scheduler: the path subscription and a subscribed project still get events (a refresh without id: a fresh id). */
    async function schedulerSubscriptionsKept(): Promise<void> {
      const sub = unique('sched-state');
      const project = unique('p-refresh');
      const oldExp = shortExp();
      const client = await connect(SCHEDULER_GATEWAY, sub, token(sub, oldExp));
      client.send({
        type: 'system_status',
        data: { action: 'subscribe', resourceType: 'project', resourceId: project },
      });
      await waitFrame(
        client,
        (f) => f.type === 'system_status' && f.data?.resourceId === project,
        0,
        5000,
        'subscribed',
      );

      const from = client.frames.length;
      const newExp = nowSec() + 600;
      client.send({ type: 'refresh', data: { token: token(sub, newExp) } });
      const reply = await waitFrame(client, (f) => f.type === 'token_refreshed', from, 5000, 'token_refreshed');
      expect(reply).toEqual(SCHEDULER_GATEWAY.refreshed(newExp, { id: expect.stringMatching(/\S/) }));
      await pastTime(oldExp * 1000 + 250);

      const publish = (experimentId: string, scope: Frame): Promise<{ status: number; body: any }> =>
        t.http('POST', '/ws/publish', {
          token: ADMIN_TOKEN,
          body: {
            gateway: 'scheduler',
            type: 'experiment_created',
            data: {
              experiment: sampleExperiment(experimentId, { projectId: project, ownerId: sub }),
              summary: { id: experimentId, name: `Parameter Sweep ${experimentId}`, status: 'CREATED', ownerId: sub },
            },
            scope: { experimentId, ...scope },
          },
        });
      const toUser = await publish('e-user', { userId: sub });
      const toProject = await publish('e-project', { projectId: project });
      expect([toUser.status, toProject.status]).toEqual([200, 200]);
      for (const published of [toUser, toProject]) {
        await waitFrame(client, (f) => f.id === published.body.id, from, 5000, `event ${String(published.body.id)}`);
      }
    }

    /** notify: messages to its client id still arrive. */
    async function notifyStreamKept(): Promise<void> {
      const sub = unique('notify-state');
      const path = NOTIFY_GATEWAY.path(sub);
      const clientId = path.slice('/ws/'.length);
      const oldExp = shortExp();
      const client = await connect(NOTIFY_GATEWAY, sub, token(sub, oldExp), path);

      // a token without `exp`: no expiry at all from now on
      const reply = await NOTIFY_GATEWAY.refresh(client, { value: hsToken({ sub, exp: undefined }) });
      expect(reply).toEqual({ ...NOTIFY_GATEWAY.refreshed(0, reply), meta: { expires_at: null } });
      await pastTime(oldExp * 1000 + 250);

      const from = client.frames.length;
      const sent = await t.http('POST', '/ws/send-message', {
        token: ADMIN_TOKEN,
        body: { type: 'task_success', content: 'after the old expiry', client_id: clientId },
      });
      expect(sent.status).toBe(200);
      const message = await waitFrame(client, (f) => f.type === 'task_success', from, 5000, 'the message');
      expect(message).toMatchObject({ type: 'task_success', content: 'after the old expiry' });
      // the old expiry's notice was cancelled with it: none came after the refresh
      expect(client.frames.slice(client.frames.indexOf(reply)).filter(NOTIFY_GATEWAY.isNotice)).toEqual([]);
    }

    /** checkpoint: the session subscription still gets events, and it still acts for its subject. */
    async function checkpointSessionKept(): Promise<void> {
      const sub = unique('cp-state');
      const oldExp = shortExp();
      const client = await connect(CHECKPOINT_GATEWAY, sub, token(sub, oldExp));
      const created = await rpc(client, 'create_session', { name: 'refresh' });
      expect(created.success).toBe(true);
      const sessionId = created.result as string;
      expect((await rpc(client, 'subscribe', { session_id: sessionId })).success).toBe(true);

      const reply = await CHECKPOINT_GATEWAY.refresh(client, { value: longToken(sub) });
      expect(reply).toEqual(CHECKPOINT_GATEWAY.refreshed(0, reply));
      await pastTime(oldExp * 1000 + 250);

      const writer = await connect(CHECKPOINT_GATEWAY, sub, longToken(sub));
      const made = await rpc(writer, 'checkpoint', { session_id: sessionId, message: 'after the old expiry' });
      expect(made.success).toBe(true);
      await waitFrame(
        client,
        (f) => f.event_type === 'checkpoint_created' && f.data?.checkpoint_id === made.result,
        0,
        5000,
        'checkpoint_created',
      );
      // it still acts for its subject: its own session is listed
      const listed = await rpc(client, 'list_checkpoints', { session_id: sessionId });
      expect(listed).toMatchObject({ success: true, result: [{ id: made.result }] });
    }

    it('rooms (chat), subscriptions (scheduler), the client stream (notify) and session subscriptions (checkpoint) still deliver after the old expiry', async () => {
      await sideBySide({
        chat: chatRoomKept,
        scheduler: schedulerSubscriptionsKept,
        notify: notifyStreamKept,
        checkpoint: checkpointSessionKept,
      });
    });

    it.each([
      ['chat', CHAT_GATEWAY],
      ['scheduler', SCHEDULER_GATEWAY],
    ])('%s: a refresh does not change the count of the user’s connections (limit 2)', async (_name, gw) => {
      const sub = unique(`limit-${gw.name}`);
      const path = gw.path(sub);
      const first = await connect(gw, sub, longToken(sub));
      const second = await connect(gw, sub, longToken(sub));
      const newExp = nowSec() + 600;
      const reply = await gw.refresh(first, { value: token(sub, newExp) });
      expect(reply).toEqual(gw.refreshed(newExp, reply));

      // still two: a third is refused
      const third = await refused(t.wsUrl(path, longToken(sub)), {}, 5000);
      expect([third.code, third.reason]).toEqual([4429, 'Too many connections']);

      // the other one leaves: exactly one place is free (the refresh took none, gave none back)
      second.close();
      await second.waitClose(5000);
      const admitted = async (): Promise<boolean> => {
        const client = new TestClient(t.wsUrl(path, longToken(sub)));
        const frame = await client.next(() => true, 5000).catch(() => undefined);
        const ok = frame?.type === 'connected' || frame?.type === 'system_status';
        if (ok) track(client);
        else await client.waitClose(5000).catch(() => client.terminate());
        return ok;
      };
      await eventually(admitted, 5000, 'a connection admitted after one closed');
      const fourth = await refused(t.wsUrl(path, longToken(sub)), {}, 5000);
      expect([fourth.code, fourth.reason]).toEqual([4429, 'Too many connections']);

      // and the refreshed one gives its place back when it closes
      first.close();
      await first.waitClose(5000);
      await eventually(admitted, 5000, 'a connection admitted after the refreshed one closed');
    });
  });

  it('refused refreshes (another sub, expired, garbage, no token) leave the connection open with its old expiry (each gateway)', async () => {
    await eachGateway(async (gw) => {
      const sub = unique(`refused-${gw.name}`);
      const exp = shortExp();
      const client = await connect(gw, sub, token(sub, exp));
      const cases: Array<[string, RefreshToken, string]> = [
        ['another sub', { value: longToken(`${sub}-someone-else`) }, SUBJECT_MISMATCH],
        ['an expired token', { value: hsToken({ sub, exp: nowSec() - 30 }) }, INVALID_TOKEN],
        [
          'a token signed with another key',
          { value: hsToken({ sub }, 'another-secret-another-secret-another') },
          INVALID_TOKEN,
        ],
        ['garbage', { value: 'not.a.jwt' }, INVALID_TOKEN],
        ['an empty token', { value: '', invalid: true }, INVALID_TOKEN],
        ['no token', { missing: true, invalid: true }, INVALID_TOKEN],
        ['a number', { value: 42, invalid: true }, INVALID_TOKEN],
        ['an object', { value: { token: longToken(sub) }, invalid: true }, INVALID_TOKEN],
      ];
      for (const [what, tok, error] of cases) {
        const reply = await gw.refresh(client, tok);
        try {
          expect(reply).toEqual(gw.refused(error, reply));
        } catch (e) {
          throw new Error(`${what}: ${(e as Error).message}`);
        }
      }
      await gw.ping(client);
      expect(client.socket.readyState).toBe(client.socket.OPEN);
      // the old expiry stands: warned of it, closed at it
      await expectNoticeThenExpiry(gw, client, exp);
    });
  });

  it('a refresh flood (200 frames at once) is rate limited like every frame; the connection survives (each gateway)', async () => {
    await eachGateway(async (gw) => {
      const sub = unique(`flood-${gw.name}`);
      const client = await connect(gw, sub, longToken(sub));
      const from = client.frames.length;
      const started = Date.now();
      const tok = longToken(sub);
      const ids: string[] = [];
      for (let i = 0; i < 200; i++) {
        const id = unique('flood');
        ids.push(id);
        if (gw === CHAT_GATEWAY) client.send({ type: 'refresh', data: { token: tok } });
        else if (gw === SCHEDULER_GATEWAY) client.send({ type: 'refresh', id, data: { token: tok } });
        else if (gw === NOTIFY_GATEWAY) client.send({ type: 'refresh', content: tok });
        else client.send({ id, method: 'authenticate', params: { token: tok } });
      }
      // the connection survives: a round trip once the bucket refills (a ping dropped meanwhile is retried)
      await sleep(1000);
      await eventually(
        () =>
          gw.ping(client).then(
            () => true,
            () => false,
          ),
        15_000,
        `${gw.name} answering after the flood`,
      );
      const elapsed = Date.now() - started;
      expect(client.socket.readyState).toBe(client.socket.OPEN);
      const frames = client.frames.slice(from);
      const refreshed = frames.filter((f) =>
        gw === CHECKPOINT_GATEWAY ? f.success === true && ids.includes(f.id) : f.type === 'token_refreshed',
      );
      const limited = frames.filter(gw.isRateLimited);
      // burst 40 (2 × 20/s), then 20 a second
      expect(refreshed.length).toBeGreaterThanOrEqual(1);
      expect(refreshed.length).toBeLessThanOrEqual(40 + Math.ceil((elapsed / 1000) * 20) + 1);
      expect(limited.length).toBeGreaterThanOrEqual(1);
      if (gw === CHECKPOINT_GATEWAY) {
        // every request gets exactly one answer with its id (SPEC §10)
        const answered = frames.filter((f) => ids.includes(f.id));
        expect(answered).toHaveLength(200);
        expect(new Set(answered.map((f) => f.id)).size).toBe(200);
        expect(refreshed.length + limited.filter((f) => ids.includes(f.id)).length).toBe(200);
      } else {
        // at most one rate-limit answer a second
        const times = limited.map((f) => Date.parse(f.timestamp as string));
        for (let i = 1; i < times.length; i++) expect(times[i] - times[i - 1]).toBeGreaterThanOrEqual(990);
        expect(limited.length).toBeLessThanOrEqual(Math.ceil(elapsed / 1000) + 1);
      }
    });
  });

  it('checkpoint: an unauthenticated connection authenticates once as before (not a refresh), then expires like any other', async () => {
    const sub = unique('cp-anonymous');
    const client = track(await TestClient.open(t.wsUrl(CHECKPOINTS)));
    const before = await rpc(client, 'metrics', {});
    expect(before).toEqual({ id: before.id, success: false, error: 'Authentication required' });

    const exp = shortExp();
    const auth = await rpc(client, 'authenticate', { token: token(sub, exp) });
    expect(auth).toEqual({ id: auth.id, success: true, result: { authenticated: true } });
    await CHECKPOINT_GATEWAY.ping(client);
    const created = await rpc(client, 'create_session', { name: 'late' });
    expect(created.success).toBe(true);

    // from now on `authenticate` is a refresh: another subject is refused, the connection stays itself
    const other = await rpc(client, 'authenticate', { token: longToken(`${sub}-other`) });
    expect(other).toEqual({ id: other.id, success: false, error: INVALID_AUTH });
    expect((await rpc(client, 'list_checkpoints', { session_id: created.result })).success).toBe(true);

    await expectNoticeThenExpiry(CHECKPOINT_GATEWAY, client, exp);
  });
});

describe('token refresh on a host gateway without its own wording (the default frames)', () => {
  let t: TestApp;
  const open: TestClient[] = [];

  beforeAll(async () => {
    t = await startTestApp({ auth: AUTH }, [WhiteboardModule]);
  });
  afterEach(() => closeAll(open.splice(0)));
  afterAll(() => t.close());

  it('{"type":"refresh","token"} → {"type":"token_refreshed","expires_at"}; the default token_expiring before; a refused one is its error frame', async () => {
    const sub = unique('board');
    const oldExp = shortExp();
    const client = await TestClient.open(t.wsUrl(`/ws/whiteboards/doc-${seq}`, token(sub, oldExp)));
    open.push(client);
    expect(await client.nextOfType('welcome', 5000)).toMatchObject({ type: 'welcome' });
    const ping = async (): Promise<void> => {
      expect(await answer(client, { type: 'ping' }, false, (f) => f.type === 'pong')).toEqual({
        type: 'pong',
        answered_by: 'whiteboard',
      });
    };

    const notice = await waitFrame(client, (f) => f.type === 'token_expiring', 0, LONG, 'token_expiring');
    expect(client.socket.readyState).toBe(client.socket.OPEN);
    expect(notice).toEqual({ type: 'token_expiring', expires_at: iso(oldExp), expires_in: expect.any(Number) });
    expect(notice.expires_in).toBeGreaterThanOrEqual(0);
    expect(notice.expires_in).toBeLessThanOrEqual(NOTICE_SEC);

    // refused: in the host's own error frame, with the request's id
    const other = await answer(client, { type: 'refresh', id: 'r-1', token: longToken(`${sub}-other`) }, false, (f) =>
      ['token_refreshed', 'error'].includes(f.type),
    );
    expect(other).toEqual({ type: 'error', id: 'r-1', error: SUBJECT_MISMATCH, code: 4401 });
    const garbage = await answer(client, { type: 'refresh', token: 'garbage' }, false, (f) =>
      ['token_refreshed', 'error'].includes(f.type),
    );
    expect(garbage).toEqual({ type: 'error', error: INVALID_TOKEN, code: 4401 });

    const newExp = oldExp + 3;
    const from = client.frames.length;
    const reply = await answer(client, { type: 'refresh', token: token(sub, newExp) }, false, (f) =>
      ['token_refreshed', 'error'].includes(f.type),
    );
    expect(reply).toEqual({ type: 'token_refreshed', expires_at: iso(newExp) });

    await pastTime(oldExp * 1000 + 250);
    await ping();
    const second = await waitFrame(client, (f) => f.type === 'token_expiring', from, LONG, 'the new notice');
    expect(second).toEqual({ type: 'token_expiring', expires_at: iso(newExp), expires_in: expect.any(Number) });
    expect(await client.waitClose(LONG)).toEqual(EXPIRED);
    expect(Date.now()).toBeGreaterThanOrEqual(newExp * 1000 - 20);
  });
});
