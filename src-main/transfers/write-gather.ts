/**
 * Gathering a download's bytes for the cache file's writes: the network's chunks (16–64 KiB,
 * each a fresh buffer outside V8's heap) are copied into pooled buffers as they arrive, so a chunk
 * is garbage at once and never lives until a write has landed; a write takes what has gathered
 * (the parts of one or more buffers).
 *
 * Why a copy: a chunk held until its write lands (a few ms) outlives the young-generation
 * collections that droppedBuffers (base/gc.ts) asks for every 4 MiB, moves to the old generation,
 * and stays counted against its limit until a full collection. Measured on a 256 MiB cold read:
 * 4–7 full collections with the chunks held, 2–3 with the copy (17 with neither), for ~15 ms of
 * copying (docs/architecture.md, "A transfer's buffers").
 */

/** A buffer being filled or written; back in its pool once neither. */
class GatherBuffer {
  /** Its filling (one, until it is full or the response ends) and its parts in writes not yet landed. */
  users = 1;
  filled = 0;
  /** Where the bytes not yet handed to a write start. */
  handed = 0;
  constructor(readonly bytes: Buffer) {}
}

interface Part {
  readonly buffer: GatherBuffer;
  readonly bytes: Buffer;
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

  /** Buffers waiting for reuse (for tests). */
  get idle(): number {
    return this.#free.length;
  }

  take(): GatherBuffer {
    return new GatherBuffer(this.#free.pop() ?? Buffer.allocUnsafe(this.#size));
  }

  release(buffer: GatherBuffer): void {
    // Twice would put one buffer in the pool twice: two responses writing into the same bytes.
    if (buffer.users <= 0) throw new Error('a gather buffer was released more often than it was used');
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
  readonly #full: Part[] = [];
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
        if (current) {
          // Full: its unhanded part waits for the next write; its filling is over.
          this.#handOut(current, this.#full);
          this.#pool.release(current);
        }
        current = this.#current = this.#pool.take();
      }
      const n = chunk.copy(current.bytes, current.filled, at);
      current.filled += n;
      at += n;
    }
    this.#pending += chunk.length;
  }

  /** Everything gathered, for one write (nothing when nothing is pending). */
  take(): GatheredWrite | undefined {
    if (this.#pending === 0) return undefined;
    const parts = this.#full.splice(0);
    if (this.#current) this.#handOut(this.#current, parts);
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

  /** The buffer's bytes not yet handed to a write, as a part that holds the buffer until released. */
  #handOut(buffer: GatherBuffer, into: Part[]): void {
    if (buffer.filled === buffer.handed) return;
    buffer.users++;
    into.push({ buffer, bytes: buffer.bytes.subarray(buffer.handed, buffer.filled) });
    buffer.handed = buffer.filled;
  }
}
