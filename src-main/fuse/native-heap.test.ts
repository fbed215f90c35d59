/**
 * The patched fuse-native's hold on the C heap, measured in child processes (the test runner's own
 * heap is no place to):
 * - trimNativeHeap (malloc_trim): after a burst of native buffers is freed, glibc keeps all but the
 *   top of its heap; the trim hands the free pages back. One buffer is kept at the end of the burst
 *   so that glibc cannot give back the top by itself.
 * - Fuse.limitMallocArenas (mallopt M_ARENA_MAX, which the compiled engine's loader calls first):
 *   threads that allocate after it share the arenas there are instead of each making one. Counted
 *   in /proc/self/maps: each arena beside glibc's first is a 64 MiB reservation at a 64 MiB
 *   boundary, its start writable and the rest not.
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const script = `
import { trimNativeHeap } from ${JSON.stringify(new URL('./fuse-mount.ts', import.meta.url).pathname)};
import { collectGarbage } from ${JSON.stringify(new URL('../base/gc.ts', import.meta.url).pathname)};
const MiB = 1024 * 1024;
// 96 MiB in 64 KiB buffers: below glibc's mmap threshold, so they live in its heap.
let burst = [];
for (let i = 0; i < 1536; i++) burst.push(Buffer.allocUnsafeSlow(64 * 1024).fill(i & 0xff));
const kept = burst.pop();
burst = undefined;
// What the engine does after a burst (app/engine.ts): the collections, then the trim.
await collectGarbage();
const before = process.memoryUsage.rss();
trimNativeHeap();
const after = process.memoryUsage.rss();
console.log(JSON.stringify({ before: before / MiB, after: after / MiB, kept: kept.length }));
`;

const arenaScript = `
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
const Fuse = createRequire(${JSON.stringify(import.meta.url)})('fuse-native');
const HEAP = 64n * 1024n * 1024n;
function arenas() {
  const maps = readFileSync('/proc/self/maps', 'utf8').trim().split('\\n').map((line) => {
    const [range, perms, , , inode, name] = line.split(/\\s+/);
    const [start, end] = range.split('-').map((x) => BigInt('0x' + x));
    return { start, end, perms, anonymous: inode === '0' && !name };
  });
  let count = 0;
  for (let i = 0; i < maps.length; i++) {
    const m = maps[i];
    if (!m.anonymous || m.start % HEAP !== 0n || !m.perms.startsWith('rw')) continue;
    let end = m.end;
    for (let j = i + 1; j < maps.length && maps[j].start === end && maps[j].anonymous && end - m.start < HEAP; j++) end = maps[j].end;
    if (end - m.start === HEAP) count++;
  }
  return count;
}
const before = arenas();
const capped = process.argv.includes('cap') ? Fuse.limitMallocArenas(1) : undefined;
// Four threads that each allocate native buffers (32 KiB: from an arena, not mmap).
const worker = "const kept = []; for (let i = 0; i < 200; i++) kept.push(Buffer.allocUnsafeSlow(32768).fill(1)); require('node:worker_threads').parentPort.postMessage(kept.length);";
await Promise.all(Array.from({ length: 4 }, () => new Promise((resolve, reject) => {
  const w = new Worker(worker, { eval: true, execArgv: [] });
  w.once('message', () => w.terminate().then(resolve, reject));
  w.once('error', reject);
})));
console.log(JSON.stringify({ before, after: arenas(), capped, refusesZero: Fuse.limitMallocArenas(0) }));
`;

describe('Fuse.limitMallocArenas', () => {
  const run = async (...args: string[]) => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', arenaScript, ...args]);
    return JSON.parse(stdout) as { before: number; after: number; capped?: boolean; refusesZero: boolean };
  };

  it('makes threads that allocate afterwards share the arenas there are, where by themselves they each make one', async () => {
    const free = await run();
    // The count is right: four threads of their own made arenas of their own.
    expect(free.after).toBeGreaterThan(free.before);
    const capped = await run('--', 'cap');
    expect(capped.capped).toBe(true);
    expect(capped.after).toBe(capped.before);
    expect(capped.refusesZero).toBe(false);
  });
});

describe('trimNativeHeap', () => {
  it('gives the free pages of the C heap back to the system after a burst of buffers is freed', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
    const { before, after } = JSON.parse(stdout) as { before: number; after: number };
    // Most of the 96 MiB was still resident before the trim and is gone after it.
    expect(before - after).toBeGreaterThan(48);
  });
});
