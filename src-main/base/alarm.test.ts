import { describe, expect, it } from 'vitest';
import { Alarm } from './alarm.ts';

const elapsed = async (p: Promise<void>) => {
  const t = performance.now();
  await p;
  return performance.now() - t;
};

describe('Alarm', () => {
  it('sleeps until woken, and a wake while awake ends the next sleep at once', async () => {
    const alarm = new Alarm();
    const signal = new AbortController().signal;
    const sleeping = alarm.sleep(60_000, signal);
    setTimeout(() => alarm.wake(), 10);
    expect(await elapsed(sleeping)).toBeLessThan(30_000);
    alarm.wake();
    expect(await elapsed(alarm.sleep(60_000, signal))).toBeLessThan(30_000);
    // The early wake was used up: this one runs its (short) course.
    let done = false;
    const p = alarm.sleep(20, signal).then(() => (done = true));
    await new Promise((r) => setTimeout(r, 5));
    expect(done).toBe(false);
    await p;
  });

  it('ends on abort and never rejects', async () => {
    const alarm = new Alarm();
    const controller = new AbortController();
    const sleeping = alarm.sleep(60_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(sleeping).resolves.toBeUndefined();
  });
});

describe('Alarm without a deadline', () => {
  it('sleeps for ever (Infinity) until woken', async () => {
    const alarm = new Alarm();
    const signal = new AbortController().signal;
    let done = false;
    const sleeping = alarm.sleep(Number.POSITIVE_INFINITY, signal).then(() => (done = true));
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    alarm.wake();
    await sleeping;
    expect(done).toBe(true);
  });
});
