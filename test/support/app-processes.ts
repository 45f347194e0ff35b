import { startStandalone, type StandaloneProcess } from './standalone-process.js';
import { ADMIN_TOKEN, endpoints, type Endpoints } from './test-app.js';
import { eventually } from './test-client.js';
import { TEST_SECRET } from './tokens.js';

/**
 * Instances of the standalone app as separate processes on one Redis (SPEC §9), as a cluster of
 * replicas runs: each can be killed with SIGKILL, and nothing is shared but Redis.
 */
export interface AppProcess extends Endpoints {
  /** The instance id (`WS_INSTANCE_ID`). */
  readonly id: string;
  readonly port: number;
  readonly process: StandaloneProcess;
  /** SIGKILL (no close, no cleanup ever runs) or SIGTERM, and waits for the exit. */
  stop(signal?: 'SIGKILL' | 'SIGTERM'): Promise<void>;
}

/**
 * The instance `id` with `env` (its Redis: `REDIS_URL` or `REDIS_CLUSTER_NODES`, and `WS_REDIS_PREFIX`),
 * once its health says `redis: "up"`.
 */
export async function startAppProcess(id: string, env: Record<string, string>): Promise<AppProcess> {
  const started = await startStandalone({
    NO_COLOR: '1',
    JWT_SECRET: TEST_SECRET,
    WS_SHUTDOWN_DRAIN: '0',
    WS_ADMIN_TOKEN: ADMIN_TOKEN,
    WS_INSTANCE_ID: id,
    ...env,
  });
  const instance: AppProcess = {
    id,
    port: started.port,
    process: started,
    ...endpoints(started.port),
    async stop(signal = 'SIGTERM') {
      if (started.child.exitCode === null && started.child.signalCode === null) started.child.kill(signal);
      await started.exited;
    },
  };
  await eventually(
    async () => (await instance.http('GET', '/ws/health')).body.redis === 'up',
    10_000,
    `${id} redis up`,
  );
  return instance;
}
