import { describe, expect, it } from 'vitest';
import { KeyedMutex } from './keyed-mutex.ts';

/** A promise the test settles by hand. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe('KeyedMutex', { timeout: 5_000 }, () => {
  it('runs the work of one key one at a time, in call order', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const first = gate();
    const a = mutex.run('k', async () => {
      log.push('a start');
      await first.promise;
      log.push('a end');
    });
    const b = mutex.run('k', () => {
      log.push('b');
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(log).toEqual(['a start']);
    first.open();
    await Promise.all([a, b]);
    expect(log).toEqual(['a start', 'a end', 'b']);
    expect(mutex.isBusy('k')).toBe(false);
  });

  it('lets different keys run side by side', async () => {
    const mutex = new KeyedMutex();
    const held = gate();
    const a = mutex.run('a', () => held.promise);
    let bRan = false;
    await mutex.run('b', () => {
      bRan = true;
    });
    expect(bRan).toBe(true);
    expect(mutex.isBusy('a')).toBe(true);
    held.open();
    await a;
  });

  it('a failed work passes its error to its caller and does not block the next', async () => {
    const mutex = new KeyedMutex();
    const failed = mutex.run('k', () => Promise.reject(new Error('boom')));
    const next = mutex.run('k', () => 'next');
    await expect(failed).rejects.toThrow('boom');
    await expect(next).resolves.toBe('next');
  });

  it('runAll holds every key and takes them in one order (no deadlock between overlapping sets)', async () => {
    const mutex = new KeyedMutex();
    const log: string[] = [];
    const held = gate();
    const started = gate();
    const one = mutex.runAll(['x', 'y'], async () => {
      log.push('one');
      started.open();
      await held.promise;
    });
    const two = mutex.runAll(['y', 'x'], () => log.push('two'));
    await started.promise;
    await mutex.run('z', () => log.push('z'));
    expect(log).toEqual(['one', 'z']);
    held.open();
    await Promise.all([one, two]);
    expect(log).toEqual(['one', 'z', 'two']);
  });
});
