import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { closeSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SpareCacheFiles } from './spare-cache-files.ts';

let dir: string;
let spareDir: string;
let errors: unknown[];
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'onemount-spares-'));
  spareDir = path.join(dir, 'spare');
  errors = [];
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const spareFiles = (keep: number, now?: () => number) => new SpareCacheFiles({ dir: spareDir, keep, retryMs: 60_000, onError: (e) => errors.push(e), ...(now ? { now } : {}) });

describe('SpareCacheFiles', () => {
  it('makes its spares once the first is asked for, then moves one into place per new file and makes it again', async () => {
    const spares = spareFiles(3);
    await mkdir(path.join(dir, 'ab'));
    // Nothing is made before it is needed: a manager that never creates a file leaves no folder.
    await expect(stat(spareDir)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(spares.take(path.join(dir, 'ab', 'first'))).toBeUndefined();
    await spares.filled();
    expect(await readdir(spareDir)).toHaveLength(3);
    expect((await stat(spareDir)).mode & 0o777).toBe(0o700);

    const target = path.join(dir, 'ab', 'second');
    const fd = spares.take(target);
    expect(fd).toBeTypeOf('number');
    writeSync(fd!, Buffer.from('hello'));
    closeSync(fd!);
    expect(await readFile(target, 'utf8')).toBe('hello');
    expect((await stat(target)).mode & 0o777).toBe(0o600);
    await spares.filled();
    expect(await readdir(spareDir)).toHaveLength(3);
    await spares.close();
    expect(errors).toEqual([]);
  });

  it('leaves the file to the caller when its folder is missing, and keeps the spare', async () => {
    const spares = spareFiles(2);
    spares.take(path.join(dir, 'ab', 'x'));
    await spares.filled();
    expect(spares.take(path.join(dir, 'cd', 'y'))).toBeUndefined();
    await spares.filled();
    expect(await readdir(spareDir)).toHaveLength(2);
    await mkdir(path.join(dir, 'cd'));
    expect(spares.take(path.join(dir, 'cd', 'y'))).toBeTypeOf('number');
    await spares.close();
    expect(errors).toEqual([]);
  });

  it('makes the folders new files go into after the first spares, where missing, and leaves those present as they are', async () => {
    const folders = ['00', '01', 'ff'].map((n) => path.join(dir, n));
    await mkdir(folders[1]!, { mode: 0o755 });
    const spares = new SpareCacheFiles({ dir: spareDir, keep: 2, retryMs: 60_000, onError: (e) => errors.push(e), folders });
    expect(spares.take(path.join(folders[0]!, 'first'))).toBeUndefined();
    await spares.filled();
    for (const folder of folders) expect((await stat(folder)).isDirectory()).toBe(true);
    expect((await stat(folders[0]!)).mode & 0o777).toBe(0o700);
    expect((await stat(folders[2]!)).mode & 0o777).toBe(0o700);
    expect((await stat(folders[1]!)).mode & 0o777).toBe(0o755);
    expect(spares.take(path.join(folders[2]!, 'second'))).toBeTypeOf('number');
    await spares.close();
    expect(errors).toEqual([]);
  });

  it('tells a folder it cannot make once, and goes on making spares', async () => {
    // A file where the folders' folder should be.
    await writeFile(path.join(dir, 'cache'), 'in the way');
    const folders = ['00', '01'].map((n) => path.join(dir, 'cache', n));
    const spares = new SpareCacheFiles({ dir: spareDir, keep: 2, retryMs: 60_000, onError: (e) => errors.push(e), folders });
    spares.take(path.join(dir, 'x'));
    await spares.filled();
    expect(errors).toHaveLength(1);
    expect(spares.take(path.join(dir, 'y'))).toBeTypeOf('number');
    await spares.filled();
    expect(spares.take(path.join(dir, 'z'))).toBeTypeOf('number');
    await spares.close();
    expect(errors).toHaveLength(1);
  });

  it('uses the empty spares an earlier run left and removes anything else found among them', async () => {
    await mkdir(spareDir, { recursive: true });
    await writeFile(path.join(spareDir, 'left-empty'), '');
    await writeFile(path.join(spareDir, 'left-written'), 'not a spare');
    await mkdir(path.join(spareDir, 'a-folder'));
    const spares = spareFiles(2);
    expect(spares.take(path.join(dir, 'x'))).toBeUndefined();
    await spares.filled();
    const names = await readdir(spareDir);
    expect(names).toContain('left-empty');
    expect(names).not.toContain('left-written');
    expect(names).not.toContain('a-folder');
    expect(names).toHaveLength(2);
    await spares.close();
  });

  it('starts over from the folder when its spares were taken away', async () => {
    const spares = spareFiles(2);
    spares.take(path.join(dir, 'x'));
    await spares.filled();
    await rm(spareDir, { recursive: true });
    expect(spares.take(path.join(dir, 'y'))).toBeUndefined();
    await spares.filled();
    expect(spares.take(path.join(dir, 'z'))).toBeTypeOf('number');
    expect((await stat(path.join(dir, 'z'))).size).toBe(0);
    await spares.close();
    expect(errors).toEqual([]);
  });

  it('tells a failing fill once and tries again only after a while, new files making their own meanwhile', async () => {
    // A file where the spares' folder should be: every fill fails.
    await writeFile(spareDir, 'in the way');
    let now = 1_000;
    const spares = spareFiles(2, () => now);
    for (let i = 0; i < 5; i++) {
      expect(spares.take(path.join(dir, `f${i}`))).toBeUndefined();
      await spares.filled();
    }
    expect(errors).toHaveLength(1);
    await rm(spareDir);
    expect(spares.take(path.join(dir, 'g'))).toBeUndefined();
    await spares.filled();
    await expect(stat(spareDir)).rejects.toMatchObject({ code: 'ENOENT' });
    now += 60_000;
    expect(spares.take(path.join(dir, 'h'))).toBeUndefined();
    await spares.filled();
    expect(await readdir(spareDir)).toHaveLength(2);
    expect(spares.take(path.join(dir, 'i'))).toBeTypeOf('number');
    await spares.close();
    expect(errors).toHaveLength(1);
  });

  it('tells a move refused for another reason than a missing folder once, as a failed fill, and leaves the file to the caller', async () => {
    const spares = spareFiles(2);
    spares.take(path.join(dir, 'x'));
    await spares.filled();
    // A folder in the way: a file cannot be renamed over it (EISDIR).
    const target = path.join(dir, 'in-the-way');
    await mkdir(path.join(target, 'inside'), { recursive: true });
    expect(spares.take(target)).toBeUndefined();
    expect(spares.take(target)).toBeUndefined();
    await spares.filled();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ code: 'EISDIR' });
    // Spares wait for the retry, as after a failed fill: the next file makes its own.
    expect(spares.take(path.join(dir, 'y'))).toBeUndefined();
    await spares.close();
    expect(errors).toHaveLength(1);
  });

  it('puts the spare back when the moved file cannot be opened', async () => {
    const spares = spareFiles(1);
    spares.take(path.join(dir, 'x'));
    await spares.filled();
    // A spare that cannot be opened for writing (a folder now) stands in for running out of descriptors.
    const [name] = await readdir(spareDir);
    await rm(path.join(spareDir, name!));
    await mkdir(path.join(spareDir, name!));
    const target = path.join(dir, 'y');
    expect(() => spares.take(target)).toThrow(/EISDIR/);
    await expect(stat(target)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(spareDir)).toEqual([name]);
    await spares.close();
  });

  it('makes none after close', async () => {
    const spares = spareFiles(2);
    await spares.close();
    expect(spares.take(path.join(dir, 'x'))).toBeUndefined();
    await spares.filled();
    await expect(stat(spareDir)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
