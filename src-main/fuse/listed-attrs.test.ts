/**
 * The patched fuse-native's listed attributes, on a real FUSE mount served by this process (only
 * asynchronous fs calls touch it): the lookups that follow a readdir are answered from the
 * attributes the readdir gave, once each, without a getattr call; any change drops them all, and
 * what a listing left unlooked-up expires.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { lstat, mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createMemoryLogger } from '../base/logger.ts';
import { VfsError } from '../vfs/vfs-error.ts';
import type { Attr, Vfs } from '../vfs/vfs.ts';
import { FuseMount, loadFuseNative } from './fuse-mount.ts';

const T0 = Date.parse('2026-01-02T03:04:05Z');

const fileAttr = (ino: number, size: number, mtime: number): Attr => ({ ino, mode: 0o100644, nlink: 1, uid: 0, gid: 0, size, blocks: Math.ceil(size / 512), blksize: 4096, atime: mtime, mtime, ctime: mtime });

/** The part of the vfs a listing and its lookups use: a root folder of three files, getattr counted. */
class FolderVfs {
  readonly getattrCalls: string[] = [];
  readonly listeners = new Set<() => void>();
  readonly files = new Map<string, Attr>([
    ['/a.txt', fileAttr(2, 100, T0)],
    ['/b.txt', fileAttr(3, 2000, T0 + 1000)],
    ['/c.txt', fileAttr(4, 30_000, T0 + 2000)],
  ]);

  getattr(p: string): Attr {
    if (p === '/') return { ...fileAttr(1, 4096, T0), mode: 0o040755, nlink: 2 };
    this.getattrCalls.push(p);
    const a = this.files.get(p);
    if (!a) throw new VfsError('ENOENT', `no such file: ${p}`);
    return a;
  }

  readdir(p: string): { names: string[]; attrs: Attr[] } {
    if (p !== '/') throw new VfsError('ENOENT', `no such folder: ${p}`);
    return { names: [...this.files.keys()].map((k) => k.slice(1)), attrs: [...this.files.values()] };
  }

  onAttributesChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** What the store does: the listeners first, then the change. */
  change(p: string, attr: Attr): void {
    for (const listener of this.listeners) listener();
    this.files.set(p, attr);
  }

  callsFor(p: string): number {
    return this.getattrCalls.filter((c) => c === p).length;
  }
}

const mounted: Array<{ mount: FuseMount; dir: string }> = [];

async function mountFolder(listedAttrsMs?: number): Promise<{ vfs: FolderVfs; at: (name: string) => string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'onemount-listed-'));
  const vfs = new FolderVfs();
  const mount = await FuseMount.mount({
    mountpoint: dir,
    vfs: vfs as unknown as Vfs,
    logger: createMemoryLogger('warn').logger,
    // The kernel keeps a lookup for 1 ms: a later lstat asks again (after the pause the tests make).
    attrTimeoutSec: 0.001,
    entryTimeoutSec: 0.001,
    ...(listedAttrsMs !== undefined ? { listedAttrsMs } : {}),
  });
  mounted.push({ mount, dir });
  return { vfs, at: (name) => path.join(dir, name) };
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

afterEach(async () => {
  for (const { mount, dir } of mounted.splice(0)) {
    await mount.unmount();
    await rm(dir, { recursive: true, force: true });
  }
});

describe('listed attributes (the patched fuse-native)', () => {
  it('the loaded fuse-native keeps them (the patched build: npm run build:fuse-native)', () => {
    expect(loadFuseNative().hasListedAttrs).toBe(true);
  });

  it('the lookups after a readdir get the listed attributes without a getattr call, once each', async () => {
    const { vfs, at } = await mountFolder();
    expect((await readdir(at(''))).sort()).toEqual(['a.txt', 'b.txt', 'c.txt']);
    for (const name of ['a.txt', 'b.txt', 'c.txt']) {
      const s = await lstat(at(name));
      const want = vfs.files.get(`/${name}`)!;
      expect({ size: s.size, mtimeMs: s.mtimeMs, mode: s.mode }).toEqual({ size: want.size, mtimeMs: want.mtime, mode: want.mode });
    }
    expect(vfs.getattrCalls).toEqual([]);
    // Given once: the kernel's own lookup cache (1 ms here) has expired, and the next lookup asks.
    await pause(20);
    expect((await lstat(at('b.txt'))).size).toBe(2000);
    expect(vfs.callsFor('/b.txt')).toBe(1);
  });

  it('a change drops them: the lookup after it asks getattr and gets the new attributes', async () => {
    const { vfs, at } = await mountFolder();
    await readdir(at(''));
    vfs.change('/b.txt', fileAttr(3, 5, T0 + 9000));
    const s = await lstat(at('b.txt'));
    expect({ size: s.size, mtimeMs: s.mtimeMs }).toEqual({ size: 5, mtimeMs: T0 + 9000 });
    expect(vfs.callsFor('/b.txt')).toBe(1);
    // All of them, not only the changed one's.
    await lstat(at('a.txt'));
    expect(vfs.callsFor('/a.txt')).toBe(1);
    // A listing after the change is kept again.
    await pause(20);
    await readdir(at(''));
    expect((await lstat(at('c.txt'))).size).toBe(30_000);
    expect(vfs.callsFor('/c.txt')).toBe(0);
  });

  it('a name not listed, and one listed longer ago than listedAttrsMs, is asked for', async () => {
    const { vfs, at } = await mountFolder(200);
    await readdir(at(''));
    await expect(lstat(at('missing.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(vfs.callsFor('/missing.txt')).toBe(1);
    await pause(400);
    expect((await lstat(at('a.txt'))).size).toBe(100);
    expect(vfs.callsFor('/a.txt')).toBe(1);
  });

  it('unmounting stops listening for changes', async () => {
    const { vfs } = await mountFolder();
    expect(vfs.listeners.size).toBe(1);
    const { mount, dir } = mounted.pop()!;
    await mount.unmount();
    await rm(dir, { recursive: true, force: true });
    expect(vfs.listeners.size).toBe(0);
  });
});
