/**
 * A new file's first upload that a write stops after its bytes reached the server: the server
 * commits that copy at the place the attempt sent it to, and delta can see it before the next
 * attempt begins. The upload manager, delta and the journal replayer run against the Graph
 * emulator over real HTTP; the store, journal and cache file change as the vfs changes them, and
 * the write lands at a chosen point (after the server's commit, before its answer is read), so
 * each case is exact and independent of timing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { throwIfAborted } from '../base/abort.ts';
import { createMemoryLogger } from '../base/logger.ts';
import { RangeSet } from '../base/range-set.ts';
import { type GraphClient } from '../graph/index.ts';
import { quickXorHash } from '../graph/quickxor.ts';
import { emulatorGraphClient } from '../graph/testing/emulator-client.ts';
import { TaskRegistry } from '../lifecycle/task-registry.ts';
import { newLocalId } from '../store/index.ts';
import { openTempStore, type TempStore } from '../store/testing/temp-store.ts';
import { cacheFilePath } from '../transfers/cache-files.ts';
import { UploadManager } from '../transfers/upload-manager.ts';
import type { UploadSource } from '../transfers/upload-types.ts';
import { DeltaSync } from './delta-sync.ts';
import { JournalReplayer } from './journal-replayer.ts';
import { until } from '../base/testing/until.ts';
import { toRecord } from './testing/to-record.ts';

let handle: EmulatorHandle;
let temp: TempStore;
let tasks: TaskRegistry;
let graph: GraphClient;
let sync: DeltaSync;
let replayer: JournalReplayer;
let manager: UploadManager;
let cacheDir: string;
/** Runs once, right after the server committed a simple upload and before its answer is read. */
let onLanded: (() => Promise<void> | void) | undefined;


/** The Graph client, with a hook between a simple upload's commit on the server and its answer. */
function uploadSource(): UploadSource {
  return {
    getItem: (...a) => graph.getItem(...a),
    getItemByPath: (...a) => graph.getItemByPath(...a),
    deleteItem: (...a) => graph.deleteItem(...a),
    update: (...a) => graph.update(...a),
    uploadSmallById: (...a) => graph.uploadSmallById(...a),
    createUploadSession: (...a) => graph.createUploadSession(...a),
    uploadFragment: (...a) => graph.uploadFragment(...a),
    commitUploadSession: (...a) => graph.commitUploadSession(...a),
    getUploadSession: (...a) => graph.getUploadSession(...a),
    cancelUploadSession: (...a) => graph.cancelUploadSession(...a),
    uploadSmall: async (parentId, name, body, options) => {
      const answer = await graph.uploadSmall(parentId, name, body, options);
      const hook = onLanded;
      onLanded = undefined;
      if (hook) {
        await hook();
        // The stop came before the answer was read: the attempt never learns the copy's id.
        throwIfAborted(options?.signal);
      }
      return answer;
    },
  };
}

beforeEach(async () => {
  handle = await startEmulator({ mode: 'personal' });
  temp = openTempStore();
  cacheDir = mkdtempSync(join(tmpdir(), 'onemount-landed-upload-'));
  const { logger } = createMemoryLogger('debug', 'landed-upload-test');
  tasks = new TaskRegistry({ logger });
  graph = emulatorGraphClient(handle.apiUrl);
  sync = new DeltaSync({ graph, store: temp.store, invalidator: { invalidate: () => undefined }, logger, tasks, pollIntervalMs: 60_000 });
  replayer = new JournalReplayer({ graph, store: temp.store, toRecord, logger, tasks, hostName: 'test-host', retry: { baseMs: 5_000, maxMs: 5_000 } });
  // The write-back delay is long: the next attempt starts when the test says so (schedule immediately).
  manager = new UploadManager({
    graph: uploadSource(),
    store: temp.store,
    cachePath: (id) => cacheFilePath(cacheDir, id),
    toRecord,
    logger,
    tasks,
    hostName: 'test-host',
    writeBackDelayMs: 60_000,
    retryBaseMs: 50,
    retryMaxMs: 400,
  });
  onLanded = undefined;
});

afterEach(async () => {
  await manager.close();
  await sync.stop();
  await tasks.stopAll(5_000);
  await graph.close();
  await handle.close();
  temp.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

function writeCache(id: string, content: Buffer): void {
  const path = cacheFilePath(cacheDir, id);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

/** What the vfs leaves after create(2) + write + close of a new file. */
function localCreate(parentId: string, name: string, content: Buffer): string {
  const id = newLocalId();
  writeCache(id, content);
  temp.store.transaction(() => {
    temp.store.items.insert({ id, parentId, name, kind: 'file', size: content.length, ctimeMs: 1_700_000_000_000, mtimeMs: 1_700_000_000_000 });
    temp.store.content.setChanged(id, { status: 'dirty', etag: null, ctag: null, ranges: RangeSet.from([{ start: 0, end: content.length }]) });
    temp.store.journal.append({ kind: 'create', itemId: id, parentId, name });
  });
  return id;
}

/** What the vfs does on a write of the whole file while its upload runs: new bytes, then touch(). */
function localRewrite(id: string, content: Buffer): void {
  writeCache(id, content);
  temp.store.transaction(() => {
    temp.store.content.setChanged(id, { status: 'dirty', etag: null, ctag: null, ranges: RangeSet.from([{ start: 0, end: content.length }]) });
    temp.store.items.update(id, { size: content.length, mtimeMs: 1_700_000_001_000 });
  });
  manager.touch(id);
}


/** The first attempt was stopped by the write and the next one waits (the write-back delay). */
async function firstAttemptStopped(): Promise<void> {
  await until(() => onLanded === undefined && manager.snapshot()[0]?.state === 'queued', 'the stopped attempt to settle');
}

/** Replays what delta queued, then lets delta see the result. */
async function settle(): Promise<void> {
  let left = await replayer.replay();
  for (let pass = 0; left > 0 && pass < 3; pass++) left = await replayer.replay();
  expect(left).toBe(0);
  await sync.syncOnce();
}

/** A folder `Sub dir` on the server, known to the store: the keys of the root and of it. */
async function withSubDir(): Promise<{ store: TempStore['store']; rootKey: string; subKey: string }> {
  const root = await graph.getItemByPath('/');
  const sub = await graph.createFolder(root.id, 'Sub dir');
  await sync.syncOnce();
  const { store } = temp;
  return { store, rootKey: store.items.getRoot()!.id, subKey: store.items.keyOf(sub.id) };
}

describe("a new file's first upload stopped after its bytes landed", () => {
  it('moved into a folder, with delta seeing the copy before the next attempt: the copy at the old place is deleted (fuzz 9800/107)', async () => {
    const { store, rootKey, subKey } = await withSubDir();

    const first = Buffer.from('first version, sent and committed, answer never read');
    const latest = Buffer.from('the latest bytes, written after the move');
    const id = localCreate(rootKey, 'b.txt', first);
    // `mv b.txt "Sub dir/"` (the file has no server id: the vfs moves it locally only), then a write.
    onLanded = () => {
      store.items.move(id, subKey, 'b.txt');
      localRewrite(id, latest);
    };
    manager.schedule(id, { priority: 'high', immediately: true });
    await firstAttemptStopped();
    // The server holds the stopped attempt's bytes at the old place.
    expect((await graph.getItemByPath('/b.txt')).file?.hashes?.quickXorHash).toBe(quickXorHash(first));

    // Delta sees that copy before the next attempt begins.
    await sync.syncOnce();
    expect(store.items.resolvePath('/b.txt')).toBeUndefined();

    manager.schedule(id, { priority: 'high', immediately: true });
    await manager.whenIdle();
    await settle();

    await expect(graph.getItemByPath('/b.txt')).rejects.toMatchObject({ status: 404 });
    const moved = await graph.getItemByPath('/Sub dir/b.txt');
    expect(moved.file?.hashes?.quickXorHash).toBe(quickXorHash(latest));
    expect(await handle.emulator.admin.readFile('/Sub dir/b.txt')).toEqual(latest);
    expect(store.items.resolvePath('/b.txt')).toBeUndefined();
    expect(store.items.get(id)).toMatchObject({ parentId: subKey, name: 'b.txt', remoteId: moved.id, quickXorHash: quickXorHash(latest) });
    expect(store.items.listChildren(rootKey, undefined, 100).map((c) => c.name)).toEqual(['Sub dir']);
    expect(store.conflicts.list()).toEqual([]);
    expect(store.journal.list({})).toEqual([]);
  }, 30_000);

  it('moved, the copy\'s delete waiting for the attempt that sent it there: tried again as soon as that attempt ends without it', async () => {
    const { store, rootKey, subKey } = await withSubDir();
    const id = localCreate(rootKey, 'b.txt', Buffer.from('first version, sent and committed, answer never read'));
    // Its own retry comes only after ten minutes: what wakes it is the end of the attempt.
    const waking = new JournalReplayer({ graph, store, toRecord, logger: createMemoryLogger('debug', 'landed-upload-test').logger, tasks, hostName: 'test-host', retry: { baseMs: 600_000, maxMs: 600_000 } });
    waking.start();
    onLanded = async () => {
      store.items.move(id, subKey, 'b.txt');
      await sync.syncOnce();
      expect(await waking.replay()).toBe(1);
      // A write stops the attempt before it reads its answer: the copy is not the file after all.
      localRewrite(id, Buffer.from('the latest bytes, written after the move'));
    };
    manager.schedule(id, { priority: 'high', immediately: true });
    await firstAttemptStopped();
    await until(() => store.journal.list({ states: ['pending', 'uploading'] }).every((e) => e.kind !== 'unlink'), 'the copy deleted');
    await expect(graph.getItemByPath('/b.txt')).rejects.toMatchObject({ status: 404 });
  }, 30_000);

  it('moved while its answer is on the way, the copy deleted there first (another device): the attempt does not take the deleted copy for the file', async () => {
    const { store, rootKey, subKey } = await withSubDir();
    const content = Buffer.from('moved while its only upload landed');
    const id = localCreate(rootKey, 'b.txt', content);
    // The answer is slow: meanwhile the file moves, and someone deletes the copy on the server.
    onLanded = async () => {
      store.items.move(id, subKey, 'b.txt');
      await handle.emulator.admin.remote({ op: 'delete', path: '/b.txt' });
    };
    manager.schedule(id, { priority: 'high', immediately: true });
    await until(() => onLanded === undefined, 'the copy to land');
    await manager.whenIdle();
    await settle();

    const server = await graph.getItemByPath('/Sub dir/b.txt');
    expect(await handle.emulator.admin.readFile('/Sub dir/b.txt')).toEqual(content);
    expect(store.items.get(id)).toMatchObject({ parentId: subKey, name: 'b.txt', remoteId: server.id });
    expect(store.content.get(id)?.status).toBe('complete');
    expect(store.items.listChildren(rootKey, undefined, 100).map((c) => c.name)).toEqual(['Sub dir']);
    expect(store.journal.list({})).toEqual([]);
  }, 30_000);

  it('moved while its answer is on the way, with delta queueing the copy for deletion: the delete waits for the attempt, which keeps the copy as the file, no conflict', async () => {
    const { store, rootKey, subKey } = await withSubDir();
    const content = Buffer.from('moved while its only upload landed');
    const id = localCreate(rootKey, 'b.txt', content);
    onLanded = async () => {
      store.items.move(id, subKey, 'b.txt');
      await sync.syncOnce();
      expect(store.journal.list({ states: ['pending'] }).filter((e) => e.kind === 'unlink')).toHaveLength(1);
      // Tried while the attempt waits for its answer: not sent (the copy may be the file).
      expect(await replayer.replay()).toBe(1);
      expect((await graph.getItemByPath('/b.txt')).file).toBeDefined();
    };
    manager.schedule(id, { priority: 'high', immediately: true });
    await until(() => onLanded === undefined, 'the copy to land');
    await manager.whenIdle();
    await settle();

    const server = await graph.getItemByPath('/Sub dir/b.txt');
    expect(await handle.emulator.admin.readFile('/Sub dir/b.txt')).toEqual(content);
    await expect(graph.getItemByPath('/b.txt')).rejects.toMatchObject({ status: 404 });
    expect(store.items.get(id)).toMatchObject({ parentId: subKey, name: 'b.txt', remoteId: server.id });
    expect(store.conflicts.list()).toEqual([]);
    expect(store.journal.list({})).toEqual([]);
  }, 30_000);

  it('still at its place: delta takes the copy for the upload landing, and the next attempt goes over it', async () => {
    await sync.syncOnce();
    const { store } = temp;
    const rootKey = store.items.getRoot()!.id;
    const first = Buffer.from('first version');
    const latest = Buffer.from('written again while the first one landed');
    const id = localCreate(rootKey, 'notes.md', first);
    onLanded = () => localRewrite(id, latest);
    manager.schedule(id, { priority: 'high', immediately: true });
    await firstAttemptStopped();
    const landed = await graph.getItemByPath('/notes.md');

    await sync.syncOnce();
    expect(store.items.get(id)?.remoteId).toBe(landed.id);

    manager.schedule(id, { priority: 'high', immediately: true });
    await manager.whenIdle();
    await settle();

    const server = await graph.getItemByPath('/notes.md');
    expect(server.id).toBe(landed.id);
    expect(await handle.emulator.admin.readFile('/notes.md')).toEqual(latest);
    expect(store.items.get(id)).toMatchObject({ name: 'notes.md', remoteId: landed.id, quickXorHash: quickXorHash(latest) });
    expect(store.conflicts.list()).toEqual([]);
    expect(store.journal.list({})).toEqual([]);
    // Nothing of ours can land there any more: no place is left watched.
    expect(store.driveState.get('deletedUploads') ?? []).toEqual([]);
  }, 30_000);
});
