import { startAppProcess, type AppProcess } from './support/app-processes.js';
import { RedisServer, freePort } from './support/redis.js';
import { ADMIN_TOKEN } from './support/test-app.js';
import { eventually } from './support/test-client.js';

/**
 * Issue 26: an acknowledged publish is never lost. `POST /ws/publish` and `POST /ws/send-message`
 * answer 200 once Redis has the event (with its positions), 202 `buffered` while Redis is away, 503
 * when Redis failed while storing it. Two built instances on a private Redis; the one that answered is
 * SIGKILLed right after its answer, and the other one's history has the event at the answered position.
 */
describe('acknowledged publishes (issue 26)', () => {
  const prefix = `durable-${process.pid}:`;
  let redis: RedisServer;
  let a: AppProcess;
  let b: AppProcess;

  beforeAll(async () => {
    redis = new RedisServer(await freePort());
    await redis.start();
    const env = { REDIS_URL: redis.url, WS_REDIS_PREFIX: prefix, WS_RATE_LIMIT_PER_SEC: '5000' };
    [a, b] = await Promise.all([startAppProcess(`${prefix}A`, env), startAppProcess(`${prefix}B`, env)]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a, b].map((instance) => instance?.stop('SIGKILL')));
    await redis?.kill('SIGKILL');
  });

  it('answers 200 with the positions once Redis has the event: a SIGKILL right after loses nothing', async () => {
    const room = 'channel:4242';
    const answers: Array<{ status: number; body: any }> = [];
    for (let n = 1; n <= 20; n++) {
      answers.push(
        await a.http('POST', '/ws/publish', {
          token: ADMIN_TOKEN,
          body: { room, type: 'task.updated', data: { n } },
        }),
      );
    }
    // The last answer, then at once the end of the instance that gave it.
    await a.stop('SIGKILL');
    expect(answers.map((answer) => answer.status)).toEqual(answers.map(() => 200));
    const positions = answers.map((answer) => answer.body.positions[room]);
    expect(positions.map((position: { offset: number }) => position.offset)).toEqual(
      positions.map((_: unknown, i: number) => positions[0].offset + i),
    );
    for (const answer of answers) expect(answer.body).toMatchObject({ published: true, stored: true });

    const history = await b.http(
      'GET',
      `/ws/history?stream=${encodeURIComponent(room)}&gateway=chat&since=0&limit=100`,
      {
        token: ADMIN_TOKEN,
      },
    );
    expect(history.status).toBe(200);
    const stored = (history.body.events as Array<{ offset: number; frame: { data: { n: number } } }>).map((event) => ({
      offset: event.offset,
      n: event.frame.data.n,
    }));
    expect(stored).toEqual(
      positions.map((position: { offset: number }, i: number) => ({ offset: position.offset, n: i + 1 })),
    );
  }, 30_000);

  it('answers 202 buffered while Redis is away, and the event reaches Redis once it is back', async () => {
    const room = 'channel:4343';
    await redis.kill('SIGKILL');
    await eventually(async () => (await b.http('GET', '/ws/health')).body.redis === 'down', 15_000, 'redis down');
    const buffered = await b.http('POST', '/ws/publish', {
      token: ADMIN_TOKEN,
      body: { room, type: 'task.updated', data: { n: 'while away' } },
    });
    expect(buffered).toMatchObject({ status: 202, body: { published: true, buffered: true } });
    expect(buffered.body.stored).toBeUndefined();
    const notify = await b.http('POST', '/ws/send-message', { token: ADMIN_TOKEN, body: { type: 'all', content: 1 } });
    expect(notify).toMatchObject({ status: 202, body: { sent: true, buffered: true } });

    await redis.start();
    await eventually(async () => (await b.http('GET', '/ws/health')).body.redis === 'up', 15_000, 'redis up');
    await eventually(
      async () => {
        const history = await b.http(
          'GET',
          `/ws/history?stream=${encodeURIComponent(room)}&gateway=chat&since=0&limit=10`,
          {
            token: ADMIN_TOKEN,
          },
        );
        return history.status === 200 && (history.body.events as unknown[]).length === 1;
      },
      15_000,
      'the buffered event stored',
    );
    const after = await b.http('POST', '/ws/publish', {
      token: ADMIN_TOKEN,
      body: { room, type: 'task.updated', data: { n: 'back' } },
    });
    expect(after).toMatchObject({ status: 200, body: { stored: true } });
  }, 60_000);
});
