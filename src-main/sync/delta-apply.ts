/**
 * Applies a planned delta batch to the store in bounded chunks, so a 100 000-item enumeration never
 * holds the event loop (shared with FUSE and SQLite) for long:
 *
 * 1. Removals of files, packages and shortcuts (tombstones, orphans, and in a full enumeration the
 *    items it did not list): they free names the upserts may need.
 * 2. Upserts, parents first. A name held by an item of a later chunk is parked under a temporary
 *    hidden name, which that item's own record replaces when its chunk applies.
 * 3. Removals of folders, last, once everything moved out of them has moved: what is still below
 *    a removed folder is gone on the server too, except local edits.
 *
 * Local edits are never lost: an item with dirty content, or a local item not uploaded yet (and
 * the folders holding them), is kept and a conflict is recorded for the write path to resolve.
 * Content invalidation runs before the chunk that records the new version commits: if the process
 * dies in between, the next start re-applies the batch (its deltaLink was not saved), sees the
 * old version again and invalidates again. It is called for every file whose content changed, and
 * for removed files that have local state (a content row).
 */
import { performance } from 'node:perf_hooks';
import { raceWithSignal } from '../base/abort.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';
import type { Logger } from '../base/logger.ts';
import { isNotFound, type DriveItem, type GraphClient } from '../graph/index.ts';
import { landedCopyKey, nameKey, sameRecordFields, serverItemLeavingByReplay, type ConflictReason, type ItemRecord, type ItemsRepository, type Store, type StoredItem } from '../store/index.ts';
import { sameContent } from '../transfers/content-version.ts';
import type { DeltaPlan } from './delta-plan.ts';
import { DELTA_SELECT, type GoneReason } from './drive-item-mapping.ts';
import type { LoopYielder } from './loop-yielder.ts';
import { walkSubtree } from './store-walk.ts';

/** Drops cached content of an item whose server version changed or which is going away. */
export interface ContentInvalidator {
  /**
   * Called while the item is still in the store with its old version. May refuse with an error
   * whose `code` is `CONTENT_DIRTY` when the content became dirty meanwhile; the item is then
   * treated as locally modified.
   */
  invalidate(itemId: string): Promise<void> | void;
}

export interface ApplyCounts {
  /** Items inserted. */
  added: number;
  /** Existing items whose record changed (place, name, metadata or content). */
  updated: number;
  /** Items deleted from the store, descendants included. */
  removed: number;
  /** Successful invalidator calls. */
  invalidated: number;
  /** Conflicts recorded. */
  conflicts: number;
  /** Items the server removed that were kept because they hold local edits. */
  kept: number;
  /** Landed uploads of files deleted here, queued (in the journal) for deletion on the server. */
  deletedHere: number;
}

/** What one committed chunk changed, for the filesystem's kernel cache invalidation. */
export interface ChangeSet {
  /** Items inserted or changed. */
  upserted: string[];
  /** Items deleted, with the inode they had (the store no longer knows them). */
  removed: Array<{ id: string; inode: number }>;
  /** Folders whose set of children or names changed. */
  folders: string[];
}

export interface BatchApplierOptions {
  store: Store;
  invalidator: ContentInvalidator;
  logger: Logger;
  /** Records per transaction. */
  chunkSize: number;
  /** Page size when walking the store. */
  pageSize: number;
  yielder: LoopYielder;
  onChanged(change: ChangeSet): void;
  /** An invalidation failed for another reason than dirty content; the batch goes on. */
  onInvalidateError(error: unknown, itemId: string): void;
  /**
   * Records that read the server now (not a delta page) are applied even when they carry an older
   * version of ours: there is no page that could predate our upload (see `staleRecords`).
   */
  current?: boolean;
  /**
   * The item (by key or server id) was changed by this device's own request after the batch was
   * asked for (a rename's answer, a delete): its record may predate that change, so it is left to
   * a fresh read (`staleRecords`) instead of undoing it (fuzz 131000/100).
   */
  changedHere?: (id: string) => boolean;
  /**
   * Deletes by this device's own requests (`items.deletingHere`): whether one is on its way for the
   * item (by key or server id), and when it has ended.
   */
  deletes?: Pick<ItemsRepository, 'isDeletingHere' | 'deleteSettled'>;
}

interface Candidate {
  kind: StoredItem['kind'];
  parentId: string | null;
  reason: GoneReason;
}

/** A commit taking longer than this is logged: a sign the chunk size is too big for this machine. */
const SLOW_COMMIT_MS = DEFAULT_TIMEOUTS.deltaSlowCommitMs;

/**
 * A temporary name for an item that waits, on the server or here, for its place to be freed (a
 * delta batch moving items through each other's names; a replayed rename whose name a later
 * offline change frees). A hidden file while it exists.
 */
export const PARKING_PREFIX = '.onemount-moving-';

export class BatchApplier {
  readonly #o: BatchApplierOptions;
  readonly #store: Store;
  readonly #counts: ApplyCounts = { added: 0, updated: 0, removed: 0, invalidated: 0, conflicts: 0, kept: 0, deletedHere: 0 };
  /** Upsert ids whose chunk has not committed yet. */
  readonly #pending = new Set<string>();
  /** Ids this batch removes (that the store holds). */
  readonly #removing = new Set<string>();
  /** Files with edits whose delete from here a folder's removal waits for (#removeFolder). */
  readonly #waitingFor = new Set<string>();
  /** Ids kept despite a removal, counted once. */
  readonly #kept = new Set<string>();
  #change: ChangeSet = emptyChange();
  /** Server ids of records left out as possibly older than the store (staleRecords). */
  readonly #stale: string[] = [];
  #finalize: (() => void) | undefined;
  #finalized = false;

  constructor(options: BatchApplierOptions) {
    this.#o = options;
    this.#store = options.store;
  }

  /**
   * Items the batch left alone because its record may be older than what the store holds: a delta
   * page is computed when it is asked for, and a change made here between that and the page's
   * apply would be undone. A file whose record holds an older version this engine uploaded (the
   * bytes would be dropped, a read then failing with the server holding a newer version), and any
   * item this device's own request changed since the batch was asked for (`changedHere`: a rename
   * would be reverted until the next poll). The caller reads these from the server.
   */
  get staleRecords(): readonly string[] {
    return this.#stale;
  }

  /**
   * Applies the plan; `finalize` runs inside the last transaction (it saves the deltaLink), so
   * the link is stored exactly when the whole batch is. `full`: the plan is a full enumeration,
   * and store items it did not list are removed.
   */
  async apply(serverPlan: DeltaPlan, full: boolean, finalize: () => void): Promise<ApplyCounts> {
    this.#finalize = finalize;
    const plan = await this.#toKeys(serverPlan);
    const candidates = await this.#removalCandidates(plan, full);
    const leaves: string[] = [];
    const folders: string[] = [];
    for (const [id, { kind, parentId }] of candidates) {
      // A shared folder's shortcut holds that folder's items: removed like a folder, local edits kept.
      if (kind === 'folder' || kind === 'remote') folders.push(id);
      // A file inside a folder that goes too leaves with that folder, in one statement.
      else if (parentId === null || candidates.get(parentId)?.kind !== 'folder') leaves.push(id);
    }
    for (const record of plan.upserts) this.#pending.add(record.id);

    const leafChunks = chunk(leaves, this.#o.chunkSize);
    const upsertChunks = chunk(plan.upserts, this.#o.chunkSize);
    for (let i = 0; i < leafChunks.length; i++) {
      const last = i === leafChunks.length - 1 && upsertChunks.length === 0 && folders.length === 0;
      await this.#removeLeaves(leafChunks[i]!, candidates, last);
      await this.#o.yielder.yield();
    }
    for (let i = 0; i < upsertChunks.length; i++) {
      await this.#upsertChunk(upsertChunks[i]!, i === upsertChunks.length - 1 && folders.length === 0);
      await this.#o.yielder.yield();
    }
    for (let i = 0; i < folders.length; i++) {
      await this.#removeFolder(folders[i]!, candidates.get(folders[i]!)!.reason, i === folders.length - 1);
    }
    if (!this.#finalized) this.#commit(() => undefined, true);
    return { ...this.#counts };
  }

  /**
   * The plan with item keys instead of server ids: an item made here keeps its local key after the
   * server knows it (docs/architecture.md), so a server id names it only through its remote id.
   * `live` stays a set of server ids.
   */
  async #toKeys(plan: DeltaPlan): Promise<DeltaPlan> {
    const items = this.#store.items;
    const rootKey = items.getRoot()?.id;
    const upserts: ItemRecord[] = [];
    for (const record of plan.upserts) {
      if (this.#o.yielder.due) await this.#o.yielder.yield();
      const remoteId = record.remoteId ?? record.id;
      if (record.parentId === null) upserts.push({ ...record, id: rootKey ?? record.id, remoteId });
      else upserts.push({ ...record, id: items.keyOfServerId(record.id), parentId: items.keyOf(record.parentId), remoteId });
    }
    const removals = new Map<string, GoneReason>();
    for (const [id, reason] of plan.removals) removals.set(items.keyOfServerId(id), reason);
    return { ...plan, upserts, removals };
  }

  async #removalCandidates(plan: DeltaPlan, full: boolean): Promise<Map<string, Candidate>> {
    const store = this.#store;
    const rootId = store.items.getRoot()?.id;
    const candidates = new Map<string, Candidate>();
    for (const [id, reason] of plan.removals) {
      if (this.#o.yielder.due) await this.#o.yielder.yield();
      const item = store.items.get(id);
      if (!item) continue;
      if (item.parentId === null || id === rootId) {
        this.#o.logger.warn({ itemId: id, reason }, 'delta reported the drive root as gone; keeping it');
        continue;
      }
      candidates.set(id, { kind: item.kind, parentId: item.parentId, reason });
    }
    if (full && rootId !== undefined) {
      // Delete-and-recreate during an enumeration can yield only the new id (§5): what a full
      // enumeration did not list is gone, whether or not a tombstone said so.
      for (const item of await walkSubtree(store, rootId, this.#o.pageSize, this.#o.yielder)) {
        if (item.remoteId !== null && !plan.live.has(item.remoteId) && !candidates.has(item.id)) {
          candidates.set(item.id, { kind: item.kind, parentId: item.parentId, reason: 'unseen' });
        }
      }
    }
    for (const id of candidates.keys()) {
      // Being deleted by this device's own request (its rows not gone yet): that delete decides, and
      // a file with edits is no conflict (fuzz 710000/216). One changed here otherwise since the
      // batch was asked for (a rename's answer) was deleted by someone else after that change: the
      // server had it then. The removal stands. (Candidates are keys, which the vfs marks.)
      if (this.#o.deletes?.isDeletingHere(id)) {
        candidates.delete(id);
        continue;
      }
      this.#removing.add(id);
    }
    return candidates;
  }

  // ── removals of files, packages and shortcuts ─────────────────────────────

  async #removeLeaves(ids: readonly string[], candidates: ReadonlyMap<string, { reason: GoneReason }>, last: boolean): Promise<void> {
    const store = this.#store;
    const doomed: StoredItem[] = [];
    for (const id of ids) {
      const item = store.items.get(id);
      if (item) doomed.push(item);
    }
    const refused = await this.#invalidate(doomed.filter((item) => this.#hasCleanContent(item)).map((item) => item.id));
    this.#commit(() => {
      for (const item of doomed) {
        const reason = candidates.get(item.id)!.reason;
        if (refused.has(item.id) || this.#isDirty(item.id)) {
          this.#keep(item, reason);
        } else {
          this.#delete(item, reason);
        }
      }
    }, last);
  }

  // ── upserts ───────────────────────────────────────────────────────────────

  async #upsertChunk(records: readonly ItemRecord[], last: boolean): Promise<void> {
    const store = this.#store;
    const incoming = new Map(records.map((record) => [record.id, record]));
    const prepared = new Map<string, ItemRecord>();
    const olds = new Map<string, StoredItem>();
    const bothModified = new Set<string>();
    /** Files with local changes when their rows were read. */
    const dirtyBefore = new Set<string>();
    const toInvalidate: string[] = [];
    const adopted: Array<{ key: string; remoteId: string; replacing?: string }> = [];
    const landedOfDeleted: Array<{ record: ItemRecord; itemId: string }> = [];
    for (const record of records) {
      if (this.#changedHere(record)) {
        this.#stale.push(record.remoteId ?? record.id);
        continue;
      }
      const old = store.items.get(record.id);
      if (!old) {
        const own = this.#ownUploadArriving(record);
        if (own) {
          // Our own new file, committed on the server a moment before its upload's answer: the
          // local item gets its server id now (once); the upload's answer fills in the rest.
          adopted.push({ key: own.id, remoteId: record.remoteId ?? record.id });
          this.#pending.delete(record.id);
          continue;
        }
        const deletedHere = this.#deletedHere(record);
        if (deletedHere) {
          this.#pending.delete(record.id);
          const local = this.#stillThere(deletedHere.itemId, record);
          // The file is still at that very place with its edit: the copy is its own upload there
          // (of a file the server lost, say: fuzz 580000/156), landed before its answer or
          // without one (a kill). The upload's answer, or its next attempt, fills in the rest.
          if (local) adopted.push({ key: local.id, remoteId: record.remoteId ?? record.id, ...(local.remoteId !== null ? { replacing: local.remoteId } : {}) });
          else landedOfDeleted.push({ record, itemId: deletedHere.itemId });
          continue;
        }
        prepared.set(record.id, record);
        continue;
      }
      olds.set(record.id, old);
      let next = record;
      if (old.kind === 'file') {
        const dirty = this.#isDirty(old.id);
        const { changed, merged } = mergeFileRecord(record, old, dirty);
        next = merged;
        if (dirty) {
          dirtyBefore.add(old.id);
          if (changed && this.#someoneElses(old, record)) bothModified.add(old.id);
        } else if (changed && !this.#o.current && this.#olderOwnVersion(old, record)) {
          this.#stale.push(record.remoteId ?? record.id);
          continue;
        } else if (changed) {
          toInvalidate.push(old.id);
        }
      }
      if (!sameRecordFields(old, next)) prepared.set(record.id, next);
    }
    // An item whose record was unchanged will not be written: it must not be parked as pending.
    for (const record of records) if (!prepared.has(record.id)) this.#pending.delete(record.id);
    const refused = await this.#invalidate(toInvalidate);
    this.#commit(() => {
      // Changed here while the invalidations were awaited (an upload's commit): left alone after all.
      for (const [id, record] of prepared) {
        if (!this.#changedHere(record)) continue;
        prepared.delete(id);
        refused.delete(id);
        bothModified.delete(id);
        this.#pending.delete(id);
        this.#stale.push(record.remoteId ?? record.id);
      }
      // The rows read above may be stale now: the awaits let local changes run. An item deleted
      // here meanwhile stays deleted (its delete is on its way to the server). A file changed here
      // meanwhile (a truncate and writes after its invalidation, or more writes to a file already
      // changed) keeps its local bytes as they are now (fuzz 515000/13: the server's size was
      // recorded over a file recreated here, and its upload failed for good); one no longer
      // changed (its edit dropped) takes the server's record as it is then.
      const deletedHere = new Set<string>();
      for (const [id, record] of prepared) {
        const old = olds.get(id);
        if (!old) continue;
        const now = store.items.get(id);
        if (!now) {
          deletedHere.add(id);
          prepared.delete(id);
          this.#pending.delete(id);
          continue;
        }
        if (old.kind !== 'file') continue;
        const dirty = refused.has(id) || this.#isDirty(id);
        if (!dirty && !dirtyBefore.has(id)) continue;
        if (!dirty) {
          prepared.delete(id);
          this.#pending.delete(id);
          this.#stale.push(record.remoteId ?? record.id);
          continue;
        }
        const { changed, merged } = mergeFileRecord(incoming.get(id)!, now, true);
        if (sameRecordFields(now, merged)) prepared.delete(id);
        else prepared.set(id, merged);
        if (changed && !dirtyBefore.has(id)) bothModified.add(id);
      }
      // What the batch puts into a folder deleted here meanwhile goes with it (its delete takes
      // them on the server): a row there would have no folder.
      for (let grew = deletedHere.size > 0; grew; ) {
        grew = false;
        for (const [id, record] of prepared) {
          if (record.parentId === null || !deletedHere.has(record.parentId)) continue;
          deletedHere.add(id);
          prepared.delete(id);
          this.#pending.delete(id);
          grew = true;
        }
      }
      // A conflict only for a file still here with a local edit (one deleted or whose edit was
      // dropped meanwhile has none).
      for (const id of bothModified) if (!store.items.get(id) || !this.#isDirty(id)) bothModified.delete(id);
      for (const { key, remoteId, replacing } of adopted) {
        // A copy whose delete waits in the journal (queued when the file had moved away) is not
        // the file's, even with the file back in its place: the delete goes on.
        if (serverItemLeavingByReplay(store, remoteId)) continue;
        const known = store.items.get(key)?.remoteId;
        if (known === null || (known !== undefined && known === replacing)) store.items.setRemoteId(key, remoteId, replacing ? { replacing } : {});
      }
      for (const { record, itemId } of landedOfDeleted) {
        // Deleted at the version it landed with (If-Match): an edit made there since survives.
        const remoteId = record.remoteId ?? record.id;
        // Seen again (a later page, a resync) while its delete waits: the journal has it once.
        if (serverItemLeavingByReplay(store, remoteId)) continue;
        // A file still here (it moved) keeps its journal to itself: the entry names the copy.
        const entryId = store.items.get(itemId) ? landedCopyKey(remoteId) : itemId;
        store.journal.append({ kind: 'unlink', itemId: entryId, parentId: record.parentId, name: record.name, baseEtag: record.etag ?? null, payload: { remoteId, ...(record.driveId ? { driveId: record.driveId } : {}) } });
        this.#counts.deletedHere++;
        this.#o.logger.info({ itemId, name: record.name }, 'an upload of a file deleted or moved here landed where the file no longer is; deleting that copy');
      }
      const result = store.items.upsertMany([...prepared.values()], { onNameClash: (occupant) => this.#makeWay(occupant) });
      this.#counts.added += result.inserted;
      this.#counts.updated += result.updated;
      for (const record of prepared.values()) {
        this.#change.upserted.push(record.id);
        const old = olds.get(record.id);
        if (!old) {
          if (record.parentId !== null) this.#folderChanged(record.parentId);
        } else if (old.parentId !== record.parentId || old.name !== record.name) {
          if (old.parentId !== null) this.#folderChanged(old.parentId);
          if (record.parentId !== null) this.#folderChanged(record.parentId);
        }
      }
      for (const id of bothModified) this.#recordConflict(id, 'both-modified', incoming.get(id)?.etag ?? null);
      for (const record of records) this.#pending.delete(record.id);
    }, last);
  }

  /**
   * A new server file in the place of a local file not uploaded yet, while that file's create is
   * being uploaded, holding a version we sent: the server item is that upload landing.
   */
  #ownUploadArriving(record: ItemRecord): StoredItem | undefined {
    if (record.kind !== 'file' || record.parentId === null) return undefined;
    const local = this.#store.items.getChild(record.parentId, record.name);
    if (!local || local.remoteId !== null || local.kind !== 'file') return undefined;
    const creating = this.#store.journal.list({ itemId: local.id, states: ['pending', 'uploading'] }).some((e) => e.kind === 'create');
    if (!creating) return undefined;
    // Exact when the server sent its hash: a version this engine hashed for upload (it may have
    // changed here since). Without a hash (B can omit it for a while), the same size must do.
    if (record.quickXorHash) return this.#store.sentVersions.has(local.id, record.quickXorHash) ? local : undefined;
    return local.size === record.size ? local : undefined;
  }

  /**
   * A new server version of a file with local edits is a conflict only when it is someone else's:
   * our own upload lands on the server before its answer reaches the upload worker, and delta can
   * see it in between. Without a hash (B can omit it for a while) delta cannot tell; the upload,
   * which runs for every dirty file, compares the server's version itself and records the
   * conflict if there is one (docs/concurrency.md, "Conflicts").
   */
  #someoneElses(old: StoredItem, record: ItemRecord): boolean {
    if (record.kind !== 'file' || !record.quickXorHash) return false;
    return !this.#store.sentVersions.has(old.id, record.quickXorHash);
  }

  /** This device's own request changed the item since the records were asked for (`changedHere`). */
  #changedHere(record: ItemRecord): boolean {
    const changed = this.#o.changedHere;
    return changed !== undefined && (changed(record.id) || (record.remoteId != null && changed(record.remoteId)));
  }

  /** The record's version is one we sent before the version the store holds, also ours. */
  #olderOwnVersion(old: StoredItem, record: ItemRecord): boolean {
    if (record.kind !== 'file' || !record.quickXorHash || !old.quickXorHash) return false;
    const sent = this.#store.sentVersions.list(old.id).map(canonicalHash);
    const incoming = sent.indexOf(canonicalHash(record.quickXorHash));
    return incoming >= 0 && sent.indexOf(canonicalHash(old.quickXorHash)) > incoming;
  }

  /** The file `itemId` as it is here, if it is at the record's place with a local edit. */
  #stillThere(itemId: string, record: ItemRecord): StoredItem | undefined {
    const local = this.#store.items.get(itemId);
    if (local?.kind !== 'file' || local.parentId !== record.parentId || nameKey(local.name) !== nameKey(record.name)) return undefined;
    return this.#isDirty(local.id) ? local : undefined;
  }

  /** A new server file that is a landed upload of a file deleted or moved here (deleted-uploads.ts). */
  #deletedHere(record: ItemRecord): ReturnType<Store['deletedUploads']['match']> {
    if (record.kind !== 'file' || record.parentId === null || !record.quickXorHash) return undefined;
    return this.#store.deletedUploads.match(record.parentId, record.name, record.quickXorHash);
  }

  /**
   * The name `occupant` holds is the server's for another item. An item that this batch moves
   * later, or removes, steps aside under a temporary name; anything else (a local item not
   * uploaded yet, a kept local edit) is renamed to a conflict copy name.
   */
  #makeWay(occupant: StoredItem): string {
    const folder = occupant.parentId!;
    if (this.#pending.has(occupant.id) || (this.#removing.has(occupant.id) && !this.#holdsLocalEdits(occupant))) {
      return this.#freeName(folder, (n) => `${PARKING_PREFIX}${occupant.inode}${n === 0 ? '' : `-${n}`}`);
    }
    const dot = occupant.name.lastIndexOf('.');
    const [stem, ext] = dot > 0 ? [occupant.name.slice(0, dot), occupant.name.slice(dot)] : [occupant.name, ''];
    const newName = this.#freeName(folder, (n) => `${stem} (conflict ${n + 1})${ext}`);
    this.#store.conflicts.record({
      itemId: occupant.id,
      path: this.#store.items.pathOf(occupant.id) ?? occupant.name,
      reason: 'name-clash',
      localCopyName: newName,
    });
    this.#counts.conflicts++;
    this.#o.logger.warn({ itemId: occupant.id, from: occupant.name, to: newName }, 'a server item took this name; the local item was renamed');
    this.#change.upserted.push(occupant.id);
    this.#folderChanged(folder);
    return newName;
  }

  #freeName(folderId: string, candidate: (n: number) => string): string {
    for (let n = 0; ; n++) {
      const name = candidate(n);
      if (!this.#store.items.getChild(folderId, name)) return name;
    }
  }

  // ── removals of folders ───────────────────────────────────────────────────

  async #removeFolder(id: string, reason: GoneReason, last: boolean): Promise<void> {
    // Again after the deletes this device has on their way for files with edits below the folder:
    // such a file is no edit to keep, but its rows (and its cache file, its upload) are its
    // delete's to drop, and the folder cannot go before them (#editsBeingDeleted).
    while (await this.#removeFolderOnce(id, reason)) await this.#deletesEnded();
    if (last) this.#commit(() => undefined, true);
  }

  /** One attempt of #removeFolder; true when it has to wait for deletes here (#waitingFor) and try again. */
  async #removeFolderOnce(id: string, reason: GoneReason): Promise<boolean> {
    const store = this.#store;
    // Gone already (with a removed folder above it), or being deleted here as well: that delete decides.
    if (!store.items.get(id) || this.#o.deletes?.isDeletingHere(id)) return false;
    const below = await walkSubtree(store, id, this.#o.pageSize, this.#o.yielder);
    if (this.#editsBeingDeleted(below)) return true;
    const ownEdits = new Map<string, StoredItem>();
    for (const item of below) {
      if (this.#o.yielder.due) await this.#o.yielder.yield();
      if (item.remoteId === null || (item.kind === 'file' && this.#isDirty(item.id))) ownEdits.set(item.id, item);
    }
    const folder = store.items.get(id);
    if (!folder) return false;
    let cut = planFolderRemoval(folder, below, ownEdits, this.#o.chunkSize);
    const refused = await this.#invalidate(
      below.filter((item) => !ownEdits.has(item.id) && this.#hasCleanContent(item)).map((item) => item.id),
    );
    if (refused.size > 0) {
      // Became dirty while we waited: kept like any other local edit.
      for (const item of below) if (refused.has(item.id)) ownEdits.set(item.id, item);
      cut = planFolderRemoval(folder, below, ownEdits, this.#o.chunkSize);
    }
    // A delete here that began during those awaits: the first commit follows at once.
    if (this.#editsBeingDeleted([...ownEdits.values()])) return true;
    if (ownEdits.size > 0) {
      this.#o.logger.warn(
        { folderId: id, reason, localEdits: ownEdits.size },
        'a folder removed on the server still holds local edits; keeping them and the folders above them',
      );
    }
    const batches = packBySize(cut.targets, this.#o.chunkSize);
    if (batches.length === 0) batches.push([]);
    for (let b = 0; b < batches.length; b++) {
      this.#commit(() => {
        if (b === 0) {
          for (const { id: editId } of ownEdits.values()) {
            const item = store.items.get(editId);
            if (item) this.#keep(item, reason);
          }
          if (cut.keptFolders.has(id)) this.#recordConflict(id, 'remote-deleted', null);
        }
        for (const { item } of batches[b]!) this.#removeUnlessEdited(item, reason, id);
      }, false);
      await this.#o.yielder.yield();
    }
    return this.#waitingFor.size > 0;
  }

  /**
   * Notes the files with edits among `items` that a delete of this device is on its way for
   * (#waitingFor); true when there are any.
   */
  #editsBeingDeleted(items: readonly StoredItem[]): boolean {
    for (const item of items) if (this.#editBeingDeleted(item)) this.#waitingFor.add(item.id);
    return this.#waitingFor.size > 0;
  }

  #editBeingDeleted(item: StoredItem): boolean {
    return item.kind === 'file' && this.#o.deletes?.isDeletingHere(item.id) === true && this.#isDirty(item.id);
  }

  /** Until the deletes in #waitingFor have ended (or the run stops). */
  async #deletesEnded(): Promise<void> {
    const deletes = this.#o.deletes!;
    const ids = [...this.#waitingFor];
    this.#waitingFor.clear();
    this.#o.logger.debug({ files: ids.length }, 'a folder removed on the server waits for deletes of this device below it');
    const ended = Promise.all(ids.map(async (id) => deletes.deleteSettled(id)));
    const signal = this.#o.yielder.signal;
    await (signal ? raceWithSignal(ended, signal) : ended);
  }

  /**
   * Deletes a subtree planned for removal, read again now: the awaits since the plan let local
   * changes run (a file written or created in it), and those stay with the folders above them
   * (the folder the server removed, `topId`, is a conflict then, as when the plan kept it). A file
   * with edits a delete here is on its way for is left to that delete, and so are the folders
   * above it for now (#waitingFor: the removal is tried again once the delete has ended).
   */
  #removeUnlessEdited(planned: StoredItem, reason: GoneReason, topId: string): void {
    const item = this.#store.items.get(planned.id);
    if (!item) return;
    if (!this.#holdsLocalEdits(item)) {
      this.#delete(item, reason);
      return;
    }
    if (item.kind !== 'folder' && item.kind !== 'package') {
      if (this.#editBeingDeleted(item)) this.#waitingFor.add(item.id);
      else this.#keep(item, reason);
      return;
    }
    // Listed whole first: the deletions below change the pages.
    for (const child of [...this.#children(item.id)]) this.#removeUnlessEdited(child, reason, topId);
    if (item.id === topId && this.#waitingFor.size === 0) this.#recordConflict(item.id, 'remote-deleted', null);
  }

  // ── shared steps ──────────────────────────────────────────────────────────

  /** Runs `work` in one transaction; the last one also saves the deltaLink. Reports the change. */
  #commit(work: () => void, last: boolean): void {
    const started = performance.now();
    this.#store.transaction(() => {
      work();
      if (last && this.#finalize) {
        this.#finalize();
        this.#finalize = undefined;
        this.#finalized = true;
      }
    });
    const heldMs = performance.now() - started;
    if (heldMs > SLOW_COMMIT_MS) this.#o.logger.warn({ heldMs: Math.round(heldMs) }, 'a delta chunk held the event loop for long');
    const change = this.#change;
    this.#change = emptyChange();
    if (change.upserted.length > 0 || change.removed.length > 0 || change.folders.length > 0) this.#o.onChanged(change);
  }

  /** Calls the invalidator for each id; returns the ids it refused because their content is dirty. */
  async #invalidate(ids: readonly string[]): Promise<Set<string>> {
    const refused = new Set<string>();
    if (ids.length === 0) return refused;
    const outcomes = await Promise.allSettled(ids.map(async (id) => this.#o.invalidator.invalidate(id)));
    outcomes.forEach((outcome, i) => {
      const id = ids[i]!;
      if (outcome.status === 'fulfilled') this.#counts.invalidated++;
      else if ((outcome.reason as { code?: unknown } | null)?.code === 'CONTENT_DIRTY') refused.add(id);
      else this.#o.onInvalidateError(outcome.reason, id);
    });
    return refused;
  }

  #delete(item: StoredItem, reason: GoneReason): void {
    const deleted = this.#store.items.deleteSubtree(item.id);
    if (deleted.length === 0) return;
    this.#counts.removed += deleted.length;
    for (const gone of deleted) this.#change.removed.push({ id: gone.id, inode: gone.inode });
    if (item.parentId !== null) this.#folderChanged(item.parentId);
    if (reason !== 'deleted' && reason !== 'unseen') {
      this.#o.logger.info({ itemId: item.id, name: item.name, reason }, 'item is gone from this drive\'s view; removed locally');
    }
  }

  #keep(item: StoredItem, reason: GoneReason): void {
    if (this.#kept.has(item.id)) return;
    this.#kept.add(item.id);
    this.#counts.kept++;
    this.#o.logger.warn({ itemId: item.id, name: item.name, reason }, 'removed on the server but holds local edits; kept');
    if (item.remoteId !== null) this.#recordConflict(item.id, 'remote-deleted', null);
  }

  /** One unresolved conflict per item and reason (a later remote change completes the same record). */
  #recordConflict(itemId: string, reason: ConflictReason, remoteEtag: string | null): void {
    const store = this.#store;
    const known = store.conflicts.listForItem(itemId).some((c) => !c.resolved && c.reason === reason);
    store.conflicts.record({ itemId, path: store.items.pathOf(itemId) ?? itemId, reason, remoteEtag });
    if (!known) this.#counts.conflicts++;
  }

  /** A file with local state (bytes, a pin, an error) that is not a local edit: removing it drops that state. */
  #hasCleanContent(item: StoredItem): boolean {
    const status = item.kind === 'file' ? this.#store.content.get(item.id)?.status : undefined;
    return status !== undefined && status !== 'dirty';
  }

  #isDirty(itemId: string): boolean {
    return this.#store.content.get(itemId)?.status === 'dirty';
  }

  /** A local item, dirty content, or (for a folder) any of these below it. */
  #holdsLocalEdits(item: StoredItem): boolean {
    if (item.remoteId === null || (item.kind === 'file' && this.#isDirty(item.id))) return true;
    if (item.kind !== 'folder' && item.kind !== 'package') return false;
    const folders = [item.id];
    for (let folderId = folders.pop(); folderId !== undefined; folderId = folders.pop()) {
      for (const child of this.#children(folderId)) {
        if (child.remoteId === null || (child.kind === 'file' && this.#isDirty(child.id))) return true;
        if (child.kind === 'folder' || child.kind === 'package') folders.push(child.id);
      }
    }
    return false;
  }

  /** A folder's children, a page at a time. */
  *#children(folderId: string): Generator<StoredItem> {
    for (let after: string | undefined; ; ) {
      const page = this.#store.items.listChildren(folderId, after, this.#o.pageSize);
      yield* page;
      const lastChild = page[page.length - 1];
      if (page.length < this.#o.pageSize || lastChild === undefined) return;
      after = lastChild.nameKey;
    }
  }

  #folderChanged(id: string): void {
    if (!this.#change.folders.includes(id)) this.#change.folders.push(id);
  }
}

interface RemovalTarget {
  item: StoredItem;
  /** Items the deletion removes: the item and everything below it. */
  size: number;
}

/**
 * What to delete of a folder the server removed: everything below it except local edits and the
 * folders holding them, as a few subtrees of at most `maxSize` items each (one statement per
 * subtree keeps each deletion short; a subtree too big is split into its children and itself).
 */
function planFolderRemoval(
  top: StoredItem,
  below: readonly StoredItem[],
  ownEdits: ReadonlyMap<string, StoredItem>,
  maxSize: number,
): { targets: RemovalTarget[]; keptFolders: Set<string> } {
  const children = new Map<string, StoredItem[]>();
  for (const item of below) {
    const siblings = children.get(item.parentId!);
    if (siblings) siblings.push(item);
    else children.set(item.parentId!, [item]);
  }
  const size = new Map<string, number>();
  const keptFolders = new Set<string>();
  // `below` lists parents before children: backwards, every child is done before its parent.
  for (let i = below.length - 1; i >= -1; i--) {
    const item = i === -1 ? top : below[i]!;
    let total = 1;
    for (const child of children.get(item.id) ?? []) {
      total += size.get(child.id)!;
      if (ownEdits.has(child.id) || keptFolders.has(child.id)) keptFolders.add(item.id);
    }
    size.set(item.id, total);
  }
  const targets: RemovalTarget[] = [];
  const pick = (item: StoredItem): void => {
    if (ownEdits.has(item.id)) return;
    const itemSize = size.get(item.id)!;
    if (!keptFolders.has(item.id) && itemSize <= maxSize) {
      targets.push({ item, size: itemSize });
      return;
    }
    for (const child of children.get(item.id) ?? []) pick(child);
    if (!keptFolders.has(item.id)) targets.push({ item, size: 1 });
  };
  pick(top);
  return { targets, keptFolders };
}

/** Consecutive groups of targets of at most `maxSize` items together (a bigger target alone). */
function packBySize(targets: readonly RemovalTarget[], maxSize: number): RemovalTarget[][] {
  const groups: RemovalTarget[][] = [];
  let current: RemovalTarget[] = [];
  let total = 0;
  for (const target of targets) {
    if (current.length > 0 && total + target.size > maxSize) {
      groups.push(current);
      current = [];
      total = 0;
    }
    current.push(target);
    total += target.size;
  }
  if (current.length > 0) groups.push(current);
  return groups;
}

function emptyChange(): ChangeSet {
  return { upserted: [], removed: [], folders: [] };
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * A file's server record merged with its row. A dirty row's size is the local bytes'; its tags and
 * hash still name the server version the edit started from, and only those say whether the
 * server's content moved on (a rename changes the eTag and nothing else: fuzz 14000/101).
 */
function mergeFileRecord(record: ItemRecord, old: StoredItem, dirty: boolean): { changed: boolean; merged: ItemRecord } {
  const changed = record.kind !== 'file' || !sameContent(dirty ? { etag: old.etag, ctag: old.ctag, quickXorHash: old.quickXorHash } : old, record);
  // B delta omits cTags and hashes can be briefly missing: an unchanged version keeps what we knew.
  const merged = changed ? record : { ...record, ctag: record.ctag ?? old.ctag, quickXorHash: record.quickXorHash ?? old.quickXorHash };
  return { changed, merged: dirty ? keepLocalContent(merged, old, changed) : merged };
}

/**
 * A dirty file follows the server's renames and moves but keeps its local size and times; when the
 * server's bytes changed too it also keeps the version it was based on, so the write path sees the
 * conflict when it uploads.
 */
function keepLocalContent(next: ItemRecord, old: StoredItem, serverContentChanged: boolean): ItemRecord {
  const kept: ItemRecord = { ...next, kind: old.kind, size: old.size, mtimeMs: old.mtimeMs, quickXorHash: old.quickXorHash };
  if (serverContentChanged) {
    kept.etag = old.etag;
    kept.ctag = old.ctag;
  }
  return kept;
}

function canonicalHash(quickXorHash: string): string {
  return Buffer.from(quickXorHash, 'base64').toString('base64');
}

/** Reads of a batch's stale records, at most (applyAsTheyAreNow). */
const FRESH_READ_ROUNDS = 3;

/**
 * A batch's `staleRecords`, read from the server and applied as they are now (`read`: the reads and
 * their plan; `applierFor(since)`: a `current` applier leaving alone what changed here after
 * `since`). The reads take a while (one request each): an item changed here meanwhile (an upload's
 * commit) is newer than what they return, as it was for the batch, so it is read again, up to
 * FRESH_READ_ROUNDS times in all (lost-write e2e: the older eTag, then EIO). Returns the ids still
 * changed here after the last round: the caller's next pass brings them.
 */
export async function applyAsTheyAreNow(
  store: Store,
  ids: readonly string[],
  read: (ids: readonly string[]) => Promise<DeltaPlan | undefined>,
  applierFor: (since: number) => BatchApplier,
): Promise<readonly string[]> {
  let left = ids;
  for (let round = 0; round < FRESH_READ_ROUNDS && left.length > 0; round++) {
    const since = store.items.openChangeWindow();
    try {
      const plan = await read(left);
      if (!plan) return [];
      const applier = applierFor(since);
      await applier.apply(plan, false, () => undefined);
      left = applier.staleRecords;
    } finally {
      store.items.closeChangeWindow();
    }
  }
  return left;
}

/**
 * The server's items as they are now, for a batch's `staleRecords` (applied by a `current`
 * applier, applyAsTheyAreNow): usually our change came after the page was made and nothing changes; another
 * device's later change (restoring that older version, renaming it again) is applied. One gone
 * meanwhile is left out: the next delta says so.
 */
export async function readCurrent(graph: Pick<GraphClient, 'getItem'>, ids: readonly string[], signal?: AbortSignal): Promise<DriveItem[]> {
  const items: DriveItem[] = [];
  for (const id of ids) {
    try {
      items.push(await graph.getItem(id, { select: DELTA_SELECT, ...(signal ? { signal } : {}) }));
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
  return items;
}
