import { randomUUID } from 'node:crypto';
import { startStandalone, type StandaloneProcess } from './support/standalone-process.js';
import { TestClient, eventually, sleep } from './support/test-client.js';
import { TEST_SECRET, hsToken } from './support/tokens.js';
import { ping } from './support/notify-client.js';

/**
 * SPEC §6: the standalone app logs the frames notify clients hand to the host summarized — at most
 * one line per connection per second, with how many frames (and bytes) it stands for — and never
 * their content. Checked on the real process and its own log (JSON lines, with their times).
 */

interface SummaryLine {
  at: number;
  client: string;
  fields: Record<string, string>;
}

/** The `notify_message` lines the app wrote, parsed. */
function summaries(app: StandaloneProcess): SummaryLine[] {
  const lines: SummaryLine[] = [];
  for (const line of app.output().split('\n')) {
    if (!line.includes('notify_message')) continue;
    const { timestamp, message } = JSON.parse(line) as { timestamp: number; message: string };
    const fields = Object.fromEntries([...message.matchAll(/ (\w+)=(\S+)/g)].map((match) => [match[1], match[2]]));
    lines.push({ at: timestamp, client: fields.client, fields });
  }
  return lines;
}

const counted = (lines: SummaryLine[]): number => lines.reduce((sum, line) => sum + Number(line.fields.count), 0);

describe('the standalone app’s log of what notify clients send (SPEC §6)', () => {
  let app: StandaloneProcess & { port: number };
  const clients: TestClient[] = [];

  beforeAll(async () => {
    app = await startStandalone({
      NO_COLOR: '1',
      LOG_FORMAT: 'json',
      JWT_SECRET: TEST_SECRET,
      WS_RATE_LIMIT_PER_SEC: '5000',
    });
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    app.child.kill('SIGTERM');
    await app.exited;
  });

  const connect = async (clientId: string, sub: string): Promise<TestClient> => {
    const client = await TestClient.open(`ws://127.0.0.1:${app.port}/ws/${clientId}?token=${hsToken({ sub })}`);
    clients.push(client);
    await client.nextOfType('connected');
    return client;
  };

  it('writes at most one line per client per second, with the count and bytes of its frames, never their content', async () => {
    const secret = `never-logged-${randomUUID()}`;
    const busy = await connect('desk-busy', 'logged-user');
    const calm = await connect('desk-calm', 'logged-user');
    const content = { text: secret };
    const bytes = Buffer.byteLength(JSON.stringify(content));
    const started = Date.now();
    // 1,200 frames over 2.5 s or more: a burst every 100 ms, so the summaries span several seconds.
    let sent = 0;
    for (let burst = 0; burst < 25; burst++) {
      for (let i = 0; i < 48; i++) busy.send({ type: i % 2 === 0 ? 'logs' : 'progress', content });
      sent += 48;
      await sleep(100);
    }
    calm.send({ type: 'hello', content });
    // Every frame reached the host before the pong.
    await ping(busy);
    await ping(calm);
    await eventually(
      () => counted(summaries(app).filter((line) => line.client === 'desk-busy')) === sent,
      5000,
      () => `${sent} frames summarized (got ${counted(summaries(app).filter((line) => line.client === 'desk-busy'))})`,
    );
    const elapsed = Date.now() - started;

    const busyLines = summaries(app).filter((line) => line.client === 'desk-busy');
    expect(busyLines.length).toBeGreaterThanOrEqual(2);
    expect(busyLines.length).toBeLessThanOrEqual(Math.ceil(elapsed / 1000) + 1);
    for (let i = 1; i < busyLines.length; i++)
      expect(busyLines[i].at - busyLines[i - 1].at).toBeGreaterThanOrEqual(995);
    expect(busyLines[0].fields).toMatchObject({ client: 'desk-busy', user: 'logged-user', count: '1', type: 'logs' });
    for (const line of busyLines.slice(1)) expect(line.fields.type).toMatch(/^(logs,progress|progress,logs)$/);
    expect(busyLines.reduce((sum, line) => sum + Number(line.fields.bytes), 0)).toBe(sent * bytes);

    // Another connection has its own line, at once.
    const calmLines = summaries(app).filter((line) => line.client === 'desk-calm');
    expect(calmLines.map((line) => line.fields)).toEqual([
      { client: 'desk-calm', user: 'logged-user', type: 'hello', bytes: String(bytes), count: '1' },
    ]);
    expect(app.output()).not.toContain(secret);
  });
});
