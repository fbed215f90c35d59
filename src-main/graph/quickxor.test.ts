import { describe, expect, it } from 'vitest';
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
