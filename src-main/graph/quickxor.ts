/**
 * quickXorHash, OneDrive's content hash (docs/graph-api.md §12).
 *
 * Byte i is XORed into a 160-bit ring at bit offset (11·i) mod 160. That offset repeats every 160
 * bytes, so the hot loop only folds input into a 160-byte buffer by plain XOR; the fold is spread
 * onto the ring once, in digest(). Memory use is constant whatever the input size.
 */
import { feedFile } from '../base/hash-file.ts';

const WIDTH_BYTES = 20;
const PERIOD = 160;
const SHIFT = 11;
const PERIOD_WORDS = PERIOD / 4;

export class QuickXorHash {
  /**
   * Four folds, one per alignment of the input to 4-byte words: byte m of fold k belongs at
   * period position (k + m) mod 160. Whole words of any input are XORed into the fold matching
   * where the input's first aligned word falls, so no alignment takes the byte loop; digest() adds
   * the four up.
   */
  private readonly folds = [0, 1, 2, 3].map(() => new Uint8Array(PERIOD));
  private readonly folds32 = this.folds.map((f) => new Uint32Array(f.buffer));
  private position = 0; // period position of the next byte, i.e. length mod 160
  private length = 0n;
  private finished = false;

  update(data: Uint8Array): this {
    if (this.finished) throw new Error('QuickXorHash.update after digest');
    const fold = this.folds[0]!;
    let pos = this.position;
    const n = data.length;
    let i = 0;
    // Head: bytes up to the first 4-byte-aligned address.
    const head = Math.min(n, (4 - (data.byteOffset & 3)) & 3);
    for (; i < head; i++) {
      fold[pos] = fold[pos]! ^ data[i]!;
      pos = pos + 1 === PERIOD ? 0 : pos + 1;
    }
    const words = (n - i) >>> 2;
    if (words > 0) {
      // Word w lands at period positions pos + 4w …: fold (pos mod 4), word ((pos >> 2) + w) mod 40.
      const src = new Uint32Array(data.buffer, data.byteOffset + i, words);
      const dst = this.folds32[pos & 3]!;
      let j = pos >>> 2;
      const shift = pos & 3;
      let w = 0;
      // Up to the fold's end once, then whole periods straight through, then the rest.
      for (; w < words && j !== 0 && j < PERIOD_WORDS; w++, j++) dst[j] = dst[j]! ^ src[w]!;
      if (j === PERIOD_WORDS) j = 0;
      const wholeEnd = w + Math.floor((words - w) / PERIOD_WORDS) * PERIOD_WORDS;
      foldPeriods(dst, src, w, wholeEnd);
      w = wholeEnd;
      for (; w < words; w++, j++) dst[j] = dst[j]! ^ src[w]!;
      i += words * 4;
      pos = ((j * 4 + shift) % PERIOD) | 0;
    }
    for (; i < n; i++) {
      fold[pos] = fold[pos]! ^ data[i]!;
      pos = pos + 1 === PERIOD ? 0 : pos + 1;
    }
    this.position = pos;
    this.length += BigInt(n);
    return this;
  }

  /** An independent hasher in the same state (to try more input without committing to it). */
  copy(): QuickXorHash {
    if (this.finished) throw new Error('QuickXorHash.copy after digest');
    const twin = new QuickXorHash();
    for (let k = 0; k < 4; k++) twin.folds[k]!.set(this.folds[k]!);
    twin.position = this.position;
    twin.length = this.length;
    return twin;
  }

  /** The 20 raw hash bytes. */
  digestBytes(): Uint8Array {
    this.finished = true;
    const acc = new Uint8Array(WIDTH_BYTES);
    const fold = new Uint8Array(PERIOD);
    for (let k = 0; k < 4; k++) {
      const shifted = this.folds[k]!;
      for (let m = 0; m < PERIOD; m++) fold[(k + m) % PERIOD]! ^= shifted[m]!;
    }
    for (let j = 0; j < PERIOD; j++) {
      const b = fold[j]!;
      if (b === 0) continue;
      const bit = (SHIFT * j) % PERIOD;
      const v = b << (bit % 8);
      const at = bit >> 3;
      acc[at]! ^= v & 0xff;
      acc[(at + 1) % WIDTH_BYTES]! ^= v >> 8;
    }
    let len = this.length;
    for (let k = 0; k < 8; k++) {
      acc[12 + k]! ^= Number(len & 0xffn);
      len >>= 8n;
    }
    return acc;
  }

  /** Base64, as the Graph API shows it. */
  digest(): string {
    return Buffer.from(this.digestBytes()).toString('base64');
  }
}

/**
 * dst[k] ^= src[w + k] for every whole period [w, w + 40) of src[from … to). Eight running words
 * are kept in locals per pass over the input (five passes): V8 holds them in registers, where a
 * loop over dst loads and stores memory for every word (2.5–3× slower, the hot loop of every
 * upload's and download's hash).
 */
function foldPeriods(dst: Uint32Array, src: Uint32Array, from: number, to: number): void {
  for (let g = 0; g < PERIOD_WORDS; g += 8) {
    let a0 = dst[g]!, a1 = dst[g + 1]!, a2 = dst[g + 2]!, a3 = dst[g + 3]!;
    let a4 = dst[g + 4]!, a5 = dst[g + 5]!, a6 = dst[g + 6]!, a7 = dst[g + 7]!;
    for (let w = from + g; w < to; w += PERIOD_WORDS) {
      a0 ^= src[w]!;
      a1 ^= src[w + 1]!;
      a2 ^= src[w + 2]!;
      a3 ^= src[w + 3]!;
      a4 ^= src[w + 4]!;
      a5 ^= src[w + 5]!;
      a6 ^= src[w + 6]!;
      a7 ^= src[w + 7]!;
    }
    dst[g] = a0;
    dst[g + 1] = a1;
    dst[g + 2] = a2;
    dst[g + 3] = a3;
    dst[g + 4] = a4;
    dst[g + 5] = a5;
    dst[g + 6] = a6;
    dst[g + 7] = a7;
  }
}

export function quickXorHash(data: Uint8Array): string {
  return new QuickXorHash().update(data).digest();
}

/** The quickXorHash of a file (its first `size` bytes when given), through the one hashing loop. */
export async function quickXorHashFile(path: string, options: { size?: number; signal?: AbortSignal } = {}): Promise<string> {
  const hash = new QuickXorHash();
  await feedFile(hash, path, options);
  return hash.digest();
}

/** Hashes are compared as raw bytes (base64 is case-sensitive). */
export function sameQuickXorHash(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  return Buffer.from(a, 'base64').equals(Buffer.from(b, 'base64'));
}
