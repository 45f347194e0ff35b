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

/** Starts the app on a free loopback port and waits until it listens. */
export async function startStandalone(env: Record<string, string>): Promise<StandaloneProcess & { port: number }> {
  const port = await freePort();
  const app = runStandalone({ PORT: String(port), HOST: '127.0.0.1', ...env });
  await eventually(() => /Listening on/.test(app.output()), 15_000, 'start-up');
  return { ...app, port };
}
