import { arrayOf, decodeJson, isNumber, isString, nullable, optional, shape } from './json-decode.js';

describe('decodeJson', () => {
  const isEntry = shape<{ id: string; count: number; note?: string; owner: string | null }>({
    id: isString,
    count: isNumber,
    note: optional(isString),
    owner: nullable(isString),
  });

  it('returns a value of the shape, extra fields and all', () => {
    expect(decodeJson('{"id":"a","count":2,"owner":null,"more":1}', isEntry, 'entry')).toEqual({
      id: 'a',
      count: 2,
      owner: null,
      more: 1,
    });
    expect(decodeJson('[{"id":"a","count":2,"note":"n","owner":"u"}]', arrayOf(isEntry), 'entries')).toHaveLength(1);
  });

  it.each([
    ['not JSON', '{id', 'Malformed entry: not JSON'],
    ['an array for an object', '[]', 'Malformed entry'],
    ['a field of the wrong type', '{"id":"a","count":"2","owner":null}', 'Malformed entry'],
    ['a missing field', '{"id":"a","count":2}', 'Malformed entry'],
    ['a present optional field of the wrong type', '{"id":"a","count":2,"owner":null,"note":5}', 'Malformed entry'],
  ])('refuses %s, naming what it read', (_case, text, message) => {
    expect(() => decodeJson(text, isEntry, 'entry')).toThrow(new Error(message));
  });

  it('refuses a list with one bad element', () => {
    expect(() => decodeJson('[{"id":"a","count":1,"owner":null},{}]', arrayOf(isEntry), 'list')).toThrow(
      'Malformed list',
    );
  });
});
