import { describe, expect, it } from 'vitest';
import { collectWhenSettled } from './gc.ts';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

// Run where the engine runs (a plain Node process through tsx): the test runner's own process
// keeps references of its own and is no place to measure collections.
const script = `
import { collectGarbage } from ${JSON.stringify(new URL('./gc.ts', import.meta.url).pathname)};
const holder = { junk: [] };
for (let i = 0; i < 500000; i++) holder.junk.push({ n: i, s: 'item ' + i });
setImmediate(async () => {
  holder.junk = undefined;
  const before = process.memoryUsage().heapUsed;
  await collectGarbage();
  const after = process.memoryUsage().heapUsed;
  console.log(JSON.stringify({ before, after }));
});
`;

describe('collectGarbage', () => {
  it('gives back the heap that garbage held, in an ordinary Node process', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
    const { before, after } = JSON.parse(stdout) as { before: number; after: number };
    // 500 000 small objects and strings are tens of MiB; most of it must be gone.
    expect(before - after).toBeGreaterThan(10 * 1024 * 1024);
  });
});

// A burst in a process of its own under the engine's flags, watched by the engine's collector with
// its own measure of memory: ~45 MiB held across ticks (the old generation), then dropped.
const burstScript = `
import { applyEngineV8Flags } from ${JSON.stringify(new URL('./v8-flags.ts', import.meta.url).pathname)};
import { collectGarbage, collectWhenSettled } from ${JSON.stringify(new URL('./gc.ts', import.meta.url).pathname)};
applyEngineV8Flags();
const controller = new AbortController();
const collections = [];
const watch = collectWhenSettled({
  everyMs: 25,
  growthBytes: 16 * 1024 * 1024,
  signal: controller.signal,
  collect: collectGarbage,
  onCollected: (e) => {
    collections.push({ ...e, afterTheBurst: dropped });
    if (dropped) controller.abort();
  },
  onError: (error) => { throw error; },
});
let held = [];
let dropped = false;
for (let i = 0; i < 40; i++) {
  held.push(Array.from({ length: 16384 }, (_, k) => ({ k, s: 'x' + k })));
  await new Promise((resolve) => setTimeout(resolve, 5));
}
held = [];
dropped = true;
setTimeout(() => controller.abort(), 10000);
await watch;
console.log(JSON.stringify({ collections }));
`;

describe('collectWhenSettled', () => {
  const MiB = 1024 * 1024;

  it('sees a real burst in resident memory once it is over, and gives it back', { timeout: 60_000 }, async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', burstScript]);
    const { collections } = JSON.parse(stdout) as { collections: Array<{ before: number; after: number; afterTheBurst: boolean }> };
    // One may come in the middle of the burst (a period in which it grew little); one comes after it.
    const after = collections.filter((c) => c.afterTheBurst);
    expect(after).toHaveLength(1);
    expect(after[0]!.before - after[0]!.after).toBeGreaterThan(16 * MiB);
  });

  /** Runs the collector over heap readings (the first at its start, one per look after) and returns those at which it collected. */
  async function collectedAt(readings: number[], afterCollect: number, options: { countFrom?: number; failFirst?: boolean } = {}): Promise<number[]> {
    const controller = new AbortController();
    const seen: number[] = [];
    const reported: number[] = [];
    const failures: unknown[] = [];
    let failNext = options.failFirst === true;
    let current = readings[0]!;
    let next = 1;
    await collectWhenSettled({
      everyMs: 1000,
      growthBytes: 16 * MiB,
      signal: controller.signal,
      ...(options.countFrom !== undefined ? { countFrom: options.countFrom } : {}),
      memory: () => current,
      collect: () => {
        if (failNext) {
          failNext = false;
          throw new Error('no collection this time');
        }
        seen.push(current);
        current = afterCollect;
      },
      onError: (error) => failures.push(error),
      onCollected: (e) => {
        expect(e.after).toBe(afterCollect);
        reported.push(e.before);
      },
      // Each wait is one period: the heap has moved on to the next reading, or the run is over.
      wait: async () => {
        if (next < readings.length) current = readings[next++]!;
        else controller.abort();
      },
    });
    expect(reported).toEqual(seen);
    expect(failures).toHaveLength(options.failFirst === true ? 1 : 0);
    return seen;
  }

  it('collects once a burst has grown the heap and stopped growing, not while it grows', async () => {
    // 20 → 60 MiB over three periods (growing: no collection), then flat at 60 for two: one collection.
    const seen = await collectedAt([20 * MiB, 30 * MiB, 45 * MiB, 60 * MiB, 60 * MiB, 60 * MiB], 22 * MiB);
    expect(seen).toEqual([60 * MiB]);
  });

  it('leaves small growth alone, and counts growth from what V8\'s own collections leave', async () => {
    // +10 MiB settles (below the threshold); V8 collects down to 15, and +12 from there is still small.
    expect(await collectedAt([20 * MiB, 30 * MiB, 30 * MiB, 15 * MiB, 27 * MiB, 27 * MiB], 10 * MiB)).toEqual([]);
    // From that floor of 15, settling at 32 MiB is 17 MiB of growth: collected.
    expect(await collectedAt([20 * MiB, 15 * MiB, 32 * MiB, 32 * MiB, 32 * MiB], 16 * MiB)).toEqual([32 * MiB]);
  });

  it('waits for two quiet periods: one in the middle of a burst is not its end', async () => {
    // Quiet once at 40 (no collection), the burst goes on to 70, then stays: collected at 70.
    expect(await collectedAt([20 * MiB, 40 * MiB, 40 * MiB, 70 * MiB, 70 * MiB, 70 * MiB], 22 * MiB)).toEqual([70 * MiB]);
  });

  it('counts from 0 when told the heap already holds a burst (an enumeration before the watch): collected once it stays', async () => {
    expect(await collectedAt([40 * MiB, 40 * MiB, 40 * MiB], 20 * MiB)).toEqual([]);
    expect(await collectedAt([40 * MiB, 40 * MiB, 40 * MiB], 20 * MiB, { countFrom: 0 })).toEqual([40 * MiB]);
  });

  it('goes on after a collection that failed: reported, not tried again at once, the next burst collected', async () => {
    // The first attempt (at 40) fails; flat at 40 is no new growth; the next burst settles at 60.
    expect(await collectedAt([20 * MiB, 40 * MiB, 40 * MiB, 40 * MiB, 40 * MiB, 60 * MiB, 60 * MiB, 60 * MiB], 22 * MiB, { failFirst: true })).toEqual([60 * MiB]);
  });
});
