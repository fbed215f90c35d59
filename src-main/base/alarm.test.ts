import { afterEach, describe, expect, it, vi } from 'vitest';
import { Alarm } from './alarm.ts';

/** Whether `p` has settled once the microtasks queued so far have run. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setImmediate(r));
  return done;
}

describe('Alarm', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sleeps until woken, and a wake while awake ends the next sleep at once', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const alarm = new Alarm();
    const signal = new AbortController().signal;
    const sleeping = alarm.sleep(60_000, signal);
    await vi.advanceTimersByTimeAsync(10);
    expect(await settled(sleeping)).toBe(false);
    alarm.wake();
    // Woken with 59 990 ms of its sleep left on the (fake) clock.
    expect(await settled(sleeping)).toBe(true);
    alarm.wake();
    expect(await settled(alarm.sleep(60_000, signal))).toBe(true);
    // The early wake was used up: this one runs its (short) course.
    const p = alarm.sleep(20, signal);
    await vi.advanceTimersByTimeAsync(19);
    expect(await settled(p)).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(await settled(p)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
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
