/**
 * Where file bytes live: real blobs on disk, or synthetic content (a deterministic pattern computed on
 * the fly) so that seeding a 100 000-item drive or a 1 GiB file writes nothing to disk. Either way
 * bytes are streamed, never held whole in memory.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { QuickXorHash } from '../../src-main/graph/quickxor.ts';
import { randomToken } from './ids.ts';

/** A period that is not a power of two, so two equal-sized chunks at different aligned offsets differ. */
const PATTERN_PERIOD = 1_048_583;
const CHUNK = 256 * 1024;

export interface ContentHashes {
  quickXorHash: string;
  sha256Hash: string;
}

export class ContentStore {
  private readonly pattern: Buffer;

  constructor(readonly dir: string) {
    // A fixed pseudo-random pattern (xorshift32) shared by every synthetic file; each file starts at
    // its own offset in it (its seed), so files differ from one another.
    this.pattern = Buffer.alloc(PATTERN_PERIOD + CHUNK);
    let x = 0x9e3779b9;
    for (let i = 0; i < PATTERN_PERIOD; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      this.pattern[i] = x & 0xff;
    }
    // The tail repeats the start, so a chunk read across the period's end is the same bytes a read
    // from offset 0 sees there: a file's bytes never depend on where a range starts.
    this.pattern.copy(this.pattern, PATTERN_PERIOD, 0, CHUNK);
  }

  async init(): Promise<void> {
    await mkdir(path.join(this.dir, 'blobs'), { recursive: true });
    await mkdir(path.join(this.dir, 'tmp'), { recursive: true });
  }

  tempPath(): string {
    return path.join(this.dir, 'tmp', randomToken(12));
  }

  blobPath(ref: string): string {
    if (!ref.startsWith('blob:')) throw new Error(`not a blob ref: ${ref}`);
    return path.join(this.dir, 'blobs', ref.slice(5));
  }

  /** Moves a finished temp file into the blob area and returns its ref. */
  async adopt(tempFile: string): Promise<string> {
    const name = randomToken(12);
    await rename(tempFile, path.join(this.dir, 'blobs', name));
    return `blob:${name}`;
  }

  async remove(ref: string | null | undefined): Promise<void> {
    if (ref?.startsWith('blob:')) await rm(this.blobPath(ref), { force: true });
  }

  /** Bytes [start, end) of a content ref as a stream. */
  open(ref: string, start: number, end: number): Readable {
    if (end <= start) return Readable.from([]);
    if (ref.startsWith('blob:')) return createReadStream(this.blobPath(ref), { start, end: end - 1, highWaterMark: CHUNK });
    const seed = syntheticSeed(ref);
    const pattern = this.pattern;
    let pos = start;
    return new Readable({
      highWaterMark: CHUNK,
      read() {
        if (pos >= end) {
          this.push(null);
          return;
        }
        const n = Math.min(CHUNK, end - pos);
        const at = (pos + seed) % PATTERN_PERIOD;
        // Copy: the consumer may keep the chunk while the next one is produced.
        this.push(Buffer.from(pattern.subarray(at, at + n)));
        pos += n;
      },
    });
  }

  async hashesOf(ref: string, size: number): Promise<ContentHashes> {
    const qx = new QuickXorHash();
    const sha = createHash('sha256');
    if (ref.startsWith('synthetic:') && size <= CHUNK) {
      // Seeding hashes 100 000 small files: a stream per file would cost more than the hashing.
      const at = syntheticSeed(ref) % PATTERN_PERIOD;
      const bytes = this.pattern.subarray(at, at + size);
      return { quickXorHash: qx.update(bytes).digest(), sha256Hash: sha.update(bytes).digest('hex').toUpperCase() };
    }
    for await (const chunk of this.open(ref, 0, size)) {
      qx.update(chunk as Buffer);
      sha.update(chunk as Buffer);
    }
    return { quickXorHash: qx.digest(), sha256Hash: sha.digest('hex').toUpperCase() };
  }

  async sizeOf(ref: string): Promise<number> {
    return (await stat(this.blobPath(ref))).size;
  }

  /** Writes a stream to a new temp file, hashing on the way, and returns its path, size and hashes. */
  async ingest(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts: { limit?: number } = {}): Promise<{ file: string; size: number; hashes: ContentHashes }> {
    const file = this.tempPath();
    const hasher = new StreamHasher();
    const limit = opts.limit ?? Number.POSITIVE_INFINITY;
    const checked = async function* () {
      for await (const c of source) {
        hasher.update(c);
        if (hasher.size > limit) throw new SizeLimitError(limit);
        yield c;
      }
    };
    try {
      await pipeline(Readable.from(checked(), { objectMode: false }), createWriteStream(file));
    } catch (e) {
      await rm(file, { force: true });
      throw e;
    }
    return { file, size: hasher.size, hashes: hasher.digest() };
  }
}

export class SizeLimitError extends Error {
  constructor(readonly limit: number) {
    super(`content exceeds ${limit} bytes`);
  }
}

/** quickXorHash + SHA-256 over a stream, with the byte count. */
export class StreamHasher {
  constructor(
    private readonly qx = new QuickXorHash(),
    private readonly sha = createHash('sha256'),
    public size = 0,
  ) {}

  /** A hasher in the same state, to feed bytes that may still be thrown away. */
  copy(): StreamHasher {
    return new StreamHasher(this.qx.copy(), this.sha.copy(), this.size);
  }

  update(chunk: Uint8Array): void {
    this.sha.update(chunk);
    this.qx.update(chunk);
    this.size += chunk.length;
  }

  digest(): ContentHashes {
    return { quickXorHash: this.qx.digest(), sha256Hash: this.sha.digest('hex').toUpperCase() };
  }
}

export function syntheticRef(seed: number): string {
  return `synthetic:${seed % PATTERN_PERIOD}`;
}

function syntheticSeed(ref: string): number {
  const m = /^synthetic:(\d+)$/.exec(ref);
  if (!m) throw new Error(`unknown content ref: ${ref}`);
  return Number(m[1]);
}
