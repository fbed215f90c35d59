/**
 * SharedFolders against the Graph emulator over HTTP, with a real store and a real GraphClient
 * routed by it, in both drive modes: routing of ids, shortcut parents and paths to the other drive,
 * each share's own delta (two shares of one drive kept apart on Business's root delta), the
 * access checks, and a share whose folder is gone.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { createMemoryLogger } from '../base/logger.ts';
import { quickXorHash, type GraphClient } from '../graph/index.ts';
import { RangeSet, type Store, type StoredItem } from '../store/index.ts';
import { openTempStore, type TempStore } from '../store/testing/temp-store.ts';
import { TaskRegistry } from '../lifecycle/task-registry.ts';
import { DeltaSync } from './delta-sync.ts';
import { JournalReplayer } from './journal-replayer.ts';
import { isTombstone, mapDriveItem } from './drive-item-mapping.ts';
import { SharedFolders } from './shared-folders.ts';
import { emulatorGraphClient } from '../graph/testing/emulator-client.ts';

type Mode = 'personal' | 'business';

function names(store: Store, folder: StoredItem): string[] {
  return store.items.listChildren(folder.id, undefined, 1000).map((i) => i.name).sort();
}

describe.each<Mode>(['personal', 'business'])('SharedFolders (%s)', (mode) => {
  let handle: EmulatorHandle;
  let graph: GraphClient;
  let temp: TempStore;
  let shared: SharedFolders;
  let sync: DeltaSync;
  let tasks: TaskRegistry;
  const memory = createMemoryLogger('debug', 'shared-test');
  const invalidator = { invalidate: (id: string) => void temp.store.content.invalidate(id) };

  beforeEach(async () => {
    handle = await startEmulator({ mode });
    const { admin, shares } = handle.emulator;
    shares.share('Team', 'write');
    shares.share('Archive', 'read');
    const other = shares.otherView(handle.emulator).admin;
    await other.remote({ op: 'mkdir', path: 'Team/Plans' });
    await other.remote({ op: 'write', path: 'Team/Plans/q1.txt', content: 'q1' });
    await other.remote({ op: 'write', path: 'Team/readme.txt', content: 'team' });
    await other.remote({ op: 'write', path: 'Archive/2019.txt', content: 'old' });
    await admin.remote({ op: 'write', path: 'mine.txt', content: 'mine' });
    graph = emulatorGraphClient(handle.apiUrl);
    temp = openTempStore();
    shared = new SharedFolders({ graph, store: temp.store, invalidator, logger: memory.logger, driveMode: () => mode, pageSize: 3, applyChunk: 2 });
    graph.setRouter(shared);
    tasks = new TaskRegistry({ logger: memory.logger });
    sync = new DeltaSync({ graph, store: temp.store, invalidator, logger: memory.logger, tasks });
    await sync.syncOnce();
    await shared.syncAll();
  });

  afterEach(async () => {
    await sync.stop();
    await tasks.stopAll(1000);
    await graph.close();
    temp.dispose();
    await handle.close();
  });

  const at = (path: string): StoredItem => {
    const item = temp.store.items.resolvePath(path);
    if (!item) throw new Error(`nothing at ${path}`);
    return item;
  };
  const toRecord = (item: Parameters<typeof mapDriveItem>[0]) => {
    const r = mapDriveItem(item, { ownDriveId: temp.store.driveState.get('driveId') });
    if (isTombstone(r)) throw new Error('gone');
    return { ...r, parentId: r.parentId === null ? null : shared.localParent(r.parentId) };
  };

  it('brings each share below its shortcut, with the other drive on every item, and nothing else of that drive', () => {
    expect(at('/Team').kind).toBe('remote');
    expect(names(temp.store, at('/Team'))).toEqual(['Plans', 'readme.txt']);
    expect(names(temp.store, at('/Team/Plans'))).toEqual(['q1.txt']);
    expect(names(temp.store, at('/Archive'))).toEqual(['2019.txt']);
    const otherDrive = handle.emulator.shares.drive!.driveId.toLowerCase();
    expect(at('/Team/Plans/q1.txt').driveId?.toLowerCase()).toBe(otherDrive);
    expect(at('/mine.txt').driveId).toBeNull();
    expect(temp.store.sharedFolders.get(at('/Team').id)?.access).toBe('write');
    expect(temp.store.sharedFolders.get(at('/Archive').id)?.access).toBe('read');
  });

  it('routes ids, shortcut parents and paths to the other drive', async () => {
    const readme = at('/Team/readme.txt');
    expect((await graph.getItem(readme.remoteId!)).name).toBe('readme.txt');
    const made = await graph.createFolder(at('/Team').remoteId!, 'New', 'fail');
    expect(made.parentReference?.driveId?.toLowerCase()).toBe(handle.emulator.shares.drive!.driveId.toLowerCase());
    temp.store.items.upsert(toRecord(made));
    expect(at('/Team/New').driveId).not.toBeNull();
    const uploaded = await graph.uploadSmall(at('/Team/New').remoteId!, 'f.txt', 'bytes');
    // Not stored yet: the client learned where it lives from the answer.
    const moved = await graph.update(uploaded.id, { name: 'g.txt', parentReference: { id: at('/Team').remoteId! } });
    expect(moved.name).toBe('g.txt');
    expect((await graph.getItemByPath('/Team/g.txt')).id).toBe(uploaded.id);
    expect((await graph.getItemByPath('/Team')).id).toBe(at('/Team').remoteItemId);
    expect((await graph.getItemByPath('/mine.txt')).name).toBe('mine.txt');
    // The shared folder named by its own id (an item's parentReference, as a keep-both copy is
    // sent beside the file), not the shortcut's: the shortcut knows its drive.
    // After a restart, a router that has learned nothing yet.
    const folderId = readme.remoteId && (await graph.getItem(readme.remoteId)).parentReference!.id!;
    expect(folderId).toBe(at('/Team').remoteItemId);
    graph.setRouter(new SharedFolders({ graph, store: temp.store, invalidator, logger: memory.logger, driveMode: () => mode }));
    await graph.uploadSmall(folderId!, 'copy.txt', 'a copy beside readme.txt');
    expect(handle.emulator.shares.otherView(handle.emulator).admin.tree('Team').map((i) => i.path).sort()).toEqual(['New', 'Plans', 'Plans/q1.txt', 'copy.txt', 'g.txt', 'readme.txt']);
  });

  it('replays an offline delete in the share\'s drive after a restart, though the store no longer holds the item (fuzz, shared folders)', async () => {
    const other = handle.emulator.shares.otherView(handle.emulator).admin;
    await other.remote({ op: 'mkdir', path: 'Team/Empty' });
    await shared.syncAll();
    const { store } = temp;
    // What the vfs journals for `rm Team/readme.txt; rmdir Team/Empty` offline: the items leave the store.
    for (const [path, kind] of [['/Team/readme.txt', 'unlink'], ['/Team/Empty', 'rmdir']] as const) {
      const item = at(path);
      expect(item.driveId).not.toBeNull();
      store.transaction(() => {
        store.items.deleteSubtree(item.id);
        store.journal.append({ kind, itemId: item.id, parentId: item.parentId, name: item.name, baseEtag: item.etag, payload: { remoteId: item.remoteId!, driveId: item.driveId! } });
      });
    }
    // A restart: a router that has learned nothing yet.
    const restarted = new SharedFolders({ graph, store, invalidator, logger: memory.logger, driveMode: () => mode });
    graph.setRouter(restarted);
    const replayer = new JournalReplayer({ graph, store, toRecord, logger: memory.logger, tasks, hostName: 'test-host', retry: { baseMs: 5_000, maxMs: 5_000 }, drives: restarted });
    expect(await replayer.replay()).toBe(0);
    expect(other.tree('Team').map((i) => i.path).sort()).toEqual(['Plans', 'Plans/q1.txt']);
    expect(store.conflicts.list()).toEqual([]);
  });

  it('knows the drive of an item made here in a share, whose row names none', () => {
    temp.store.items.insert({ id: 'local:made-here', parentId: at('/Team').id, name: 'new.txt', kind: 'file', size: 1, ctimeMs: 1, mtimeMs: 1 });
    temp.store.items.setRemoteId('local:made-here', 'OTHER!999');
    expect(temp.store.items.get('local:made-here')!.driveId).toBeNull();
    expect(shared.driveOf(temp.store.items.get('local:made-here')!)).toBe(at('/Team/readme.txt').driveId);
    expect(shared.driveOf(at('/mine.txt'))).toBeUndefined();
  });

  it('an offline mkdir parked in a share\'s root adopts the folder a pass whose answer was lost made there', async () => {
    const other = handle.emulator.shares.otherView(handle.emulator).admin;
    const { store } = temp;
    const team = at('/Team');
    const plans = at('/Team/Plans');
    // Offline `mkdir Team/G; mv Team/Plans Team/G/F; mv Team/G Team/Plans`.
    const g = 'local:g';
    store.transaction(() => {
      store.items.insert({ id: g, parentId: team.id, name: 'G', kind: 'folder', size: 0, ctimeMs: 1, mtimeMs: 1 });
      store.journal.append({ kind: 'mkdir', itemId: g, parentId: team.id, name: 'G' });
      store.items.move(plans.id, g, 'F');
      store.journal.append({ kind: 'rename', itemId: plans.id, parentId: team.id, name: 'Plans', newParentId: g, newName: 'F' });
      store.items.move(g, team.id, 'Plans');
    });
    await other.remote({ op: 'mkdir', path: `Team/.onemount-moving-${store.items.get(g)!.inode}` });
    const replayer = new JournalReplayer({ graph, store, toRecord, logger: memory.logger, tasks, hostName: 'test-host', retry: { baseMs: 5_000, maxMs: 5_000 }, drives: shared });
    let left = await replayer.replay();
    for (let pass = 0; left > 0 && pass < 3; pass++) left = await replayer.replay();
    expect(left).toBe(0);
    expect(other.tree('Team').map((i) => i.path).sort()).toEqual(['Plans', 'Plans/F', 'Plans/F/q1.txt', 'readme.txt']);
  });

  it('says how many landed copies of files deleted here its batch journaled for deletion, so the engine replays them (fuzz 263000/176)', async () => {
    const other = handle.emulator.shares.otherView(handle.emulator).admin;
    const { store } = temp;
    // A new file made here in Team whose upload landed without an answer, then deleted here.
    const sent = 'sent from here';
    store.deletedUploads.add({ itemId: 'local:gone', parentId: at('/Team').id, name: 'c.bin', hashes: [quickXorHash(Buffer.from(sent))] });
    await other.remote({ op: 'write', path: 'Team/c.bin', content: sent });
    const applied: Array<{ deletedHere: number }> = [];
    shared.events.on('applied', (e) => {
      applied.push(e);
    });
    await shared.syncAll();
    expect(applied.map((e) => e.deletedHere)).toContain(1);
    expect(store.journal.list({ states: ['pending'] }).filter((e) => e.kind === 'unlink')).toHaveLength(1);
  });

  it("follows the owner's changes through each share's own delta, keeping two shares of one drive apart", async () => {
    const other = handle.emulator.shares.otherView(handle.emulator).admin;
    await other.remote({ op: 'write', path: 'Archive/2020.txt', content: 'new' });
    await other.remote({ op: 'move', path: 'Team/readme.txt', newPath: 'Team/Plans/readme.txt' });
    await other.remote({ op: 'delete', path: 'Team/Plans/q1.txt' });
    await sync.syncOnce();
    await shared.syncAll();
    expect(names(temp.store, at('/Archive'))).toEqual(['2019.txt', '2020.txt']);
    expect(names(temp.store, at('/Team'))).toEqual(['Plans']);
    expect(names(temp.store, at('/Team/Plans'))).toEqual(['readme.txt']);
  });

  it('refuses changes in a read-only share (EACCES), renames between drives (EXDEV), and allows the rest', () => {
    expect(() => shared.checkWrite(at('/Archive'), 'container', '/Archive/x')).toThrow(expect.objectContaining({ errno: 'EACCES' }));
    expect(() => shared.checkWrite(at('/Archive/2019.txt'), 'item', '/Archive/2019.txt')).toThrow(expect.objectContaining({ errno: 'EACCES' }));
    // The shortcut itself is an item of the user's own drive.
    expect(() => shared.checkWrite(at('/Archive'), 'item', '/Archive')).not.toThrow();
    expect(() => shared.checkWrite(at('/Team/Plans'), 'container', '/Team/Plans/x')).not.toThrow();
    expect(() => shared.checkRename(at('/mine.txt'), at('/Team'), '/mine.txt', '/Team/mine.txt')).toThrow(expect.objectContaining({ errno: 'EXDEV' }));
    expect(() => shared.checkRename(at('/Team/readme.txt'), at('/Archive'), '/Team/readme.txt', '/Archive/readme.txt')).toThrow(expect.objectContaining({ errno: 'EXDEV' }));
    expect(() => shared.checkRename(at('/Team/readme.txt'), at('/Team/Plans'), '/Team/readme.txt', '/Team/Plans/readme.txt')).not.toThrow();
    expect(shared.accessOf(at('/Team/Plans/q1.txt'))).toBe('write');
    expect(shared.accessOf(at('/mine.txt'))).toBeUndefined();
  });

  it("does not undo a rename made here whose answer was applied while the share's batch was on its way", async () => {
    const plans = at('/Team/Plans');
    // Changed on the owner's side, so the share's next batch carries the folder under its old name.
    await handle.emulator.shares.otherView(handle.emulator).admin.remote({ op: 'write', path: 'Team/Plans/q2.txt', content: 'q2' });
    await graph.update(plans.remoteId!, { fileSystemInfo: { lastModifiedDateTime: '2020-01-02T03:04:05Z' } });
    const delta = graph.delta.bind(graph);
    let beforeApply: (() => Promise<void>) | undefined = async () => {
      // The vfs's rename (applyAnswer): PATCH, then the answer applied by the item's key and noted.
      const moved = await graph.update(plans.remoteId!, { name: 'Plans renamed' });
      temp.store.items.noteChangedHere(plans.id, moved.id);
      temp.store.items.upsert(toRecord(moved));
    };
    graph.delta = async (...args) => {
      const batch = await delta(...args);
      const hook = beforeApply;
      beforeApply = undefined;
      await hook?.();
      return batch;
    };
    await shared.syncAll();
    expect(temp.store.items.get(plans.id)).toMatchObject({ name: 'Plans renamed' });
    expect(names(temp.store, at('/Team/Plans renamed'))).toEqual(['q1.txt', 'q2.txt']);
  });

  it('a share whose folder its owner deleted empties, except a local edit', async () => {
    const readme = at('/Team/readme.txt');
    temp.store.content.setContent(readme.id, { status: 'dirty', etag: readme.etag, ctag: readme.ctag, ranges: new RangeSet() });
    await handle.emulator.shares.otherView(handle.emulator).admin.remote({ op: 'delete', path: 'Team' });
    await shared.syncAll();
    expect(names(temp.store, at('/Team'))).toEqual(['readme.txt']);
    expect(temp.store.conflicts.listForItem(readme.id).some((c) => c.reason === 'remote-deleted')).toBe(true);
    expect(temp.store.sharedFolders.get(at('/Team').id)?.deltaLink).toBeNull();
    // Asked again from the start: on Business the drive still answers, and the share settles.
    await shared.syncAll();
    await shared.syncAll();
    const state = temp.store.sharedFolders.get(at('/Team').id);
    if (mode === 'business') expect(state?.deltaLink).not.toBeNull();
    else expect(state?.lastError).toMatch(/404|not found/i);
    expect(names(temp.store, at('/Team'))).toEqual(['readme.txt']);
  });
});
