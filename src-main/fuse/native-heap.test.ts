/**
 * trimNativeHeap (the patched fuse-native's malloc_trim): after a burst of native buffers is freed,
 * glibc keeps all but the top of its heap; the trim hands the free pages back. Measured in a child
 * process (the test runner's own heap is no place to), with one buffer kept at the end of the burst
 * so that glibc cannot give back the top by itself.
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

describe('trimNativeHeap', () => {
  it('gives the free pages of the C heap back to the system after a burst of buffers is freed', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script]);
    const { before, after } = JSON.parse(stdout) as { before: number; after: number };
    // Most of the 96 MiB was still resident before the trim and is gone after it.
    expect(before - after).toBeGreaterThan(48);
  });
});
