import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ReadAheadWindow } from './read-ahead.ts';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('ReadAheadWindow', () => {
  it('doubles the window for a sequential reader, up to the maximum, asking for each byte once', () => {
    const window = new ReadAheadWindow({ initialBytes: 256 * KiB, maxBytes: 2 * MiB });
    const asked: Array<{ start: number; end: number }> = [];
    const windows: number[] = [];
    for (let offset = 0; offset < 4 * MiB; offset += 128 * KiB) {
      const range = window.onRead(offset, offset + 128 * KiB, 100 * MiB);
      if (range) asked.push(range);
      windows.push(window.windowBytes);
    }
    expect(windows.slice(0, 5)).toEqual([256 * KiB, 512 * KiB, MiB, 2 * MiB, 2 * MiB]);
    // Contiguous, never overlapping, and always ahead of the reader.
    for (let i = 1; i < asked.length; i++) expect(asked[i]!.start).toBe(asked[i - 1]!.end);
    expect(asked[0]).toEqual({ start: 128 * KiB, end: 384 * KiB });
    expect(asked[asked.length - 1]!.end).toBe(4 * MiB + 2 * MiB);
  });

  it('asks for nothing on random reads and restarts small after a jump', () => {
    const window = new ReadAheadWindow({ initialBytes: 256 * KiB, maxBytes: 8 * MiB });
    expect(window.onRead(10 * MiB, 10 * MiB + 4096, 100 * MiB)).toBeUndefined();
    expect(window.onRead(50 * MiB, 50 * MiB + 4096, 100 * MiB)).toBeUndefined();
    expect(window.onRead(50 * MiB + 4096, 50 * MiB + 8192, 100 * MiB)).toEqual({ start: 50 * MiB + 8192, end: 50 * MiB + 8192 + 256 * KiB });
  });

  it('stops at the end of the file and asks again for a forgotten range', () => {
    const window = new ReadAheadWindow({ initialBytes: 256 * KiB, maxBytes: MiB });
    const first = window.onRead(0, 64 * KiB, 200 * KiB);
    expect(first).toEqual({ start: 64 * KiB, end: 200 * KiB });
    expect(window.onRead(64 * KiB, 128 * KiB, 200 * KiB)).toBeUndefined();
    window.forget(first!);
    expect(window.onRead(128 * KiB, 192 * KiB, 200 * KiB)).toEqual({ start: 192 * KiB, end: 200 * KiB });
  });

  it('never asks for bytes before the read or beyond the file, whatever the reads', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(1000), fc.integer({ min: 1, max: 200 })), { minLength: 1, maxLength: 50 }),
        fc.integer({ min: 1, max: 1200 }),
        (reads, size) => {
          const window = new ReadAheadWindow({ initialBytes: 16, maxBytes: 256, toleranceBytes: 32 });
          for (const [offset, length] of reads) {
            const end = Math.min(offset + length, size);
            if (offset >= end) continue;
            const range = window.onRead(offset, end, size);
            if (!range) continue;
            expect(range.start).toBeGreaterThanOrEqual(end);
            expect(range.end).toBeLessThanOrEqual(size);
            expect(range.end).toBeGreaterThan(range.start);
            expect(range.end - end).toBeLessThanOrEqual(256);
          }
        },
      ),
    );
  });
});
