/**
 * Kept pages (kernel-pages.ts, docs/architecture.md): an open lets the kernel keep the pages it
 * holds of a file only when the last open of that path found the same content, without local
 * changes; anything that may have put other bytes in those pages makes the next open drop them.
 * e2e/kept-pages.e2e.test.ts checks the kernel's side through a real mount.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { RangeSet } from '../store/index.ts';
import { KernelPages } from './kernel-pages.ts';
import { startCacheRig, type CacheRig } from './testing/cache-rig.ts';

const O_WRONLY = 1;
const O_TRUNC = 0o1000;

describe('KernelPages', () => {
  it('keeps what the last open of the path found, and only that', () => {
    const pages = new KernelPages();
    expect(pages.opened('/a', 'x', 'v1')).toBe(false);
    expect(pages.opened('/a', 'x', 'v1')).toBe(true);
    expect(pages.opened('/a', 'x', 'v2')).toBe(false);
    expect(pages.opened('/a', 'x', undefined)).toBe(false);
    expect(pages.opened('/a', 'x', 'v2')).toBe(false);
    expect(pages.opened('/b', 'x', 'v2')).toBe(false);
    // Another item with the same version tags at that path: other content.
    expect(pages.opened('/b', 'y', 'v2')).toBe(false);
  });

  it('drops a record when other content is read or written through its node, or the node moves', () => {
    const pages = new KernelPages();
    pages.opened('/a', 'x', 'v1');
    pages.touched('/a', 'x', 'v1');
    expect(pages.opened('/a', 'x', 'v1')).toBe(true);
    pages.touched('/a', 'x', undefined);
    expect(pages.opened('/a', 'x', 'v1')).toBe(false);
    pages.touched('/a', 'y', 'v1');
    expect(pages.opened('/a', 'x', 'v1')).toBe(false);
    // A folder moved: what was below it goes.
    pages.opened('/d/f', 'y', 'v1');
    pages.opened('/e', 'z', 'v1');
    pages.moved('/d', '/e', true);
    expect(pages.opened('/d/f', 'y', 'v1')).toBe(false);
    expect(pages.opened('/e', 'z', 'v1')).toBe(false);
    // A file moved: both names' records go.
    pages.opened('/g', 'g', 'v1');
    pages.opened('/h', 'h', 'v1');
    pages.moved('/g', '/h', false);
    expect(pages.opened('/g', 'g', 'v1')).toBe(false);
    expect(pages.opened('/h', 'h', 'v1')).toBe(false);
  });

  it("forgets an item's records under every path, and no other item's", () => {
    const pages = new KernelPages();
    pages.opened('/a', 'x', 'v1');
    pages.opened('/b', 'x', 'v1');
    pages.opened('/c', 'xy', 'v1');
    pages.forgetItem('x');
    expect(pages.opened('/c', 'xy', 'v1')).toBe(true);
    expect(pages.opened('/a', 'x', 'v1')).toBe(false);
    expect(pages.opened('/b', 'x', 'v1')).toBe(false);
    // A path another item took over is no longer that item's to forget.
    pages.opened('/a', 'x', 'v1');
    pages.opened('/a', 'w', 'v1');
    pages.forgetItem('x');
    expect(pages.opened('/a', 'w', 'v1')).toBe(true);
  });

  it('remembers a bounded number of paths, the oldest going first', () => {
    const pages = new KernelPages(2);
    pages.opened('/a', 'a', 'v');
    pages.opened('/b', 'b', 'v');
    pages.opened('/a', 'a', 'v'); // now the newest
    pages.opened('/c', 'c', 'v');
    expect(pages.opened('/a', 'a', 'v')).toBe(true);
    expect(pages.opened('/c', 'c', 'v')).toBe(true);
    expect(pages.opened('/b', 'b', 'v')).toBe(false);
    // (That open pushed '/a' out.) Forgetting one item leaves the other's record.
    pages.forgetItem('c');
    expect(pages.opened('/b', 'b', 'v')).toBe(true);
    expect(pages.opened('/c', 'c', 'v')).toBe(false);
  });
});

describe('vfs: which opens keep the kernel pages', () => {
  let emu: EmulatorHandle;
  let rig: CacheRig;

  beforeAll(async () => {
    emu = await startEmulator();
  });
  afterAll(async () => {
    await emu.close();
  });
  beforeEach(() => {
    rig = startCacheRig(emu.apiUrl);
  });
  afterEach(async () => {
    await rig.close();
  });

  const openKeeps = async (path: string, flags = 0): Promise<boolean> => {
    const fh = await rig.vfs.open(path, flags);
    try {
      return rig.vfs.keepsPages(fh);
    } finally {
      await rig.vfs.release(fh);
    }
  };

  /** A file on the server, read here once (the open recorded its content). */
  async function cachedAndRecorded(path: string, content: string): Promise<void> {
    await emu.emulator.admin.remote({ op: 'write', path, content });
    await rig.sync.syncOnce();
    expect((await rig.readAll(path)).toString()).toBe(content);
  }

  it('keeps them for a file unchanged since the last open of its path, whole here or not', async () => {
    await emu.emulator.admin.remote({ op: 'write', path: '/kp-whole.txt', content: 'whole' });
    await rig.sync.syncOnce();
    expect(await openKeeps('/kp-whole.txt')).toBe(false);
    // Nothing of it here yet: what the kernel holds of it was downloaded for this version.
    expect(await openKeeps('/kp-whole.txt')).toBe(true);
    expect((await rig.readAll('/kp-whole.txt')).toString()).toBe('whole');
    rig.vfs.flushAccessTimes();
    // Its reads may never reach the engine again: the open tells the cache cleaner it is in use.
    rig.clock.now += 60_000;
    expect(await openKeeps('/kp-whole.txt')).toBe(true);
    rig.vfs.flushAccessTimes();
    expect(rig.temp.store.content.get(rig.item('/kp-whole.txt').id)?.lastAccessMs).toBe(rig.clock.now);
  });

  it('drops them after a new server version, and keeps them from the open after', async () => {
    await cachedAndRecorded('/kp-version.txt', 'one');
    expect(await openKeeps('/kp-version.txt')).toBe(true);
    await emu.emulator.admin.remote({ op: 'write', path: '/kp-version.txt', content: 'two' });
    await rig.sync.syncOnce();
    expect(await openKeeps('/kp-version.txt')).toBe(false);
    expect((await rig.readAll('/kp-version.txt')).toString()).toBe('two');
    expect(await openKeeps('/kp-version.txt')).toBe(true);
  });

  it('drops them after a write here, a truncating open, and content set back to the server version it was', async () => {
    await cachedAndRecorded('/kp-local.txt', 'server');
    const fh = await rig.vfs.open('/kp-local.txt', O_WRONLY);
    await rig.vfs.write(fh, Buffer.from('SE'), 2, 0);
    await rig.vfs.release(fh);
    expect(await openKeeps('/kp-local.txt')).toBe(false);

    // The local change dropped for the server's version (a conflict resolved to it): the same
    // server tags as the recorded open, one more local change.
    const item = rig.item('/kp-local.txt');
    rig.temp.store.content.setContent(item.id, { status: 'complete', etag: item.etag, ctag: item.ctag, ranges: RangeSet.whole(item.size) });
    expect(await openKeeps('/kp-local.txt')).toBe(false);
    expect(await openKeeps('/kp-local.txt')).toBe(true);

    expect(await openKeeps('/kp-local.txt', O_WRONLY | O_TRUNC)).toBe(false);
    expect(await openKeeps('/kp-local.txt')).toBe(false);
  });

  it('drops them when a handle of other content reads through the node of the path', async () => {
    await cachedAndRecorded('/kp-node.txt', 'first item');
    // A program keeps the file open while elsewhere it is moved away and another file takes its name.
    const old = await rig.vfs.open('/kp-node.txt', 0);
    await emu.emulator.admin.remote({ op: 'move', path: '/kp-node.txt', newPath: '/kp-node-moved.txt' });
    await emu.emulator.admin.remote({ op: 'write', path: '/kp-node.txt', content: 'other item' });
    await rig.sync.syncOnce();
    expect((await rig.readAll('/kp-node.txt')).toString()).toBe('other item');
    expect(await openKeeps('/kp-node.txt')).toBe(true);
    // libfuse gives the name the same node: the old handle's bytes land in its pages.
    const buf = Buffer.alloc(32);
    expect(buf.subarray(0, await rig.vfs.read(old, buf, 32, 0)).toString()).toBe('first item');
    await rig.vfs.release(old);
    expect(await openKeeps('/kp-node.txt')).toBe(false);
    expect(await openKeeps('/kp-node.txt')).toBe(true);
  });

  it('follows a rename: the pages moved with the node are not kept under either name until opened again', async () => {
    await cachedAndRecorded('/kp-from.txt', 'moving');
    const open = await rig.vfs.open('/kp-from.txt', 0);
    await rig.vfs.rename('/kp-from.txt', '/kp-to.txt');
    expect(await openKeeps('/kp-to.txt')).toBe(false);
    expect(await openKeeps('/kp-to.txt')).toBe(true);
    // The handle opened before the rename reads through the moved node: the same content.
    const buf = Buffer.alloc(16);
    expect(buf.subarray(0, await rig.vfs.read(open, buf, 16, 0)).toString()).toBe('moving');
    await rig.vfs.release(open);
    expect(await openKeeps('/kp-to.txt')).toBe(true);
  });

  it('drops them once the bytes went from this device (free up space, the cleaner), so the next read reads them again', async () => {
    await cachedAndRecorded('/kp-evicted.txt', 'evicted');
    expect(await openKeeps('/kp-evicted.txt')).toBe(true);
    await rig.downloads.content.evict(rig.item('/kp-evicted.txt').id);
    expect(await openKeeps('/kp-evicted.txt')).toBe(false);
    expect(await openKeeps('/kp-evicted.txt')).toBe(true);
  });
});
