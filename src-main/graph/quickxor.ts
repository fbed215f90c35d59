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

export class QuickXorHash {
  private readonly fold = new Uint8Array(PERIOD);
  private readonly fold32 = new Uint32Array(this.fold.buffer);
  private position = 0; // index into fold of the next byte, i.e. length mod 160
  private length = 0n;
  private finished = false;

  update(data: Uint8Array): this {
    if (this.finished) throw new Error('QuickXorHash.update after digest');
    const fold = this.fold;
    let pos = this.position;
    const n = data.length;
    let i = 0;
    // Head: bring pos back to 0 so the body can run whole periods.
    while (i < n && pos !== 0) {
      fold[pos] = fold[pos]! ^ data[i]!;
      i++;
      pos = pos + 1 === PERIOD ? 0 : pos + 1;
    }
    const bodyEnd = i + Math.floor((n - i) / PERIOD) * PERIOD;
    if (bodyEnd > i && (data.byteOffset + i) % 4 === 0) {
      // Aligned input: fold 32 bits at a time (the fold is 40 words, a whole number of periods).
      const words = new Uint32Array(data.buffer, data.byteOffset + i, (bodyEnd - i) / 4);
      const fold32 = this.fold32;
      for (let w = 0; w < words.length; w += PERIOD / 4) {
        for (let j = 0; j < PERIOD / 4; j++) fold32[j] = fold32[j]! ^ words[w + j]!;
      }
      i = bodyEnd;
    }
    for (; i < bodyEnd; i += PERIOD) {
      for (let j = 0; j < PERIOD; j++) fold[j] = fold[j]! ^ data[i + j]!;
    }
    for (; i < n; i++) {
      fold[pos] = fold[pos]! ^ data[i]!;
      pos++;
    }
    this.position = pos;
    this.length += BigInt(n);
    return this;
  }

  /** An independent hasher in the same state (to try more input without committing to it). */
  copy(): QuickXorHash {
    if (this.finished) throw new Error('QuickXorHash.copy after digest');
    const twin = new QuickXorHash();
    twin.fold.set(this.fold);
    twin.position = this.position;
    twin.length = this.length;
    return twin;
  }

  /** The 20 raw hash bytes. */
  digestBytes(): Uint8Array {
    this.finished = true;
    const acc = new Uint8Array(WIDTH_BYTES);
    for (let j = 0; j < PERIOD; j++) {
      const b = this.fold[j]!;
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
