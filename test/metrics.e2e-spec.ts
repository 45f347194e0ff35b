import { startTestApp, type TestApp } from './support/test-app.js';
import { eventually, TestClient } from './support/test-client.js';
import { hsToken } from './support/tokens.js';

const SAMPLE =
  /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*\})? (-?[0-9.e+-]+|[Nn]a[Nn]|[+-]Inf)$/;

/**
 * Parses Prometheus text exposition: every line a comment (HELP/TYPE) or a sample (values as Go's
 * ParseFloat reads them, NaN in any case); returns the samples.
 */
function parse(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      expect(line).toMatch(/^# (HELP|TYPE) [a-zA-Z_:][a-zA-Z0-9_:]* .+$/);
      continue;
    }
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a Prometheus sample: ${line}`);
    samples.set(`${match[1]}${match[2] ?? ''}`, Number(match[3]));
  }
  return samples;
}

/** SPEC §8 `GET /metrics`: Prometheus text whose counters follow the traffic. */
describe('GET /metrics', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ rateLimitPerSec: 5 });
  });

  afterAll(() => t.close());

  const scrape = async (): Promise<Map<string, number>> => {
    const response = await fetch(`${t.baseUrl}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    return parse(await response.text());
  };

  it('is Prometheus text with the process metrics and one series per gateway', async () => {
    const samples = await scrape();
    expect(samples.get('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    for (const gateway of ['chat', 'scheduler', 'checkpoint', 'notify']) {
      expect(samples.has(`realtime_connections{gateway="${gateway}"}`)).toBe(true);
      expect(samples.has(`realtime_messages_received_total{gateway="${gateway}"}`)).toBe(true);
    }
    expect(samples.get('realtime_redis_up')).toBe(-1);
  });

  it('moves its counters exactly with the traffic', async () => {
    const before = await scrape();
    const delta = (after: Map<string, number>, key: string): number => (after.get(key) ?? 0) - (before.get(key) ?? 0);

    const chat = await t.chat({ sub: 'm1' });
    chat.send({ type: 'join_room', room: 'channel:1' });
    await chat.nextOfType('room_joined');
    chat.send('{not json', { invalid: true });
    await chat.nextOfType('error');
    for (let i = 0; i < 3; i++) chat.send({ type: 'ping' });
    for (let i = 0; i < 3; i++) await chat.nextOfType('pong');
    // 5 frames so far out of a burst of 10: 10 more are 5 over.
    for (let i = 0; i < 10; i++) chat.send({ type: 'ping' });
    await chat.next((frame) => frame.type === 'error' && frame.data.code === 4429);
    const refused = new TestClient(t.wsUrl('/api/v1/ws/connect', 'not-a-token'));
    expect((await refused.waitClose()).code).toBe(4401);
    const notify = await TestClient.open(t.wsUrl('/ws/metrics-1', hsToken({ sub: 'm2' })));
    await notify.nextOfType('connected');
    expect((await t.http('GET', '/ws/health')).status).toBe(200);
    notify.close();
    await notify.waitClose();

    await eventually(
      async () => delta(await scrape(), 'realtime_closes_total{gateway="notify",code="1005"}') === 1,
      3000,
    );
    const after = await scrape();
    expect(delta(after, 'realtime_messages_received_total{gateway="chat"}')).toBe(15);
    expect(delta(after, 'realtime_rate_limited_frames_total{gateway="chat"}')).toBe(5);
    expect(delta(after, 'realtime_errors_total{gateway="chat",kind="bad_frame"}')).toBe(1);
    expect(delta(after, 'realtime_errors_total{gateway="chat",kind="rate_limited"}')).toBe(1);
    expect(delta(after, 'realtime_auth_failures_total{gateway="chat"}')).toBe(1);
    expect(delta(after, 'realtime_connections{gateway="chat"}')).toBe(1);
    expect(delta(after, 'realtime_connections{gateway="notify"}')).toBe(0);
    // On the bus: the user_joined of the first join, and the notify client id's claim (it closes an
    // older connection of that id on other instances); nothing came from other instances.
    expect(delta(after, 'realtime_bus_published_total')).toBe(2);
    expect(delta(after, 'realtime_bus_received_total')).toBe(0);
    expect(delta(after, 'realtime_messages_sent_total{gateway="notify"}')).toBe(1);
    chat.close();
  });
});
