// Jest globalSetup: finds or makes the Redis of the test run, once.
//   REDIS_URL set and reachable → the tests use it;
//   otherwise → a private `redis-server --port <free port> --save '' --appendonly no` under a run-specific
//   temp directory, stopped by globalTeardown (or, if the run dies first, by the exit/signal handlers here).
// It hands the URL to the tests in TEST_REDIS_URL (never in REDIS_URL: the standalone app must not get a
// Redis it was not given) and the run directory in TEST_REDIS_RUN_DIR (see redis-infra.mjs).
// Without redis-server on the PATH it stops the run with one line. `node test/support/global-setup.mjs`
// runs it alone (set up, print what the tests would use, tear down).
import { mkdirSync, mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  REDIS_SERVER_MISSING,
  RedisSetupError,
  TEST_REDIS_RUN_DIR_ENV,
  TEST_REDIS_URL_ENV,
  redactUrl,
  startPrivateRedis,
  stopRun,
  stopRunSync,
  which,
} from './redis-infra.mjs';

/** Why `url` cannot be used (a one-line reason), or undefined when it answers PING. */
async function unreachable(url) {
  const { Redis } = await import('ioredis');
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2000,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
  });
  let lastError;
  client.on('error', (error) => (lastError = error));
  try {
    await client.connect();
    const reply = await client.ping();
    return reply === 'PONG' ? undefined : `PING answered ${reply}`;
  } catch (error) {
    const cause = lastError ?? error;
    return (cause instanceof Error ? cause.message : String(cause)).split('\n')[0];
  } finally {
    client.disconnect();
  }
}

const CLEANUP = Symbol.for('nest-realtime-gateways.test-redis-cleanup');

/** Stops the run's servers however the process ends: exit, or SIGINT/SIGTERM/SIGHUP (then re-raised). */
function cleanUpOnExit(runDir) {
  let registry = globalThis[CLEANUP];
  if (!registry) {
    registry = globalThis[CLEANUP] = { runDirs: new Set() };
    const cleanup = () => {
      for (const dir of registry.runDirs) stopRunSync(dir);
      registry.runDirs.clear();
    };
    process.once('exit', cleanup);
    const handlers = {};
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
      handlers[signal] = () => {
        cleanup();
        for (const [name, handler] of Object.entries(handlers)) process.removeListener(name, handler);
        process.kill(process.pid, signal);
      };
      process.once(signal, handlers[signal]);
    }
  }
  registry.runDirs.add(runDir);
}

export default async function globalSetup() {
  const external = process.env.REDIS_URL;
  let fallbackNotice;
  if (external) {
    const problem = await unreachable(external);
    if (!problem) {
      process.env[TEST_REDIS_URL_ENV] = external;
      process.env[TEST_REDIS_RUN_DIR_ENV] = mkdtempSync(join(tmpdir(), 'realtime-test-redis-'));
      cleanUpOnExit(process.env[TEST_REDIS_RUN_DIR_ENV]);
      return;
    }
    if (!which('redis-server'))
      throw new RedisSetupError(
        `REDIS_URL ${redactUrl(external)} is not reachable (${problem}) and redis-server is not on PATH: start that Redis, or install redis-server (apt-get install redis-server, brew install redis)`,
      );
    fallbackNotice = `REDIS_URL ${redactUrl(external)} is not reachable (${problem}): the tests use a private redis-server instead`;
  }
  if (!which('redis-server')) throw new RedisSetupError(REDIS_SERVER_MISSING);

  const runDir = mkdtempSync(join(tmpdir(), 'realtime-test-redis-'));
  mkdirSync(join(runDir, 'pids'));
  process.env[TEST_REDIS_RUN_DIR_ENV] = runDir;
  cleanUpOnExit(runDir);
  try {
    const server = await startPrivateRedis({ dir: runDir });
    process.env[TEST_REDIS_URL_ENV] = server.url;
  } catch (error) {
    stopRunSync(runDir);
    const reason = error instanceof Error ? error.message : String(error);
    throw new RedisSetupError(`could not start a private redis-server for the tests: ${reason.split('\n')[0]}`);
  }
  if (fallbackNotice) process.stderr.write(`${fallbackNotice}\n`);
}

/** Run alone: set up, say what the tests would use, tear down; or print the one-line reason and exit 1. */
async function main() {
  try {
    await globalSetup();
    process.stdout.write(`tests would use Redis ${redactUrl(process.env[TEST_REDIS_URL_ENV])}\n`);
    await stopRun(process.env[TEST_REDIS_RUN_DIR_ENV]);
    process.exit(0);
  } catch (error) {
    process.stderr.write(`${error instanceof RedisSetupError ? error.message : error?.stack}\n`);
    process.exit(1);
  }
}

// No top-level await: Jest may load this file with require() (Node ≥ 20.19 can require ES modules without it).
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) void main();
