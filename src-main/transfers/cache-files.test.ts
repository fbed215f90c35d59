import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { cacheFilePath, resetCacheFile } from './cache-files.ts';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'onemount-cache-files-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('resetCacheFile', () => {
  it('starts a version afresh: the old bytes are gone, the file is the new size and all holes', async () => {
    const file = cacheFilePath(dir, 'item-1');
    await resetCacheFile(file, 0);
    await writeFile(file, Buffer.alloc(10_000, 0x61));
    await resetCacheFile(file, 4096);
    const bytes = await readFile(file);
    expect(bytes.length).toBe(4096);
    expect(bytes.equals(Buffer.alloc(4096))).toBe(true);
    // Sparse: a version's file takes no disk before its bytes arrive (a 1 GiB file is not 1 GiB of zeros).
    expect((await stat(file)).blocks).toBe(0);
    await resetCacheFile(file, 0);
    expect((await stat(file)).size).toBe(0);
  });

  it('creates the first file of its folder with the folder, both private to the user', async () => {
    const file = cacheFilePath(dir, 'item-2');
    await resetCacheFile(file, 100);
    expect((await stat(path.dirname(file))).mode & 0o777).toBe(0o700);
    const st = await stat(file);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.size).toBe(100);
  });
});
