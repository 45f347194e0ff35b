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

describe('TokenBucket debt (the shared byte budgets)', () => {
  it('charges a refused amount too, down to the floor, and says how long until it is out of debt', () => {
    const bucket = new TokenBucket(1000, 4096, 0);
    expect(bucket.spend(0, 4096, 8192)).toBe(true);
    expect(bucket.msUntilSolvent(0)).toBe(0);
    expect(bucket.spend(0, 3000, 8192)).toBe(false);
    expect(bucket.msUntilSolvent(0)).toBe(3000);
    expect(bucket.spend(0, 100_000, 8192)).toBe(false);
    expect(bucket.msUntilSolvent(0)).toBe(8192);
    expect(bucket.msUntilSolvent(8192)).toBe(0);
    expect(bucket.spend(8192, 1, 8192)).toBe(false);
    expect(bucket.spend(8194, 1, 8192)).toBe(true);
  });
});
