import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { freePort, testRedisCluster, testRedisUrl, testRunDir } from './support/redis.js';

/** The test run's own Redis (test/support/global-setup.mjs): a private server, a private cluster, one-line failures. */

const MISSING =
  'redis-server not found on PATH: install it (apt-get install redis-server, brew install redis) or set REDIS_URL to a running Redis';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `node <args>` in the repository with exactly `env` (no inherited REDIS_URL or anything else). */
function runNode(args: string[], env: Record<string, string>): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: process.cwd(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data) => (stdout += data));
    child.stderr.on('data', (data) => (stderr += data));
    child.once('error', reject);
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the run’s single Redis', () => {
  (process.env.REDIS_URL ? it.skip : it)(
    'is a private redis-server on a free port (not 6379) under the run directory when REDIS_URL is unset',
    async () => {
      const url = new URL(testRedisUrl());
      expect(url.hostname).toBe('127.0.0.1');
      expect(Number(url.port)).toBeGreaterThan(0);
      expect(url.port).not.toBe('6379');

      const redis = new Redis(testRedisUrl(), { lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        await redis.connect();
        expect(await redis.ping()).toBe('PONG');
        // Ours: it runs in the run's temp directory, and its pid is recorded there for globalTeardown.
        expect(await redis.config('GET', 'dir')).toEqual(['dir', realpathSync(testRunDir())]);
        const pid = /^process_id:(\d+)/m.exec(await redis.info('server'))?.[1];
        expect(readdirSync(join(testRunDir(), 'pids'))).toContain(pid);
      } finally {
        redis.disconnect();
      }
    },
  );
});

describe('the run’s Redis Cluster (testRedisCluster)', () => {
  let cluster: Cluster;
  const prefix = `test-${process.pid}-${Date.now()}-infra:`;

  afterAll(async () => {
    await cluster?.quit();
  });

  it('is three private masters, all slots served, cluster_state:ok through an ioredis Cluster client', async () => {
    const info = await testRedisCluster();
    expect(info.nodes).toHaveLength(3);
    expect(new Set(info.nodes).size).toBe(3);
    for (const node of info.nodes) expect(node).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(info.ports).not.toContain(6379);

    cluster = new Cluster(info.startupNodes);
    const clusterInfo = String(await cluster.cluster('INFO'));
    expect(clusterInfo).toMatch(/^cluster_state:ok\r?$/m);
    expect(clusterInfo).toMatch(/^cluster_slots_assigned:16384\r?$/m);
    expect(clusterInfo).toMatch(/^cluster_known_nodes:3\r?$/m);
    expect(cluster.nodes('master')).toHaveLength(3);
  });

  it('stores keys of different slots on different nodes, and reads them back', async () => {
    const info = await testRedisCluster();
    cluster ??= new Cluster(info.startupNodes);
    // slot ranges → node port, as the cluster itself reports them
    const slots = await cluster.cluster('SLOTS');
    const portOf = (slot: number): number => {
      const [, , [, port]] = slots.find(([from, to]) => slot >= from && slot <= to)!;
      return port;
    };

    const keyOnPort = new Map<number, string>();
    for (let i = 0; keyOnPort.size < 3 && i < 1000; i++) {
      const key = `${prefix}key-${i}`;
      const port = portOf(Number(await cluster.cluster('KEYSLOT', key)));
      if (!keyOnPort.has(port)) keyOnPort.set(port, key);
    }
    expect([...keyOnPort.keys()].sort()).toEqual([...info.ports].sort());

    for (const [port, key] of keyOnPort) expect(await cluster.set(key, `value-on-${port}`)).toBe('OK');
    for (const [port, key] of keyOnPort) {
      expect(await cluster.get(key)).toBe(`value-on-${port}`);
      // Really on that node: a plain connection to it has the key, and another node redirects.
      const node = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        await node.connect();
        expect(await node.get(key)).toBe(`value-on-${port}`);
      } finally {
        node.disconnect();
      }
      const other = info.ports.find((p) => p !== port)!;
      const elsewhere = new Redis(other, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
      try {
        await elsewhere.connect();
        await expect(elsewhere.get(key)).rejects.toThrow(/^MOVED \d+ 127\.0\.0\.1:\d+/);
      } finally {
        elsewhere.disconnect();
      }
    }
    for (const key of keyOnPort.values()) await cluster.del(key);
  });

  it('is started once per run: later calls (and later test files) get the same nodes', async () => {
    const first = await testRedisCluster();
    const again = await testRedisCluster();
    expect(again.nodes).toEqual(first.nodes);
    expect(again.pids).toEqual(first.pids);
    expect(existsSync(join(testRunDir(), 'cluster.json'))).toBe(true);
    for (const pid of first.pids) expect(readdirSync(join(testRunDir(), 'pids'))).toContain(String(pid));
  });
});

describe('without redis-server on the PATH', () => {
  let nodeOnly: string;

  beforeAll(() => {
    // A PATH with node on it and nothing else (node's own directory may hold redis-server too).
    nodeOnly = mkdtempSync(join(tmpdir(), 'node-only-'));
    symlinkSync(process.execPath, join(nodeOnly, 'node'));
  });
  afterAll(() => rmSync(nodeOnly, { recursive: true, force: true }));

  it('the Jest run stops before any test with exactly one line naming the fix, and fails', async () => {
    const ran = await runNode(
      [
        '--experimental-vm-modules',
        '--no-warnings=ExperimentalWarning',
        'node_modules/jest/bin/jest.js',
        '--runInBand',
        '--ci',
        'test/redis-test-infra.e2e-spec.ts',
        '--testNamePattern',
        'matches no test, so that a setup that wrongly succeeds runs nothing',
      ],
      { PATH: nodeOnly },
    );
    expect({ out: ran.stdout + ran.stderr, code: ran.code }).toEqual({ out: `${MISSING}\n`, code: 1 });
  });

  it('globalSetup run alone prints the same single line and exits 1', async () => {
    const ran = await runNode(['test/support/global-setup.mjs'], { PATH: nodeOnly });
    expect(ran).toEqual({ code: 1, stdout: '', stderr: `${MISSING}\n` });
  });

  it('an unreachable REDIS_URL is named in that single line', async () => {
    const url = `redis://127.0.0.1:${await freePort()}`; // nothing listens there
    const ran = await runNode(['test/support/global-setup.mjs'], { PATH: nodeOnly, REDIS_URL: url });
    expect(ran.code).toBe(1);
    expect(ran.stdout).toBe('');
    expect(ran.stderr).toMatch(new RegExp(`^REDIS_URL ${url} is not reachable \\([^\\n]*ECONNREFUSED[^\\n]*\\n$`));
    expect(ran.stderr).toContain('redis-server is not on PATH');
  });

  it('a reachable REDIS_URL is used as is: no redis-server needed', async () => {
    const ran = await runNode(['test/support/global-setup.mjs'], { PATH: nodeOnly, REDIS_URL: testRedisUrl() });
    expect(ran).toEqual({ code: 0, stdout: `tests would use Redis ${testRedisUrl()}\n`, stderr: '' });
  });
});
