import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

// A function run once, then V8's own full collections (allocation makes them, as a long session
// does): its bytecode must still be there for the code cache written at exit (engine-loader.js).
// In a child process: the flags are the engine's, not the test runner's.
const script = `
import { applyEngineV8Flags } from ${JSON.stringify(new URL('./v8-flags.ts', import.meta.url).pathname)};
import vm from 'node:vm';
import { PerformanceObserver, constants } from 'node:perf_hooks';
applyEngineV8Flags();
let fullCollections = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (e.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR) fullCollections++;
}).observe({ entryTypes: ['gc'] });
const code = new vm.Script('function once(n) { let s = n; ' + 's = (s * 31 + 7) % 1000003; '.repeat(400) + 'return s; } once(1);');
code.runInThisContext();
const before = code.createCachedData().length;
let held = [];
for (let round = 0; round < 2000 && fullCollections < 8; round++) {
  for (let i = 0; i < 20000; i++) held.push({ i, s: 'x' + i });
  if (held.length > 400000) held = [];
  await new Promise((resolve) => setImmediate(resolve));
}
console.log(JSON.stringify({ before, after: code.createCachedData().length, fullCollections }));
`;

describe('the engine V8 flags', () => {
  it('keep the bytecode of a function run once through many full collections (--no-flush-bytecode)', { timeout: 60_000 }, async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
    const { before, after, fullCollections } = JSON.parse(stdout) as { before: number; after: number; fullCollections: number };
    // V8 flushes after five collections without a call: eight must have happened for this to say anything.
    expect(fullCollections).toBeGreaterThanOrEqual(8);
    expect(after).toBe(before);
  });
});
