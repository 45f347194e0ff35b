import { PublishBuffer } from './publish-buffer.js';

const drain = (buffer: PublishBuffer): string[] => {
  const items: string[] = [];
  for (let item = buffer.shift(); item !== undefined; item = buffer.shift()) items.push(item);
  return items;
};

describe('PublishBuffer', () => {
  it('gives items back oldest first', () => {
    const buffer = new PublishBuffer(5);
    ['a', 'b', 'c'].forEach((item) => buffer.push(item));
    expect(buffer.size).toBe(3);
    expect(drain(buffer)).toEqual(['a', 'b', 'c']);
    expect(buffer.size).toBe(0);
    expect(buffer.shift()).toBeUndefined();
  });

  it('holds exactly its capacity, then drops the oldest and counts each drop', () => {
    const buffer = new PublishBuffer(3);
    ['1', '2', '3'].forEach((item) => buffer.push(item));
    expect(buffer.takeDropped()).toBe(0);
    ['4', '5'].forEach((item) => buffer.push(item));
    expect(buffer.size).toBe(3);
    expect(buffer.takeDropped()).toBe(2);
    expect(buffer.takeDropped()).toBe(0);
    expect(drain(buffer)).toEqual(['3', '4', '5']);
  });

  it('keeps order across wrap-arounds of its ring', () => {
    const buffer = new PublishBuffer(4);
    const seen: string[] = [];
    for (let i = 0; i < 50; i++) {
      buffer.push(String(i));
      if (i % 3 === 2) seen.push(...drain(buffer));
    }
    seen.push(...drain(buffer));
    expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
    expect(buffer.takeDropped()).toBe(0);
  });

  it('with capacity 0 buffers nothing and counts every publish as dropped', () => {
    const buffer = new PublishBuffer(0);
    buffer.push('x');
    buffer.push('y');
    expect(buffer.size).toBe(0);
    expect(buffer.shift()).toBeUndefined();
    expect(buffer.takeDropped()).toBe(2);
  });
});
