import { describe, expect, it } from 'vitest';
import { collectGarbage } from './gc.ts';

describe('collectGarbage', () => {
  it('frees what is no longer referenced', () => {
    let junk: Array<{ n: number; s: string }> | undefined = [];
    for (let i = 0; i < 300_000; i++) junk.push({ n: i, s: `item ${i}` });
    const ref = new WeakRef(junk);
    junk = undefined;
    collectGarbage();
    expect(ref.deref()).toBeUndefined();
  });
});
