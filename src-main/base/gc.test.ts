import { describe, expect, it } from 'vitest';
import { collectGarbage } from './gc.ts';

function garbage(): WeakRef<object> {
  const junk: Array<{ n: number; s: string }> = [];
  for (let i = 0; i < 300_000; i++) junk.push({ n: i, s: `item ${i}` });
  return new WeakRef(junk);
}

describe('collectGarbage', () => {
  it('frees what is no longer referenced', async () => {
    const ref = garbage();
    // A WeakRef keeps its target alive until the current job ends.
    await new Promise((r) => setImmediate(r));
    collectGarbage();
    expect(ref.deref()).toBeUndefined();
  });
});
