/**
 * Gathering a download's bytes for the cache file's writes: the network's chunks (16–64 KiB,
 * each a fresh buffer outside V8's heap) are copied into reused buffers of one write's size, so a
 * chunk is garbage as soon as it has been copied, and never lives until a write has landed.
 *
 * Why a copy: a chunk held until its write lands (a few ms) outlives the young-generation
 * collections that droppedBuffers (base/gc.ts) asks for every 4 MiB, moves to the old generation,
 * and stays counted against its limit until a full collection. Measured on a 256 MiB cold read:
 * 4–7 full collections with the chunks held, 2–3 with the copy (17 with neither), for ~15 ms of
 * copying (docs/architecture.md, "A transfer's buffers").
 */
import { droppedBuffers } from '../base/gc.ts';

/** A buffer being filled or written; back in its pool once neither. */
class GatherBuffer {
  /** Its part being filled (one) and its pieces handed to writes that have not landed. */
  users = 1;
  filled = 0;
  /** Where the bytes not yet handed to a write start. */
  handed = 0;
  constructor(readonly bytes: Buffer) {}
}

/**
 * The gather buffers of a download manager: taken by its responses, given back when their writes
 * have landed, and kept for the next response until the manager has nothing to download (clear()).
 */
export class GatherPool {
  readonly #free: Buffer[] = [];
  readonly #size: number;
  readonly #keep: number;

  /** Buffers of `size` bytes; at most `keep` of them wait in the pool. */
  constructor(size: number, keep: number) {
    this.#size = size;
    this.#keep = keep;
  }

  get size(): number {
    return this.#size;
  }

  /** Buffers waiting for reuse (for tests). */
  get idle(): number {
    return this.#free.length;
  }

  take(): GatherBuffer {
    return new GatherBuffer(this.#free.pop() ?? Buffer.allocUnsafe(this.#size));
  }

  release(buffer: GatherBuffer): void {
    if (--buffer.users > 0) return;
    if (this.#free.length < this.#keep) this.#free.push(buffer.bytes);
  }

  /** Lets the waiting buffers go (nothing is being downloaded). */
  clear(): void {
    this.#free.length = 0;
  }
}

/** Bytes handed to one write, and what to give back once it has landed or failed. */
export interface GatheredWrite {
  readonly pieces: Buffer[];
  readonly length: number;
  done(): void;
}

/** The bytes of one response not yet handed to a write. */
export class Gather {
  readonly #pool: GatherPool;
  /** Filled parts of earlier buffers not yet handed to a write (the current buffer's part is not listed). */
  readonly #full: Array<{ buffer: GatherBuffer; bytes: Buffer }> = [];
  #current: GatherBuffer | undefined;
  #pending = 0;

  constructor(pool: GatherPool) {
    this.#pool = pool;
  }

  /** Bytes gathered and not yet handed to a write. */
  get pending(): number {
    return this.#pending;
  }

  /** Copies the chunk in; the chunk is then the caller's to drop. */
  add(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length) {
      let current = this.#current;
      if (!current || current.filled === current.bytes.length) {
        if (current) this.#retire(current);
        current = this.#current = this.#pool.take();
      }
      const n = chunk.copy(current.bytes, current.filled, at);
      current.filled += n;
      at += n;
    }
    this.#pending += chunk.length;
    droppedBuffers(chunk.length);
  }

  /** Everything gathered, for one write (nothing when nothing is pending). */
  take(): GatheredWrite | undefined {
    if (this.#pending === 0) return undefined;
    const parts = this.#full.splice(0);
    const current = this.#current;
    if (current && current.filled > current.handed) {
      current.users++;
      parts.push({ buffer: current, bytes: current.bytes.subarray(current.handed, current.filled) });
      current.handed = current.filled;
    }
    const length = this.#pending;
    this.#pending = 0;
    let released = false;
    return {
      pieces: parts.map((p) => p.bytes),
      length,
      done: () => {
        if (released) return;
        released = true;
        for (const p of parts) this.#pool.release(p.buffer);
      },
    };
  }

  /** Drops what is gathered and not handed to a write, and gives the current buffer back. */
  close(): void {
    for (const p of this.#full.splice(0)) this.#pool.release(p.buffer);
    if (this.#current) this.#pool.release(this.#current);
    this.#current = undefined;
    this.#pending = 0;
  }

  /** A full buffer: its unhanded part waits in #full; its filling is over. */
  #retire(buffer: GatherBuffer): void {
    if (buffer.filled > buffer.handed) {
      buffer.users++;
      this.#full.push({ buffer, bytes: buffer.bytes.subarray(buffer.handed, buffer.filled) });
      buffer.handed = buffer.filled;
    }
    this.#pool.release(buffer);
  }
}
