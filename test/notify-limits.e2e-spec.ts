import { closeAndSettle, clusterPrefix, settle, startPair, stopAll } from './support/cluster-pair.js';
import { ADMIN_TOKEN, startTestApp, type Endpoints, type TestApp } from './support/test-app.js';
import { TestClient, closeAll, eventually, refused } from './support/test-client.js';
import { hsToken } from './support/tokens.js';
import { REPLACED, TOO_MANY, errorFrame, listedNotifyIds, notifyPath, openNotify } from './support/notify-client.js';

/**
 * SPEC §6: the notify gateway's connection limits, like the other gateways' — per user (on every
 * instance), per client IP and in total — each at its edge: exactly the limit is let in, the next
 * one gets the error frame then 4429 `Too many connections`, and a place given back is taken again.
 * A connection that takes over a client id its own user holds replaces that connection, which
 * leaves: at the per-user limit it is let in (the user's count does not grow).
 */

/** What a connection over a limit gets. */
const tooMany = { frames: [errorFrame('Too many connections')], ...TOO_MANY };

/** Connections through a trusted proxy at 127.0.0.1, each from the address it forwards. */
const from = (ip: string) => ({ headers: { 'x-forwarded-for': ip } });

const refusedNotify = (t: Endpoints, clientId: string | undefined, sub: string, ip = '10.9.9.9') =>
  refused(t.wsUrl(notifyPath(clientId), hsToken({ sub })), from(ip), 5000);

describe('notify connection limits, in one process (SPEC §6)', () => {
  let t: TestApp;
  const open: TestClient[] = [];
  const conn = async (clientId: string | undefined, sub: string, ip: string): Promise<TestClient> => {
    const client = await openNotify(t, clientId, { sub }, from(ip));
    open.push(client);
    return client;
  };
  const notifyCount = async (): Promise<number> => (await listedNotifyIds(t, ADMIN_TOKEN)).length;
  /** Closes `client` and waits until the server has let it go (its place is free). */
  const leave = async (client: TestClient, remaining: number): Promise<void> => {
    client.close();
    await client.waitClose();
    await eventually(async () => (await notifyCount()) === remaining, 3000, `${remaining} notify clients`);
  };

  beforeAll(async () => {
    t = await startTestApp({
      trustedProxies: ['127.0.0.1'],
      notify: { maxConnectionsPerUser: 2, maxConnectionsPerIp: 3, maxConnections: 5 },
    });
  });
  afterEach(async () => {
    await closeAll(open.splice(0));
    await eventually(async () => (await notifyCount()) === 0, 3000, 'notify clients gone');
  });
  afterAll(() => t.close());

  it('per user: two connections of one user (2 is the limit), the third gets 4429; one leaves, the next gets in', async () => {
    const first = await conn('user-1', 'u1', '10.0.0.1');
    const second = await conn(undefined, 'u1', '10.0.0.2');
    expect(await refusedNotify(t, 'user-3', 'u1', '10.0.0.3')).toEqual(tooMany);
    expect(await refusedNotify(t, undefined, 'u1', '10.0.0.4')).toEqual(tooMany);
    // Other users are not counted with u1.
    await conn('user-other', 'u-other', '10.0.0.5');
    expect(first.socket.readyState).toBe(first.socket.OPEN);
    expect(second.socket.readyState).toBe(second.socket.OPEN);

    await leave(first, 2);
    await conn('user-3', 'u1', '10.0.0.3');
    expect(await refusedNotify(t, 'user-4', 'u1', '10.0.0.6')).toEqual(tooMany);
  });

  it('per IP: three connections from one address (3 is the limit), the fourth gets 4429; another address gets in', async () => {
    const clients = [await conn('ip-a', 'ip-a', '10.1.0.1'), await conn('ip-b', 'ip-b', '10.1.0.1')];
    clients.push(await conn(undefined, 'ip-c', '10.1.0.1'));
    expect(await refusedNotify(t, 'ip-d', 'ip-d', '10.1.0.1')).toEqual(tooMany);
    await conn('ip-d', 'ip-d', '10.1.0.2');
    await leave(clients[0], 3);
    await conn('ip-e', 'ip-e', '10.1.0.1');
    expect(await refusedNotify(t, 'ip-f', 'ip-f', '10.1.0.1')).toEqual(tooMany);
  });

  it('in total: five connections of the gateway (5 is the limit), the sixth gets 4429; one leaves, the next gets in', async () => {
    const clients: TestClient[] = [];
    for (let i = 1; i <= 5; i++) clients.push(await conn(`all-${i}`, `all-${i}`, `10.2.0.${i}`));
    expect(await refusedNotify(t, 'all-6', 'all-6', '10.2.0.6')).toEqual(tooMany);
    expect(await refusedNotify(t, undefined, 'all-7', '10.2.0.7')).toEqual(tooMany);
    // Other gateways have their own limits.
    const chat = await t.chat({ sub: 'all-chat' });
    open.push(chat);
    await leave(clients[2], 4);
    await conn('all-6', 'all-6', '10.2.0.6');
    expect(await refusedNotify(t, 'all-8', 'all-8', '10.2.0.8')).toEqual(tooMany);
  });

  it('per user, at the limit: the user taking over one of its own client ids gets in and the replaced one leaves; a new id is still refused', async () => {
    const first = await conn('mine-1', 'u2', '10.3.0.1');
    await conn('mine-2', 'u2', '10.3.0.2');
    const again = await conn('mine-1', 'u2', '10.3.0.3');
    expect(await first.waitClose()).toEqual(REPLACED);
    expect(again.socket.readyState).toBe(again.socket.OPEN);
    await eventually(async () => (await notifyCount()) === 2, 3000, 'the replaced one gone');
    expect(await refusedNotify(t, 'mine-3', 'u2', '10.3.0.4')).toEqual(tooMany);
    // Another user's id is no way around it either.
    await conn('theirs', 'u3', '10.3.0.5');
    expect(await refusedNotify(t, 'theirs', 'u2', '10.3.0.6')).toEqual(tooMany);
  });
});

describe('the notify per-user limit across instances on Redis (SPEC §6, §9)', () => {
  const prefix = clusterPrefix('notify-limits');
  let a: TestApp;
  let b: TestApp;
  const open: TestClient[] = [];
  const conn = async (t: TestApp, clientId: string | undefined, sub: string): Promise<TestClient> => {
    const client = await openNotify(t, clientId, { sub });
    open.push(client);
    return client;
  };

  beforeAll(async () => {
    [a, b] = await startPair(prefix, { heartbeatTimeoutMs: 3000, notify: { maxConnectionsPerUser: 2 } });
  });
  afterEach(() => closeAndSettle(open, [a, b]));
  afterAll(() => stopAll([a, b]));

  it('counts a user’s connections on both instances: one on A and one on B, the third is refused on either; one leaves, the next gets in', async () => {
    await conn(a, 'x-1', 'xu');
    const onB = await conn(b, undefined, 'xu');
    expect(await refusedNotify(a, 'x-3', 'xu')).toEqual(tooMany);
    expect(await refusedNotify(b, 'x-3', 'xu')).toEqual(tooMany);
    onB.close();
    await onB.waitClose();
    await settle([a, b], 1);
    await conn(a, 'x-3', 'xu');
    expect(await refusedNotify(b, 'x-4', 'xu')).toEqual(tooMany);
  });

  it('admits exactly the limit of one user’s connections arriving on A and B at the same moment', async () => {
    const clients = [a, b, a, b, a, b].map((t, i) => new TestClient(t.wsUrl(`/ws/burst-${i}`, hsToken({ sub: 'xb' }))));
    open.push(...clients);
    await eventually(
      () => clients.every((c) => c.socket.readyState === c.socket.CLOSED || c.frames[0]?.type === 'connected'),
      5000,
      'every connection welcomed or refused',
    );
    const welcomed = clients.filter((c) => c.socket.readyState === c.socket.OPEN);
    expect(welcomed).toHaveLength(2);
    for (const client of clients.filter((c) => !welcomed.includes(c))) {
      expect({ frames: client.frames, ...(await client.closed) }).toEqual(tooMany);
    }
  });

  it('lets the user take over its own client id on B when at the limit: the one on A is replaced and leaves', async () => {
    const onA = await conn(a, 'x-mine', 'xr');
    await conn(b, 'x-other', 'xr');
    await settle([a, b], 2);
    const onB = await conn(b, 'x-mine', 'xr');
    expect(await onA.waitClose(5000)).toEqual(REPLACED);
    expect(onB.socket.readyState).toBe(onB.socket.OPEN);
    await settle([a, b], 2);
    expect(await refusedNotify(a, 'x-new', 'xr')).toEqual(tooMany);
  });
});
