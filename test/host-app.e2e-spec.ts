import {
  Body,
  Controller,
  HttpCode,
  Inject,
  Injectable,
  Module,
  Param,
  Post,
  type INestApplication,
} from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import { Test } from '@nestjs/testing';
import {
  ChatPublisher,
  RealtimeModule,
  RealtimeWsAdapter,
  type AccessPolicy,
  type Principal,
  type RealtimeModuleOptions,
  type ResourceRef,
} from '../src/realtime/index.js';
import { anyPosition, inStream } from './support/positions.js';
import { wrap, type TestApp } from './support/test-app.js';
import { sleep, type TestClient } from './support/test-client.js';
import { TEST_SECRET } from './support/tokens.js';

/** SPEC §1: the module embedded in a host's own Nest monolith, configured with forRootAsync. */

const ISO_MS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

// ---- the host application ------------------------------------------------------------------

/** A database-backed policy in real life; here: only project 1 among projects, asynchronously. */
class ProjectOnePolicy implements AccessPolicy {
  readonly calls: Array<{ sub: string; resource: ResourceRef }> = [];

  async canAccess(principal: Principal, resource: ResourceRef): Promise<boolean> {
    this.calls.push({ sub: principal.sub, resource });
    await sleep(5); // a database round trip
    if (resource.type === 'project') return resource.id === '1';
    return true;
  }
}

const policy = new ProjectOnePolicy();

@Injectable()
class TasksService {
  constructor(@Inject(ChatPublisher) private readonly publisher: ChatPublisher) {}

  updateTask(id: number, changes: Record<string, unknown>): Record<string, unknown> {
    const task = { id, ...changes, updated_at: '2024-01-01T00:00:00.000Z' };
    this.publisher.taskUpdated(id, { task_id: id, changes, task }, 'tasks-service');
    return task;
  }
}

@Controller('tasks')
class TasksController {
  constructor(@Inject(TasksService) private readonly tasks: TasksService) {}

  @Post(':id')
  @HttpCode(200)
  update(@Param('id') id: string, @Body() changes: Record<string, unknown>): Record<string, unknown> {
    return this.tasks.updateTask(Number(id), changes);
  }
}

/** How the host configures the module: from its own ConfigService, asynchronously. */
function realtimeFromConfig(accessPolicy: AccessPolicy) {
  return RealtimeModule.forRootAsync({
    imports: [ConfigModule],
    inject: [ConfigService],
    useFactory: async (config: ConfigService): Promise<RealtimeModuleOptions> => ({
      auth: { secret: config.getOrThrow<string>('realtime.jwtSecret') },
      chat: { maxContentLength: config.getOrThrow<number>('realtime.maxContentLength') },
      accessPolicy,
    }),
  });
}

const hostConfig = () =>
  ConfigModule.forRoot({
    ignoreEnvFile: true,
    load: [() => ({ realtime: { jwtSecret: TEST_SECRET, maxContentLength: 100 } })],
  });

/** The host's root module: its own config, the realtime module configured from it, its own service and route. */
@Module({
  imports: [hostConfig(), realtimeFromConfig(policy)],
  controllers: [TasksController],
  providers: [TasksService],
})
class HostModule {}

/** The usual layout of a monolith: the tasks feature in its own module, next to the realtime module. */
@Module({ controllers: [TasksController], providers: [TasksService] })
class TasksModule {}

@Module({ imports: [hostConfig(), realtimeFromConfig(new ProjectOnePolicy()), TasksModule] })
class FeatureHostModule {}

async function startHost(root: unknown): Promise<TestApp> {
  const moduleRef = await Test.createTestingModule({ imports: [root as never] }).compile();
  const app = moduleRef.createNestApplication({ logger: ['error', 'warn'] });
  app.useWebSocketAdapter(new RealtimeWsAdapter(app));
  await app.listen(0, '127.0.0.1');
  return wrap(app);
}

// ---- the tests -------------------------------------------------------------------------------

describe('embedding in a host app (SPEC §1)', () => {
  let app: INestApplication;
  let t: TestApp;

  beforeAll(async () => {
    t = await startHost(HostModule);
    app = t.app;
  });
  afterAll(() => t?.close());

  async function joined(sub: string, room: string): Promise<TestClient> {
    const client = await t.chat({ sub, username: `user-${sub}` });
    client.send({ type: 'join_room', room });
    expect(await client.next()).toMatchObject({ type: 'room_joined', room });
    return client;
  }

  it("serves the gateways and the admin API next to the host's own routes", async () => {
    const { status, body } = await t.http('GET', '/ws/health');
    expect(status).toBe(200);
    expect(body).toMatchObject({ status: 'ok', bus: 'memory', redis: 'disabled' });
  });

  it('applies the options from the async factory (auth secret, chat limits)', async () => {
    const client = await joined('5', 'channel:3');
    client.send({ type: 'send_message', room: 'channel:3', data: { content: 'x'.repeat(101) } });
    expect(await client.nextOfType('error')).toMatchObject({ data: { code: 4400 } });
    client.send({ type: 'send_message', room: 'channel:3', data: { content: 'x'.repeat(100) } });
    expect((await client.nextOfType('message')).data.content).toHaveLength(100);
    client.close();
  });

  it('delivers task.updated to task:42 members when a host service publishes through ChatPublisher', async () => {
    const member = await joined('7', 'task:42');
    const outsider = await joined('8', 'task:43');

    const task = app.get(TasksService).updateTask(42, { status: 'done' });
    expect(await member.nextOfType('task.updated')).toEqual({
      type: 'task.updated',
      room: 'task:42',
      data: { task_id: 42, changes: { status: 'done' }, task },
      sender: 'tasks-service',
      timestamp: expect.stringMatching(ISO_MS),
      ...inStream('task:42'),
    });
    await sleep(100);
    expect(member.ofType('task.updated')).toHaveLength(1);
    expect(outsider.ofType('task.updated')).toHaveLength(0);
    member.close();
    outsider.close();
  });

  it("delivers task.updated when the host's own REST controller calls the service", async () => {
    const member = await joined('9', 'task:42');

    const response = await t.http('POST', '/tasks/42', { body: { title: 'Ship it', assignee: 3 } });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id: 42, title: 'Ship it', assignee: 3 });

    expect(await member.nextOfType('task.updated')).toEqual({
      type: 'task.updated',
      room: 'task:42',
      data: { task_id: 42, changes: { title: 'Ship it', assignee: 3 }, task: response.body },
      sender: 'tasks-service',
      timestamp: expect.stringMatching(ISO_MS),
      ...inStream('task:42'),
    });
    await sleep(100);
    expect(member.ofType('task.updated')).toHaveLength(1);
    member.close();
  });

  it("decides joins with the host's (async) access policy from the options", async () => {
    const client = await t.chat({ sub: '11', username: 'eve' });
    policy.calls.length = 0;

    client.send({ type: 'join_room', room: 'project:1' });
    expect(await client.next()).toEqual({
      type: 'room_joined',
      room: 'project:1',
      data: { room: 'project:1', ...anyPosition() },
      timestamp: expect.stringMatching(ISO_MS),
    });

    client.send({ type: 'join_room', room: 'project:2' });
    expect(await client.next()).toEqual({
      type: 'error',
      data: { error: expect.any(String), code: 4403 },
      timestamp: expect.stringMatching(ISO_MS),
    });

    expect(policy.calls).toEqual([
      { sub: '11', resource: { type: 'project', id: '1' } },
      { sub: '11', resource: { type: 'project', id: '2' } },
    ]);

    // Refused: not a member, so it cannot send there; the connection goes on.
    client.send({ type: 'send_message', room: 'project:2', data: { content: 'hi' } });
    expect(await client.next()).toMatchObject({ type: 'error', data: { code: 4403 } });
    client.send({ type: 'send_message', room: 'project:1', data: { content: 'hi' } });
    expect(await client.next()).toMatchObject({ type: 'message', room: 'project:1', data: { content: 'hi' } });
    client.close();
  });

  it("lets the host's policy veto a join the default policy would allow (no acl claim)", async () => {
    const client = await t.chat({ sub: '12', username: 'mallory' });
    client.send({ type: 'join_room', room: 'project:99' });
    expect(await client.next()).toMatchObject({ type: 'error', data: { code: 4403 } });
    client.send({ type: 'ping' });
    expect(await client.next()).toMatchObject({ type: 'pong' });
    client.close();
  });
});

describe('embedding: a host feature module injects ChatPublisher (SPEC §1 "from any service")', () => {
  let t: TestApp | undefined;
  afterAll(() => t?.close());

  it("compiles, and the feature's service publishes to task rooms", async () => {
    t = await startHost(FeatureHostModule);
    const member = await t.chat({ sub: '21', username: 'zoe' });
    member.send({ type: 'join_room', room: 'task:42' });
    await member.nextOfType('room_joined');

    const response = await t.http('POST', '/tasks/42', { body: { status: 'in_progress' } });
    expect(response.status).toBe(200);
    expect(await member.nextOfType('task.updated')).toMatchObject({
      type: 'task.updated',
      room: 'task:42',
      data: { task_id: 42, changes: { status: 'in_progress' } },
      sender: 'tasks-service',
    });
    member.close();
  });
});
