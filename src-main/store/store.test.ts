import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newLocalId } from './local-id.ts';
import { RangeSet } from '../base/range-set.ts';
import { StoreError } from './store-error.ts';
import { file, folder, openTempStore, ROOT, type TempStore } from './testing/temp-store.ts';

let temp: TempStore;
beforeEach(() => {
  temp = openTempStore();
  temp.store.items.upsert(ROOT);
});
afterEach(() => temp.dispose());

describe('Store.replaceItemId', () => {
  it('rewrites the item, its children, its content, the journal and conflicts at once', () => {
    const { store } = temp;
    const dirId = newLocalId();
    const fileId = newLocalId();
    store.items.insert(folder(dirId, 'ROOT', 'offline dir'));
    store.items.insert(file(fileId, dirId, 'notes.txt'));
    store.content.setContent(dirId, { status: 'none', etag: null, ctag: null, ranges: new RangeSet() });
    store.content.setPinned(dirId, true);
    const mkdir = store.journal.append({ kind: 'mkdir', itemId: dirId, parentId: 'ROOT', name: 'offline dir' });
    const create = store.journal.append({ kind: 'create', itemId: fileId, parentId: dirId, name: 'notes.txt' });
    const move = store.journal.append({ kind: 'rename', itemId: 'OTHER', parentId: 'ROOT', newParentId: dirId, newName: 'x' });
    const conflict = store.conflicts.add({ itemId: dirId, path: '/offline dir', reason: 'name-clash' });
    const inode = store.items.get(dirId)!.inode;

    expect(store.replaceItemId(dirId, 'SERVER-DIR')).toEqual({ inode, droppedInode: undefined });

    expect(store.items.get(dirId)).toBeUndefined();
    expect(store.items.get('SERVER-DIR')).toMatchObject({ inode, name: 'offline dir' });
    expect(store.items.get(fileId)?.parentId).toBe('SERVER-DIR');
    expect(store.items.pathOf(fileId)).toBe('/offline dir/notes.txt');
    expect(store.content.get('SERVER-DIR')?.pinned).toBe(true);
    expect(store.content.get(dirId)).toBeUndefined();
    expect(store.journal.get(mkdir.seq)?.itemId).toBe('SERVER-DIR');
    expect(store.journal.get(create.seq)?.parentId).toBe('SERVER-DIR');
    expect(store.journal.get(move.seq)?.newParentId).toBe('SERVER-DIR');
    expect(store.conflicts.get(conflict.id)?.itemId).toBe('SERVER-DIR');
  });

  it('merges a server row that delta stored first, keeping the local inode', () => {
    const { store } = temp;
    const localId = newLocalId();
    const local = store.items.insert(folder(localId, 'ROOT', 'photos'));
    store.items.insert(file('CHILD-L', localId, 'a.jpg'));
    // delta saw the server's copy (under another name, so both fit) with a child of its own
    store.items.upsertMany([folder('SERVER', 'ROOT', 'photos-server'), file('CHILD-S', 'SERVER', 'b.jpg')]);
    const serverInode = store.items.get('SERVER')!.inode;

    expect(store.replaceItemId(localId, 'SERVER')).toEqual({ inode: local.inode, droppedInode: serverInode });
    expect(store.items.get('SERVER')?.inode).toBe(local.inode);
    expect(store.items.listChildren('SERVER', undefined, 10).map((i) => i.id)).toEqual(['CHILD-L', 'CHILD-S']);
    expect(store.items.getByInode(serverInode)).toBeUndefined();
  });

  it('refuses a merge whose children clash, changing nothing', () => {
    const { store } = temp;
    store.items.insert(folder('L', 'ROOT', 'l'));
    store.items.insert(file('L1', 'L', 'same.txt'));
    store.items.upsertMany([folder('S', 'ROOT', 's'), file('S1', 'S', 'SAME.txt')]);
    expect(() => store.replaceItemId('L', 'S')).toThrow(StoreError);
    expect(store.items.get('L')).toBeDefined();
    expect(store.items.get('S1')?.parentId).toBe('S');
  });

  it('moves journal references even when the local item is gone already', () => {
    const { store } = temp;
    const entry = store.journal.append({ kind: 'unlink', itemId: 'local:gone' });
    expect(store.replaceItemId('local:gone', 'S9')).toEqual({ inode: undefined, droppedInode: undefined });
    expect(store.journal.get(entry.seq)?.itemId).toBe('S9');
  });
});

describe('Store.transaction', () => {
  it('commits all or nothing', () => {
    const { store } = temp;
    expect(() =>
      store.transaction(() => {
        store.items.insert(file('A', 'ROOT', 'a'));
        store.journal.append({ kind: 'create', itemId: 'A', parentId: 'ROOT', name: 'a' });
        store.items.insert(file('B', 'ROOT', 'A'));
      }),
    ).toThrow(StoreError);
    expect(store.items.get('A')).toBeUndefined();
    expect(store.journal.list()).toEqual([]);
    store.transaction(() => store.items.insert(file('A', 'ROOT', 'a')));
    expect(store.items.get('A')).toBeDefined();
  });

  it('closes once and reports it', () => {
    temp.store.close();
    expect(temp.store.isOpen).toBe(false);
    temp.store.close();
  });
});
