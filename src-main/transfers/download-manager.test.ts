/** DownloadManager against the Graph emulator over real HTTP, with a real store and cache files. */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeSync, openSync, closeSync, existsSync, truncateSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import type { LogEntry } from '../../emulator/src/request-log.ts';
import { putBytes } from '../../emulator/src/seed.ts';
import { createMemoryLogger, type MemoryLogger } from '../base/logger.ts';
import { GraphClient } from '../graph/client.ts';
import { NetworkError } from '../graph/errors.ts';
import { StaticTokenProvider } from '../graph/token-provider.ts';
import { TaskRegistry } from '../lifecycle/task-registry.ts';
import { settledWithin } from '../base/deadline.ts';
import { openTempStore, type TempStore } from '../store/testing/temp-store.ts';
import { TransferItemSchema } from '../../src-shared/model/transfer.ts';
import { DownloadManager, type DownloadManagerOptions } from './download-manager.ts';
import {
  ContentChangingError,
  ContentHashMismatchError,
  ContentVersionChangedError,
  DownloadCancelledError,
  DownloadManagerClosedError,
} from './download-errors.ts';
import type { DownloadEvents, DownloadItem } from './download-types.ts';
import { until } from '../base/testing/until.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const TOKEN = 'emulator-token-not-a-secret-1234567890';

let emu: EmulatorHandle;
let graph: GraphClient;
let temp: TempStore;
let cacheDir: string;
let memory: MemoryLogger;
const managers: DownloadManager[] = [];
let fileSeq = 0;

beforeAll(async () => {
  emu = await startEmulator();
  graph = new GraphClient({
    baseUrl: emu.apiUrl,
    tokenProvider: new StaticTokenProvider(TOKEN),
    requestTimeoutMs: 10_000,
    maxRetries: 2,
    retryBaseMs: 5,
    retryMaxMs: 20,
  });
});

afterAll(async () => {
  await graph.close();
  await emu.close();
});

beforeEach(() => {
  temp = openTempStore();
  temp.store.items.upsert({ id: 'ROOT', parentId: null, name: 'root', kind: 'folder', size: 0, ctimeMs: 1, mtimeMs: 1 });
  cacheDir = mkdtempSync(join(tmpdir(), 'onemount-cache-test-'));
  memory = createMemoryLogger('debug', 'transfers-test');
});

const registries = new Set<TaskRegistry>();

afterEach(async () => {
  await Promise.all(managers.splice(0).map((m) => m.close()));
  // A closed manager leaves nothing running: no chunk, no hash check, no read-ahead.
  for (const tasks of registries) expect(tasks.list()).toEqual([]);
  registries.clear();
  emu.emulator.faults.reset();
  await emu.emulator.setOffline(false);
  // No bearer token may ever reach a pre-authenticated URL.
  expect(emu.emulator.log.clientFaults().filter((f) => f.kind === 'authorization-on-storage')).toEqual([]);
  temp.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

function makeManager(overrides: Partial<DownloadManagerOptions> = {}): DownloadManager {
  const tasks = overrides.tasks ?? new TaskRegistry({ logger: memory.logger });
  registries.add(tasks);
  const manager = new DownloadManager({
    tasks,
    graph,
    store: temp.store,
    cacheDir,
    logger: memory.logger,
    chunkBytes: MiB,
    ...overrides,
  });
  managers.push(manager);
  return manager;
}

/** A file on the server ("another device" wrote it) and the same item in the store. */
async function serverFile(content: Buffer | number, name = `file-${++fileSeq}.bin`): Promise<DownloadItem> {
  const path = `/${name}`;
  if (typeof content === 'number') await emu.emulator.admin.remote({ op: 'write', path, size: content });
  else await writeServerFile(path, content);
  return storeItem(path);
}

/** Real bytes as a file in the drive root (replacing a same-named one), as another device would upload them. */
async function writeServerFile(path: string, content: Buffer): Promise<void> {
  await putBytes(emu.emulator, emu.emulator.drive.rootId, path.slice(1), content);
}

function storeItem(path: string, overrides: Partial<DownloadItem> = {}): DownloadItem {
  const json = emu.emulator.admin.itemJson(path) as {
    id: string;
    name: string;
    size: number;
    eTag: string;
    cTag: string;
    file: { hashes?: { quickXorHash?: string } };
  };
  const item: DownloadItem = {
    id: json.id,
    size: json.size,
    etag: json.eTag,
    ctag: json.cTag,
    quickXorHash: json.file.hashes?.quickXorHash ?? null,
    path,
    ...overrides,
  };
  temp.store.items.upsert({
    id: item.id,
    parentId: 'ROOT',
    name: json.name,
    kind: 'file',
    size: item.size,
    ctimeMs: 1,
    mtimeMs: 1,
    etag: item.etag ?? null,
    ctag: item.ctag ?? null,
    quickXorHash: item.quickXorHash ?? null,
  });
  return item;
}

async function serverBytes(path: string, start: number, end: number): Promise<Buffer> {
  const row = emu.emulator.admin.item(path)!;
  const chunks: Buffer[] = [];
  for await (const chunk of emu.emulator.content.open(row.content_ref!, start, end)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function cachedBytes(manager: DownloadManager, item: DownloadItem, start: number, end: number): Buffer {
  return readFileSync(manager.cachePath(item.id)).subarray(start, end);
}

/** Buffer.equals: vitest's deep equality walks megabytes byte by byte. */
function expectSameBytes(actual: Buffer, expected: Buffer): void {
  expect(actual.length).toBe(expected.length);
  expect(actual.equals(expected)).toBe(true);
}

function storageGets(since: number): LogEntry[] {
  return emu.emulator.log.list({ since, listener: 'storage', method: 'GET' });
}

/** [start, end) of each `Range: bytes=a-b` header. */
function ranges(entries: LogEntry[]): Array<[number, number]> {
  return entries.map((e) => {
    const m = /^bytes=(\d+)-(\d*)$/.exec(e.range ?? '');
    if (!m) throw new Error(`storage GET without a single range: ${e.range}`);
    return [Number(m[1]), Number(m[2]) + 1];
  });
}


function events<K extends keyof DownloadEvents & string>(manager: DownloadManager, name: K): Array<DownloadEvents[K]> {
  const seen: Array<DownloadEvents[K]> = [];
  manager.events.on(name, (payload) => void seen.push(payload));
  return seen;
}

describe('gather buffers', () => {
  it('keeps the buffers a download gathered its bytes in for the next one, and lets them go once nothing is downloaded for a while', async () => {
    const item = await serverFile(randomBytes(6 * MiB));
    const manager = makeManager({ buffersKeepMs: 200 });
    await manager.ensure(item, 0, 6 * MiB, { priority: 'read' });
    await manager.whenIdle();
    expect(manager.idleGatherBuffers).toBeGreaterThan(0);
    expectSameBytes(cachedBytes(manager, item, 0, 6 * MiB), await serverBytes(item.path!, 0, 6 * MiB));
    await until(() => manager.idleGatherBuffers === 0, 'the gather buffers to be let go');
  });

  it('lets them go at close', async () => {
    const item = await serverFile(3 * MiB);
    const manager = makeManager({ buffersKeepMs: 3_600_000 });
    await manager.ensure(item, 0, 3 * MiB, { priority: 'read' });
    await manager.whenIdle();
    expect(manager.idleGatherBuffers).toBeGreaterThan(0);
    await manager.close();
    expect(manager.idleGatherBuffers).toBe(0);
  });
});

describe('spare cache files', () => {
  it('gives new local files spares kept in <cacheDir>/spare, and takes no spareFiles for a content owner it did not make', async () => {
    const manager = makeManager({ spareFiles: 2 });
    const spareDir = join(cacheDir, 'spare');
    const create = async (id: string) => (await manager.content.createLocalFile(id, () => temp.store.items.insert({ id, parentId: 'ROOT', name: id, kind: 'file', size: 0, ctimeMs: 1, mtimeMs: 1 }))).close();
    // The first new file makes its own (none is ready yet) and starts the spares.
    await create('local:spare-1');
    await until(() => existsSync(spareDir) && readdirSync(spareDir).length === 2, 'two spares');
    const spareInodes = readdirSync(spareDir).map((n) => statSync(join(spareDir, n)).ino);
    // The cache files of the same folder (`xx/`): the second lands beside the first.
    mkdirSync(dirname(manager.cachePath('local:spare-2')), { recursive: true });
    await create('local:spare-2');
    expect(spareInodes).toContain(statSync(manager.cachePath('local:spare-2')).ino);
    await manager.close();
    expect(() => makeManager({ spareFiles: 2, content: manager.content })).toThrow(RangeError);
  });
});

describe('ranged reads', () => {
  it('fetches only the chunk around a small read of a big uncached file, and then nothing more', async () => {
    const item = await serverFile(64 * MiB);
    const manager = makeManager();
    const since = emu.emulator.log.lastSeq;
    await manager.ensure(item, 10 * MiB + 100, 10 * MiB + 4196, { priority: 'read' });
    // The caller got its bytes as soon as they landed; the rest of the chunk follows.
    await manager.whenIdle();
    expect(ranges(storageGets(since))).toEqual([[10 * MiB, 11 * MiB]]);
    expectSameBytes(cachedBytes(manager, item, 10 * MiB + 100, 10 * MiB + 4196), await serverBytes(item.path!, 10 * MiB + 100, 10 * MiB + 4196));
    const state = temp.store.content.get(item.id)!;
    expect(state.status).toBe('partial');
    expect(state.ranges.toArray()).toEqual([{ start: 10 * MiB, end: 11 * MiB }]);
    expect(state.ctag).toBe(item.ctag);

    // Cached now: no request of any kind.
    const again = emu.emulator.log.lastSeq;
    await manager.ensure(item, 10 * MiB, 11 * MiB, { priority: 'read' });
    expect(emu.emulator.log.list({ since: again })).toEqual([]);
  });

  it('cache files are private, at a path derived from the item id', async () => {
    const item = await serverFile(100 * KiB);
    const manager = makeManager();
    await manager.ensure(item, 0, 10, { priority: 'read' });
    const path = manager.cachePath(item.id);
    expect(path.startsWith(cacheDir)).toBe(true);
    expect(path).not.toContain(item.id);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(path)).mode & 0o777).toBe(0o700);
    // Sparse: the file has the item's size from the start.
    expect(statSync(path).size).toBe(item.size);
  });

  it('two concurrent callers of one range cause one request', async () => {
    const item = await serverFile(8 * MiB);
    const manager = makeManager();
    emu.emulator.faults.set({ latencyMs: 50 });
    const since = emu.emulator.log.lastSeq;
    await Promise.all([
      manager.ensure(item, 3 * MiB, 3 * MiB + 10, { priority: 'read' }),
      manager.ensure(item, 3 * MiB + 5, 3 * MiB + 500, { priority: 'read' }),
      manager.openReader(item).waitFor(3 * MiB + 1000, 4096),
    ]);
    expect(ranges(storageGets(since))).toEqual([[3 * MiB, 4 * MiB]]);
    // One URL for the item, too.
    expect(emu.emulator.log.list({ since, listener: 'api' })).toHaveLength(1);
  });

  it('clips requests at the end of the file and serves an empty range without a request', async () => {
    const content = randomBytes(1500 * KiB);
    const item = await serverFile(content);
    const manager = makeManager();
    const since = emu.emulator.log.lastSeq;
    await manager.ensure(item, 1400 * KiB, 5 * MiB, { priority: 'read' });
    await manager.ensure(item, 2 * MiB, 3 * MiB, { priority: 'read' });
    expect(ranges(storageGets(since))).toEqual([[1 * MiB, 1500 * KiB]]);
    expectSameBytes(cachedBytes(manager, item, 1 * MiB, 1500 * KiB), content.subarray(1 * MiB));
  });
});

describe('readers and read-ahead', () => {
  it('reads ahead of a sequential reader with a growing window', async () => {
    const item = await serverFile(32 * MiB);
    const manager = makeManager({ chunkBytes: 256 * KiB, initialReadAheadBytes: 256 * KiB, maxReadAheadBytes: 4 * MiB });
    const reader = manager.openReader(item);
    const since = emu.emulator.log.lastSeq;
    const leads: number[] = [];
    const block = 128 * KiB;
    for (let offset = 0; offset < 6 * MiB; offset += block) {
      await reader.waitFor(offset, block);
      await manager.whenIdle();
      const fetchedUntil = Math.max(...ranges(storageGets(since)).map(([, end]) => end));
      leads.push(fetchedUntil - (offset + block));
    }
    // The lead over the reader grows with what was read (twice as much), up to the maximum; once
    // there (2 MiB read), more is fetched each time a request's worth (a quarter) of the window has
    // been read, so it stays between three quarters and all of it.
    expect(leads[0]).toBeLessThanOrEqual(512 * KiB);
    expect(leads[3]).toBeLessThanOrEqual(MiB + 256 * KiB);
    for (const lead of leads.slice(16)) {
      expect(lead).toBeGreaterThanOrEqual(3 * MiB - block);
      expect(lead).toBeLessThanOrEqual(4 * MiB + 256 * KiB);
    }
    // Every chunk was fetched once.
    const fetched = ranges(storageGets(since));
    expect(new Set(fetched.map(([s]) => s)).size).toBe(fetched.length);
    expectSameBytes(cachedBytes(manager, item, 0, 6 * MiB), await serverBytes(item.path!, 0, 6 * MiB));
    reader.close();
  });

  it('fetches a long sequential read in few growing requests, several at a time, each byte once', async () => {
    const size = 40 * MiB + 12345;
    const content = randomBytes(size);
    const item = await serverFile(content);
    // Counts the range requests running at once (from the call until their body has ended).
    let running = 0;
    let mostAtOnce = 0;
    const counting: DownloadManagerOptions['graph'] = {
      getItem: (...args) => graph.getItem(...args),
      downloadUrl: (...args) => graph.downloadUrl(...args),
      downloadRange: async (...args) => {
        running++;
        mostAtOnce = Math.max(mostAtOnce, running);
        try {
          const answer = await graph.downloadRange(...args);
          answer.stream.once('close', () => running--);
          return answer;
        } catch (error) {
          running--;
          throw error;
        }
      },
    };
    const manager = makeManager({ graph: counting, maxReadAheadBytes: 16 * MiB, maxReadAheadRequestBytes: 4 * MiB });
    emu.emulator.faults.set({ bandwidthBytesPerSec: 64 * MiB });
    const reader = manager.openReader(item);
    const since = emu.emulator.log.lastSeq;
    const block = 128 * KiB;
    for (let offset = 0; offset < size; offset += block) await reader.waitFor(offset, block);
    await manager.whenIdle();
    reader.close();
    const fetched = ranges(storageGets(since)).sort((a, b) => a[0] - b[0]);
    // Each byte once: the requests tile the file.
    expect(fetched[0]![0]).toBe(0);
    for (let i = 1; i < fetched.length; i++) expect(fetched[i]![0]).toBe(fetched[i - 1]![1]);
    expect(fetched[fetched.length - 1]![1]).toBe(size);
    // Small requests while the run is short, then requests of the largest size.
    const sizes = fetched.map(([start, end]) => end - start);
    expect(sizes[0]).toBe(MiB);
    // The window is twice the bytes read (16 MiB from 8 MiB on): the last 16 MiB come in 4 MiB requests.
    expect(sizes.filter((n) => n === 4 * MiB).length).toBeGreaterThanOrEqual(4);
    expect(fetched.length).toBeLessThan(24);
    expect(mostAtOnce).toBeGreaterThanOrEqual(2);
    expectSameBytes(readFileSync(manager.cachePath(item.id)), content);
  });

  it('answers at once for bytes that have landed, recording the read for read-ahead as waitFor does', async () => {
    const item = await serverFile(8 * MiB);
    const manager = makeManager({ chunkBytes: 256 * KiB, initialReadAheadBytes: 256 * KiB, maxReadAheadBytes: 2 * MiB });
    const reader = manager.openReader(item);
    const since = emu.emulator.log.lastSeq;
    const block = 128 * KiB;
    // Nothing there yet: no answer, and nothing recorded or fetched (the caller waits with waitFor).
    expect(reader.ready(0, block)).toBe(false);
    await manager.whenIdle();
    expect(storageGets(since)).toEqual([]);
    await reader.waitFor(0, block);
    await manager.whenIdle();
    const before = Math.max(...ranges(storageGets(since)).map(([, end]) => end));
    // The next read's bytes came with the read-ahead: answered without a wait, and the window grows
    // from it as from a waited read, so the read-ahead moves further on.
    expect(reader.ready(block, block)).toBe(true);
    await manager.whenIdle();
    const after = Math.max(...ranges(storageGets(since)).map(([, end]) => end));
    expect(after).toBeGreaterThan(before);
    expect(reader.complete()).toBe(false);
    await manager.ensure(item, 0, item.size, { priority: 'read' });
    expect(reader.complete()).toBe(true);
    expect(reader.ready(5 * MiB, block)).toBe(true);
    reader.close();
    // A closed reader answers nothing.
    expect(reader.ready(0, block)).toBe(false);
  });

  it('checks the hash of a file the read-ahead completed once its reader reads the last byte, not while it reads', async () => {
    const content = randomBytes(3 * MiB + 17);
    const item = await serverFile(content);
    const manager = makeManager({ initialReadAheadBytes: 4 * MiB });
    const done = events(manager, 'done');
    const reader = manager.openReader(item);
    for (let offset = 0; offset < 2 * MiB; offset += 128 * KiB) await reader.waitFor(offset, 128 * KiB);
    await manager.whenIdle();
    expect(reader.complete()).toBe(true);
    expect(done).toEqual([]);
    expect(reader.ready(content.length - 100, 100)).toBe(true);
    await manager.whenIdle();
    expect(done).toMatchObject([{ itemId: item.id, verified: true, total: content.length }]);
    reader.close();
    expectSameBytes(readFileSync(manager.cachePath(item.id)), content);
  });

  it('checks the hash of a file the read-ahead completed once its last reader closes, if none read to the end', async () => {
    const item = await serverFile(3 * MiB + 17);
    const manager = makeManager({ initialReadAheadBytes: 4 * MiB });
    const done = events(manager, 'done');
    const first = manager.openReader(item);
    const second = manager.openReader(item);
    await first.waitFor(0, 128 * KiB);
    await manager.whenIdle();
    expect(first.complete()).toBe(true);
    first.close();
    await manager.whenIdle();
    expect(done).toEqual([]);
    second.close();
    await manager.whenIdle();
    expect(done).toMatchObject([{ itemId: item.id, verified: true }]);
  });

  it('a hydration does not wait for the reader of the same file to close before checking its hash', async () => {
    const item = await serverFile(2 * MiB + 5);
    const manager = makeManager({ initialReadAheadBytes: 4 * MiB });
    const done = events(manager, 'done');
    const reader = manager.openReader(item);
    // The read-ahead completes the file; the reader has not read its end.
    await reader.waitFor(0, 128 * KiB);
    await manager.whenIdle();
    expect(reader.complete()).toBe(true);
    expect(done).toEqual([]);
    await expect(manager.hydrate(item)).resolves.toBeUndefined();
    expect(done).toMatchObject([{ itemId: item.id, verified: true }]);
    reader.close();
    await manager.whenIdle();
    expect(done).toHaveLength(1);
  });

  it('does not read ahead for random reads', async () => {
    const item = await serverFile(32 * MiB);
    const manager = makeManager({ chunkBytes: 256 * KiB });
    const reader = manager.openReader(item);
    const since = emu.emulator.log.lastSeq;
    for (const offset of [20 * MiB, 3 * MiB, 11 * MiB]) await reader.waitFor(offset + 10, 4096);
    await manager.whenIdle();
    expect(ranges(storageGets(since))).toEqual([
      [20 * MiB, 20 * MiB + 256 * KiB],
      [3 * MiB, 3 * MiB + 256 * KiB],
      [11 * MiB, 11 * MiB + 256 * KiB],
    ]);
    reader.close();
  });

  it('aborts a running download when the last reader closes, and records what landed', async () => {
    const item = await serverFile(16 * MiB);
    const manager = makeManager({ chunkBytes: 8 * MiB });
    emu.emulator.faults.set({ bandwidthBytesPerSec: 512 * KiB });
    const first = manager.openReader(item);
    const second = manager.openReader(item);
    const since = emu.emulator.log.lastSeq;
    await first.waitFor(5000, 4096);
    await second.waitFor(5000, 4096);
    first.close();
    // The other reader still holds the chunk: it keeps coming.
    const landed = temp.store.content.get(item.id)?.cachedBytes ?? 0;
    expect(storageGets(since).filter((e) => e.aborted)).toEqual([]);
    second.close();
    await manager.whenIdle();
    await until(() => storageGets(since).length === 1, 'the aborted request to be logged');
    const [request] = storageGets(since);
    expect(request!.aborted).toBe(true);
    expect(request!.range).toBe(`bytes=0-${8 * MiB - 1}`);
    const state = temp.store.content.get(item.id)!;
    expect(state.cachedBytes).toBeGreaterThanOrEqual(Math.max(landed, 5000 + 4096));
    expect(state.cachedBytes).toBeLessThan(8 * MiB);
    expect(state.ranges.rangeCount).toBe(1);
    expectSameBytes(cachedBytes(manager, item, 0, state.cachedBytes), await serverBytes(item.path!, 0, state.cachedBytes));
    await expect(first.waitFor(0, 1)).rejects.toBeInstanceOf(DownloadCancelledError);
  });

  it('a hydration keeps a chunk alive that the closing reader also wanted', async () => {
    const content = randomBytes(3 * MiB);
    const item = await serverFile(content);
    const manager = makeManager();
    emu.emulator.faults.set({ bandwidthBytesPerSec: 4 * MiB });
    const since = emu.emulator.log.lastSeq;
    const reader = manager.openReader(item);
    await reader.waitFor(0, 10);
    const hydrated = manager.hydrate(item);
    // Once the hydration queues chunk 1 it has joined chunk 0 as well.
    await until(() => storageGets(since).length >= 2, 'the hydration to queue its chunks');
    reader.close();
    await hydrated;
    // The log lists requests as they end, and chunks 1 and 2 run side by side.
    expect(ranges(storageGets(since)).sort((x, y) => x[0] - y[0])).toEqual([
      [0, MiB],
      [MiB, 2 * MiB],
      [2 * MiB, 3 * MiB],
    ]);
    expect(storageGets(since).filter((e) => e.aborted)).toEqual([]);
    expectSameBytes(readFileSync(manager.cachePath(item.id)), content);
    expect(temp.store.content.get(item.id)!.status).toBe('complete');
  });
});

describe('priorities', () => {
  it('runs a blocked read before queued hydration chunks', async () => {
    const item = await serverFile(8 * MiB);
    const manager = makeManager({ concurrency: 1 });
    emu.emulator.faults.set({ bandwidthBytesPerSec: 8 * MiB });
    const since = emu.emulator.log.lastSeq;
    const hydrated = manager.hydrate(item);
    // The request log lists a request when it ends, so watch the manager: chunk 0 is running.
    await until(() => manager.snapshot().some((t) => t.state === 'active'), 'the first hydration chunk to start');
    expect(storageGets(since)).toEqual([]);
    await manager.ensure(item, 7 * MiB + 100, 7 * MiB + 200, { priority: 'read' });
    await hydrated;
    const starts = ranges(storageGets(since)).map(([start]) => start / MiB);
    expect(starts).toEqual([0, 7, 1, 2, 3, 4, 5, 6]);
  });
});

describe('resume and completion', () => {
  it('resumes a partial file from the persisted ranges after a restart, then verifies it', async () => {
    const content = randomBytes(6 * MiB + 123);
    const item = await serverFile(content);
    const before = makeManager();
    await before.ensure(item, 0, 2 * MiB, { priority: 'read' });
    await before.ensure(item, 4 * MiB, 4 * MiB + 1, { priority: 'read' });
    await before.whenIdle();
    await before.close();

    const after = makeManager();
    const done = events(after, 'done');
    const since = emu.emulator.log.lastSeq;
    await after.hydrate(item);
    expect(ranges(storageGets(since)).sort((a, b) => a[0] - b[0])).toEqual([
      [2 * MiB, 3 * MiB],
      [3 * MiB, 4 * MiB],
      [5 * MiB, 6 * MiB],
      [6 * MiB, 6 * MiB + 123],
    ]);
    expectSameBytes(readFileSync(after.cachePath(item.id)), content);
    expect(temp.store.content.get(item.id)!.status).toBe('complete');
    expect(done).toEqual([{ itemId: item.id, path: item.path, total: content.length, verified: true }]);
    // Complete and unchanged: hydrating again sends nothing.
    const again = emu.emulator.log.lastSeq;
    await after.hydrate(item);
    expect(emu.emulator.log.list({ since: again })).toEqual([]);
  });

  it('detects a tampered cache file, discards it and records the error', async () => {
    const content = randomBytes(2 * MiB);
    const item = await serverFile(content);
    const manager = makeManager();
    await manager.hydrate(item);
    expect(await manager.verify(item)).toBe('verified');
    const fd = openSync(manager.cachePath(item.id), 'r+');
    writeSync(fd, Buffer.from([content[1000]! ^ 0xff]), 0, 1, 1000);
    closeSync(fd);
    const failed = events(manager, 'failed');
    await expect(manager.verify(item)).rejects.toBeInstanceOf(ContentHashMismatchError);
    const state = temp.store.content.get(item.id)!;
    expect(state.status).toBe('none');
    expect(state.ranges.isEmpty).toBe(true);
    expect(state.errorCode).toBe('HASH_MISMATCH');
    expect(statSync(manager.cachePath(item.id)).size).toBe(0);
    expect(failed.map((f) => f.error)).toEqual([expect.any(ContentHashMismatchError)]);
    expect(memory.records().some((r) => r['level'] === 50 && String(r['msg']).includes('does not match the server hash'))).toBe(true);
    // The next hydration downloads it again and passes.
    await manager.hydrate(item);
    expect(temp.store.content.get(item.id)!.errorCode).toBeNull();
    expectSameBytes(readFileSync(manager.cachePath(item.id)), content);
  });

  it('fails the hydration when the bytes do not match the stored hash', async () => {
    const item = await serverFile(randomBytes(300 * KiB));
    const wrong = storeItem(item.path!, { quickXorHash: Buffer.alloc(20, 7).toString('base64') });
    const manager = makeManager();
    await expect(manager.hydrate(wrong)).rejects.toBeInstanceOf(ContentHashMismatchError);
    expect(temp.store.content.get(item.id)!.errorCode).toBe('HASH_MISMATCH');
  });

  it('skips the check, and says so, when the item has no hash yet', async () => {
    const item = await serverFile(randomBytes(10 * KiB));
    const unhashed = storeItem(item.path!, { quickXorHash: null });
    const manager = makeManager();
    const done = events(manager, 'done');
    await manager.hydrate(unhashed);
    expect(done).toEqual([expect.objectContaining({ itemId: item.id, verified: false })]);
    expect(memory.records().some((r) => String(r['msg']).includes('skipping the completion check'))).toBe(true);
    expect(await manager.verify(unhashed)).toBe('no-hash');
  });

  it('hydrates an empty file without a request', async () => {
    const item = await serverFile(Buffer.alloc(0));
    const manager = makeManager();
    const since = emu.emulator.log.lastSeq;
    await manager.hydrate(item);
    expect(emu.emulator.log.list({ since })).toEqual([]);
    expect(temp.store.content.get(item.id)!.status).toBe('complete');
    expect(statSync(manager.cachePath(item.id)).size).toBe(0);
  });
});

describe('versions, cancellation and shutdown', () => {
  it('refuses a stale version and discards cached bytes of an old one', async () => {
    const item = await serverFile(randomBytes(2 * MiB));
    const manager = makeManager();
    await manager.ensure(item, 0, 10, { priority: 'read' });

    // Changed on the server, not yet in the store: the URL fetch notices.
    const newContent = randomBytes(2 * MiB);
    await writeServerFile(item.path!, newContent);
    await expect(manager.ensure(item, MiB, MiB + 10, { priority: 'read' })).rejects.toBeInstanceOf(ContentVersionChangedError);

    // The store catches up: the old version is refused, the new one starts from scratch.
    await manager.cancel(item.id);
    const fresh = storeItem(item.path!);
    await expect(manager.ensure(item, 0, 10, { priority: 'read' })).rejects.toBeInstanceOf(ContentVersionChangedError);
    await manager.ensure(fresh, MiB, MiB + 10, { priority: 'read' });
    await manager.whenIdle();
    const state = temp.store.content.get(item.id)!;
    expect(state.ctag).toBe(fresh.ctag);
    expect(state.ranges.toArray()).toEqual([{ start: MiB, end: 2 * MiB }]);
    expectSameBytes(cachedBytes(manager, fresh, 0, 2 * MiB), Buffer.concat([Buffer.alloc(MiB), newContent.subarray(MiB)]));
  });

  it('cancel() fails the waiters; invalidate() forgets the bytes', async () => {
    const item = await serverFile(8 * MiB);
    const manager = makeManager({ chunkBytes: 4 * MiB });
    await manager.ensure(item, 0, 10, { priority: 'read' });
    emu.emulator.faults.set({ bandwidthBytesPerSec: 256 * KiB });
    const waiting = manager.ensure(item, 5 * MiB, 6 * MiB, { priority: 'read' });
    await until(() => manager.snapshot().some((t) => t.state === 'active'), 'the download to start');
    const rejected = expect(waiting).rejects.toBeInstanceOf(DownloadCancelledError);
    await manager.cancel(item.id);
    await rejected;
    await manager.invalidate(item.id);
    expect(existsSync(manager.cachePath(item.id))).toBe(false);
    expect(temp.store.content.get(item.id)!.status).toBe('none');
    expect(temp.store.content.get(item.id)!.cachedBytes).toBe(0);
  });

  it('stopped() ends the item\'s downloads after their writes in flight, keeps new ones out while its work runs, and nothing lands after', async () => {
    const item = await serverFile(8 * MiB);
    const manager = makeManager({ chunkBytes: 4 * MiB });
    emu.emulator.faults.set({ bandwidthBytesPerSec: 512 * KiB });
    const waiting = manager.ensure(item, 3 * MiB, 3 * MiB + 10, { priority: 'read' });
    const rejected = expect(waiting).rejects.toBeInstanceOf(ContentChangingError);
    await until(() => (manager.snapshot()[0]?.bytes ?? 0) > 64 * KiB, 'bytes to arrive');
    const path = manager.cachePath(item.id);
    await manager.stopped(item.id, async () => {
      expect(manager.snapshot()).toEqual([]);
      await expect(manager.ensure(item, 0, 10, { priority: 'read' })).rejects.toBeInstanceOf(ContentChangingError);
      // What landed is recorded before the work begins, and truthfully.
      const state = temp.store.content.get(item.id)!;
      expect(state.cachedBytes).toBeGreaterThan(0);
      for (const range of state.ranges) {
        expectSameBytes(cachedBytes(manager, item, range.start, range.end), await serverBytes(item.path!, range.start, range.end));
      }
      // The local change's file step; a write still in flight, or bytes still coming, would land after it.
      truncateSync(path, 0);
      await new Promise((resolve) => setTimeout(resolve, 300));
    });
    await rejected;
    await manager.whenIdle();
    expect(statSync(path).size).toBe(0);
    emu.emulator.faults.reset();
    // Downloads of the item start again afterwards (here: afresh, the file having lost its bytes).
    await manager.ensure(item, 0, 10, { priority: 'read' });
    expectSameBytes(cachedBytes(manager, item, 0, 10), await serverBytes(item.path!, 0, 10));
  });

  it('stopped() also waits for the jobs of a version being retired, which write to the same file', async () => {
    const item = await serverFile(8 * MiB);
    const tasks = new TaskRegistry({ logger: memory.logger });
    const manager = makeManager({ chunkBytes: 4 * MiB, tasks });
    emu.emulator.faults.set({ bandwidthBytesPerSec: 512 * KiB });
    const old = manager.ensure(item, 0, 8 * MiB, { priority: 'read' }).catch((error: unknown) => error);
    await until(() => (manager.snapshot()[0]?.bytes ?? 0) > 64 * KiB, 'bytes to arrive');
    await writeServerFile(item.path!, randomBytes(2 * MiB));
    const fresh = storeItem(item.path!);
    // The new version's entry replaces the old one, whose jobs are cancelled but still settling.
    const next = manager.ensure(fresh, 0, 10, { priority: 'read' }).catch((error: unknown) => error);
    await manager.stopped(item.id, async () => {
      expect(tasks.list().filter((t) => t.name.startsWith('download:'))).toEqual([]);
    });
    expect(await next).toBeInstanceOf(ContentChangingError);
    expect(await old).toBeInstanceOf(ContentVersionChangedError);
  });

  it('close() aborts downloads and leaves a truthful range map', async () => {
    const item = await serverFile(16 * MiB);
    const manager = makeManager({ chunkBytes: 8 * MiB, concurrency: 2 });
    emu.emulator.faults.set({ bandwidthBytesPerSec: 2 * MiB });
    const waiting = manager.hydrate(item);
    await until(() => (manager.snapshot()[0]?.bytes ?? 0) > 256 * KiB, 'bytes to arrive');
    const rejected = expect(waiting).rejects.toBeInstanceOf(DownloadManagerClosedError);
    await manager.close();
    await rejected;
    await expect(manager.ensure(item, 0, 1, { priority: 'read' })).rejects.toBeInstanceOf(DownloadManagerClosedError);
    const state = temp.store.content.get(item.id)!;
    expect(state.cachedBytes).toBeGreaterThan(0);
    for (const range of state.ranges) {
      expectSameBytes(cachedBytes(manager, item, range.start, range.end), await serverBytes(item.path!, range.start, range.end));
    }
  });

  it('reports progress and lists active transfers in the contract shape', async () => {
    const item = await serverFile(4 * MiB);
    const manager = makeManager({ progressIntervalMs: 0 });
    emu.emulator.faults.set({ bandwidthBytesPerSec: 8 * MiB });
    const progress = events(manager, 'progress');
    const hydrated = manager.hydrate(item);
    await until(() => manager.snapshot().some((t) => t.state === 'active'), 'an active transfer');
    const [row] = manager.snapshot();
    expect(TransferItemSchema.parse(row)).toMatchObject({ itemId: item.id, path: item.path, direction: 'download', total: 4 * MiB });
    await hydrated;
    expect(manager.snapshot()).toEqual([]);
    expect(progress.length).toBeGreaterThan(2);
    expect(progress.every((p) => p.itemId === item.id && p.direction === 'download' && p.bytes <= p.total)).toBe(true);
    expect(progress[progress.length - 1]!.bytes).toBe(4 * MiB);
  });

  it('runs chunk downloads as named tasks when given a registry', async () => {
    const item = await serverFile(2 * MiB);
    const tasks = new TaskRegistry({ logger: memory.logger });
    const manager = makeManager({ tasks });
    emu.emulator.faults.set({ bandwidthBytesPerSec: 4 * MiB });
    const hydrated = manager.hydrate(item);
    await until(() => tasks.list().some((t) => t.name.startsWith(`download:${item.id}#`)), 'a download task');
    await hydrated;
    expect(tasks.list()).toEqual([]);
  });
});

describe('network trouble', () => {
  it('fails waiters with a typed network error when offline, without hanging', async () => {
    const item = await serverFile(4 * MiB);
    const manager = makeManager();
    await manager.ensure(item, 0, 10, { priority: 'read' });
    await emu.emulator.setOffline(true);
    const signal = AbortSignal.timeout(20_000);
    // URL cached: the range request fails.
    await expect(manager.ensure(item, 2 * MiB, 2 * MiB + 10, { priority: 'read', signal })).rejects.toBeInstanceOf(NetworkError);
    // Cached bytes are still served.
    await manager.ensure(item, 0, 10, { priority: 'read', signal });
    // A cold item: the URL fetch fails.
    const cold = storeItem(item.path!);
    await manager.cancel(item.id);
    const other = { ...cold, id: cold.id };
    const reader = manager.openReader(other);
    await expect(reader.waitFor(3 * MiB, 10, signal)).rejects.toBeInstanceOf(NetworkError);
    reader.close();
    expect(signal.aborted).toBe(false);
    await emu.emulator.setOffline(false);
    await manager.ensure(item, 2 * MiB, 2 * MiB + 10, { priority: 'read' });
  });

  it('an aborted wait ends at once with the signal reason', async () => {
    const item = await serverFile(4 * MiB);
    const manager = makeManager();
    emu.emulator.faults.set({ latencyMs: 5_000 });
    const controller = new AbortController();
    const waiting = manager.ensure(item, 0, 10, { priority: 'read', signal: controller.signal });
    controller.abort(new Error('interrupted'));
    await expect(waiting).rejects.toThrow('interrupted');
  });

  it('a download aborted while its response is being taken on ends, instead of waiting for ever on a dead body', async () => {
    const item = await serverFile(2 * MiB);
    const controller = new AbortController();
    // The reader gives up just as the response arrives: before the fix the body was destroyed
    // while nobody listened and the chunk's task waited for it until the engine's shutdown gave up.
    const source: DownloadManagerOptions['graph'] = {
      getItem: (...args) => graph.getItem(...args),
      downloadUrl: (...args) => graph.downloadUrl(...args),
      downloadRange: async (...args) => {
        const response = await graph.downloadRange(...args);
        controller.abort(new Error('the reader went away'));
        return response;
      },
    };
    const manager = makeManager({ graph: source });
    await expect(manager.ensure(item, 0, 10, { priority: 'read', signal: controller.signal })).rejects.toThrow('the reader went away');
    expect(await settledWithin(manager.close(), 10_000)).toBe(true);
  });

  it('a file read again soon reuses its download URL: its first range needs no API request', async () => {
    const item = await serverFile(8 * MiB);
    const manager = makeManager();
    const first = manager.openReader(item);
    await first.waitFor(5 * MiB, 4096);
    first.close();
    await manager.whenIdle();
    const since = emu.emulator.log.lastSeq;
    const second = manager.openReader(item);
    await second.waitFor(2 * MiB, 4096);
    second.close();
    await manager.whenIdle();
    expect(emu.emulator.log.list({ since }).map((e) => `${e.listener} ${e.status}`)).toEqual(['storage 206']);
    // Another version of the item does not get the old version's URL.
    const changed = { ...item, etag: 'another-etag', ctag: 'another-ctag' };
    temp.store.items.upsert({ ...temp.store.items.get(item.id)!, etag: changed.etag, ctag: changed.ctag });
    await expect(manager.ensure(changed, 0, 10, { priority: 'read' })).rejects.toBeInstanceOf(ContentVersionChangedError);
  });

  it('asks for the download URL of an uncached file while its cache file is being prepared, not after', async () => {
    const item = await serverFile(4 * MiB);
    const cacheFileAtUrlRequest: boolean[] = [];
    const manager = makeManager({
      graph: {
        getItem: (...args) => {
          cacheFileAtUrlRequest.push(existsSync(manager.cachePath(item.id)));
          return graph.getItem(...args);
        },
        downloadUrl: (...args) => graph.downloadUrl(...args),
        downloadRange: (...args) => graph.downloadRange(...args),
      },
    });
    await manager.ensure(item, MiB, MiB + 10, { priority: 'read' });
    expect(cacheFileAtUrlRequest).toEqual([false]);
    expectSameBytes(cachedBytes(manager, item, MiB, MiB + 10), await serverBytes(item.path!, MiB, MiB + 10));
  });

  it('fetches a fresh download URL when the old one expired', async () => {
    const item = await serverFile(4 * MiB);
    const manager = makeManager();
    await manager.ensure(item, 0, 10, { priority: 'read' });
    emu.emulator.expireDownloadUrls();
    const since = emu.emulator.log.lastSeq;
    await manager.ensure(item, 2 * MiB, 2 * MiB + 10, { priority: 'read' });
    await manager.whenIdle();
    const log = emu.emulator.log.list({ since });
    expect(log.map((e) => `${e.listener} ${e.status}`)).toEqual(['storage 401', 'api 200', 'storage 206']);
    expectSameBytes(cachedBytes(manager, item, 2 * MiB, 3 * MiB), await serverBytes(item.path!, 2 * MiB, 3 * MiB));
  });

  it('resumes a range whose connection broke mid-body', async () => {
    const content = randomBytes(2 * MiB);
    const item = await serverFile(content);
    const manager = makeManager({ chunkBytes: 2 * MiB });
    emu.emulator.faults.set({ dropNextBodies: 1 });
    await manager.hydrate(item);
    expectSameBytes(readFileSync(manager.cachePath(item.id)), content);
    expect(storageGets(0).some((e) => e.aborted)).toBe(true);
  });
});
