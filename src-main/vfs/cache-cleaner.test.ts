/** CacheCleaner against the emulator: a real store filled by delta, real downloads through the Vfs. */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { CacheCleaner, parseByteSize, type CacheCleanerOptions, type DiskSpace } from './cache-cleaner.ts';
import { startCacheRig, type CacheRig } from './testing/cache-rig.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

let emu: EmulatorHandle;
let rig: CacheRig;
let folderSeq = 0;
let folder: string;

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
});
beforeEach(() => {
  rig = startCacheRig(emu.apiUrl);
  folder = `/c${++folderSeq}`;
});
afterEach(async () => {
  await rig.close();
});

/** A disk with plenty of room. */
const roomy = async (): Promise<DiskSpace> => ({ bsize: 4096, blocks: (500 * GiB) / 4096, bavail: (400 * GiB) / 4096 });

function cleaner(overrides: Partial<CacheCleanerOptions> = {}): CacheCleaner {
  return new CacheCleaner({
    store: rig.temp.store,
    downloads: rig.downloads,
    isOpen: (id) => rig.vfs.isOpen(id),
    cacheDir: rig.cacheDir,
    tasks: rig.tasks,
    logger: rig.memory.logger,
    statfs: roomy,
    ...overrides,
  });
}

/** `count` files of `size` bytes in this test's folder on the server, synced into the store. */
async function remoteFiles(count: number, size: number): Promise<string[]> {
  await emu.emulator.admin.remote({ op: 'mkdir', path: folder });
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const path = `${folder}/f${i}.bin`;
    await emu.emulator.admin.remote({ op: 'write', path, size });
    paths.push(path);
  }
  await rig.sync.syncOnce();
  return paths;
}

/** Reads every file through the vfs, one clock tick apart (the first is the least recently used). */
async function readInOrder(paths: string[]): Promise<void> {
  for (const path of paths) {
    rig.clock.now += 1000;
    const bytes = await rig.readAll(path);
    expect(bytes.equals(await emu.emulator.admin.readFile(path))).toBe(true);
  }
  await rig.downloads.whenIdle();
  rig.vfs.flushAccessTimes();
}

function status(path: string): string {
  return rig.vfs.itemState(rig.item(path));
}

describe('CacheCleaner', () => {
  it('evicts least recently used content first, down to 90 % of the limit, and the files still read correctly', async () => {
    const paths = await remoteFiles(5, 1 * MiB);
    await readInOrder(paths);
    expect(rig.temp.store.content.totalCachedBytes()).toBe(5 * MiB);
    // f0 was read first; read it again so f1 becomes the least recently used.
    rig.clock.now += 1000;
    await rig.readAll(paths[0]!);
    rig.vfs.flushAccessTimes();

    const report = await cleaner({ limitBytes: 3.5 * MiB }).clean();
    expect(report).toMatchObject({ reason: 'over-limit', evictedFiles: 2, evictedBytes: 2 * MiB, cachedAfter: 3 * MiB });
    expect(paths.map(status)).toEqual(['cached', 'cloud-only', 'cloud-only', 'cached', 'cached']);
    for (const evicted of [paths[1]!, paths[2]!]) expect(existsSync(rig.downloads.cachePath(rig.item(evicted).id))).toBe(false);
    expect(existsSync(rig.downloads.cachePath(rig.item(paths[0]!).id))).toBe(true);

    // Evicted files download again on the next read.
    expect((await rig.readAll(paths[1]!)).equals(await emu.emulator.admin.readFile(paths[1]!))).toBe(true);
    expect(status(paths[1]!)).toBe('cached');
  });

  it('does nothing while the cache is under its limit', async () => {
    const paths = await remoteFiles(2, 256 * KiB);
    await readInOrder(paths);
    const report = await cleaner({ limitBytes: 1 * MiB }).clean();
    expect(report).toMatchObject({ reason: 'none', evictedFiles: 0, cachedAfter: 512 * KiB });
    expect(paths.map(status)).toEqual(['cached', 'cached']);
  });

  it('never evicts open, dirty or pinned files, nor files below a pinned folder', async () => {
    const paths = await remoteFiles(4, 512 * KiB);
    await emu.emulator.admin.remote({ op: 'mkdir', path: `${folder}/kept` });
    await emu.emulator.admin.remote({ op: 'write', path: `${folder}/kept/inner.bin`, size: 512 * KiB });
    await rig.sync.syncOnce();
    const inner = `${folder}/kept/inner.bin`;
    // inner is the least recently used of all.
    await readInOrder([inner, ...paths]);
    const [open, dirty, pinned, plain] = paths as [string, string, string, string];
    const fh = await rig.vfs.open(open, 0);
    const wfh = await rig.vfs.open(dirty, 2);
    await rig.vfs.write(wfh, Buffer.from('local change'), 12, 0);
    await rig.vfs.release(wfh);
    rig.temp.store.content.setPinned(rig.item(pinned).id, true);
    rig.temp.store.content.setPinned(rig.item(`${folder}/kept`).id, true);
    try {
      const report = await cleaner({ limitBytes: 0 }).clean();
      expect(report.evictedFiles).toBe(1);
      expect(report.skipped).toBe(1);
      expect(status(plain)).toBe('cloud-only');
      expect(status(open)).toBe('cached');
      expect(status(dirty)).toBe('modified');
      expect(status(pinned)).toBe('pinned');
      expect(status(inner)).toBe('pinned');
      expect(existsSync(rig.downloads.cachePath(rig.item(inner).id))).toBe(true);
    } finally {
      await rig.vfs.release(fh);
    }
    // Closed now: the next round takes it.
    const again = await cleaner({ limitBytes: 0 }).clean();
    expect(again.evictedFiles).toBe(1);
    expect(status(open)).toBe('cloud-only');
  });

  it('cleans further when the disk holding the cache is nearly full', async () => {
    const paths = await remoteFiles(5, 1 * MiB);
    await readInOrder(paths);
    // A 40 MiB disk: nearly full below 2 MiB free (5 %); 1.5 MiB free → free up to 4 MiB → 2.5 MiB of cache goes.
    const disk = { bsize: 4096, blocks: (40 * MiB) / 4096, bavail: (1.5 * MiB) / 4096 };
    const report = await cleaner({ limitBytes: 1 * GiB, statfs: async () => disk }).clean();
    expect(report).toMatchObject({ reason: 'disk-nearly-full', diskNearlyFull: true, evictedFiles: 3, cachedAfter: 2 * MiB });
    expect(paths.map(status)).toEqual(['cloud-only', 'cloud-only', 'cloud-only', 'cached', 'cached']);
    expect(rig.memory.records().some((r) => r.msg === 'the disk holding the cache is nearly full; evicting cached content')).toBe(true);
  });

  it('defaults the limit to 10 % of the cache filesystem, at most 10 GiB', async () => {
    const small = cleaner({ statfs: async () => ({ bsize: 4096, blocks: (50 * GiB) / 4096, bavail: (40 * GiB) / 4096 }) });
    await small.clean();
    expect(small.limitBytes).toBe(5 * GiB);
    const big = cleaner({ statfs: async () => ({ bsize: 4096, blocks: (2000 * GiB) / 4096, bavail: (1000 * GiB) / 4096 }) });
    await big.clean();
    expect(big.limitBytes).toBe(10 * GiB);
  });

  it('runs as a task when downloads grow the cache past the limit, and stops cleanly', async () => {
    const paths = await remoteFiles(4, 1 * MiB);
    const c = cleaner({ limitBytes: 2.5 * MiB, intervalMs: 3_600_000, minGapMs: 10 });
    c.start();
    expect(rig.tasks.list().map((t) => t.name)).toContain('cache-cleaner');
    await readInOrder(paths);
    await expect.poll(() => rig.temp.store.content.totalCachedBytes(), { timeout: 10_000 }).toBeLessThanOrEqual(2.5 * MiB);
    await c.stop();
    expect(rig.tasks.list().map((t) => t.name)).not.toContain('cache-cleaner');
    // The newest file survived.
    expect(status(paths[3]!)).toBe('cached');
  });

  it('parses sizes', () => {
    expect(parseByteSize('64M')).toBe(64 * MiB);
    expect(parseByteSize('10G')).toBe(10 * GiB);
    expect(parseByteSize('1.5g')).toBe(1.5 * GiB);
    expect(parseByteSize('512KiB')).toBe(512 * KiB);
    expect(parseByteSize('4096')).toBe(4096);
    expect(() => parseByteSize('lots')).toThrow(/not a size/);
  });
});
