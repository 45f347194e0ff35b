import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './redis.js';
import { eventually } from './test-client.js';

/** The standalone app as users run it: `node dist/main.js` (built by `pretest`), configured by env. */
export interface StandaloneProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

/** Spawns the app with only PATH and `env`, recording everything it writes. */
export function runStandalone(env: Record<string, string>): StandaloneProcess {
  const child = spawn(process.execPath, ['dist/main.js'], {
    env: { PATH: process.env.PATH!, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/**
 * A generous bound on start-up, for a machine busy with other work: readiness (health answering)
 * decides, not a time window; the bound only keeps a hung start from hanging the run.
 */
const STARTUP_BOUND_MS = 60_000;

/** Starts the app on a free loopback port and waits until its health endpoint answers (or it exits). */
export async function startStandalone(env: Record<string, string>): Promise<StandaloneProcess & { port: number }> {
  const port = await freePort();
  const app = runStandalone({ PORT: String(port), HOST: '127.0.0.1', ...env });
  let exitedWith: number | null | undefined;
  void app.exited.then((code) => (exitedWith = code));
  await eventually(
    async () => {
      if (exitedWith !== undefined) throw new Error(`exited with ${exitedWith} before it was ready:\n${app.output()}`);
      return healthy(port);
    },
    STARTUP_BOUND_MS,
    () => `start-up (health answering); output so far:\n${app.output().slice(-2000)}`,
  );
  return { ...app, port };
}

async function healthy(port: number): Promise<boolean> {
  try {
    return (await fetch(`http://127.0.0.1:${port}/ws/health`)).ok;
  } catch {
    return false;
  }
}
