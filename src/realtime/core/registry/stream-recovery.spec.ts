import { fixtureConnection } from '../transport/connection.fixture.js';
import { jest } from '@jest/globals';
import type { HistoryEntry, Positions, StreamPosition } from '../../bus/stream-position.js';
import type { GatewayName } from '../gateway/gateway-name.js';
import { Connection, type HeldFrame } from '../transport/connection.js';
import { PreparedFrame } from '../transport/prepared-frame.js';
import type { StreamRead } from './join-answer.js';
import { StreamRecovery } from './stream-recovery.js';

const EPOCH = 'e1';
const at = (offset: number, epoch = EPOCH): StreamPosition => ({ offset, epoch });

/** A connection in `topics` whose writes are recorded (by frame text, in order) instead of sent. */
function recording(gateway: GatewayName, topics: string[], sub = 'me'): { connection: Connection; sent: string[] } {
  const connection = fixtureConnection({ sub, gateway });
  for (const topic of topics) connection.topics.add(topic);
  const sent: string[] = [];
  jest.spyOn(connection, 'sendJson').mockImplementation((json: string) => (sent.push(json), true));
  jest.spyOn(connection, 'sendPrepared').mockImplementation((frame: PreparedFrame) => {
    sent.push(frame.payload.toString());
    return true;
  });
  return { connection, sent };
}

/** An event named `name` at `positions`, as history returns it and as a held live frame. */
const entry = (name: string, positions: Positions, except?: string): HistoryEntry => ({
  frame: name,
  positions,
  ...(except !== undefined && { except }),
});
const held = (name: string, positions?: Positions): HeldFrame => ({
  frame: PreparedFrame.fromJson(name),
  ...(positions && { positions }),
});

/** Joins `reads` on `connection` (holding from the start, as `StreamJoins` does) and releases. */
function joinAndRelease(
  recovery: StreamRecovery,
  connection: Connection,
  reads: StreamRead[],
  live: HeldFrame[] = [],
): void {
  connection.held = [...live];
  recovery.positioned(connection, reads, () => undefined).release();
}

describe('StreamRecovery', () => {
  afterEach(() => jest.useRealTimers());

  it('sends the missed events, then the held ones, each once and in order', () => {
    const { connection, sent } = recording('chat', ['room']);
    const read = {
      position: at(5),
      recovered: true,
      entries: [3, 4, 5].map((offset) => entry(`m${offset}`, { room: at(offset) })),
    };
    // m5 was read from history and also arrived live while the read ran; m2 came before the join.
    const live = [held('m2', { room: at(2) }), held('m5', { room: at(5) }), held('m6', { room: at(6) })];
    live.push(held('m7', { room: at(7) }));

    joinAndRelease(
      new StreamRecovery(),
      connection,
      [{ topic: 'room', since: at(2), presenceChanged: true, read }],
      live,
    );

    expect(sent).toEqual(['m3', 'm4', 'm5', 'm6', 'm7']);
    expect(connection.held).toBeUndefined();
  });

  it('skips a missed event meant for everyone but the connection’s user', () => {
    const { connection, sent } = recording('chat', ['room'], 'me');
    const read = {
      position: at(3),
      recovered: true,
      entries: [entry('m2', { room: at(2) }, 'me'), entry('m3', { room: at(3) }, 'other')],
    };

    joinAndRelease(new StreamRecovery(), connection, [{ topic: 'room', since: at(1), presenceChanged: true, read }]);

    expect(sent).toEqual(['m3']);
  });

  it('without recovery sends no history, and only the held events after where the stream is', () => {
    const { connection, sent } = recording('chat', ['room']);
    const read = { position: at(9), recovered: false, entries: [] };
    const live = [held('m9', { room: at(9) }), held('m10', { room: at(10) }), held('x', { room: at(1, 'e2') })];

    joinAndRelease(
      new StreamRecovery(),
      connection,
      [{ topic: 'room', since: at(1), presenceChanged: true, read }],
      live,
    );

    expect(sent).toEqual(['m10', 'x']);
  });

  it('sends every held event of a stream whose read failed, and those of other topics or none', () => {
    const { connection, sent } = recording('chat', ['room', 'other']);
    const live = [held('a', { room: at(1) }), held('b', { other: at(4) }), held('c')];

    joinAndRelease(new StreamRecovery(), connection, [{ topic: 'room', since: at(0), presenceChanged: true }], live);

    expect(sent).toEqual(['a', 'b', 'c']);
  });

  it('on a map gateway, does not send again an event already sent through another subscription', () => {
    const recovery = new StreamRecovery();
    const { connection, sent } = recording('scheduler', ['a', 'b']);
    // Subscribed to `a` at offset 3: from there on, every event of `a` reached it live.
    joinAndRelease(recovery, connection, [{ topic: 'a', presenceChanged: true, read: readAt(at(3)) }]);
    // Then `b` resumes from 5: e6 is `b`'s only, e7 was routed to both and went out through `a`,
    // e8 (both) arrived while the read ran, e9 is `a`'s only and arrived meanwhile too.
    const read = {
      position: at(7),
      recovered: true,
      entries: [entry('e6', { b: at(6) }), entry('e7', { a: at(4), b: at(7) })],
    };
    const live = [held('e8', { a: at(5), b: at(8) }), held('e9', { a: at(6) })];

    joinAndRelease(recovery, connection, [{ topic: 'b', since: at(5), presenceChanged: true, read }], live);

    expect(sent).toEqual(['e6', 'e8', 'e9']);
  });

  it('on a map gateway, an event of two streams joined together is sent once', () => {
    const { connection, sent } = recording('scheduler', ['a', 'b']);
    const both = entry('both', { a: at(2), b: at(2) });
    const reads: StreamRead[] = [
      { topic: 'a', since: at(1), presenceChanged: true, read: { position: at(2), recovered: true, entries: [both] } },
      { topic: 'b', since: at(1), presenceChanged: true, read: { position: at(2), recovered: true, entries: [both] } },
    ];

    joinAndRelease(new StreamRecovery(), connection, reads);

    expect(sent).toEqual(['both']);
  });

  it('answers each stream with where it is and whether the named position was recovered', () => {
    const { connection } = recording('chat', ['x', 'y', 'z']);
    connection.held = [];
    const { streams } = new StreamRecovery().positioned(
      connection,
      [
        { topic: 'x', since: at(1), presenceChanged: true, read: { position: at(4), recovered: true, entries: [] } },
        { topic: 'y', since: at(1), presenceChanged: false },
        { topic: 'z', presenceChanged: false, read: readAt(at(0)) },
      ],
      () => undefined,
    );

    expect(streams).toEqual([
      { topic: 'x', presenceChanged: true, position: at(4), recovered: true },
      { topic: 'y', presenceChanged: false, position: undefined, recovered: false },
      { topic: 'z', presenceChanged: false, position: at(0), recovered: undefined },
    ]);
  });

  it('releases once, and by itself when the caller never does', () => {
    jest.useFakeTimers();
    const { connection, sent } = recording('chat', ['room']);
    const done = jest.fn();
    connection.held = [held('late', { room: at(2) })];
    const joined = new StreamRecovery().positioned(
      connection,
      [{ topic: 'room', presenceChanged: true, read: readAt(at(1)) }],
      done,
    );

    jest.advanceTimersByTime(9_999);
    expect(done).not.toHaveBeenCalled();
    jest.advanceTimersByTime(1);
    joined.release();

    expect(done).toHaveBeenCalledTimes(1);
    expect(sent).toEqual(['late']);
  });
});

function readAt(position: StreamPosition): StreamRead['read'] {
  return { position, recovered: false, entries: [] };
}
