// What the scenarios of the side-by-side benchmark share: the processes they start (each killed when
// the run ends, fails or is interrupted), requests to them with deadlines, the servers under test and
// the client processes that drive them.
import { fork } from 'node:child_process';

export const QUICK = process.env.BENCH_QUICK === '1';
export const SECRET = 'bench-compare-secret-0123456789-0123456789';
/** The peers this app is compared with, then this app. */
export const KINDS = ['ws', 'socketio', 'app'];
export const PEERS = ['ws', 'socketio'];

/** This app as `npm start` runs it, with the limits a benchmark would hit lifted. */
export const APP_ENV = {
  NODE_ENV: 'production',
  JWT_SECRET: SECRET,
  REDIS_URL: '',
  REDIS_CLUSTER_NODES: '',
  CHAT_MAX_CONNECTIONS_PER_USER: '100000',
  SCHEDULER_MAX_CONNECTIONS_PER_USER: '100000',
  SCHEDULER_MAX_CONNECTIONS_PER_IP: '100000',
  SCHEDULER_MAX_CONNECTIONS: '100000',
  WS_RATE_LIMIT_PER_SEC: '100000',
  WS_MAX_PENDING_UPGRADES_PER_IP: '100000',
  WS_MAX_PENDING_UPGRADES: '100000',
};

/**
 * BENCH_CPU_PROF=dir: each server runs under `node --cpu-prof` and, asked to end, exits by itself so
 * that its profile (what bounds a figure) is written to `dir`.
 */
const CPU_PROF_DIR = process.env.BENCH_CPU_PROF;

/** Every process this run started and has not ended yet. */
const running = new Set();

/** Ends every process this run started (they also exit when their IPC channel closes). */
export function killAll() {
  for (const child of running) if (!child.profiled) child.kill('SIGKILL');
  running.clear();
}
process.on('exit', killAll);

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
export const seconds = (since) => Number(process.hrtime.bigint() - since) / 1e9;

/** Resolves with `promise`, or rejects after `ms` with "`what` … within N s". */
export function deadline(promise, ms, what) {
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out: ${what} did not happen within ${ms / 1000} s`)), ms);
  });
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer));
}

/**
 * A forked process driven by requests: `ask(command)` sends `{...command, id}` and resolves with the
 * child's `{id, ...}` reply (rejects on its `{id, error}`, on a deadline, or when the child exits).
 */
export function spawn(name, script, args, env, profiled = false) {
  const child = fork(script, args, {
    env: { ...process.env, ...env, BENCH_JWT_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    execArgv: ['--expose-gc', ...(profiled ? ['--cpu-prof', `--cpu-prof-dir=${CPU_PROF_DIR}`] : [])],
  });
  child.profiled = profiled;
  running.add(child);
  // Logs are read and dropped, as a log shipper would: a pipe, not a file.
  child.stdout.resume();
  child.stderr.on('data', (data) => process.stderr.write(`[${name}] ${data}`));
  const pending = new Map();
  let nextId = 0;
  let exited;
  child.on('message', (message) => {
    const request = pending.get(message.id);
    if (!request) return;
    pending.delete(message.id);
    if (message.error) request.reject(new Error(`${name}: ${message.error}`));
    else request.resolve(message);
  });
  child.on('exit', (code, signal) => {
    running.delete(child);
    exited = new Error(`${name} exited (${signal ?? `code ${code}`})`);
    for (const request of pending.values()) request.reject(exited);
    pending.clear();
  });
  return {
    name,
    ask(command, timeoutMs = 60_000) {
      if (exited) return Promise.reject(exited);
      const id = ++nextId;
      const reply = new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
      child.send({ ...command, id });
      return deadline(reply, timeoutMs, `${name}'s answer to ${command.cmd}`).finally(() => pending.delete(id));
    },
    /** Sends `command` without waiting for an answer (what a publish costs the server, and no more). */
    tell(command) {
      if (!exited) child.send(command);
    },
    kill() {
      // A profiled server exits by itself when its channel closes, writing its profile.
      if (!profiled) child.kill('SIGKILL');
      else if (child.connected) child.disconnect();
      running.delete(child);
    },
    /** Sends `signal` (the process stops as it was written to); resolves once it has exited. */
    stop(signal) {
      if (exited) return Promise.resolve();
      const ended = new Promise((resolve) => child.once('exit', resolve));
      child.kill(signal);
      return ended;
    },
  };
}

/**
 * A server under test in its own process (`kind`: ws, socketio or app; `env` configures it), with
 * `usage()`: its own CPU time (µs), RSS, connection count and event-loop delay since the last
 * `usage()` (`lag`: p99 and max ms), after a full GC unless `gc` is false.
 */
export async function startServer(kind, env = {}, name = kind) {
  const server = spawn(
    `server ${name}`,
    'bench/compare/server.mjs',
    [kind],
    kind === 'app' ? { ...APP_ENV, ...env } : env,
    Boolean(CPU_PROF_DIR),
  );
  const { port } = await server.ask({ cmd: 'listen' }, 120_000);
  return {
    ...server,
    port,
    async usage(gc = true) {
      const { cpu, rss, connections, lag } = await server.ask({ cmd: 'usage', gc });
      return { cpuUs: cpu.user + cpu.system, rss, connections, lag };
    },
  };
}

/** CPU microseconds `server` spent between two `usage()` samples. */
export const cpuBetween = (before, after) => after.cpuUs - before.cpuUs;

/**
 * `processes` client processes (bench/compare/clients.mjs). `open(spec)` opens `spec.count`
 * connections spread over them (each process its share, at the same time; resolves with the slowest
 * one's connect time); `expect(events)` then `delivered(what)` wait until every armed socket has
 * its events (throws, with what arrived, if they do not within the deadline).
 */
export function startClients(processes = 2) {
  const all = Array.from({ length: processes }, (_, i) => spawn(`clients ${i + 1}`, 'bench/compare/clients.mjs', []));
  const each = (command, timeoutMs) => Promise.all(all.map((client) => client.ask(command, timeoutMs)));
  return {
    async open(spec) {
      const share = Math.ceil(spec.count / all.length);
      const opened = await Promise.all(
        all.map((client, i) => {
          const count = Math.max(0, Math.min(share, spec.count - i * share));
          return client.ask({ cmd: 'open', ...spec, count, first: i * share }, 60_000 + count * 20);
        }),
      );
      // Joins after every process's connects, so that they do not slow the connects being timed. The
      // app's first joins each announce user_joined to the room: O(n²) frames at 5,000 members.
      await each({ cmd: 'joinOpened' }, 60_000 + share * 100);
      return { count: spec.count, connectSeconds: Math.max(...opened.map((reply) => reply.ms)) / 1000 };
    },
    /** Arms `groups` (all when omitted) to receive `events` each (`atLeast`: more are no error). */
    expect: (events, { groups, atLeast } = {}) => each({ cmd: 'expect', events, groups, atLeast }),
    async delivered(what, timeoutMs = 60_000) {
      try {
        await each({ cmd: 'delivered' }, timeoutMs);
      } catch (error) {
        const tally = await this.tally().catch(() => undefined);
        const detail = tally
          ? `: ${tally.received} of ${tally.expected} deliveries arrived, ${tally.open} sockets open`
          : '';
        throw new Error(`${what}${detail} (${error.message})`);
      }
    },
    /** Throws if, since the last check, a socket got more events than it was armed for, or one closed. */
    async verify(what, sockets) {
      await sleep(100);
      const tally = await this.tally();
      if (tally.extra > 0) throw new Error(`${what}: ${tally.extra} deliveries more than published (duplicates)`);
      if (sockets !== undefined && tally.open !== sockets) {
        throw new Error(`${what}: ${sockets - tally.open} of ${sockets} connections closed`);
      }
    },
    /** Deliveries armed and received since the last `expect`, extras since the last tally, sockets open. */
    async tally() {
      const tallies = await each({ cmd: 'tally' });
      const sum = (field) => tallies.reduce((total, tally) => total + tally[field], 0);
      return {
        received: sum('received'),
        expected: sum('expected'),
        extra: sum('extra'),
        open: sum('open'),
        pings: sum('pings'),
      };
    },
    /** The latencies (ms) the latency-recording sockets saw since the last `expect`, in arrival order. */
    async latencies() {
      const replies = await each({ cmd: 'latencies' }, 120_000);
      return {
        samples: replies.flatMap((reply) => reply.samples),
        lastArrival: Math.max(...replies.map((reply) => reply.lastArrival)),
      };
    },
    ask: (index, command, timeoutMs) => all[index].ask(command, timeoutMs),
    async close() {
      await Promise.allSettled(all.map((client) => client.ask({ cmd: 'close' }, 10_000)));
      for (const client of all) client.kill();
    },
  };
}

/**
 * Publish-and-deliver rounds: each arms the clients for `events` each, runs `publish` and waits until
 * every socket has them. Returns the server CPU (µs) and wall-clock seconds they took.
 */
export async function timedRounds(server, clients, rounds, what) {
  const before = await server.usage();
  const started = process.hrtime.bigint();
  for (const { events, publish } of rounds) {
    await clients.expect(events);
    publish();
    await clients.delivered(what);
  }
  const wall = seconds(started);
  const after = await server.usage();
  await clients.verify(what);
  return { cpuUs: cpuBetween(before, after), seconds: wall };
}

/** The `q` quantile (0…1) of sorted `values`. */
export function quantile(sorted, q) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** p50, p99 and max of `values` (unsorted). */
export function percentiles(values) {
  const sorted = Float64Array.from(values).sort();
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1] ?? NaN };
}
