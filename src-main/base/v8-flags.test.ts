import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ENGINE_V8_FLAGS } from './v8-flags.ts';

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

// A burst whose objects live a while and then become garbage (the pages of a large listing), under
// the engine's flags or the same without one of them: the largest the heap grows meanwhile.
const burstPeak = `
import { ENGINE_V8_FLAGS } from ${JSON.stringify(new URL('./v8-flags.ts', import.meta.url).pathname)};
import v8 from 'node:v8';
for (const flag of ENGINE_V8_FLAGS) if (flag !== process.env.WITHOUT_FLAG) v8.setFlagsFromString(flag);
let ring = [];
let peak = 0;
for (let round = 0; round < 600; round++) {
  ring.push(Array.from({ length: 4096 }, (_, k) => ({ k, s: 'x' + k })));
  if (ring.length > 64) ring.shift();
  if (round % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
  peak = Math.max(peak, v8.getHeapStatistics().total_heap_size);
}
console.log(JSON.stringify({ peak }));
`;

describe('the engine V8 flags', () => {
  it('keep a burst\'s heap lower: V8 collects once it has grown 30 % (--heap-growing-percent)', { timeout: 60_000 }, async () => {
    const peakOf = async (without?: string) => {
      const env = without ? { ...process.env, WITHOUT_FLAG: without } : process.env;
      const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', burstPeak], { env });
      return (JSON.parse(stdout) as { peak: number }).peak;
    };
    const flag = ENGINE_V8_FLAGS.find((f) => f.startsWith('--heap-growing-percent='));
    expect(flag).toBeDefined();
    const [withIt, withoutIt] = await Promise.all([peakOf(), peakOf(flag)]);
    // Measured: 45–50 MiB against 105–135 MiB.
    expect(withIt).toBeLessThan(withoutIt * 0.6);
  });

  it('keep the bytecode of a function run once through many full collections (--no-flush-bytecode)', { timeout: 60_000 }, async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
    const { before, after, fullCollections } = JSON.parse(stdout) as { before: number; after: number; fullCollections: number };
    // V8 flushes after five collections without a call: eight must have happened for this to say anything.
    expect(fullCollections).toBeGreaterThanOrEqual(8);
    expect(after).toBe(before);
  });
});
