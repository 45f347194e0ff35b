// One server of the side-by-side benchmark, in its own process, driven by its parent over IPC:
//   node bench/compare/server.mjs ws|socketio|app
// Every kind keeps rooms of sockets and sends one JSON event to a room, to many rooms, or (a
// scheduler task event) to the subscribers of a task, its experiment and its project, each once.
// The parent asks for publishes (back to back, one, or at a steady rate with the send time in the
// payload) and for the process's own CPU time, memory and connection count. Options come from the
// environment: BENCH_HEARTBEAT_MS (peers' heartbeat sweeps), BENCH_REDIS_URL and BENCH_REDIS_KEY
// (Socket.IO's Redis adapter; bare `ws` over Redis pub/sub), BENCH_RECOVERY=1 (Socket.IO's connection
// state recovery, on its Redis streams adapter, the one that keeps sessions in Redis); the app reads
// its own variables (REDIS_URL, WS_HEARTBEAT_INTERVAL, WS_SHUTDOWN_DRAIN, …). SIGTERM stops a server
// the way its users would: the app through its shutdown hooks (the drain), Socket.IO with
// `io.close()` (each socket's session kept for recovery), bare `ws` at once.
import { createServer } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { serve } from './child.mjs';

const kind = process.argv[2];
const PAYLOAD_PAD = 'x'.repeat(Number(process.env.PAYLOAD_BYTES ?? 64));
const HEARTBEAT_MS = Number(process.env.BENCH_HEARTBEAT_MS ?? 0);

/** Milliseconds since the epoch, comparable across the processes of one machine. */
const now = () => performance.timeOrigin + performance.now();

/** What a peer sends for a scheduler task event: seed 001's frame, as the app builds it. */
function taskFrame({ taskId, experimentId }, data) {
  const at = Date.now();
  return {
    type: 'task_progress',
    id: `task_${taskId}_${Math.floor(at / 1000)}`,
    timestamp: new Date(at).toISOString(),
    data: {
      taskId,
      experimentId,
      status: 'RUNNING',
      progressPercent: data.seq % 100,
      ...data,
      lastUpdated: new Date(at).toISOString(),
    },
  };
}

const listening = (http) => new Promise((resolve) => http.listen(0, '127.0.0.1', () => resolve(http.address().port)));

/**
 * Each kind: listen on a free port; `toRoom(room, data)` sends one event to every member of `room`,
 * `toTask(task, data)` one task event to the subscribers of `task:`, `experiment:` and `project:`.
 */
const kinds = {
  async ws() {
    const { WebSocketServer } = await import('ws');
    const http = createServer();
    const wss = new WebSocketServer({ server: http, perMessageDeflate: false, clientTracking: HEARTBEAT_MS > 0 });
    const rooms = new Map();
    const members = (room) => rooms.get(room) ?? rooms.set(room, new Set()).get(room);
    let connections = 0;
    wss.on('connection', (socket, request) => {
      const room = new URL(request.url, 'ws://x').searchParams.get('room');
      members(room).add(socket);
      connections++;
      socket.alive = true;
      socket.on('pong', () => (socket.alive = true));
      socket.on('close', () => {
        members(room).delete(socket);
        connections--;
      });
    });
    if (HEARTBEAT_MS > 0) {
      // The heartbeat of ws's README: a ping per sweep, terminated if the last one got no pong.
      setInterval(() => {
        for (const socket of wss.clients) {
          if (!socket.alive) socket.terminate();
          socket.alive = false;
          socket.ping();
        }
      }, HEARTBEAT_MS).unref();
    }
    const send = (room, json) => {
      for (const socket of members(room)) socket.send(json);
    };
    // With BENCH_REDIS_URL, a room's events go through Redis pub/sub (one channel per room, as
    // ioredis users do it by hand): the floor of a cross-instance hop, with no adapter on it.
    let deliver = send;
    if (process.env.BENCH_REDIS_URL) {
      const { Redis } = await import('ioredis');
      const pub = new Redis(process.env.BENCH_REDIS_URL);
      const sub = pub.duplicate();
      const prefix = `${process.env.BENCH_REDIS_KEY ?? 'bench'}:`;
      await sub.psubscribe(`${prefix}*`);
      sub.on('pmessage', (_pattern, channel, json) => send(channel.slice(prefix.length), json));
      deliver = (room, json) => void pub.publish(prefix + room, json);
    }
    return {
      port: await listening(http),
      connections: () => connections,
      toRoom(room, data) {
        deliver(room, JSON.stringify({ type: 'message', room, data, timestamp: new Date().toISOString() }));
      },
      toTask(task, data) {
        const json = JSON.stringify(taskFrame(task, data));
        const sent = new Set();
        for (const room of [`task:${task.taskId}`, `experiment:${task.experimentId}`, `project:${task.projectId}`]) {
          for (const socket of members(room)) {
            if (sent.has(socket)) continue;
            sent.add(socket);
            socket.send(json);
          }
        }
      },
    };
  },

  async socketio() {
    const { Server } = await import('socket.io');
    const http = createServer();
    const heartbeat = HEARTBEAT_MS > 0 ? { pingInterval: HEARTBEAT_MS, pingTimeout: 2 * HEARTBEAT_MS } : {};
    const recovery = process.env.BENCH_RECOVERY === '1';
    const io = new Server(http, {
      transports: ['websocket'],
      perMessageDeflate: false,
      serveClient: false,
      ...heartbeat,
      ...(recovery && { connectionStateRecovery: { maxDisconnectionDuration: 120_000, skipMiddlewares: true } }),
    });
    let redis;
    if (process.env.BENCH_REDIS_URL) {
      const { Redis } = await import('ioredis');
      redis = new Redis(process.env.BENCH_REDIS_URL);
      const key = process.env.BENCH_REDIS_KEY ?? 'socket.io';
      if (recovery) {
        const { createAdapter } = await import('@socket.io/redis-streams-adapter');
        io.adapter(createAdapter(redis, { streamName: key, sessionKeyPrefix: `${key}:session:` }));
      } else {
        const { createAdapter } = await import('@socket.io/redis-adapter');
        io.adapter(createAdapter(redis, redis.duplicate(), { key }));
      }
    }
    io.on('connection', (socket) => {
      if (!socket.recovered) socket.join(String(socket.handshake.query.room));
    });
    process.once('SIGTERM', () => {
      // Every socket's session is written (SET) before the close returns; the PING answers after them.
      io.close();
      void Promise.resolve(redis?.ping()).finally(() => process.exit(0));
    });
    return {
      port: await listening(http),
      connections: () => io.engine.clientsCount,
      toRoom(room, data) {
        io.to(room).emit('message', { type: 'message', room, data, timestamp: new Date().toISOString() });
      },
      toTask(task, data) {
        // Rooms given together: each socket gets the event once.
        const rooms = [`task:${task.taskId}`, `experiment:${task.experimentId}`, `project:${task.projectId}`];
        io.to(rooms).emit('message', taskFrame(task, data));
      },
    };
  },

  async app() {
    // The standalone app as `npm start` runs it (NODE_ENV=production, logging on; the bus as configured).
    await import('reflect-metadata');
    const { NestFactory } = await import('@nestjs/core');
    const { AppModule } = await import('../../dist/app.module.js');
    const { BatchingConsoleLogger, ChatPublisher, ConnectionRegistry, RealtimeWsAdapter, SchedulerPublisher } =
      await import('../../dist/realtime/index.js');
    const app = await NestFactory.create(AppModule, { logger: new BatchingConsoleLogger('Realtime') });
    app.useWebSocketAdapter(new RealtimeWsAdapter(app));
    app.enableShutdownHooks(['SIGTERM']);
    await app.listen(0, '127.0.0.1');
    const chat = app.get(ChatPublisher);
    const scheduler = app.get(SchedulerPublisher);
    const registry = app.get(ConnectionRegistry);
    return {
      port: app.getHttpServer().address().port,
      connections: () => registry.size,
      toRoom(room, data) {
        chat.message(room, data);
      },
      toTask({ taskId, experimentId, projectId }, data) {
        scheduler.taskProgress(
          { taskId, experimentId, status: 'RUNNING', progressPercent: data.seq % 100, ...data },
          { projectId },
        );
      },
    };
  },
};

/** A publish target: `{room}`, `{rooms}` (the event to each) or `{task: {taskId, experimentId, projectId}}`. */
function publish(server, target, seq, sent) {
  const data = sent === undefined ? { seq, pad: PAYLOAD_PAD } : { seq, sent, pad: PAYLOAD_PAD };
  if (target.task) server.toTask(target.task, data);
  else if (target.rooms) for (const room of target.rooms) server.toRoom(room, data);
  else server.toRoom(target.room, data);
}

/**
 * `perSecond` × `seconds` events at a steady rate: each timer tick publishes the events due by then
 * (a tick is at least 1 ms), each with its send time. Resolves with when publishing started and ended.
 */
function atRate(server, target, perSecond, seconds) {
  const total = Math.round(perSecond * seconds);
  const startedAt = now();
  let seq = 0;
  return new Promise((resolve) => {
    const tick = () => {
      const due = Math.min(total, Math.floor(((now() - startedAt) * perSecond) / 1000) + 1);
      while (seq < due) publish(server, target, seq++, now());
      if (seq < total) return;
      clearInterval(timer);
      resolve({ published: total, startedAt, endedAt: now() });
    };
    const timer = setInterval(tick, Math.max(1, Math.floor(1000 / perSecond)));
    tick();
  });
}

/** The server, listening; commands that arrive before it is wait for it. */
const ready = kinds[kind]();
let server;
/** Event-loop delay since the last `usage` asked for it. */
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();
/** The steady publisher's timer and how many events it sent. */
let steady;

const commands = {
  listen: () => ({ port: server.port }),
  burst({ target, events }) {
    // Back to back, in one turn.
    for (let seq = 0; seq < events; seq++) publish(server, target, seq);
  },
  one({ target, seq }) {
    publish(server, target, seq);
  },
  rate: ({ target, perSecond, seconds }) => atRate(server, target, perSecond, seconds),
  /** Publishes `perSecond` events (seq 0, 1, …) until `stopSteady`, which answers how many. */
  startSteady({ target, perSecond }) {
    steady = { published: 0 };
    steady.timer = setInterval(() => publish(server, target, steady.published++), 1000 / perSecond);
    return {};
  },
  stopSteady() {
    clearInterval(steady.timer);
    return { published: steady.published };
  },
  usage({ gc }) {
    if (gc) global.gc?.();
    const delay = { p99Ms: lag.percentile(99) / 1e6, maxMs: lag.max / 1e6 };
    lag.reset();
    return { cpu: process.cpuUsage(), rss: process.memoryUsage.rss(), connections: server.connections(), lag: delay };
  },
  /** A heap snapshot written to `path` (what the idle connections keep, for `retainers`-style reading). */
  async snapshot({ path }) {
    const { writeHeapSnapshot } = await import('node:v8');
    global.gc?.();
    return { path: writeHeapSnapshot(path) };
  },
  exit: () => process.exit(0),
};

serve(commands, async () => {
  server ??= await ready;
});
