import WebSocket from 'ws';
import {
  ChatClient,
  type ChatRoomEvent,
  type ConnectionEvents,
  type WebSocketConstructor,
} from '../client/src/index.js';
import { startAppProcess, type AppProcess } from './support/app-processes.js';
import { RedisServer, freePort } from './support/redis.js';
import { ADMIN_TOKEN, type Endpoints } from './support/test-app.js';
import { TcpProxy } from './support/tcp-proxy.js';
import { eventually, sleep } from './support/test-client.js';
import { hsToken } from './support/tokens.js';

/**
 * Issue 25's central test: a `ChatClient` joined to a room, on instance A of two built servers on
 * one Redis (separate processes), behind a TCP proxy that sends new connections to the first live
 * instance. A is killed with SIGKILL: the client reconnects to B and gets every event published
 * meanwhile exactly once, in order, then the live ones. Then Redis restarts with its data lost:
 * the client's resume is answered `recovered: false`, which it tells the app, and events flow again.
 */

const WS = WebSocket as unknown as WebSocketConstructor;
/** Long enough for every frame in flight to have arrived: exact counts are checked after it. */
const QUIET_MS = 500;
const range = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, k) => `e${from + k}`);

interface Watched {
  client: ChatClient;
  sub: string;
  opens: boolean[];
  closes: Array<ConnectionEvents['close']>;
  welcomes: string[];
  recoveries: Array<ConnectionEvents['recovery']>;
  events: ChatRoomEvent[];
  messages(room: string): Array<{ content: string; offset?: number; epoch?: string }>;
}

const clients: ChatClient[] = [];

function watch(url: string, sub: string): Watched {
  const client = new ChatClient({
    url,
    WebSocket: WS,
    getToken: () => hsToken({ sub, username: sub }),
    reconnect: { minDelayMs: 100, maxDelayMs: 1000 },
  });
  clients.push(client);
  const w: Watched = {
    client,
    sub,
    opens: [],
    closes: [],
    welcomes: [],
    recoveries: [],
    events: [],
    messages: (room) =>
      w.events.flatMap((event) =>
        event.type === 'message' && event.room === room
          ? [{ content: event.data.content!, offset: event.offset, epoch: event.epoch }]
          : [],
      ),
  };
  client.on('open', ({ reconnected }) => w.opens.push(reconnected));
  client.on('close', (event) => w.closes.push(event));
  client.on('welcome', (frame) => w.welcomes.push(frame.data.connection_id));
  client.on('recovery', (event) => w.recoveries.push(event));
  client.on('event', (event) => w.events.push(event));
  return w;
}

const contents = (w: Watched, room: string): string[] => w.messages(room).map((message) => message.content);

async function publish(t: Endpoints, room: string, content: string): Promise<void> {
  const body = { room, type: 'message', data: { content } };
  const { status } = await t.http('POST', '/ws/publish', { token: ADMIN_TOKEN, body });
  expect(status).toBe(200);
}

/** Waits until `w` has `last` in `room`, then a quiet while, and answers everything it got there. */
async function receivedUpTo(w: Watched, room: string, last: string): Promise<string[]> {
  await eventually(
    () => contents(w, room).includes(last),
    15_000,
    () => `${last} (got ${contents(w, room).slice(-5).join(', ')}; closes ${JSON.stringify(w.closes)})`,
  );
  await sleep(QUIET_MS);
  return contents(w, room);
}

/** The instance holding connection `id`, as the cluster's admin view says. */
async function instanceOf(t: Endpoints, id: string): Promise<string> {
  const { status, body } = await t.http('GET', `/ws/clients/${id}`, { token: ADMIN_TOKEN });
  expect(status).toBe(200);
  return body.instance as string;
}

describe('ChatClient across two instances on Redis (issue 25)', () => {
  const prefix = `client-resume-${process.pid}:`;
  let redis: RedisServer;
  let a: AppProcess;
  let b: AppProcess;
  let proxy: TcpProxy;

  beforeAll(async () => {
    // A Redis of this file's own: the second test restarts it.
    redis = new RedisServer(await freePort());
    await redis.start();
    const env = {
      REDIS_URL: redis.url,
      WS_REDIS_PREFIX: prefix,
      WS_HISTORY_SIZE: '1000',
      WS_RATE_LIMIT_PER_SEC: '5000',
    };
    [a, b] = await Promise.all([startAppProcess(`${prefix}A`, env), startAppProcess(`${prefix}B`, env)]);
    proxy = await new TcpProxy(() => [a.port, b.port]).listen();
  }, 60_000);

  afterAll(async () => {
    for (const client of clients.splice(0)) client.disconnect();
    await proxy?.close();
    await Promise.all([a, b].map((instance) => instance?.stop('SIGKILL')));
    await redis?.kill('SIGKILL');
  });

  it('its instance SIGKILLed: reconnects to the other and gets every event published meanwhile once, in order, then the live ones', async () => {
    const room = `channel:${(process.pid % 100_000) * 10 + 1}`;
    const w = watch(proxy.url, `resume-${process.pid}`);
    await w.client.join(room);
    expect(await instanceOf(b, w.welcomes[0])).toBe(a.id);
    // Seen live through A (published on B: Redis carries them).
    for (const content of range(0, 9)) await publish(b, room, content);
    expect(await receivedUpTo(w, room, 'e9')).toEqual(range(0, 9));

    // A dies; until the balancer sends new connections to B, they are refused.
    proxy.refusing = true;
    await a.stop('SIGKILL');
    await eventually(() => w.closes.length > 0, 5_000, 'the client saw its connection die');
    for (const content of range(10, 34)) await publish(b, room, content);
    // B takes connections while the steady publishing goes on: the resume meets live events.
    proxy.refusing = false;
    for (const content of range(35, 59)) {
      await publish(b, room, content);
      await sleep(10);
    }
    await eventually(() => w.opens.length === 2, 10_000, 'the client back');
    for (const content of range(60, 69)) await publish(b, room, content);

    expect(await receivedUpTo(w, room, 'e69')).toEqual(range(0, 69));
    expect(w.closes[0]).toMatchObject({ code: 1006, willReconnect: true });
    expect(w.closes.every((close) => close.willReconnect)).toBe(true);
    expect(w.opens).toEqual([false, true]);
    // Both streams resumed: the room, and the user's own room (from the connect URL).
    expect(w.recoveries).toEqual(
      expect.arrayContaining([
        { stream: room, recovered: true },
        { stream: `user:${w.sub}`, recovered: true },
      ]),
    );
    expect(w.recoveries).toHaveLength(2);
    expect(await instanceOf(b, w.welcomes[w.welcomes.length - 1])).toBe(b.id);
    // One epoch, each offset once and rising (a presence event of the room may take an offset between).
    const messages = w.messages(room);
    expect(new Set(messages.map((message) => message.epoch)).size).toBe(1);
    for (let k = 1; k < messages.length; k++) expect(messages[k].offset!).toBeGreaterThan(messages[k - 1].offset!);
    expect(w.client.positions.get(room)).toEqual({
      offset: messages[messages.length - 1].offset,
      epoch: messages[0].epoch,
    });
  }, 40_000);

  it('Redis restarted with its data lost: the resume says recovered: false, the app is told, events flow again', async () => {
    const room = `channel:${(process.pid % 100_000) * 10 + 2}`;
    const sub = `epoch-${process.pid}`;
    const w = watch(proxy.url, sub);
    await w.client.join(room);
    for (const content of range(0, 4)) await publish(b, room, content);
    expect(await receivedUpTo(w, room, 'e4')).toEqual(range(0, 4));
    const before = w.client.positions.get(room)!;

    await redis.kill('SIGKILL');
    await redis.start();
    await eventually(async () => (await b.http('GET', '/ws/health')).body.redis === 'up', 20_000, 'B back on Redis');
    // The client's connection is cut; what is published before it is back is in the new history only.
    proxy.refusing = true;
    proxy.dropAll();
    await eventually(() => w.closes.length > 0, 5_000, 'the cut seen');
    for (const content of range(5, 7)) await publish(b, room, content);
    proxy.refusing = false;
    await eventually(() => w.opens.length === 2, 10_000, 'the client back');

    await eventually(() => w.recoveries.length >= 2, 5_000, 'both streams answered');
    expect(w.recoveries).toEqual(
      expect.arrayContaining([
        { stream: room, recovered: false },
        { stream: `user:${sub}`, recovered: false },
      ]),
    );
    expect(w.recoveries).toHaveLength(2);
    const after = w.client.positions.get(room)!;
    expect(after.epoch).not.toBe(before.epoch);
    // From the position of the reply on: the live events, each once.
    for (const content of range(8, 12)) await publish(b, room, content);
    expect(await receivedUpTo(w, room, 'e12')).toEqual([...range(0, 4), ...range(8, 12)]);
    const live = w.messages(room).slice(5);
    expect(live.map((message) => message.epoch)).toEqual(live.map(() => after.epoch));
    expect(live[0].offset!).toBeGreaterThan(after.offset);
    for (let k = 1; k < live.length; k++) expect(live[k].offset!).toBeGreaterThan(live[k - 1].offset!);
  }, 40_000);
});
