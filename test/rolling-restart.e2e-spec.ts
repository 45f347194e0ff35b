import http from 'node:http';
import net from 'node:net';
import WebSocket from 'ws';
import {
  ChatClient,
  CheckpointClient,
  CheckpointRpcError,
  NotifyClient,
  SchedulerClient,
  type ConnectionEvents,
  type WebSocketConstructor,
} from '../client/src/index.js';
import { RedisServer, freePort } from './support/redis.js';
import { sampleExperimentProgress } from './support/scheduler-client.js';
import { runStandalone, type StandaloneProcess } from './support/standalone-process.js';
import { ADMIN_TOKEN } from './support/test-app.js';
import { eventually, sleep } from './support/test-client.js';
import { hsToken, TEST_SECRET } from './support/tokens.js';

/**
 * Issue 26, deliver 2: a rolling restart loses nothing. Three built servers (separate processes) on
 * one private Redis, behind a round-robin TCP proxy like a load balancer's; clients of all four
 * gateways (the client package) connect through it; a publisher numbers every event and sends
 * steadily through the admin REST API of the running instances in turn, draining ones too (chat,
 * scheduler, notify; a publish that fails is retried elsewhere with its number) and
 * through a checkpoint client (the session's events). The instances are restarted one after the
 * other: SIGTERM (a 1 s drain: health 503, upgrades refused, 1012 in waves), exit, start again on the
 * same port, healthy, next. Then every client has every event exactly once and in order (the
 * stream's own record in Redis is the reference, and it holds every number published, in order),
 * every close any client saw was the drain's 1012 (none for a limit: no 4429/1013, none abrupt), no
 * stream had to be reported unrecoverable, and each instance's event-loop lag p99 stayed under
 * LAG_BOUND_S.
 */

const RECONNECT = { minDelayMs: 50, maxDelayMs: 500 };
/** The bound on each instance life's event-loop lag p99 (prom-client's `nodejs_eventloop_lag_p99_seconds`). */
const LAG_BOUND_S = 0.2;
/** Long enough for every frame in flight to have arrived: exact counts are checked after it. */
const QUIET_MS = 500;
/** Publishing pace: chat, scheduler and notify every 20 ms; a checkpoint every 60 ms (under the default 20 frames/s per connection). */
const REST_INTERVAL_MS = 20;
const CHECKPOINT_INTERVAL_MS = 60;
const COUNTS = { chat: 40, scheduler: 20, notify: 10, checkpoint: 10 };

const tag = `rr${process.pid}`;
const ROOM = `channel:${(process.pid % 100_000) * 10 + 7}`;
const PROJECT = `p-${tag}`;
const EXPERIMENT = `exp-${tag}`;
const CHECKPOINT_OWNER = `${tag}-cp-owner`;
const NOTIFY_TYPE = 'rr_tick';

// ---------------------------------------------------------------------------------------------
// The instances: `node dist/main.js`, restarted on the same port.

class Instance {
  life = 0;
  /**
   * Healthy once, and not yet exited: the publisher uses it, while it drains too (a balancer's view
   * lags; an instance's REST API answers until its drain ends, then refuses connections).
   */
  running = false;
  app?: StandaloneProcess;
  /** `nodejs_eventloop_lag_p99_seconds` (and the max) of each life, read at its end. */
  readonly lags: Array<{ life: number; p99: number; max: number }> = [];

  constructor(
    readonly name: string,
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {}

  get id(): string {
    return `${tag}-${this.name}.${this.life}`;
  }

  /** Starts the next life on the port, and waits until it is healthy on Redis. */
  async start(): Promise<void> {
    this.life++;
    // The port is free again once the last life exited; should a connection of this machine have
    // taken it as its local port meanwhile, the start is tried again (the port, not the life, is the point).
    for (let attempt = 1; ; attempt++) {
      const app = runStandalone({
        NO_COLOR: '1',
        PORT: String(this.port),
        HOST: '127.0.0.1',
        JWT_SECRET: TEST_SECRET,
        WS_ADMIN_TOKEN: ADMIN_TOKEN,
        WS_INSTANCE_ID: this.id,
        ...this.env,
      });
      this.app = app;
      let exited: number | null | undefined;
      void app.exited.then((code) => {
        exited = code;
        this.running = false;
      });
      await eventually(
        async () => {
          if (exited !== undefined) return true;
          const health = await request(this.port, 'GET', '/ws/health').catch(() => undefined);
          return health?.status === 200 && (JSON.parse(health.text) as { redis: string }).redis === 'up';
        },
        30_000,
        () => `${this.id} healthy; output:\n${app.output().slice(-2000)}`,
      );
      if (exited === undefined) break;
      if (!app.output().includes('EADDRINUSE') || attempt === 20) {
        throw new Error(`${this.id} exited with ${exited}:\n${app.output().slice(-2000)}`);
      }
      await sleep(250);
    }
    // A scrape resets prom-client's event-loop histogram: the life's figure leaves its start-up out.
    await this.scrape();
    this.running = true;
  }

  /** SIGTERM, and the exit: its code and how long the drain and shutdown took. */
  async stop(): Promise<{ code: number | null; ms: number }> {
    const app = this.app!;
    const startedAt = Date.now();
    app.child.kill('SIGTERM');
    const code = await app.exited;
    return { code, ms: Date.now() - startedAt };
  }

  /** The event-loop lag since the last scrape, recorded as this life's. */
  async recordLag(): Promise<void> {
    const text = await this.scrape();
    const value = (name: string): number => Number(new RegExp(`^${name} ([0-9.e+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
    this.lags.push({
      life: this.life,
      p99: value('nodejs_eventloop_lag_p99_seconds'),
      max: value('nodejs_eventloop_lag_max_seconds'),
    });
  }

  kill(): Promise<unknown> {
    if (!this.app || this.app.child.exitCode !== null || this.app.child.signalCode !== null) return Promise.resolve();
    this.app.child.kill('SIGKILL');
    return this.app.exited;
  }

  private async scrape(): Promise<string> {
    const { status, text } = await request(this.port, 'GET', '/metrics');
    expect(status).toBe(200);
    return text;
  }
}

// ---------------------------------------------------------------------------------------------
// The load balancer.

/**
 * Round robin, health-check-free: each new connection goes to the next instance; an instance that
 * refuses the TCP connect, drops it before answering, or answers the upgrade with HTTP 503 (a
 * draining one) is skipped for the next, the upgrade request replayed to it. Once an instance
 * answers otherwise, the bytes flow both ways untouched (a close frame is never lost: ends are
 * passed on, not cut).
 */
class RoundRobinProxy {
  port = 0;
  private turn = 0;
  readonly stats = { connections: 0, refusedConnects: 0, skipped503: 0, exhausted: 0 };
  /** The status line of every upgrade answer passed on to a client that was not a 101. */
  readonly refusals: string[] = [];
  readonly routed = new Map<number, number>();
  private readonly open = new Set<net.Socket>();
  private readonly server = net.createServer((client) => this.accept(client));

  constructor(private readonly ports: number[]) {}

  async listen(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as net.AddressInfo).port;
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async close(): Promise<void> {
    for (const socket of [...this.open]) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private track(socket: net.Socket): net.Socket {
    this.open.add(socket);
    socket.on('close', () => this.open.delete(socket));
    return socket;
  }

  private accept(client: net.Socket): void {
    this.stats.connections++;
    this.track(client);
    client.on('error', () => undefined);
    const first = this.turn++ % this.ports.length;
    const order = [...this.ports.slice(first), ...this.ports.slice(0, first)];
    // The upgrade request, kept until an instance takes it (a client sends nothing more before the 101).
    const request: Buffer[] = [];
    let upstream: net.Socket | undefined;
    const buffer = (chunk: Buffer): void => {
      request.push(chunk);
      upstream?.write(chunk);
    };
    client.on('data', buffer);
    client.on('close', () => upstream?.destroy());

    const attempt = (k: number): void => {
      upstream = undefined;
      if (client.destroyed) return;
      if (k === order.length) {
        this.stats.exhausted++;
        return void client.destroy();
      }
      const socket = this.track(net.connect(order[k], '127.0.0.1'));
      let head = Buffer.alloc(0);
      let connected = false;
      let settled = false;
      const next = (): void => {
        if (settled) return;
        settled = true;
        socket.destroy();
        attempt(k + 1);
      };
      const answered = (chunk: Buffer): void => {
        head = Buffer.concat([head, chunk]);
        if (head.length < 12) return;
        if (head.subarray(0, 12).toString('latin1') === 'HTTP/1.1 503') {
          this.stats.skipped503++;
          return next();
        }
        // Taken: from here on a plain pipe both ways.
        settled = true;
        const status = head.toString('latin1', 0, Math.max(0, head.indexOf('\r\n')));
        if (!status.startsWith('HTTP/1.1 101 ')) this.refusals.push(`${status} from :${order[k]}`);
        this.routed.set(order[k], (this.routed.get(order[k]) ?? 0) + 1);
        socket.off('data', answered);
        client.off('data', buffer);
        client.write(head);
        socket.pipe(client);
        client.pipe(socket);
        socket.on('error', () => client.destroy());
      };
      socket.on('error', () => {
        if (!connected) this.stats.refusedConnects++;
        next();
      });
      socket.on('close', next); // before an answer: the next instance
      socket.once('connect', () => {
        connected = true;
        if (settled) return;
        upstream = socket;
        for (const chunk of request) socket.write(chunk);
      });
      socket.on('data', answered);
    };
    attempt(0);
  }
}

// ---------------------------------------------------------------------------------------------
// The clients, and what they saw.

interface Watched {
  name: string;
  client: { disconnect(): void; connectionState: string };
  closes: Array<ConnectionEvents['close']>;
  opens: boolean[];
  recoveries: Array<ConnectionEvents['recovery']>;
  /** Refusals, server error frames, client errors: none may come. */
  problems: string[];
  /** What `ws` reported as errors on the client's sockets (an upgrade refused, a socket reset), for failure messages. */
  socketErrors: string[];
  /** The numbered events, as `<key>` in arrival order (offset:number, or an id). */
  got: string[];
}

const watched: Watched[] = [];
const publishing: Publisher[] = [];

/** The client `create` makes with a `ws` whose socket errors are recorded, and what it tells. */
function watch<C extends Watched['client'] & { on(event: any, listener: (payload: any) => void): unknown }>(
  name: string,
  create: (WebSocket: WebSocketConstructor) => C,
  refusals: string[],
): Watched & { client: C } {
  const socketErrors: string[] = [];
  const recording = function (url: string, protocols?: string | string[]) {
    const socket = new WebSocket(url, protocols);
    socket.on('error', (error) => socketErrors.push(error.message));
    return socket;
  } as unknown as WebSocketConstructor;
  const client = create(recording);
  const w = { name, client, closes: [], opens: [], recoveries: [], problems: [], socketErrors, got: [] } as Watched & {
    client: C;
  };
  client.on('close', (event: ConnectionEvents['close']) => w.closes.push(event));
  client.on('open', ({ reconnected }: ConnectionEvents['open']) => w.opens.push(reconnected));
  client.on('recovery', (event: ConnectionEvents['recovery']) => w.recoveries.push(event));
  client.on('error', ({ error }: ConnectionEvents['error']) => w.problems.push(`error: ${error.message}`));
  for (const event of refusals)
    client.on(event, (payload: unknown) => w.problems.push(`${event}: ${JSON.stringify(payload)}`));
  watched.push(w);
  return w;
}

const token = (sub: string) => (): string => hsToken({ sub, username: sub });

// ---------------------------------------------------------------------------------------------
// The publisher.

/** Acknowledged; certainly not stored (retry); or failed in a way that may have stored it (why). */
type Outcome = 'ok' | 'not sent' | { maybeStored: string };

/** One numbered event stream: 1, 2, 3… each sent until acknowledged, retried with the same number. */
class Publisher {
  /** The last number acknowledged. */
  last = 0;
  retries = 0;
  /** Numbers whose failed attempt may have been stored all the same (the answer lost): a retry may store them twice. */
  readonly maybeTwice = new Set<number>();
  /** Why each of those failed. */
  readonly maybeWhy: string[] = [];
  readonly failures: string[] = [];
  private stopped = false;
  private loop?: Promise<void>;

  constructor(
    readonly name: string,
    private readonly intervalMs: number,
    private readonly send: (n: number) => Promise<Outcome>,
  ) {}

  start(): void {
    publishing.push(this);
    this.loop = (async () => {
      for (let n = 1; !this.stopped; n++) {
        if (!(await this.publish(n))) return;
        this.last = n;
        await sleep(this.intervalMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  private async publish(n: number): Promise<boolean> {
    for (let attempt = 0; attempt < 100; attempt++) {
      let outcome: Outcome;
      try {
        outcome = await this.send(n);
      } catch (error) {
        this.failures.push(`${this.name} #${n}: ${(error as Error).message}`);
        return false;
      }
      if (outcome === 'ok') return true;
      if (typeof outcome === 'object') {
        this.maybeTwice.add(n);
        this.maybeWhy.push(`#${n} ${outcome.maybeStored}`);
      }
      this.retries++;
      await sleep(20);
    }
    this.failures.push(`${this.name} #${n}: not acknowledged after 100 attempts`);
    return false;
  }
}

/**
 * An admin request on a fresh connection: no keep-alive socket that may be stale after a restart on
 * the same port, and a failed connect (refused, reset) always means that nothing was sent.
 */
function request(
  port: number,
  method: 'GET' | 'POST',
  path: string,
  body?: object,
): Promise<{ status: number; text: string }> {
  const data = body === undefined ? '' : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const outgoing = http.request(
      {
        host: '127.0.0.1',
        port,
        path,
        method,
        agent: false,
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          ...(body !== undefined && {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(data),
          }),
        },
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => resolve({ status: response.statusCode!, text }));
        response.on('error', reject);
      },
    );
    outgoing.setTimeout(5000, () => outgoing.destroy(new Error('no answer within 5 s')));
    outgoing.on('error', reject);
    outgoing.end(data);
  });
}

// ---------------------------------------------------------------------------------------------
// The streams' own record.

interface Stored {
  offset: number;
  epoch: string;
  frame: Record<string, any>;
}

/** Every event of `stream` in Redis, in offset order (paged). */
async function history(port: number, gateway: string, stream: string): Promise<Stored[]> {
  const all: Stored[] = [];
  for (;;) {
    const since = all.length ? all[all.length - 1].offset : 0;
    const query = `stream=${encodeURIComponent(stream)}&gateway=${gateway}&since=${since}&limit=1000`;
    const { status, text } = await request(port, 'GET', `/ws/history?${query}`);
    expect(status).toBe(200);
    const events = (JSON.parse(text) as { events: Stored[] }).events;
    if (!events.length) return all;
    all.push(...events);
  }
}

/** What a stream's record says was stored: each number published once, in order; twice only where a retry may have done it. */
function expectEveryNumberOnceInOrder(numbers: number[], publisher: Publisher): void {
  expect(numbers.length).toBeGreaterThan(0);
  const counts = new Map<number, number>();
  for (const n of numbers) counts.set(n, (counts.get(n) ?? 0) + 1);
  expect([...counts.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: publisher.last }, (_, k) => k + 1));
  const twice = [...counts].filter(([n, count]) => count > 1 && !(count === 2 && publisher.maybeTwice.has(n)));
  expect(twice).toEqual([]);
  const backwards = numbers.flatMap((n, k) => (k > 0 && n < numbers[k - 1] ? [`${numbers[k - 1]} then ${n}`] : []));
  expect(backwards).toEqual([]);
}

// ---------------------------------------------------------------------------------------------

describe('a rolling restart of three instances (issue 26)', () => {
  const prefix = `rolling-${process.pid}:`;
  let redis: RedisServer;
  let instances: Instance[] = [];
  let proxy: RoundRobinProxy;

  beforeAll(async () => {
    // Four distinct ports: Redis's, and the instances' (each keeps its own across its restarts).
    const ports: number[] = [];
    while (ports.length < 4) {
      const port = await freePort();
      if (!ports.includes(port)) ports.push(port);
    }
    redis = new RedisServer(ports.shift()!);
    await redis.start();
    const env = {
      REDIS_URL: redis.url,
      WS_REDIS_PREFIX: prefix,
      WS_SHUTDOWN_DRAIN: '1',
      WS_SHUTDOWN_TIMEOUT: '10',
      // Big enough that each stream's whole record stays in Redis: it is the reference the clients are checked against.
      WS_HISTORY_SIZE: '10000',
      // The session takes a checkpoint every 60 ms for the whole test (the default bound is 1000).
      CHECKPOINT_MAX_PER_SESSION: '10000',
    };
    instances = ['a', 'b', 'c'].map((name, k) => new Instance(name, ports[k], env));
    await Promise.all(instances.map((instance) => instance.start()));
    proxy = await new RoundRobinProxy(ports).listen();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(publishing.splice(0).map((publisher) => publisher.stop()));
    for (const w of watched.splice(0)) w.client.disconnect();
    await proxy?.close();
    await Promise.all(instances.map((instance) => instance.kill()));
    await redis?.kill('SIGKILL');
  });

  it('SIGTERM, exit, start again, one after the other: every client gets every event once, in order; every close is the drain’s 1012; event-loop lag p99 stays under 200 ms', async () => {
    const startedAt = Date.now();
    const url = proxy.url;

    // Chat: one room.
    const chats = Array.from({ length: COUNTS.chat }, (_, k) => {
      const sub = `${tag}-chat-${k}`;
      const w = watch(
        `chat ${k}`,
        (WebSocket) => new ChatClient({ url, WebSocket, getToken: token(sub), reconnect: RECONNECT }),
        ['refused', 'serverError'],
      );
      w.client.on('message', (event) => {
        if (event.room === ROOM) w.got.push(`${event.offset}:${event.data.content}`);
      });
      return w;
    });
    // Scheduler: one project, half on its path (resumed from the query), half subscribed to it from /ws/user (resumed with `since`).
    const schedulers = Array.from({ length: COUNTS.scheduler }, (_, k) => {
      const sub = `${tag}-sched-${k}`;
      const w = watch(
        `scheduler ${k}`,
        (WebSocket) =>
          new SchedulerClient({
            url,
            WebSocket,
            getToken: token(sub),
            reconnect: RECONNECT,
            path: k % 2 ? `/ws/projects/${PROJECT}` : '/ws/user',
          }),
        ['refused', 'serverError'],
      );
      w.client.on('event', (event) => {
        if (event.type === 'experiment_progress') w.got.push(event.id);
      });
      return w;
    });
    // Notify: each its own client id; the publisher broadcasts.
    const notifies = Array.from({ length: COUNTS.notify }, (_, k) => {
      const sub = `${tag}-notify-${k}`;
      const w = watch(
        `notify ${k}`,
        (WebSocket) =>
          new NotifyClient({ url, WebSocket, getToken: token(sub), reconnect: RECONNECT, clientId: `${tag}-n${k}` }),
        ['serverError'],
      );
      w.client.on('message', (message) => {
        if (message.type === NOTIFY_TYPE && message.stream === 'broadcast') {
          w.got.push(`${message.offset}:${(message.content as { n: number }).n}`);
        }
      });
      return w;
    });
    // Checkpoint: the creator (the publisher of the session's events), and the session's subscribers (its owner too).
    const creator = watch(
      'checkpoint creator',
      (WebSocket) => new CheckpointClient({ url, WebSocket, getToken: token(CHECKPOINT_OWNER), reconnect: RECONNECT }),
      ['refused'],
    );
    const sessionId = await creator.client.createSession(`${tag} rolling restart`);
    const checkpoints = Array.from({ length: COUNTS.checkpoint }, (_, k) => {
      const w = watch(
        `checkpoint ${k}`,
        (WebSocket) =>
          new CheckpointClient({ url, WebSocket, getToken: token(CHECKPOINT_OWNER), reconnect: RECONNECT }),
        ['refused'],
      );
      w.client.on('event', (event) => {
        if (event.event_type === 'checkpoint_created') w.got.push(event.data.checkpoint_id!);
      });
      return w;
    });

    // Everyone in before the first event: each client is owed every event.
    await Promise.all([
      ...chats.map((w) => w.client.join(ROOM)),
      ...schedulers.map((w, k) => (k % 2 ? Promise.resolve() : w.client.subscribe('project', PROJECT))),
      ...checkpoints.map((w) => w.client.subscribe(sessionId)),
    ]);
    await eventually(
      () => watched.every((w) => w.client.connectionState === 'open'),
      20_000,
      () =>
        `every client open (not: ${watched
          .filter((w) => w.client.connectionState !== 'open')
          .map((w) => w.name)
          .join(', ')})`,
    );
    console.log(`rolling restart: ${watched.length} clients connected in ${Date.now() - startedAt} ms`);

    // The publisher: REST on the running instances in turn (draining ones too); the checkpoint creator for the session.
    let turn = 0;
    const rest = (path: string, body: (n: number) => object) => async (n: number) => {
      const running = instances.filter((instance) => instance.running);
      if (!running.length) return 'not sent' as const;
      const instance = running[turn++ % running.length];
      try {
        const { status, text } = await request(instance.port, 'POST', path, body(n));
        if (status === 200) return 'ok' as const;
        if (status === 503) return 'not sent' as const;
        throw new Error(`${path} on ${instance.id}: ${status} ${text}`);
      } catch (error) {
        // Refused or reset while connecting: the request never left.
        if ((error as NodeJS.ErrnoException).syscall === 'connect') return 'not sent' as const;
        if ((error as Error).message.startsWith(path)) throw error;
        // Reset or no answer: the request may have been handled.
        return { maybeStored: `${instance.id}: ${(error as Error).message}` };
      }
    };
    const publishers = {
      chat: new Publisher(
        'chat',
        REST_INTERVAL_MS,
        rest('/ws/publish', (n) => ({ room: ROOM, type: 'message', data: { content: String(n) } })),
      ),
      scheduler: new Publisher(
        'scheduler',
        REST_INTERVAL_MS,
        rest('/ws/publish', (n) => ({
          gateway: 'scheduler',
          type: 'experiment_progress',
          data: sampleExperimentProgress(EXPERIMENT, { seq: n }),
          scope: { experimentId: EXPERIMENT, projectId: PROJECT },
        })),
      ),
      notify: new Publisher(
        'notify',
        REST_INTERVAL_MS,
        rest('/ws/send-message', (n) => ({ type: NOTIFY_TYPE, content: { n } })),
      ),
      checkpoint: new Publisher('checkpoint', CHECKPOINT_INTERVAL_MS, async (n) => {
        try {
          await creator.client.checkpoint(sessionId, `cp-${n}`);
          return 'ok';
        } catch (error) {
          if (error instanceof CheckpointRpcError) throw error;
          // Lost with its connection, or no answer in time: the server may have stored it.
          return { maybeStored: (error as Error).message };
        }
      }),
    };
    for (const publisher of Object.values(publishers)) publisher.start();
    await eventually(() => Object.values(publishers).every((p) => p.last >= 10), 10_000, 'publishing under way');

    // The rolling restart.
    const exits: string[] = [];
    for (const instance of instances) {
      await instance.recordLag();
      const before = instance.id;
      const { code, ms } = await instance.stop();
      exits.push(`${before} exited ${code} after ${ms} ms`);
      expect(code).toBe(0); // the drain and shutdown finished within WS_SHUTDOWN_TIMEOUT (past it: exit 1)
      await instance.start();
    }
    // Published meanwhile: a while on the restarted ones too.
    const published = Object.values(publishers).map((p) => p.last);
    await eventually(
      () => Object.values(publishers).every((p, k) => p.last >= published[k] + 10),
      10_000,
      'publishing after the restart',
    );
    for (const publisher of Object.values(publishers)) await publisher.stop();
    expect(Object.values(publishers).flatMap((p) => p.failures)).toEqual([]);

    // Quiet: every client has the last event of its stream (so Redis has every event), then a while more.
    const last = {
      chat: `:${publishers.chat.last}`,
      notify: `:${publishers.notify.last}`,
    };
    const records = async () => {
      const port = instances.find((instance) => instance.running)!.port;
      return {
        chat: (await history(port, 'chat', ROOM)).filter((e) => e.frame.type === 'message'),
        scheduler: await history(port, 'scheduler', `project:${PROJECT}`),
        notify: (await history(port, 'notify', 'broadcast')).filter((e) => e.frame.type === NOTIFY_TYPE),
        checkpoint: await creator.client.listCheckpoints(sessionId),
      };
    };
    await eventually(
      () =>
        chats.every((w) => w.got[w.got.length - 1]?.endsWith(last.chat)) &&
        notifies.every((w) => w.got[w.got.length - 1]?.endsWith(last.notify)),
      20_000,
      () => `the last events (${watched.map((w) => `${w.name}: ${w.got.slice(-1).join()}`).join('; ')})`,
    );
    let record = await records();
    const lastScheduler = record.scheduler.findLast((e) => e.frame.data.seq === publishers.scheduler.last);
    expect(lastScheduler).toBeDefined();
    const lastCheckpoint = record.checkpoint[record.checkpoint.length - 1].id;
    await eventually(
      () =>
        schedulers.every((w) => w.got.includes(lastScheduler!.frame.id)) &&
        checkpoints.every((w) => w.got.includes(lastCheckpoint)),
      20_000,
      'the last scheduler and checkpoint events',
    );
    await sleep(QUIET_MS);
    record = await records();
    for (const instance of instances) await instance.recordLag();

    const numbers = {
      chat: record.chat.map((e) => Number(e.frame.data.content)),
      scheduler: record.scheduler.map((e) => e.frame.data.seq as number),
      notify: record.notify.map((e) => (e.frame.content as { n: number }).n),
      checkpoint: record.checkpoint.map((c) => Number(c.message.slice('cp-'.length))),
    };
    const lags = instances.flatMap((instance) =>
      instance.lags.map((lag) => ({ instance: `${instance.name}.${lag.life}`, ...lag })),
    );
    console.log(
      [
        `rolling restart: ${watched.length} clients, ${Date.now() - startedAt} ms in all`,
        `  published: ${Object.values(publishers)
          .map(
            (p) => `${p.name} ${p.last} (retries ${p.retries}, maybe stored twice: ${p.maybeWhy.join('; ') || 'none'})`,
          )
          .join(', ')}`,
        `  stored: ${Object.entries(numbers)
          .map(([name, list]) => `${name} ${list.length} (twice: ${twiceIn(list).join(', ') || 'none'})`)
          .join(', ')}`,
        `  ${exits.join('; ')}`,
        `  closes seen: ${watched.reduce((sum, w) => sum + w.closes.length, 0)} (codes ${[...new Set(watched.flatMap((w) => w.closes.map((c) => c.code)))].join(', ')}), per client at most ${Math.max(...watched.map((w) => w.closes.length))}`,
        `  proxy: ${JSON.stringify(proxy.stats)}, routed ${JSON.stringify(Object.fromEntries(proxy.routed))}, refusals passed on ${JSON.stringify(proxy.refusals)}`,
        `  event-loop lag p99 / max (s): ${lags.map((l) => `${l.instance} ${l.p99.toFixed(4)} / ${l.max.toFixed(4)}`).join(', ')}`,
      ].join('\n'),
    );
    // The streams' record: every number once (twice only where a lost answer made a retry do it), in order, one epoch.
    for (const name of ['chat', 'scheduler', 'notify', 'checkpoint'] as const) {
      expectEveryNumberOnceInOrder(numbers[name], publishers[name]);
    }
    for (const stream of [record.chat, record.scheduler, record.notify]) {
      expect(new Set(stream.map((e) => e.epoch)).size).toBe(1);
    }

    // Every client: exactly that record, in its order.
    const expected = {
      chat: record.chat.map((e) => `${e.offset}:${e.frame.data.content}`),
      scheduler: record.scheduler.map((e) => e.frame.id as string),
      notify: record.notify.map((e) => `${e.offset}:${(e.frame.content as { n: number }).n}`),
      checkpoint: record.checkpoint.map((c) => c.id),
    };
    const wrong = (ws: Watched[], list: string[]) =>
      ws.filter((w) => JSON.stringify(w.got) !== JSON.stringify(list)).map((w) => `${w.name}: ${diff(w.got, list)}`);
    expect(wrong(chats, expected.chat)).toEqual([]);
    expect(wrong(schedulers, expected.scheduler)).toEqual([]);
    expect(wrong(notifies, expected.notify)).toEqual([]);
    expect(wrong(checkpoints, expected.checkpoint)).toEqual([]);

    // Closes: each client was on one of the three original instances, so it saw at least one; each was the drain's.
    // A stopping instance refuses upgrades with 503 (the proxy then tries the next) until it stops listening; any
    // other answer (a 404 once its drain is over, say) is passed on, and the client's connect fails (1006).
    expect(proxy.refusals).toEqual([]);
    const unexpected = watched.flatMap((w) =>
      w.closes
        .filter((close) => close.code !== 1012 || !close.willReconnect)
        .map((close) => `${w.name}: ${close.code} ${close.reason} (socket errors: ${w.socketErrors.join('; ')})`),
    );
    expect(unexpected).toEqual([]);
    expect(watched.filter((w) => w.closes.length === 0).map((w) => w.name)).toEqual([]);
    expect(watched.flatMap((w) => w.problems.map((problem) => `${w.name}: ${problem}`))).toEqual([]);
    // Every reconnect resumed, and nothing had to be reported lost.
    expect(
      watched.flatMap((w) => w.recoveries.filter((r) => !r.recovered).map((r) => `${w.name} ${r.stream}`)),
    ).toEqual([]);
    // Each close was followed by a reconnect that the gateway welcomed.
    expect(watched.filter((w) => w.opens.filter(Boolean).length !== w.closes.length).map((w) => w.name)).toEqual([]);
    expect(proxy.stats.exhausted).toBe(0);

    // Each life's figure was read (a NaN would be a metric gone) and is under the bound.
    expect(lags).toHaveLength(6);
    expect(lags.filter((lag) => !(lag.p99 < LAG_BOUND_S))).toEqual([]);
  }, 90_000);
});

/** The numbers a stream's record holds more than once. */
function twiceIn(numbers: number[]): number[] {
  return numbers.filter((n, k) => numbers.indexOf(n) !== k);
}

/** Where a client's list first differs from the record, for the failure message. */
function diff(got: string[], want: string[]): string {
  let k = 0;
  while (k < got.length && k < want.length && got[k] === want[k]) k++;
  return `${got.length} events, ${want.length} expected; first difference at ${k}: got ${JSON.stringify(got.slice(k, k + 3))}, expected ${JSON.stringify(want.slice(k, k + 3))}`;
}
