/** Pins, unpin and free up space against the emulator: a real store filled by delta, real downloads. */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { CacheCleaner } from './cache-cleaner.ts';
import { Pins } from './pins.ts';
import { startCacheRig, type CacheRig } from './testing/cache-rig.ts';

const KiB = 1024;

let emu: EmulatorHandle;
let rig: CacheRig;
let pins: Pins;
let seq = 0;
let top: string;

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
});
beforeEach(async () => {
  rig = startCacheRig(emu.apiUrl);
  pins = new Pins({
    store: rig.temp.store,
    downloads: rig.downloads,
    isOpen: (id) => rig.vfs.isOpen(id),
    tasks: rig.tasks,
    logger: rig.memory.logger,
    changes: rig.sync.events,
  });
  top = `/p${++seq}`;
  // A folder tree: top/{a,b}.bin and top/sub/{c}.bin, plus a file outside it.
  await remote('mkdir', top);
  await remote('mkdir', `${top}/sub`);
  for (const [name, size] of [['a.bin', 300 * KiB], ['b.bin', 0], ['sub/c.bin', 700 * KiB]] as const) await remote('write', `${top}/${name}`, size);
  await remote('write', `${top}-outside.bin`, 100 * KiB);
  await rig.sync.syncOnce();
});
afterEach(async () => {
  emu.emulator.faults.reset();
  await pins.stop();
  await rig.close();
});

async function remote(op: 'mkdir' | 'write', path: string, size?: number): Promise<void> {
  await emu.emulator.admin.remote(op === 'write' ? { op, path, size: size ?? 0 } : { op, path });
}

function status(path: string): string {
  return rig.vfs.itemState(rig.item(path));
}

async function sameAsServer(path: string): Promise<boolean> {
  return (await rig.readAll(path)).equals(await emu.emulator.admin.readFile(path));
}

describe('Pins', () => {
  it('pins a folder tree, hydrates it in the background, and follows files added remotely later', async () => {
    pins.start();
    const result = await pins.pin(top);
    expect(result).toEqual({ path: top, files: 3, bytes: 1000 * KiB, queued: 3 });
    await pins.whenIdle();
    for (const p of ['a.bin', 'b.bin', 'sub/c.bin']) expect(status(`${top}/${p}`)).toBe('pinned');
    expect(status(`${top}-outside.bin`)).toBe('cloud-only');
    expect(await sameAsServer(`${top}/sub/c.bin`)).toBe(true);

    // Another device adds a file below the pinned folder and changes one: delta brings both in.
    await remote('write', `${top}/sub/later.bin`, 200 * KiB);
    await remote('write', `${top}/a.bin`, 310 * KiB);
    await rig.sync.syncOnce();
    await pins.whenIdle();
    expect(status(`${top}/sub/later.bin`)).toBe('pinned');
    expect(status(`${top}/a.bin`)).toBe('pinned');
    expect(rig.temp.store.content.get(rig.item(`${top}/a.bin`).id)?.cachedBytes).toBe(310 * KiB);
    expect(await sameAsServer(`${top}/sub/later.bin`)).toBe(true);
  });

  it('resumes the hydration of existing pins when it starts (after a restart)', async () => {
    rig.temp.store.content.setPinned(rig.item(`${top}/sub`).id, true);
    pins.start();
    await pins.whenIdle();
    expect(status(`${top}/sub/c.bin`)).toBe('pinned');
    expect(status(`${top}/a.bin`)).toBe('cloud-only');
  });

  it('keeps pinned files through cache cleaning; unpinned they become evictable', async () => {
    pins.start();
    await pins.pin(top);
    await pins.whenIdle();
    await rig.readAll(`${top}-outside.bin`);
    await rig.downloads.whenIdle();
    const cleaner = new CacheCleaner({
      store: rig.temp.store,
      downloads: rig.downloads,
      isOpen: (id) => rig.vfs.isOpen(id),
      cacheDir: rig.cacheDir,
      tasks: rig.tasks,
      logger: rig.memory.logger,
      limitBytes: 0,
      statfs: async () => ({ bsize: 4096, blocks: 1e8, bavail: 5e7 }),
    });
    expect((await cleaner.clean()).evictedFiles).toBe(1);
    expect(status(`${top}-outside.bin`)).toBe('cloud-only');
    expect(status(`${top}/sub/c.bin`)).toBe('pinned');

    // Unpinning a file inside a pinned folder changes nothing: the folder still keeps it.
    expect(await pins.unpin(`${top}/sub/c.bin`)).toEqual({ path: `${top}/sub/c.bin`, unpinned: 0, stillPinnedBy: top });
    // A pin below the pinned folder goes with the folder's unpin.
    await pins.pin(`${top}/sub`);
    expect(await pins.unpin(top)).toEqual({ path: top, unpinned: 2 });
    expect(status(`${top}/sub/c.bin`)).toBe('cached');
    expect((await cleaner.clean()).evictedFiles).toBe(3);
    expect(status(`${top}/sub/c.bin`)).toBe('cloud-only');
  });

  it('stops a hydration that an unpin made pointless', async () => {
    await remote('write', `${top}/big.bin`, 8 * 1024 * KiB);
    await rig.sync.syncOnce();
    // Slow enough that the download is still running when the unpin arrives.
    emu.emulator.faults.set({ bandwidthBytesPerSec: 512 * KiB });
    pins.start();
    await pins.pin(`${top}/big.bin`);
    const id = rig.item(`${top}/big.bin`).id;
    await expect.poll(() => rig.temp.store.content.get(id)?.cachedBytes ?? 0, { timeout: 10_000 }).toBeGreaterThan(0);
    expect(pins.pending).toBe(1);
    expect(await pins.unpin(`${top}/big.bin`)).toMatchObject({ unpinned: 1 });
    await pins.whenIdle();
    await rig.downloads.whenIdle();
    expect(rig.temp.store.content.get(id)?.status).toBe('partial');
    expect(status(`${top}/big.bin`)).toBe('partial');
  });

  it('frees up space of clean, unpinned, closed files only', async () => {
    for (const p of ['a.bin', 'b.bin', 'sub/c.bin']) await rig.readAll(`${top}/${p}`);
    await remote('write', `${top}/sub/d.bin`, 50 * KiB);
    await remote('write', `${top}/sub/e.bin`, 60 * KiB);
    await rig.sync.syncOnce();
    await rig.readAll(`${top}/sub/d.bin`);
    await rig.readAll(`${top}/sub/e.bin`);
    await rig.downloads.whenIdle();
    const fh = await rig.vfs.open(`${top}/a.bin`, 0);
    const wfh = await rig.vfs.open(`${top}/sub/d.bin`, 2);
    await rig.vfs.write(wfh, Buffer.from('mine'), 4, 0);
    await rig.vfs.release(wfh);
    rig.temp.store.content.setPinned(rig.item(`${top}/sub/e.bin`).id, true);
    try {
      const result = await pins.free(top);
      // b.bin is empty: reading it fetched nothing, so there is nothing to free.
      expect(result).toEqual({ path: top, freedFiles: 1, freedBytes: 700 * KiB, skippedOpen: 1, skippedDirty: 1, skippedPinned: 1 });
      expect(status(`${top}/sub/c.bin`)).toBe('cloud-only');
      expect(existsSync(rig.downloads.cachePath(rig.item(`${top}/sub/c.bin`).id))).toBe(false);
      expect(status(`${top}/a.bin`)).toBe('cached');
      expect(status(`${top}/sub/d.bin`)).toBe('modified');
      expect(status(`${top}/sub/e.bin`)).toBe('pinned');
    } finally {
      await rig.vfs.release(fh);
    }
    expect(await pins.free(`${top}/a.bin`)).toMatchObject({ freedFiles: 1, freedBytes: 300 * KiB });
    expect(status(`${top}/a.bin`)).toBe('cloud-only');
    expect(await sameAsServer(`${top}/a.bin`)).toBe(true);
  });

  it('keeps a cached or pinned file so when only its time or name changes, here or on another device', async () => {
    // A new time or name gives the item a new eTag but keeps its cTag: the bytes on this device are
    // still the server's (the status attribute said cloud-only after `touch -d` or `mv`).
    await rig.readAll(`${top}/a.bin`);
    pins.start();
    await pins.pin(`${top}/sub/c.bin`);
    await pins.whenIdle();
    const etag = rig.item(`${top}/a.bin`).etag;
    await rig.vfs.utimens(`${top}/a.bin`, Date.parse('2001-02-03T04:05:06Z'));
    await rig.vfs.utimens(`${top}/sub/c.bin`, Date.parse('2001-02-03T04:05:06Z'));
    expect(rig.item(`${top}/a.bin`).etag).not.toBe(etag);
    expect(status(`${top}/a.bin`)).toBe('cached');
    expect(status(`${top}/sub/c.bin`)).toBe('pinned');

    await emu.emulator.admin.remote({ op: 'touch', path: `${top}/a.bin`, modified: '2002-03-04T05:06:07Z' });
    await rig.sync.syncOnce();
    expect(rig.item(`${top}/a.bin`).mtimeMs).toBe(Date.parse('2002-03-04T05:06:07Z'));
    expect(status(`${top}/a.bin`)).toBe('cached');
    await rig.vfs.rename(`${top}/sub/c.bin`, `${top}/c.bin`);
    expect(status(`${top}/c.bin`)).toBe('pinned');
    // Read from the cache file: nothing is fetched again.
    const since = emu.emulator.log.lastSeq;
    expect(await sameAsServer(`${top}/a.bin`)).toBe(true);
    expect(emu.emulator.log.list({ since, listener: 'storage' })).toEqual([]);
  });

  it('says an empty file is on this device, read or not', async () => {
    expect(rig.temp.store.content.get(rig.item(`${top}/b.bin`).id)).toBeUndefined();
    expect(status(`${top}/b.bin`)).toBe('cached');
    expect(rig.vfs.isLocal(`${top}/b.bin`)).toBe(true);
    pins.start();
    await pins.pin(top);
    await pins.whenIdle();
    expect(status(`${top}/b.bin`)).toBe('pinned');
  });

  it('answers ENOENT for a path that does not exist', async () => {
    await expect(pins.pin('/no/such/thing')).rejects.toMatchObject({ errno: 'ENOENT' });
    await expect(pins.free('/nope')).rejects.toMatchObject({ errno: 'ENOENT' });
  });
});
