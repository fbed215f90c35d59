/**
 * UploadManager against the Graph emulator over real HTTP, with a real store and cache files the
 * tests write the way the vfs does (bytes in the cache file, content dirty with the base version,
 * one pending write/create journal entry, then schedule()).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writeSync, existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import type { LogEntry } from '../../emulator/src/request-log.ts';
import { createMemoryLogger, type MemoryLogger } from '../base/logger.ts';
import { RangeSet } from '../base/range-set.ts';
import { GraphClient } from '../graph/client.ts';
import { NetworkError } from '../graph/errors.ts';
import type { DriveItem } from '../graph/drive-item.ts';
import { quickXorHash, QuickXorHash } from '../graph/quickxor.ts';
import { FRAGMENT_UNIT } from '../graph/upload-limits.ts';
import { StaticTokenProvider } from '../graph/token-provider.ts';
import { newLocalId } from '../store/local-id.ts';
import { openTempStore, reopenStore, type TempStore } from '../store/testing/temp-store.ts';
import type { ItemRecord, StoredItem } from '../store/types.ts';
import { TransferItemSchema } from '../../src-shared/model/transfer.ts';
import { cacheFilePath } from './cache-files.ts';
import { UploadManager, type UploadManagerOptions } from './upload-manager.ts';
import { BandwidthLimiter, paceUploads } from './bandwidth.ts';
import type { UploadEvents } from './upload-types.ts';
import { TaskRegistry } from '../lifecycle/task-registry.ts';
import { until } from '../base/testing/until.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const TOKEN = 'emulator-token-not-a-secret-1234567890';
const HOST = 'testhost';

let emu: EmulatorHandle;
let graph: GraphClient;
let temp: TempStore;
let cacheDir: string;
let memory: MemoryLogger;
let rootId: string;
const managers: UploadManager[] = [];
let fileSeq = 0;

beforeAll(async () => {
  emu = await startEmulator();
  rootId = emu.emulator.drive.rootId;
  graph = new GraphClient({
    baseUrl: emu.apiUrl,
    tokenProvider: new StaticTokenProvider(TOKEN),
    requestTimeoutMs: 20_000,
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
  // As in the engine, the store root carries the server's root id.
  temp.store.items.upsert({ id: rootId, parentId: null, name: 'root', kind: 'folder', size: 0, ctimeMs: 1, mtimeMs: 1 });
  cacheDir = mkdtempSync(join(tmpdir(), 'onemount-upload-test-'));
  memory = createMemoryLogger('debug', 'uploads-test');
});

const registries = new Set<TaskRegistry>();

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(managers.splice(0).map((m) => m.close()));
  // A closed manager leaves no upload task running.
  for (const tasks of registries) expect(tasks.list()).toEqual([]);
  registries.clear();
  emu.emulator.faults.reset();
  await emu.emulator.setOffline(false);
  // No bearer token may reach an upload URL, and no request may come before a Retry-After ran out.
  expect(emu.emulator.log.clientFaults()).toEqual([]);
  emu.emulator.log.clear();
  temp.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

/** The same mapping delta uses, in miniature (the real one lives in sync/, a higher layer). */
function toRecord(item: DriveItem): ItemRecord {
  const time = (value: string | undefined): number => (value === undefined ? 0 : Date.parse(value));
  return {
    id: item.id,
    parentId: item.parentReference?.id ?? null,
    name: item.name ?? item.id,
    kind: item.folder ? 'folder' : 'file',
    size: item.size ?? 0,
    ctimeMs: time(item.fileSystemInfo?.createdDateTime ?? item.createdDateTime),
    mtimeMs: time(item.fileSystemInfo?.lastModifiedDateTime ?? item.lastModifiedDateTime),
    etag: item.eTag ?? null,
    ctag: item.cTag ?? null,
    quickXorHash: item.file?.hashes?.quickXorHash ?? null,
  };
}

function makeManager(overrides: Partial<UploadManagerOptions> = {}): UploadManager {
  const tasks = overrides.tasks ?? new TaskRegistry({ logger: memory.logger });
  registries.add(tasks);
  const manager = new UploadManager({
    tasks,
    store: temp.store,
    cachePath: (id) => cacheFilePath(cacheDir, id),
    toRecord,
    logger: memory.logger,
    hostName: HOST,
    writeBackDelayMs: 20,
    retryBaseMs: 50,
    retryMaxMs: 400,
    ...overrides,
    // Paced as the engine sends it (no limit set): every call goes through the pacing wrapper.
    graph: paceUploads(overrides.graph ?? graph, new BandwidthLimiter({ bytesPerSecond: 0, burstMs: 0 })),
  });
  managers.push(manager);
  return manager;
}

/** A loopback port nothing listens on (taken, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function cachePath(id: string): string {
  return cacheFilePath(cacheDir, id);
}

function writeCache(id: string, content: Buffer): void {
  const path = cachePath(id);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

/** A file "another device" wrote, known to the store as the server has it. */
async function serverFile(content: Buffer, name = `file-${++fileSeq}.bin`): Promise<StoredItem> {
  await emu.emulator.admin.remote({ op: 'write', path: `/${name}`, content: content.toString('latin1') });
  return storeFromServer(`/${name}`);
}

function storeFromServer(path: string): StoredItem {
  const json = emu.emulator.admin.itemJson(path) as unknown as DriveItem;
  return temp.store.items.upsert({ ...toRecord(json), parentId: rootId });
}

/** The test's Graph client, with `after` run once each call of `method` is answered (before the worker sees the answer). */
function afterCalls<K extends 'uploadSmall' | 'uploadFragment'>(method: K, after: (...args: Parameters<GraphClient[K]>) => Promise<unknown>): GraphClient {
  const call = (graph[method] as (...a: Parameters<GraphClient[K]>) => Promise<unknown>).bind(graph);
  return new Proxy(graph, {
    get: (target, key) => {
      if (key === method) {
        return async (...args: Parameters<GraphClient[K]>) => {
          const answer = await call(...args);
          await after(...args);
          return answer;
        };
      }
      return bound(target, key);
    },
  });
}

/** The test's Graph client, with `before` told of each update (PATCH) before it is sent. */
function beforeUpdates(before: (patch: Parameters<GraphClient['update']>[1]) => void): GraphClient {
  return new Proxy(graph, {
    get: (target, key) =>
      key === 'update'
        ? (itemId: string, patch: Parameters<GraphClient['update']>[1], options?: Parameters<GraphClient['update']>[2]) => {
            before(patch);
            return target.update(itemId, patch, options);
          }
        : bound(target, key),
  });
}

/**
 * toRecord for the manager that renames the new file `id` here (from `from` to `to`) when the
 * commit maps the first upload's answer: a rename landing right before the commit's transaction,
 * after the upload's last look at the file's place. The server copy follows after the commit.
 */
function renamedAtCommit(id: string, from: string, to: string): UploadManagerOptions['toRecord'] {
  let renamed = false;
  return (item) => {
    if (!renamed && item.name === from) {
      renamed = true;
      temp.store.items.move(id, rootId, to);
    }
    return toRecord(item);
  };
}

/** A member of the Graph client for a proxy of it: methods bound to the client itself (its private fields are not the proxy's). */
function bound(target: GraphClient, key: string | symbol): unknown {
  const value: unknown = Reflect.get(target, key);
  return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
}

/** afterCalls for small uploads, told the uploaded name. */
const afterSmallUploads = (after: (name: string) => Promise<unknown>): GraphClient => afterCalls('uploadSmall', (_parentId, name) => after(name));

/** What the vfs does when a program rewrites an existing file. */
function localEdit(item: StoredItem, content: Buffer): void {
  writeCache(item.id, content);
  temp.store.transaction(() => {
    const state = temp.store.content.get(item.id);
    const base = state?.status === 'dirty' ? state : { etag: item.etag, ctag: item.ctag };
    temp.store.content.setContent(item.id, { status: 'dirty', etag: base.etag, ctag: base.ctag, ranges: RangeSet.from([{ start: 0, end: content.length }]) });
    temp.store.items.update(item.id, { size: content.length, mtimeMs: 1_700_000_000_000 });
    const open = temp.store.journal.list({ itemId: item.id, states: ['pending', 'uploading'] });
    if (!open.some((e) => e.kind === 'write' || e.kind === 'create')) {
      temp.store.journal.append({ kind: 'write', itemId: item.id, parentId: item.parentId, name: item.name, baseEtag: item.etag });
    }
  });
}

/** What the vfs does for create(2) + write + close. */
function localCreate(name: string, content: Buffer, parentId = rootId): string {
  const id = newLocalId();
  writeCache(id, content);
  temp.store.transaction(() => {
    temp.store.items.insert({ id, parentId, name, kind: 'file', size: content.length, ctimeMs: 1_700_000_000_000, mtimeMs: 1_700_000_000_000 });
    temp.store.content.setContent(id, { status: 'dirty', etag: null, ctag: null, ranges: RangeSet.from(content.length > 0 ? [{ start: 0, end: content.length }] : []) });
    temp.store.journal.append({ kind: 'create', itemId: id, parentId, name });
  });
  return id;
}

/** A file of `size` bytes in the cache without holding it in memory (a random block repeated with a varying first byte). */
function writeBigCache(id: string, size: number): string {
  const path = cachePath(id);
  mkdirSync(dirname(path), { recursive: true });
  const block = randomBytes(MiB);
  const fd = openSync(path, 'w');
  const hash = new QuickXorHash();
  try {
    for (let at = 0, n = 0; at < size; at += block.length, n++) {
      block[0] = n & 0xff;
      const piece = block.subarray(0, Math.min(block.length, size - at));
      writeSync(fd, piece);
      hash.update(piece);
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest();
}

function localCreateBig(name: string, size: number): { id: string; hash: string } {
  const id = newLocalId();
  const hash = writeBigCache(id, size);
  temp.store.transaction(() => {
    temp.store.items.insert({ id, parentId: rootId, name, kind: 'file', size, ctimeMs: 1_700_000_000_000, mtimeMs: 1_700_000_000_000 });
    temp.store.content.setContent(id, { status: 'dirty', etag: null, ctag: null, ranges: RangeSet.from([{ start: 0, end: size }]) });
    temp.store.journal.append({ kind: 'create', itemId: id, parentId: rootId, name });
  });
  return { id, hash };
}

/** Large buffers compared as bytes (a deep toEqual over megabytes takes seconds). */
function expectSameBytes(actual: Buffer, expected: Buffer): void {
  expect(actual.length).toBe(expected.length);
  expect(actual.equals(expected)).toBe(true);
}

function serverJson(path: string): DriveItem | undefined {
  return emu.emulator.admin.itemJson(path) as unknown as DriveItem | undefined;
}

function collect<K extends keyof UploadEvents & string>(manager: UploadManager, name: K): Array<UploadEvents[K]> {
  const seen: Array<UploadEvents[K]> = [];
  manager.events.on(name, (payload) => void seen.push(payload));
  return seen;
}


function fragmentPuts(since: number): LogEntry[] {
  return emu.emulator.log.list({ since, listener: 'storage', method: 'PUT' });
}

function rangeStart(entry: LogEntry): number {
  const m = /^bytes (\d+)-/.exec(entry.contentRange ?? '');
  if (!m) throw new Error(`fragment without Content-Range: ${entry.contentRange}`);
  return Number(m[1]);
}

/** The store and the server agree on the uploaded item; nothing is left to upload. */
function expectUploaded(itemId: string, path: string, content: Buffer | { size: number; hash: string }): void {
  const server = serverJson(path)!;
  const size = Buffer.isBuffer(content) ? content.length : content.size;
  const hash = Buffer.isBuffer(content) ? quickXorHash(content) : content.hash;
  // One key per item: a new file keeps its local key; the server's id is filled in.
  itemId = temp.store.items.keyOf(itemId);
  expect(temp.store.items.get(itemId)?.remoteId).toBe(server.id);
  expect(server.size).toBe(size);
  expect(server.file?.hashes?.quickXorHash).toBe(hash);
  const item = temp.store.items.get(itemId)!;
  expect(item).toMatchObject({ size, etag: server.eTag, ctag: server.cTag, quickXorHash: hash });
  const state = temp.store.content.get(itemId)!;
  expect(state.status).toBe('complete');
  expect(state.etag).toBe(server.eTag);
  expect(state.ctag).toBe(server.cTag);
  expect(state.ranges.isComplete(size)).toBe(true);
  expect(state.errorCode).toBeNull();
  expect(temp.store.journal.list({ itemId })).toEqual([]);
}

describe('simple uploads', () => {
  it('uploads a new file by parent and name; the item keeps its key and gets the server id', async () => {
    const content = Buffer.from('hello from this device');
    const localId = localCreate('new.txt', content);
    const manager = makeManager();
    const done = collect(manager, 'done');
    manager.schedule(localId, { priority: 'high' });
    await manager.whenIdle();
    const server = serverJson('/new.txt')!;
    expect(await emu.emulator.admin.readFile('/new.txt')).toEqual(content);
    expect(temp.store.items.get(localId)?.remoteId).toBe(server.id);
    expect(temp.store.items.get(server.id)).toBeUndefined();
    expectUploaded(server.id, '/new.txt', content);
    // The cache file keeps its name: nothing is renamed when the server id arrives.
    expect(readFileSync(cachePath(localId))).toEqual(content);
    expect(existsSync(cachePath(server.id))).toBe(false);
    expect(done).toEqual([{ itemId: localId, path: '/new.txt', total: content.length, verified: true }]);
    // The local modification time went up with it (a PATCH after the simple PUT).
    expect(server.fileSystemInfo?.lastModifiedDateTime).toBe('2023-11-14T22:13:20Z');
  });

  it('a new file renamed here just before its first upload commits is renamed on the server too (fuzz 6000/127)', async () => {
    const content = Buffer.from('saved by an editor');
    const localId = localCreate('notes.md.fzsave', content);
    // The commit maps the server's answer right before its store transaction: a rename landing
    // there comes after the upload's last look at the file's place, as a vfs rename can.
    let renamed = false;
    const manager = makeManager({
      toRecord: (item) => {
        if (!renamed && item.name === 'notes.md.fzsave') {
          renamed = true;
          temp.store.items.move(localId, rootId, 'notes.md');
        }
        return toRecord(item);
      },
    });
    manager.schedule(localId, { priority: 'high' });
    await manager.whenIdle();
    expect(renamed).toBe(true);
    expect(serverJson('/notes.md.fzsave')).toBeUndefined();
    const server = serverJson('/notes.md')!;
    expect(await emu.emulator.admin.readFile('/notes.md')).toEqual(content);
    expect(temp.store.items.get(localId)).toMatchObject({ name: 'notes.md', remoteId: server.id, etag: server.eTag });
  });

  it('while a committed new file\'s server copy follows its local rename, its first place is named as leaving until the move ends', async () => {
    const localId = localCreate('leave-first.txt', Buffer.from('moved after its commit'));
    const seen: Array<Promise<void> | undefined> = [];
    const manager = makeManager({
      graph: beforeUpdates((patch) => {
        if (patch.name === 'leave-here.txt') seen.push(manager.leaving(rootId, 'LEAVE-FIRST.txt'));
      }),
      toRecord: renamedAtCommit(localId, 'leave-first.txt', 'leave-here.txt'),
    });
    manager.schedule(localId, { priority: 'high' });
    await manager.whenIdle();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(Promise);
    await seen[0];
    expect(manager.leaving(rootId, 'leave-first.txt')).toBeUndefined();
    expect(serverJson('/leave-first.txt')).toBeUndefined();
    expect(temp.store.items.get(localId)?.remoteId).toBe(serverJson('/leave-here.txt')?.id);
  });

  // Seen reading the code (a review of 6012448): a write landing while a first upload's commit
  // awaits (here: its look for the copy a stopped keep-both may have left) makes the commit stale:
  // the file gets its server id and its create entry stays open, but a rename made meanwhile had
  // moved only the local file, and later attempts update the file by id without moving it.
  it('a new file renamed and written again while its first upload commits ends on the server under its new name, with the new bytes', async () => {
    const first = Buffer.from('first version');
    const second = Buffer.from('second version, written while the first committed');
    const localId = localCreate('draft.txt', first);
    // A keep-both of an earlier attempt was stopped: the commit looks for its copy first.
    temp.store.driveState.set('conflictCopyNames', { [localId]: 'draft (conflict).txt' });
    let changed = false;
    const racing = new Proxy(graph, {
      get: (target, key) => {
        const value: unknown = Reflect.get(target, key);
        if (key === 'getItemByPath') {
          return async (...args: Parameters<GraphClient['getItemByPath']>) => {
            if (!changed && args[0].endsWith('draft (conflict).txt')) {
              changed = true;
              temp.store.items.move(localId, rootId, 'final.txt');
              writeCache(localId, second);
              temp.store.transaction(() => {
                temp.store.content.setChanged(localId, { status: 'dirty', etag: null, ctag: null, ranges: RangeSet.from([{ start: 0, end: second.length }]) });
                temp.store.items.update(localId, { size: second.length });
              });
              manager.touch(localId);
            }
            return target.getItemByPath(...args);
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const manager = makeManager({ graph: racing });
    manager.schedule(localId, { priority: 'high' });
    await manager.whenIdle();
    expect(changed).toBe(true);
    expect(temp.store.items.get(localId)?.remoteId).not.toBeNull();
    expect(serverJson('/draft.txt')).toBeUndefined();
    expect(await emu.emulator.admin.readFile('/final.txt')).toEqual(second);
  });

  /** `lost`: the write stops the upload while the move is on its way, after the server made it. */
  async function landedCopyFollowedThenStopped(lost: boolean): Promise<void> {
    const [b, c] = lost ? ['b2.txt', 'c2.bin'] : ['b.txt', 'c.bin'];
    const first = Buffer.from('first version of b');
    const second = Buffer.from('second version of b, written after the first landed');
    const localId = localCreate(b, first);
    // `mv b.txt c.bin` while the first upload is on its way; once its copy has followed to c.bin,
    // a write stops the upload (before its commit) and `mv c.bin b.txt`.
    let moves = 0;
    const racing = new Proxy(graph, {
      get: (target, key) => {
        const value: unknown = Reflect.get(target, key);
        if (key === 'uploadSmall') {
          return async (...args: Parameters<GraphClient['uploadSmall']>) => {
            const answer = await target.uploadSmall(...args);
            if (args[1] === b && moves === 0) temp.store.items.move(localId, rootId, c);
            return answer;
          };
        }
        if (key === 'update') {
          return async (...args: Parameters<GraphClient['update']>) => {
            if (args[1].name !== c || moves++ > 0) return target.update(...args);
            // Made on the server whatever happens to the request here.
            const answer = await target.update(args[0], args[1]);
            writeCache(localId, second);
            temp.store.transaction(() => {
              temp.store.content.setChanged(localId, { status: 'dirty', etag: null, ctag: null, ranges: RangeSet.from([{ start: 0, end: second.length }]) });
              temp.store.items.update(localId, { size: second.length });
              temp.store.items.move(localId, rootId, b);
            });
            manager.touch(localId);
            if (lost) throw args[2]!.signal!.reason;
            return answer;
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const manager = makeManager({ graph: racing });
    manager.schedule(localId, { priority: 'high' });
    await manager.whenIdle();
    expect(moves).toBe(1);
    expect(await emu.emulator.admin.readFile(`/${b}`)).toEqual(second);
    // The first version's copy at c.bin is one delta deletes on sight (delta-apply), not a file to show.
    const copy = serverJson(`/${c}`);
    expect(copy).toBeDefined();
    expect(temp.store.deletedUploads.match(rootId, c, copy!.file!.hashes!.quickXorHash!)?.itemId).toBe(localId);
  }

  it('the landed copy of a first upload moved to where its file went is watched there, so a write stopping the upload before its commit leaves no unknown copy (fuzz 272000/24)', async () => {
    await landedCopyFollowedThenStopped(false);
  });

  it('so it is when the write stops the upload while that move is on its way', async () => {
    await landedCopyFollowedThenStopped(true);
  });

  it("a new file moved here while its first upload ran, whose server copy cannot follow (offline), has that move journaled (fuzz 334000/9)", async () => {
    const id = localCreate('follow-first.txt', Buffer.from('first place'));
    // The vfs moves a file without a server id locally only: its upload takes the copy there.
    const renamed = afterSmallUploads(async () => {
      temp.store.items.move(id, rootId, 'follow-here.txt');
    });
    const moves: string[] = [];
    const offline = new Proxy(renamed, {
      get: (target, key) =>
        key === 'update'
          ? async (itemId: string, patch: Parameters<GraphClient['update']>[1], options?: Parameters<GraphClient['update']>[2]) => {
              if (patch.name === undefined) return target.update(itemId, patch, options);
              moves.push(patch.name);
              throw new NetworkError('connect ECONNREFUSED', { causeCode: 'ECONNREFUSED' });
            }
          : Reflect.get(target, key),
    });
    const manager = makeManager({ graph: offline });
    const journaled = collect(manager, 'journaled');
    manager.schedule(id, { priority: 'high' });
    await manager.whenIdle();
    // Tried before the commit and after it; the server copy stays at the first name meanwhile.
    expect(moves).toEqual(['follow-here.txt', 'follow-here.txt']);
    const item = temp.store.items.get(id)!;
    expect(item).toMatchObject({ name: 'follow-here.txt', parentId: rootId });
    expect(item.remoteId).toBe((emu.emulator.admin.itemJson('/follow-first.txt') as { id: string }).id);
    // Without the entry, the next delta (a restart's) takes the file back to where the server has it.
    expect(temp.store.journal.list({ itemId: id, states: ['pending'] })).toMatchObject([
      { kind: 'rename', parentId: rootId, name: 'follow-first.txt', newParentId: rootId, newName: 'follow-here.txt' },
    ]);
    expect(journaled).toEqual([{ itemId: id, kind: 'rename' }]);
  });

  it('so it is when a write stops the upload while the move after its commit is on its way (a review)', async () => {
    const id = localCreate('stop-first.txt', Buffer.from('first place'));
    let stopped = false;
    const manager = makeManager({
      graph: beforeUpdates((patch) => {
        if (patch.name !== 'stop-here.txt' || !temp.store.items.get(id)?.remoteId) return;
        // A write lands now: the manager stops the attempt (its signal) while the move is sent.
        stopped = true;
        manager.touch(id);
      }),
      toRecord: renamedAtCommit(id, 'stop-first.txt', 'stop-here.txt'),
    });
    manager.schedule(id, { priority: 'high' });
    await manager.whenIdle();
    expect(stopped).toBe(true);
    const item = temp.store.items.get(id)!;
    expect(item.remoteId).toBe((emu.emulator.admin.itemJson('/stop-first.txt') as { id: string }).id);
    // Without the entry, later attempts update the file by id where it is, and the next delta takes it back to its first name.
    expect(temp.store.journal.list({ itemId: id, states: ['pending'] })).toMatchObject([{ kind: 'rename', name: 'stop-first.txt', newName: 'stop-here.txt' }]);
  });

  it('a rename made here while the move after its commit is on its way stays (fuzz 373000/33: the file went back to its first name)', async () => {
    const id = localCreate('again-0.txt', Buffer.from('renamed while it moves'));
    let renames = 0;
    const manager = makeManager({
      graph: beforeUpdates((patch) => {
        // Each move the upload sends meets another rename here (the vfs's, journaled when the name it
        // wants is held on the server), the last one after the upload's last try.
        if (patch.name?.startsWith('again-') && temp.store.items.get(id)?.remoteId) temp.store.items.move(id, rootId, `again-${++renames + 1}.txt`);
      }),
      toRecord: renamedAtCommit(id, 'again-0.txt', 'again-1.txt'),
    });
    manager.schedule(id, { priority: 'high' });
    await manager.whenIdle();
    expect(renames).toBeGreaterThan(0);
    expect(temp.store.items.get(id)).toMatchObject({ parentId: rootId, name: `again-${renames + 1}.txt` });
    // The server copy is one rename behind after the last try: that move waits in the journal.
    expect(temp.store.journal.list({ itemId: id, states: ['pending'] })).toMatchObject([{ kind: 'rename', newName: `again-${renames + 1}.txt` }]);
  });

  it('a time set here while the upload is on its way stays, and is journaled to follow it', async () => {
    const id = localCreate('touched.txt', Buffer.from('written here'));
    const touched = Date.parse('2003-03-03T03:03:03Z');
    // What the vfs does for `touch -d` of a file with local changes, once the bytes are on their way.
    const manager = makeManager({ graph: afterSmallUploads(async () => void temp.store.items.update(id, { mtimeMs: touched })) });
    const journaled = collect(manager, 'journaled');
    manager.schedule(id, { priority: 'high' });
    await manager.whenIdle();
    expect(temp.store.content.get(id)?.status).toBe('complete');
    expect(temp.store.items.get(id)?.mtimeMs).toBe(touched);
    expect(temp.store.journal.list({ itemId: id, states: ['pending'] }).map((e) => [e.kind, e.payload])).toEqual([['setattr', { mtimeMs: touched }]]);
    expect(journaled).toEqual([{ itemId: id, kind: 'setattr' }]);
    // The upload carried the time it began with.
    expect(serverJson('/touched.txt')?.fileSystemInfo?.lastModifiedDateTime).toBe('2023-11-14T22:13:20Z');
  });

  it('a rename landing between the upload and setting its modification time does not cost the time (fuzz 1000/20)', async () => {
    const id = localCreate('moved-meanwhile.txt', Buffer.from('written here'));
    // This device's journal replay renames the file on the server right after the PUT: a new eTag, the same cTag.
    const manager = makeManager({ graph: afterSmallUploads(() => emu.emulator.admin.remote({ op: 'move', path: '/moved-meanwhile.txt', newPath: '/moved-meanwhile-2.txt' })) });
    manager.schedule(id, { priority: 'high' });
    await manager.whenIdle();
    // (Then moved back to where it is here, by the upload's follow-up move.)
    expect(serverJson('/moved-meanwhile.txt')?.fileSystemInfo?.lastModifiedDateTime).toBe('2023-11-14T22:13:20Z');
    expect(temp.store.items.get(id)?.mtimeMs).toBe(1_700_000_000_000);
  });

  it("another device's edit landing between the upload and setting its modification time is no corrupted upload (fuzz 5000/158)", async () => {
    const item = await serverFile(Buffer.from('version one'));
    const mine = Buffer.from('version two, written here');
    localEdit(item, mine);
    let edited = false;
    const racing: UploadManagerOptions['graph'] = {
      getItem: graph.getItem.bind(graph),
      getItemByPath: graph.getItemByPath.bind(graph),
      uploadSmall: graph.uploadSmall.bind(graph),
      uploadSmallById: graph.uploadSmallById.bind(graph),
      createUploadSession: graph.createUploadSession.bind(graph),
      uploadFragment: graph.uploadFragment.bind(graph),
      commitUploadSession: graph.commitUploadSession.bind(graph),
      getUploadSession: graph.getUploadSession.bind(graph),
      cancelUploadSession: graph.cancelUploadSession.bind(graph),
      deleteItem: graph.deleteItem.bind(graph),
      update: async (id, patch, options) => {
        if (!edited && patch.fileSystemInfo) {
          edited = true;
          await emu.emulator.admin.remote({ op: 'write', path: `/${item.name}`, content: 'edited elsewhere' });
        }
        return graph.update(id, patch, options);
      },
    };
    const manager = makeManager({ graph: racing });
    const warnings = collect(manager, 'warning');
    const done = collect(manager, 'done');
    manager.schedule(item.id, { priority: 'high' });
    await manager.whenIdle();
    expect(edited).toBe(true);
    expect(warnings).toEqual([]);
    expect(done.map((d) => d.itemId)).toEqual([item.id]);
    // The uploaded version is what this device holds; delta brings the other device's edit next.
    const content = temp.store.content.get(item.id)!;
    expect(content).toMatchObject({ status: 'complete', errorCode: null });
    expect(readFileSync(cachePath(item.id))).toEqual(mine);
    expect((await emu.emulator.admin.readFile(`/${item.name}`)).toString()).toBe('edited elsewhere');
  });

  it('replaces an existing file by id, conditional on the version the edit started from', async () => {
    const item = await serverFile(Buffer.from('version one'));
    const content = Buffer.from('version two, written here');
    localEdit(item, content);
    const manager = makeManager();
    const since = emu.emulator.log.lastSeq;
    manager.schedule(item.id, { priority: 'high' });
    await manager.whenIdle();
    expectUploaded(item.id, `/${item.name}`, content);
    expect(await emu.emulator.admin.readFile(`/${item.name}`)).toEqual(content);
    const puts = emu.emulator.log.list({ since, method: 'PUT', listener: 'api' });
    expect(puts.map((e) => e.path)).toEqual([expect.stringContaining(`/items/${encodeURIComponent(item.id)}/content`)]);
    expect(temp.store.conflicts.list()).toEqual([]);
  });

  it('notes its commit as a change made here, so a delta batch asked for before it reads the item afresh (fuzz 331000/72)', async () => {
    const item = await serverFile(Buffer.from('version one'));
    localEdit(item, Buffer.from('version two'));
    const fresh = localCreate('fresh.txt', Buffer.from('new here'));
    const mark = temp.store.items.openChangeWindow();
    try {
      const manager = makeManager();
      manager.schedule(item.id, { priority: 'high' });
      manager.schedule(fresh, { priority: 'high' });
      await manager.whenIdle();
      expect(temp.store.items.changedHereSince(item.id, mark)).toBe(true);
      expect(temp.store.items.changedHereSince(fresh, mark)).toBe(true);
      expect(temp.store.items.changedHereSince(serverJson('/fresh.txt')!.id, mark)).toBe(true);
    } finally {
      temp.store.items.closeChangeWindow();
    }
  });

  it('waits the write-back delay after the last schedule or touch', async () => {
    const item = await serverFile(Buffer.from('a'));
    localEdit(item, Buffer.from('bb'));
    // The write-back timer on a fake clock; the upload itself runs on real time once it is due.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const manager = makeManager({ writeBackDelayMs: 300 });
    const since = emu.emulator.log.lastSeq;
    manager.schedule(item.id, { priority: 'high' });
    for (let i = 0; i < 4; i++) {
      vi.advanceTimersByTime(150);
      manager.touch(item.id);
    }
    vi.advanceTimersByTime(299);
    // 600 ms of writes, each restarting the 300 ms delay, and 299 ms after the last: nothing started.
    expect(manager.snapshot()).toMatchObject([{ itemId: item.id, state: 'queued', direction: 'upload' }]);
    vi.advanceTimersByTime(1);
    expect(manager.snapshot()).toMatchObject([{ itemId: item.id, state: 'active', direction: 'upload' }]);
    vi.useRealTimers();
    expect(emu.emulator.log.list({ since })).toEqual([]);
    await manager.whenIdle();
    expectUploaded(item.id, `/${item.name}`, Buffer.from('bb'));
  });

  it('holds a due upload while other files are being written, one delay at a time, at most five', async () => {
    const first = localCreate('burst-first.txt', Buffer.from('first'));
    const busy = localCreate('burst-busy.txt', Buffer.from('busy'));
    const quiet = localCreate('burst-quiet.txt', Buffer.from('quiet'));
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const manager = makeManager({ writeBackDelayMs: 300 });
    const state = (id: string) => manager.snapshot().find((t) => t.itemId === id)?.state;
    manager.schedule(first, { priority: 'high' });
    // Another file written every 150 ms: the first one's delay ends at 300 ms, and each further
    // delay sees writes too, so it waits five more (1800 ms in all), not for ever.
    for (let t = 150; t < 1800; t += 150) {
      vi.advanceTimersByTime(150);
      manager.touch(busy);
      expect(state(first), `at ${t} ms`).toBe('queued');
    }
    vi.advanceTimersByTime(150);
    expect(state(first)).toBe('active');
    vi.useRealTimers();
    await manager.whenIdle();
    expectUploaded(first, '/burst-first.txt', Buffer.from('first'));

    // Nothing else written meanwhile: the plain delay, no hold.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    manager.schedule(quiet, { priority: 'high' });
    vi.advanceTimersByTime(299);
    expect(state(quiet)).toBe('queued');
    vi.advanceTimersByTime(1);
    expect(state(quiet)).toBe('active');
    vi.useRealTimers();
    await manager.whenIdle();
    expectUploaded(quiet, '/burst-quiet.txt', Buffer.from('quiet'));
  });
});

describe('sizes around the limits', () => {
  const cases: Array<[string, number]> = [
    ['empty', 0],
    ['320 KiB - 1', FRAGMENT_UNIT - 1],
    ['320 KiB', FRAGMENT_UNIT],
    ['320 KiB + 1', FRAGMENT_UNIT + 1],
    ['4 MiB - 1', 4 * MiB - 1],
    ['4 MiB', 4 * MiB],
    ['4 MiB + 1', 4 * MiB + 1],
    ['several fragments and a short last one', 7 * 2 * FRAGMENT_UNIT + 12_345],
  ];
  for (const [label, size] of cases) {
    it(`${label} (${size} bytes) arrives whole, hash equal to the local file's`, async () => {
      const content = randomBytes(size);
      const name = `size-${size}.bin`;
      const localId = localCreate(name, content);
      const manager = makeManager({ fragmentBytes: 2 * FRAGMENT_UNIT });
      const since = emu.emulator.log.lastSeq;
      manager.schedule(localId, { priority: 'high' });
      await manager.whenIdle();
      const server = serverJson(`/${name}`)!;
      expectUploaded(server.id, `/${name}`, content);
      expectSameBytes(await emu.emulator.admin.readFile(`/${name}`), content);
      const sessions = emu.emulator.log.list({ since, pathIncludes: 'createUploadSession' });
      const fragments = fragmentPuts(since);
      if (size <= 4 * MiB) {
        expect(sessions).toEqual([]);
        expect(fragments).toEqual([]);
      } else {
        expect(sessions).toHaveLength(1);
        expect(fragments.map(rangeStart)).toEqual(Array.from({ length: Math.ceil(size / (2 * FRAGMENT_UNIT)) }, (_, i) => i * 2 * FRAGMENT_UNIT));
      }
    });
  }
});

describe('upload sessions', () => {
  it('persists the session URL and the confirmed offset after every fragment', async () => {
    const size = 14 * FRAGMENT_UNIT + 7;
    const { id } = localCreateBig('offsets.bin', size);
    const manager = makeManager({ fragmentBytes: FRAGMENT_UNIT });
    const persisted: Array<{ bytes: number; offset: number; url: string | null }> = [];
    manager.events.on('progress', (p) => {
      const entry = temp.store.journal.list({ itemId: id })[0];
      if (entry) persisted.push({ bytes: p.bytes, offset: entry.confirmedOffset, url: entry.sessionUrl });
    });
    manager.schedule(id, { priority: 'high' });
    await manager.whenIdle();
    // Every fragment's end was persisted as the confirmed offset, in order; progress within a
    // fragment runs ahead of it by less than one fragment.
    expect([...new Set(persisted.map((p) => p.offset))]).toEqual(Array.from({ length: 15 }, (_, n) => n * FRAGMENT_UNIT));
    for (const p of persisted) {
      expect(p.bytes).toBeGreaterThanOrEqual(p.offset);
      expect(p.bytes - p.offset).toBeLessThanOrEqual(FRAGMENT_UNIT);
      expect(p.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    }
  });

  it('resumes after the process is stopped mid-upload, from the server offset, not from zero', async () => {
    const size = 24 * FRAGMENT_UNIT;
    const { id, hash } = localCreateBig('resume.bin', size);
    emu.emulator.faults.set({ bandwidthBytesPerSec: 8 * MiB });
    const first = makeManager({ fragmentBytes: FRAGMENT_UNIT });
    first.schedule(id, { priority: 'high' });
    await until(() => (temp.store.journal.list({ itemId: id })[0]?.confirmedOffset ?? 0) >= 3 * FRAGMENT_UNIT, 'three fragments');
    await first.close();
    const entry = temp.store.journal.list({ itemId: id })[0]!;
    expect(entry.state).toBe('pending');
    expect(entry.sessionUrl).not.toBeNull();
    const offset = entry.confirmedOffset;
    expect(offset).toBeGreaterThan(0);
    // A time set here meanwhile: the session carries the one it was made with.
    temp.store.items.update(id, { mtimeMs: Date.parse('2003-03-03T03:03:03Z') });

    // As after kill -9: a fresh manager (and store connection) on the same database.
    emu.emulator.faults.reset();
    temp.store.close();
    temp.store = reopenStore(temp.dbPath);
    const since = emu.emulator.log.lastSeq;
    const second = makeManager({ fragmentBytes: FRAGMENT_UNIT });
    expect(second.start()).toBe(1);
    await second.whenIdle();
    // The first manager's last fragment may be logged late (the emulator logs when it gives up on
    // the aborted body), and it also starts at `offset`: nothing after `since` starts below it.
    const puts = fragmentPuts(since);
    expect(puts.every((e) => rangeStart(e) >= offset)).toBe(true);
    // Resumed where the server was: at `offset`, or one fragment later when the first manager's
    // aborted fragment still reached the server whole (its answer was lost with the manager).
    const resumedAt = Math.min(...puts.filter((e) => e.status >= 200 && e.status < 300).map(rangeStart));
    expect([offset, offset + FRAGMENT_UNIT]).toContain(resumedAt);
    expect(emu.emulator.log.list({ since, pathIncludes: 'createUploadSession' })).toEqual([]);
    const server = serverJson('/resume.bin')!;
    expectUploaded(server.id, '/resume.bin', { size, hash });
    expect(server.fileSystemInfo?.lastModifiedDateTime).toBe('2003-03-03T03:03:03Z');
  });

  it('starts a new session when the persisted one keeps refusing connections while the service answers (issue #11 point 6)', async () => {
    const size = 16 * FRAGMENT_UNIT;
    const { id, hash } = localCreateBig('refused.bin', size);
    emu.emulator.faults.set({ bandwidthBytesPerSec: 8 * MiB });
    const first = makeManager({ fragmentBytes: FRAGMENT_UNIT });
    first.schedule(id, { priority: 'high' });
    await until(() => (temp.store.journal.list({ itemId: id })[0]?.confirmedOffset ?? 0) >= 2 * FRAGMENT_UNIT, 'two fragments');
    await first.close();
    emu.emulator.faults.reset();
    // The session was made at an address nothing listens on any more (a previous run's port).
    const entry = temp.store.journal.list({ itemId: id })[0]!;
    const stale = new URL(entry.sessionUrl!);
    stale.port = String(await closedPort());
    temp.store.journal.updateSession(entry.seq, { sessionUrl: stale.href, confirmedOffset: entry.confirmedOffset });
    const since = emu.emulator.log.lastSeq;
    const second = makeManager({ fragmentBytes: FRAGMENT_UNIT, serviceReachable: () => true });
    second.start();
    await second.whenIdle();
    expect(emu.emulator.log.list({ since, pathIncludes: 'createUploadSession' })).toHaveLength(1);
    expect(memory.records().some((r) => String(r['msg']).includes('keeps refusing connections while OneDrive answers'))).toBe(true);
    const server = serverJson('/refused.bin')!;
    expectUploaded(server.id, '/refused.bin', { size, hash });
  });

  it('keeps a refused session during an outage (its offset is worth keeping until the network is back)', async () => {
    const size = 16 * FRAGMENT_UNIT;
    const { id } = localCreateBig('outage.bin', size);
    emu.emulator.faults.set({ bandwidthBytesPerSec: 8 * MiB });
    const first = makeManager({ fragmentBytes: FRAGMENT_UNIT });
    first.schedule(id, { priority: 'high' });
    await until(() => (temp.store.journal.list({ itemId: id })[0]?.confirmedOffset ?? 0) >= FRAGMENT_UNIT, 'one fragment');
    await first.close();
    emu.emulator.faults.reset();
    const entry = temp.store.journal.list({ itemId: id })[0]!;
    const stale = new URL(entry.sessionUrl!);
    stale.port = String(await closedPort());
    temp.store.journal.updateSession(entry.seq, { sessionUrl: stale.href, confirmedOffset: entry.confirmedOffset });
    const second = makeManager({ fragmentBytes: FRAGMENT_UNIT, serviceReachable: () => false });
    const failures = collect(second, 'failed');
    second.start();
    await until(() => memory.records().filter((r) => r['msg'] === 'upload waits for the network' && r['itemId'] === id).length >= 4, 'four refused attempts');
    await second.close();
    expect(failures).toEqual([]);
    expect(temp.store.journal.list({ itemId: id })[0]!.sessionUrl).toBe(stale.href);
  });

  it('starts a new session from zero when the persisted one expired', async () => {
    const size = 16 * FRAGMENT_UNIT;
    const { id, hash } = localCreateBig('expired.bin', size);
    emu.emulator.faults.set({ bandwidthBytesPerSec: 8 * MiB });
    const first = makeManager({ fragmentBytes: FRAGMENT_UNIT });
    first.schedule(id, { priority: 'high' });
    await until(() => (temp.store.journal.list({ itemId: id })[0]?.confirmedOffset ?? 0) >= 2 * FRAGMENT_UNIT, 'two fragments');
    await first.close();
    const oldSession = new URL(temp.store.journal.list({ itemId: id })[0]!.sessionUrl!).pathname;
    emu.emulator.faults.reset();
    emu.emulator.sessions.expireAll();
    const since = emu.emulator.log.lastSeq;
    const second = makeManager({ fragmentBytes: FRAGMENT_UNIT });
    second.start();
    await second.whenIdle();
    expect(emu.emulator.log.list({ since, pathIncludes: 'createUploadSession' })).toHaveLength(1);
    const fresh = fragmentPuts(since).filter((e) => e.path !== oldSession);
    expect(fresh.map(rangeStart)).toEqual(Array.from({ length: 16 }, (_, i) => i * FRAGMENT_UNIT));
    const server = serverJson('/expired.bin')!;
    expectUploaded(server.id, '/expired.bin', { size, hash });
  });

  it('recovers from partially accepted fragments by asking the session', async () => {
    const size = 16 * FRAGMENT_UNIT;
    const { id, hash } = localCreateBig('partial.bin', size);
    emu.emulator.faults.set({ partialAcceptNext: { count: 2, bytes: 1000 } });
    const manager = makeManager({ fragmentBytes: 2 * FRAGMENT_UNIT });
    manager.schedule(id, { priority: 'high' });
    await manager.whenIdle();
    const server = serverJson('/partial.bin')!;
    expectUploaded(server.id, '/partial.bin', { size, hash });
  });

  it('a final fragment whose answer was lost is recognised as our own upload, not a conflict', async () => {
    const item = await serverFile(Buffer.from('small base'), 'lost-answer.bin');
    const content = randomBytes(4 * MiB + 1);
    localEdit(item, content);
    // One fragment, the last; the commit that follows it: the server commits and drops the
    // connection before answering.
    emu.emulator.faults.set({ dropAfterCommitNext: 1 });
    const manager = makeManager({ fragmentBytes: 16 * FRAGMENT_UNIT });
    const conflicts = collect(manager, 'conflict');
    const since = emu.emulator.log.lastSeq;
    manager.schedule(item.id, { priority: 'high' });
    await manager.whenIdle();
    // The bytes went up once: the repeated commit found the session gone, the new session's
    // If-Match failed on our own commit, and the server's hash equals the local file's.
    expect(fragmentPuts(since).map((e) => [e.status, e.aborted ?? false])).toEqual([[202, false]]);
    expect(emu.emulator.log.list({ since, listener: 'storage', method: 'POST' }).map((e) => [e.status, e.aborted ?? false])).toEqual([
      [200, true],
      [404, false],
    ]);
    expect(conflicts).toEqual([]);
    expect(temp.store.conflicts.list()).toEqual([]);
    expectUploaded(item.id, '/lost-answer.bin', content);
    expectSameBytes(await emu.emulator.admin.readFile('/lost-answer.bin'), content);
  });

  it('a new file renamed here after its last fragment was committed without an answer ends on the server under its new name (fuzz 202000/84)', async () => {
    const size = 4 * MiB + 1;
    const { id, hash } = localCreateBig('before.bin', size);
    emu.emulator.faults.set({ dropAfterCommitNext: 1 });
    // The rename lands while the attempt is between its lost answer and its next request: the
    // server holds the file under its old name, which the attempt then meets as the name's holder.
    const renameOnFailure =
      <A extends unknown[], R>(send: (...a: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        try {
          return await send(...args);
        } catch (error) {
          if (temp.store.items.get(id)?.name === 'before.bin') temp.store.items.move(id, rootId, 'after.bin');
          throw error;
        }
      };
    const renaming = new Proxy(graph, {
      get(target, key) {
        const value = Reflect.get(target, key) as unknown;
        if (typeof value !== 'function') return value;
        const bound = (value as (...a: unknown[]) => unknown).bind(target) as (...a: unknown[]) => Promise<unknown>;
        return key === 'uploadFragment' || key === 'commitUploadSession' ? renameOnFailure(bound) : bound;
      },
    });
    const manager = makeManager({ graph: renaming, fragmentBytes: 16 * FRAGMENT_UNIT });
    manager.schedule(id, { priority: 'high' });
    await manager.whenIdle();
    expect(temp.store.items.get(id)?.name).toBe('after.bin');
    expect(serverJson('/before.bin')).toBeUndefined();
    expectUploaded(id, '/after.bin', { size, hash });
    expect(temp.store.conflicts.list()).toEqual([]);
  });

  it('keeps memory flat while uploading 256 MiB', async () => {
    const size = 256 * MiB;
    const { id, hash } = localCreateBig('big.bin', size);
    const manager = makeManager();
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sample = (): void => {
      peak = Math.max(peak, process.memoryUsage().rss);
    };
    manager.events.on('progress', sample);
    const sampler = setInterval(sample, 10);
    try {
      manager.schedule(id, { priority: 'high' });
      await manager.whenIdle();
    } finally {
      clearInterval(sampler);
    }
    const growthMiB = (peak - before) / MiB;
    console.info(`RSS growth while uploading 256 MiB: ${growthMiB.toFixed(1)} MiB (emulator in the same process)`);
    expect(growthMiB).toBeLessThan(96);
    const server = serverJson('/big.bin')!;
    expectUploaded(server.id, '/big.bin', { size, hash });
  }, 120_000);
});

describe('conflicts', () => {
  it('keeps both when the server copy changed after the edit started', async () => {
    const item = await serverFile(Buffer.from('base version'), 'report.txt');
    const mine = Buffer.from('my local edit');
    localEdit(item, mine);
    const theirs = 'their remote edit, longer';
    await emu.emulator.admin.remote({ op: 'write', path: '/report.txt', content: theirs });
    const manager = makeManager({ now: () => Date.parse('2026-11-27T14:30:05Z') });
    const conflicts = collect(manager, 'conflict');
    manager.schedule(item.id, { priority: 'high' });
    await manager.whenIdle();

    const copyName = 'report (conflict 2026-11-27 143005 testhost).txt';
    expect((await emu.emulator.admin.readFile('/report.txt')).toString()).toBe(theirs);
    expect(await emu.emulator.admin.readFile(`/${copyName}`)).toEqual(mine);
    const remote = serverJson('/report.txt')!;
    const copy = serverJson(`/${copyName}`)!;
    expect(conflicts).toEqual([{ itemId: item.id, path: '/report.txt', localCopyName: copyName, reason: 'both-modified', localCopyId: copy.id }]);
    expect(temp.store.conflicts.list()).toMatchObject([{ itemId: item.id, path: '/report.txt', reason: 'both-modified', localCopyName: copyName, remoteEtag: remote.eTag }]);
    // The original is the remote version now; its local bytes are gone from it.
    expect(temp.store.items.get(item.id)).toMatchObject({ name: 'report.txt', size: theirs.length, etag: remote.eTag, ctag: remote.cTag });
    expect(temp.store.content.get(item.id)).toMatchObject({ status: 'none', etag: remote.eTag, ctag: remote.cTag });
    expect(existsSync(cachePath(item.id))).toBe(false);
    // The copy is in the store with the local bytes already cached.
    expect(temp.store.items.get(copy.id)).toMatchObject({ name: copyName, parentId: rootId, size: mine.length });
    expect(temp.store.content.get(copy.id)?.status).toBe('complete');
    expect(readFileSync(cachePath(copy.id))).toEqual(mine);
    expect(temp.store.journal.list()).toEqual([]);
  });

  it('keeps both for a file another device moved too: the copy is where the server put it, here as there (fuzz 580000/15)', async () => {
    const item = await serverFile(Buffer.from('base version'), 'moved.txt');
    await emu.emulator.admin.remote({ op: 'mkdir', path: '/Elsewhere' });
    const folder = temp.store.items.upsert({ ...toRecord(emu.emulator.admin.itemJson('/Elsewhere') as unknown as DriveItem), parentId: rootId });
    const mine = Buffer.from('my local edit');
    localEdit(item, mine);
    // Moved and edited there; delta has not brought the move here yet.
    await emu.emulator.admin.remote({ op: 'move', path: '/moved.txt', newPath: '/Elsewhere/moved.txt' });
    await emu.emulator.admin.remote({ op: 'write', path: '/Elsewhere/moved.txt', content: 'their edit' });
    const manager = makeManager({ now: () => Date.parse('2026-11-27T14:30:05Z') });
    manager.schedule(item.id, { priority: 'high' });
    await manager.whenIdle();

    const copyName = 'moved (conflict 2026-11-27 143005 testhost).txt';
    const copy = serverJson(`/Elsewhere/${copyName}`)!;
    expect(await emu.emulator.admin.readFile(`/Elsewhere/${copyName}`)).toEqual(mine);
    expect(temp.store.items.get(copy.id)).toMatchObject({ name: copyName, parentId: folder.id });
  });

  it('keeps both when the server copy is edited while a session upload is on the way (fuzz 43000/50: the edit was overwritten)', async () => {
    const item = await serverFile(Buffer.from('base version'), 'movie.bin');
    const mine = randomBytes(4 * MiB + 1);
    localEdit(item, mine);
    const theirs = 'their edit, made while the bytes travelled';
    let edited = false;
    const racing = afterCalls('uploadFragment', async () => {
      if (edited) return;
      edited = true;
      await emu.emulator.admin.remote({ op: 'write', path: '/movie.bin', content: theirs });
    });
    const manager = makeManager({ graph: racing, fragmentBytes: 2 * FRAGMENT_UNIT, now: () => Date.parse('2026-12-05T09:30:05Z') });
    const conflicts = collect(manager, 'conflict');
    const sessions = emu.emulator.sessions.list().length;
    const since = emu.emulator.log.lastSeq;
    manager.schedule(item.id, { priority: 'high' });
    await manager.whenIdle();

    expect(edited).toBe(true);
    expect((await emu.emulator.admin.readFile('/movie.bin')).toString()).toBe(theirs);
    const copyName = 'movie (conflict 2026-12-05 093005 testhost).bin';
    expectSameBytes(await emu.emulator.admin.readFile(`/${copyName}`), mine);
    expect(conflicts).toMatchObject([{ itemId: item.id, path: '/movie.bin', localCopyName: copyName, reason: 'both-modified' }]);
    expect(temp.store.items.get(item.id)).toMatchObject({ size: theirs.length, etag: serverJson('/movie.bin')!.eTag });
    // Found right after the last byte, in one attempt (the session was never asked about), and the
    // uncommitted session cancelled, not left to expire.
    expect(emu.emulator.log.list({ since, listener: 'storage', method: 'GET' })).toEqual([]);
    expect(emu.emulator.log.list({ since, listener: 'storage', method: 'POST' })).toEqual([]);
    expect(emu.emulator.sessions.list()).toHaveLength(sessions);
    expect(temp.store.journal.list()).toEqual([]);
  });

  it('a conflict copy whose last fragment was committed but not answered is sent again over itself, not as a second copy (fuzz 82000/57)', async () => {
    const item = await serverFile(Buffer.from('base version'), 'video.bin');
    const mine = randomBytes(4 * MiB + 1);
    localEdit(item, mine);
    await emu.emulator.admin.remote({ op: 'write', path: '/video.bin', content: 'their edit' });
    // The copy goes up in one fragment; the server commits it and drops the connection.
    emu.emulator.faults.set({ dropAfterCommitNext: 1 });
    const manager = makeManager({ fragmentBytes: 16 * FRAGMENT_UNIT, now: () => Date.parse('2026-12-05T10:00:05Z') });
    manager.schedule(item.id, { priority: 'high' });
    await manager.whenIdle();

    const copyName = 'video (conflict 2026-12-05 100005 testhost).bin';
    expectSameBytes(await emu.emulator.admin.readFile(`/${copyName}`), mine);
    expect(serverJson('/video (conflict 2026-12-05 100005 testhost) 1.bin')).toBeUndefined();
    expect(temp.store.conflicts.list()).toMatchObject([{ itemId: item.id, reason: 'both-modified', localCopyName: copyName }]);
    expect((await emu.emulator.admin.readFile('/video.bin')).toString()).toBe('their edit');
  });

  it('the original becomes the server version as it is once the copy is up, not the one compared (fuzz 22000/70: EIO after)', async () => {
    const item = await serverFile(Buffer.from('base version'), 'moving.txt');
    localEdit(item, Buffer.from('my local edit'));
    await emu.emulator.admin.remote({ op: 'write', path: '/moving.txt', content: 'their first edit' });
    // Another edit lands while the copy is being sent (delta saw it and kept it off the dirty row).
    const racing = afterSmallUploads(() => emu.emulator.admin.remote({ op: 'write', path: '/moving.txt', content: 'their second edit, later' }));
    const manager = makeManager({ graph: racing });
    manager.schedule(item.id, { priority: 'high' });
    await manager.whenIdle();

    const remote = serverJson('/moving.txt')!;
    expect((await emu.emulator.admin.readFile('/moving.txt')).toString()).toBe('their second edit, later');
    expect(temp.store.items.get(item.id)).toMatchObject({ size: 'their second edit, later'.length, etag: remote.eTag, ctag: remote.cTag });
    expect(temp.store.content.get(item.id)).toMatchObject({ status: 'none', etag: remote.eTag });
    expect(temp.store.conflicts.list()).toHaveLength(1);
  });

  it('a copy sent by a keep-both a write stopped goes when the next attempt records no conflict (the server file was deleted meanwhile; fuzz 23000/169)', async () => {
    const item = await serverFile(Buffer.from('base version'), 'gone-after.txt');
    localEdit(item, Buffer.from('my local edit'));
    await emu.emulator.admin.remote({ op: 'write', path: '/gone-after.txt', content: 'their edit' });
    const racing = afterSmallUploads(async (name) => {
      if (!name.includes('(conflict')) return;
      // The copy is up; then a write here, and someone deletes the file there.
      localEdit(item, Buffer.from('my later local edit'));
      manager.touch(item.id);
      await emu.emulator.admin.remote({ op: 'delete', path: '/gone-after.txt' });
    });
    const manager = makeManager({ graph: racing, now: () => Date.parse('2026-03-04T05:06:07Z') });
    manager.schedule(item.id, { priority: 'high' });
    await until(() => temp.store.journal.list({ itemId: item.id }).length === 0, 'the edit uploaded');
    await manager.whenIdle();

    expect((await emu.emulator.admin.readFile('/gone-after.txt')).toString()).toBe('my later local edit');
    expect(serverJson('/gone-after (conflict 2026-03-04 050607 testhost).txt')).toBeUndefined();
    expect(temp.store.conflicts.list()).toMatchObject([{ itemId: item.id, reason: 'remote-deleted' }]);
  });

  it('calls the content invalidator for the item whose server version won', async () => {
    const item = await serverFile(Buffer.from('base'), 'inv.txt');
    localEdit(item, Buffer.from('mine'));
    await emu.emulator.admin.remote({ op: 'write', path: '/inv.txt', content: 'theirs' });
    const invalidated: string[] = [];
    const manager = makeManager({ contentInvalidator: { invalidate: (id) => void invalidated.push(id) } });
    manager.schedule(item.id, { priority: 'high' });
    await manager.whenIdle();
    expect(invalidated).toEqual([item.id]);
  });

  it('uploads the edit again when the file was deleted on the server meanwhile', async () => {
    const item = await serverFile(Buffer.from('base'), 'gone.txt');
    const mine = Buffer.from('edited while someone deleted it');
    localEdit(item, mine);
    await emu.emulator.admin.remote({ op: 'delete', path: '/gone.txt' });
    const manager = makeManager();
    const conflicts = collect(manager, 'conflict');
    manager.schedule(item.id, { priority: 'high' });
    await manager.whenIdle();
    const server = serverJson('/gone.txt')!;
    expect(server.id).not.toBe(item.id);
    expectUploaded(server.id, '/gone.txt', mine);
    // The item keeps its key; it is now known to the server by the new file's id.
    expect(temp.store.items.get(item.id)?.remoteId).toBe(server.id);
    expect(conflicts).toEqual([{ itemId: item.id, path: '/gone.txt', localCopyName: 'gone.txt', reason: 'remote-deleted', localCopyId: item.id }]);
    expect(temp.store.conflicts.list()).toMatchObject([{ itemId: item.id, reason: 'remote-deleted' }]);
  });

  /** The test's Graph client, losing the answer of the first `n` small uploads (the server keeps them): a kill, a dropped connection. */
  const answersLost = (n: number): GraphClient =>
    afterSmallUploads(async () => {
      if (n-- > 0) throw new NetworkError('socket hang up', { causeCode: 'ECONNRESET' });
    });

  /** The names of the server files in the root beginning with `prefix`. */
  const serverNames = (prefix: string): string[] => emu.emulator.admin.tree('/').filter((t) => t.path.startsWith(prefix)).map((t) => t.path);

  it('an edit uploaded again after the server deleted the file, its answer lost, is the file when tried again: no copy beside it (fuzz 580000/156)', async () => {
    const item = await serverFile(Buffer.from('base'), 'gone-lost.txt');
    const mine = Buffer.from('edited while someone deleted it; the answer is lost');
    localEdit(item, mine);
    await emu.emulator.admin.remote({ op: 'delete', path: '/gone-lost.txt' });
    const manager = makeManager({ graph: answersLost(1) });
    manager.schedule(item.id, { priority: 'high' });
    await until(() => temp.store.journal.list({ itemId: item.id }).length === 0, 'the edit uploaded');
    await manager.whenIdle();
    expect(serverNames('gone-lost')).toEqual(['gone-lost.txt']);
    expectUploaded(serverJson('/gone-lost.txt')!.id, '/gone-lost.txt', mine);
    expect(temp.store.items.get(item.id)).toMatchObject({ name: 'gone-lost.txt', remoteId: serverJson('/gone-lost.txt')!.id });
    expect(temp.store.conflicts.list()).toMatchObject([{ itemId: item.id, reason: 'remote-deleted', localCopyName: 'gone-lost.txt' }]);
  });

  it('a new file\'s place is known as being sent to while its attempt waits for the answer, and no longer after (a landed copy\'s delete waits for it)', async () => {
    const id = localCreate('in-flight.txt', Buffer.from('on its way'));
    const seen: boolean[] = [];
    const manager = makeManager({ graph: afterSmallUploads(async () => void seen.push(temp.store.deletedUploads.sendingTo(rootId, 'IN-FLIGHT.txt'))) });
    manager.schedule(id, { priority: 'high' });
    await manager.whenIdle();
    expect(seen).toEqual([true]);
    expect(temp.store.deletedUploads.sendingTo(rootId, 'in-flight.txt')).toBe(false);
  });

  it('an edit of a file deleted and made again on the server goes up as one conflict copy though its answer is lost (fuzz 580000/156)', async () => {
    const item = await serverFile(Buffer.from('base'), 'remade.txt');
    const mine = Buffer.from('edited here while the file was deleted and made again there');
    localEdit(item, mine);
    await emu.emulator.admin.remote({ op: 'delete', path: '/remade.txt' });
    await emu.emulator.admin.remote({ op: 'write', path: '/remade.txt', content: 'made again elsewhere' });
    const manager = makeManager({ graph: answersLost(1), now: () => Date.parse('2026-01-02T03:04:05Z') });
    manager.schedule(item.id, { priority: 'high' });
    await until(() => temp.store.journal.list({ itemId: item.id }).length === 0, 'the edit uploaded');
    await manager.whenIdle();
    const copyName = 'remade (conflict 2026-01-02 030405 testhost).txt';
    expect(serverNames('remade').sort()).toEqual([copyName, 'remade.txt'].sort());
    expect((await emu.emulator.admin.readFile('/remade.txt')).toString()).toBe('made again elsewhere');
    expectUploaded(serverJson(`/${copyName}`)!.id, `/${copyName}`, mine);
    expect(temp.store.items.get(item.id)).toMatchObject({ name: copyName });
    expect(temp.store.conflicts.list()).toMatchObject([{ itemId: item.id, reason: 'remote-deleted', localCopyName: copyName }]);
  });

  it('uploads a new file under a conflict name when the name was taken on the server', async () => {
    const mine = Buffer.from('made here');
    const localId = localCreate('clash.txt', mine);
    await emu.emulator.admin.remote({ op: 'write', path: '/clash.txt', content: 'made elsewhere' });
    const manager = makeManager({ now: () => Date.parse('2026-01-02T03:04:05Z') });
    const conflicts = collect(manager, 'conflict');
    manager.schedule(localId, { priority: 'high' });
    await manager.whenIdle();
    const copyName = 'clash (conflict 2026-01-02 030405 testhost).txt';
    expect((await emu.emulator.admin.readFile('/clash.txt')).toString()).toBe('made elsewhere');
    const copy = serverJson(`/${copyName}`)!;
    expectUploaded(copy.id, `/${copyName}`, mine);
    expect(temp.store.items.get(localId)).toMatchObject({ name: copyName, remoteId: copy.id });
    expect(conflicts).toMatchObject([{ itemId: localId, localCopyName: copyName, reason: 'name-clash' }]);
    expect(temp.store.conflicts.list()).toMatchObject([{ itemId: localId, path: '/clash.txt', reason: 'name-clash', localCopyName: copyName }]);
  });

  it('a new file waits for the name while the server file holding it has an offline delete not replayed yet (fuzz 12000/63)', async () => {
    const mine = Buffer.from('made here');
    // Offline here: `mv clash.txt d` of the server's clash.txt, `rm d`, then a new clash.txt. The
    // rename entry is done (its item is gone); the delete's entry names d, not clash.txt.
    await emu.emulator.admin.remote({ op: 'write', path: '/clash.txt', content: 'deleted here' });
    const occupant = serverJson('/clash.txt')!;
    const removal = temp.store.journal.append({ kind: 'unlink', itemId: newLocalId(), parentId: rootId, name: 'd', baseEtag: occupant.eTag, payload: { remoteId: occupant.id } });
    const localId = localCreate('clash.txt', mine);
    const manager = makeManager({ parentWaitMs: 50 });
    const conflicts = collect(manager, 'conflict');
    manager.schedule(localId, { priority: 'high' });
    await until(() => memory.records().some((r) => r['itemId'] === localId && r['msg'] === 'waiting for an offline change to free the name on the server'), 'the upload waiting for the name');
    expect(serverJson(`/clash 1.txt`)).toBeUndefined();
    // The journal replays the delete: the name is free and the upload takes it.
    await emu.emulator.admin.remote({ op: 'delete', path: '/clash.txt' });
    temp.store.journal.markDone(removal.seq);
    await until(() => temp.store.items.get(localId)?.remoteId != null, 'the upload');
    await manager.whenIdle();
    expectUploaded(temp.store.items.get(localId)!.remoteId!, '/clash.txt', mine);
    expect(conflicts).toEqual([]);
  });

  it('a new file refused its name by a file deleted before the upload looks at it takes the name, not a copy (fuzz 12000/63)', async () => {
    // The offline delete of the file holding the name is replayed between the 409 and the look.
    const localId = localCreate('freed.txt', Buffer.from('made here'));
    emu.emulator.faults.failNext({ status: 409, code: 'nameAlreadyExists', method: 'PUT', pathIncludes: '/content', listener: 'api' });
    const manager = makeManager({ parentWaitMs: 50 });
    const conflicts = collect(manager, 'conflict');
    const since = emu.emulator.log.lastSeq;
    manager.schedule(localId, { priority: 'high' });
    await until(() => temp.store.items.get(localId)?.remoteId != null, 'the upload');
    await manager.whenIdle();
    expectUploaded(temp.store.items.get(localId)!.remoteId!, '/freed.txt', Buffer.from('made here'));
    expect(emu.emulator.log.list({ since, method: 'PUT', listener: 'api' }).map((e) => e.status)).toEqual([409, 201]);
    expect(conflicts).toEqual([]);
    expect(temp.store.conflicts.list()).toEqual([]);
  });

  it('a new file refused its name by the landed upload of a file deleted here takes the name, not a copy (fuzz 163000/300)', async () => {
    // An earlier a.txt's upload reached the server without an answer; then, offline, an editor's
    // save replaced it here (the original deleted, the temp file renamed to its name).
    await emu.emulator.admin.remote({ op: 'write', path: '/saved.txt', content: 'the first a.txt' });
    temp.store.deletedUploads.add({ itemId: newLocalId(), parentId: rootId, name: 'saved.txt', hashes: [quickXorHash(Buffer.from('the first a.txt'))] });
    const mine = Buffer.from('the saved a.txt');
    const localId = localCreate('saved.txt', mine);
    const manager = makeManager({ parentWaitMs: 50 });
    const conflicts = collect(manager, 'conflict');
    manager.schedule(localId, { priority: 'high' });
    await until(() => temp.store.items.get(localId)?.remoteId != null, 'the upload');
    await manager.whenIdle();
    expectUploaded(temp.store.items.get(localId)!.remoteId!, '/saved.txt', mine);
    expect(conflicts).toEqual([]);
    expect(temp.store.conflicts.list()).toEqual([]);
  });

  it('a new file refused its name by someone else\'s file where a file deleted here was watched keeps both', async () => {
    await emu.emulator.admin.remote({ op: 'write', path: '/kept.txt', content: 'someone else\'s file' });
    // A file deleted here had sent a version to this name, but what holds it is not that version.
    temp.store.deletedUploads.add({ itemId: newLocalId(), parentId: rootId, name: 'kept.txt', hashes: [quickXorHash(Buffer.from('never on the server'))] });
    const localId = localCreate('kept.txt', Buffer.from('mine'));
    const manager = makeManager({ parentWaitMs: 50 });
    const conflicts = collect(manager, 'conflict');
    manager.schedule(localId, { priority: 'high' });
    await until(() => conflicts.length > 0, 'the keep-both');
    await manager.whenIdle();
    expect(serverJson('/kept.txt')).toBeDefined();
    expect(conflicts[0]).toMatchObject({ reason: 'name-clash' });
  });

  it('a metadata-only change on the server (new eTag, same cTag) is no conflict', async () => {
    const item = await serverFile(Buffer.from('photo bytes'), 'photo.jpg');
    localEdit(item, Buffer.from('edited photo bytes'));
    await emu.emulator.admin.remote({ op: 'touch', path: '/photo.jpg', modified: '2020-01-01T00:00:00Z' });
    expect(serverJson('/photo.jpg')!.eTag).not.toBe(item.etag);
    const manager = makeManager();
    manager.schedule(item.id, { priority: 'high' });
    await manager.whenIdle();
    expectUploaded(item.id, '/photo.jpg', Buffer.from('edited photo bytes'));
    expect(temp.store.conflicts.list()).toEqual([]);
  });

  it('a spurious 412 (eTag changed, cTag not) is retried once without If-Match', async () => {
    const item = await serverFile(Buffer.from('song'), 'song.mp3');
    localEdit(item, Buffer.from('remixed song'));
    emu.emulator.faults.failNext({ status: 412, code: 'resourceModified', innerCode: 'entityTagDoesNotMatch', method: 'PUT', pathIncludes: '/content', listener: 'api' });
    const manager = makeManager();
    const since = emu.emulator.log.lastSeq;
    manager.schedule(item.id, { priority: 'high' });
    await manager.whenIdle();
    expectUploaded(item.id, '/song.mp3', Buffer.from('remixed song'));
    expect(emu.emulator.log.list({ since, method: 'PUT', listener: 'api' }).map((e) => e.status)).toEqual([412, 200]);
    expect(temp.store.conflicts.list()).toEqual([]);
  });
});

describe('scheduling', () => {
  it('a full drive (507) is not a failure: the upload waits, says why, and lands once there is room', async () => {
    const localId = localCreate('big-enough.txt', Buffer.from('x'.repeat(5000)));
    const total = emu.emulator.drive.quotaTotal;
    emu.emulator.drive.quotaTotal = 1;
    const manager = makeManager({ maxAttempts: 2, retryBaseMs: 10, retryMaxMs: 50 });
    const failed = collect(manager, 'failed');
    try {
      manager.schedule(localId, { priority: 'high' });
      // More refusals than maxAttempts, and still waiting rather than failed.
      await until(() => failed.length >= 4, 'several refusals');
      expect(failed.every((f) => f.willRetry)).toBe(true);
      expect(manager.snapshot()[0]).toMatchObject({ state: 'retrying', error: { code: 'QUOTA_EXCEEDED', message: expect.stringMatching(/OneDrive is full/) } });
    } finally {
      emu.emulator.drive.quotaTotal = total;
    }
    await manager.whenIdle();
    expectUploaded(localId, '/big-enough.txt', Buffer.from('x'.repeat(5000)));
  });

  it('a new write during an upload stops it and uploads the latest content', async () => {
    const size = 20 * FRAGMENT_UNIT;
    const { id } = localCreateBig('moving.bin', size);
    emu.emulator.faults.set({ bandwidthBytesPerSec: 8 * MiB });
    const manager = makeManager({ fragmentBytes: FRAGMENT_UNIT });
    manager.schedule(id, { priority: 'high' });
    await until(() => (temp.store.journal.list({ itemId: id })[0]?.confirmedOffset ?? 0) >= FRAGMENT_UNIT, 'a fragment');
    const latest = randomBytes(5 * MiB + 3);
    manager.touch(id);
    writeCache(id, latest);
    temp.store.items.update(id, { size: latest.length });
    manager.schedule(id, { priority: 'high' });
    emu.emulator.faults.reset();
    await manager.whenIdle();
    const server = serverJson('/moving.bin')!;
    expectUploaded(server.id, '/moving.bin', latest);
    expectSameBytes(await emu.emulator.admin.readFile('/moving.bin'), latest);
    expect(temp.store.conflicts.list()).toEqual([]);
    // The stopped session was cancelled, not left to expire.
    expect(emu.emulator.sessions.list().filter((s) => s.name === 'moving.bin')).toEqual([]);
  });

  it('uploads high priority before low', async () => {
    const manager = makeManager({ concurrency: 1, writeBackDelayMs: 0 });
    const ids = ['a-low', 'b-low', 'c-high', 'd-low'].map((name) => ({ name, id: localCreate(`${name}.txt`, Buffer.from(name)) }));
    emu.emulator.faults.set({ latencyMs: 30 });
    const order: string[] = [];
    manager.events.on('done', (d) => void order.push(d.path));
    manager.schedule(ids[0]!.id, { priority: 'low' });
    await until(() => manager.snapshot().some((t) => t.state === 'active'), 'the first upload running');
    manager.schedule(ids[1]!.id, { priority: 'low' });
    manager.schedule(ids[2]!.id, { priority: 'high' });
    manager.schedule(ids[3]!.id, { priority: 'low' });
    await manager.whenIdle();
    expect(order).toEqual(['/a-low.txt', '/c-high.txt', '/b-low.txt', '/d-low.txt']);
  });

  it('keeps the entry pending while offline and uploads once the server is back', async () => {
    const item = await serverFile(Buffer.from('before'), 'offline.txt');
    localEdit(item, Buffer.from('written offline'));
    await emu.emulator.setOffline(true);
    const manager = makeManager({ retryBaseMs: 60_000, retryMaxMs: 60_000 });
    const failed = collect(manager, 'failed');
    manager.schedule(item.id, { priority: 'high' });
    await until(() => manager.snapshot()[0]?.state === 'waiting-for-network', 'waiting for the network');
    const [row] = manager.snapshot();
    expect(TransferItemSchema.parse(row)).toMatchObject({ state: 'waiting-for-network', error: { code: 'NETWORK' } });
    expect(temp.store.journal.list({ itemId: item.id })).toMatchObject([{ state: 'pending', kind: 'write' }]);
    expect(temp.store.content.get(item.id)).toMatchObject({ status: 'dirty', errorCode: null });
    expect(failed).toEqual([]);
    await emu.emulator.setOffline(false);
    manager.retryNow();
    await manager.whenIdle();
    expectUploaded(item.id, '/offline.txt', Buffer.from('written offline'));
  });

  it('obeys Retry-After through a storm of 429 answers', async () => {
    const item = await serverFile(Buffer.from('x'), 'storm.txt');
    localEdit(item, Buffer.from('after the storm'));
    emu.emulator.faults.throttle({ status: 429, retryAfterSec: 1, count: 3 });
    const manager = makeManager();
    manager.schedule(item.id, { priority: 'high' });
    await manager.whenIdle();
    expectUploaded(item.id, '/storm.txt', Buffer.from('after the storm'));
    // afterEach checks that no request came before Retry-After ran out.
  });

  it('retries server errors with backoff, then fails for good with an error state', async () => {
    const item = await serverFile(Buffer.from('x'), 'broken.txt');
    localEdit(item, Buffer.from('never arrives'));
    emu.emulator.faults.failNext({ status: 500, code: 'generalException', method: 'PUT', pathIncludes: '/content', count: 100 });
    const manager = makeManager({ maxAttempts: 3, retryBaseMs: 10, retryMaxMs: 20 });
    const failed = collect(manager, 'failed');
    manager.schedule(item.id, { priority: 'high' });
    await manager.whenIdle();
    expect(failed.map((f) => f.willRetry)).toEqual([true, true, false]);
    expect(temp.store.content.get(item.id)).toMatchObject({ status: 'dirty', errorCode: 'GRAPH_500' });
    expect(temp.store.journal.list({ itemId: item.id })).toMatchObject([{ state: 'failed' }]);
    expect(TransferItemSchema.parse(manager.snapshot()[0])).toMatchObject({ state: 'failed', error: { code: 'GRAPH_500' } });
    // Scheduling it again (the user saved again) tries again.
    emu.emulator.faults.reset();
    manager.schedule(item.id, { priority: 'high' });
    await manager.whenIdle();
    expectUploaded(item.id, '/broken.txt', Buffer.from('never arrives'));
  });

  it('waits while the folder has no server id yet, then uploads into it', async () => {
    const folderId = newLocalId();
    temp.store.items.insert({ id: folderId, parentId: rootId, name: 'offline-folder', kind: 'folder', size: 0, ctimeMs: 1, mtimeMs: 1 });
    const localId = localCreate('inside.txt', Buffer.from('in a new folder'), folderId);
    const manager = makeManager({ parentWaitMs: 30 });
    const since = emu.emulator.log.lastSeq;
    manager.schedule(localId, { priority: 'high' });
    // It looked for the folder's server id and went back to waiting, twice.
    await until(() => memory.records().filter((r) => r['itemId'] === localId && r['msg'] === 'waiting for the folder to exist on the server').length >= 2, 'two waits for the folder');
    expect(emu.emulator.log.list({ since })).toEqual([]);
    expect(manager.isActive(localId)).toBe(true);
    // The namespace replayer creates the folder and fills in its server id.
    const folder = await emu.emulator.admin.remote({ op: 'mkdir', path: '/offline-folder' });
    temp.store.items.setRemoteId(folderId, String(folder!['id']));
    await manager.whenIdle();
    const server = serverJson('/offline-folder/inside.txt')!;
    expectUploaded(server.id, '/offline-folder/inside.txt', Buffer.from('in a new folder'));
  });

  it('finish() lets an upload that makes the deadline complete', async () => {
    const quick = localCreate('quick.txt', Buffer.from('quick'));
    emu.emulator.faults.set({ latencyMs: 300 });
    const manager = makeManager({ writeBackDelayMs: 0 });
    manager.schedule(quick, { priority: 'high' });
    await until(() => manager.snapshot()[0]?.state === 'active', 'the upload running');
    expect(await manager.finish(10_000)).toEqual({ completed: 1, interrupted: 0 });
    expect(serverJson('/quick.txt')).toBeDefined();
    expect(temp.store.journal.list()).toEqual([]);
    // Nothing new starts once finishing began: the journal keeps it for the next run.
    const later = localCreate('later.txt', Buffer.from('later'));
    manager.schedule(later, { priority: 'high' });
    expect(manager.snapshot()).toEqual([]);
    expect(temp.store.journal.list({ itemId: later })).toMatchObject([{ state: 'pending' }]);
  });

  it('a shutdown uploads a file still in its write-back delay in its uploads phase; a paused one waits for the next start', async () => {
    const runShutdown = async (manager: UploadManager) => {
      const steps = manager.shutdownSteps();
      const context = { signal: new AbortController().signal, deadline: Date.now() + 60_000, forced: false, report: () => undefined };
      for (const phase of ['stop-new-work', 'uploads'] as const) for (const step of steps.filter((s) => s.phase === phase)) await step.run(context);
    };
    const saved = localCreate('saved-before-quit.txt', Buffer.from('saved just before quitting'));
    const manager = makeManager({ writeBackDelayMs: 60_000 });
    manager.schedule(saved, { priority: 'high' });
    await runShutdown(manager);
    expect(serverJson('/saved-before-quit.txt')).toBeDefined();
    expect(temp.store.journal.list({ itemId: saved })).toEqual([]);

    const held = localCreate('paused-at-quit.txt', Buffer.from('paused'));
    const paused = makeManager({ writeBackDelayMs: 60_000 });
    paused.schedule(held, { priority: 'high' });
    paused.pause();
    await runShutdown(paused);
    expect(serverJson('/paused-at-quit.txt')).toBeUndefined();
    expect(temp.store.journal.list({ itemId: held })).toMatchObject([{ state: 'pending' }]);
  });

  it('finish() stops uploads that miss the deadline, with their session and offset persisted', async () => {
    const { id: slow } = localCreateBig('slow.bin', 30 * FRAGMENT_UNIT);
    emu.emulator.faults.set({ bandwidthBytesPerSec: 4 * MiB });
    const manager = makeManager({ fragmentBytes: FRAGMENT_UNIT, writeBackDelayMs: 0 });
    manager.schedule(slow, { priority: 'low' });
    await until(() => (temp.store.journal.list({ itemId: slow })[0]?.confirmedOffset ?? 0) > 0, 'the slow upload under way');
    const result = await manager.finish(100);
    expect(result).toEqual({ completed: 0, interrupted: 1 });
    expect(temp.store.journal.list({ itemId: slow })).toMatchObject([{ state: 'pending', sessionUrl: expect.any(String) }]);
    expect(temp.store.journal.list({ itemId: slow })[0]!.confirmedOffset).toBeGreaterThan(0);
    expect(manager.snapshot()).toEqual([]);
  });

  it('pause() stops uploads at once and starts none; resume() continues from the kept session', async () => {
    const size = 30 * FRAGMENT_UNIT;
    const { id, hash } = localCreateBig('paused.bin', size);
    emu.emulator.faults.set({ bandwidthBytesPerSec: 4 * MiB });
    const manager = makeManager({ fragmentBytes: FRAGMENT_UNIT, writeBackDelayMs: 0 });
    manager.schedule(id, { priority: 'high' });
    await until(() => (temp.store.journal.list({ itemId: id })[0]?.confirmedOffset ?? 0) > 0, 'the upload under way');
    manager.pause();
    expect(manager.paused).toBe(true);
    // The fragment cut off by the pause is logged when its connection closes: let that happen first.
    await until(() => emu.emulator.log.inflight === 0, 'the cut-off fragment closed');
    const pausedAt = emu.emulator.log.lastSeq;
    // 'paused' once the stopped upload is due again and the pause is what holds it.
    await until(() => manager.snapshot().some((r) => r.itemId === id && r.state === 'paused'), 'the upload held by the pause');
    // Nothing was sent while paused.
    expect(emu.emulator.log.inflight).toBe(0);
    expect(emu.emulator.log.list({ since: pausedAt, listener: 'storage' })).toEqual([]);
    const entry = temp.store.journal.list({ itemId: id })[0]!;
    expect(entry.sessionUrl).not.toBeNull();
    const since = emu.emulator.log.lastSeq;
    emu.emulator.faults.reset();
    manager.resume();
    await manager.whenIdle();
    expect(Math.min(...fragmentPuts(since).map(rangeStart))).toBeGreaterThan(0);
    expect(emu.emulator.log.list({ since, pathIncludes: 'createUploadSession' })).toEqual([]);
    expectUploaded(serverJson('/paused.bin')!.id, '/paused.bin', { size, hash });
  });

  it('cancel() stops an upload and discards its session', async () => {
    const { id } = localCreateBig('cancelled.bin', 20 * FRAGMENT_UNIT);
    emu.emulator.faults.set({ bandwidthBytesPerSec: 4 * MiB });
    const manager = makeManager({ fragmentBytes: FRAGMENT_UNIT });
    manager.schedule(id, { priority: 'high' });
    await until(() => (temp.store.journal.list({ itemId: id })[0]?.confirmedOffset ?? 0) > 0, 'the upload under way');
    // As the vfs does on unlink: entries first, then cancel.
    for (const e of temp.store.journal.list({ itemId: id })) temp.store.journal.remove(e.seq);
    await manager.cancel(id);
    expect(manager.isActive(id)).toBe(false);
    expect(emu.emulator.sessions.list().filter((s) => s.name === 'cancelled.bin')).toEqual([]);
    expect(serverJson('/cancelled.bin')).toBeUndefined();
  });
});
