import { frameHead, newEpoch, parsePosition, resumeFromQuery, streamKey, withPositions } from './stream-position.js';

describe('stream positions', () => {
  it('writes a flat position as stream, offset and epoch fields', () => {
    const positions = { room: { offset: 3, epoch: 'e1' } };
    expect(withPositions('{"type":"m"}', 'flat', ['room'], positions)).toBe(
      '{"type":"m","stream":"room","offset":3,"epoch":"e1"}',
    );
    expect(withPositions('{ }', 'flat', ['room'], positions)).toBe('{ "stream":"room","offset":3,"epoch":"e1"}');
  });

  it('writes a map of positions, one per stream in topic order', () => {
    const positions = { b: { offset: 1, epoch: 'x' }, a: { offset: 2, epoch: 'y' } };
    expect(withPositions('{"k":1}', 'map', ['a', 'b'], positions)).toBe(
      '{"k":1,"positions":{"a":{"offset":2,"epoch":"y"},"b":{"offset":1,"epoch":"x"}}}',
    );
  });

  it('opens an object for one more field', () => {
    expect(frameHead('{"a":1}')).toBe('{"a":1,');
    expect(frameHead('{}')).toBe('{');
    expect(frameHead('{\n}')).toBe('{\n');
  });

  it('parses a position a client sent, offsets as numbers or digit strings', () => {
    expect(parsePosition({ offset: 5, epoch: 'e' })).toEqual({ offset: 5, epoch: 'e' });
    expect(parsePosition({ offset: '12', epoch: 'e' })).toEqual({ offset: 12, epoch: 'e' });
    expect(parsePosition({ offset: 0, epoch: 'e' })).toEqual({ offset: 0, epoch: 'e' });
  });

  it.each([
    ['nothing', undefined],
    ['null', null],
    ['no epoch', { offset: 1 }],
    ['an empty epoch', { offset: 1, epoch: '' }],
    ['an epoch over 64 characters', { offset: 1, epoch: 'e'.repeat(65) }],
    ['a negative offset', { offset: -1, epoch: 'e' }],
    ['a fractional offset', { offset: 1.5, epoch: 'e' }],
    ['an unsafe offset', { offset: 2 ** 53, epoch: 'e' }],
    ['an offset string that is not digits', { offset: '1e3', epoch: 'e' }],
    ['an offset string over 15 digits', { offset: '1234567890123456', epoch: 'e' }],
  ])('refuses %s', (_case, value) => {
    expect(parsePosition(value)).toBeUndefined();
  });

  it('reads where to resume from the query: the path stream, the broadcast stream, or both', () => {
    expect(resumeFromQuery(new URLSearchParams('offset=4&epoch=abc'))).toEqual({
      stream: { offset: 4, epoch: 'abc' },
      broadcast: undefined,
    });
    expect(resumeFromQuery(new URLSearchParams('broadcast_offset=0&broadcast_epoch=b'))).toEqual({
      stream: undefined,
      broadcast: { offset: 0, epoch: 'b' },
    });
    expect(resumeFromQuery(new URLSearchParams('offset=1&epoch=a&broadcast_offset=2&broadcast_epoch=b'))).toEqual({
      stream: { offset: 1, epoch: 'a' },
      broadcast: { offset: 2, epoch: 'b' },
    });
  });

  it('resumes nothing from a query without a whole position', () => {
    expect(resumeFromQuery(new URLSearchParams(''))).toBeUndefined();
    expect(resumeFromQuery(new URLSearchParams('offset=4'))).toBeUndefined();
    expect(resumeFromQuery(new URLSearchParams('epoch=abc'))).toBeUndefined();
    expect(resumeFromQuery(new URLSearchParams('offset=x&epoch=abc&broadcast_epoch=b'))).toBeUndefined();
  });

  it('makes epochs of 8 base-36 characters, and keys streams by gateway and topic', () => {
    expect(newEpoch()).toMatch(/^[0-9a-z]{8}$/);
    expect(streamKey('chat', 'room')).toBe('chat\u0000room');
  });
});
