// Redis for the test run: the private redis-server processes the tests start, and the bookkeeping that
// lets the Jest globalSetup/globalTeardown and every test file (each evaluated afresh) share them.
// Plain ESM JavaScript so that globalSetup can also be run with `node` alone; types in redis-infra.d.mts.
import { spawn } from 'node:child_process';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** Set by globalSetup: the URL of the Redis every test shares (`REDIS_URL`, or the private one). */
export const TEST_REDIS_URL_ENV = 'TEST_REDIS_URL';
/** Set by globalSetup: the run's temp directory (pid files of started servers, the shared cluster's state). */
export const TEST_REDIS_RUN_DIR_ENV = 'TEST_REDIS_RUN_DIR';

export const REDIS_SERVER_MISSING =
  'redis-server not found on PATH: install it (apt-get install redis-server, brew install redis) or set REDIS_URL to a running Redis';
const REDIS_CLI_MISSING =
  'redis-cli not found on PATH: install it with redis-server (apt-get install redis-server, brew install redis)';

/** An error whose whole report is its one-line message (Jest prints `stack` when globalSetup throws). */
export class RedisSetupError extends Error {
  constructor(message) {
    super(message);
    this.name = 'RedisSetupError';
    this.stack = message;
  }
}

/** The absolute path of executable `name` on `searchPath` (default: PATH), or undefined. */
export function which(name, searchPath = process.env.PATH ?? '') {
  for (const dir of searchPath.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      if (statSync(file).isFile()) return file;
    } catch {
      /* not here */
    }
  }
  return undefined;
}

function redisServerBinary() {
  const binary = which('redis-server');
  if (!binary) throw new RedisSetupError(REDIS_SERVER_MISSING);
  return binary;
}

/** `redis://user:secret@host` → `redis://user:***@host`, for messages. */
export function redactUrl(url) {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/** Polls `check` until it returns true; throws after `timeoutMs`, or at once if `check` throws. */
export async function waitFor(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

/** A TCP port that was free a moment ago (bind port 0, close, use it). */
export async function freePort(host = '127.0.0.1') {
  const server = createServer();
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, resolve);
  });
  const { port } = server.address();
  await new Promise((resolve) => server.close(() => resolve()));
  return port;
}

function canBind(port, host = '127.0.0.1') {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/**
 * A free port for a cluster node: a node also listens on port + 10000 (its cluster bus), so that one
 * must exist (≤ 65535) and be free too. Works with Redis 6 (no `cluster-port` option) as well as 7.
 */
async function freeClusterPort(taken) {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = await freePort();
    if (port > 55535 || taken.has(port) || taken.has(port + 10000)) continue;
    if (await canBind(port + 10000)) return port;
  }
  throw new Error('found no free port pair (port, port + 10000) for a cluster node');
}

/** Sends one command over RESP and resolves its reply (simple string, integer or bulk string). */
export function redisCommand(port, args, { host = '127.0.0.1', timeoutMs = 1000 } = {}) {
  return new Promise((resolve, reject) => {
    const socket = connect(port, host);
    let buffer = Buffer.alloc(0);
    const finish = (error, value) => {
      socket.destroy();
      if (error) reject(error);
      else resolve(value);
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`no reply from ${host}:${port} within ${timeoutMs} ms`)));
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error(`${host}:${port} closed the connection`)));
    socket.on('connect', () =>
      socket.write(`*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`),
    );
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk]);
      const end = buffer.indexOf('\r\n');
      if (end < 0) return;
      const head = buffer.subarray(0, end).toString();
      const rest = head.slice(1);
      switch (head[0]) {
        case '+':
          return finish(null, rest);
        case '-':
          return finish(new Error(rest));
        case ':':
          return finish(null, Number(rest));
        case '$': {
          const length = Number(rest);
          if (length < 0) return finish(null, null);
          if (buffer.length < end + 2 + length) return;
          return finish(null, buffer.subarray(end + 2, end + 2 + length).toString());
        }
        default:
          return finish(new Error(`unexpected reply ${JSON.stringify(head)}`));
      }
    });
  });
}

/** True once a Redis on `port` answers PING with PONG. */
export function pingRedis(port, host = '127.0.0.1') {
  return redisCommand(port, ['PING'], { host, timeoutMs: 500 }).then(
    (reply) => reply === 'PONG',
    () => false,
  );
}

/** The `cluster_state` field of CLUSTER INFO on `port` (`ok`, `fail`), or undefined when it does not answer. */
export async function clusterState(port) {
  try {
    const info = await redisCommand(port, ['CLUSTER', 'INFO']);
    return /^cluster_state:(\w+)/m.exec(String(info))?.[1];
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Pid files: every server started during the run leaves <run dir>/pids/<pid> (its port inside), so that
// globalTeardown, or the exit handler of an interrupted run, can stop whatever is still running.

function runDirOrUndefined() {
  return process.env[TEST_REDIS_RUN_DIR_ENV] || undefined;
}

function recordPid(pid, port) {
  const runDir = runDirOrUndefined();
  if (!runDir || !existsSync(runDir)) return;
  mkdirSync(join(runDir, 'pids'), { recursive: true });
  writeFileSync(join(runDir, 'pids', String(pid)), String(port));
}

function forgetPid(pid) {
  const runDir = runDirOrUndefined();
  if (runDir) rmSync(join(runDir, 'pids', String(pid)), { force: true });
}

/** Whether `pid` is (still) a redis-server on `port`, so that a recycled pid is never killed. */
function isRedisServer(pid, port) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (!existsSync('/proc/self/cmdline')) return true; // no procfs (macOS): trust the pid file
  try {
    const title = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ');
    return title.includes('redis-server') && (title.includes(`:${port}`) || title.includes(`--port ${port} `));
  } catch {
    return false;
  }
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ');
  } catch (error) {
    return error?.code === 'ENOENT'; // kill(0) succeeded but no procfs
  }
}

/** SIGKILLs every recorded server of the run; returns the pids it signalled. */
function killRecorded(runDir) {
  const killed = [];
  let entries = [];
  try {
    entries = readdirSync(join(runDir, 'pids'));
  } catch {
    return killed;
  }
  for (const entry of entries) {
    const pid = Number(entry);
    let port = '';
    try {
      port = readFileSync(join(runDir, 'pids', entry), 'utf8').trim();
    } catch {
      continue;
    }
    if (!Number.isInteger(pid) || pid <= 0 || !isRedisServer(pid, port)) continue;
    try {
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    } catch {
      /* already gone */
    }
  }
  return killed;
}

/** Stops every server the run started and removes the run directory (waits for the processes to go). */
export async function stopRun(runDir) {
  if (!runDir || !existsSync(runDir)) return;
  const killed = killRecorded(runDir);
  await waitFor(
    () => killed.every((pid) => !isAlive(pid)),
    5000,
    `redis-server pids ${killed.join(', ')} to exit`,
  ).catch(() => undefined);
  rmSync(runDir, { recursive: true, force: true });
}

/** The same, synchronously, for `process.on('exit')` and signal handlers. */
export function stopRunSync(runDir) {
  if (!runDir || !existsSync(runDir)) return;
  killRecorded(runDir);
  rmSync(runDir, { recursive: true, force: true });
}

// ---------------------------------------------------------------------------------------------

/**
 * One private redis-server process on `port` (127.0.0.1, no persistence), that a test may kill and
 * start again on the same port. Its log is `<dir>/redis-<port>.log`.
 */
export class RedisServer {
  #child;
  #exited;
  #ownDir;

  constructor(port, { dir, args = [] } = {}) {
    this.port = port;
    this.#ownDir = !dir && !runDirOrUndefined();
    this.dir = dir ?? runDirOrUndefined() ?? mkdtempSync(join(tmpdir(), 'redis-test-'));
    this.args = args;
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`;
  }

  get pid() {
    return this.#child?.pid;
  }

  get logFile() {
    return join(this.dir, `redis-${this.port}.log`);
  }

  /** Starts the server and resolves once it answers PING; rejects at once if it exits first. */
  async start({ timeoutMs = 10_000 } = {}) {
    const binary = redisServerBinary();
    mkdirSync(this.dir, { recursive: true });
    const child = spawn(
      binary,
      [
        '--port',
        String(this.port),
        '--bind',
        '127.0.0.1',
        '--protected-mode',
        'no',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        this.dir,
        '--logfile',
        this.logFile,
        ...this.args,
      ],
      { stdio: 'ignore', detached: false },
    );
    child.unref(); // never keeps the test process alive; globalTeardown (or the exit handler) stops it
    let exit;
    this.#child = child;
    this.#exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        exit = signal ?? `code ${code}`;
        resolve();
      }),
    );
    let spawnError;
    child.once('error', (error) => {
      spawnError = error;
      exit ??= error.message;
    });
    if (child.pid) recordPid(child.pid, this.port);
    try {
      await waitFor(
        async () => {
          if (exit !== undefined) {
            const error = new Error(
              `redis-server on port ${this.port} exited (${exit}): ${this.#lastLogLine() ?? spawnError}`,
            );
            error.code = 'REDIS_EXITED';
            throw error;
          }
          return pingRedis(this.port);
        },
        timeoutMs,
        `redis-server on port ${this.port} to answer PING`,
      );
    } catch (error) {
      await this.kill();
      const logged = this.#lastLogLine();
      if (error?.code !== 'REDIS_EXITED' && logged) error.message += ` (its log ends: ${logged})`;
      throw error;
    }
  }

  /** Kills the server (SIGKILL by default) and waits for it to exit. */
  async kill(signal = 'SIGKILL') {
    const child = this.#child;
    if (!child) return;
    if (child.pid && child.exitCode === null && child.signalCode === null) {
      child.ref(); // keeps this process alive until the exit is seen
      child.kill(signal);
      await this.#exited;
    }
    if (child.pid) forgetPid(child.pid);
    this.#child = undefined;
    if (this.#ownDir) rmSync(this.dir, { recursive: true, force: true }); // outside a test run: a temp dir of its own
  }

  #lastLogLine() {
    try {
      return readFileSync(this.logFile, 'utf8').trim().split('\n').at(-1);
    } catch {
      return undefined;
    }
  }
}

/** A private redis-server on a free port, retried on another port if the chosen one got taken meanwhile. */
export async function startPrivateRedis({ dir, args = [] } = {}) {
  redisServerBinary();
  let lastError;
  for (let attempt = 0; attempt < 5; attempt++) {
    const server = new RedisServer(await freePort(), { dir, args });
    try {
      await server.start();
      return server;
    } catch (error) {
      if (error?.code !== 'REDIS_EXITED') throw error; // only a port taken meanwhile is worth another port
      lastError = error;
    }
  }
  throw lastError;
}

function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (data) => (output += data));
    child.stderr.on('data', (data) => (output += data));
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0
        ? resolve(output)
        : reject(new Error(`${command} ${args.join(' ')} exited with ${code}: ${output.trim().split('\n').at(-1)}`)),
    );
  });
}

/**
 * Starts a private Redis Cluster of `size` masters (no replicas, all 16384 slots covered) under `dir`,
 * and resolves once every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(dir, { size = 3 } = {}) {
  redisServerBinary();
  const cli = which('redis-cli');
  if (!cli) throw new RedisSetupError(REDIS_CLI_MISSING);
  mkdirSync(dir, { recursive: true });
  const servers = [];
  const taken = new Set();
  try {
    while (servers.length < size) {
      const port = await freeClusterPort(taken);
      taken.add(port).add(port + 10000);
      const config = join(dir, `nodes-${port}.conf`);
      rmSync(config, { force: true });
      const server = new RedisServer(port, {
        dir,
        args: ['--cluster-enabled', 'yes', '--cluster-config-file', config],
      });
      try {
        await server.start();
        servers.push(server);
      } catch (error) {
        // A port taken meanwhile is retried with another (a few times), anything else is reported.
        if (error?.code !== 'REDIS_EXITED' || taken.size > 2 * (size + 5)) throw error;
      }
    }
    const nodes = servers.map((server) => `127.0.0.1:${server.port}`);
    await run(cli, ['--cluster', 'create', ...nodes, '--cluster-replicas', '0', '--cluster-yes']);
    await waitFor(
      async () => (await Promise.all(servers.map((server) => clusterState(server.port)))).every((s) => s === 'ok'),
      30_000,
      `cluster_state:ok on ${nodes.join(', ')}`,
    );
    return { nodes, ports: servers.map((server) => server.port), pids: servers.map((server) => server.pid), dir };
  } catch (error) {
    await Promise.all(servers.map((server) => server.kill()));
    throw error;
  }
}

function requireRunDir() {
  const runDir = runDirOrUndefined();
  if (!runDir || !existsSync(runDir))
    throw new Error(
      `${TEST_REDIS_RUN_DIR_ENV} is not set (or gone): run the tests through Jest, whose globalSetup is test/support/global-setup.mjs`,
    );
  return runDir;
}

/** Holds the mkdir lock `path` while `task` runs (test files may run in parallel workers). */
async function withLock(path, task) {
  await waitFor(
    () => {
      try {
        mkdirSync(path);
        return true;
      } catch (error) {
        if (error?.code === 'EEXIST') return false;
        throw error;
      }
    },
    120_000,
    `lock ${path}`,
  );
  try {
    return await task();
  } finally {
    rmSync(path, { recursive: true, force: true });
  }
}

/**
 * The run's shared three-node Redis Cluster: started by the first test that asks, then reused by every
 * later test file (its description is kept in <run dir>/cluster.json); stopped by globalTeardown.
 */
export async function sharedRedisCluster() {
  const runDir = requireRunDir();
  const stateFile = join(runDir, 'cluster.json');
  return withLock(join(runDir, 'cluster.lock'), async () => {
    if (existsSync(stateFile)) {
      const known = JSON.parse(readFileSync(stateFile, 'utf8'));
      const states = await Promise.all(known.ports.map((port) => clusterState(port)));
      if (states.every((state) => state === 'ok')) return known;
      // A node died or the cluster failed: replace it rather than hand out a broken one.
      for (const [i, pid] of known.pids.entries())
        if (isRedisServer(pid, known.ports[i])) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            /* gone meanwhile */
          }
          forgetPid(pid);
        }
      rmSync(stateFile, { force: true });
    }
    mkdirSync(join(runDir, 'clusters'), { recursive: true });
    const cluster = await startRedisCluster(mkdtempSync(join(runDir, 'clusters', 'c-')));
    writeFileSync(`${stateFile}.tmp`, JSON.stringify(cluster));
    renameSync(`${stateFile}.tmp`, stateFile);
    return cluster;
  });
}
