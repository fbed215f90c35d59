/** DeltaSync against the Graph emulator over HTTP, with a real store, in both drive modes. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import type { Emulator } from '../../emulator/src/emulator.ts';
import { createMemoryLogger } from '../base/logger.ts';
import type { DriveItem, GraphClient } from '../graph/index.ts';
import { quickXorHash } from '../graph/quickxor.ts';
import { RangeSet, newLocalId, type Store, type StoredItem } from '../store/index.ts';
import { openTempStore, reopenStore, type TempStore } from '../store/testing/temp-store.ts';
import type { ChangeSet } from './delta-apply.ts';
import { TaskRegistry } from '../lifecycle/task-registry.ts';
import { DeltaSync, type DeltaSyncOptions, type SyncResult } from './delta-sync.ts';
import { isTombstone, mapDriveItem } from './drive-item-mapping.ts';
import { emulatorGraphClient } from '../graph/testing/emulator-client.ts';

type Mode = 'personal' | 'business';

interface Entry {
  kind: string;
  size: number;
  hash: string | null;
}

/** path → what a listing shows, from the emulator's own tables. */
function serverTree(emu: Emulator): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (id: string, prefix: string): void => {
    for (const row of emu.drive.children(id, '', 100_000)) {
      const path = `${prefix}/${row.name}`;
      out.set(path, { kind: row.kind, size: row.kind === 'folder' ? 0 : row.size, hash: row.kind === 'file' ? row.quickxor : null });
      if (row.kind === 'folder') walk(row.id, path);
    }
  };
  walk(emu.drive.rootId, '');
  return out;
}

/** path → what the store holds, walked from its root. */
function storeTree(store: Store): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (id: string, prefix: string): void => {
    for (const item of store.items.listChildren(id, undefined, 100_000)) {
      const path = `${prefix}/${item.name}`;
      out.set(path, { kind: item.kind, size: item.size, hash: item.quickXorHash });
      if (item.kind === 'folder') walk(item.id, path);
    }
  };
  const root = store.items.getRoot();
  if (root) walk(root.id, '');
  return out;
}

function sorted(tree: Map<string, Entry>): Array<[string, Entry]> {
  return [...tree].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

describe.each<Mode>(['personal', 'business'])('DeltaSync (%s)', (mode) => {
  let handle: EmulatorHandle;
  let emu: Emulator;
  let graph: GraphClient;
  let temp: TempStore;
  let invalidated: string[];
  const syncs: DeltaSync[] = [];
  const registries = new Set<TaskRegistry>();
  const memory = createMemoryLogger('debug', 'delta-test');

  /** What the download manager would do: forget the content (refused when dirty) and remember the call. */
  const invalidator = {
    invalidate: (id: string): void => {
      invalidated.push(id);
      temp.store.content.invalidate(id);
    },
  };

  function makeSync(overrides: Partial<DeltaSyncOptions> = {}): DeltaSync {
    const tasks = overrides.tasks ?? new TaskRegistry({ logger: memory.logger });
    registries.add(tasks);
    const sync = new DeltaSync({ graph, store: temp.store, invalidator, logger: memory.logger, pageSize: 7, applyChunk: 3, ...overrides, tasks });
    syncs.push(sync);
    return sync;
  }

  const idOf = (path: string): string => {
    const item = emu.admin.item(path);
    if (!item) throw new Error(`no server item at ${path}`);
    return item.id;
  };
  const local = (path: string): StoredItem | undefined => temp.store.items.resolvePath(path);
  const write = (path: string, content: string) => emu.admin.remote({ op: 'write', path, content });
  const markCached = (path: string): void => {
    const item = local(path)!;
    temp.store.content.setContent(item.id, { status: 'complete', etag: item.etag, ctag: item.ctag, ranges: new RangeSet() });
  };
  const markDirty = (path: string): void => {
    const item = local(path)!;
    temp.store.content.setContent(item.id, { status: 'dirty', etag: item.etag, ctag: item.ctag, ranges: new RangeSet() });
  };

  beforeEach(async () => {
    handle = await startEmulator({ mode });
    emu = handle.emulator;
    graph = emulatorGraphClient(handle.apiUrl);
    temp = openTempStore();
    invalidated = [];
    await emu.admin.generate({ folders: 3, filesPerFolder: 4, depth: 2, fileSize: [10, 2000] });
    await emu.admin.remote({ op: 'mkdir', path: '/Docs' });
    await write('/Docs/a.txt', 'alpha');
    await write('/Docs/b.txt', 'bravo');
    await write('/top.txt', 'top level');
  });

  afterEach(async () => {
    await Promise.all(syncs.splice(0).map((s) => s.stop()));
    // A stopped sync leaves nothing running behind it.
    for (const tasks of registries) expect(tasks.list()).toEqual([]);
    registries.clear();
    await graph.close();
    await handle.close();
    temp.dispose();
  });

  it('enumerates the whole drive on first start, matching the server tree, and saves the deltaLink', async () => {
    const sync = makeSync();
    const applied: unknown[] = [];
    sync.events.on('applied', (event) => void applied.push(event));
    expect(temp.store.driveState.get('deltaLink')).toBeUndefined();
    const result = await sync.syncOnce();
    expect(result.full).toBe(true);
    expect(result.pages).toBeGreaterThan(1);
    expect(sorted(storeTree(temp.store))).toEqual(sorted(serverTree(emu)));
    expect(temp.store.items.getRoot()!.id).toBe(emu.drive.rootId);
    expect(result.added).toBe(serverTree(emu).size + 1);
    expect(temp.store.driveState.get('deltaLink')).toMatch(/token=/);
    expect(temp.store.driveState.get('lastFullSyncMs')).toBeTypeOf('number');
    expect(applied).toHaveLength(1);
    expect(invalidated).toEqual([]);

    // Nothing changed: an incremental run applies nothing.
    const again = await sync.syncOnce();
    expect(again).toMatchObject({ full: false, added: 0, updated: 0, removed: 0, invalidated: 0 });
  });

  it('applies new, changed, moved, renamed and deleted items (files and folder subtrees)', async () => {
    const sync = makeSync();
    await sync.syncOnce();
    const aId = idOf('/Docs/a.txt');
    const bId = idOf('/Docs/b.txt');
    const folderId = idOf('/Folder 0001');
    const deepFile = local('/Folder 0001/Level 1/file-00000.txt')!.id;
    const changes: ChangeSet[] = [];
    sync.events.on('changed', (change) => void changes.push(change));

    await write('/new.txt', 'brand new');
    await emu.admin.remote({ op: 'mkdir', path: '/Docs/Sub' });
    await write('/Docs/a.txt', 'alpha, edited');
    await emu.admin.remote({ op: 'move', path: '/Docs/b.txt', newPath: '/Docs/Sub/b-renamed.txt' });
    await emu.admin.remote({ op: 'move', path: '/top.txt', newPath: '/Top.TXT' });
    await emu.admin.remote({ op: 'delete', path: '/Folder 0001' });
    await emu.admin.remote({ op: 'delete', path: '/Folder 0002/Level 1/file-00001.txt' });
    const result = await sync.syncOnce();

    expect(result.full).toBe(false);
    expect(sorted(storeTree(temp.store))).toEqual(sorted(serverTree(emu)));
    expect(local('/Docs/Sub/b-renamed.txt')!.id).toBe(bId);
    expect(local('/Docs/a.txt')!.id).toBe(aId);
    expect(local('/Top.TXT')!.name).toBe('Top.TXT');
    expect(temp.store.items.get(folderId)).toBeUndefined();
    expect(temp.store.items.get(deepFile)).toBeUndefined();
    // Only the edited file's content changed: no call for moves, renames or deletions of uncached files.
    expect(invalidated).toEqual([aId]);
    expect(result).toMatchObject({ added: 2, invalidated: 1 });
    // Folder 0001, its Level 1 folder and 4 files, and one more file.
    expect(result.removed).toBe(1 + 1 + 4 + 1);
    const removedIds = changes.flatMap((c) => c.removed.map((r) => r.id));
    expect(removedIds).toContain(folderId);
    expect(changes.flatMap((c) => c.upserted)).toEqual(expect.arrayContaining([aId, bId]));
    expect(changes.flatMap((c) => c.folders)).toEqual(expect.arrayContaining([temp.store.items.getRoot()!.id, idOf('/Docs'), idOf('/Docs/Sub')]));
  });

  it('places a child whose new parent comes later in the batch (and on a later page)', async () => {
    const sync = makeSync({ pageSize: 1, applyChunk: 1 });
    await sync.syncOnce();
    const aId = idOf('/Docs/a.txt');
    await emu.admin.remote({ op: 'mkdir', path: '/Fresh' });
    await emu.admin.remote({ op: 'move', path: '/Docs/a.txt', newPath: '/Fresh/a.txt' });
    // Renaming the folder afterwards puts it after its child in the feed.
    await emu.admin.remote({ op: 'move', path: '/Fresh', newPath: '/Fresher' });
    await emu.admin.remote({ op: 'mkdir', path: '/Fresher/Inner' });
    await emu.admin.remote({ op: 'move', path: '/Fresher/a.txt', newPath: '/Fresher/Inner/a.txt' });
    await emu.admin.remote({ op: 'move', path: '/Fresher/Inner', newPath: '/Fresher/Inner2' });
    const result = await sync.syncOnce();
    expect(result.pages).toBeGreaterThan(2);
    expect(local('/Fresher/Inner2/a.txt')!.id).toBe(aId);
    expect(sorted(storeTree(temp.store))).toEqual(sorted(serverTree(emu)));
  });

  it.each([1, 3, 1000])('applies a rename swap and a rotation without NAME_TAKEN (chunks of %i)', async (applyChunk) => {
    const sync = makeSync({ applyChunk });
    await write('/Docs/c.txt', 'charlie');
    await sync.syncOnce();
    const [a, b, c] = ['/Docs/a.txt', '/Docs/b.txt', '/Docs/c.txt'].map(idOf);
    await emu.admin.remote({ op: 'move', path: '/Docs/a.txt', newPath: '/Docs/tmp.txt' });
    await emu.admin.remote({ op: 'move', path: '/Docs/b.txt', newPath: '/Docs/a.txt' });
    await emu.admin.remote({ op: 'move', path: '/Docs/tmp.txt', newPath: '/Docs/b.txt' });
    await sync.syncOnce();
    expect(local('/Docs/a.txt')!.id).toBe(b);
    expect(local('/Docs/b.txt')!.id).toBe(a);

    // a → c → b → a, through a temporary name, across chunks.
    await emu.admin.remote({ op: 'move', path: '/Docs/a.txt', newPath: '/Docs/x.txt' });
    await emu.admin.remote({ op: 'move', path: '/Docs/c.txt', newPath: '/Docs/a.txt' });
    await emu.admin.remote({ op: 'move', path: '/Docs/b.txt', newPath: '/Docs/c.txt' });
    await emu.admin.remote({ op: 'move', path: '/Docs/x.txt', newPath: '/Docs/b.txt' });
    await sync.syncOnce();
    expect(local('/Docs/a.txt')!.id).toBe(c);
    expect(local('/Docs/b.txt')!.id).toBe(b);
    expect(local('/Docs/c.txt')!.id).toBe(a);
    expect(temp.store.items.listChildren(idOf('/Docs'), undefined, 100).map((i) => i.name)).toEqual(['a.txt', 'b.txt', 'c.txt']);
    expect(sorted(storeTree(temp.store))).toEqual(sorted(serverTree(emu)));
    expect(temp.store.conflicts.list()).toEqual([]);
    expect(invalidated).toEqual([]);
  });

  it('invalidates exactly the files whose content changed, cached or not, and cached files that go away', async () => {
    const sync = makeSync();
    await sync.syncOnce();
    markCached('/Docs/a.txt');
    markCached('/Docs/b.txt');
    markCached('/top.txt');
    markCached('/Folder 0000/Level 1/file-00002.txt');
    const touchedId = idOf('/top.txt');
    const deletedCached = local('/Folder 0000/Level 1/file-00002.txt')!.id;

    await emu.admin.remote({ op: 'touch', path: '/top.txt', modified: '2020-01-02T03:04:05Z' });
    await emu.admin.remote({ op: 'move', path: '/Docs/b.txt', newPath: '/b-moved.txt' });
    await write('/Docs/a.txt', 'alpha v2');
    await emu.admin.remote({ op: 'write', path: '/Folder 0002/Level 1/file-00003.txt', size: 4321 });
    await emu.admin.remote({ op: 'delete', path: '/Folder 0000' });
    const result = await sync.syncOnce();

    expect(new Set(invalidated)).toEqual(new Set([idOf('/Docs/a.txt'), idOf('/Folder 0002/Level 1/file-00003.txt'), deletedCached]));
    expect(invalidated).toHaveLength(3);
    expect(result.invalidated).toBe(3);
    expect(temp.store.content.get(idOf('/Docs/a.txt'))!.status).toBe('none');
    // The touch changed the time but kept the cached content.
    expect(local('/top.txt')!.mtimeMs).toBe(Date.parse('2020-01-02T03:04:05Z'));
    expect(temp.store.content.get(touchedId)!.status).toBe('complete');
    expect(temp.store.content.get(idOf('/b-moved.txt'))!.status).toBe('complete');
    expect(local('/Docs/a.txt')!.size).toBe('alpha v2'.length);
  });

  it('never drops local edits: both-modified and remote-deleted conflicts, dirty items kept', async () => {
    const sync = makeSync();
    await sync.syncOnce();
    markDirty('/Docs/a.txt');
    markDirty('/Docs/b.txt');
    markDirty('/Folder 0001/Level 1/file-00001.txt');
    const aBefore = local('/Docs/a.txt')!;
    const bId = idOf('/Docs/b.txt');
    const folderId = idOf('/Folder 0001');
    const keptFile = idOf('/Folder 0001/Level 1/file-00001.txt');
    const goneFile = idOf('/Folder 0001/Level 1/file-00000.txt');

    await write('/Docs/a.txt', 'changed on the server');
    await emu.admin.remote({ op: 'move', path: '/Docs', newPath: '/Documents' });
    await emu.admin.remote({ op: 'delete', path: '/Documents/b.txt' });
    await emu.admin.remote({ op: 'delete', path: '/Folder 0001' });
    const serverEtag = emu.admin.itemJson('/Documents/a.txt')!['eTag'];
    const result = await sync.syncOnce();

    expect(invalidated).toEqual([]);
    const a = local('/Documents/a.txt')!;
    expect(a.id).toBe(aBefore.id);
    // The local bytes and the version they were based on stay; the rename is followed.
    expect(a).toMatchObject({ size: aBefore.size, etag: aBefore.etag, quickXorHash: aBefore.quickXorHash });
    expect(temp.store.content.get(a.id)!.status).toBe('dirty');
    expect(local('/Documents/b.txt')!.id).toBe(bId);
    expect(temp.store.items.get(keptFile)).toBeDefined();
    expect(temp.store.items.get(folderId)).toBeDefined();
    expect(temp.store.items.get(goneFile)).toBeUndefined();
    expect(temp.store.items.countChildren(folderId)).toBe(1);
    expect(temp.store.items.pathOf(keptFile)).toBe('/Folder 0001/Level 1/file-00001.txt');
    const conflicts = temp.store.conflicts.list().map((c) => ({ itemId: c.itemId, reason: c.reason, remoteEtag: c.remoteEtag }));
    expect(conflicts).toEqual(
      expect.arrayContaining([
        { itemId: a.id, reason: 'both-modified', remoteEtag: serverEtag },
        { itemId: bId, reason: 'remote-deleted', remoteEtag: null },
        { itemId: keptFile, reason: 'remote-deleted', remoteEtag: null },
        { itemId: folderId, reason: 'remote-deleted', remoteEtag: null },
      ]),
    );
    expect(result.kept).toBeGreaterThanOrEqual(2);

    // Applying again (e.g. after a resync) records nothing twice.
    const count = temp.store.conflicts.list().length;
    emu.admin.invalidateDeltaTokens();
    await sync.syncOnce();
    expect(temp.store.conflicts.list()).toHaveLength(count);
    expect(temp.store.content.get(a.id)!.status).toBe('dirty');
  });

  it('our own upload landing before its answer is no conflict for the dirty file; someone else\'s version is', async () => {
    const sync = makeSync();
    await sync.syncOnce();
    markDirty('/Docs/a.txt');
    markDirty('/Docs/b.txt');
    const a = local('/Docs/a.txt')!;
    const b = local('/Docs/b.txt')!;
    // a's upload reached the server; its answer has not reached the upload worker yet.
    temp.store.sentVersions.remember(a.id, quickXorHash(Buffer.from('uploaded from here')));
    await write('/Docs/a.txt', 'uploaded from here');
    await write('/Docs/b.txt', 'changed by someone else');

    await sync.syncOnce();
    expect(temp.store.conflicts.list().map((c) => [c.itemId, c.reason])).toEqual([[b.id, 'both-modified']]);
    // a stays dirty at its base: the upload's commit decides what it becomes.
    expect(temp.store.content.get(a.id)!.status).toBe('dirty');
    expect(local('/Docs/a.txt')).toMatchObject({ etag: a.etag, size: a.size });
  });

  it('a file edited here and renamed on the server (or by our own rename) is no conflict, whatever its local size (fuzz 14000/101)', async () => {
    const sync = makeSync();
    await sync.syncOnce();
    markDirty('/Docs/a.txt');
    const a = local('/Docs/a.txt')!;
    // Local writes made the file longer; the row holds the local size, the tags stay the base's.
    temp.store.items.update(a.id, { size: a.size + 100 });
    await emu.admin.remote({ op: 'move', path: '/Docs/a.txt', newPath: '/Docs/renamed.txt' });

    const result = await sync.syncOnce();
    expect(temp.store.conflicts.list()).toEqual([]);
    expect(result.conflicts).toBe(0);
    expect(temp.store.content.get(a.id)!.status).toBe('dirty');
    expect(local('/Docs/renamed.txt')).toMatchObject({ id: a.id, size: a.size + 100 });
  });

  it('rows read before the invalidations are awaited are read again: a file changed or deleted here meanwhile keeps that (fuzz 515000/13)', async () => {
    const sync = makeSync();
    await sync.syncOnce();
    markCached('/Docs/a.txt');
    markCached('/top.txt');
    markDirty('/Docs/b.txt');
    const a = local('/Docs/a.txt')!;
    const b = local('/Docs/b.txt')!;
    const gone = local('/Folder 0002/Level 1/file-00003.txt')!;
    await write('/Docs/a.txt', 'a new version from another device');
    await write('/Docs/b.txt', 'b changed there too');
    await emu.admin.remote({ op: 'move', path: '/Docs/b.txt', newPath: '/Docs/b renamed.txt' });
    await emu.admin.remote({ op: 'move', path: '/Folder 0002/Level 1/file-00003.txt', newPath: '/Folder 0002/moved.txt' });
    await write('/top.txt', 'top changed there');
    const serverA = emu.admin.itemJson('/Docs/a.txt')!['eTag'];
    const slow = makeSync({
      applyChunk: 100,
      invalidator: {
        invalidate: async (id: string): Promise<void> => {
          invalidator.invalidate(id);
          if (id !== idOf('/top.txt')) return;
          // While this invalidation is awaited, the others done: a is recreated here (O_TRUNC and
          // a write), b written further, the moved file deleted here.
          await new Promise((resolve) => setTimeout(resolve, 10));
          temp.store.content.setContent(a.id, { status: 'dirty', etag: a.etag, ctag: a.ctag, ranges: RangeSet.whole(3) });
          temp.store.items.update(a.id, { size: 3 });
          temp.store.items.update(b.id, { size: b.size + 50 });
          temp.store.items.deleteSubtree(gone.id);
        },
      },
    });
    await sync.stop();

    const result = await slow.syncOnce();
    expect(new Set(invalidated)).toEqual(new Set([a.id, idOf('/top.txt')]));
    // a keeps its local bytes and the version they were based on; the server's is a conflict.
    expect(temp.store.content.get(a.id)!.status).toBe('dirty');
    expect(local('/Docs/a.txt')).toMatchObject({ size: 3, etag: a.etag, quickXorHash: a.quickXorHash });
    expect(temp.store.conflicts.listForItem(a.id).map((c) => [c.reason, c.remoteEtag])).toEqual([['both-modified', serverA]]);
    expect(result.conflicts).toBe(2);
    // b follows its rename and keeps the size its writes gave it, not the one read before them.
    expect(local('/Docs/b renamed.txt')).toMatchObject({ id: b.id, size: b.size + 50, etag: b.etag });
    // The file deleted here is not brought back by the record of its move.
    expect(temp.store.items.get(gone.id)).toBeUndefined();
    expect(local('/Folder 0002/moved.txt')).toBeUndefined();
    expect(local('/top.txt')!.size).toBe('top changed there'.length);
  });

  it('a folder removed on the server keeps what was changed or created in it here while its removal was planned and committed', async () => {
    const sync = makeSync();
    await sync.syncOnce();
    markCached('/Folder 0001/Level 1/file-00000.txt');
    const cached = local('/Folder 0001/Level 1/file-00000.txt')!;
    const folderId = idOf('/Folder 0001');
    const levelId = idOf('/Folder 0001/Level 1');
    const edited = local('/Folder 0001/Level 1/file-00001.txt')!;
    const before = [...storeTree(temp.store).keys()].filter((path) => path.startsWith('/Folder 0001/'));
    expect(before.length).toBeGreaterThan(4);
    await emu.admin.remote({ op: 'delete', path: '/Folder 0001' });
    let created: StoredItem | undefined;
    const slow = makeSync({
      applyChunk: 2,
      invalidator: {
        invalidate: async (id: string): Promise<void> => {
          invalidator.invalidate(id);
          await new Promise((resolve) => setTimeout(resolve, 10));
          // While the invalidation is awaited: a file created here, another written.
          created = temp.store.items.insert({ id: newLocalId(), parentId: levelId, name: 'new here.txt', kind: 'file', size: 3, ctimeMs: 1, mtimeMs: 1 });
          markDirty('/Folder 0001/Level 1/file-00001.txt');
        },
      },
    });
    await sync.stop();

    const result = await slow.syncOnce();
    expect(result.kept).toBeGreaterThanOrEqual(1);
    expect(invalidated).toEqual([cached.id]);
    const after = [...storeTree(temp.store).keys()].filter((path) => path.startsWith('/Folder 0001/')).sort();
    expect(after).toEqual(['/Folder 0001/Level 1', '/Folder 0001/Level 1/file-00001.txt', '/Folder 0001/Level 1/new here.txt']);
    expect(temp.store.items.get(created!.id)).toBeDefined();
    expect(temp.store.content.get(edited.id)!.status).toBe('dirty');
    // Each folder the server removed (delta lists both) is a conflict, as the edited file is.
    const conflicts = temp.store.conflicts.list().map((c) => [c.itemId, c.reason]);
    expect(conflicts.sort()).toEqual([[edited.id, 'remote-deleted'], [folderId, 'remote-deleted'], [levelId, 'remote-deleted']].sort());
  });

  /** What the upload worker's commit leaves: the server's record of our version, content complete. */
  const committedHere = (path: string, content: string): void => {
    const item = local(path)!;
    temp.store.sentVersions.remember(item.id, quickXorHash(Buffer.from(content)));
    const record = mapDriveItem(emu.admin.itemJson(path) as unknown as DriveItem);
    if (isTombstone(record)) throw new Error(`${path} is not on the server`);
    temp.store.items.update(item.id, { size: record.size, etag: record.etag ?? null, ctag: record.ctag ?? null, quickXorHash: record.quickXorHash ?? null });
    temp.store.content.setContent(item.id, { status: 'complete', etag: record.etag ?? null, ctag: record.ctag ?? null, ranges: RangeSet.whole(record.size) });
  };

  it('a delta page made before our upload committed does not undo it (fuzz 7000/70: EIO reading the file)', async () => {
    const first = makeSync();
    await first.syncOnce();
    const a = local('/Docs/a.txt')!;
    // An upload of ours reached the server; the next page holds that version.
    temp.store.sentVersions.remember(a.id, quickXorHash(Buffer.from('version one from here')));
    await write('/Docs/a.txt', 'version one from here');
    await first.stop();
    let uploaded = false;
    const sync = makeSync({
      graph: {
        getItemByPath: graph.getItemByPath.bind(graph),
        getItem: graph.getItem.bind(graph),
        delta: async (link, options) => {
          const batch = await graph.delta(link, options);
          // The next upload commits after the page was made, before it is applied.
          if (!uploaded) {
            uploaded = true;
            await write('/Docs/a.txt', 'version two from here');
            committedHere('/Docs/a.txt', 'version two from here');
          }
          return batch;
        },
      },
    });

    await sync.syncOnce();
    expect(uploaded).toBe(true);
    expect(local('/Docs/a.txt')).toMatchObject({ quickXorHash: quickXorHash(Buffer.from('version two from here')), etag: emu.admin.itemJson('/Docs/a.txt')!.eTag });
    expect(temp.store.content.get(a.id)!.status).toBe('complete');
    expect(invalidated).not.toContain(a.id);
  });

  it('another device restoring an older version of ours is applied (read from the server, not taken for a stale page)', async () => {
    const sync = makeSync();
    await sync.syncOnce();
    const a = local('/Docs/a.txt')!;
    await write('/Docs/a.txt', 'version one from here');
    committedHere('/Docs/a.txt', 'version one from here');
    await write('/Docs/a.txt', 'version two from here');
    committedHere('/Docs/a.txt', 'version two from here');
    await sync.syncOnce();
    expect(invalidated).toEqual([]);

    await write('/Docs/a.txt', 'version one from here');
    await sync.syncOnce();
    expect(local('/Docs/a.txt')).toMatchObject({ quickXorHash: quickXorHash(Buffer.from('version one from here')), etag: emu.admin.itemJson('/Docs/a.txt')!.eTag });
    expect(invalidated).toEqual([a.id]);
  });

  it('a new file deleted here whose upload lands afterwards is queued for deletion there, once, not shown', async () => {
    const sync = makeSync();
    await sync.syncOnce();
    const docs = local('/Docs')!;
    const sent = quickXorHash(Buffer.from('sent before the delete'));
    temp.store.deletedUploads.add({ itemId: 'local:gone', parentId: docs.id, name: 'late.txt', hashes: [sent] });
    // The upload's request was on its way: the server commits it after the delete here.
    await write('/Docs/late.txt', 'sent before the delete');
    // Someone else's file with other bytes, and the same bytes under another name, are not it.
    await write('/Docs/other.txt', 'someone else');
    await write('/Docs/copy.txt', 'sent before the delete');
    const landedId = idOf('/Docs/late.txt');

    const result = await sync.syncOnce();
    expect(result.deletedHere).toBe(1);
    expect(local('/Docs/late.txt')).toBeUndefined();
    expect(local('/Docs/other.txt')).toBeDefined();
    expect(local('/Docs/copy.txt')).toBeDefined();
    const queued = temp.store.journal.list({ states: ['pending'] });
    expect(queued).toMatchObject([{ kind: 'unlink', itemId: 'local:gone', payload: { remoteId: landedId } }]);
    expect(queued[0]!.baseEtag).toBe(emu.admin.itemJson('/Docs/late.txt')!['eTag']);

    // Seen again (a resync lists it again before the delete is replayed): still not shown, not queued twice.
    emu.admin.invalidateDeltaTokens();
    expect((await sync.syncOnce()).deletedHere).toBe(0);
    expect(local('/Docs/late.txt')).toBeUndefined();
    expect(temp.store.journal.list({ states: ['pending'] })).toHaveLength(1);
  });

  it('resumes from the saved deltaLink in a new DeltaSync on the reopened store', async () => {
    await makeSync().syncOnce();
    const link = temp.store.driveState.get('deltaLink');
    temp.store.close();
    // Changes made while the engine was stopped.
    await write('/while-stopped.txt', 'hello');
    await emu.admin.remote({ op: 'delete', path: '/Docs/b.txt' });
    const reopened = reopenStore(temp.dbPath);
    temp = { ...temp, store: reopened, dispose: () => { reopened.close(); temp.dir.remove(); } };
    const requests = emu.log.list({ pathIncludes: '/delta' }).length;
    const result = await makeSync().syncOnce();
    expect(result).toMatchObject({ full: false, added: 1, removed: 1 });
    const sent = emu.log.list({ pathIncludes: '/delta' }).slice(requests);
    expect(sent[0]!.path).toContain(new URL(link!).searchParams.get('token')!);
    expect(sorted(storeTree(reopened))).toEqual(sorted(serverTree(emu)));
  });

  it('answers 410 with a full enumeration and a diff: unseen items go, local ones stay', async () => {
    const sync = makeSync();
    const resyncs: string[] = [];
    sync.events.on('resync', ({ reason }) => void resyncs.push(reason));
    await sync.syncOnce();
    // A local folder and file not uploaded yet, and a dirty file the server deletes while we are "stopped".
    const root = temp.store.items.getRoot()!;
    const localFolder = temp.store.items.insert({ id: newLocalId(), parentId: root.id, name: 'offline work', kind: 'folder', size: 0, ctimeMs: 1, mtimeMs: 1 });
    temp.store.items.insert({ id: newLocalId(), parentId: localFolder.id, name: 'draft.txt', kind: 'file', size: 3, ctimeMs: 1, mtimeMs: 1 });
    markDirty('/Folder 0002/Level 1/file-00000.txt');
    markCached('/Docs/a.txt');
    const dirtyId = local('/Folder 0002/Level 1/file-00000.txt')!.id;
    const cachedDeleted = local('/Docs/a.txt')!.id;

    await emu.admin.remote({ op: 'delete', path: '/Docs' });
    await emu.admin.remote({ op: 'delete', path: '/Folder 0002' });
    await write('/after.txt', 'new');
    await emu.admin.remote({ op: 'move', path: '/top.txt', newPath: '/Folder 0000/top.txt' });
    emu.admin.invalidateDeltaTokens();
    const oldLink = temp.store.driveState.get('deltaLink');

    const result = await sync.syncOnce();
    expect(resyncs).toHaveLength(1);
    expect(result.full).toBe(true);
    expect(temp.store.driveState.get('deltaLink')).not.toBe(oldLink);
    expect(local('/Docs')).toBeUndefined();
    expect(local('/after.txt')).toBeDefined();
    expect(local('/Folder 0000/top.txt')).toBeDefined();
    expect(local('/offline work/draft.txt')).toBeDefined();
    expect(temp.store.items.get(dirtyId)).toBeDefined();
    expect(local('/Folder 0002/Level 1/file-00001.txt')).toBeUndefined();
    expect(invalidated).toEqual([cachedDeleted]);
    const server = serverTree(emu);
    const mine = storeTree(temp.store);
    for (const path of ['/offline work', '/offline work/draft.txt', '/Folder 0002', '/Folder 0002/Level 1', '/Folder 0002/Level 1/file-00000.txt']) {
      expect(mine.delete(path)).toBe(true);
    }
    expect(sorted(mine)).toEqual(sorted(server));
    expect(temp.store.conflicts.listForItem(dirtyId).map((c) => c.reason)).toEqual(['remote-deleted']);

    // Back to incremental afterwards.
    await write('/later.txt', 'x');
    expect(await sync.syncOnce()).toMatchObject({ full: false, added: 1 });
  });

  it('rebuilds an empty (rebuilt) store by a full enumeration', async () => {
    await makeSync().syncOnce();
    temp.dispose();
    temp = openTempStore();
    const result = await makeSync().syncOnce();
    expect(result.full).toBe(true);
    expect(sorted(storeTree(temp.store))).toEqual(sorted(serverTree(emu)));
  });

  it('polls: start() applies remote changes periodically; syncNow coalesces; pause/resume', async () => {
    const tasks = new TaskRegistry({ logger: memory.logger });
    const sync = makeSync({ tasks, pollIntervalMs: 40 });
    const applied: boolean[] = [];
    sync.events.on('applied', (event) => void applied.push(event.full));
    const next = (): Promise<void> => new Promise((resolve) => sync.events.once('applied', () => resolve()));

    let first = next();
    sync.start();
    expect(tasks.list().map((t) => t.name)).toEqual(['delta-poll']);
    await first;
    await write('/polled.txt', 'from another device');
    first = next();
    await first;
    while (!local('/polled.txt')) await next();

    const before = applied.length;
    const runs = await Promise.all([sync.syncNow(), sync.syncNow(), sync.syncNow()]);
    // One run in progress at most, plus one shared by every request made meanwhile.
    expect(applied.length - before).toBeLessThanOrEqual(2);
    expect(new Set(runs).size).toBeLessThanOrEqual(2);

    const parked = new Promise<void>((resolve) => sync.events.once('parked', () => resolve()));
    sync.pause();
    await expect(sync.syncNow()).rejects.toMatchObject({ code: 'SYNC_PAUSED' });
    const count = applied.length;
    await write('/while-paused.txt', 'x');
    // The loop waits for resume(): nothing is fetched or applied from here on.
    await parked;
    expect(applied.length).toBe(count);
    expect(local('/while-paused.txt')).toBeUndefined();
    first = next();
    sync.resume();
    await first;
    expect(local('/while-paused.txt')).toBeDefined();

    await sync.stop();
    expect(tasks.list()).toEqual([]);
    await expect(sync.syncNow()).rejects.toMatchObject({ code: 'SYNC_STOPPED' });
  });

  it('reports a failed run, backs off and recovers when the server is back', async () => {
    const tasks = new TaskRegistry({ logger: memory.logger });
    const sync = makeSync({ tasks, pollIntervalMs: 30, errorBackoff: { baseMs: 20, maxMs: 60 } });
    await sync.syncOnce();
    const errors: unknown[] = [];
    sync.events.on('error', ({ error }) => void errors.push(error));
    await emu.setOffline(true);
    sync.start();
    while (errors.length < 2) await new Promise((resolve) => sync.events.once('error', () => resolve(undefined)));
    expect(errors[0]).toMatchObject({ code: 'NETWORK' });
    await write('/after-outage.txt', 'x');
    await emu.setOffline(false);
    while (!local('/after-outage.txt')) await new Promise((resolve) => sync.events.once('applied', () => resolve(undefined)));
    expect(tasks.list().map((t) => t.name)).toEqual(['delta-poll']);
  });

  it('coalesces concurrent requests: one run at a time, one more shared by everyone who asked meanwhile', async () => {
    const sync = makeSync();
    const first = sync.syncNow();
    const second = sync.syncNow();
    const third = sync.syncOnce();
    expect(second).toBe(third);
    expect(second).not.toBe(first);
    expect(sync.running).toBe(true);
    const [a, b, c] = await Promise.all([first, second, third]);
    expect(a.full).toBe(true);
    expect(b).toBe(c);
    expect(b.full).toBe(false);
    expect(sync.running).toBe(false);
  });

  it('keeps the deltaLink unsaved when a run is aborted, and applies the batch again next time', async () => {
    const sync = makeSync({ applyChunk: 1 });
    await sync.syncOnce();
    const link = temp.store.driveState.get('deltaLink');
    await write('/x.txt', 'x');
    await write('/y.txt', 'y');
    // Pause as soon as the first chunk committed: the run stops mid-batch.
    const off = sync.events.on('changed', () => sync.pause());
    await expect(sync.syncOnce()).rejects.toMatchObject({ code: 'SYNC_PAUSED' });
    off();
    expect(temp.store.driveState.get('deltaLink')).toBe(link);
    sync.resume();
    const result: SyncResult = await sync.syncOnce();
    expect(result.full).toBe(false);
    expect(temp.store.driveState.get('deltaLink')).not.toBe(link);
    expect(sorted(storeTree(temp.store))).toEqual(sorted(serverTree(emu)));
  });
});
