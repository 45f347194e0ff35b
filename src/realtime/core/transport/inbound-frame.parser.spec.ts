import { InboundFrameParser, RefusedFrame } from './inbound-frame.parser.js';

const nest = (depth: number): string => '{"a":'.repeat(depth - 1) + '{}' + '}'.repeat(depth - 1);

describe('InboundFrameParser', () => {
  const parser = new InboundFrameParser({ maxDepth: 32, maxElements: 10_000 });

  it('returns plain objects', () => {
    expect(parser.parse('{"type":"ping","data":{"x":[1,{"y":2}]}}')).toEqual({
      type: 'ping',
      data: { x: [1, { y: 2 }] },
    });
  });

  it.each(['', 'nope', '[1]', '"s"', '1', 'null', '{"a":'])('rejects %j as a bad frame', (text) => {
    const result = parser.parse(text);
    expect(result).toBeInstanceOf(RefusedFrame);
    expect((result as RefusedFrame).error.kind).toBe('bad_frame');
  });

  it('accepts exactly the maximum depth and rejects one more', () => {
    expect(parser.parse(nest(32))).not.toBeInstanceOf(RefusedFrame);
    expect(parser.parse(nest(33))).toBeInstanceOf(RefusedFrame);
    expect(parser.parse(`{"a":${'['.repeat(31)}${']'.repeat(31)}}`)).not.toBeInstanceOf(RefusedFrame);
    expect(parser.parse(`{"a":${'['.repeat(32)}${']'.repeat(32)}}`)).toBeInstanceOf(RefusedFrame);
  });

  it('counts nesting outside strings only, escapes included', () => {
    expect(parser.parse(`{"a":"${'['.repeat(100)}"}`)).toEqual({ a: '['.repeat(100) });
    expect(parser.parse(`{"a":"\\"${'{'.repeat(40)}"}`)).toEqual({ a: `"${'{'.repeat(40)}` });
    expect(parser.parse(`{"a\\\\":${'['.repeat(32)}${']'.repeat(32)}}`)).toBeInstanceOf(RefusedFrame);
  });

  it('survives absurd nesting without a stack overflow', () => {
    expect(parser.parse('['.repeat(100_000) + ']'.repeat(100_000))).toBeInstanceOf(RefusedFrame);
    expect(parser.parse(nest(20_000))).toBeInstanceOf(RefusedFrame);
  });

  it.each(['__proto__', 'constructor', 'prototype'])('rejects a %s key at any depth', (key) => {
    expect(parser.parse(`{"${key}":{}}`)).toBeInstanceOf(RefusedFrame);
    expect(parser.parse(`{"a":[{"b":{"${key}":1}}]}`)).toBeInstanceOf(RefusedFrame);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('InboundFrameParser: keys and elements', () => {
  const parser = new InboundFrameParser({ maxDepth: 32, maxElements: 10 });
  const keys = (n: number): string => `{${Array.from({ length: n }, (_, i) => `"k${i}":${i}`).join(',')}}`;

  it('counts object keys and array elements, at every level, exactly at the edge', () => {
    // 1 key (a) + 9 elements = 10.
    expect(parser.parse(`{"a":[1,2,3,4,5,6,7,8,9]}`)).toEqual({ a: [1, 2, 3, 4, 5, 6, 7, 8, 9] });
    expect(parser.parse(`{"a":[1,2,3,4,5,6,7,8,9,10]}`)).toBeInstanceOf(RefusedFrame);
    expect(parser.parse(keys(10))).not.toBeInstanceOf(RefusedFrame);
    expect(parser.parse(keys(11))).toBeInstanceOf(RefusedFrame);
    // Nested: a, b, c keys + [ {}, [], {"d":1} ] 3 elements + d = 7; empty containers count nothing.
    expect(parser.parse(`{"a":{"b":1},"c":[{},[],{"d":1}]}`)).not.toBeInstanceOf(RefusedFrame);
    expect(parser.parse(`{"a":[ ],"b":[[],[],[],[],[],[],[],[]]}`)).not.toBeInstanceOf(RefusedFrame);
    expect(parser.parse(`{"a":[ ],"b":[[],[],[],[],[],[],[],[],[]]}`)).toBeInstanceOf(RefusedFrame);
  });

  it('does not count commas and colons inside strings', () => {
    expect(parser.parse(`{"a":"${',:'.repeat(100)}","b\\":,":[1,2]}`)).not.toBeInstanceOf(RefusedFrame);
  });

  it('words the refusal', () => {
    expect((parser.parse(keys(11)) as RefusedFrame).error.message).toBe('JSON with more than 10 keys and elements');
  });
});

describe('InboundFrameParser: refused frames keep their id', () => {
  const parser = new InboundFrameParser({ maxDepth: 4, maxElements: 100 });

  it('gives back only the id of a frame that parsed but was refused; none for one that did not parse', () => {
    const refused = parser.parse('{"id":"rq-1","method":"m","params":{"__proto__":{"x":1}}}') as RefusedFrame;
    expect(refused).toBeInstanceOf(RefusedFrame);
    expect(refused.error.message).toBe('Forbidden key: __proto__');
    expect(refused.inReplyTo).toEqual({ id: 'rq-1' });
    expect((parser.parse('{"method":"m","constructor":1}') as RefusedFrame).inReplyTo).toBeUndefined();
    expect((parser.parse('{"id":"x",') as RefusedFrame).inReplyTo).toBeUndefined();
    expect((parser.parse('{"id":"x","a":[[[[[]]]]]}') as RefusedFrame).inReplyTo).toBeUndefined();
  });
});
