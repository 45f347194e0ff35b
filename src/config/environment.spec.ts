import 'reflect-metadata';
import { validateEnvironment } from './environment.js';

describe('validateEnvironment booleans', () => {
  it.each([
    ['false', false],
    ['0', false],
    ['true', true],
    ['1', true],
  ])('reads %s as %s, for every boolean variable', (raw, expected) => {
    const env = validateEnvironment({ WS_ALLOW_QUERY_TOKEN: raw, WS_REQUIRE_ACL: raw, WS_API_DOCS: raw });
    expect([env.WS_ALLOW_QUERY_TOKEN, env.WS_REQUIRE_ACL, env.WS_API_DOCS]).toEqual([expected, expected, expected]);
  });

  it('keeps the defaults when unset or empty', () => {
    const env = validateEnvironment({ WS_REQUIRE_ACL: '' });
    expect([env.WS_ALLOW_QUERY_TOKEN, env.WS_REQUIRE_ACL, env.WS_API_DOCS]).toEqual([true, false, true]);
  });

  it('refuses anything else, naming the variable', () => {
    expect(() => validateEnvironment({ WS_ALLOW_QUERY_TOKEN: 'no' })).toThrow(/WS_ALLOW_QUERY_TOKEN/);
  });
});
