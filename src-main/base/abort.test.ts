import { describe, expect, it, vi } from 'vitest';
import { setTimeout as delay } from 'node:timers/promises';
import {
  AbortError,
  TimeoutError,
  abortReason,
  abortableSleep,
  anySignal,
  isAbortError,
  isCausedBySignal,
  isTimeoutError,
  linkedController,
  onAbort,
  raceWithSignal,
  throwIfAborted,
  timeoutSignal,
} from './abort.ts';
import { OneMountError } from './errors.ts';

/** The number of abort listeners on a signal, read through Node's inspection hook. */
function abortListenerCount(signal: AbortSignal): number {
  const symbol = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kEvents');
  const events = symbol ? (signal as unknown as Record<symbol, Map<string, { size: number }>>)[symbol] : undefined;
  if (!events) throw new Error('cannot inspect listeners on this Node version');
  return events.get('abort')?.size ?? 0;
}

describe('errors', () => {
  it('AbortError and TimeoutError are OneMountErrors with codes', () => {
    const abort = new AbortError();
    const timeout = new TimeoutError('slow');
    expect(abort).toBeInstanceOf(OneMountError);
    expect([abort.code, abort.name]).toEqual(['ABORTED', 'AbortError']);
    expect([timeout.code, timeout.name, timeout.message]).toEqual(['TIMEOUT', 'TimeoutError', 'slow']);
  });

  it('isAbortError recognises every abort flavour and nothing else', async () => {
    const controller = new AbortController();
    controller.abort();
    expect(isAbortError(controller.signal.reason)).toBe(true); // DOMException AbortError
    expect(isAbortError(new AbortError())).toBe(true);
    const nodeAbort = await delay(10, undefined, { signal: controller.signal }).catch((e: unknown) => e);
    expect(isAbortError(nodeAbort)).toBe(true); // Node's internal AbortError
    expect(isAbortError(new Error('x'))).toBe(false);
    expect(isAbortError(new TimeoutError('t'))).toBe(false);
    expect(isAbortError('AbortError')).toBe(false);
    expect(isAbortError(null)).toBe(false);
  });

  it('isTimeoutError recognises ours and AbortSignal.timeout reasons', async () => {
    const signal = AbortSignal.timeout(1);
    await new Promise((resolve) => signal.addEventListener('abort', resolve));
    expect(isTimeoutError(signal.reason)).toBe(true);
    expect(isTimeoutError(new TimeoutError('t'))).toBe(true);
    expect(isTimeoutError(new AbortError())).toBe(false);
  });

  it('isCausedBySignal only when the signal has fired', () => {
    const controller = new AbortController();
    const reason = new Error('custom stop');
    expect(isCausedBySignal(reason, controller.signal)).toBe(false);
    controller.abort(reason);
    expect(isCausedBySignal(reason, controller.signal)).toBe(true);
    expect(isCausedBySignal(new AbortError(), controller.signal)).toBe(true);
    expect(isCausedBySignal(new Error('unrelated'), controller.signal)).toBe(false);
  });
});

describe('throwIfAborted / abortReason', () => {
  it('throws the reason, or an AbortError when none was given', () => {
    expect(() => throwIfAborted(undefined)).not.toThrow();
    const controller = new AbortController();
    expect(() => throwIfAborted(controller.signal)).not.toThrow();
    const reason = new OneMountError('STOP', 'stop');
    controller.abort(reason);
    expect(() => throwIfAborted(controller.signal)).toThrow(reason);
    expect(abortReason(controller.signal)).toBe(reason);
  });
});

describe('abortableSleep', () => {
  it('resolves after the delay', async () => {
    await expect(abortableSleep(5)).resolves.toBeUndefined();
  });

  it('rejects at once with the reason when aborted, and removes its listener when done', async () => {
    const controller = new AbortController();
    const sleeping = abortableSleep(60_000, controller.signal);
    expect(abortListenerCount(controller.signal)).toBe(1);
    const reason = new AbortError('shutdown');
    controller.abort(reason);
    await expect(sleeping).rejects.toBe(reason);

    const other = new AbortController();
    await abortableSleep(1, other.signal);
    expect(abortListenerCount(other.signal)).toBe(0);
  });

  it('rejects immediately for an already aborted signal', async () => {
    await expect(abortableSleep(60_000, AbortSignal.abort(new AbortError('early')))).rejects.toThrow('early');
  });
});

describe('raceWithSignal', () => {
  it('settles with the promise when it wins', async () => {
    const controller = new AbortController();
    await expect(raceWithSignal(Promise.resolve(7), controller.signal)).resolves.toBe(7);
    await expect(raceWithSignal(Promise.reject(new Error('boom')), controller.signal)).rejects.toThrow('boom');
    expect(abortListenerCount(controller.signal)).toBe(0);
  });

  it('stops waiting when the signal fires first', async () => {
    const controller = new AbortController();
    const never = new Promise<number>(() => undefined);
    const racing = raceWithSignal(never, controller.signal);
    controller.abort(new AbortError('enough'));
    await expect(racing).rejects.toThrow('enough');
  });

  it('rejects at once for an aborted signal without leaving the promise unhandled', async () => {
    await expect(raceWithSignal(Promise.reject(new Error('late')), AbortSignal.abort())).rejects.toSatisfy(isAbortError);
  });
});

describe('linkedController / anySignal', () => {
  it('aborts when any parent aborts, with that parent’s reason', () => {
    const a = new AbortController();
    const b = new AbortController();
    const linked = anySignal(a.signal, undefined, b.signal);
    expect(linked.signal.aborted).toBe(false);
    const reason = new AbortError('b went');
    b.abort(reason);
    expect(linked.signal.aborted).toBe(true);
    expect(linked.signal.reason).toBe(reason);
    // Its remaining link is removed once it fired.
    expect(abortListenerCount(a.signal)).toBe(0);
  });

  it('starts aborted when a parent already is', () => {
    const reason = new AbortError('already');
    expect(anySignal(new AbortController().signal, AbortSignal.abort(reason)).signal.reason).toBe(reason);
  });

  it('dispose unlinks from long-lived parents (no leak per derived signal)', () => {
    const parent = new AbortController();
    for (let i = 0; i < 1000; i++) linkedController(parent.signal).dispose();
    expect(abortListenerCount(parent.signal)).toBe(0);
    const kept = linkedController(parent.signal);
    kept.dispose();
    parent.abort();
    expect(kept.signal.aborted).toBe(false);
  });

  it('can be aborted on its own without touching the parents', () => {
    const parent = new AbortController();
    const child = linkedController(parent.signal);
    child.abort(new AbortError('just me'));
    expect(child.signal.aborted).toBe(true);
    expect(parent.signal.aborted).toBe(false);
    expect(abortListenerCount(parent.signal)).toBe(0);
  });
});

describe('timeoutSignal', () => {
  it('fires with a TimeoutError naming the operation', async () => {
    const { signal } = timeoutSignal(5, undefined, 'probe');
    await new Promise((resolve) => signal.addEventListener('abort', resolve));
    expect(signal.reason).toBeInstanceOf(TimeoutError);
    expect((signal.reason as Error).message).toBe('probe timed out after 5 ms');
  });

  it('follows its parent, and dispose cancels the timer', async () => {
    const parent = new AbortController();
    const linked = timeoutSignal(60_000, parent.signal);
    parent.abort(new AbortError('parent'));
    expect((linked.signal.reason as Error).message).toBe('parent');

    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    try {
      const disposed = timeoutSignal(5);
      disposed.dispose();
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(20);
      expect(disposed.signal.aborted).toBe(false);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('many waiters on one long-lived signal', () => {
  it('share one abort listener: no MaxListenersExceededWarning however many run at once', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => warnings.push(w);
    process.on('warning', onWarning);
    try {
      const shutdown = new AbortController();
      // What a busy engine does: tasks linked to the registry's signal, reads and sleeps on the offline signal.
      const links = Array.from({ length: 50 }, () => linkedController(shutdown.signal));
      const anys = Array.from({ length: 20 }, () => anySignal(shutdown.signal, new AbortController().signal));
      const sleeps = Array.from({ length: 20 }, () => abortableSleep(60_000, shutdown.signal).then(() => 'slept', (e: unknown) => e));
      const races = Array.from({ length: 20 }, () => raceWithSignal(new Promise<never>(() => undefined), shutdown.signal).catch((e: unknown) => e));
      expect(abortListenerCount(shutdown.signal)).toBe(1);
      // Node reports the warning on the next tick: a macrotask comes after it.
      await new Promise((r) => setImmediate(r));
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);

      for (const l of links.slice(0, 25)) l.dispose();
      const reason = new AbortError('shutting down');
      shutdown.abort(reason);
      expect(links.slice(0, 25).every((l) => !l.signal.aborted)).toBe(true);
      expect(links.slice(25).every((l) => l.signal.reason === reason)).toBe(true);
      expect(anys.every((a) => a.signal.reason === reason)).toBe(true);
      expect(await Promise.all(sleeps)).toEqual(sleeps.map(() => reason));
      expect(await Promise.all(races)).toEqual(races.map(() => reason));
      expect(abortListenerCount(shutdown.signal)).toBe(0);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('the shared listener goes when its last waiter does, and comes back for the next', () => {
    const signal = new AbortController().signal;
    const stop = [onAbort(signal, () => undefined), onAbort(signal, () => undefined)];
    expect(abortListenerCount(signal)).toBe(1);
    stop[0]!();
    stop[0]!();
    expect(abortListenerCount(signal)).toBe(1);
    stop[1]!();
    expect(abortListenerCount(signal)).toBe(0);
    onAbort(signal, () => undefined);
    expect(abortListenerCount(signal)).toBe(1);
  });

  it('a waiter removed by an earlier waiter is not called', () => {
    const controller = new AbortController();
    const calls: string[] = [];
    let stopSecond = (): void => undefined;
    onAbort(controller.signal, () => {
      calls.push('first');
      stopSecond();
    });
    stopSecond = onAbort(controller.signal, () => calls.push('second'));
    onAbort(controller.signal, () => calls.push('third'));
    controller.abort();
    expect(calls).toEqual(['first', 'third']);
  });
});
