import { Redis } from 'ioredis';
import { ConnectionRegistry } from '../src/realtime/index.js';
import { ClusterView } from '../src/realtime/core/cluster/index.js';
import { openNotify } from './support/notify-client.js';
import { RedisServer, freePort } from './support/redis.js';
import { startTestApp, type TestApp } from './support/test-app.js';
import { TestClient, closeAll, eventually, sleep } from './support/test-client.js';
import { hsToken } from './support/tokens.js';

/**
 * Issue 12, what the atomic limits and presence cost in Redis, counted by Redis itself (INFO
 * commandstats of a private server that nothing else uses): one script per admission of a user
 * with a per-user limit, none for a gateway without one; one script (and the index write) per
 * first tab entering a room, none for a second tab. The cluster tick is set far apart
 * (WS_HEARTBEAT_TIMEOUT 10 min: a tick every 2 min) so that the counts are the paths' own.
 */
describe('Redis commands on the upgrade and join paths (issue 12)', () => {
  let redisServer: RedisServer;
  let redis: Redis;
  let t: TestApp;
  const open: TestClient[] = [];

  let monitor: Awaited<ReturnType<Redis['monitor']>>;
  /** Commands clients sent (not those scripts ran), by connection name, as MONITOR shows them. */
  let seen: Array<{ source: string; command: string; marker?: string }> = [];
  let barriers = 0;

  /**
   * The commands `action` made the instance send, by the role of its connection (`cluster`,
   * `bus-writer`, …: named `<instance>:<role>`), and by command.
   */
  const commandsDuring = async (action: () => Promise<void>): Promise<Record<string, Record<string, number>>> => {
    await barrier(); // what came before has been seen, and is forgotten
    seen = [];
    await action();
    // The admin client list is republished 50 ms after changes: let it go before the barrier.
    await sleep(100);
    await barrier();
    const roles = await connectionRoles();
    const made: Record<string, Record<string, number>> = {};
    for (const { source, command } of seen) {
      const role = roles.get(source);
      if (!role) continue;
      made[role] ??= {};
      made[role][command] = (made[role][command] ?? 0) + 1;
    }
    return made;
  };

  /** Resolves once MONITOR has shown everything Redis ran before it. */
  const barrier = async (): Promise<void> => {
    const marker = `barrier-${++barriers}`;
    await redis.echo(marker);
    await eventually(() => seen.some((entry) => entry.marker === marker), 5000, 'the barrier');
  };

  /** `addr` → role of every connection the instance holds (`costs-instance:<role>`). */
  const connectionRoles = async (): Promise<Map<string, string>> => {
    const list = (await redis.client('LIST')) as string;
    const roles = new Map<string, string>();
    for (const line of list.split('\n')) {
      const addr = /\baddr=(\S+)/.exec(line)?.[1];
      const name = /\bname=costs-instance:(\S+)/.exec(line)?.[1];
      if (addr && name) roles.set(addr, name);
    }
    return roles;
  };

  const chat = async (sub: string): Promise<TestClient> => {
    const client = await t.chat({ sub, username: sub });
    open.push(client);
    return client;
  };

  const join = async (client: TestClient, room: string): Promise<void> => {
    client.send({ type: 'join_room', room });
    await client.next((f) => f.type === 'room_joined' && f.room === room);
  };

  beforeAll(async () => {
    redisServer = new RedisServer(await freePort());
    await redisServer.start();
    redis = new Redis(redisServer.url);
    monitor = await redis.monitor();
    monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source !== 'lua') seen.push({ source, command: args[0].toLowerCase(), marker: args[1] });
    });
    t = await startTestApp({
      instanceId: 'costs-instance',
      redis: { url: redisServer.url, prefix: 'costs:' },
      heartbeatIntervalMs: 600_000,
      heartbeatTimeoutMs: 600_000,
    });
    await eventually(async () => (await t.http('GET', '/ws/health')).body.redis === 'up', 10_000, 'redis up');
    // Warm: the first admission and join of a run also compile their scripts in Redis.
    // (through commandsDuring, so that none of its commands is seen by the first test).
    await commandsDuring(async () => join(await chat('warm-up'), 'channel:1'));
  });

  afterAll(async () => {
    await closeAll(open);
    await t.close();
    monitor.disconnect();
    redis.disconnect();
    await redisServer.kill('SIGKILL');
  });

  it('admits a chat user with one script call each, and nothing else on the path', async () => {
    const made = await commandsDuring(async () => {
      for (let i = 0; i < 20; i++) await chat(`costly-${i}`);
    });
    // The admin client list is republished once per 50 ms of changes, whatever their number.
    const { set = 0, ...onThePath } = made.cluster;
    expect(onThePath).toEqual({ eval: 20 });
    expect(set).toBeLessThan(20);
    // Each connection's own user room: its stream's position for the welcome, and its channel.
    expect(made['bus-writer']).toEqual({ eval: 20 });
    expect(made['bus-subscriber']).toEqual({ ssubscribe: 20 });
  });

  it("takes two scripts per notify connection (its user's slot, its client id's owner), and none for one refused here", async () => {
    const made = await commandsDuring(async () => {
      for (let i = 0; i < 20; i++) open.push(await openNotify(t, `free-${i}`, { sub: `free-${i}` }));
      for (let i = 0; i < 5; i++) await chat('full');
      const sixth = new TestClient(t.wsUrl('/api/v1/ws/connect', hsToken({ sub: 'full' })));
      expect((await sixth.waitClose()).code).toBe(4429);
    });
    const { set = 0, ...onThePath } = made.cluster;
    expect(onThePath).toEqual({ eval: 20 * 2 + 5 });
    expect(set).toBeLessThan(26);
    // A notify id is claimed for the whole cluster on the bus (issue 10), one control publish per connect,
    // not awaited; each connection reads its two streams' positions (its client id's, the broadcast), as
    // each chat connection its user room's; a new topic's channel is subscribed once.
    expect(made['bus-writer']).toEqual({ spublish: 20, eval: 20 * 2 + 5 });
    expect(made['bus-subscriber']).toEqual({ ssubscribe: 20 + 1 + 1 });
  });

  it('asks Redis once per first tab of a user entering a room, and never for a second tab', async () => {
    const firstTabs = await Promise.all(Array.from({ length: 10 }, (_, i) => chat(`member-${i}`)));
    const secondTabs = await Promise.all(Array.from({ length: 10 }, (_, i) => chat(`member-${i}`)));
    const first = await commandsDuring(async () => {
      for (const tab of firstTabs) await join(tab, 'channel:42');
    });
    // The presence script, and the instance's presence index (its reaper's list) in the same turn.
    const { set = 0, ...firstPath } = first.cluster;
    expect(firstPath).toEqual({ eval: 10, hset: 10, pexpire: 10 });
    expect(set).toBeLessThan(10);
    // …and on the bus the room's position for each reply, the user_joined each first tab owes the room,
    // and the room's channel, once.
    expect(first['bus-writer']).toEqual({ eval: 10 + 10 });
    expect(first['bus-subscriber']).toEqual({ ssubscribe: 1 });
    const second = await commandsDuring(async () => {
      for (const tab of secondTabs) await join(tab, 'channel:42');
    });
    const { set: secondSet = 0, ...secondPath } = second.cluster ?? {};
    expect(secondPath).toEqual({});
    expect(secondSet).toBeLessThan(10);
    expect(second['bus-writer']).toEqual({ eval: 10 });
    expect(second['bus-subscriber']).toBeUndefined();
  });

  // Last: it cuts the instance's cluster connection. The leases are long here (6 min), so only the
  // reconnect's own write, not a lease's end, can free the slot within the wait below.
  it('frees the slot of a user whose last connection closed while Redis was away, as soon as it is back', async () => {
    const key = 'costs:{ws:user:chat:blip}:slots';
    const view = t.app.get(ClusterView);
    const blip = await chat('blip');
    expect(await redis.hexists(key, 'costs-instance')).toBe(1);
    // Connections already open stay authenticated; the cluster connection cannot come back until cleared.
    await redis.config('SET', 'requirepass', 'away-for-a-while');
    try {
      const clusterConnection = [...(await connectionRoles())].find(([, role]) => role === 'cluster')![0];
      await redis.client('KILL', 'ADDR', clusterConnection);
      await eventually(() => view.client === undefined, 5000, 'the cluster connection away');
      blip.close();
      await eventually(
        () => t.app.get(ConnectionRegistry).list({ user: 'blip' }).length === 0,
        5000,
        'the connection released',
      );
      expect(await redis.hexists(key, 'costs-instance')).toBe(1);
    } finally {
      await redis.config('SET', 'requirepass', '');
    }
    await eventually(() => view.client !== undefined, 15_000, 'the cluster connection back');
    await eventually(async () => (await redis.hexists(key, 'costs-instance')) === 0, 5000, 'the slot written as 0');
  });
});
