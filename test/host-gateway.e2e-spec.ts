import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayCatalog } from '../src/realtime/index.js';
import { WHITEBOARD_GATEWAY, WHITEBOARD_PER_USER } from './host-gateway/whiteboard.definition.js';
import { whiteboardBarrage } from './host-gateway/whiteboard-client.js';
import { WhiteboardModule } from './host-gateway/whiteboard.module.js';
import { captureOutput, expectNoCrash, expectUnpolluted } from './support/capture-output.js';
import { clusterPrefix, closeAndSettle, settle, startPair, stopAll } from './support/cluster-pair.js';
import { caseLabel, checkGenerated } from './support/hostile-frames.js';
import { anyPosition, inStream } from './support/positions.js';
import { closeAll, eventually, refused, sleep, TestClient, upgradeStatus } from './support/test-client.js';
import { ADMIN_TOKEN, startTestApp, type Endpoints, type TestApp } from './support/test-app.js';
import { hsToken, type Claims } from './support/tokens.js';

/**
 * SPEC §2, §10, §11 on a gateway of the host's own: `test/host-gateway/` declares a collaborative
 * cursor channel with `@RealtimeGateway` in its own module, as a host application would, and gets
 * what the built-in gateways get: authentication, limits, rate limits, admin views, metrics,
 * delivery across instances, positions and resume, the same answers to hostile input.
 */

const DOC = 'doc-1';

/** A whiteboard connection of `claims` to document `doc`, welcomed. */
async function board(t: Endpoints, claims: Claims, doc = DOC): Promise<TestClient> {
  const client = await TestClient.open(t.wsUrl(`/ws/whiteboards/${doc}`, hsToken(claims)));
  expect(await client.nextOfType('welcome')).toEqual({ type: 'welcome', doc, connection_id: expect.any(String) });
  return client;
}

/** `client` joined to its document, resuming after `since` when given: the `joined` reply. */
async function joined(client: TestClient, since?: object): Promise<Record<string, unknown>> {
  client.send({ type: 'join', ...(since && { since }) });
  return client.nextOfType('joined');
}

describe('a host gateway on the shared transport (SPEC §2, §10, §11)', () => {
  let t: TestApp;
  const open: TestClient[] = [];
  const track = (client: TestClient): TestClient => (open.push(client), client);

  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 5 }, [WhiteboardModule]);
  });
  afterEach(() => closeAll(open.splice(0)));
  afterAll(() => t.close());

  it('is registered from its own definition, beside the built-in gateways', async () => {
    const catalog = t.app.get(GatewayCatalog);
    expect(catalog.names).toEqual(['chat', 'scheduler', 'checkpoint', 'notify', 'whiteboard']);
    expect(catalog.get('whiteboard')).toBe(WHITEBOARD_GATEWAY);
    const stats = await t.http('GET', '/ws/stats', { token: ADMIN_TOKEN });
    expect(Object.keys(stats.body.connections.by_gateway)).toEqual(catalog.names);
    expect(stats.body.messages.by_gateway.whiteboard).toEqual({ in: 0, out: 0 });
  });

  it('needed no file under src/: nothing there names it', () => {
    const files = readdirSync('src', { recursive: true, withFileTypes: true }).filter((entry) => entry.isFile());
    expect(files.length).toBeGreaterThan(100);
    const naming = files
      .map((entry) => join(entry.parentPath, entry.name))
      .filter((path) => /whiteboard/i.test(readFileSync(path, 'utf8')));
    expect(naming).toEqual([]);
  });

  it('joins, moves and pongs, with Nest pipes, guards and interceptors on its handlers', async () => {
    const alice = track(await board(t, { sub: 'alice' }));
    expect(await joined(alice)).toEqual({ type: 'joined', doc: DOC, ...anyPosition() });

    // the event goes out as it is published, before the handler's reply
    alice.send({ type: 'move', id: 'm1', x: 10, y: 20 });
    expect(await alice.next()).toEqual({
      type: 'cursor',
      doc: DOC,
      user: 'alice',
      x: 10,
      y: 20,
      ...inStream(`doc:${DOC}`),
    });
    expect(await alice.next()).toEqual({ type: 'moved', id: 'm1' });

    // the validation pipe, in the gateway's own error frame, with the request's id
    alice.send({ type: 'move', id: 'm2', x: 'ten', y: 20 }, { invalid: true });
    expect(await alice.nextOfType('error')).toEqual({
      type: 'error',
      id: 'm2',
      error: 'x must be an integer',
      code: 4400,
    });

    // the guard
    const viewer = track(await board(t, { sub: 'vera', roles: ['viewer'] }));
    await joined(viewer);
    viewer.send({ type: 'move', id: 'v1', x: 1, y: 1 });
    expect(await viewer.nextOfType('error')).toEqual({
      type: 'error',
      id: 'v1',
      error: 'Viewers cannot move cursors',
      code: 4403,
    });

    // the interceptor
    alice.send({ type: 'ping' });
    expect(await alice.nextOfType('pong')).toEqual({ type: 'pong', answered_by: 'whiteboard' });

    // the transport's own refusals, worded by the gateway
    alice.send({ type: 'jump', id: 'j1' }, { invalid: true });
    expect(await alice.nextOfType('error')).toEqual({
      type: 'error',
      id: 'j1',
      error: 'Unknown message type: jump',
      code: 4400,
    });
  });

  it('refuses an upgrade without a token (4401) and past its per-user limit (4429), in its own frame', async () => {
    expect(await refused(t.wsUrl(`/ws/whiteboards/${DOC}`))).toEqual({
      frames: [{ type: 'error', error: 'Authentication required', code: 4401 }],
      code: 4401,
      reason: 'Authentication required',
    });
    for (let i = 0; i < WHITEBOARD_PER_USER; i++) track(await board(t, { sub: 'bob' }));
    expect(await refused(t.wsUrl(`/ws/whiteboards/${DOC}`, hsToken({ sub: 'bob' })))).toEqual({
      frames: [{ type: 'error', error: 'Too many connections', code: 4429 }],
      code: 4429,
      reason: 'Too many connections',
    });
    // a path parameter outside its pattern is no route
    expect(await upgradeStatus(t.wsUrl('/ws/whiteboards/Not_A_Doc', hsToken({ sub: 'bob2' })))).toBe(404);
  });

  it('rate-limits its frames like every gateway: a burst of 10, then one 4429 error', async () => {
    const client = track(await board(t, { sub: 'flood' }));
    for (let i = 0; i < 13; i++) client.send({ type: 'ping' });
    await eventually(() => client.ofType('pong').length === 10 && client.ofType('error').length === 1, 3000, 'burst');
    expect(client.ofType('error')).toEqual([{ type: 'error', error: 'Rate limit exceeded', code: 4429 }]);
    // the bucket refills (5 a second): the next frame is served, and no other notice came
    await sleep(1_100);
    client.send({ type: 'ping' });
    await eventually(() => client.ofType('pong').length === 11, 2000, 'a pong after the refill');
    expect(client.ofType('error')).toHaveLength(1);
  });

  it('is listed in GET /ws/clients and counted in /metrics while connected', async () => {
    const carol = track(await board(t, { sub: 'carol', username: 'Carol' }));
    const list = await t.http('GET', '/ws/clients?gateway=whiteboard', { token: ADMIN_TOKEN });
    expect(list.body.total).toBe(1);
    expect(list.body.clients[0]).toMatchObject({ gateway: 'whiteboard', user_id: 'carol', username: 'Carol' });
    const one = await t.http('GET', `/ws/clients/${list.body.clients[0].id}`, { token: ADMIN_TOKEN });
    expect(one.body).toMatchObject({ gateway: 'whiteboard', user_id: 'carol' });
    const metrics = await (await fetch(`${t.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^realtime_connections\{gateway="whiteboard"\} 1$/m);
    carol.close();
    await carol.closed;
  });
});

describe('a host gateway under hostile input (SPEC §10)', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 100_000 }, [WhiteboardModule]);
  });
  afterAll(() => t.close());

  it('answers every frame of a seeded hostile barrage with its error frame, in order, and stays open', async () => {
    const cases = whiteboardBarrage(0xc0_5e75, 300);
    cases.forEach(checkGenerated);
    expect(new Set(cases.map((c) => c.kind.split(' ')[0])).size).toBeGreaterThanOrEqual(8);
    const hostile = await board(t, { sub: 'mallory' });
    const bystander = await board(t, { sub: 'bea' });
    await joined(hostile);
    await joined(bystander);

    const output = captureOutput();
    try {
      for (const c of cases) hostile.send(c.payload, { invalid: true });
      hostile.send({ type: 'ping' });
      await hostile.nextOfType('pong', 10_000);
    } finally {
      output.restore();
    }
    const replies = hostile.frames.filter((f) => f.type === 'error');
    expect(replies).toHaveLength(cases.length);
    cases.forEach((c, i) => {
      expect({ label: caseLabel(c, i), reply: replies[i] }).toEqual({
        label: caseLabel(c, i),
        reply: { type: 'error', error: expect.stringMatching(c.error), code: 4400 },
      });
    });
    expect(hostile.socket.readyState).toBe(hostile.socket.OPEN);
    expect(bystander.frames.map((f) => f.type)).toEqual(['welcome', 'joined']);
    expectNoCrash(output);
    expectUnpolluted(['isAdmin', 'polluted']);
    await closeAll([hostile, bystander]);
  });
});

describe('a host gateway across two instances on Redis (SPEC §9, §11)', () => {
  let a: TestApp;
  let b: TestApp;
  const open: TestClient[] = [];
  const track = (client: TestClient): TestClient => (open.push(client), client);

  beforeAll(async () => {
    [a, b] = await startPair(clusterPrefix('host-gateway'), {}, [WhiteboardModule]);
  });
  afterEach(() => closeAndSettle(open, [a, b]));
  afterAll(() => stopAll([a, b]));

  it('delivers a cursor to the other instance, and a reconnected client resumes what it missed, once, in order', async () => {
    const writer = track(await board(a, { sub: 'writer' }, 'shared'));
    let reader = track(await board(b, { sub: 'reader' }, 'shared'));
    await joined(writer);
    await joined(reader);
    await settle([a, b], 2);

    writer.send({ type: 'move', x: 1, y: 1 });
    const first = await reader.nextOfType('cursor');
    expect(first).toEqual({ type: 'cursor', doc: 'shared', user: 'writer', x: 1, y: 1, ...inStream('doc:shared') });

    reader.close();
    await reader.closed;
    for (const x of [2, 3]) writer.send({ type: 'move', x, y: 1 });
    await eventually(() => writer.ofType('cursor').length === 3, 3000, 'the writer hears its own three moves');

    reader = track(await board(a, { sub: 'reader' }, 'shared'));
    const last = writer.ofType('cursor')[2];
    expect(await joined(reader, { offset: first.offset, epoch: first.epoch })).toEqual({
      type: 'joined',
      doc: 'shared',
      recovered: true,
      offset: last.offset,
      epoch: last.epoch,
    });
    writer.send({ type: 'move', x: 4, y: 1 });
    await eventually(() => reader.ofType('cursor').length >= 3, 3000, 'missed moves, then the live one');
    expect(reader.ofType('cursor').map((f) => [f.x, f.offset])).toEqual([
      [2, first.offset + 1],
      [3, first.offset + 2],
      [4, first.offset + 3],
    ]);
  });
});
