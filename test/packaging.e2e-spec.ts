import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { inStream } from './support/positions.js';
import { TestClient } from './support/test-client.js';
import { hsToken } from './support/tokens.js';

const run = promisify(execFile);
const REPO = process.cwd();
const SECRET = 'packaging-test-secret-0123456789-abcdef';

/**
 * A Nest host as a team would write it, in plain ES modules (decorators applied as functions, so
 * no compiler is needed): its own settings service feeds `RealtimeModule.forRootAsync`, and its
 * own feature service publishes a chat event when told to on stdin.
 */
const HOST_APP = `
import 'reflect-metadata';
import { Inject, Injectable, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ChatPublisher, RealtimeModule, RealtimeWsAdapter } from 'nest-realtime-gateways';

class Settings {
  jwtSecret = process.env.HOST_JWT_SECRET;
}
Injectable()(Settings);

class SettingsModule {}
Module({ providers: [Settings], exports: [Settings] })(SettingsModule);

class TasksService {
  constructor(realtime) {
    this.realtime = realtime;
  }
  complete(taskId) {
    this.realtime.taskUpdated(taskId, { id: taskId, status: 'done' }, 'tasks-service');
  }
}
Injectable()(TasksService);
Inject(ChatPublisher)(TasksService, undefined, 0);

class TasksModule {}
Module({ providers: [TasksService] })(TasksModule);

class HostModule {}
Module({
  imports: [
    RealtimeModule.forRootAsync({
      imports: [SettingsModule],
      inject: [Settings],
      useFactory: (settings) => ({ auth: { secret: settings.jwtSecret } }),
    }),
    TasksModule,
  ],
})(HostModule);

const app = await NestFactory.create(HostModule, { logger: ['error', 'warn'] });
app.useWebSocketAdapter(new RealtimeWsAdapter(app));
await app.listen(0, '127.0.0.1');
const tasks = app.get(TasksService);
process.stdin.on('data', (line) => tasks.complete(Number(String(line).trim())));
console.log('PORT ' + app.getHttpServer().address().port);
`;

/** `npm pack` of this repository, installed into a throwaway Nest host outside it (SPEC.md §1). */
describe('the packed module in a host app', () => {
  let dir: string;
  let tarball: string;
  let host: ChildProcess | undefined;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'realtime-host-'));
    const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: REPO });
    const [{ filename, files }] = JSON.parse(packed.stdout) as Array<{
      filename: string;
      files: Array<{ path: string }>;
    }>;
    tarball = join(dir, filename);
    await writeFile(join(dir, 'files.json'), JSON.stringify(files.map((file) => file.path)));
    const ours = JSON.parse(await readFile(join(REPO, 'package.json'), 'utf8'));
    const manifest = {
      name: 'host-app',
      private: true,
      type: 'module',
      dependencies: {
        ...ours.peerDependencies,
        '@nestjs/platform-express': ours.devDependencies['@nestjs/platform-express'],
        'nest-realtime-gateways': `file:${tarball}`,
      },
    };
    await writeFile(join(dir, 'package.json'), JSON.stringify(manifest, null, 2));
    await writeFile(join(dir, 'host.mjs'), HOST_APP);
    await run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir });
  }, 240_000);

  afterAll(async () => {
    host?.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
  });

  it('ships the library build and its types, not the sources, tests or the standalone app', async () => {
    const files: string[] = JSON.parse(await readFile(join(dir, 'files.json'), 'utf8'));
    expect(files).toEqual(
      expect.arrayContaining(['package.json', 'dist/realtime/index.js', 'dist/realtime/index.d.ts']),
    );
    expect(files.filter((file) => !file.startsWith('dist/realtime/'))).toEqual(
      expect.arrayContaining(['package.json', 'README.md']),
    );
    expect(
      files.filter((file) => !file.startsWith('dist/realtime/') && !['package.json', 'README.md'].includes(file)),
    ).toEqual([]);
    expect(files.filter((file) => /\.spec\./.test(file))).toEqual([]);
  });

  it('resolves to one copy of @nestjs/core: the host DI container is shared', async () => {
    const { stdout } = await run('npm', ['ls', '@nestjs/core', '--all', '--parseable'], { cwd: dir });
    expect(stdout.trim().split('\n')).toEqual([join(dir, 'node_modules', '@nestjs', 'core')]);
  });

  it('gives a TypeScript host the types of the public API', async () => {
    const source = [
      "import { ChatPublisher, RealtimeModule, type RealtimeModuleOptions } from 'nest-realtime-gateways';",
      "const options: RealtimeModuleOptions = { auth: { secret: 's' }, chat: { maxContentLength: 10 } };",
      'export const module = RealtimeModule.forRoot(options);',
      "export const notify = (chat: ChatPublisher): void => chat.notify(1, { text: 'hi' });",
      '// @ts-expect-error: a typo in an option is a compile error',
      'export const wrong: RealtimeModuleOptions = { chat: { maxContentLenght: 1 } };',
    ].join('\n');
    await writeFile(join(dir, 'typed.ts'), source);
    const tsc = join(REPO, 'node_modules', 'typescript', 'bin', 'tsc');
    const flags = ['--noEmit', '--strict', '--skipLibCheck', '--module', 'nodenext', '--moduleResolution', 'nodenext'];
    const result = await run(process.execPath, [tsc, ...flags, 'typed.ts'], { cwd: dir }).catch(
      (error: { stdout: string }) => error,
    );
    expect(result.stdout).toBe('');
  });

  it('boots forRootAsync in the host, and a host service publishes task.updated to a ws client', async () => {
    host = spawn(process.execPath, ['host.mjs'], {
      cwd: dir,
      env: { ...process.env, HOST_JWT_SECRET: SECRET },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let output = '';
    host.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      host!.stdout!.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /PORT (\d+)/.exec(output);
        if (match) resolve(Number(match[1]));
      });
      host!.once('exit', (code) => reject(new Error(`host exited with ${code}: ${output}`)));
    });

    const token = hsToken({ sub: 'u1', username: 'alice' }, SECRET);
    const client = await TestClient.open(`ws://127.0.0.1:${port}/api/v1/ws/connect?token=${token}`);
    await client.nextOfType('connected');
    client.send({ type: 'join_room', room: 'task:7' });
    await client.nextOfType('room_joined');
    host.stdin!.write('7\n');
    expect(await client.nextOfType('task.updated')).toEqual({
      type: 'task.updated',
      room: 'task:7',
      data: { id: 7, status: 'done' },
      sender: 'tasks-service',
      timestamp: expect.any(String),
      ...inStream('task:7'),
    });
    client.close();
  });
});
