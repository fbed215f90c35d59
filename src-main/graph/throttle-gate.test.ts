import { describe, expect, it } from 'vitest';
import { ThrottleGate, type ThrottleState } from './throttle-gate.ts';

/** A gate on a fake clock whose sleep advances the clock (and records every wait). */
function fakeGate() {
  let clock = 1_000_000;
  const sleeps: number[] = [];
  const errors: unknown[] = [];
  const gate = new ThrottleGate({
    now: () => clock,
    sleep: (ms) => {
      sleeps.push(ms);
      clock += ms;
      return Promise.resolve();
    },
    onListenerError: (error) => errors.push(error),
  });
  return { gate, sleeps, errors, advance: (ms: number) => (clock += ms), now: () => clock };
}

describe('ThrottleGate', () => {
  it('lets requests through at once when not paused', async () => {
    const { gate, sleeps } = fakeGate();
    await gate.wait(undefined);
    expect(sleeps).toEqual([]);
    expect(gate.throttledUntil).toBeUndefined();
  });

  it('makes every waiter sleep until the pause ends, and announces start and end', async () => {
    const { gate, sleeps, now } = fakeGate();
    const events: ThrottleState[] = [];
    gate.events.on('throttle', (state) => {
      events.push(state);
    });
    const start = now();
    gate.pause(5000);
    expect(gate.throttledUntil).toBe(start + 5000);
    await gate.wait(undefined);
    expect(sleeps).toEqual([5000]);
    expect(now()).toBe(start + 5000);
    expect(gate.throttledUntil).toBeUndefined();
    expect(events).toEqual([{ throttledUntil: start + 5000 }, { throttledUntil: undefined }]);
    gate.dispose();
  });

  it('after a pause, one request goes first and the rest wait for its answer', async () => {
    const { gate, now } = fakeGate();
    gate.pause(1000);
    const first = await gate.wait(undefined);
    expect(first.probe).toBe(true);
    let secondGone = false;
    const second = gate.wait(undefined).then((t) => ((secondGone = true), t));
    // The fake sleeps resolve at once: once the microtasks are drained, a second that could go has gone.
    await new Promise((r) => setImmediate(r));
    expect(secondGone).toBe(false);
    // Still throttled: the answer starts a new pause before the second may go.
    const answeredAt = now();
    gate.pause(2000);
    gate.settle(first);
    const ticket = await second;
    expect(now()).toBeGreaterThanOrEqual(answeredAt + 2000);
    // The second went first after that pause; once it is answered normally, everyone flows again.
    expect(ticket.probe).toBe(true);
    gate.settle(ticket);
    expect((await gate.wait(undefined)).probe).toBe(false);
    gate.dispose();
  });

  it('a first request that is never sent hands its place to the next', async () => {
    const { gate } = fakeGate();
    gate.pause(10);
    const first = await gate.wait(undefined);
    const next = gate.wait(undefined);
    gate.abandon(first);
    expect((await next).probe).toBe(true);
    gate.dispose();
  });

  it('never shortens a pause, but extends it', () => {
    const { gate, now } = fakeGate();
    const start = now();
    gate.pause(10_000);
    gate.pause(2000);
    expect(gate.throttledUntil).toBe(start + 10_000);
    gate.pause(20_000);
    expect(gate.throttledUntil).toBe(start + 20_000);
    gate.dispose();
  });

  it('ends the pause when its time has passed even without a waiter', () => {
    const { gate, advance } = fakeGate();
    gate.pause(1000);
    advance(999);
    expect(gate.throttledUntil).toBeDefined();
    advance(1);
    expect(gate.throttledUntil).toBeUndefined();
    gate.dispose();
  });

  it('reports a throwing listener instead of failing the pause', () => {
    const { gate, errors } = fakeGate();
    gate.events.on('throttle', () => {
      throw new Error('ui broke');
    });
    gate.pause(10);
    expect(errors).toHaveLength(1);
    gate.dispose();
  });

  it('propagates the abort of a waiter', async () => {
    const gate = new ThrottleGate({
      now: Date.now,
      sleep: (_ms, signal) =>
        new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(signal.reason as Error), { once: true })),
      onListenerError: () => undefined,
    });
    gate.pause(60_000);
    const controller = new AbortController();
    const waiting = gate.wait(controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
    gate.dispose();
  });
});
