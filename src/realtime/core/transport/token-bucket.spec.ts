import { TokenBucket } from './token-bucket.js';

describe('TokenBucket', () => {
  it('allows the burst, then the rate', () => {
    const bucket = new TokenBucket(20, 40, 0);
    let allowed = 0;
    for (let i = 0; i < 100; i++) if (bucket.take(0)) allowed++;
    expect(allowed).toBe(40);
    expect(bucket.take(49)).toBe(false); // 0.98 token refilled
    expect(bucket.take(50)).toBe(true); // 1 token after 50 ms at 20/s
    expect(bucket.take(50)).toBe(false);
  });

  it('never holds more than the burst', () => {
    const bucket = new TokenBucket(20, 40, 0);
    let allowed = 0;
    for (let i = 0; i < 100; i++) if (bucket.take(60_000)) allowed++;
    expect(allowed).toBe(40);
  });
});

describe('TokenBucket amounts (the byte budget)', () => {
  it('takes exactly the burst at once, then refills at the rate', () => {
    const bucket = new TokenBucket(1000, 4096, 0);
    expect(bucket.take(0, 4096)).toBe(true);
    expect(bucket.take(0, 1)).toBe(false);
    expect(bucket.take(500, 501)).toBe(false);
    expect(bucket.take(500, 500)).toBe(true);
    expect(bucket.take(10_000, 4097)).toBe(false);
    expect(bucket.take(10_000, 4096)).toBe(true);
  });
});
