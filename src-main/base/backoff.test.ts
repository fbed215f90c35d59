import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { backoffDelay, checkBackoff } from './backoff.ts';

describe('backoffDelay', () => {
  it('doubles from base up to max without jitter', () => {
    const b = { baseMs: 100, maxMs: 1000 };
    expect([0, 1, 2, 3, 4, 5].map((n) => backoffDelay(n, b))).toEqual([100, 200, 400, 800, 1000, 1000]);
    expect(backoffDelay(-3, b)).toBe(100);
    expect(backoffDelay(10_000, b)).toBe(1000);
  });

  it('full jitter: a wait in [0, min(max, base·2^n))', () => {
    const top = () => 0.999_999;
    const b = { baseMs: 100, maxMs: 10_000 };
    expect(backoffDelay(0, b, { jitter: 'full', random: top })).toBe(99);
    expect(backoffDelay(3, b, { jitter: 'full', random: top })).toBe(799);
    expect(backoffDelay(10, b, { jitter: 'full', random: top })).toBe(9999);
    expect(backoffDelay(5, b, { jitter: 'full', random: () => 0 })).toBe(0);
    fc.assert(
      fc.property(fc.nat(64), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 0, max: 1_000_000 }), fc.double({ min: 0, max: 0.999_999, noNaN: true }), (n, base, extra, r) => {
        const max = base + extra;
        const delay = backoffDelay(n, { baseMs: base, maxMs: max }, { jitter: 'full', random: () => r });
        return delay >= 0 && delay < Math.max(1, Math.min(max, base * 2 ** n));
      }),
    );
  });

  it('refuses a backoff that cannot work', () => {
    expect(() => checkBackoff({ baseMs: 0, maxMs: 10 }, 'probe')).toThrow('bad probe backoff 0 … 10 ms');
    expect(() => checkBackoff({ baseMs: 10, maxMs: 5 }, 'probe')).toThrow(RangeError);
    expect(checkBackoff({ baseMs: 10, maxMs: 10 }, 'probe')).toEqual({ baseMs: 10, maxMs: 10 });
  });
});
