import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { QuickXorHash, quickXorHash, quickXorHashFile, sameQuickXorHash } from './quickxor.ts';

// Published vectors (rclone's quickxorhash_test.go), see docs/graph-api.md §12.
const vectors: Array<[string, string]> = [
  ['', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='],
  ['Sg==', 'SgAAAAAAAAAAAAAAAQAAAAAAAAA='],
  ['tbQ=', 'taAFAAAAAAAAAAAAAgAAAAAAAAA='],
  ['2fuxhBJXtpWFe8dOfdGeHw==', 'O9tHLAghgSvYohKFyMMxnNCHaHg='],
  ['T6LYJIfDh81JrAK309H2JMJTXis=', 'zBTHrspn3mEcohlJdIUAbjGNaNg='],
  ['NbYXsp5/K6mR+NmHwExjvWeWDJFnXTKWVlzYHoesp2E=', 'wjuAuWDiq04qDt1R8hHWDDcwVoQ='],
];

/** Bit-by-bit transcription of the spec, used as an oracle for long inputs. */
function reference(data: Uint8Array): string {
  const acc = new Uint8Array(20);
  for (let i = 0; i < data.length; i++) {
    const p = (11 * i) % 160;
    const v = data[i]! << (p % 8);
    acc[Math.floor(p / 8)]! ^= v & 0xff;
    acc[(Math.floor(p / 8) + 1) % 20]! ^= v >> 8;
  }
  let len = BigInt(data.length);
  for (let k = 0; k < 8; k++) {
    acc[12 + k]! ^= Number(len & 0xffn);
    len >>= 8n;
  }
  return Buffer.from(acc).toString('base64');
}

describe('quickXorHash', () => {
  it.each(vectors)('matches the published vector for %s', (input, expected) => {
    expect(quickXorHash(Buffer.from(input, 'base64'))).toBe(expected);
  });

  it('hashes "hello world" as the spec example says', () => {
    expect(quickXorHash(Buffer.from('hello world'))).toBe('aCgDG9jwBhDc4Q1yawMZAAAAAAA=');
  });

  it('agrees with the bitwise reference for long inputs and any chunking', () => {
    const data = Buffer.alloc(10_007);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919 + 13) & 0xff;
    const expected = reference(data);
    expect(quickXorHash(data)).toBe(expected);
    for (const chunk of [1, 3, 159, 160, 161, 1000, 4096]) {
      const h = new QuickXorHash();
      for (let at = 0; at < data.length; at += chunk) h.update(data.subarray(at, at + chunk));
      expect(h.digest()).toBe(expected);
    }
  });

  it('hashes a file, or its first bytes, block by block', async () => {
    const data = Buffer.alloc(2.5 * 1024 * 1024);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const dir = mkdtempSync(path.join(tmpdir(), 'onemount-qxh-'));
    try {
      const file = path.join(dir, 'f.bin');
      writeFileSync(file, data);
      expect(await quickXorHashFile(file)).toBe(quickXorHash(data));
      expect(await quickXorHashFile(file, { size: 1_000_001 })).toBe(quickXorHash(data.subarray(0, 1_000_001)));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 10_000);

  it('gives the one-shot answer for random split points at every memory alignment', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 0, max: 3000 }),
        fc.array(fc.nat(3000), { maxLength: 12 }),
        fc.integer(),
        (offset, size, cuts, seed) => {
          // One backing buffer, the data starting `offset` bytes in: chunk views start anywhere.
          const backing = new Uint8Array(size + 3);
          for (let i = 0; i < backing.length; i++) backing[i] = (Math.imul(i + 1, 2654435761) ^ seed) >>> 24;
          const data = backing.subarray(offset, offset + size);
          const points = [...new Set(cuts.map((c) => c % (size + 1)))].sort((a, b) => a - b);
          const h = new QuickXorHash();
          let at = 0;
          for (const p of [...points, size]) {
            h.update(data.subarray(at, p));
            at = p;
          }
          expect(h.digest()).toBe(reference(data));
        },
      ),
    );
  });

  it('copies its state mid-period at an unaligned address', () => {
    const backing = Buffer.alloc(4001);
    for (let i = 0; i < backing.length; i++) backing[i] = (i * 131 + 5) & 0xff;
    const data = backing.subarray(1);
    const h = new QuickXorHash().update(data.subarray(0, 1001));
    const twin = h.copy();
    h.update(data.subarray(1001));
    twin.update(data.subarray(1001, 2003));
    expect(h.digest()).toBe(reference(data));
    expect(twin.digest()).toBe(reference(data.subarray(0, 2003)));
  });

  it('copies its state: the copy and the original go on independently', () => {
    const data = Buffer.alloc(5000);
    for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
    const h = new QuickXorHash().update(data.subarray(0, 1234));
    const twin = h.copy();
    twin.update(Buffer.from('a different ending'));
    h.update(data.subarray(1234));
    expect(h.digest()).toBe(quickXorHash(data));
    expect(twin.digest()).toBe(quickXorHash(Buffer.concat([data.subarray(0, 1234), Buffer.from('a different ending')])));
  });

  it('refuses updates after digest and compares hashes by bytes', () => {
    const h = new QuickXorHash();
    h.digest();
    expect(() => h.update(new Uint8Array(1))).toThrow();
    expect(sameQuickXorHash('aCgDG9jwBhDc4Q1yawMZAAAAAAA=', 'aCgDG9jwBhDc4Q1yawMZAAAAAAA=')).toBe(true);
    expect(sameQuickXorHash('aCgDG9jwBhDc4Q1yawMZAAAAAAA=', undefined)).toBe(false);
  });
});
