import { describe, expect, it } from 'vitest';
import { Gather, GatherPool } from './write-gather.ts';

/** Chunks of the given sizes with distinct bytes, and their concatenation. */
function chunks(...sizes: number[]): { parts: Buffer[]; all: Buffer } {
  let n = 0;
  const parts = sizes.map((size) => Buffer.from(Array.from({ length: size }, () => n++ % 251)));
  return { parts, all: Buffer.concat(parts) };
}

describe('Gather', () => {
  it('hands out the bytes in order across buffer boundaries, copied: the chunks can be reused at once', () => {
    const pool = new GatherPool(10, 4);
    const gather = new Gather(pool);
    const { parts, all } = chunks(4, 7, 13, 3);
    for (const part of parts) {
      gather.add(part);
      part.fill(0xff);
    }
    expect(gather.pending).toBe(27);
    const write = gather.take()!;
    expect(write.length).toBe(27);
    expect(Buffer.concat(write.pieces)).toEqual(all);
    expect(gather.pending).toBe(0);
    expect(gather.take()).toBeUndefined();
  });

  it('goes on filling a buffer after part of it was handed out, and reuses a buffer only once nothing uses it', () => {
    const pool = new GatherPool(8, 4);
    const gather = new Gather(pool);
    const { parts, all } = chunks(3, 3, 6);
    gather.add(parts[0]!);
    const first = gather.take()!;
    gather.add(parts[1]!);
    const second = gather.take()!;
    // Both pieces are the same buffer's, side by side (small buffers share Node's slab: the
    // offsets say it); it is still being filled.
    expect(second.pieces[0]!.byteOffset).toBe(first.pieces[0]!.byteOffset + 3);
    first.done();
    second.done();
    expect(pool.idle).toBe(0);
    // Filling it up moves on to a second buffer; the first, whole again, goes back with its write.
    gather.add(parts[2]!);
    const third = gather.take()!;
    expect(Buffer.concat([...first.pieces, ...second.pieces, ...third.pieces])).toEqual(all);
    expect(third.pieces).toHaveLength(2);
    third.done();
    expect(pool.idle).toBe(1);
    third.done();
    expect(pool.idle).toBe(1);
    gather.close();
    expect(pool.idle).toBe(2);
    // The next response takes them instead of new ones.
    const next = new Gather(pool);
    next.add(Buffer.from('abc'));
    expect(pool.idle).toBe(1);
    expect(Buffer.concat(next.take()!.pieces).toString()).toBe('abc');
  });

  it('drops what was not handed out when closed, keeps at most its number of buffers, and lets them go when cleared', () => {
    const pool = new GatherPool(4, 2);
    const gather = new Gather(pool);
    gather.add(chunks(14).all);
    expect(gather.pending).toBe(14);
    gather.close();
    expect(gather.pending).toBe(0);
    expect(gather.take()).toBeUndefined();
    expect(pool.idle).toBe(2);
    pool.clear();
    expect(pool.idle).toBe(0);
  });

  it('gives nothing back for a write until it has landed', () => {
    const pool = new GatherPool(4, 4);
    const gather = new Gather(pool);
    gather.add(chunks(6).all);
    const write = gather.take()!;
    gather.close();
    // Both buffers are the write's until it has landed.
    expect(pool.idle).toBe(0);
    write.done();
    expect(pool.idle).toBe(2);
  });

  it('refuses a release beyond a buffer\'s uses: the buffer would sit in the pool twice', () => {
    const pool = new GatherPool(4, 4);
    const buffer = pool.take();
    pool.release(buffer);
    expect(() => pool.release(buffer)).toThrow(/released more often/);
    expect(pool.idle).toBe(1);
  });
});
