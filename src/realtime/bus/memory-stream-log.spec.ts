import { jest } from '@jest/globals';
import { MemoryStreamLog, streamMetaTtlMs } from './memory-stream-log.js';

const TTL_MS = 10_000;
const frames = (read: { entries: ReadonlyArray<{ frame: string }> }): string[] =>
  read.entries.map((entry) => entry.frame);

describe('MemoryStreamLog', () => {
  let log: MemoryStreamLog;

  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
    log = new MemoryStreamLog({ size: 3, ttlMs: TTL_MS });
  });

  afterEach(() => {
    log.close();
    jest.useRealTimers();
  });

  const append = (n: number, topic = 'room') => log.append('chat', [topic], `{"n":${n}}`, 'flat');

  it('gives each event the next offset of its stream, in one epoch, and writes it into the frame', () => {
    const first = append(1);
    const second = append(2);
    const { epoch } = first.positions.room;
    expect(first.positions.room).toEqual({ offset: 1, epoch });
    expect(second.positions.room).toEqual({ offset: 2, epoch });
    expect(second.frame).toBe(`{"n":2,"stream":"room","offset":2,"epoch":"${epoch}"}`);
    expect(append(1, 'other').positions.other.offset).toBe(1);
  });

  it('positions an event of several streams in each of them (map style)', () => {
    log.append('scheduler', ['a'], '{}', 'map');
    const { frame, positions } = log.append('scheduler', ['a', 'b'], '{"k":1}', 'map');
    expect(positions.a.offset).toBe(2);
    expect(positions.b.offset).toBe(1);
    expect(frame).toBe(`{"k":1,"positions":{"a":${JSON.stringify(positions.a)},"b":${JSON.stringify(positions.b)}}}`);
    expect(log.resume('scheduler', 'b', { offset: 0, epoch: positions.b.epoch }).entries[0]).toEqual({
      frame,
      positions,
      except: undefined,
    });
  });

  it('resumes with every event after a position of the current epoch, the user excepted kept', () => {
    const { epoch } = append(1).positions.room;
    log.append('chat', ['room'], '{"n":2}', 'flat', 'u1');
    const read = log.resume('chat', 'room', { offset: 0, epoch });
    expect(read).toMatchObject({ position: { offset: 2, epoch }, recovered: true });
    expect(read.entries.map((entry) => entry.except)).toEqual([undefined, 'u1']);
    expect(log.resume('chat', 'room', { offset: 2, epoch })).toEqual({
      position: { offset: 2, epoch },
      recovered: true,
      entries: [],
    });
  });

  it('gives the position only when nothing is asked, the epoch differs or the offset is ahead', () => {
    const { epoch } = append(1).positions.room;
    const positionOnly = { position: { offset: 1, epoch }, recovered: false, entries: [] };
    expect(log.resume('chat', 'room')).toEqual(positionOnly);
    expect(log.resume('chat', 'room', { offset: 0, epoch: 'other' })).toEqual(positionOnly);
    expect(log.resume('chat', 'room', { offset: 5, epoch })).toEqual(positionOnly);
  });

  it('keeps the last `size` events of a stream: a resume from before them is not recovered', () => {
    const { epoch } = append(1).positions.room;
    for (let n = 2; n <= 5; n++) append(n);
    expect(log.footprint()).toEqual({ streams: 1, events: 3 });
    expect(log.resume('chat', 'room', { offset: 1, epoch }).recovered).toBe(false);
    expect(frames(log.resume('chat', 'room', { offset: 2, epoch }))).toEqual([
      expect.stringContaining('"n":3'),
      expect.stringContaining('"n":4'),
      expect.stringContaining('"n":5'),
    ]);
    expect(frames(log.list('chat', 'room', 0, 10))).toHaveLength(3);
    expect(frames(log.list('chat', 'room', 3, 1))).toEqual([expect.stringContaining('"n":4')]);
  });

  it('keeps events for `ttlMs`: older ones are not read, then swept', () => {
    const { epoch } = append(1).positions.room;
    jest.advanceTimersByTime(TTL_MS / 2);
    append(2);
    jest.advanceTimersByTime(TTL_MS / 2 - 1);
    expect(log.resume('chat', 'room', { offset: 0, epoch }).recovered).toBe(true);
    jest.advanceTimersByTime(1);
    expect(log.resume('chat', 'room', { offset: 0, epoch }).recovered).toBe(false);
    expect(frames(log.resume('chat', 'room', { offset: 1, epoch }))).toEqual([expect.stringContaining('"n":2')]);
    expect(log.footprint().events).toBe(1);
    jest.advanceTimersByTime(TTL_MS);
    expect(log.footprint()).toEqual({ streams: 1, events: 0 });
    expect(log.list('chat', 'room', 0, 10).entries).toEqual([]);
  });

  it('forgets a stream untouched for streamMetaTtlMs; it comes back at offset 0 in a new epoch', () => {
    const metaTtlMs = streamMetaTtlMs({ size: 3, ttlMs: TTL_MS });
    expect(metaTtlMs).toBe(3_600_000);
    const { epoch } = append(1).positions.room;
    append(1, 'busy');
    for (let elapsed = 0; elapsed < metaTtlMs; elapsed += TTL_MS) {
      jest.advanceTimersByTime(TTL_MS);
      log.resume('chat', 'busy');
    }
    expect(log.footprint().streams).toBe(1);
    const again = log.resume('chat', 'room', { offset: 1, epoch });
    expect(again.recovered).toBe(false);
    expect(again.position.offset).toBe(0);
    expect(again.position.epoch).not.toBe(epoch);
  });

  it('keeps a stream that is read, though it has no new event', () => {
    append(1);
    jest.advanceTimersByTime(streamMetaTtlMs({ size: 3, ttlMs: TTL_MS }) - TTL_MS);
    log.list('chat', 'room', 0, 1);
    jest.advanceTimersByTime(2 * TTL_MS);
    expect(log.footprint().streams).toBe(1);
    expect(log.resume('chat', 'room').position.offset).toBe(1);
  });

  it('derives how long positions live from the history TTL, at least an hour', () => {
    expect(streamMetaTtlMs({ size: 1, ttlMs: 1_000 })).toBe(3_600_000);
    expect(streamMetaTtlMs({ size: 1, ttlMs: 600_000 })).toBe(6_000_000);
  });
});
