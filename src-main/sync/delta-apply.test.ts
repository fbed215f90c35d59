/**
 * BatchApplier against a store alone: what it does when the rows it read change before its commit
 * (a local change while the invalidation of another file's content is awaited). The same against
 * the emulator, in both drive modes: delta-sync.test.ts ("rows read before the invalidations are
 * awaited are read again").
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../base/logger.ts';
import { RangeSet, type ItemRecord } from '../store/index.ts';
import { openTempStore, type TempStore } from '../store/testing/temp-store.ts';
import { BatchApplier } from './delta-apply.ts';
import type { DeltaPlan } from './delta-plan.ts';
import { LoopYielder } from './loop-yielder.ts';

const T = 1_000;
let temp: TempStore;

function record(id: string, parentId: string | null, name: string, kind: 'file' | 'folder', extra: Partial<ItemRecord> = {}): ItemRecord {
  const file = kind === 'file';
  return { id, remoteId: id, parentId, name, kind, size: file ? 5 : 0, ctimeMs: T, mtimeMs: T, etag: `e-${id}-1`, ctag: `c-${id}-1`, quickXorHash: file ? `AAAA${id}` : null, ...extra };
}

/** The server's new version of c.txt, cached here: its invalidation is what the batch awaits. */
const changedC = record('C', 'ROOT', 'c.txt', 'file', { etag: 'e-C-2', ctag: 'c-C-2', quickXorHash: 'BBBBC', size: 9 });
const changedD = record('D', 'ROOT', 'd.txt', 'file', { etag: 'e-D-2', ctag: 'c-D-2', quickXorHash: 'ZZZZD', size: 7 });

beforeEach(() => {
  temp = openTempStore();
  temp.store.items.upsertMany([record('ROOT', null, 'root', 'folder'), record('F', 'ROOT', 'F', 'folder'), record('C', 'ROOT', 'c.txt', 'file'), record('D', 'ROOT', 'd.txt', 'file')]);
  temp.store.content.setContent('C', { status: 'complete', etag: 'e-C-1', ctag: 'c-C-1', ranges: RangeSet.whole(5) });
});
afterEach(() => temp.dispose());

/** An applier whose invalidations run `meanwhile` before they end; `changedHere` as delta-sync gives it. */
function applier(meanwhile: () => void, changedHere: (id: string) => boolean = () => false): BatchApplier {
  return new BatchApplier({
    store: temp.store,
    logger: createMemoryLogger('debug', 'apply-test').logger,
    chunkSize: 100,
    pageSize: 50,
    yielder: new LoopYielder(1000),
    onChanged: () => undefined,
    onInvalidateError: (e) => {
      throw e;
    },
    changedHere,
    deletes: temp.store.items,
    invalidator: {
      invalidate: async (id: string) => {
        temp.store.content.invalidate(id);
        await new Promise((resolve) => setTimeout(resolve, 5));
        meanwhile();
      },
    },
  });
}

const plan = (upserts: ItemRecord[]): DeltaPlan => ({ upserts, removals: new Map(), live: new Set<string>(), rootId: undefined });

describe('BatchApplier: rows that change while an invalidation is awaited', () => {
  it('a folder deleted here meanwhile takes what the batch put into it (no row without its folder)', async () => {
    await applier(() => temp.store.items.deleteSubtree('F')).apply(plan([record('F', 'ROOT', 'F', 'folder', { etag: 'e-F-2' }), changedC, record('N', 'F', 'n.txt', 'file')]), false, () => undefined);
    expect(temp.store.items.get('F')).toBeUndefined();
    expect(temp.store.items.get('N')).toBeUndefined();
    expect(temp.store.items.get('C')?.etag).toBe('e-C-2');
  });

  it('a file whose edit was dropped meanwhile gets no both-modified conflict', async () => {
    temp.store.content.setContent('D', { status: 'dirty', etag: 'e-D-1', ctag: 'c-D-1', ranges: RangeSet.whole(5) });
    await applier(() => temp.store.content.invalidate('D', { force: true })).apply(plan([changedC, changedD]), false, () => undefined);
    expect(temp.store.conflicts.listForItem('D')).toEqual([]);
  });

  it('a changed file deleted here meanwhile leaves no conflict behind', async () => {
    temp.store.content.setContent('D', { status: 'dirty', etag: 'e-D-1', ctag: 'c-D-1', ranges: RangeSet.whole(5) });
    const counts = await applier(() => temp.store.items.deleteSubtree('D')).apply(plan([changedC, changedD]), false, () => undefined);
    expect(temp.store.conflicts.list()).toEqual([]);
    expect(counts.conflicts).toBe(0);
  });
});

describe('BatchApplier: a new server file where this device sent a file (deleted-uploads.ts)', () => {
  /** D (d.txt) edited here, the server's D deleted, its edit sent anew to ROOT/d.txt: the place is watched. */
  function editSentAnew(): ItemRecord {
    const sent = 'QQQQsent';
    temp.store.content.setContent('D', { status: 'dirty', etag: 'e-D-1', ctag: 'c-D-1', ranges: RangeSet.whole(5) });
    temp.store.sentVersions.remember('D', sent);
    temp.store.deletedUploads.add({ itemId: 'D', parentId: 'ROOT', name: 'd.txt', hashes: [sent] });
    return record('N', 'ROOT', 'd.txt', 'file', { quickXorHash: sent });
  }

  it('is the file itself when the file is still there with its edit: it takes the new id, nothing is deleted or put beside it (fuzz 580000/156)', async () => {
    const landed = editSentAnew();
    await applier(() => undefined).apply({ ...plan([landed]), removals: new Map([['D', 'deleted']]) }, false, () => undefined);
    expect(temp.store.items.get('D')).toMatchObject({ name: 'd.txt', remoteId: 'N' });
    expect(temp.store.items.get('N')).toBeUndefined();
    expect(temp.store.items.getChild('ROOT', 'd.txt')?.id).toBe('D');
    expect(temp.store.journal.list({ states: ['pending'] }).filter((e) => e.kind === 'unlink')).toEqual([]);
  });

  it('is a stray copy, deleted on the server, when the file has moved on here', async () => {
    const landed = editSentAnew();
    temp.store.items.move('D', 'ROOT', 'e.txt');
    await applier(() => undefined).apply(plan([landed]), false, () => undefined);
    expect(temp.store.items.get('D')).toMatchObject({ name: 'e.txt', remoteId: 'D' });
    expect(temp.store.items.get('N')).toBeUndefined();
    expect(temp.store.journal.list({ states: ['pending'] })).toMatchObject([{ kind: 'unlink', name: 'd.txt', payload: { remoteId: 'N' } }]);
  });

  it('is not taken for the file once its delete waits in the journal, though the file is back at that place', async () => {
    const landed = editSentAnew();
    temp.store.items.move('D', 'ROOT', 'e.txt');
    await applier(() => undefined).apply(plan([landed]), false, () => undefined);
    expect(temp.store.journal.list({ states: ['pending'] })).toHaveLength(1);
    temp.store.items.move('D', 'ROOT', 'd.txt');
    await applier(() => undefined).apply(plan([landed]), false, () => undefined);
    expect(temp.store.items.get('D')?.remoteId).toBe('D');
    expect(temp.store.journal.list({ states: ['pending'] })).toMatchObject([{ kind: 'unlink', payload: { remoteId: 'N' } }]);
  });
});

describe('BatchApplier: a file uploaded anew after the server deleted it', () => {
  /** D (first seen on the server: its key is its first server id) was deleted there and is N now. */
  function uploadedAnew(): number {
    temp.store.content.setContent('D', { status: 'complete', etag: 'e-N-1', ctag: 'c-N-1', ranges: RangeSet.whole(5) });
    temp.store.items.setRemoteId('D', 'N', { replacing: 'D' });
    // As the upload's commit leaves it: the server's version of N.
    temp.store.items.update('D', { etag: 'e-N-1', ctag: 'c-N-1', quickXorHash: 'AAAAN' });
    return temp.store.items.get('D')!.inode;
  }
  const n = record('N', 'ROOT', 'd.txt', 'file', { etag: 'e-N-1', ctag: 'c-N-1' });

  it('is not deleted by the tombstone of its old server id, alone or beside the new one (the same row, inode and content)', async () => {
    const inode = uploadedAnew();
    await applier(() => undefined).apply({ ...plan([]), removals: new Map([['D', 'deleted']]) }, false, () => undefined);
    expect(temp.store.items.get('D')).toMatchObject({ inode, remoteId: 'N', name: 'd.txt' });
    await applier(() => undefined).apply({ ...plan([n]), removals: new Map([['D', 'deleted']]) }, false, () => undefined);
    expect(temp.store.items.get('D')).toMatchObject({ inode, remoteId: 'N', name: 'd.txt' });
    expect(temp.store.content.get('D')?.status).toBe('complete');
    expect(temp.store.items.getChild('ROOT', 'd.txt')?.id).toBe('D');
  });

  it('and its old server item, restored there, is another item', async () => {
    const inode = uploadedAnew();
    await applier(() => undefined).apply(plan([record('D', 'ROOT', 'd (restored).txt', 'file')]), false, () => undefined);
    expect(temp.store.items.get('D')).toMatchObject({ inode, remoteId: 'N', name: 'd.txt' });
    const restored = temp.store.items.getChild('ROOT', 'd (restored).txt');
    expect(restored).toMatchObject({ remoteId: 'D' });
    expect(restored?.id).not.toBe('D');
  });
});

describe('BatchApplier: removals of items this device is deleting', () => {
  const applierWith = (changedHere: (id: string) => boolean) => applier(() => undefined, changedHere);
  const removal = (id: string): DeltaPlan => ({ upserts: [], removals: new Map([[id, 'deleted']]), live: new Set<string>(), rootId: undefined });

  it('a file with edits whose delete from here is on its way is left to that delete, not kept as a conflict (fuzz 710000/216)', async () => {
    temp.store.content.setContent('D', { status: 'dirty', etag: 'e-D-1', ctag: 'c-D-1', ranges: RangeSet.whole(5) });
    const done = temp.store.items.deletingHere('D', 'D');
    const mark = temp.store.items.openChangeWindow();
    const a = applierWith((id) => temp.store.items.changedHereSince(id, mark));
    const counts = await a.apply(removal('D'), false, () => undefined);
    expect(counts.conflicts).toBe(0);
    expect(temp.store.conflicts.list()).toEqual([]);
    // The local delete goes on as it was; delta did not remove the rows under it either.
    expect(temp.store.items.get('D')).toBeDefined();
    done();
    temp.store.items.closeChangeWindow();
  });

  it('a removal of a file renamed here since the batch was asked for stands: another device deleted it after the rename', async () => {
    const mark = temp.store.items.openChangeWindow();
    temp.store.items.noteChangedHere('C', 'C');
    const counts = await applierWith((id) => temp.store.items.changedHereSince(id, mark)).apply(removal('C'), false, () => undefined);
    temp.store.items.closeChangeWindow();
    expect(counts.removed).toBe(1);
    expect(temp.store.items.get('C')).toBeUndefined();
  });

  /** F (with n.txt, whose edit was never sent) deleted elsewhere while n.txt's delete from here is on its way. */
  async function folderGoneWhileFileDeleting(deleteEnds: () => void): Promise<void> {
    temp.store.items.upsertMany([record('N', 'F', 'n.txt', 'file')]);
    temp.store.content.setContent('N', { status: 'dirty', etag: 'e-N-1', ctag: 'c-N-1', ranges: RangeSet.whole(5) });
    const done = temp.store.items.deletingHere('N', 'N');
    const mark = temp.store.items.openChangeWindow();
    const gone: DeltaPlan = { upserts: [], removals: new Map([['F', 'deleted'], ['N', 'deleted']]), live: new Set<string>(), rootId: undefined };
    let applied = false;
    const applying = applierWith((id) => temp.store.items.changedHereSince(id, mark))
      .apply(gone, false, () => undefined)
      .then(() => (applied = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The folder cannot go while the file's rows are here, nor is the file an edit to keep.
    expect(applied).toBe(false);
    expect(temp.store.items.get('F')).toBeDefined();
    deleteEnds();
    done();
    await applying;
    temp.store.items.closeChangeWindow();
  }

  it('a folder deleted elsewhere while a file with edits in it is being deleted here waits for that delete: no conflict, no folder left', async () => {
    await folderGoneWhileFileDeleting(() => temp.store.items.deleteSubtree('N'));
    expect(temp.store.conflicts.list()).toEqual([]);
    expect(temp.store.items.get('F')).toBeUndefined();
  });

  it('the same folder, when the delete of the file failed here, keeps the file with its edits and records the conflicts', async () => {
    await folderGoneWhileFileDeleting(() => undefined);
    expect(temp.store.items.get('N')).toBeDefined();
    expect(temp.store.items.get('F')).toBeDefined();
    expect(temp.store.conflicts.list().map((c) => [c.itemId, c.reason]).sort()).toEqual([
      ['F', 'remote-deleted'],
      ['N', 'remote-deleted'],
    ]);
  });

  it('the same folder, when the delete of the file begins while the removal waits for another file\'s invalidation, waits for it too', async () => {
    temp.store.items.upsertMany([record('N', 'F', 'n.txt', 'file'), record('K', 'F', 'k.txt', 'file')]);
    temp.store.content.setContent('N', { status: 'dirty', etag: 'e-N-1', ctag: 'c-N-1', ranges: RangeSet.whole(5) });
    temp.store.content.setContent('K', { status: 'complete', etag: 'e-K-1', ctag: 'c-K-1', ranges: RangeSet.whole(5) });
    const deleteN = (): void => {
      // As Vfs.remove: marked from its request until its rows are gone.
      const done = temp.store.items.deletingHere('N', 'N');
      setTimeout(() => {
        temp.store.items.deleteSubtree('N');
        done();
      }, 20);
    };
    const counts = await applier(deleteN).apply({ upserts: [], removals: new Map([['F', 'deleted']]), live: new Set<string>(), rootId: undefined }, false, () => undefined);
    expect(temp.store.conflicts.list()).toEqual([]);
    expect(counts.conflicts).toBe(0);
    expect(temp.store.items.get('F')).toBeUndefined();
  });

  it('a run stopped while a folder\'s removal waits for a delete here ends at once, leaving the folder as it was', async () => {
    temp.store.items.upsertMany([record('N', 'F', 'n.txt', 'file')]);
    temp.store.content.setContent('N', { status: 'dirty', etag: 'e-N-1', ctag: 'c-N-1', ranges: RangeSet.whole(5) });
    const done = temp.store.items.deletingHere('N', 'N');
    const stop = new AbortController();
    const a = new BatchApplier({
      store: temp.store,
      logger: createMemoryLogger('debug', 'apply-test').logger,
      chunkSize: 100,
      pageSize: 50,
      yielder: new LoopYielder(1000, stop.signal),
      onChanged: () => undefined,
      onInvalidateError: (e) => {
        throw e;
      },
      deletes: temp.store.items,
      invalidator: { invalidate: (id: string) => void temp.store.content.invalidate(id) },
    });
    const applying = a.apply({ upserts: [], removals: new Map([['F', 'deleted']]), live: new Set<string>(), rootId: undefined }, false, () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 20));
    stop.abort(new Error('stopped'));
    await expect(applying).rejects.toThrow('stopped');
    done();
    expect(temp.store.items.get('F')).toBeDefined();
    expect(temp.store.conflicts.list()).toEqual([]);
  });

  it('the same removal of a file nobody here is deleting keeps its edits and records the conflict', async () => {
    temp.store.content.setContent('D', { status: 'dirty', etag: 'e-D-1', ctag: 'c-D-1', ranges: RangeSet.whole(5) });
    const mark = temp.store.items.openChangeWindow();
    const a = applierWith((id) => temp.store.items.changedHereSince(id, mark));
    const counts = await a.apply(removal('D'), false, () => undefined);
    expect(counts.conflicts).toBe(1);
    expect(temp.store.conflicts.listForItem('D').map((c) => c.reason)).toEqual(['remote-deleted']);
    temp.store.items.closeChangeWindow();
  });
});
