/**
 * The merge rule of a first enumeration with folders listed on demand while it runs
 * (children-listing.ts, docs/concurrency.md): against the emulator over HTTP, a real store, and a
 * delta source the test can hold between the enumeration's last page and its apply.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type Emulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { createMemoryLogger } from '../base/logger.ts';
import type { DriveItem, GraphClient } from '../graph/index.ts';
import type { StoredItem } from '../store/index.ts';
import { openTempStore, type TempStore } from '../store/testing/temp-store.ts';
import { ChildrenListing, type ChildrenSource } from './children-listing.ts';
import { DeltaSync, type DeltaSource } from './delta-sync.ts';
import { DELTA_SELECT, isTombstone, mapDriveItem } from './drive-item-mapping.ts';
import { TaskRegistry } from '../lifecycle/task-registry.ts';
import { emulatorGraphClient } from '../graph/testing/emulator-client.ts';

interface Gate {
  /** Resolves when the held call reached the gate. */
  reached: Promise<void>;
  release: () => void;
  wait: () => Promise<void>;
}

function gate(): Gate {
  let arrive!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((r) => (arrive = r));
  const released = new Promise<void>((r) => (release = r));
  return {
    reached,
    release,
    wait: async () => {
      arrive();
      await released;
    },
  };
}

describe('ChildrenListing beside a first enumeration', () => {
  let handle: EmulatorHandle;
  let emu: Emulator;
  let graph: GraphClient;
  let temp: TempStore;
  let listing: ChildrenListing;
  let sync: DeltaSync;
  /** Held after the enumeration's last page arrived, before its batch is applied. */
  let beforeApply: Gate | undefined;
  /** Held after a children listing's pages arrived, before they are stored. */
  let listingHeld: Gate | undefined;
  let childrenRequests: number;
  /** The order requests were sent in: 'children' or 'delta'. */
  let sent: string[];
  const memory = createMemoryLogger('debug', 'listing-test');

  const write = (path: string, content: string) => emu.admin.remote({ op: 'write', path, content });
  const local = (path: string): StoredItem | undefined => temp.store.items.resolvePath(path);
  const names = (path: string): string[] => temp.store.items.listChildren(local(path)!.id, undefined, 1000).map((i) => i.name);
  const list = async (path: string): Promise<void> => listing.ensureListed(path === '/' ? temp.store.items.getRoot()! : local(path)!);

  beforeEach(async () => {
    handle = await startEmulator({ mode: 'personal' });
    emu = handle.emulator;
    graph = emulatorGraphClient(handle.apiUrl);
    temp = openTempStore();
    beforeApply = undefined;
    listingHeld = undefined;
    childrenRequests = 0;
    sent = [];
    await emu.admin.generate({ folders: 3, filesPerFolder: 4, fileSize: 10 });
    for (const p of ['/A', '/B']) await emu.admin.remote({ op: 'mkdir', path: p });
    await write('/A/x.txt', 'x');
    await write('/A/keep.txt', 'keep');

    const children: ChildrenSource = {
      async *listChildren(id, options) {
        childrenRequests++;
        sent.push('children');
        const pages: DriveItem[][] = [];
        for await (const page of graph.listChildren(id, options)) pages.push(page);
        await listingHeld?.wait();
        yield* pages;
      },
    };
    const source: DeltaSource = {
      getItemByPath: (path, options) => graph.getItemByPath(path, options),
      delta: async (link, options) => {
        sent.push('delta');
        const batch = await graph.delta(link, options);
        if (link === undefined) await beforeApply?.wait();
        return batch;
      },
    };
    listing = new ChildrenListing({ graph: children, store: temp.store, logger: memory.logger, complete: false, pageSize: 2 });
    sync = new DeltaSync({ graph: source, store: temp.store, invalidator: { invalidate: () => undefined }, logger: memory.logger, tasks: new TaskRegistry({ logger: memory.logger }), pageSize: 3, applyChunk: 4, listing });
    // What the engine does before it mounts: the drive and its root, nothing else.
    const drive = await graph.getDrive();
    temp.store.driveState.set('driveId', drive.id);
    const root = mapDriveItem(await graph.getItemByPath('', { select: DELTA_SELECT }), { driveId: drive.id });
    if (isTombstone(root)) throw new Error('the root is gone');
    temp.store.items.upsert(root);
  });

  afterEach(async () => {
    await sync.stop();
    await graph.close();
    await handle.close();
    temp.dispose();
  });

  it('lists a folder on demand, once, and answers from the store after', async () => {
    await list('/');
    await list('/A');
    await Promise.all([list('/B'), list('/B')]);
    expect(names('/A').sort()).toEqual(['keep.txt', 'x.txt']);
    expect(listing.isListed(local('/A')!.id)).toBe(true);
    expect(childrenRequests).toBe(3);
    await list('/A');
    expect(childrenRequests).toBe(3);
    expect(listing.indexing).toEqual({ items: 0 });
  });

  it('a new mount lists first: the enumeration asks for its first page once the filesystem has been quiet a moment', async () => {
    const enumeration = sync.syncOnce();
    // A program opens the mount at once, then keeps walking it for a while.
    await list('/');
    const walking = setInterval(() => listing.activity(), 20);
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(sent).toEqual(['children']);
    clearInterval(walking);
    await enumeration;
    expect(sent).toEqual(['children', 'delta']);
    expect(listing.complete).toBe(true);
  });

  it('after a restart before the enumeration was applied, a folder is listed again and entries the server dropped go', async () => {
    await list('/');
    await list('/A');
    await emu.admin.remote({ op: 'delete', path: '/A/x.txt' });
    await write('/A/y.txt', 'y');
    // The next process: same store (no deltaLink yet), nothing listed in memory.
    listing = new ChildrenListing({ graph, store: temp.store, logger: memory.logger, complete: false });
    expect(listing.isListed(local('/A')!.id)).toBe(false);
    await list('/A');
    expect(names('/A').sort()).toEqual(['keep.txt', 'y.txt']);
  });

  it('a file uploaded anew (its key the server id it had) is not the server item of that id, listed again', async () => {
    await list('/');
    await list('/A');
    const mine = local('/A/x.txt')!;
    // The server deleted x.txt while it was edited here, and the edit went up anew, renamed since;
    // then the old item came back from the recycle bin.
    await write('/A/x (mine).txt', 'mine');
    const anew = (await graph.getItemByPath('/A/x (mine).txt')).id;
    temp.store.items.setRemoteId(mine.id, anew, { replacing: mine.remoteId! });
    temp.store.items.move(mine.id, local('/A')!.id, 'x (mine).txt');
    listing = new ChildrenListing({ graph, store: temp.store, logger: memory.logger, complete: false });
    await list('/A');
    expect(temp.store.items.get(mine.id)).toMatchObject({ name: 'x (mine).txt', remoteId: anew, inode: mine.inode });
    const restored = local('/A/x.txt');
    expect(restored).toMatchObject({ remoteId: mine.remoteId });
    expect(restored?.id).not.toBe(mine.id);
  });

  it('a listing that started after the page carrying an item keeps its newer record', async () => {
    await list('/');
    beforeApply = gate();
    const run = sync.syncOnce();
    await beforeApply.reached;
    expect(listing.indexing!.items).toBeGreaterThan(10);
    // Renamed after delta's page carried x.txt: only the listing sees the new name.
    await emu.admin.remote({ op: 'move', path: '/A/x.txt', newPath: '/A/renamed.txt' });
    await list('/A');
    expect(names('/A').sort()).toEqual(['keep.txt', 'renamed.txt']);
    beforeApply.release();
    await run;
    expect(listing.complete).toBe(true);
    expect(names('/A').sort()).toEqual(['keep.txt', 'renamed.txt']);
    // The next round (every change since the enumeration began) agrees.
    await sync.syncOnce();
    expect(names('/A').sort()).toEqual(['keep.txt', 'renamed.txt']);
  });

  it('a page newer than a listing wins: the enumeration moves and renames what the listing stored, without duplicates', async () => {
    await list('/');
    await list('/A');
    await emu.admin.remote({ op: 'move', path: '/A/x.txt', newPath: '/B/x-moved.txt' });
    await write('/A/keep.txt', 'changed after the listing');
    await sync.syncOnce();
    expect(names('/A')).toEqual(['keep.txt']);
    expect(names('/B')).toEqual(['x-moved.txt']);
    expect(local('/A/keep.txt')!.size).toBe('changed after the listing'.length);
    const serverCount = (id: string): number => emu.drive.children(id, '', 1000).reduce((n, row) => n + 1 + (row.kind === 'folder' ? serverCount(row.id) : 0), 0);
    expect(temp.store.items.count()).toBe(1 + serverCount(emu.drive.rootId));
  });

  it('an item a listing stored before the enumeration began and the enumeration did not see is removed', async () => {
    await list('/');
    await list('/A');
    await emu.admin.remote({ op: 'delete', path: '/A/x.txt' });
    await sync.syncOnce();
    expect(names('/A')).toEqual(['keep.txt']);
  });

  it('an item listed while the enumeration ran and deleted after its page stays until the next round removes it', async () => {
    await list('/');
    beforeApply = gate();
    const run = sync.syncOnce();
    await beforeApply.reached;
    await write('/A/late.txt', 'created after the enumeration walked /A');
    await list('/A');
    await emu.admin.remote({ op: 'delete', path: '/A/late.txt' });
    beforeApply.release();
    await run;
    // Not in the batch, listed after the enumeration began: kept for the round that knows.
    expect(names('/A').sort()).toEqual(['keep.txt', 'late.txt', 'x.txt']);
    await sync.syncOnce();
    expect(names('/A').sort()).toEqual(['keep.txt', 'x.txt']);
  });

  it('a folder made here while the enumeration ran, after its page, is not removed as unseen', async () => {
    await list('/');
    beforeApply = gate();
    const run = sync.syncOnce();
    await beforeApply.reached;
    // What vfs.mkdir does online: the server makes it, the store takes the server's answer.
    const made = mapDriveItem(await graph.createFolder(emu.admin.item('/A')!.id, 'made here'), { driveId: temp.store.driveState.get('driveId') ?? undefined });
    if (isTombstone(made)) throw new Error('the new folder came back gone');
    temp.store.items.upsert(made);
    beforeApply.release();
    await run;
    expect(names('/A').sort()).toEqual(['keep.txt', 'made here', 'x.txt']);
    await sync.syncOnce();
    expect(names('/A').sort()).toEqual(['keep.txt', 'made here', 'x.txt']);
  });

  it('an item deleted here while the enumeration ran, after its page, does not come back', async () => {
    await list('/');
    await list('/A');
    beforeApply = gate();
    const run = sync.syncOnce();
    await beforeApply.reached;
    // What vfs.unlink and rmdir do online: delete on the server, then forget the item here.
    await graph.deleteItem(emu.admin.item('/A/x.txt')!.id);
    temp.store.items.deleteSubtree(local('/A/x.txt')!.id);
    await graph.deleteItem(emu.admin.item('/Folder 0001')!.id);
    temp.store.items.deleteSubtree(local('/Folder 0001')!.id);
    beforeApply.release();
    await run;
    expect(names('/A')).toEqual(['keep.txt']);
    expect(local('/Folder 0001')).toBeUndefined();
    await sync.syncOnce();
    expect(names('/A')).toEqual(['keep.txt']);
    expect(local('/Folder 0001')).toBeUndefined();
  });

  it('a tombstone in the enumeration removes an item even when a newer listing stored it', async () => {
    await list('/');
    const xId = emu.admin.item('/A/x.txt')!.id;
    const tombstoning: DeltaSource = {
      getItemByPath: (path, options) => graph.getItemByPath(path, options),
      delta: async (link, options) => {
        const batch = await graph.delta(link, {
          ...options,
          onPage: (items) => options?.onPage?.(items),
        });
        const tombstone: DriveItem = { id: xId, deleted: {}, parentReference: { id: emu.admin.item('/A')!.id } } as DriveItem;
        options?.onPage?.([tombstone]);
        batch.items.push(tombstone);
        // The listing lands after the page that carries the tombstone: it is newer, and still loses.
        await list('/A');
        return batch;
      },
    };
    await sync.stop();
    sync = new DeltaSync({ graph: tombstoning, store: temp.store, invalidator: { invalidate: () => undefined }, logger: memory.logger, tasks: new TaskRegistry({ logger: memory.logger }), pageSize: 3, listing });
    await sync.syncOnce();
    expect(names('/A')).toEqual(['keep.txt']);
  });

  it('listings go first: the enumeration waits for one in flight before it seals, and its newer record stays', async () => {
    await list('/');
    beforeApply = gate();
    const run = sync.syncOnce();
    let applied = false;
    void run.then(() => (applied = true));
    await beforeApply.reached;
    listingHeld = gate();
    const inFlight = list('/A');
    await listingHeld.reached;
    // Renamed after both answered: the listing (started after the pages) holds the name it saw.
    await emu.admin.remote({ op: 'move', path: '/A/x.txt', newPath: '/A/after.txt' });
    beforeApply.release();
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(applied).toBe(false);
    expect(listing.complete).toBe(false);
    listingHeld.release();
    await inFlight;
    await run;
    expect(names('/A').sort()).toEqual(['keep.txt', 'x.txt']);
    // The round after brings the rename; listing asks nothing any more.
    const before = childrenRequests;
    await list('/B');
    expect(childrenRequests).toBe(before);
    await sync.syncOnce();
    expect(names('/A').sort()).toEqual(['after.txt', 'keep.txt']);
  });

  it('a folder asked for while the batch lands waits for it, without a request', async () => {
    await list('/');
    listing.enumerationStarted();
    listing.seal();
    const before = childrenRequests;
    let done = false;
    const waiting = list('/B').then(() => (done = true));
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    listing.finished(true);
    await waiting;
    expect(childrenRequests).toBe(before);
    expect(listing.isListed(local('/B')!.id)).toBe(true);
  });

  it('a failed enumeration leaves listings working, and the next one merges with them', async () => {
    await list('/');
    emu.faults.failNext({ status: 400, code: 'invalidRequest', pathIncludes: '/delta' });
    await expect(sync.syncOnce()).rejects.toThrow();
    expect(listing.complete).toBe(false);
    await list('/A');
    expect(names('/A').sort()).toEqual(['keep.txt', 'x.txt']);
    await sync.syncOnce();
    expect(listing.complete).toBe(true);
    expect(listing.indexing).toBeUndefined();
  });
});
