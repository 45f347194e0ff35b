import { StreamCursors, type PositionedEvent } from './stream-cursors.js';

const at = (offset: number, epoch = 'e1') => ({ offset, epoch });
const event = (positions: PositionedEvent['positions']): PositionedEvent => ({
  gateway: 'scheduler',
  topics: Object.keys(positions),
  positions,
});
const all = (): boolean => true;

describe('StreamCursors', () => {
  it('knows nothing of a stream it has not seen: no gap, everything counts as received', () => {
    const cursors = new StreamCursors();
    expect(cursors.reached('chat', 'room')).toBeUndefined();
    expect(cursors.isAfterGap('chat', 'room', at(9))).toBe(false);
    expect(cursors.received('chat', 'room', at(9))).toBe(true);
  });

  it('delivers each event once: a copy on another channel, or an older one, is dropped', () => {
    const cursors = new StreamCursors();
    const both = event({ a: at(1), b: at(1) });
    expect(cursors.advance(both, { gateway: 'scheduler', topic: 'a' }, all)).toBe(true);
    expect(cursors.advance(both, { gateway: 'scheduler', topic: 'b' }, all)).toBe(false);
    expect(cursors.advance(event({ a: at(2) }), undefined, all)).toBe(true);
    expect(cursors.advance(event({ a: at(2) }), undefined, all)).toBe(false);
    expect(cursors.advance(event({ a: at(1) }), undefined, all)).toBe(false);
    expect(cursors.reached('scheduler', 'a')).toEqual(at(2));
  });

  it('moves only the cursors of watched streams', () => {
    const cursors = new StreamCursors();
    expect(cursors.advance(event({ a: at(1), b: at(5) }), undefined, (topic) => topic === 'a')).toBe(true);
    expect(cursors.reached('scheduler', 'a')).toEqual(at(1));
    expect(cursors.reached('scheduler', 'b')).toBeUndefined();
  });

  it('detects a gap in the same epoch only', () => {
    const cursors = new StreamCursors();
    cursors.advance(event({ a: at(3) }), undefined, all);
    expect(cursors.isAfterGap('scheduler', 'a', at(4))).toBe(false);
    expect(cursors.isAfterGap('scheduler', 'a', at(5))).toBe(true);
    expect(cursors.isAfterGap('scheduler', 'a', at(9, 'e2'))).toBe(false);
    expect(cursors.isAfterGap('scheduler', 'a', undefined)).toBe(false);
  });

  it('takes a new epoch as newer, whatever its offset', () => {
    const cursors = new StreamCursors();
    cursors.advance(event({ a: at(8) }), undefined, all);
    expect(cursors.advance(event({ a: at(1, 'e2') }), undefined, all)).toBe(true);
    expect(cursors.reached('scheduler', 'a')).toEqual(at(1, 'e2'));
  });

  it('tells what was received: up to the cursor in its epoch, anything of another epoch or offset 0', () => {
    const cursors = new StreamCursors();
    cursors.advance(event({ a: at(4) }), undefined, all);
    expect(cursors.received('scheduler', 'a', at(4))).toBe(true);
    expect(cursors.received('scheduler', 'a', at(5))).toBe(false);
    expect(cursors.received('scheduler', 'a', at(5, 'e2'))).toBe(true);
    expect(cursors.received('scheduler', 'a', at(0))).toBe(true);
  });

  it('drops what arrives on a stream own channel up to its mark, but not what comes on another channel', () => {
    const cursors = new StreamCursors();
    cursors.markStart('scheduler', 'a', at(5));
    expect(cursors.reached('scheduler', 'a')).toEqual(at(5));
    expect(cursors.advance(event({ a: at(5) }), { gateway: 'scheduler', topic: 'a' }, all)).toBe(false);
    // The same stream's event, arriving on stream b's channel: the mark of a does not apply.
    expect(cursors.advance(event({ a: at(4), b: at(1) }), { gateway: 'scheduler', topic: 'b' }, all)).toBe(true);
    expect(cursors.advance(event({ a: at(6) }), { gateway: 'scheduler', topic: 'a' }, all)).toBe(true);
    expect(cursors.reached('scheduler', 'a')).toEqual(at(6));
  });

  it('keeps the mark apart from the cursor: a gap is measured from the later of the two', () => {
    const cursors = new StreamCursors();
    cursors.markStart('chat', 'room', at(10));
    expect(cursors.isAfterGap('chat', 'room', at(11))).toBe(false);
    expect(cursors.isAfterGap('chat', 'room', at(12))).toBe(true);
    cursors.advance({ gateway: 'chat', topics: ['room'], positions: { room: at(11) } }, undefined, all);
    expect(cursors.reached('chat', 'room')).toEqual(at(11));
  });

  it('marks a stream only once, and not once it has a cursor', () => {
    const cursors = new StreamCursors();
    cursors.markStart('chat', 'room', at(3));
    cursors.markStart('chat', 'room', at(9));
    expect(cursors.reached('chat', 'room')).toEqual(at(3));
    cursors.advance({ gateway: 'chat', topics: ['other'], positions: { other: at(2) } }, undefined, all);
    cursors.markStart('chat', 'other', at(7));
    expect(cursors.reached('chat', 'other')).toEqual(at(2));
  });

  it('skips to a position as it is, and forgets a stream whole', () => {
    const cursors = new StreamCursors();
    cursors.advance(event({ a: at(9) }), undefined, all);
    cursors.skipTo('scheduler', 'a', at(2, 'e1'));
    expect(cursors.reached('scheduler', 'a')).toEqual(at(2));
    cursors.markStart('scheduler', 'b', at(4));
    cursors.forget('scheduler', 'a');
    cursors.forget('scheduler', 'b');
    expect(cursors.reached('scheduler', 'a')).toBeUndefined();
    expect(cursors.reached('scheduler', 'b')).toBeUndefined();
  });

  it('keeps the streams of different gateways apart', () => {
    const cursors = new StreamCursors();
    cursors.advance({ gateway: 'chat', topics: ['x'], positions: { x: at(3) } }, undefined, all);
    expect(cursors.reached('notify', 'x')).toBeUndefined();
  });
});
