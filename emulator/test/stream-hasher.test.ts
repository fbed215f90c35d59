/**
 * StreamHasher feeds socket chunks, which start at any address, straight to both hashes;
 * whatever the chunking, alignment or copies, its hashes must equal a one-shot hash of the bytes.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { QuickXorHash } from '../../src-main/graph/quickxor.ts';
import { StreamHasher } from '../src/content-store.ts';

const SIZE = 3 * 1024 * 1024 + 17;
const source = Buffer.alloc(SIZE + 8);
for (let i = 0; i < source.length; i++) source[i] = (i * 2654435761) >>> 24;

function expected(bytes: Uint8Array) {
  return {
    quickXorHash: new QuickXorHash().update(Buffer.from(bytes)).digest(),
    sha256Hash: createHash('sha256').update(bytes).digest('hex').toUpperCase(),
  };
}

describe('StreamHasher', () => {
  it.each([
    [0, 160 * 6553],
    [0, 65536],
    [1, 65536],
    [3, 1000],
    [2, 159],
    [0, 161],
    [1, 1 << 20],
  ])('matches a one-shot hash: bytes at offset %i in chunks of %i', (offset, step) => {
    const bytes = source.subarray(offset, offset + SIZE);
    const want = expected(bytes);
    const h = new StreamHasher();
    let forked = false;
    for (let at = 0; at < bytes.length; at += step) {
      h.update(bytes.subarray(at, at + step));
      if (!forked && at > bytes.length / 2) {
        // A copy taken mid-stream (a fragment tried on the side) finishes independently.
        forked = true;
        const twin = h.copy();
        twin.update(bytes.subarray(at + step));
        expect(twin.digest()).toEqual(want);
      }
    }
    expect(h.size).toBe(SIZE);
    expect(h.digest()).toEqual(want);
  });
});
