import { afterEach, describe, expect, it, vi } from 'vitest';
import { settledWithin } from './deadline.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('settledWithin', () => {
  it('is true for work that settles (even by failing) before the deadline', async () => {
    await expect(settledWithin(Promise.resolve(1), 1000)).resolves.toBe(true);
    await expect(settledWithin(Promise.reject(new Error('no')), 1000)).resolves.toBe(true);
  });

  it('is false once the deadline passes, and leaves no timer behind', async () => {
    vi.useFakeTimers();
    const answer = settledWithin(new Promise(() => undefined), 5000);
    await vi.advanceTimersByTimeAsync(4999);
    let settled = false;
    void answer.then(() => (settled = true));
    await Promise.resolve();
    expect(settled).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await expect(answer).resolves.toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  }, 10_000);
});

describe('settledWithin a signal', () => {
  it('is false as soon as the signal fires, or at once when it already has', async () => {
    const controller = new AbortController();
    const answer = settledWithin(new Promise(() => undefined), Number.POSITIVE_INFINITY, controller.signal);
    controller.abort();
    await expect(answer).resolves.toBe(false);
    await expect(settledWithin(Promise.resolve(), 1000, controller.signal)).resolves.toBe(false);
  }, 10_000);
});
