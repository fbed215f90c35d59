/**
 * The patched fuse-native's kept attributes, on a real FUSE mount served by this process (only
 * asynchronous fs calls touch it): what readdir and getattr answered answers later getattrs from the
 * FUSE thread without a call to the vfs; any change drops it all, an answer computed across a
 * change is not kept, and what is not asked for again expires.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { lstat, mkdir, mkdtemp, open, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { createMemoryLogger } from '../base/logger.ts';
import { VfsError } from '../vfs/vfs-error.ts';
import type { Attr, AttrChange, Listing, Vfs } from '../vfs/vfs.ts';
import { FuseMount, loadFuseNative } from './fuse-mount.ts';

const T0 = Date.parse('2026-01-02T03:04:05Z');

const folderAttr: Attr = { ino: 90, mode: 0o040755, nlink: 2, uid: 0, gid: 0, size: 4096, blocks: 8, blksize: 4096, atime: T0, mtime: T0, ctime: T0 };

const fileAttr = (ino: number, size: number, mtime: number): Attr => ({ ino, mode: 0o100644, nlink: 1, uid: 0, gid: 0, size, blocks: Math.ceil(size / 512), blksize: 4096, atime: mtime, mtime, ctime: mtime });

/** The part of the vfs a listing and its lookups use: a root folder of three files, getattr counted. */
class FolderVfs {
  readonly getattrCalls: string[] = [];
  readonly listeners = new Set<(change?: AttrChange) => void>();
  /** Folders made by mkdir (empty; getattr answers them). */
  readonly folders = new Set<string>();
  /** Whether the root's listing says it is complete (Listing.complete). */
  complete = false;
  /** Whether creates and writes tell what they change (a new path, an inode), as the vfs does; else they tell nothing (anything may change). */
  targeted = false;
  readonly files = new Map<string, Attr>([
    ['/a.txt', fileAttr(2, 100, T0)],
    ['/b.txt', fileAttr(3, 2000, T0 + 1000)],
    ['/c.txt', fileAttr(4, 30_000, T0 + 2000)],
  ]);
  /** A getattr of this path waits for the test (an answer that takes a trip to the network). */
  held: { path: string; answer?: () => void } | undefined;

  getattr(p: string): Attr | Promise<Attr> {
    if (p === '/') return { ...fileAttr(1, 4096, T0), mode: 0o040755, nlink: 2 };
    this.getattrCalls.push(p);
    if (this.folders.has(p)) return folderAttr;
    const a = this.files.get(p);
    if (!a) throw new VfsError('ENOENT', `no such file: ${p}`);
    const held = this.held;
    if (held?.path !== p) return a;
    this.held = undefined;
    // Answers what it read now, when the test says so.
    return new Promise((resolve) => (held.answer = () => resolve(a)));
  }

  /** The next readdir waits for the test (a folder listed from the server first). */
  heldListing: { answer?: () => void } | undefined;

  readdir(p: string): Listing | Promise<Listing> {
    const listed = this.listStored(p);
    const held = this.heldListing;
    if (!held) return listed;
    this.heldListing = undefined;
    // Resolves with what it read now, when the test says so.
    return new Promise((resolve) => (held.answer = () => resolve(listed)));
  }

  listStored(p: string): Listing {
    // A folder mkdir made is empty.
    if (this.folders.has(p)) return { names: [], attrs: [], complete: this.complete };
    if (p !== '/') throw new VfsError('ENOENT', `no such folder: ${p}`);
    const root = [...this.files.keys()].filter((k) => k.lastIndexOf('/') === 0);
    return { names: [...this.folders].map((k) => k.slice(1)).concat(root.map((k) => k.slice(1))), attrs: [...this.folders].map(() => folderAttr).concat(root.map((k) => this.files.get(k)!)), complete: this.complete };
  }

  onAttributesChange(listener: (change?: AttrChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** What the store does: the listeners first (told what changes, when `told` says), then the change. */
  change(p: string, attr: Attr, told?: AttrChange): void {
    for (const listener of this.listeners) listener(told);
    this.files.set(p, attr);
  }

  /** mkdir(2): a new empty folder, told as the vfs tells it (a new path, then a folder just made). */
  mkdir(p: string): void {
    for (const listener of this.listeners) listener({ newPath: p });
    this.folders.add(p);
    for (const listener of this.listeners) listener({ emptyFolder: p });
  }

  readonly handles = new Map<number, string>();

  /** create(2): a new empty file (a change, as the store's insert is), then its handle. */
  create(p: string): number {
    this.change(p, fileAttr(10 + this.files.size, 0, T0 + 5000), this.targeted ? { newPath: p } : undefined);
    const fh = 7 + this.handles.size;
    this.handles.set(fh, p);
    return fh;
  }

  /** write(2): the file grows (a change, as the store's size update is). */
  write(fh: number, _buf: Buffer, length: number, position: number): number {
    const p = this.handles.get(fh)!;
    const a = this.files.get(p)!;
    this.change(p, { ...a, size: Math.max(a.size, position + length) }, this.targeted ? { inode: a.ino } : undefined);
    return length;
  }

  release(): void {}

  callsFor(p: string): number {
    return this.getattrCalls.filter((c) => c === p).length;
  }
}

const mounted: Array<{ mount: FuseMount; dir: string }> = [];

async function mountFolder(keptAttrsMs = 60_000): Promise<{ vfs: FolderVfs; at: (name: string) => string }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'onemount-kept-'));
  const vfs = new FolderVfs();
  const mount = await FuseMount.mount({
    mountpoint: dir,
    vfs: vfs as unknown as Vfs,
    logger: createMemoryLogger('warn').logger,
    // The kernel keeps a lookup for 1 ms: a later lstat asks again (after the pauses the tests make).
    attrTimeoutSec: 0.001,
    entryTimeoutSec: 0.001,
    keptAttrsMs,
  });
  mounted.push({ mount, dir });
  return { vfs, at: (name) => path.join(dir, name) };
}

/** A mount whose root's listing says it is complete (and whose creates and writes say what they change, `targeted`), listed once. */
async function mountListedComplete(targeted = false): Promise<{ vfs: FolderVfs; at: (name: string) => string }> {
  const mounted = await mountFolder();
  mounted.vfs.complete = true;
  mounted.vfs.targeted = targeted;
  await readdir(mounted.at(''));
  return mounted;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !check(); i++) await pause(10);
  if (!check()) throw new Error(`${what} did not happen`);
}

/** A readdir of the root whose vfs answer waits (a folder listed from the server first) until `answer()`. */
async function heldReaddir(vfs: FolderVfs, at: (name: string) => string): Promise<{ listing: Promise<string[]>; answer: () => void }> {
  const gate: { answer?: () => void } = {};
  vfs.heldListing = gate;
  const listing = readdir(at(''));
  await until('the held readdir', () => gate.answer !== undefined);
  return { listing, answer: gate.answer! };
}

afterEach(async () => {
  for (const { mount, dir } of mounted.splice(0)) {
    await mount.unmount();
    await rm(dir, { recursive: true, force: true });
  }
});

describe('kept attributes (the patched fuse-native)', () => {
  it('the loaded fuse-native keeps them (the patched build: npm run build:fuse-native)', () => {
    expect(loadFuseNative().hasKeptAttrs).toBe(true);
  });

  it('the lookups after a readdir, and later ones, get the listed attributes without a getattr call', async () => {
    const { vfs, at } = await mountFolder();
    expect((await readdir(at(''))).sort()).toEqual(['a.txt', 'b.txt', 'c.txt']);
    for (let round = 0; round < 2; round++) {
      for (const name of ['a.txt', 'b.txt', 'c.txt']) {
        const s = await lstat(at(name));
        const want = vfs.files.get(`/${name}`)!;
        expect({ size: s.size, mtimeMs: s.mtimeMs, mode: s.mode }).toEqual({ size: want.size, mtimeMs: want.mtime, mode: want.mode });
      }
      // The kernel's own cache of those lookups (1 ms here) expires: the next ones ask again.
      await pause(20);
    }
    expect(vfs.getattrCalls).toEqual([]);
  });

  it('a change drops them all; what getattr answers after it is kept again', async () => {
    const { vfs, at } = await mountFolder();
    await readdir(at(''));
    vfs.change('/b.txt', fileAttr(3, 5, T0 + 9000));
    const s = await lstat(at('b.txt'));
    expect({ size: s.size, mtimeMs: s.mtimeMs }).toEqual({ size: 5, mtimeMs: T0 + 9000 });
    expect(vfs.callsFor('/b.txt')).toBe(1);
    await lstat(at('a.txt'));
    expect(vfs.callsFor('/a.txt')).toBe(1);
    await pause(20);
    expect((await lstat(at('b.txt'))).size).toBe(5);
    expect((await lstat(at('a.txt'))).size).toBe(100);
    expect(vfs.getattrCalls).toEqual(['/b.txt', '/a.txt']);
  });

  it('an answer computed across a change is not kept', async () => {
    const { vfs, at } = await mountFolder();
    const gate: { path: string; answer?: () => void } = { path: '/c.txt' };
    vfs.held = gate;
    const first = lstat(at('c.txt'));
    await until('the held getattr', () => gate.answer !== undefined);
    // The change lands while the answer (computed before it) is on its way.
    vfs.change('/c.txt', fileAttr(4, 7, T0 + 9000));
    gate.answer!();
    expect((await first).size).toBe(30_000);
    await pause(20);
    expect((await lstat(at('c.txt'))).size).toBe(7);
    expect(vfs.callsFor('/c.txt')).toBe(2);
  });

  it('a listing that waited keeps the stats the store holds when it is answered', async () => {
    const { vfs, at } = await mountFolder();
    const { listing, answer } = await heldReaddir(vfs, at);
    vfs.change('/a.txt', fileAttr(2, 1, T0 + 9000));
    answer();
    expect((await listing).sort()).toEqual(['a.txt', 'b.txt', 'c.txt']);
    expect((await lstat(at('a.txt'))).size).toBe(1);
    expect((await lstat(at('b.txt'))).size).toBe(2000);
    expect(vfs.getattrCalls).toEqual([]);
  });

  it('a change between a listing\'s answer and its hand-over to the FUSE thread keeps nothing of it', async () => {
    const { vfs, at } = await mountFolder();
    const { listing, answer } = await heldReaddir(vfs, at);
    answer();
    // fuse-native hands answers over on process.nextTick, which runs only once every queued promise
    // callback has: the answer is read (above), then these run, then it is handed over.
    void Promise.resolve()
      .then(() => undefined)
      .then(() => vfs.change('/a.txt', fileAttr(2, 1, T0 + 9000)));
    expect((await listing).sort()).toEqual(['a.txt', 'b.txt', 'c.txt']);
    expect((await lstat(at('a.txt'))).size).toBe(1);
    expect(vfs.callsFor('/a.txt')).toBe(1);
  });

  it("a create keeps the new file's attributes for libfuse's fgetattr right after it", async () => {
    expect(typeof loadFuseNative().prototype.keepAttrs).toBe('function');
    const { vfs, at } = await mountFolder();
    const file = await open(at('new.txt'), 'wx');
    try {
      expect(await file.stat()).toMatchObject({ size: 0, mtimeMs: T0 + 5000 });
    } finally {
      await file.close();
    }
    // The lookup before the create (not found) and the mount's own read of what it keeps; libfuse's
    // fgetattr right after the create and the fstat were answered from that (without it: 3 or more).
    expect(vfs.callsFor('/new.txt')).toBe(2);
  });

  it('what a create kept goes at the first write: fstat of the open file shows what was written', async () => {
    const { at } = await mountFolder();
    const file = await open(at('grown.txt'), 'wx');
    try {
      await file.write(Buffer.from('12345'), 0, 5, 0);
      expect((await file.stat()).size).toBe(5);
    } finally {
      await file.close();
    }
    expect((await lstat(at('grown.txt'))).size).toBe(5);
  });

  it('a name not known, and attributes kept longer ago than keptAttrsMs, are asked for', async () => {
    const { vfs, at } = await mountFolder(200);
    await readdir(at(''));
    await expect(lstat(at('missing.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    await pause(20);
    await expect(lstat(at('missing.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(vfs.callsFor('/missing.txt')).toBe(2);
    await pause(400);
    expect((await lstat(at('a.txt'))).size).toBe(100);
    expect(vfs.callsFor('/a.txt')).toBe(1);
  });

  it('after a complete listing, a name it leaves out is ENOENT without a getattr call; another letter case of a listed name, a name not of ASCII bytes and libfuse\'s hidden names are asked for', async () => {
    expect(loadFuseNative().hasKeptNames).toBe(true);
    const { vfs, at } = await mountListedComplete();
    for (let round = 0; round < 2; round++) {
      await expect(lstat(at('missing.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
      await pause(20);
    }
    expect(vfs.callsFor('/missing.txt')).toBe(0);
    for (const name of ['A.TXT', 'é.txt', '.fuse_hidden0000000100000001']) {
      await expect(lstat(at(name))).rejects.toMatchObject({ code: 'ENOENT' });
      expect(vfs.callsFor(`/${name}`), name).toBe(1);
    }
  });

  it('a listing that is not complete leaves names it leaves out to getattr', async () => {
    const { vfs, at } = await mountFolder();
    await readdir(at(''));
    await expect(lstat(at('missing.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(vfs.callsFor('/missing.txt')).toBe(1);
  });

  it('a create and its writes, told as such, leave the folder complete: the new name is never ENOENT, its size follows the writes, the rest stays kept', async () => {
    const { vfs, at } = await mountListedComplete(true);
    const file = await open(at('new.txt'), 'wx');
    try {
      await file.write(Buffer.from('12345'), 0, 5, 0);
      expect((await file.stat()).size).toBe(5);
    } finally {
      await file.close();
    }
    await pause(20);
    expect((await lstat(at('new.txt'))).size).toBe(5);
    await expect(lstat(at('missing.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect((await lstat(at('a.txt'))).size).toBe(100);
    // Not even the lookup before the create reached the vfs (the name was known absent); only the
    // mount's read of what the create keeps, and the attributes asked for after the write.
    expect(vfs.getattrCalls.filter((p) => p !== '/new.txt')).toEqual([]);
    expect(vfs.callsFor('/new.txt')).toBeLessThanOrEqual(3);
  });

  it('a new name of other bytes than ASCII\'s ends its folder\'s completeness (OneDrive matches U+212A KELVIN SIGN as k)', async () => {
    const { vfs, at } = await mountListedComplete(true);
    await expect(lstat(at('k.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(vfs.callsFor('/k.txt')).toBe(0);
    vfs.change('/\u212A.txt', fileAttr(6, 1, T0), { newPath: '/\u212A.txt' });
    await expect(lstat(at('k.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(vfs.callsFor('/k.txt')).toBe(1);
  });

  it('a folder at a path that is not UTF-8 is never complete (the vfs sees U+FFFD for its bytes): its names are asked for', async () => {
    const { vfs, at } = await mountFolder();
    vfs.complete = true;
    const latin1 = Buffer.concat([Buffer.from(at('')), Buffer.from('/caf\xe9', 'latin1')]);
    await mkdir(latin1);
    expect(await readdir(latin1)).toEqual([]);
    await expect(lstat(Buffer.concat([latin1, Buffer.from('/x.txt')]))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(vfs.callsFor('/caf\uFFFD/x.txt')).toBe(1);
  });

  it('a change of one inode drops its attributes only, under every name they were kept for; the folder stays complete', async () => {
    const { vfs, at } = await mountListedComplete();
    vfs.change('/b.txt', fileAttr(3, 5, T0 + 9000), { inode: 3 });
    expect((await lstat(at('b.txt'))).size).toBe(5);
    expect((await lstat(at('a.txt'))).size).toBe(100);
    await expect(lstat(at('missing.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(vfs.getattrCalls).toEqual(['/b.txt']);
  });

  it('new items somewhere (a batch from the server) end every complete folder: names are asked for again', async () => {
    const { vfs, at } = await mountListedComplete();
    vfs.change('/d.txt', fileAttr(5, 9, T0), { newItems: true });
    expect((await lstat(at('d.txt'))).size).toBe(9);
    expect((await lstat(at('a.txt'))).size).toBe(100);
    expect(vfs.getattrCalls).toEqual(['/d.txt']);
  });

  it('a folder just made is complete: a name in it is ENOENT without a getattr call', async () => {
    const { vfs, at } = await mountFolder();
    await mkdir(at('sub'));
    await expect(lstat(at('sub/x.txt'))).rejects.toMatchObject({ code: 'ENOENT' });
    expect(vfs.callsFor('/sub/x.txt')).toBe(0);
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

describe("the patched fuse-native's threads", () => {
  /** Each thread of this process: what it waits in, and the signals it blocks. */
  async function threads(): Promise<Array<{ wchan: string; blocked: bigint }>> {
    const tasks = await readdir('/proc/self/task');
    return Promise.all(
      tasks.map(async (t) => {
        const [wchan, status] = await Promise.all([readFile(`/proc/self/task/${t}/wchan`, 'utf8'), readFile(`/proc/self/task/${t}/status`, 'utf8')]);
        return { wchan, blocked: BigInt(`0x${/^SigBlk:\s*([0-9a-f]+)/m.exec(status)![1]}`) };
      }),
    );
  }
  const bit = (signal: number) => 1n << BigInt(signal - 1);

  it("take no signal: libfuse's workers block SIGCHLD and the rest, so Node's handlers run only on Node's threads", async () => {
    const { at } = await mountFolder();
    await readdir(at(''));
    let workers: Array<{ wchan: string; blocked: bigint }> = [];
    for (let i = 0; i < 500 && workers.length === 0; i++) {
      workers = (await threads()).filter((t) => t.wchan.startsWith('fuse_dev_do_read'));
      if (workers.length === 0) await pause(10);
    }
    expect(workers.length).toBeGreaterThan(0);
    // SIGCHLD (a child exiting), SIGUSR2, SIGWINCH, SIGPIPE: none may reach a worker libfuse cancels at unmount.
    for (const w of workers) for (const signal of [17, 12, 28, 13]) expect(w.blocked & bit(signal)).toBe(bit(signal));
  });
});
