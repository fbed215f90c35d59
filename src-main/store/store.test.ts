import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { newLocalId } from './local-id.ts';
import { StoreError } from './store-error.ts';
import { file, folder, openTempStore, ROOT, type TempStore } from './testing/temp-store.ts';

let temp: TempStore;
beforeEach(() => {
  temp = openTempStore();
  temp.store.items.upsert(ROOT);
});
afterEach(() => temp.dispose());

describe('one key per item: ItemsRepository.setRemoteId', () => {
  it('fills in the server id once; the key, children, content, journal and conflicts stay as they are', () => {
    const { store } = temp;
    const dirId = newLocalId();
    const fileId = newLocalId();
    store.items.insert(folder(dirId, 'ROOT', 'offline dir'));
    store.items.insert(file(fileId, dirId, 'notes.txt'));
    store.content.setPinned(dirId, true);
    const create = store.journal.append({ kind: 'create', itemId: fileId, parentId: dirId, name: 'notes.txt' });
    const inode = store.items.get(dirId)!.inode;
    expect(store.items.get(dirId)?.remoteId).toBeNull();

    expect(store.items.setRemoteId(dirId, 'SERVER-DIR')).toBeUndefined();

    expect(store.items.get(dirId)).toMatchObject({ inode, remoteId: 'SERVER-DIR', name: 'offline dir' });
    expect(store.items.getByRemoteId('SERVER-DIR')?.id).toBe(dirId);
    expect(store.items.keyOf('SERVER-DIR')).toBe(dirId);
    expect(store.items.keyOf(dirId)).toBe(dirId);
    expect(store.items.get(fileId)?.parentId).toBe(dirId);
    expect(store.content.get(dirId)?.pinned).toBe(true);
    expect(store.journal.get(create.seq)?.parentId).toBe(dirId);
    // Filled in once: the same id again is fine, another one is refused.
    expect(store.items.setRemoteId(dirId, 'SERVER-DIR')).toBeUndefined();
    expect(() => store.items.setRemoteId(dirId, 'OTHER')).toThrow(expect.objectContaining({ code: 'REMOTE_ID_MISMATCH' }));
  });

  it('server answers land on the item holding their server id, whatever its key', () => {
    const { store } = temp;
    const localId = newLocalId();
    store.items.insert(folder(localId, 'ROOT', 'photos'));
    store.items.setRemoteId(localId, 'SERVER');
    // A server child names its parent by the server id; a server update of the folder by its own.
    const result = store.items.upsertMany([file('CHILD-S', 'SERVER', 'b.jpg'), { ...folder('SERVER', 'ROOT', 'Photos'), remoteId: 'SERVER' }]);
    expect(result.keys.get('SERVER')).toBe(localId);
    expect(store.items.get('CHILD-S')).toMatchObject({ parentId: localId, remoteId: 'CHILD-S' });
    expect(store.items.get(localId)?.name).toBe('Photos');
    expect(store.items.get('SERVER')).toBeUndefined();
  });

  it('merges a server copy that delta stored first into the local item, keeping the local inode', () => {
    const { store } = temp;
    const localId = newLocalId();
    const local = store.items.insert(folder(localId, 'ROOT', 'photos'));
    store.items.insert(file('CHILD-L', localId, 'a.jpg'));
    // delta saw the server's copy (under another name, so both fit) with a child of its own
    store.items.upsertMany([folder('SERVER', 'ROOT', 'photos-server'), file('CHILD-S', 'SERVER', 'b.jpg')]);
    const serverInode = store.items.get('SERVER')!.inode;

    expect(store.items.setRemoteId(localId, 'SERVER')).toBe(serverInode);
    expect(store.items.get(localId)).toMatchObject({ inode: local.inode, remoteId: 'SERVER' });
    expect(store.items.listChildren(localId, undefined, 10).map((i) => i.id)).toEqual(['CHILD-L', 'CHILD-S']);
    expect(store.items.getByInode(serverInode)).toBeUndefined();
  });

  it('refuses a merge whose children clash, changing nothing', () => {
    const { store } = temp;
    store.items.insert(folder('local:L', 'ROOT', 'l'));
    store.items.insert(file('L1', 'local:L', 'same.txt'));
    store.items.upsertMany([folder('S', 'ROOT', 's'), file('S1', 'S', 'SAME.txt')]);
    expect(() => store.items.setRemoteId('local:L', 'S')).toThrow(StoreError);
    expect(store.items.get('local:L')?.remoteId).toBeNull();
    expect(store.items.get('S1')?.parentId).toBe('S');
  });

  it('remembers the versions this engine sent, a few per item', () => {
    const { store } = temp;
    store.items.insert(file('F', 'ROOT', 'f'));
    for (const hash of ['h1', 'h2', 'h3', 'h4', 'h5']) store.sentVersions.remember('F', hash);
    expect(store.sentVersions.has('F', 'h5')).toBe(true);
    expect(store.sentVersions.has('F', 'h2')).toBe(true);
    expect(store.sentVersions.has('G', 'h5')).toBe(false);
    store.items.deleteSubtree('F');
    expect(store.sentVersions.has('F', 'h5')).toBe(false);
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
