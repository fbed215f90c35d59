/**
 * The patched fuse-native's hold on the C heap, measured in child processes (the test runner's own
 * heap is no place to):
 * - trimNativeHeap (malloc_trim): after a burst of native buffers is freed, glibc keeps all but the
 *   top of its heap; the trim hands the free pages back. One buffer is kept at the end of the burst
 *   so that glibc cannot give back the top by itself.
 * - fuse_native_malloc_arena_max (mallopt M_ARENA_MAX, which the compiled engine's loader calls
 *   first): threads that allocate after it share the arenas there are instead of each making one
 *   (counted by testing/malloc-arenas.ts).
 */
import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import { ARENA_PROBE } from './testing/malloc-arenas.ts';

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

/** The patched binding, where fuse-native loads it from (and the compiled engine's loader calls it). */
const BINDING = path.join(path.dirname(createRequire(import.meta.url).resolve('fuse-native/package.json')), 'build', 'Release', 'fuse.node');

const arenaScript = `${ARENA_PROBE}
const binding = process.getBuiltinModule('node:module').createRequire(${JSON.stringify(import.meta.url)})(${JSON.stringify(BINDING)});
const before = arenaCount();
const capped = process.argv.includes('cap') ? binding.fuse_native_malloc_arena_max(1) : undefined;
await allocateInThreads(4);
console.log(JSON.stringify({ before, after: arenaCount(), capped, refusesZero: binding.fuse_native_malloc_arena_max(0) }));
`;

describe('the binding\'s fuse_native_malloc_arena_max', () => {
  // glibc's own default, whatever this environment sets.
  const run = async (...args: string[]) => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', arenaScript, ...args], { env: { ...process.env, MALLOC_ARENA_MAX: undefined } });
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
