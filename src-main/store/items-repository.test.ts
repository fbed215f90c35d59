import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ROOT_INODE, type ItemChange } from './items-repository.ts';
import { StoreError } from './store-error.ts';
import { file, folder, openTempStore, ROOT, type TempStore } from './testing/temp-store.ts';
import type { ItemRecord } from './types.ts';

let temp: TempStore;
beforeEach(() => {
  temp = openTempStore();
  temp.store.items.upsert(ROOT);
});
afterEach(() => temp.dispose());

function storeError(work: () => unknown): StoreError {
  try {
    work();
  } catch (error) {
    if (error instanceof StoreError) return error;
    throw error;
  }
  throw new Error('expected a StoreError');
}

describe('ItemsRepository', () => {
  it('leaves an item being deleted here to a fresh read for every batch until done, then as a change noted after their marks', () => {
    const items = temp.store.items;
    const early = items.openChangeWindow();
    const done = items.deletingHere('k1', 'r1');
    expect(items.isDeletingHere('r1')).toBe(true);
    const late = items.openChangeWindow();
    // Whenever the batch was asked for: before the request, or after it.
    for (const mark of [early, late]) for (const id of ['k1', 'r1']) expect(items.changedHereSince(id, mark)).toBe(true);
    expect(items.changedHereSince('other', early)).toBe(false);
    // Two requests for one item: the item stays changing until both are done.
    const second = items.deletingHere('k1');
    done();
    done();
    expect(items.changedHereSince('r1', late)).toBe(true);
    second();
    expect(items.isDeletingHere('k1')).toBe(false);
    const after = items.openChangeWindow();
    expect(items.changedHereSince('k1', late)).toBe(true);
    expect(items.changedHereSince('k1', after)).toBe(false);
    for (let i = 0; i < 3; i++) items.closeChangeWindow();
    expect(items.changedHereSince('k1', late)).toBe(false);
  });

  it('tells who waits for an item\'s deletes when the last of them has ended', async () => {
    const items = temp.store.items;
    const first = items.deletingHere('k1', 'r1');
    const second = items.deletingHere('k1');
    const settled: string[] = [];
    for (const id of ['k1', 'r1']) void items.deleteSettled(id).then(() => settled.push(id));
    first();
    await Promise.resolve();
    expect(settled).toEqual(['r1']);
    second();
    await items.deleteSettled('k1');
    expect(settled).toEqual(['r1', 'k1']);
    await items.deleteSettled('never-deleted');
  });

  it('gives the root inode 1 and every other item a distinct inode', () => {
    const { items } = temp.store;
    expect(items.getRoot()?.id).toBe('ROOT');
    expect(items.get('ROOT')?.inode).toBe(ROOT_INODE);
    const a = items.insert(file('A', 'ROOT', 'a.txt'));
    const b = items.insert(file('B', 'ROOT', 'b.txt'));
    expect(a.inode).toBeGreaterThan(1);
    expect(b.inode).not.toBe(a.inode);
    expect(items.getByInode(a.inode)).toEqual(a);
    expect(items.get('missing')).toBeUndefined();
    expect(items.getByInode(999)).toBeUndefined();
  });

  it('hands out inode 1 to the root even when children are stored before it', () => {
    const other = openTempStore();
    try {
      other.store.items.upsertMany([file('F', 'ROOT', 'f'), ROOT]);
      expect(other.store.items.get('ROOT')?.inode).toBe(1);
      expect(other.store.items.get('F')?.inode).toBeGreaterThan(1);
    } finally {
      other.dispose();
    }
  });

  it('never reuses an inode after a delete', () => {
    const { items } = temp.store;
    const a = items.insert(file('A', 'ROOT', 'a'));
    items.deleteSubtree('A');
    const b = items.insert(file('B', 'ROOT', 'b'));
    expect(b.inode).toBeGreaterThan(a.inode);
  });

  it('stores every field and maps it back', () => {
    const record: ItemRecord = {
      id: 'X',
      parentId: 'ROOT',
      name: 'Shared',
      kind: 'remote',
      size: 12345,
      ctimeMs: 1_700_000_000_000,
      mtimeMs: 1_700_000_000_500,
      etag: 'etag',
      ctag: 'ctag',
      quickXorHash: 'hash==',
      remoteDriveId: 'drive2',
      remoteItemId: 'item2',
      driveId: 'drive3',
    };
    const stored = temp.store.items.upsert(record);
    const { inode, nameKey, ...rest } = stored;
    expect(rest).toEqual({ ...record, remoteId: record.id });
    expect(nameKey).toBe('shared');
    expect(inode).toBeGreaterThan(1);
  });

  it("keeps an item's drive when a record does not name one, and stores null for a new item without one", () => {
    const { items } = temp.store;
    const base = { parentId: 'ROOT', kind: 'file' as const, size: 1, ctimeMs: 0, mtimeMs: 0 };
    items.upsert({ ...base, id: 'IN-SHARE', name: 'a.txt', driveId: 'other' });
    items.upsert({ ...base, id: 'IN-SHARE', name: 'b.txt' });
    expect(items.get('IN-SHARE')?.driveId).toBe('other');
    items.upsert({ ...base, id: 'IN-SHARE', name: 'b.txt', driveId: null });
    expect(items.get('IN-SHARE')?.driveId).toBeNull();
    items.insert({ ...base, id: 'local:1', name: 'c.txt' });
    expect(items.get('local:1')?.driveId).toBeNull();
  });

  it('tracks a shared folder, resets its state when the shortcut points elsewhere, and drops it with the shortcut', () => {
    const { items, sharedFolders } = temp.store;
    expect(items.hasShortcuts()).toBe(false);
    items.upsert({ id: 'SC', parentId: 'ROOT', name: 'Team', kind: 'remote', size: 0, ctimeMs: 0, mtimeMs: 0, remoteDriveId: 'd2', remoteItemId: 'F' });
    expect(items.hasShortcuts()).toBe(true);
    expect(sharedFolders.track('SC', 'd2', 'F')).toMatchObject({ access: null, deltaLink: null });
    sharedFolders.setAccess('SC', 'read', 4);
    sharedFolders.synced('SC', 'link-1', 5);
    expect(sharedFolders.track('SC', 'd2', 'F')).toMatchObject({ access: 'read', accessCheckedMs: 4, deltaLink: 'link-1', syncedMs: 5 });
    expect(sharedFolders.track('SC', 'd2', 'G')).toMatchObject({ remoteItemId: 'G', access: null, deltaLink: null });
    items.deleteSubtree('SC');
    expect(sharedFolders.list()).toEqual([]);
    expect(items.hasShortcuts()).toBe(false);
  });

  it('finds children case-insensitively and refuses a second name differing only in case', () => {
    const { items } = temp.store;
    items.insert(file('A', 'ROOT', 'Report.TXT'));
    expect(items.getChild('ROOT', 'report.txt')?.id).toBe('A');
    expect(items.getChild('ROOT', 'REPORT.txt')?.id).toBe('A');
    expect(items.getChild('ROOT', 'other')).toBeUndefined();
    expect(storeError(() => items.insert(file('B', 'ROOT', 'report.txt'))).code).toBe('NAME_TAKEN');
    items.insert(folder('D', 'ROOT', 'Café'));
    expect(items.getChild('ROOT', 'CAFE\u0301')?.id).toBe('D');
  });

  it('lists children in pages by folded name', () => {
    const { items } = temp.store;
    items.upsertMany([folder('DIR', 'ROOT', 'dir')]);
    const names = Array.from({ length: 25 }, (_, i) => `File${String(i).padStart(2, '0')}${i % 2 ? '.TXT' : '.txt'}`);
    items.upsertMany(names.map((name, i) => file(`F${i}`, 'DIR', name)));
    items.insert(file('OTHER', 'ROOT', 'File00.txt'));
    expect(items.countChildren('DIR')).toBe(25);
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      const page = items.listChildren('DIR', after, 10);
      seen.push(...page.map((item) => item.name));
      if (page.length < 10) break;
      after = page[page.length - 1]!.nameKey;
    }
    expect(seen).toEqual([...names].sort((a, b) => a.toLowerCase().localeCompare(b.toLowerCase())));
    expect(items.listChildren('EMPTY', undefined, 10)).toEqual([]);
    expect(() => items.listChildren('DIR', undefined, 0)).toThrow(StoreError);
  });

  it('computes paths and resolves them', () => {
    const { items } = temp.store;
    items.upsertMany([folder('A', 'ROOT', 'Docs'), folder('B', 'A', 'Work'), file('C', 'B', 'plan.md')]);
    expect(items.pathOf('ROOT')).toBe('/');
    expect(items.pathOf('C')).toBe('/Docs/Work/plan.md');
    expect(items.pathOf('missing')).toBeUndefined();
    expect(items.resolvePath('/')?.id).toBe('ROOT');
    expect(items.resolvePath('/docs/WORK/Plan.MD')?.id).toBe('C');
    expect(items.resolvePath('/docs/nope/plan.md')).toBeUndefined();
    expect(items.resolvePath('/Docs/Work/plan.md/deeper')).toBeUndefined();
  });

  it('applies a batch with children before parents and a record seen twice', () => {
    const { items } = temp.store;
    const result = items.upsertMany([
      file('C', 'B', 'c.txt', { size: 1 }),
      folder('B', 'A', 'b'),
      folder('A', 'ROOT', 'a'),
      file('C', 'B', 'c.txt', { size: 2 }),
    ]);
    expect(result).toMatchObject({ inserted: 3, updated: 0, renamed: [] });
    expect(items.get('C')?.size).toBe(2);
    expect(items.upsertMany([file('C', 'A', 'moved.txt')])).toMatchObject({ inserted: 0, updated: 1, renamed: [] });
    expect(items.pathOf('C')).toBe('/a/moved.txt');
  });

  it('rejects a batch whose item points at an unknown parent, applying none of it', () => {
    const { items } = temp.store;
    expect(() => items.upsertMany([file('A', 'ROOT', 'a'), file('B', 'NOPE', 'b')])).toThrow(/FOREIGN KEY/);
    expect(items.get('A')).toBeUndefined();
  });

  it('applies name swaps and rename chains within one batch', () => {
    const { items } = temp.store;
    items.upsertMany([file('A', 'ROOT', 'a'), file('B', 'ROOT', 'b'), file('C', 'ROOT', 'c')]);
    const inodes = ['A', 'B', 'C'].map((id) => items.get(id)!.inode);
    items.upsertMany([file('A', 'ROOT', 'B'), file('B', 'ROOT', 'c'), file('C', 'ROOT', 'a')]);
    expect(items.getChild('ROOT', 'b')?.id).toBe('A');
    expect(items.getChild('ROOT', 'c')?.id).toBe('B');
    expect(items.getChild('ROOT', 'a')?.id).toBe('C');
    expect(['A', 'B', 'C'].map((id) => items.get(id)!.inode)).toEqual(inodes);
    expect(items.listChildren('ROOT', undefined, 10).map((i) => i.nameKey)).toEqual(['a', 'b', 'c']);
  });

  it('refuses, by default, a batch that takes the name of an item outside it', () => {
    const { items } = temp.store;
    items.insert(file('local:1', 'ROOT', 'notes.txt'));
    const error = storeError(() => items.upsertMany([file('N', 'ROOT', 'other'), file('S', 'ROOT', 'Notes.txt')]));
    expect(error.code).toBe('NAME_TAKEN');
    expect(items.get('N')).toBeUndefined();
  });

  it('renames the outside holder of a name when given a resolver', () => {
    const { items } = temp.store;
    items.insert(file('local:1', 'ROOT', 'notes.txt'));
    const result = items.upsertMany([file('S', 'ROOT', 'Notes.txt')], {
      onNameClash: (occupant, incoming) => {
        expect(incoming.id).toBe('S');
        return `${occupant.name} (conflict)`;
      },
    });
    expect(result.renamed).toEqual([{ id: 'local:1', from: 'notes.txt', to: 'notes.txt (conflict)' }]);
    expect(items.getChild('ROOT', 'notes.txt')?.id).toBe('S');
    expect(items.getChild('ROOT', 'notes.txt (conflict)')?.id).toBe('local:1');
  });

  it('refuses a batch that puts two of its own items on one name', () => {
    const { items } = temp.store;
    const error = storeError(() => items.upsertMany([file('A', 'ROOT', 'x'), file('B', 'ROOT', 'X')], { onNameClash: () => 'y' }));
    expect(error.code).toBe('NAME_TAKEN');
  });

  it('keeps inode 1 and the tree when the root comes back with a new id', () => {
    const { items, journal } = temp.store;
    items.upsertMany([folder('A', 'ROOT', 'a')]);
    journal.append({ kind: 'mkdir', itemId: 'local:x', parentId: 'ROOT', name: 'x' });
    items.upsertMany([{ ...ROOT, id: 'ROOT2' }]);
    // The root keeps its key for life; only the server id it is known by follows.
    expect(items.getRoot()).toMatchObject({ id: 'ROOT', inode: 1, remoteId: 'ROOT2' });
    expect(items.keyOf('ROOT2')).toBe('ROOT');
    expect(items.get('A')?.parentId).toBe('ROOT');
    expect(journal.list()[0]?.parentId).toBe('ROOT');
  });

  it('updates only the fields given', () => {
    const { items } = temp.store;
    items.insert(file('A', 'ROOT', 'a', { quickXorHash: 'h1' }));
    const updated = items.update('A', { size: 99, etag: 'e2', quickXorHash: null });
    expect(updated).toMatchObject({ size: 99, etag: 'e2', ctag: 'c-A', quickXorHash: null, mtimeMs: 2_000, name: 'a' });
    expect(storeError(() => items.update('missing', { size: 1 })).code).toBe('NOT_FOUND');
    expect(storeError(() => items.update('A', { size: -1 })).code).toBe('INVALID_ARGUMENT');
  });

  it('records a local write without reading back; the folders generation moves only when a folder could have changed', () => {
    const { items } = temp.store;
    items.insert(folder('F', 'ROOT', 'f'));
    items.insert(file('A', 'F', 'a.txt'));
    let generation = items.generation;
    let folders = items.foldersGeneration;
    // Listeners hear of every change before it is made (the mount drops its copies of attributes).
    const heard: Array<number | undefined> = [];
    const stopListening = items.onChange(() => heard.push(items.get('A')?.size));
    const step = (what: string, change: () => void, foldersMove: boolean) => {
      const before = heard.length;
      change();
      expect(heard.length, what).toBe(before + 1);
      expect(items.generation, what).toBeGreaterThan(generation);
      if (foldersMove) expect(items.foldersGeneration, what).toBeGreaterThan(folders);
      else expect(items.foldersGeneration, what).toBe(folders);
      generation = items.generation;
      folders = items.foldersGeneration;
    };
    const sizeBefore = items.get('A')?.size;
    step('a write', () => items.setSizeAndTime(items.get('A')!, 4096, 1234), false);
    expect(items.get('A')).toMatchObject({ size: 4096, mtimeMs: 1234 });
    expect(heard.at(-1)).toBe(sizeBefore);
    step('a create', () => items.insert(file('B', 'F', 'b.txt')), false);
    step('a folder update', () => items.update('F', { mtimeMs: 5 }), true);
    step('a move', () => items.move('F', 'ROOT', 'g'), true);
    step('a delete', () => items.deleteSubtree('B'), true);
    step('a batch', () => items.upsertMany([{ ...file('A', 'F', 'a.txt'), size: 1 }]), true);
    step('a create here', () => items.insert({ ...file('D', 'ROOT', 'd.txt'), remoteId: null }), false);
    step('its server id', () => items.setRemoteId('D', 'remote-d'), true);
    expect(storeError(() => items.setSizeAndTime({ id: 'missing', inode: 999 }, 1, 1)).code).toBe('NOT_FOUND');
    // Eight steps and the refused write (heard too: listeners hear of an attempt, as generation counts it).
    expect(heard).toHaveLength(9);
    stopListening();
    items.update('F', { mtimeMs: 6 });
    expect(heard).toHaveLength(9);
  });

  it('leaves generation as it is for a batch that repeats what is stored, bumps it once for a batch that writes, and tells listeners of changes to items that exist, and of new items as that', () => {
    const { items } = temp.store;
    const known = [folder('F', 'ROOT', 'f'), { ...file('A', 'F', 'a.txt'), etag: 'e1', quickXorHash: 'h1' }, file('B', 'F', 'b.txt')];
    items.upsertMany(known);
    /** Changes told of items that exist (anything may change, or one item's fields). */
    let heard = 0;
    const fields: string[] = [];
    /** New items told one by one (their names), and all at once. */
    const news: string[] = [];
    let newItems = 0;
    const stopListening = items.onChange((change) => {
      if (change?.kind === 'new-items') newItems++;
      else if (change?.kind === 'new') news.push(change.name);
      else heard++;
      if (change?.kind === 'fields') fields.push(change.id);
    });
    const generation = items.generation;
    // A first enumeration meeting what a listing stored: nothing is written, nobody is told.
    expect(items.upsertMany(known)).toMatchObject({ inserted: 0, updated: 3 });
    expect(items.upsertMany([{ ...file('A', 'F', 'a.txt'), etag: 'e1', quickXorHash: 'h1', remoteId: undefined, driveId: undefined }])).toMatchObject({ updated: 1 });
    expect(items.generation).toBe(generation);
    expect(heard).toBe(0);
    // New items only (a first enumeration reaching a folder nobody listed): the caches of listings
    // move on (generation), copies of existing items' fields are not dropped (told: each new item).
    items.upsertMany([known[0]!, file('C', 'F', 'c.txt'), folder('G', 'ROOT', 'g'), file('D', 'G', 'd.txt')]);
    expect(items.generation).toBe(generation + 1);
    expect(heard).toBe(0);
    expect(news).toEqual(['c.txt', 'g', 'd.txt']);
    expect(newItems).toBe(0);
    // Any field that differs is a write, told once per batch, before it (the listener still sees the old row).
    const sizes: Array<number | undefined> = [];
    const stopSizes = items.onChange((change) => (change === undefined || change.kind === 'fields') && sizes.push(items.get('B')?.size));
    items.upsertMany([file('E', 'F', 'e.txt'), known[1]!, { ...file('B', 'F', 'b.txt'), size: 77 }, file('H', 'F', 'h.txt')]);
    expect(heard).toBe(1);
    // Where it was, under its name: told as that item's fields.
    expect(fields).toEqual(['B']);
    expect(news.slice(3)).toEqual(['e.txt', 'h.txt']);
    expect(sizes).toEqual([file('B', 'F', 'b.txt').size]);
    expect(items.get('B')?.size).toBe(77);
    let a: ItemRecord = known[1]!;
    for (const [what, change] of [
      ['an etag', { etag: 'e2' }],
      ['a hash', { quickXorHash: 'h2' }],
      ['a name', { name: 'A.txt' }],
      ['a time', { mtimeMs: 99 }],
    ] as const) {
      const before = heard;
      const fieldsBefore = fields.length;
      a = { ...a, ...change };
      items.upsertMany([a]);
      expect(heard, what).toBe(before + 1);
      // A new name is a change of the namespace; the rest, of the item's fields.
      expect(fields.slice(fieldsBefore), what).toEqual(what === 'a name' ? [] : ['A']);
    }
    // Names swapped within a batch (one parked, then both written): still one bump.
    const before = heard;
    items.upsertMany([{ ...file('B', 'F', 'A.txt'), size: 77 }, { ...a, name: 'b.txt' }]);
    expect(heard).toBe(before + 1);
    expect(items.getChild('F', 'a.txt')?.id).toBe('B');
    expect(items.generation).toBeGreaterThan(generation);
    stopSizes();
    stopListening();
  });

  it('tells what a change is when that is all: a new item\'s name and folder, one item\'s fields; a merge of a server copy, anything', () => {
    const { items } = temp.store;
    items.upsertMany([folder('F', 'ROOT', 'f'), file('B', 'F', 'b.txt')]);
    const told: Array<ItemChange | undefined> = [];
    const stop = items.onChange((change) => told.push(change));
    const l = items.insert({ ...file('L', 'F', 'new.txt'), remoteId: null });
    items.setSizeAndTime(l, 10, 1_000);
    items.update('B', { etag: 'e9' });
    items.setRemoteId('L', 'R-L');
    // A local write holds the item: it says the inode too.
    expect(told).toEqual([{ kind: 'new', parentId: 'F', name: 'new.txt' }, { kind: 'fields', id: 'L', inode: l.inode }, { kind: 'fields', id: 'B' }, { kind: 'fields', id: 'L' }]);
    // The server's copy, stored by delta before the answer that names it: its children move over.
    items.insert({ ...folder('M', 'ROOT', 'm'), remoteId: null });
    items.upsertMany([folder('R-M', 'ROOT', 'm-copy'), file('K', 'R-M', 'k.txt')]);
    told.length = 0;
    items.setRemoteId('M', 'R-M');
    expect(told).toEqual([undefined]);
    // A batch tells of its first 64 new items one by one, then of new items anywhere; of the
    // fields of its first 64 items one by one, then that anything may change.
    const many = Array.from({ length: 70 }, (_, i) => file(`X${i}`, 'F', `x${i}.txt`));
    told.length = 0;
    items.upsertMany(many);
    expect(told.filter((c) => c?.kind === 'new')).toHaveLength(64);
    expect(told.at(-1)).toEqual({ kind: 'new-items' });
    expect(told).toHaveLength(65);
    told.length = 0;
    items.upsertMany(many.map((r) => ({ ...r, etag: 'changed' })));
    expect(told.filter((c) => c?.kind === 'fields')).toHaveLength(64);
    expect(told.at(-1)).toBeUndefined();
    expect(told).toHaveLength(65);
    stop();
  });

  it('moves and renames, refusing taken names and moves into itself', () => {
    const { items } = temp.store;
    items.upsertMany([folder('A', 'ROOT', 'a'), folder('B', 'A', 'b'), file('F', 'A', 'f'), file('G', 'ROOT', 'g')]);
    expect(items.move('F', 'B', 'F2').parentId).toBe('B');
    expect(items.pathOf('F')).toBe('/a/b/F2');
    expect(items.move('F', 'B', 'f2').name).toBe('f2');
    expect(storeError(() => items.move('G', 'B', 'F2')).code).toBe('NAME_TAKEN');
    expect(storeError(() => items.move('A', 'B', 'a')).code).toBe('INVALID_MOVE');
    expect(storeError(() => items.move('A', 'A', 'a')).code).toBe('INVALID_MOVE');
    expect(storeError(() => items.move('ROOT', 'A', 'r')).code).toBe('INVALID_MOVE');
    expect(storeError(() => items.move('G', 'NOPE', 'g')).code).toBe('NOT_FOUND');
    expect(storeError(() => items.move('G', 'ROOT', 'bad/name')).code).toBe('INVALID_ARGUMENT');
  });

  it('renames over an existing target inside one transaction', () => {
    const { store } = temp;
    store.items.upsertMany([file('A', 'ROOT', 'draft'), file('B', 'ROOT', 'final')]);
    const replaced = store.transaction(() => {
      const gone = store.items.deleteSubtree('B');
      store.items.move('A', 'ROOT', 'final');
      return gone;
    });
    expect(replaced.map((d) => d.id)).toEqual(['B']);
    expect(store.items.getChild('ROOT', 'final')?.id).toBe('A');
  });

  it('deletes a subtree with its content state and reports what went', () => {
    const { items, content } = temp.store;
    items.upsertMany([folder('A', 'ROOT', 'a'), folder('B', 'A', 'b'), file('F', 'B', 'f'), file('G', 'ROOT', 'g')]);
    content.addRange('F', 0, 10, 10);
    const deleted = items.deleteSubtree('A');
    expect(deleted.map((d) => d.id).sort()).toEqual(['A', 'B', 'F']);
    expect(deleted.find((d) => d.id === 'F')).toMatchObject({ kind: 'file', contentStatus: 'complete' });
    expect(deleted.find((d) => d.id === 'A')).toMatchObject({ kind: 'folder', contentStatus: 'none' });
    expect(items.get('F')).toBeUndefined();
    expect(content.get('F')).toBeUndefined();
    expect(items.get('G')).toBeDefined();
    expect(items.deleteSubtree('missing')).toEqual([]);
  });

  it('validates records', () => {
    const { items } = temp.store;
    expect(storeError(() => items.insert(file('', 'ROOT', 'x'))).code).toBe('INVALID_ARGUMENT');
    expect(storeError(() => items.insert(file('A', 'ROOT', ''))).code).toBe('INVALID_ARGUMENT');
    expect(storeError(() => items.insert({ ...file('A', 'ROOT', 'x'), kind: 'symlink' as never })).code).toBe('INVALID_ARGUMENT');
    expect(storeError(() => items.insert({ ...file('A', 'ROOT', 'x'), size: 1.5 })).code).toBe('INVALID_ARGUMENT');
  });

  it('applies 100 000 items in one batch', () => {
    const { items } = temp.store;
    const records: ItemRecord[] = [];
    for (let f = 0; f < 100; f++) {
      records.push(folder(`D${f}`, 'ROOT', `folder ${f}`));
      for (let i = 0; i < 999; i++) records.push(file(`F${f}-${i}`, `D${f}`, `file ${i}.bin`, { size: i }));
    }
    expect(records.length).toBe(100_000);
    const started = performance.now();
    const result = items.upsertMany(records);
    const elapsed = performance.now() - started;
    console.log(`upsertMany of ${records.length} items: ${elapsed.toFixed(0)} ms`);
    expect(result.inserted).toBe(100_000);
    expect(items.count()).toBe(100_001);
    expect(items.countChildren('D42')).toBe(999);
    expect(items.resolvePath('/folder 42/FILE 998.bin')?.size).toBe(998);
  });
});
