import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { feedFile } from './hash-file.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'onemount-hash-file-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('feedFile', () => {
  it('feeds the whole file, or its first `size` bytes, across several blocks', async () => {
    const bytes = Buffer.alloc(2.5 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7) & 0xff;
    const file = path.join(dir, 'f.bin');
    writeFileSync(file, bytes);
    const whole = createHash('sha256');
    await feedFile(whole, file);
    expect(whole.digest('hex')).toBe(createHash('sha256').update(bytes).digest('hex'));
    const part = createHash('sha256');
    await feedFile(part, file, { size: 1_500_000 });
    expect(part.digest('hex')).toBe(createHash('sha256').update(bytes.subarray(0, 1_500_000)).digest('hex'));
  }, 10_000);

  it('stops with the signal reason between blocks', async () => {
    const file = path.join(dir, 'g.bin');
    writeFileSync(file, Buffer.alloc(10));
    const controller = new AbortController();
    controller.abort(new Error('stop'));
    await expect(feedFile(createHash('sha256'), file, { signal: controller.signal })).rejects.toThrow('stop');
  }, 10_000);
});
