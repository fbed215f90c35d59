import { afterEach, describe, expect, it } from 'vitest';
import { startFinished } from './code-cache-hook.ts';

const HOOK = Symbol.for('onemount.codeCache.started');
const slot = globalThis as Record<symbol, unknown>;

describe('startFinished', () => {
  afterEach(() => {
    delete slot[HOOK];
  });

  it("calls the loader's hook when the compiled engine's loader registered one, and says which cache the start found", () => {
    let calls = 0;
    slot[HOOK] = Object.assign(() => calls++, { found: 'build' });
    expect(startFinished()).toBe('build');
    expect(calls).toBe(1);
    slot[HOOK] = () => calls++;
    expect(startFinished()).toBe('none');
    expect(calls).toBe(2);
  });

  it('does nothing without a loader (the engine run from its sources)', () => {
    expect(startFinished()).toBeUndefined();
  });
});
