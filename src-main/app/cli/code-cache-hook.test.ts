import { afterEach, describe, expect, it } from 'vitest';
import { startFinished } from './code-cache-hook.ts';

const HOOK = Symbol.for('onemount.codeCache.started');
const slot = globalThis as Record<symbol, unknown>;

describe('startFinished', () => {
  afterEach(() => {
    delete slot[HOOK];
  });

  it("calls the loader's hook when the compiled engine's loader registered one", () => {
    let calls = 0;
    slot[HOOK] = () => calls++;
    startFinished();
    expect(calls).toBe(1);
  });

  it('does nothing without a loader (the engine run from its sources)', () => {
    expect(() => startFinished()).not.toThrow();
  });
});
