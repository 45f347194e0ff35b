import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const REPO = process.cwd();
const CLIENT = join(REPO, 'client');

describe('the client package (issue 25)', () => {
  it('has its frame types generated from the served contract, up to date', async () => {
    // docs/asyncapi.json is what the server serves (test/asyncapi.e2e-spec.ts); the types are compiled from it.
    const result = await run(process.execPath, ['client/scripts/generate-frames.mjs', '--check'], { cwd: REPO }).catch(
      (error: { stderr: string; code: number }) => error,
    );
    expect('code' in result ? result.stderr : '').toBe('');
  });

  it('packs alone, with no dependency, and installs into an empty project that imports it', async () => {
    const manifest = JSON.parse(await readFile(join(CLIENT, 'package.json'), 'utf8'));
    expect(manifest.dependencies ?? {}).toEqual({});
    expect(manifest.peerDependencies ?? {}).toEqual({});
    const dir = await mkdtemp(join(tmpdir(), 'realtime-client-'));
    try {
      const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: CLIENT });
      const [{ filename, files }] = JSON.parse(packed.stdout) as Array<{
        filename: string;
        files: Array<{ path: string }>;
      }>;
      const paths = files.map((file) => file.path);
      expect(paths).toEqual(expect.arrayContaining(['package.json', 'dist/index.js', 'dist/index.d.ts']));
      expect(
        paths.filter((path) => !path.startsWith('dist/') && path !== 'package.json' && path !== 'README.md'),
      ).toEqual([]);
      await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
      await run('npm', ['install', '--offline', '--no-audit', '--no-fund', join(dir, filename)], { cwd: dir });
      // Nothing but the client itself was installed.
      expect((await readdir(join(dir, 'node_modules'))).filter((name) => !name.startsWith('.'))).toEqual([
        'nest-realtime-client',
      ]);
      const probe =
        "import * as client from 'nest-realtime-client'; console.log(Object.keys(client).sort().join(','));";
      const { stdout } = await run(process.execPath, ['--input-type=module', '-e', probe], { cwd: dir });
      expect(stdout.trim().split(',')).toEqual(expect.arrayContaining(['ChatClient', 'backoffDelay', 'Positions']));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
