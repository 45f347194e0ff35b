import { decodeControl, decodePayload, encodeControl, envelopeHead, type Envelope } from './bus-envelope.js';
import type { Positions } from './stream-position.js';

/** What `PUBLISH_TO_STREAMS` makes of an envelope head and a frame: `,"p":{…}}`, a newline, the frame. */
const published = (head: string, positions: Positions, frame: string): string =>
  `${head},"p":${JSON.stringify(positions)}}\n${frame}`;

const positions: Positions = { room: { offset: 7, epoch: 'abcd1234' } };

describe('bus envelope', () => {
  it('writes the wire bytes of every version so far: one-letter fields in order, x left out when absent', () => {
    expect(envelopeHead({ o: 'i1', g: 'chat', t: ['room'], x: 'u1', l: 0, a: 5 })).toBe(
      '{"o":"i1","g":"chat","t":["room"],"x":"u1","l":0,"a":5',
    );
    expect(envelopeHead({ o: 'i1', g: 'scheduler', t: ['a', 'b'], l: 1, a: 9 })).toBe(
      '{"o":"i1","g":"scheduler","t":["a","b"],"l":1,"a":9',
    );
  });

  it('reads back what it wrote, positions and frame included', () => {
    const frame = '{"type":"message","text":"a\\nb","stream":"room","offset":7,"epoch":"abcd1234"}';
    const head = envelopeHead({ o: 'i1', g: 'chat', t: ['room'], x: 'u1', l: 1, a: 42 });
    const envelope: Envelope = { o: 'i1', g: 'chat', t: ['room'], x: 'u1', l: 1, a: 42, p: positions };
    expect(decodePayload(published(head, positions, frame))).toEqual({ envelope, frame });
  });

  it('keeps a frame that holds newlines of its own whole (the first newline ends the envelope)', () => {
    const head = envelopeHead({ o: 'i1', g: 'notify', t: ['broadcast'], l: 0, a: 1 });
    expect(decodePayload(published(head, {}, '{"a":1}\n{"b":2}'))?.frame).toBe('{"a":1}\n{"b":2}');
  });

  it.each([
    ['no newline', '{"o":"i1"}'],
    ['not JSON', 'nope\n{}'],
    ['not an object', '[1,2]\n{}'],
    ['no origin', '{"g":"chat","t":["r"],"l":0,"a":1,"p":{}}\n{}'],
    ['an empty gateway name', '{"o":"i","g":"","t":["r"],"l":0,"a":1,"p":{}}\n{}'],
    ['a gateway name not a string', '{"o":"i","g":3,"t":["r"],"l":0,"a":1,"p":{}}\n{}'],
    ['topics not strings', '{"o":"i","g":"chat","t":[1],"l":0,"a":1,"p":{}}\n{}'],
    ['except not a string', '{"o":"i","g":"chat","t":["r"],"x":3,"l":0,"a":1,"p":{}}\n{}'],
    ['a local flag other than 0 or 1', '{"o":"i","g":"chat","t":["r"],"l":2,"a":1,"p":{}}\n{}'],
    ['no publish time', '{"o":"i","g":"chat","t":["r"],"l":0,"p":{}}\n{}'],
    ['no positions', '{"o":"i","g":"chat","t":["r"],"l":0,"a":1}\n{}'],
    ['a malformed position', '{"o":"i","g":"chat","t":["r"],"l":0,"a":1,"p":{"r":{"offset":"1","epoch":"e"}}}\n{}'],
  ])('refuses a payload with %s', (_case, payload) => {
    expect(decodePayload(payload)).toBeUndefined();
  });

  it('round-trips a control message, keeping every field of the disconnect', () => {
    const m = {
      kind: 'disconnect' as const,
      connectionId: 'c1',
      code: 4403,
      reason: 'Client id in use',
      gateway: 'notify' as const,
      claim: { at: 12, instance: 'i2' },
    };
    const data = encodeControl({ o: 'i1', m });
    expect(data).toBe(JSON.stringify({ o: 'i1', m }));
    expect(decodeControl(data)).toEqual({ o: 'i1', m });
    expect(
      decodeControl(JSON.stringify({ o: 'i1', m: { kind: 'disconnect', connectionId: 'c', code: 1000, reason: '' } })),
    ).toEqual({
      o: 'i1',
      m: { kind: 'disconnect', connectionId: 'c', code: 1000, reason: '' },
    });
  });

  it.each([
    ['not JSON', '{'],
    ['no origin', JSON.stringify({ m: { kind: 'disconnect', connectionId: 'c', code: 1, reason: '' } })],
    ['another kind', JSON.stringify({ o: 'i', m: { kind: 'topics', gateway: 'chat', topics: [], frame: '{}' } })],
    ['no connection id', JSON.stringify({ o: 'i', m: { kind: 'disconnect', code: 1, reason: '' } })],
    [
      'an empty gateway name',
      JSON.stringify({ o: 'i', m: { kind: 'disconnect', connectionId: 'c', code: 1, reason: '', gateway: '' } }),
    ],
    [
      'a malformed claim',
      JSON.stringify({
        o: 'i',
        m: { kind: 'disconnect', connectionId: 'c', code: 1, reason: '', claim: { at: 'now' } },
      }),
    ],
  ])('refuses a control message with %s', (_case, data) => {
    expect(decodeControl(data)).toBeUndefined();
  });
});
