// Types of redis-infra.mjs (plain JavaScript so that the Jest globalSetup can also run under `node` alone).

export declare const TEST_REDIS_URL_ENV: 'TEST_REDIS_URL';
export declare const TEST_REDIS_RUN_DIR_ENV: 'TEST_REDIS_RUN_DIR';
export declare const REDIS_SERVER_MISSING: string;

export declare class RedisSetupError extends Error {}

export declare function which(name: string, searchPath?: string): string | undefined;
export declare function redactUrl(url: string): string;
export declare function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void>;
export declare function freePort(host?: string): Promise<number>;
export declare function redisCommand(
  port: number,
  args: string[],
  options?: { host?: string; timeoutMs?: number },
): Promise<string | number | null>;
export declare function pingRedis(port: number, host?: string): Promise<boolean>;
export declare function clusterState(port: number): Promise<string | undefined>;
export declare function stopRun(runDir: string | undefined): Promise<void>;
export declare function stopRunSync(runDir: string | undefined): void;

export declare class RedisServer {
  readonly port: number;
  readonly dir: string;
  readonly args: string[];
  constructor(port: number, options?: { dir?: string; args?: string[] });
  get url(): string;
  get pid(): number | undefined;
  get logFile(): string;
  start(options?: { timeoutMs?: number }): Promise<void>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export declare function startPrivateRedis(options?: { dir?: string; args?: string[] }): Promise<RedisServer>;

export interface RedisClusterInfo {
  /** `127.0.0.1:<port>` of every master. */
  nodes: string[];
  ports: number[];
  pids: number[];
  dir: string;
}

export declare function startRedisCluster(dir: string, options?: { size?: number }): Promise<RedisClusterInfo>;
export declare function sharedRedisCluster(): Promise<RedisClusterInfo>;
