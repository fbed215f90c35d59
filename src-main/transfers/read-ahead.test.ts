import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ReadAheadWindow, type ReadAheadRange } from './read-ahead.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

/** A sequential reader of `total` bytes in `block`-sized reads; what the window asked for, read by read. */
function readSequentially(window: ReadAheadWindow, total: number, block: number, size: number): Array<{ offset: number; range: ReadAheadRange | undefined; window: number }> {
  const out: Array<{ offset: number; range: ReadAheadRange | undefined; window: number }> = [];
  for (let offset = 0; offset < total; offset += block) {
    const range = window.onRead(offset, Math.min(size, offset + block), size);
    out.push({ offset, range, window: window.windowBytes });
  }
  return out;
}

describe('ReadAheadWindow', () => {
  it('grows the window to twice what the run has read, up to the maximum, asking for each byte once', () => {
    const window = new ReadAheadWindow({ initialBytes: 256 * KiB, maxBytes: 2 * MiB });
    const reads = readSequentially(window, 4 * MiB, 128 * KiB, 100 * MiB);
    const asked = reads.flatMap((r) => (r.range ? [r.range] : []));
    // By the bytes read, not by the number of reads: 128 KiB reads do not reach the maximum
    // window after a handful of reads.
    expect(reads.map((r) => r.window)).toEqual(reads.map((r) => Math.min(2 * MiB, Math.max(256 * KiB, 2 * (r.offset + 128 * KiB)))));
    expect(reads.slice(0, 5).map((r) => r.window)).toEqual([256 * KiB, 512 * KiB, 768 * KiB, MiB, 1280 * KiB]);
    // Contiguous, never overlapping, and always ahead of the reader.
    for (let i = 1; i < asked.length; i++) expect(asked[i]!.start).toBe(asked[i - 1]!.end);
    expect(asked[0]).toMatchObject({ start: 128 * KiB, end: 384 * KiB });
    expect(asked[asked.length - 1]!.end).toBeGreaterThanOrEqual(4 * MiB + MiB);
    expect(asked[asked.length - 1]!.end).toBeLessThanOrEqual(4 * MiB + 2 * MiB);
  });

  it('asks a request at a time once grown, keeping three quarters to a whole window ahead', () => {
    const max = 64 * MiB;
    const window = new ReadAheadWindow({ initialBytes: 256 * KiB, maxBytes: max, maxRequestBytes: 16 * MiB });
    const reads = readSequentially(window, 512 * MiB, 128 * KiB, 1024 * MiB);
    const grown = reads.findIndex((r) => r.window === max);
    expect(grown).toBeGreaterThan(0);
    let requestedUntil = 0;
    for (const [i, r] of reads.entries()) {
      if (r.range) requestedUntil = r.range.end;
      const end = r.offset + 128 * KiB;
      if (i <= grown) continue;
      if (r.range) expect(r.range.end - r.range.start).toBeGreaterThanOrEqual(16 * MiB);
      expect(requestedUntil - end).toBeGreaterThanOrEqual(max - 16 * MiB);
      expect(requestedUntil - end).toBeLessThanOrEqual(max);
    }
    // 512 MiB a request (16 MiB) at a time: about 32 of them, not one per read (4096 reads).
    const batches = reads.slice(grown + 1).filter((r) => r.range).length;
    expect(batches).toBeGreaterThanOrEqual(29);
    expect(batches).toBeLessThanOrEqual(33);
  });

  it('grows the request size with the window, up to the largest request', () => {
    const window = new ReadAheadWindow({ initialBytes: 256 * KiB, maxBytes: 64 * MiB, maxRequestBytes: 16 * MiB });
    const sizes = readSequentially(window, 64 * MiB, 128 * KiB, 1024 * MiB).flatMap((r) => (r.range ? [r.range.requestBytes] : []));
    expect(sizes[0]).toBe(64 * KiB);
    for (let i = 1; i < sizes.length; i++) expect(sizes[i]).toBeGreaterThanOrEqual(sizes[i - 1]!);
    expect(sizes.some((n) => n >= MiB && n < 4 * MiB)).toBe(true);
    expect(sizes.some((n) => n >= 4 * MiB && n < 16 * MiB)).toBe(true);
    expect(sizes[sizes.length - 1]).toBe(16 * MiB);
  });

  it('asks for nothing on random reads and restarts small after a jump', () => {
    const window = new ReadAheadWindow({ initialBytes: 256 * KiB, maxBytes: 8 * MiB });
    expect(window.onRead(10 * MiB, 10 * MiB + 4096, 100 * MiB)).toBeUndefined();
    expect(window.onRead(50 * MiB, 50 * MiB + 4096, 100 * MiB)).toBeUndefined();
    expect(window.onRead(50 * MiB + 4096, 50 * MiB + 8192, 100 * MiB)).toEqual({ start: 50 * MiB + 8192, end: 50 * MiB + 8192 + 256 * KiB, requestBytes: 64 * KiB });
    // A long run, then a jump: the window and the request size start over.
    for (let at = 50 * MiB + 8192; at < 60 * MiB; at += 128 * KiB) window.onRead(at, at + 128 * KiB, 100 * MiB);
    expect(window.windowBytes).toBe(8 * MiB);
    expect(window.onRead(5 * MiB, 5 * MiB + 4096, 100 * MiB)).toBeUndefined();
    expect(window.windowBytes).toBe(0);
    expect(window.onRead(5 * MiB + 4096, 5 * MiB + 8192, 100 * MiB)).toMatchObject({ requestBytes: 64 * KiB });
  });

  it('stops at the end of the file and asks again for a forgotten range', () => {
    const window = new ReadAheadWindow({ initialBytes: 256 * KiB, maxBytes: MiB });
    const first = window.onRead(0, 64 * KiB, 200 * KiB);
    expect(first).toMatchObject({ start: 64 * KiB, end: 200 * KiB });
    expect(window.onRead(64 * KiB, 128 * KiB, 200 * KiB)).toBeUndefined();
    window.forget(first!);
    expect(window.onRead(128 * KiB, 192 * KiB, 200 * KiB)).toMatchObject({ start: 192 * KiB, end: 200 * KiB });
  });

  it('never asks for bytes before the read or beyond the file, whatever the reads', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(1000), fc.integer({ min: 1, max: 200 })), { minLength: 1, maxLength: 50 }),
        fc.integer({ min: 1, max: 1200 }),
        (reads, size) => {
          const window = new ReadAheadWindow({ initialBytes: 16, maxBytes: 256, maxRequestBytes: 32, toleranceBytes: 32 });
          for (const [offset, length] of reads) {
            const end = Math.min(offset + length, size);
            if (offset >= end) continue;
            const range = window.onRead(offset, end, size);
            if (!range) continue;
            expect(range.start).toBeGreaterThanOrEqual(end);
            expect(range.end).toBeLessThanOrEqual(size);
            expect(range.end).toBeGreaterThan(range.start);
            expect(range.end - end).toBeLessThanOrEqual(256);
            expect(range.requestBytes).toBeGreaterThanOrEqual(1);
            expect(range.requestBytes).toBeLessThanOrEqual(32);
          }
        },
      ),
    );
  });
});
