import { NotifyPublisher, type AccessPolicy, type Principal, type ResourceRef } from '../src/realtime/index.js';
import { startAppProcess, type AppProcess } from './support/app-processes.js';
import { closeAndSettle, clusterPrefix, settle, startOnRedis, startPair, stopAll } from './support/cluster-pair.js';
import { rawUpgrade } from './support/raw-socket.js';
import { testRedisUrl } from './support/redis.js';
import { ADMIN_TOKEN, startTestApp, type Endpoints, type TestApp } from './support/test-app.js';
import { TestClient, closeAll, eventually, refused, sleep } from './support/test-client.js';
import { hsToken, type Claims } from './support/tokens.js';
import {
  ID_IN_USE,
  REPLACED,
  answerPings,
  clientIdOf,
  errorFrame,
  messages,
  openNotify,
  quiet,
  resumeNotify,
  resumePath,
  waitMessages,
  welcomeAt,
  type StreamAt,
} from './support/notify-client.js';

/** A REST publish answers once the event is stored, with its stream positions (issue 26). */
const STORED = { stored: true, positions: expect.any(Object) };

/**
 * SPEC §6 "Client ids have owners", §7 and §11: a notify client id belongs to the principal that first
 * connected with it, while a connection or its history holds it. Another principal is refused (error
 * frame, 4403 `Client id in use`) before anything touches the owner's connection, unless the access
 * policy grants it `client`; then it replaces the connection as the owner would (4409), but only the
 * owner resumes the client's stream. In one process, and across instances on Redis (the owner decided
 * atomically there), also when the owner's instance dies.
 */

const ALICE: Claims = { sub: 'alice' };
const BOB: Claims = { sub: 'bob' };
const ADMIN: Claims = { sub: 'root', roles: ['admin'] };
/** A principal the host's own policy lets into any client id (a help desk). */
const HELPDESK: Claims = { sub: 'helpdesk' };

/** The host's policy: the default's word on `client` (admins only), and `helpdesk` too; every call recorded. */
function hostPolicy(calls: string[]): AccessPolicy {
  return {
    canAccess: async (principal: Principal, resource: ResourceRef) => {
      if (resource.type !== 'client') return true;
      calls.push(`${principal.sub}→${resource.id}`);
      await sleep(5); // a database round trip
      return principal.roles.includes('admin') || principal.sub === 'helpdesk';
    },
  };
}

/** The refusal a non-owner gets: the notify error frame, then 4403. */
const inUse = { frames: [errorFrame('Client id in use')], ...ID_IN_USE };

/** How `claims` is refused on `clientId` (the frames besides heartbeat pings, and the close). */
const refusedAt = async (t: Endpoints, clientId: string, claims: Claims, since?: StreamAt) => {
  const { frames, ...closed } = await refused(t.wsUrl(resumePath(clientId, since), hsToken(claims)), {}, 5000);
  return { frames: frames.filter((f) => f.type !== 'ping'), ...closed };
};

/** The contents of the messages of `type` a client got (positions taken off). */
const contents = (client: TestClient, type: string): unknown[] => messages(client, type).map((f) => f.content);

/**
 * Retries `claims` on `clientId` until it is welcomed (the id became free); each refused attempt is
 * exactly the 4403 refusal. Resolves with the welcomed client.
 */
async function takeOnceFree(t: Endpoints, clientId: string, claims: Claims, since?: StreamAt): Promise<TestClient> {
  let taken: TestClient | undefined;
  await eventually(
    async () => {
      const attempt = new TestClient(t.wsUrl(resumePath(clientId, since), hsToken(claims)));
      // (a heartbeat may come first when it is short)
      const first = await attempt.next((f) => f.type !== 'ping', 5000);
      if (first.type === 'connected') {
        taken = attempt;
        return true;
      }
      expect({ frames: [first], ...(await attempt.waitClose(5000)) }).toEqual(inUse);
      return false;
    },
    10_000,
    `${String(claims.sub)} taking ${clientId}`,
  );
  return taken!;
}

describe('notify client ids have owners, in one process (SPEC §6, §7, §11)', () => {
  let t: TestApp;
  let publisher: NotifyPublisher;
  const calls: string[] = [];
  const open: TestClient[] = [];
  const track = <T extends TestClient>(client: T): T => {
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    t = await startTestApp({ accessPolicy: hostPolicy(calls) });
    publisher = t.app.get(NotifyPublisher);
  });
  afterEach(async () => {
    await closeAll(open.splice(0));
    calls.length = 0;
    await eventually(async () => (await t.http('GET', '/ws/clients', { token: ADMIN_TOKEN })).body.total === 0);
  });
  afterAll(() => t.close());

  it('refuses another user with 4403 `Client id in use`: the owner stays connected and keeps receiving, the refused one gets none of its messages', async () => {
    const alice = track(await openNotify(t, 'desk-a', ALICE));
    const before = welcomeAt(alice);
    publisher.notify({ type: 'private', content: 1 }, 'desk-a');
    await waitMessages(alice, (f) => f.type === 'private');

    // Resuming from before the first message, too: nothing of it.
    expect(await refusedAt(t, 'desk-a', BOB, before)).toEqual(inUse);
    expect(await refusedAt(t, 'desk-a', BOB)).toEqual(inUse);

    publisher.notify({ type: 'private', content: 2 }, 'desk-a');
    await waitMessages(alice, (f) => f.type === 'private', 2);
    await quiet([alice]);
    expect(contents(alice, 'private')).toEqual([1, 2]);
    expect(alice.socket.readyState).toBe(alice.socket.OPEN);
    // The default policy is not asked on the owner's behalf; Bob's asks were refused.
    expect(calls).toEqual(['bob→desk-a', 'bob→desk-a']);
  });

  it('after a refused takeover the id is still the owner’s connection: admin views, send-message and a replacement find it', async () => {
    const alice = track(await openNotify(t, 'desk-r', ALICE));
    expect(await refusedAt(t, 'desk-r', BOB)).toEqual(inUse);
    const shown = await t.http('GET', '/ws/clients/desk-r', { token: ADMIN_TOKEN });
    expect(shown).toMatchObject({ status: 200, body: { id: 'desk-r', user_id: 'alice' } });
    const sent = await t.http('POST', '/ws/send-message', {
      token: ADMIN_TOKEN,
      body: { type: 'rest', content: 'x', client_id: 'desk-r' },
    });
    expect(sent.body).toEqual({ sent: true, reached: 1, ...STORED });
    await waitMessages(alice, (f) => f.type === 'rest');

    const again = track(await openNotify(t, 'desk-r', ALICE));
    expect(await alice.waitClose()).toEqual(REPLACED);
    expect(again.socket.readyState).toBe(again.socket.OPEN);
  });

  it('lets the same user replace its connection (4409) and resume the stream', async () => {
    const first = track(await openNotify(t, 'desk-s', ALICE));
    const before = welcomeAt(first);
    publisher.notify({ type: 'm', content: 1 }, 'desk-s');
    await waitMessages(first, (f) => f.type === 'm');
    const second = track(await resumeNotify(t, 'desk-s', ALICE, before));
    expect(await first.waitClose()).toEqual(REPLACED);
    expect(welcomeAt(second)).toMatchObject({ recovered: true, epoch: before.epoch, offset: before.offset + 1 });
    await waitMessages(second, (f) => f.type === 'm');
    expect(contents(second, 'm')).toEqual([1]);
    expect(calls).toEqual([]);
  });

  it('lets in whom the policy grants `client` (an admin, the host’s help desk), replacing the owner’s connection, without its history; the owner keeps the id and resumes', async () => {
    const alice = track(await openNotify(t, 'desk-g', ALICE));
    const before = welcomeAt(alice);
    publisher.notify({ type: 'm', content: 1 }, 'desk-g');
    await waitMessages(alice, (f) => f.type === 'm');

    const admin = track(await resumeNotify(t, 'desk-g', ADMIN, before));
    expect(await alice.waitClose()).toEqual(REPLACED);
    expect(welcomeAt(admin)).toMatchObject({ recovered: false, offset: before.offset + 1 });
    publisher.notify({ type: 'm', content: 2 }, 'desk-g');
    await waitMessages(admin, (f) => f.type === 'm');

    const helpdesk = track(await resumeNotify(t, 'desk-g', HELPDESK, before));
    expect(await admin.waitClose()).toEqual(REPLACED);
    expect(welcomeAt(helpdesk)).toMatchObject({ recovered: false, offset: before.offset + 2 });
    publisher.notify({ type: 'm', content: 3 }, 'desk-g');
    await waitMessages(helpdesk, (f) => f.type === 'm');
    // Still Alice's: Bob is refused, Alice comes back and resumes everything.
    expect(await refusedAt(t, 'desk-g', BOB)).toEqual(inUse);
    const back = track(await resumeNotify(t, 'desk-g', ALICE, before));
    expect(await helpdesk.waitClose()).toEqual(REPLACED);
    expect(welcomeAt(back)).toMatchObject({ recovered: true });
    await waitMessages(back, (f) => f.type === 'm', 3);
    await quiet([back]);

    expect(contents(admin, 'm')).toEqual([2]);
    expect(contents(helpdesk, 'm')).toEqual([3]);
    expect(contents(back, 'm')).toEqual([1, 2, 3]);
    expect(calls).toEqual(['root→desk-g', 'helpdesk→desk-g', 'bob→desk-g']);
  });

  it('records a generated id (/ws) as its principal’s: another user cannot take it, its owner resumes it', async () => {
    const alice = await openNotify(t, undefined, ALICE);
    const id = clientIdOf(alice);
    publisher.notify({ type: 'm', content: 'for the tab' }, id);
    await waitMessages(alice, (f) => f.type === 'm');
    const at = welcomeAt(alice);
    alice.close();
    await alice.waitClose();
    expect(await refusedAt(t, id, BOB, at)).toEqual(inUse);
    const back = track(await resumeNotify(t, id, ALICE, at));
    expect(welcomeAt(back)).toMatchObject({ recovered: true });
  });

  it('cuts off a refused client that never completes the close handshake (SPEC §10.1)', async () => {
    track(await openNotify(t, 'desk-h', ALICE));
    const raw = await rawUpgrade(t.port, `/ws/desk-h?token=${hsToken(BOB)}`);
    await raw.waitFrame((frame) => frame.opcode === 0x8, 3000, 'the close frame');
    const closeFrame = raw.frames().find((frame) => frame.opcode === 0x8)!;
    expect(closeFrame.payload.readUInt16BE(0)).toBe(4403);
    expect(closeFrame.payload.subarray(2).toString()).toBe('Client id in use');
    // Never answered: the server ends the TCP connection itself (after 2 s).
    await Promise.race([
      raw.ended,
      sleep(6000).then(() => {
        throw new Error('the refused socket was not cut off');
      }),
    ]);
  });
});

describe('notify ownership ends WS_HISTORY_TTL after the last connection and the last message (SPEC §6, §11)', () => {
  let t: TestApp;
  let publisher: NotifyPublisher;

  beforeAll(async () => {
    t = await startTestApp({ historyTtlSec: 1 });
    publisher = t.app.get(NotifyPublisher);
  });
  afterAll(() => t.close());

  it('in one process: refused while the history lasts (messages keep it), then the id is the next user’s, without the previous owner’s messages', async () => {
    await ownershipOutlivesHistory(t, t, publisher, 'desk-ttl');
  });
});

/**
 * Alice connects on `first` and leaves; while messages keep coming to her id (more often than the
 * history TTL), Bob is refused on `second`; once they stop, Bob takes the id, and resuming from the
 * start gets him none of them.
 */
async function ownershipOutlivesHistory(
  first: Endpoints,
  second: Endpoints,
  publisher: NotifyPublisher,
  clientId: string,
): Promise<void> {
  const alice = await openNotify(first, clientId, ALICE);
  const start = welcomeAt(alice);
  alice.close();
  await alice.waitClose();
  let sending = true;
  const sender = (async () => {
    for (let i = 0; sending; i++) {
      publisher.notify({ type: 'for-alice', content: i }, clientId);
      await sleep(200);
    }
  })();
  try {
    // Refused at once, and again past one TTL after Alice left: her stream keeps getting messages.
    expect(await refusedAt(second, clientId, BOB)).toEqual(inUse);
    await sleep(1500);
    expect(await refusedAt(second, clientId, BOB)).toEqual(inUse);
  } finally {
    sending = false;
    await sender;
  }
  const stoppedAt = Date.now();
  const bob = await takeOnceFree(second, clientId, BOB, start);
  try {
    // Not before the last message's history ended.
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(700);
    expect(welcomeAt(bob)).toMatchObject({ recovered: false });
    await quiet([bob]);
    expect(messages(bob, 'for-alice')).toEqual([]);
    // Bob's now: Alice is the one refused.
    expect(await refusedAt(first, clientId, ALICE)).toEqual(inUse);
  } finally {
    bob.close();
    await bob.waitClose();
  }
}

describe('notify client ids have owners across instances on Redis (SPEC §6, §9)', () => {
  const prefix = clusterPrefix('notify-owners');
  let a: TestApp;
  let b: TestApp;
  let pubA: NotifyPublisher;
  const open: TestClient[] = [];
  const track = <T extends TestClient>(client: T): T => {
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    [a, b] = await startPair(prefix, { heartbeatTimeoutMs: 3000 });
    pubA = a.app.get(NotifyPublisher);
  });
  afterEach(() => closeAndSettle(open, [a, b]));
  afterAll(() => stopAll([a, b]));

  it('refuses another user on B with 4403: the owner on A stays connected and keeps receiving, the refused one gets nothing', async () => {
    const alice = track(await openNotify(a, 'x-desk', ALICE));
    const before = welcomeAt(alice);
    pubA.notify({ type: 'private', content: 1 }, 'x-desk');
    await waitMessages(alice, (f) => f.type === 'private');
    await settle([a, b], 1);

    expect(await refusedAt(b, 'x-desk', BOB, before)).toEqual(inUse);
    pubA.notify({ type: 'private', content: 2 }, 'x-desk');
    await waitMessages(alice, (f) => f.type === 'private', 2);
    await quiet([alice], 300);
    expect(contents(alice, 'private')).toEqual([1, 2]);
    expect(alice.socket.readyState).toBe(alice.socket.OPEN);
    const shown = await b.http('GET', '/ws/clients/x-desk', { token: ADMIN_TOKEN });
    expect(shown.body).toMatchObject({ id: 'x-desk', user_id: 'alice', instance: `${prefix}A` });

    // The owner itself still moves between instances (4409), and resumes.
    const moved = track(await resumeNotify(b, 'x-desk', ALICE, before));
    expect(await alice.waitClose(5000)).toEqual(REPLACED);
    expect(welcomeAt(moved)).toMatchObject({ recovered: true });
    await waitMessages(moved, (f) => f.type === 'private', 2);
  });

  it('lets an admin in on B, replacing the owner’s connection on A, without its history', async () => {
    const alice = track(await openNotify(a, 'x-admin', ALICE));
    const before = welcomeAt(alice);
    pubA.notify({ type: 'private', content: 1 }, 'x-admin');
    await waitMessages(alice, (f) => f.type === 'private');
    const admin = track(await resumeNotify(b, 'x-admin', ADMIN, before));
    expect(await alice.waitClose(5000)).toEqual(REPLACED);
    expect(welcomeAt(admin)).toMatchObject({ recovered: false, offset: before.offset + 1 });
    pubA.notify({ type: 'private', content: 2 }, 'x-admin');
    await waitMessages(admin, (f) => f.type === 'private');
    await quiet([admin], 300);
    expect(contents(admin, 'private')).toEqual([2]);
    // Alice's still, wherever asked.
    expect(await refusedAt(a, 'x-admin', BOB)).toEqual(inUse);
  });

  it('leaves exactly one owner when two users take one id on A and B at the same moment', async () => {
    const outcomes: string[] = [];
    for (let round = 0; round < 6; round++) {
      const id = `x-race-${round}`;
      const [first, second]: Array<[TestApp, Claims]> =
        round % 2 === 0
          ? [
              [a, ALICE],
              [b, BOB],
            ]
          : [
              [b, ALICE],
              [a, BOB],
            ];
      const clients = [first, second].map(([t, claims]) =>
        track(new TestClient(t.wsUrl(`/ws/${id}`, hsToken(claims)))),
      );
      // Each ends welcomed or closed: refused (4403), or replaced (4409) by the winner's claim when
      // that reached it before its own refusal.
      const settled = (client: TestClient): boolean =>
        client.socket.readyState === client.socket.CLOSED || client.frames.some((f) => f.type === 'connected');
      await eventually(() => clients.every(settled), 5000, `${id} settled`);
      const winners = clients.filter((client) => client.socket.readyState === client.socket.OPEN);
      expect(winners).toHaveLength(1);
      const loser = clients.find((client) => client !== winners[0])!;
      const { code } = await loser.closed;
      outcomes.push(`${id}: ${winners[0] === clients[0] ? 'alice' : 'bob'} owns, the other ${code}`);
      // Every instance agrees on the owner.
      for (const t of [a, b]) expect(await refusedAt(t, id, winners[0] === clients[0] ? BOB : ALICE)).toEqual(inUse);
    }
    for (const outcome of outcomes) expect(outcome).toMatch(/^x-race-\d: (alice|bob) owns, the other 440[39]$/);
  });
});

describe('notify ownership across instances: the history TTL, and an instance that dies (SPEC §6, §9)', () => {
  it('on Redis: refused on B while Alice’s history lasts, then Bob’s', async () => {
    const prefix = clusterPrefix('notify-owners-ttl');
    const a = await startOnRedis(prefix, 'A', { historyTtlSec: 1 });
    const b = await startOnRedis(prefix, 'B', { historyTtlSec: 1 });
    try {
      await ownershipOutlivesHistory(a, b, a.app.get(NotifyPublisher), 'x-ttl');
    } finally {
      await stopAll([a, b]);
    }
  });

  it('an owner whose instance is killed keeps the id no longer than its lease and the history TTL', async () => {
    const prefix = clusterPrefix('notify-owners-crash');
    const env = {
      REDIS_URL: testRedisUrl(),
      WS_REDIS_PREFIX: prefix,
      WS_HISTORY_TTL: '1',
      WS_HEARTBEAT_INTERVAL: '0.5',
      WS_HEARTBEAT_TIMEOUT: '1.5',
    };
    const processes: AppProcess[] = [];
    try {
      processes.push(await startAppProcess(`${prefix}P1`, env));
      processes.push(await startAppProcess(`${prefix}P2`, env));
      const [p1, p2] = processes;
      const alice = answerPings(await resumeNotify(p1, 'x-crash', ALICE));
      expect(await refusedAt(p2, 'x-crash', BOB)).toEqual(inUse);
      await p1.stop('SIGKILL');
      await alice.waitClose(5000);
      // No one released it: its lease ends (within 0.9 s) and then its history (1 s).
      const bob = answerPings(await takeOnceFree(p2, 'x-crash', BOB));
      bob.close();
      await bob.waitClose();
    } finally {
      for (const instance of processes) await instance.stop('SIGKILL');
    }
  }, 30_000);
});
