/**
 * A delta batch fetched before a change made here reaches the store after it: the batch must not
 * undo that change (the server's current state decides instead). The delta requests go to the emulator over real HTTP; the batch is held
 * between its last page and its apply while the change is made, so the case is exact.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { createMemoryLogger } from '../base/logger.ts';
import { RangeSet } from '../base/range-set.ts';
import { type GraphClient } from '../graph/index.ts';
import { emulatorGraphClient } from '../graph/testing/emulator-client.ts';
import { TaskRegistry } from '../lifecycle/task-registry.ts';
import { openTempStore, type TempStore } from '../store/testing/temp-store.ts';
import { DeltaSync, type DeltaSource } from './delta-sync.ts';
import { toRecord } from './testing/to-record.ts';

let handle: EmulatorHandle;
let temp: TempStore;
let tasks: TaskRegistry;
let graph: GraphClient;
let sync: DeltaSync;
/** Runs once, after a delta batch arrived and before it is applied. */
let beforeApply: (() => Promise<void>) | undefined;
/** Runs once, after a fresh read of an item (getItem) was answered and before it is applied. */
let afterRead: (() => Promise<void>) | undefined;
/** Runs once, while the batch drops the cached content of a changed item (the invalidator). */
let duringInvalidate: (() => Promise<void>) | undefined;


beforeEach(async () => {
  handle = await startEmulator({ mode: 'personal' });
  temp = openTempStore();
  const { logger } = createMemoryLogger('debug', 'delta-stale-test');
  tasks = new TaskRegistry({ logger });
  graph = emulatorGraphClient(handle.apiUrl);
  const source: DeltaSource = {
    getItemByPath: (...a) => graph.getItemByPath(...a),
    getItem: async (...a) => {
      const item = await graph.getItem(...a);
      await fire(afterRead, () => (afterRead = undefined));
      return item;
    },
    delta: async (...a) => {
      const batch = await graph.delta(...a);
      await fire(beforeApply, () => (beforeApply = undefined));
      return batch;
    },
  };
  const invalidator = { invalidate: () => fire(duringInvalidate, () => (duringInvalidate = undefined)) };
  sync = new DeltaSync({ graph: source, store: temp.store, invalidator, logger, tasks, pollIntervalMs: 60_000 });
  beforeApply = undefined;
  afterRead = undefined;
  duringInvalidate = undefined;
});

/** Runs a test's hook once: it is cleared (`clear`) before it runs. */
async function fire(hook: (() => Promise<void>) | undefined, clear: () => void): Promise<void> {
  clear();
  await hook?.();
}

/**
 * A file in the store, then changed on another device (its time): the next batch carries it at that
 * version.
 */
async function fileTouchedElsewhere(path: string): Promise<{ id: string; remoteId: string | null }> {
  await handle.emulator.admin.remote({ op: 'write', path, content: 'one' });
  await sync.syncOnce();
  const file = temp.store.items.resolvePath(path)!;
  await graph.update(file.remoteId!, { fileSystemInfo: { lastModifiedDateTime: '2020-01-02T03:04:05Z' } });
  return file;
}

/**
 * This device's upload of `bytes` over the file, committed as the upload worker commits: noted as a
 * change made here, then the item takes the answer's fields and the content the answer's version.
 */
async function commitUpload(file: { id: string; remoteId: string | null }, bytes: Buffer): Promise<void> {
  const answer = await graph.uploadSmallById(file.remoteId!, bytes);
  temp.store.transaction(() => {
    temp.store.items.noteChangedHere(file.id, answer.id);
    temp.store.items.update(file.id, { etag: answer.eTag ?? null, ctag: answer.cTag ?? null, size: bytes.length });
    temp.store.content.setContent(file.id, { status: 'complete', etag: answer.eTag ?? null, ctag: answer.cTag ?? null, ranges: RangeSet.whole(bytes.length) });
  });
}

afterEach(async () => {
  await sync.stop();
  await tasks.stopAll(5_000);
  await graph.close();
  await handle.close();
  temp.dispose();
});

describe('a delta batch older than a change made here', () => {
  it('does not undo a rename whose answer was applied while the batch was on its way (fuzz 131000/100)', async () => {
    await handle.emulator.admin.remote({ op: 'mkdir', path: '/Sub dir' });
    await sync.syncOnce();
    const folder = temp.store.items.resolvePath('/Sub dir')!;
    // The folder changes (its time, from another device) so that the next batch carries it as it was then.
    await graph.update(folder.remoteId!, { fileSystemInfo: { lastModifiedDateTime: '2020-01-02T03:04:05Z' } });
    await handle.emulator.admin.remote({ op: 'write', path: '/Sub dir/a.txt', content: 'a' });
    beforeApply = async () => {
      // The vfs's rename (applyAnswer): PATCH, then the answer applied by the item's key and noted.
      const moved = await graph.update(folder.remoteId!, { name: 'F' });
      temp.store.items.noteChangedHere(folder.id, moved.id);
      temp.store.items.upsert(toRecord(moved));
    };
    await sync.syncOnce();
    expect(temp.store.items.get(folder.id)).toMatchObject({ name: 'F' });
    expect(temp.store.items.resolvePath('/F/a.txt')).toBeDefined();
  }, 30_000);

  // Fuzz 331000/72: a read then took the upload's own cached bytes for another version, discarded
  // them and failed with EIO. That the upload's commit notes its item: transfers/upload-manager.test.ts.
  it("does not give a file back the older eTag of a batch fetched while this device's upload of it was on its way", async () => {
    const file = await fileTouchedElsewhere('/y.txt');
    beforeApply = () => commitUpload(file, Buffer.from('edited here'));
    await sync.syncOnce();
    expect(temp.store.items.get(file.id)?.etag).toBe(temp.store.content.get(file.id)?.etag);
    expect(temp.store.content.get(file.id)?.status).toBe('complete');
  }, 30_000);

  it("nor the older eTag of the fresh read it then makes, when another upload of the file commits during that read (lost-write e2e)", async () => {
    const file = await fileTouchedElsewhere('/w.txt');
    beforeApply = async () => {
      await commitUpload(file, Buffer.from('first edit here'));
      afterRead = () => commitUpload(file, Buffer.from('second edit here, while the item was read afresh'));
    };
    await sync.syncOnce();
    expect(afterRead).toBeUndefined();
    const item = temp.store.items.get(file.id);
    expect(item?.etag).toBe(temp.store.content.get(file.id)?.etag);
    expect(item?.etag).toBe((handle.emulator.admin.itemJson('/w.txt') as { eTag: string }).eTag);
  }, 30_000);

  it('nor when the upload commits while the batch awaits the invalidation of another changed file (a review of the fix)', async () => {
    await handle.emulator.admin.remote({ op: 'write', path: '/u.txt', content: 'uuu' });
    const file = await fileTouchedElsewhere('/v.txt');
    // And u's content, which the batch invalidates.
    await handle.emulator.admin.remote({ op: 'write', path: '/u.txt', content: 'u, changed elsewhere' });
    const edited = Buffer.from('edited here');
    beforeApply = async () => {
      duringInvalidate = () => commitUpload(file, edited);
    };
    await sync.syncOnce();
    expect(duringInvalidate).toBeUndefined();
    const item = temp.store.items.get(file.id);
    expect(item).toMatchObject({ size: edited.length, etag: temp.store.content.get(file.id)?.etag });
    expect(item?.etag).toBe((handle.emulator.admin.itemJson('/v.txt') as { eTag: string }).eTag);
  }, 30_000);

  it('does not bring back a file deleted here while the batch was on its way', async () => {
    await handle.emulator.admin.remote({ op: 'write', path: '/x.txt', content: 'one' });
    await sync.syncOnce();
    const file = temp.store.items.resolvePath('/x.txt')!;
    // Edited on another device: the next batch carries the file.
    await handle.emulator.admin.remote({ op: 'write', path: '/x.txt', content: 'two' });
    beforeApply = async () => {
      // The vfs's unlink (remove): DELETE, noted, then the item leaves the store.
      await graph.deleteItem(file.remoteId!);
      temp.store.items.noteChangedHere(file.id, file.remoteId);
      temp.store.items.deleteSubtree(file.id);
    };
    await sync.syncOnce();
    expect(temp.store.items.resolvePath('/x.txt')).toBeUndefined();
  }, 30_000);
});
