import { Logger } from '@nestjs/common';
import { Redis } from 'ioredis';
import type { TopicsMessage } from '../src/realtime/bus/event-bus.js';
import { RedisBusPublisher } from '../src/realtime/bus/redis-bus-publisher.js';
import type { RedisEventBusOptions } from '../src/realtime/bus/redis-bus-options.js';
import { RedisStreamHistory } from '../src/realtime/bus/redis-stream-history.js';
import { StreamStyles } from '../src/realtime/bus/stream-styles.js';
import { RedisKeys } from '../src/realtime/redis/redis-keys.js';
import { RedisServer, freePort } from './support/redis.js';

/**
 * Issue 26, a reconnect storm: thousands of clients resume the same room from the same position.
 * The resumes of one stream from one position asked in one event-loop turn share one read, sent
 * when the turn ends (after every one of them joined: an event stored meanwhile is in it), on a
 * private Redis whose command counts are read from `INFO commandstats`.
 */
describe('resumes of one stream asked in one turn (RedisStreamHistory)', () => {
  let server: RedisServer;
  let writer: Redis;
  let options: RedisEventBusOptions;
  let history: RedisStreamHistory;
  let publisher: RedisBusPublisher;

  const evals = async (): Promise<number> => {
    const stats = await writer.info('commandstats');
    return Number(/cmdstat_eval:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  };
  const event = (seq: number): TopicsMessage => ({
    kind: 'topics',
    gateway: 'chat',
    topics: ['channel:1'],
    frame: JSON.stringify({ type: 'message', room: 'channel:1', data: { seq } }),
  });
  const seqs = (read: { entries: ReadonlyArray<{ frame: string }> }): number[] =>
    read.entries.map((entry) => (JSON.parse(entry.frame) as { data: { seq: number } }).data.seq);

  beforeAll(async () => {
    server = new RedisServer(await freePort());
    await server.start();
    writer = new Redis(server.url, { enableAutoPipelining: true, maxRetriesPerRequest: null });
    options = {
      writer,
      subscriber: writer,
      keys: new RedisKeys('batching:'),
      styles: new StreamStyles(),
      instanceId: 'batching-test',
      bufferSize: 100,
      history: { size: 100, ttlMs: 300_000 },
    };
    history = new RedisStreamHistory(options);
    publisher = new RedisBusPublisher(options, new Logger('test'), () => undefined);
    await writer.ping();
  }, 30_000);

  afterAll(async () => {
    writer?.disconnect();
    await server?.kill('SIGKILL');
  });

  it('reads once for every resume from one position in one turn, and once more for each other position', async () => {
    const first = await publisher.publishEvent(event(0));
    if (first.status !== 'stored') throw new Error(`not stored: ${first.status}`);
    const since = first.positions!['channel:1'];
    await publisher.publishEvent(event(1));
    const before = await evals();

    const same = Array.from({ length: 50 }, () => history.resume('chat', 'channel:1', since));
    const fromStart = history.resume('chat', 'channel:1', { offset: 0, epoch: since.epoch });
    const reads = await Promise.all([...same, fromStart]);

    expect((await evals()) - before).toBe(2);
    for (const read of reads.slice(0, 50)) {
      expect(read.recovered).toBe(true);
      expect(seqs(read)).toEqual([1]);
    }
    expect(seqs(reads[50])).toEqual([0, 1]);
  });

  it('sends the shared read when the turn ends: an event stored after the first resume was asked is in it', async () => {
    const stored = await publisher.publishEvent(event(2));
    if (stored.status !== 'stored') throw new Error(`not stored: ${stored.status}`);
    const since = stored.positions!['channel:1'];
    const early = history.resume('chat', 'channel:1', since);
    void publisher.publishEvent(event(3));
    const late = history.resume('chat', 'channel:1', since);
    expect(late).toBe(early);
    expect(seqs(await early)).toEqual([3]);

    // A resume asked in a later turn is a read of its own, which sees what came since.
    await publisher.publishEvent(event(4));
    expect(seqs(await history.resume('chat', 'channel:1', since))).toEqual([3, 4]);
  });
});
