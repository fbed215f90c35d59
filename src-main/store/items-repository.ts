import type Database from 'better-sqlite3';
import { ITEM_COLUMNS, itemFromRow, sameRecordFields, type ItemRow } from './item-row.ts';
import type { KeyLog } from './key-log.ts';
import { isLocalId } from './local-id.ts';
import { nameKey } from '../../src-shared/model/names.ts';
import { StoreError } from './store-error.ts';
import { ITEM_KINDS, type ContentStatus, type DeletedItem, type ItemKind, type ItemPatch, type ItemRecord, type StoredItem } from './types.ts';

export const ROOT_INODE = 1;

/** Deeper than any OneDrive path can be (400 characters); stops a corrupted parent cycle. */
const MAX_DEPTH = 1000;

/**
 * While a batch is applied, an item whose name another item of the batch takes over is parked
 * under this prefix until its own record arrives. No real name can contain a NUL.
 */
const PARKED_PREFIX = '\u0000parked:';

/**
 * What a change of the items repository is, when that is all it is (ItemsRepository.onChange):
 * `fields`, the fields of one item (its size and times, its tags; never its name or place; with
 * its inode when the changer holds it); `new`,
 * a new item with that name in that folder; `new-items`, new items anywhere (a batch).
 */
export type ItemChange = { kind: 'fields'; id: string; inode?: number } | { kind: 'new'; parentId: string; name: string } | { kind: 'new-items' };

/** A batch tells of this many items' fields, or new items, one by one; past that, of them all at once. */
const BATCH_ITEM_CHANGES_TOLD = 64;

/**
 * Decides a new name for an item that holds a name the server has given to another item, when
 * the holder is not part of the same batch (typically a local item not uploaded yet).
 */
export type NameClashResolver = (occupant: StoredItem, incoming: ItemRecord) => string;

export interface UpsertOptions {
  /** Without it a clash with an item outside the batch throws NAME_TAKEN and nothing is applied. */
  onNameClash?: NameClashResolver;
}

export interface UpsertResult {
  inserted: number;
  updated: number;
  /** The key each record was stored under (records from the server carry its id; see keyOf). */
  keys: Map<string, string>;
  /** Items outside the batch renamed by onNameClash. */
  renamed: Array<{ id: string; from: string; to: string }>;
}

interface UpdateParams {
  id: string;
  has_size: number;
  size: number | null;
  has_ctime: number;
  ctime_ms: number | null;
  has_mtime: number;
  mtime_ms: number | null;
  has_etag: number;
  etag: string | null;
  has_ctag: number;
  ctag: string | null;
  has_hash: number;
  quickxor_hash: string | null;
  has_kind: number;
  kind: string | null;
  has_remote_drive: number;
  remote_drive_id: string | null;
  has_remote_item: number;
  remote_item_id: string | null;
}

type ItemParams = Omit<ItemRow, 'inode'> & { inode: number | null; keep_drive: number };

/** The drive's namespace: items, their parents, names and inodes. */
export class ItemsRepository {
  readonly #byId: Database.Statement<[string], ItemRow>;
  readonly #byInode: Database.Statement<[number], ItemRow>;
  readonly #byRemoteId: Database.Statement<[string], ItemRow>;
  readonly #keyOfRemote: Database.Statement<[string], string>;
  readonly #setRemoteId: Database.Statement<[string, string]>;
  readonly #localFilesWithServerId: Database.Statement<[]>;
  readonly #moveChildren: Database.Statement<[string, string]>;
  readonly #deleteOne: Database.Statement<[string]>;
  readonly #childKeyClash: Database.Statement<[string, string], string>;
  readonly #child: Database.Statement<[string, string], ItemRow>;
  readonly #children: Database.Statement<[string, string, number], ItemRow>;
  readonly #countChildren: Database.Statement<[string], number>;
  readonly #chain: Database.Statement<[string, number], { id: string; parent_id: string | null; name: string }>;
  readonly #insert: Database.Statement<[ItemParams]>;
  readonly #replace: Database.Statement<[ItemParams]>;
  readonly #update: Database.Statement<[UpdateParams]>;
  readonly #setSizeAndTime: Database.Statement<[number, number, string]>;
  readonly #rename: Database.Statement<[{ id: string; parent_id: string; name: string; name_key: string }]>;
  readonly #park: Database.Statement<[string, string]>;
  readonly #subtree: Database.Statement<[string, number], { id: string; inode: number; kind: ItemKind; status: ContentStatus }>;
  readonly #deleteSubtree: Database.Statement<[string, number]>;
  readonly #count: Database.Statement<[], number>;
  readonly #maxInode: Database.Statement<[], number | null>;
  readonly #remoteIdsAbove: Database.Statement<[number], string>;
  readonly #shortcuts: Database.Statement<[], ItemRow>;
  readonly #anyShortcut: Database.Statement<[], number>;
  readonly #upsertMany: (records: readonly ItemRecord[], options: UpsertOptions) => UpsertResult;
  readonly #move: (id: string, newParentId: string, newName: string) => StoredItem;
  readonly #deleteTree: (id: string) => DeletedItem[];
  #generation = 0;
  readonly #changeListeners = new Set<(change?: ItemChange) => void>();
  /**
   * The running upsertMany: whether it has bumped generation, and told the listeners of a write to
   * an item that exists, or of new items (#batchWrites, #batchInserts).
   */
  #batch = { bumped: false, told: false, toldNew: false, toldItems: 0 };
  /** Items this device's requests changed while a delta batch was on its way (changedHereSince). */
  readonly #changedHere = new Map<string, number>();
  /** Items a request of this device is deleting now (deletingHere), with how many such requests. */
  readonly #deletingHere = new Map<string, number>();
  /** Who waits for those deletes to end (deleteSettled), by id. */
  readonly #deleteWaiters = new Map<string, Array<() => void>>();
  #changeClock = 0;
  #openWindows = 0;
  /** The bumps of #generation that changed no folder's row or path (see foldersGeneration). */
  #folderNeutralChanges = 0;

  readonly #adopt: (id: string, remoteId: string, replacing: string | undefined) => number | undefined;
  /** The item the server knows as the id, and the item whose key is the id (keyOfServerId). */
  readonly #byServerIdOrKey: Database.Statement<[{ id: string }], { id: string; remote_id: string | null }>;

  /** Where the server ids of files made here are noted outside the database as well (key-log.ts). */
  readonly #keyLog: KeyLog | undefined;

  constructor(db: Database.Database, keyLog?: KeyLog) {
    this.#keyLog = keyLog;
    this.#byRemoteId = db.prepare(`SELECT ${ITEM_COLUMNS} FROM items WHERE remote_id = ?`);
    this.#keyOfRemote = db.prepare<[string], string>('SELECT id FROM items WHERE remote_id = ?').pluck();
    this.#byServerIdOrKey = db.prepare('SELECT id, remote_id FROM items WHERE remote_id = @id OR id = @id');
    this.#setRemoteId = db.prepare('UPDATE items SET remote_id = ? WHERE id = ?');
    this.#localFilesWithServerId = db.prepare<[]>(`SELECT id, remote_id FROM items WHERE kind = 'file' AND remote_id IS NOT NULL AND id LIKE 'local:%'`).raw();
    this.#moveChildren = db.prepare('UPDATE items SET parent_id = ? WHERE parent_id = ?');
    this.#deleteOne = db.prepare('DELETE FROM items WHERE id = ?');
    this.#childKeyClash = db
      .prepare<[string, string], string>(
        `SELECT theirs.name FROM items AS theirs JOIN items AS ours
           ON ours.parent_id = ? AND theirs.parent_id = ? AND ours.name_key = theirs.name_key LIMIT 1`,
      )
      .pluck();
    this.#adopt = db.transaction((id: string, remoteId: string, replacing: string | undefined) => this.#adoptInTransaction(id, remoteId, replacing));
    this.#byId = db.prepare(`SELECT ${ITEM_COLUMNS} FROM items WHERE id = ?`);
    this.#byInode = db.prepare(`SELECT ${ITEM_COLUMNS} FROM items WHERE inode = ?`);
    this.#child = db.prepare(`SELECT ${ITEM_COLUMNS} FROM items WHERE parent_id = ? AND name_key = ?`);
    this.#children = db.prepare(
      `SELECT ${ITEM_COLUMNS} FROM items WHERE parent_id = ? AND name_key > ? ORDER BY name_key LIMIT ?`,
    );
    this.#countChildren = db.prepare<[string], number>('SELECT count(*) FROM items WHERE parent_id = ?').pluck();
    this.#chain = db.prepare(
      `WITH RECURSIVE chain (id, parent_id, name, depth) AS (
         SELECT id, parent_id, name, 0 FROM items WHERE id = ?
         UNION ALL
         SELECT i.id, i.parent_id, i.name, c.depth + 1 FROM items AS i JOIN chain AS c ON i.id = c.parent_id
         WHERE c.depth < ?
       )
       SELECT id, parent_id, name FROM chain ORDER BY depth DESC`,
    );
    const values = `(@inode, @id, @remote_id, @parent_id, @name, @name_key, @kind, @size, @ctime_ms, @mtime_ms, @etag, @ctag,
                     @quickxor_hash, @remote_drive_id, @remote_item_id, @drive_id)`;
    this.#insert = db.prepare(`INSERT INTO items (${ITEM_COLUMNS}) VALUES ${values}`);
    this.#replace = db.prepare(
      `UPDATE items SET parent_id = @parent_id, name = @name, name_key = @name_key, kind = @kind, size = @size,
         ctime_ms = @ctime_ms, mtime_ms = @mtime_ms, etag = @etag, ctag = @ctag, quickxor_hash = @quickxor_hash,
         remote_drive_id = @remote_drive_id, remote_item_id = @remote_item_id,
         remote_id = coalesce(@remote_id, remote_id),
         drive_id = CASE WHEN @keep_drive THEN drive_id ELSE @drive_id END
       WHERE id = @id`,
    );
    this.#update = db.prepare(
      `UPDATE items SET
         size = CASE WHEN @has_size THEN @size ELSE size END,
         ctime_ms = CASE WHEN @has_ctime THEN @ctime_ms ELSE ctime_ms END,
         mtime_ms = CASE WHEN @has_mtime THEN @mtime_ms ELSE mtime_ms END,
         etag = CASE WHEN @has_etag THEN @etag ELSE etag END,
         ctag = CASE WHEN @has_ctag THEN @ctag ELSE ctag END,
         quickxor_hash = CASE WHEN @has_hash THEN @quickxor_hash ELSE quickxor_hash END,
         kind = CASE WHEN @has_kind THEN @kind ELSE kind END,
         remote_drive_id = CASE WHEN @has_remote_drive THEN @remote_drive_id ELSE remote_drive_id END,
         remote_item_id = CASE WHEN @has_remote_item THEN @remote_item_id ELSE remote_item_id END
       WHERE id = @id`,
    );
    this.#setSizeAndTime = db.prepare('UPDATE items SET size = ?, mtime_ms = ? WHERE id = ?');
    this.#rename = db.prepare(
      'UPDATE items SET parent_id = @parent_id, name = @name, name_key = @name_key WHERE id = @id',
    );
    this.#park = db.prepare('UPDATE items SET name_key = ? WHERE id = ?');
    const subtree = `WITH RECURSIVE sub (id, depth) AS (
         SELECT id, 0 FROM items WHERE id = ?
         UNION ALL
         SELECT i.id, s.depth + 1 FROM items AS i JOIN sub AS s ON i.parent_id = s.id WHERE s.depth < ?
       )`;
    this.#subtree = db.prepare(
      `${subtree}
       SELECT i.id, i.inode, i.kind, coalesce(c.status, 'none') AS status
       FROM sub CROSS JOIN items AS i ON i.id = sub.id LEFT JOIN content AS c ON c.item_id = i.id`,
    );
    this.#deleteSubtree = db.prepare(`${subtree} DELETE FROM items WHERE id IN (SELECT id FROM sub)`);
    this.#count = db.prepare<[], number>('SELECT count(*) FROM items').pluck();
    this.#maxInode = db.prepare<[], number | null>('SELECT max(inode) FROM items').pluck();
    this.#remoteIdsAbove = db.prepare<[number], string>('SELECT remote_id FROM items WHERE inode > ? AND remote_id IS NOT NULL').pluck();
    this.#shortcuts = db.prepare(`SELECT ${ITEM_COLUMNS} FROM items WHERE kind = 'remote' ORDER BY id`);
    this.#anyShortcut = db.prepare<[], number>("SELECT 1 FROM items WHERE kind = 'remote' LIMIT 1").pluck();
    this.#upsertMany = db.transaction((records: readonly ItemRecord[], options: UpsertOptions) =>
      this.#applyBatch(records, options),
    );
    this.#move = db.transaction((id: string, newParentId: string, newName: string) =>
      this.#moveInTransaction(id, newParentId, newName),
    );
    this.#deleteTree = db.transaction((id: string) => {
      const deleted = this.#subtree.all(id, MAX_DEPTH).map((row) => ({
        id: row.id,
        inode: row.inode,
        kind: row.kind,
        contentStatus: row.status,
      }));
      this.#deleteSubtree.run(id, MAX_DEPTH);
      return deleted;
    });
  }

  get(id: string): StoredItem | undefined {
    const row = this.#byId.get(id);
    return row && itemFromRow(row);
  }

  /** The item the server knows by `remoteId`. */
  getByRemoteId(remoteId: string): StoredItem | undefined {
    const row = this.#byRemoteId.get(remoteId);
    return row && itemFromRow(row);
  }

  /**
   * The key of the item an id names: a server id maps to the item holding it (whose key may be a
   * local id); any other id is returned as it is. Server ids and local ids never collide.
   */
  keyOf(id: string): string {
    return this.#keyOfRemote.get(id) ?? id;
  }

  /**
   * keyOf for an id the server sent (a delta record's or tombstone's; not a key): the server id of
   * a file uploaded anew names nothing here now, though the file's key is still that id. A
   * tombstone of it must not delete the file; a record of it (restored from the recycle bin) is
   * another item.
   */
  keyOfServerId(id: string): string {
    const rows = this.#byServerIdOrKey.all({ id });
    const known = rows.find((row) => row.remote_id === id);
    if (known) return known.id;
    // Only a key, of an item the server knows by another id now.
    return rows.length > 0 ? `replaced:${id}` : id;
  }

  /**
   * Fills in the server's id of an item made here, once (or, with `replacing`, after the server
   * item it was is gone and it was uploaded anew). If another item already holds that
   * server id (delta stored the server's copy before the answer that names it came back), that
   * copy is merged into this item: its children move here and it is dropped. Returns the inode of
   * the dropped copy, if there was one. NAME_TAKEN when both hold a child of the same name;
   * REMOTE_ID_MISMATCH when this item already has another server id.
   */
  setRemoteId(id: string, remoteId: string, options: { replacing?: string } = {}): number | undefined {
    // A merge moves the copy's children here; otherwise only the item's own row changes.
    const copy = this.#byRemoteId.get(remoteId);
    this.#bump(copy !== undefined && copy.id !== id ? undefined : { kind: 'fields', id });
    return this.#adopt(id, remoteId, options.replacing);
  }

  #adoptInTransaction(id: string, remoteId: string, replacing: string | undefined): number | undefined {
    const item = this.#mustGet(id);
    if (item.remoteId === remoteId) return undefined;
    // `replacing`: the server item it was is gone, and the local one was created there anew.
    if (item.remoteId !== null && item.remoteId !== replacing) {
      throw new StoreError('REMOTE_ID_MISMATCH', `item ${id} is already known to the server as ${item.remoteId}, not ${remoteId}`);
    }
    const copy = this.#byRemoteId.get(remoteId);
    if (copy) {
      const clash = this.#childKeyClash.get(id, copy.id);
      if (clash !== undefined) throw new StoreError('NAME_TAKEN', `cannot merge item ${copy.id} into ${id}: both have a child named "${clash}"`);
      this.#moveChildren.run(id, copy.id);
      this.#deleteOne.run(copy.id);
    }
    this.#setRemoteId.run(remoteId, id);
    if (item.kind === 'file' && isLocalId(id)) this.#keyLog?.note(id, remoteId);
    return copy?.inode;
  }

  /** Every file made here that the server knows, as [key, server id] (key-log.ts compaction). */
  *serverIdsOfLocalFiles(): Generator<[key: string, remoteId: string]> {
    for (const row of this.#localFilesWithServerId.iterate()) yield row as [string, string];
  }

  getByInode(inode: number): StoredItem | undefined {
    const row = this.#byInode.get(inode);
    return row && itemFromRow(row);
  }

  getRoot(): StoredItem | undefined {
    return this.getByInode(ROOT_INODE);
  }

  /** The child of `parentId` called `name`, compared as OneDrive does (case-insensitive, NFC). */
  getChild(parentId: string, name: string): StoredItem | undefined {
    const row = this.#child.get(parentId, nameKey(name));
    return row && itemFromRow(row);
  }

  /**
   * One page of a folder's children in name_key order. Pass the last item's nameKey as
   * `afterNameKey` to get the next page; a page shorter than `limit` is the last.
   */
  listChildren(parentId: string, afterNameKey: string | undefined, limit: number): StoredItem[] {
    if (!Number.isInteger(limit) || limit < 1) throw new StoreError('INVALID_ARGUMENT', `bad page size ${limit}`);
    return this.#children.all(parentId, afterNameKey ?? '', limit).map(itemFromRow);
  }

  /** Every shortcut to a folder of another drive (`remote` items: shared folders added to the drive). */
  listShortcuts(): StoredItem[] {
    return this.#shortcuts.all().map(itemFromRow);
  }

  /** Whether the drive holds any shortcut (listShortcuts without reading them). */
  hasShortcuts(): boolean {
    return this.#anyShortcut.get() === 1;
  }

  countChildren(parentId: string): number {
    return this.#countChildren.get(parentId) ?? 0;
  }

  count(): number {
    return this.#count.get() ?? 0;
  }

  /** The highest inode in use (0 for an empty store): every item inserted later gets a higher one. */
  maxInode(): number {
    return this.#maxInode.get() ?? 0;
  }

  /** Server ids of the items inserted after the item with inode `inode` (those the server knows). */
  remoteIdsInsertedAfter(inode: number): string[] {
    return this.#remoteIdsAbove.all(inode);
  }

  /**
   * The item's path from the root, `/` for the root itself, `/a/b` below it; undefined when the
   * item is unknown or not (yet) connected to the root.
   */
  pathOf(id: string): string | undefined {
    const chain = this.#chain.all(id, MAX_DEPTH);
    const top = chain[0];
    if (top === undefined || top.parent_id !== null) return undefined;
    return '/' + chain.slice(1).map((link) => link.name).join('/');
  }

  /** The item at `path` (`/`-separated, from the root), matching names case-insensitively. */
  resolvePath(path: string): StoredItem | undefined {
    let current = this.getRoot();
    for (const component of path.split('/')) {
      if (component === '') continue;
      if (current === undefined) return undefined;
      current = this.getChild(current.id, component);
    }
    return current;
  }

  /**
   * Bumped by every change to the namespace or an item's fields (before the change, so a rolled
   * back one counts too): callers that cache items compare it to know their copies are current.
   */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Calls `listener` before every change to what an item has or is called, and before new items
   * appear (before the change, synchronously, at every bump of generation), for copies of item
   * fields held outside JavaScript (the mount's kept attributes). It is told what changes when
   * that is all (ItemChange); without it, anything may. Returns the unsubscribe.
   */
  onChange(listener: (change?: ItemChange) => void): () => void {
    this.#changeListeners.add(listener);
    return () => this.#changeListeners.delete(listener);
  }

  #bump(change?: ItemChange): void {
    this.#generation++;
    this.#tell(change);
  }

  #tell(change?: ItemChange): void {
    for (const listener of this.#changeListeners) listener(change);
  }

  /**
   * Like generation, except that a new item (insert) and a file's new size and time from a local
   * write (setSizeAndTime) leave it as it is: no folder's row changed, and every path that named a
   * folder still names it. For caches of folders by path.
   */
  get foldersGeneration(): number {
    return this.#generation - this.#folderNeutralChanges;
  }

  /** Adds a new item (a local create); NAME_TAKEN when the name is in use in that folder. */
  insert(record: ItemRecord): StoredItem {
    if (record.parentId === null) throw new StoreError('INVALID_ARGUMENT', 'insert() does not create roots; use upsert()');
    this.#folderNeutralChanges++;
    this.#bump({ kind: 'new', parentId: record.parentId, name: record.name });
    const params = toParams(record);
    const occupant = this.#child.get(record.parentId, params.name_key);
    if (occupant) throw nameTaken(record.name, record.parentId, occupant.id);
    this.#insert.run(params);
    return this.#mustGet(record.id);
  }

  upsert(record: ItemRecord, options: UpsertOptions = {}): StoredItem {
    const result = this.upsertMany([record], options);
    return this.#mustGet(result.keys.get(record.id) ?? record.id);
  }

  /**
   * Applies a batch of server records in one transaction (a whole delta round). Parents may come
   * after their children; a record seen twice counts once (the last one). Names moving between
   * items of the batch (swaps, renames in a chain) are fine. A record without parent is the root;
   * a root with a new id takes over the old root (inode 1): the root keeps its key and inode.
   */
  upsertMany(records: readonly ItemRecord[], options: UpsertOptions = {}): UpsertResult {
    // Kept per batch: one run from inside another (a listener, a name-clash resolver) has its own.
    const outer = this.#batch;
    this.#batch = { bumped: false, told: false, toldNew: false, toldItems: 0 };
    try {
      return this.#upsertMany(records, options);
    } finally {
      this.#batch = outer;
    }
  }

  /**
   * Before each write of a batch: the bump upsertMany owes, once, and the listeners told, once,
   * before the first write to an item that exists (of each of the first few whose fields alone
   * change, `fieldsOf`: that). A batch that writes nothing (a first enumeration meeting the items a
   * listing stored, a delta round repeating what is known) leaves generation as it is.
   */
  #batchWrites(fieldsOf?: string): void {
    this.#batchBump();
    if (this.#batch.told) return;
    if (fieldsOf !== undefined && this.#batch.toldItems < BATCH_ITEM_CHANGES_TOLD) {
      this.#batch.toldItems++;
      this.#tell({ kind: 'fields', id: fieldsOf });
    } else {
      this.#batch.told = true;
      this.#tell();
    }
  }

  /**
   * Before a new item of a batch: the bump, and the listeners told of it (of each of the first
   * few, else once of new items anywhere). New items leave the mount's kept attributes as they are
   * (no path they hold names a new item: a name an item left was dropped from them when it left),
   * and its complete folders, once it knows their names.
   */
  #batchInserts(parentId: string | null, name: string): void {
    this.#batchBump();
    if (this.#batch.told || this.#batch.toldNew) return;
    if (parentId !== null && this.#batch.toldItems < BATCH_ITEM_CHANGES_TOLD) {
      this.#batch.toldItems++;
      this.#tell({ kind: 'new', parentId, name });
    } else {
      this.#batch.toldNew = true;
      this.#tell({ kind: 'new-items' });
    }
  }

  #batchBump(): void {
    if (!this.#batch.bumped) {
      this.#batch.bumped = true;
      this.#generation++;
    }
  }

  /** Changes the given fields only. */
  update(id: string, patch: ItemPatch): StoredItem {
    this.#bump({ kind: 'fields', id });
    if (patch.size !== undefined) checkSize(patch.size);
    if (patch.kind !== undefined) checkKind(patch.kind);
    const has = (value: unknown): number => (value === undefined ? 0 : 1);
    const result = this.#update.run({
      id,
      has_size: has(patch.size),
      size: patch.size ?? null,
      has_ctime: has(patch.ctimeMs),
      ctime_ms: patch.ctimeMs ?? null,
      has_mtime: has(patch.mtimeMs),
      mtime_ms: patch.mtimeMs ?? null,
      has_etag: has(patch.etag),
      etag: patch.etag ?? null,
      has_ctag: has(patch.ctag),
      ctag: patch.ctag ?? null,
      has_hash: has(patch.quickXorHash),
      quickxor_hash: patch.quickXorHash ?? null,
      has_kind: has(patch.kind),
      kind: patch.kind ?? null,
      has_remote_drive: has(patch.remoteDriveId),
      remote_drive_id: patch.remoteDriveId ?? null,
      has_remote_item: has(patch.remoteItemId),
      remote_item_id: patch.remoteItemId ?? null,
    });
    if (result.changes === 0) throw notFound(id);
    return this.#mustGet(id);
  }

  /**
   * A local write's new size and time: update() without reading the row back, for the FUSE write
   * path, which commits one per call (and holds the item: its inode goes to the listeners).
   */
  setSizeAndTime(item: Pick<StoredItem, 'id' | 'inode'>, size: number, mtimeMs: number): void {
    this.#folderNeutralChanges++;
    this.#bump({ kind: 'fields', id: item.id, inode: item.inode });
    checkSize(size);
    if (this.#setSizeAndTime.run(size, mtimeMs, item.id).changes === 0) throw notFound(item.id);
  }

  /**
   * Moves and/or renames an item. NAME_TAKEN when another item holds the target name (renaming
   * over an existing target is deleteSubtree then move, in one Store.transaction); INVALID_MOVE
   * when a folder would go below itself.
   */
  move(id: string, newParentId: string, newName: string): StoredItem {
    this.#bump();
    return this.#move(id, newParentId, newName);
  }

  /** Deletes the item and everything below it; returns what was deleted (empty if unknown). */
  deleteSubtree(id: string): DeletedItem[] {
    this.#bump();
    const deleted = this.#deleteTree(id);
    this.deletionListener?.(deleted);
    return deleted;
  }

  // ---- changes made here while a delta batch is on its way (docs/concurrency.md §2) ----------

  /**
   * A delta batch is about to be fetched: from now until closeChangeWindow, the items that
   * answers to this device's own namespace requests change (noteChangedHere) are noted, and the
   * batch leaves them to a fresh read (changedHereSince): its records may predate those changes.
   * Returns the batch's mark.
   */
  openChangeWindow(): number {
    this.#openWindows++;
    return this.#changeClock;
  }

  closeChangeWindow(): void {
    if (this.#openWindows > 0 && --this.#openWindows === 0) this.#changedHere.clear();
  }

  /**
   * The server's answer to a namespace request of this device (a rename, a delete, a time) was
   * applied to the item: by its key and its server id.
   */
  noteChangedHere(...ids: Array<string | null | undefined>): void {
    if (this.#openWindows === 0) return;
    const at = ++this.#changeClock;
    for (const id of ids) if (id) this.#changedHere.set(id, at);
  }

  /**
   * A delete request of this device for the item (by its key and server id) is on its way:
   * until the returned `done` (which notes the change, as noteChangedHere), every batch leaves the
   * item's record to a fresh read, whenever it was asked for, and its removal to the request
   * (isDeletingHere). A batch the server computes after the change can arrive before the request's
   * answer, or before the change is applied here.
   */
  deletingHere(...ids: Array<string | null | undefined>): () => void {
    const keys = ids.filter((id): id is string => !!id);
    for (const id of keys) this.#deletingHere.set(id, (this.#deletingHere.get(id) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const settled: Array<() => void> = [];
      for (const id of keys) {
        const left = this.#deletingHere.get(id)! - 1;
        if (left > 0) {
          this.#deletingHere.set(id, left);
          continue;
        }
        this.#deletingHere.delete(id);
        settled.push(...(this.#deleteWaiters.get(id) ?? []));
        this.#deleteWaiters.delete(id);
      }
      this.noteChangedHere(...keys);
      for (const wake of settled) wake();
    };
  }

  /** Resolves once no request of this device is deleting the item (by key or server id) any more. */
  deleteSettled(id: string): Promise<void> {
    if (!this.#deletingHere.has(id)) return Promise.resolve();
    return new Promise((resolve) => {
      const waiters = this.#deleteWaiters.get(id);
      if (waiters) waiters.push(resolve);
      else this.#deleteWaiters.set(id, [resolve]);
    });
  }

  /** A request of this device is deleting the item (by key or server id) now (deletingHere). */
  isDeletingHere(id: string): boolean {
    return this.#deletingHere.has(id);
  }

  /** The item (by key or server id) was changed here after the batch with this mark began, or is being deleted (deletingHere). */
  changedHereSince(id: string, mark: number): boolean {
    return this.#deletingHere.has(id) || (this.#changedHere.get(id) ?? -1) > mark;
  }

  /**
   * Told about every deleteSubtree (inside the caller's transaction, if any): while a first
   * enumeration runs, an item deleted here must not come back from a page older than the delete.
   */
  deletionListener: ((deleted: readonly DeletedItem[]) => void) | undefined;

  #moveInTransaction(id: string, newParentId: string, newName: string): StoredItem {
    checkName(newName);
    const item = this.#byId.get(id);
    if (!item) throw notFound(id);
    if (item.parent_id === null) throw new StoreError('INVALID_MOVE', 'the drive root cannot be moved');
    if (!this.#byId.get(newParentId)) throw notFound(newParentId);
    const key = nameKey(newName);
    const occupant = this.#child.get(newParentId, key);
    if (occupant && occupant.id !== id) throw nameTaken(newName, newParentId, occupant.id);
    if (newParentId !== item.parent_id && this.#chain.all(newParentId, MAX_DEPTH).some((link) => link.id === id)) {
      throw new StoreError('INVALID_MOVE', `cannot move ${item.name} (${id}) into itself or below itself`);
    }
    this.#rename.run({ id, parent_id: newParentId, name: newName, name_key: key });
    return this.#mustGet(id);
  }

  #applyBatch(records: readonly ItemRecord[], options: UpsertOptions): UpsertResult {
    const result: UpsertResult = { inserted: 0, updated: 0, renamed: [], keys: new Map() };
    const latest = new Map<string, ItemRecord>();
    for (const incoming of records) {
      const record = this.#toKeys(incoming);
      result.keys.set(incoming.id, record.id);
      latest.set(record.id, record);
    }
    const waiting = new Set(latest.keys());
    for (const record of latest.values()) {
      const params = toParams(record);
      waiting.delete(record.id);
      if (record.parentId === null) {
        // Already mapped to the root's key by #toKeys.
      } else {
        this.#makeRoomFor({ ...record, parentId: record.parentId }, params.name_key, latest, waiting, options, result);
      }
      const stored = this.#byId.get(record.id);
      if (stored) {
        if (!sameRow(stored, record, params)) {
          // Where it is, under the same name: its fields alone change (a folder's tags and times
          // after a change inside it, a file's new version).
          this.#batchWrites(stored.parent_id === params.parent_id && stored.name === params.name ? record.id : undefined);
          this.#replace.run(params);
        }
        result.updated++;
      } else {
        this.#batchInserts(record.parentId, record.name);
        this.#insert.run(params);
        result.inserted++;
      }
    }
    return result;
  }

  /**
   * The record with its id and parent id as keys. The root keeps its key (and inode 1) even when
   * the server's root id changes; only its remote id follows.
   */
  #toKeys(record: ItemRecord): ItemRecord {
    const remoteId = record.remoteId !== undefined ? record.remoteId : isLocalId(record.id) ? null : record.id;
    if (record.parentId === null) {
      const root = this.#byInode.get(ROOT_INODE);
      if (root) {
        if (remoteId !== null && root.remote_id !== remoteId) {
          const holder = this.#keyOfRemote.get(remoteId);
          this.#batchWrites();
          if (holder !== undefined && holder !== root.id) this.#deleteOne.run(holder);
          this.#setRemoteId.run(remoteId, root.id);
        }
        return { ...record, id: root.id, remoteId };
      }
      return { ...record, remoteId };
    }
    return { ...record, id: this.keyOf(record.id), parentId: this.keyOf(record.parentId), remoteId };
  }

  #makeRoomFor(
    record: ItemRecord & { parentId: string },
    key: string,
    batch: ReadonlyMap<string, ItemRecord>,
    waiting: ReadonlySet<string>,
    options: UpsertOptions,
    result: UpsertResult,
  ): void {
    const occupant = this.#child.get(record.parentId, key);
    if (!occupant || occupant.id === record.id) return;
    if (waiting.has(occupant.id)) {
      this.#batchWrites();
      this.#park.run(PARKED_PREFIX + occupant.id, occupant.id);
      return;
    }
    // An occupant already applied from this batch means the batch contradicts itself.
    if (!options.onNameClash || batch.has(occupant.id)) throw nameTaken(record.name, record.parentId, occupant.id);
    const newName = options.onNameClash(itemFromRow(occupant), record);
    checkName(newName);
    const newKey = nameKey(newName);
    const holder = this.#child.get(record.parentId, newKey);
    if (holder) throw nameTaken(newName, record.parentId, holder.id);
    this.#batchWrites();
    this.#rename.run({ id: occupant.id, parent_id: record.parentId, name: newName, name_key: newKey });
    result.renamed.push({ id: occupant.id, from: occupant.name, to: newName });
  }

  #mustGet(id: string): StoredItem {
    const row = this.#byId.get(id);
    if (!row) throw notFound(id);
    return itemFromRow(row);
  }
}

/** Whether #replace would leave the stored row as it is. */
function sameRow(row: ItemRow, record: ItemRecord, p: ItemParams): boolean {
  return (
    sameRecordFields(itemFromRow(row), record) &&
    (p.remote_id === null || row.remote_id === p.remote_id) &&
    (p.keep_drive === 1 || row.drive_id === p.drive_id)
  );
}

function toParams(record: ItemRecord): ItemParams {
  if (record.id === '') throw new StoreError('INVALID_ARGUMENT', 'item id must not be empty');
  checkName(record.name);
  checkKind(record.kind);
  checkSize(record.size);
  if (!Number.isSafeInteger(record.ctimeMs) || !Number.isSafeInteger(record.mtimeMs)) {
    throw new StoreError('INVALID_ARGUMENT', `item ${record.id} has non-integer times`);
  }
  return {
    inode: record.parentId === null ? ROOT_INODE : null,
    id: record.id,
    remote_id: record.remoteId !== undefined ? record.remoteId : isLocalId(record.id) ? null : record.id,
    parent_id: record.parentId,
    name: record.name,
    name_key: nameKey(record.name),
    kind: record.kind,
    size: record.size,
    ctime_ms: record.ctimeMs,
    mtime_ms: record.mtimeMs,
    etag: record.etag ?? null,
    ctag: record.ctag ?? null,
    quickxor_hash: record.quickXorHash ?? null,
    remote_drive_id: record.remoteDriveId ?? null,
    remote_item_id: record.remoteItemId ?? null,
    drive_id: record.driveId ?? null,
    keep_drive: record.driveId === undefined ? 1 : 0,
  };
}

function checkName(name: string): void {
  if (name === '' || name.includes('\u0000') || name.includes('/')) {
    throw new StoreError('INVALID_ARGUMENT', `invalid item name ${JSON.stringify(name)}`);
  }
}

function checkKind(kind: string): void {
  if (!(ITEM_KINDS as readonly string[]).includes(kind)) {
    throw new StoreError('INVALID_ARGUMENT', `unknown item kind ${JSON.stringify(kind)}`);
  }
}

function checkSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new StoreError('INVALID_ARGUMENT', `invalid size ${size}`);
}

function notFound(id: string): StoreError {
  return new StoreError('NOT_FOUND', `no item with id ${id}`);
}

function nameTaken(name: string, parentId: string, holderId: string): StoreError {
  return new StoreError('NAME_TAKEN', `the name "${name}" is already taken in folder ${parentId} by item ${holderId}`);
}
