import { escapeControl } from './lifecycle-log.js';
import { redactUrl } from './redact.js';

describe('redactUrl', () => {
  it.each([
    ['/ws/user?token=abc.def.ghi', '/ws/user?token=[REDACTED]'],
    ['/ws/user?TOKEN=abc.def.ghi', '/ws/user?TOKEN=[REDACTED]'],
    ['/ws/user?%74oken=abc.def.ghi', '/ws/user?token=[REDACTED]'],
    ['/ws/user?%54%4f%4b%45%4e=abc', '/ws/user?TOKEN=[REDACTED]'],
    ['/ws/user?a=1&access_token=x&b=2', '/ws/user?a=1&access_token=[REDACTED]&b=2'],
    ['/ws/user?token=a&token=b', '/ws/user?token=[REDACTED]&token=[REDACTED]'],
    ['/ws/user?ticket=kq3Xabc&offset=4', '/ws/user?ticket=[REDACTED]&offset=4'],
    ['/ws/user?TiCkEt=kq3Xabc', '/ws/user?TiCkEt=[REDACTED]'],
    ['/ws/user', '/ws/user'],
  ])('shows %s as %s', (url, shown) => {
    expect(redactUrl(url)).toBe(shown);
  });
});

describe('escapeControl', () => {
  it('escapes C0, DEL, C1 and the Unicode line separators, and leaves other text alone', () => {
    expect(escapeControl('a\u001b[31mb\u0085c\u2028d\u2029e\u007ff\u0000')).toBe(
      'a\\u001b[31mb\\u0085c\\u2028d\\u2029e\\u007ff\\u0000',
    );
    expect(escapeControl('plain é ✓ text')).toBe('plain é ✓ text');
  });
});
