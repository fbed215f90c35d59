import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { backoffDelay, isRetryableStatus, isThrottleStatus, parseRetryAfter } from './retry-policy.ts';

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-03-01T10:00:00Z');

  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    expect(parseRetryAfter('1.5', now)).toBe(1500);
  });

  it('reads an HTTP date relative to now, never negative', () => {
    expect(parseRetryAfter('Sun, 01 Mar 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('Sun, 01 Mar 2026 09:59:00 GMT', now)).toBe(0);
  });

  it('gives undefined for missing or unreadable values', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    expect(parseRetryAfter('', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, scaled by the random draw', () => {
    const top = () => 0.999_999;
    expect(backoffDelay(0, 100, 10_000, top)).toBe(99);
    expect(backoffDelay(3, 100, 10_000, top)).toBe(799);
    expect(backoffDelay(10, 100, 10_000, top)).toBe(9999);
    expect(backoffDelay(5, 100, 10_000, () => 0)).toBe(0);
    expect(backoffDelay(1, 100, 10_000, () => 0.5)).toBe(100);
  });

  it('stays within [0, min(max, base·2^attempt)) for any attempt and draw', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 600_000 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (attempt, base, max, r) => {
        const delay = backoffDelay(attempt, base, max, () => r);
        return delay >= 0 && delay < Math.min(max, base * 2 ** Math.min(attempt, 30)) + 1 && Number.isInteger(delay);
      }),
    );
  });
});

describe('status classes', () => {
  it('retries transient statuses and pauses the client on throttling ones', () => {
    for (const s of [408, 429, 500, 502, 503, 504]) expect(isRetryableStatus(s)).toBe(true);
    for (const s of [400, 401, 403, 404, 409, 412, 416, 507]) expect(isRetryableStatus(s)).toBe(false);
    expect(isThrottleStatus(429)).toBe(true);
    expect(isThrottleStatus(503)).toBe(true);
    expect(isThrottleStatus(500)).toBe(false);
  });
});
