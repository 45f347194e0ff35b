// Jest globalTeardown: stops every redis-server the run started (the private Redis, the shared cluster,
// any server a test left running) by the pids recorded under TEST_REDIS_RUN_DIR, and removes that directory.
import { TEST_REDIS_RUN_DIR_ENV, stopRun } from './redis-infra.mjs';

export default async function globalTeardown() {
  const runDir = process.env[TEST_REDIS_RUN_DIR_ENV];
  await stopRun(runDir);
  globalThis[Symbol.for('nest-realtime-gateways.test-redis-cleanup')]?.runDirs.delete(runDir);
}
