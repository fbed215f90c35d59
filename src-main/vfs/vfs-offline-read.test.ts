/**
 * The read path while offline: cached ranges and dirty files read as usual, reads that need the
 * network fail at once with ENETDOWN, and a read already waiting ends when the outage begins.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { abortReason } from '../base/abort.ts';
import { createMemoryLogger } from '../base/logger.ts';
import { RangeSet } from '../base/range-set.ts';
import type { GraphClient } from '../graph/index.ts';
import { file, openTempStore, ROOT, type TempStore } from '../store/testing/temp-store.ts';
import { OfflineError } from '../sync/connectivity.ts';
import { cacheFilePath } from '../transfers/index.ts';
import { Vfs, type ContentItem, type DownloadsPort, type NetworkStatePort, type UploadsPort } from './vfs.ts';
import { VfsError } from './vfs-error.ts';

const SIZE = 100;
const CACHED = 50;
const BYTES = Buffer.from(Array.from({ length: SIZE }, (_, i) => i));

let temp: TempStore;
let cacheDir: string;
let network: { offline: boolean; controller: AbortController } & NetworkStatePort;
/** Ranges the reader was asked to wait for. */
let waits: Array<[number, number]>;

/** A reader that has the first CACHED bytes and waits on "the network" (until its signal fires) for the rest. */
function downloads(): DownloadsPort {
  return {
    cachePath: (id) => cacheFilePath(cacheDir, id),
    openReader: (_item: ContentItem) => ({
      waitFor: (offset, length, signal) => {
        waits.push([offset, length]);
        if (offset + length <= CACHED) return Promise.resolve();
        return new Promise<void>((_, reject) => signal?.addEventListener('abort', () => reject(abortReason(signal)), { once: true }));
      },
      close: () => undefined,
    }),
    ensure: () => Promise.reject(new Error('not used by reads')),
    invalidate: () => undefined,
    cancel: () => undefined,
  };
}

const uploads: UploadsPort = { schedule: () => undefined, touch: () => undefined, cancel: () => undefined, leaving: () => undefined };

function makeVfs(): Vfs {
  return new Vfs({
    store: temp.store,
    graph: {} as GraphClient,
    downloads: downloads(),
    uploads,
    logger: createMemoryLogger().logger,
    driveMode: 'personal',
    toRecord: () => {
      throw new Error('not used by reads');
    },
    uid: 0,
    gid: 0,
    readTimeoutMs: 60_000,
    network,
  });
}

beforeEach(() => {
  temp = openTempStore();
  cacheDir = join(temp.dir.path, 'cache');
  waits = [];
  const controller = new AbortController();
  network = {
    offline: false,
    controller,
    get offlineSignal() {
      return this.controller.signal;
    },
  };
  temp.store.items.upsert(ROOT);
  temp.store.items.upsert(file('F', 'ROOT', 'f.bin', { size: SIZE }));
  temp.store.content.setContent('F', { status: 'partial', etag: 'e-F', ctag: 'c-F', ranges: RangeSet.from([{ start: 0, end: CACHED }]) });
  const path = cacheFilePath(cacheDir, 'F');
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, Buffer.concat([BYTES.subarray(0, CACHED), Buffer.alloc(SIZE - CACHED)]));
});

afterEach(() => temp.dispose());

function goOffline(): void {
  network.offline = true;
  network.controller.abort(new OfflineError('connection refused'));
}

/** The errno a vfs call failed with, thrown at once or through its promise (a read does either). */
async function errnoOf(work: () => unknown): Promise<string> {
  const error = await (async () => work())().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VfsError);
  return (error as VfsError).errno;
}

describe('Vfs reads while offline', () => {
  it('reads cached ranges, and fails a read of missing bytes with ENETDOWN without waiting for them', async () => {
    const vfs = makeVfs();
    goOffline();
    const fh = await vfs.open('/f.bin', 0);
    const buf = Buffer.alloc(20);
    expect(await vfs.read(fh, buf, 20, 10)).toBe(20);
    expect(buf.equals(BYTES.subarray(10, 30))).toBe(true);
    expect(await errnoOf(() => vfs.read(fh, buf, 20, 60))).toBe('ENETDOWN');
    // Straddling the end of the cached part needs the network too.
    expect(await errnoOf(() => vfs.read(fh, buf, 20, 40))).toBe('ENETDOWN');
    expect(waits).toEqual([[10, 20]]);
    await vfs.release(fh);
  });

  it('ends a read already waiting for the network with ENETDOWN when the outage begins', async () => {
    const vfs = makeVfs();
    const fh = await vfs.open('/f.bin', 0);
    const pending = errnoOf(() => vfs.read(fh, Buffer.alloc(10), 10, 80));
    await new Promise((r) => setImmediate(r));
    expect(waits).toEqual([[80, 10]]);
    goOffline();
    expect(await pending).toBe('ENETDOWN');
    await vfs.release(fh);
  });

  it('reads a file with local changes from its cache file', async () => {
    const vfs = makeVfs();
    temp.store.content.setContent('F', { status: 'dirty', etag: 'e-F', ctag: 'c-F', ranges: RangeSet.from([{ start: 0, end: SIZE }]) });
    writeFileSync(cacheFilePath(cacheDir, 'F'), BYTES);
    goOffline();
    const fh = await vfs.open('/f.bin', 0);
    const buf = Buffer.alloc(30);
    expect(await vfs.read(fh, buf, 30, 70)).toBe(30);
    expect(buf.equals(BYTES.subarray(70, 100))).toBe(true);
    expect(waits).toEqual([]);
    await vfs.release(fh);
  });

  it('online, the same read waits for the bytes as before', async () => {
    const vfs = makeVfs();
    const fh = await vfs.open('/f.bin', 0);
    let settled = false;
    const pending = (async () => vfs.read(fh, Buffer.alloc(10), 10, 80))().finally(() => (settled = true));
    // The read is waiting on "the network" for the bytes it lacks.
    while (!waits.some(([offset, length]) => offset + length > CACHED)) await new Promise((r) => setImmediate(r));
    expect(settled).toBe(false);
    goOffline();
    await expect(pending).rejects.toBeInstanceOf(VfsError);
    await vfs.release(fh);
  });
});
