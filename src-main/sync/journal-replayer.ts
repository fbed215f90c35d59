/**
 * Replays namespace changes made while the server was unreachable (mkdir, rename/move, unlink,
 * rmdir, setattr), in journal order, once it answers again. Content uploads (`create`/`write`
 * entries) are the upload manager's; it waits for folders this replayer creates.
 *
 * Conflict rules, as for uploads: nothing local is silently dropped and nothing remote is silently
 * overwritten. A folder created offline whose name now exists remotely is merged with it; a rename
 * onto a taken name keeps the item under a conflict name; a delete of something changed remotely
 * since (If-Match fails) is not carried out, and a folder delete never removes remote children
 * this device has not seen.
 */
import { SignedOutError } from '../auth/auth-errors.ts';
import { Alarm } from '../base/alarm.ts';
import { backoffDelay, checkBackoff, type Backoff } from '../base/backoff.ts';
import { errorMessage } from '../base/errors.ts';
import type { Logger } from '../base/logger.ts';
import { TypedEmitter } from '../base/typed-emitter.ts';
import type { TaskRegistry } from '../lifecycle/task-registry.ts';
import { conflictCopyName, nameKey } from '../../src-shared/model/names.ts';
import { isNameConflict, isNotFound, isPreconditionFailed, NetworkError, sameQuickXorHash, type DriveItem, type DriveRouter, type GraphClient } from '../graph/index.ts';
import { isLandedCopyKey, isLocalId, nameLeavingByReplay, serverItemLeavingByReplay, type ItemRecord, type JournalEntry, type Store, type StoredItem } from '../store/index.ts';
import { sameContent, versionOf } from '../transfers/content-version.ts';
import { deleteCopyOfDeleted } from '../transfers/landed-copy.ts';
import { PARKING_PREFIX } from './delta-apply.ts';

const NAMESPACE_KINDS = new Set(['mkdir', 'rename', 'unlink', 'rmdir', 'setattr']);

/** The requests a replay makes. */
type ReplayGraph = Pick<GraphClient, 'createFolder' | 'update' | 'deleteItem' | 'getItem' | 'getItemByPath' | 'listChildren'>;

export interface JournalReplayerOptions {
  graph: ReplayGraph;
  store: Store;
  toRecord: (item: DriveItem) => ItemRecord;
  logger: Logger;
  tasks: TaskRegistry;
  hostName: string;
  /** Wait after a failed attempt, doubling up to maxMs (base/backoff.ts). */
  retry: Backoff;
  /** Told where an item removed here lives when its entry names another drive (a shared folder's). */
  drives?: Required<Pick<DriveRouter, 'remember'>>;
  now?: () => number;
}

export interface ReplayerEvents {
  replayed: { seq: number; kind: string; itemId: string };
  conflict: { itemId: string; path: string; reason: 'name-clash' | 'both-modified'; detail: string };
  error: { error: unknown; seq: number };
  /** A pass ended with no namespace change left to replay (also when it found none to begin with). */
  drained: Record<string, never>;
}

export class JournalReplayer {
  readonly events: TypedEmitter<ReplayerEvents>;
  private readonly alarm = new Alarm();
  private running: Promise<number> | undefined;
  private readonly now: () => number;

  constructor(private readonly o: JournalReplayerOptions) {
    this.now = o.now ?? Date.now;
    this.events = new TypedEmitter<ReplayerEvents>((error, event) => o.logger.error({ err: error, event }, 'replayer listener failed'));
  }

  /** Pending namespace entries, oldest first. */
  pending(): JournalEntry[] {
    return this.o.store.journal.list({ states: ['pending'] }).filter((e) => NAMESPACE_KINDS.has(e.kind));
  }

  /** Something was journaled (or the network may be back): replay soon. */
  kick(): void {
    this.alarm.wake();
  }

  /** Background loop through the task registry: replays whenever there is work, backing off while offline. */
  start(): void {
    const retry = checkBackoff(this.o.retry, 'journal replay');
    this.o.tasks.start('journal-replay', async (signal) => {
      let failures = 0;
      while (!signal.aborted) {
        let left = 0;
        try {
          left = await this.replay(signal);
          failures = 0;
        } catch (e) {
          if (signal.aborted) return;
          const delay = backoffDelay(failures++, retry);
          this.o.logger.info({ err: e }, `offline changes wait for the server (next try in ${Math.round(delay / 1000)} s)`);
          await this.alarm.sleep(delay, signal);
          continue;
        }
        // Entries waiting for a folder are tried again soon; with none left, the next kick wakes it.
        await this.alarm.sleep(left > 0 ? retry.baseMs : Number.POSITIVE_INFINITY, signal);
      }
    });
  }

  /**
   * Replays every pending entry in order; stops at the first network failure. Returns how many are
   * left. `signal` stops the pass, its request under way included (the engine's shutdown: the task
   * registry gives a task a couple of seconds, and a request retried against a server that does not
   * answer takes longer); the entry it was at waits, pending, for the next pass.
   */
  replay(signal?: AbortSignal): Promise<number> {
    this.running ??= this.replayAll(signal).finally(() => (this.running = undefined));
    return this.running;
  }

  private async replayAll(signal: AbortSignal | undefined): Promise<number> {
    const graph = signal ? withSignal(this.o.graph, signal) : this.o.graph;
    for (const entry of this.pending()) {
      if (signal?.aborted) break;
      try {
        this.o.store.journal.markUploading(entry.seq);
        await this.apply(entry, graph);
        // A local change made while the request was on its way may have dropped the entry (vfs rmdir).
        if (this.o.store.journal.get(entry.seq)) this.o.store.journal.remove(entry.seq);
        this.events.emit('replayed', { seq: entry.seq, kind: entry.kind, itemId: entry.itemId });
      } catch (e) {
        const still = this.o.store.journal.get(entry.seq) !== undefined;
        if (still) this.o.store.journal.markPending(entry.seq, errorMessage(e));
        // Stopped, offline or signed out: the entry waits, in order, for the next try.
        if (signal?.aborted || e instanceof NetworkError || e instanceof SignedOutError) throw e;
        if (!still) continue;
        if (e instanceof WaitForParent) continue;
        // Anything else is not going to succeed by retrying the same request: keep it visible as
        // failed, and bring the local tree back in line with what the server holds.
        this.o.store.journal.markFailed(entry.seq, errorMessage(e));
        this.o.logger.error({ err: e, seq: entry.seq, kind: entry.kind }, `could not replay an offline ${entry.kind}`);
        this.events.emit('error', { error: e, seq: entry.seq });
        try {
          await this.followServer(entry, graph);
        } catch (again) {
          if (signal?.aborted || again instanceof NetworkError || again instanceof SignedOutError) throw again;
          this.o.logger.error({ err: again, seq: entry.seq }, 'could not bring the local item back in line with the server');
        }
      }
    }
    const left = this.pending().length;
    // Whoever paused delta for the journal waits for this, not for an entry's event: entries can
    // also leave the journal without a replay (a folder made and removed again while offline).
    if (left === 0) this.events.emit('drained', {});
    return left;
  }

  private path(itemId: string): string {
    return this.o.store.items.pathOf(itemId) ?? itemId;
  }

  private async apply(e: JournalEntry, graph: ReplayGraph): Promise<void> {
    const { store } = this.o;
    // An item removed here is no longer in the store, which routes requests to its drive.
    if (e.payload?.remoteId && e.payload.driveId) this.o.drives?.remember({ driveId: e.payload.driveId, itemId: e.payload.remoteId });
    switch (e.kind) {
      case 'mkdir': {
        const item = store.items.get(e.itemId);
        if (!item || item.remoteId !== null) return; // removed again, or already created
        const parentRemoteId = this.remoteIdOf(item.parentId!);
        if (parentRemoteId === null) throw new WaitForParent(item.parentId!);
        let created: DriveItem;
        try {
          created = await graph.createFolder(parentRemoteId, item.name, 'fail');
        } catch (err) {
          if (!isNameConflict(err)) throw err;
          // The folder holding the name may be one a later offline change deletes or moves away
          // (a folder renamed over it): merging would hand this folder to that delete. That change
          // may need this folder first (the one holding the name moves into it: `mkdir G;
          // mv "Sub dir" G/F; mv G "Sub dir"`): it is made under a name of its own meanwhile, and
          // the rename queued below takes it to its name after that change (fuzz 233000/496).
          if (this.freedLater(e, item.parentId!, item.name)) created = await this.parkedFolder(graph, item, parentRemoteId);
          else {
            created = await graph.getItemByPath(this.localPath(item.parentId!, item.name) ?? `/${item.name}`);
            // One of ours holds the name on the server but is elsewhere here: its rename, earlier in
            // the journal and perhaps waiting for this very folder (`mv S G/F; mkdir S; mv G/F
            // S/S`), frees the name. Parked meanwhile, as for a later entry (fuzz 260000/123).
            const own = store.items.getByRemoteId(created.id);
            if (own && own.id !== item.id && (own.parentId !== item.parentId || nameKey(own.name) !== nameKey(item.name))) {
              created = await this.parkedFolder(graph, item, parentRemoteId);
            } else if (!created.folder) {
              // A file there may be the landed upload of a file deleted or moved here: it goes, and
              // the folder is made after all.
              let made: DriveItem | undefined;
              if (await this.freeFromLandedCopy(graph, item.parentId!, parentRemoteId, item.name, created)) {
                try {
                  made = await graph.createFolder(parentRemoteId, item.name, 'fail');
                } catch (again) {
                  if (!isNameConflict(again)) throw again;
                }
              }
              if (!made) return this.keepUnderConflictName(e, item.id, err);
              created = made;
            }
          }
        }
        // Without a server id, a folder removed or moved here while the request was on its way
        // changed locally only (vfs rmdir, rename): the folder made follows (fuzz 14000/92).
        const now = store.items.get(item.id);
        store.transaction(() => {
          if (!now) {
            const driveId = this.o.toRecord(created).driveId;
            store.journal.append({ kind: 'rmdir', itemId: item.id, parentId: item.parentId, name: created.name, baseEtag: created.eTag ?? null, payload: { remoteId: created.id, ...(driveId ? { driveId } : {}) } });
            return;
          }
          store.items.setRemoteId(item.id, created.id);
          store.items.noteChangedHere(item.id, created.id);
          if (now.parentId === item.parentId && now.name === created.name) store.items.upsert(this.o.toRecord(created));
          else store.journal.append({ kind: 'rename', itemId: item.id, parentId: item.parentId, name: created.name, newParentId: now.parentId, newName: now.name });
        });
        return;
      }
      case 'rename': {
        const item = store.items.get(e.itemId);
        if (!item || item.remoteId === null) return;
        const parentRemoteId = this.remoteIdOf(item.parentId!);
        if (parentRemoteId === null) throw new WaitForParent(item.parentId!);
        // Where the item is now locally (later local renames are folded into this one).
        const patch = { name: item.name, parentReference: { id: parentRemoteId } };
        let moved: DriveItem | undefined;
        try {
          moved = await graph.update(item.remoteId, patch);
        } catch (err) {
          if (isNotFound(err)) return; // deleted remotely: delta will take it away (an edit of it is re-uploaded)
          if (!isNameConflict(err)) throw err;
          // What holds the name may be the landed upload of a file deleted or moved here, which
          // delta would delete on sight: it goes now, and the rename is sent again (fuzz 243000/301;
          // or the copy's own upload took it away meanwhile: 263000/176).
          if (await this.freeFromLandedCopy(graph, item.parentId!, parentRemoteId, item.name)) {
            try {
              moved = await graph.update(item.remoteId, patch);
            } catch (again) {
              if (isNotFound(again)) return;
              if (!isNameConflict(again)) throw again;
            }
          }
          if (moved === undefined) {
            // Renames fold into the item's latest place, which a later offline change may be the one
            // to free (a rename over a file that was deleted after this entry): that one goes first.
            // It may need this item out of the way itself (a folder flattened offline: `mv G/F F;
            // rmdir G; mv F G` — G is not empty on the server while F is in it): the item steps
            // aside into its new folder under a name of its own meanwhile (fuzz 31000/64).
            if (this.freedLater(e, item.parentId!, item.name)) {
              const aside = await graph.update(item.remoteId, { ...patch, name: `${PARKING_PREFIX}${item.inode}` });
              store.items.update(item.id, { etag: aside.eTag ?? null });
              throw new WaitForName(item.name, err);
            }
            const name = conflictCopyName(item.name, new Date(this.now()), this.o.hostName);
            const renamed = await graph.update(item.remoteId, { ...patch, name });
            this.adopt(item.id, renamed);
            this.conflict(item.id, 'name-clash', name, `renamed to ${name}: the name was taken on the server`);
            return;
          }
        }
        // The item's later renames were folded into this one, or were queued while it was on its
        // way: either way the server holds the item where this one sent it, which is the place
        // those entries must name as their origin (what a delete of it frees there: vfs remove).
        for (const later of store.journal.list({ itemId: item.id, states: ['pending', 'uploading'] })) {
          if (later.kind === 'rename' && later.seq !== e.seq) store.journal.setOrigin(later.seq, item.parentId, item.name);
        }
        // Renamed here again while this was on its way: the local place stands, and the later
        // entry the vfs queued takes it to the server (fuzz 15000/178).
        const now = store.items.get(item.id);
        if (now && (now.parentId !== item.parentId || now.name !== item.name)) {
          store.items.update(item.id, { etag: moved.eTag ?? null });
          store.items.noteChangedHere(item.id, moved.id);
        } else this.adopt(item.id, moved);
        return;
      }
      case 'unlink':
      case 'rmdir': {
        // The item is gone locally: the entry carries the server id it had (older entries: the key was it).
        const remoteId = e.payload?.remoteId ?? (isLocalId(e.itemId) ? null : e.itemId);
        if (remoteId === null) return;
        // A copy landed where its file no longer is, at a place an upload attempt sends a file to
        // right now: it may be that attempt's landing, and its answer says (the commit drops this
        // entry when the copy is the file). Deleted first, the file's server copy would be gone.
        if (isLandedCopyKey(e.itemId) && e.parentId !== null && e.name !== null && store.deletedUploads.sendingTo(e.parentId, e.name)) {
          // Tried again as soon as that attempt ends (not at the next retry, seconds later).
          void store.deletedUploads.sendingEnded(e.parentId, e.name).then(() => this.kick());
          throw new WaitForUpload(e.name);
        }
        if (e.kind === 'rmdir') {
          let remote: DriveItem;
          try {
            remote = await graph.getItem(remoteId);
          } catch (err) {
            if (isNotFound(err)) return;
            throw err;
          }
          if ((remote.folder?.childCount ?? 0) > 0) {
            // What it holds there may be items deleted here later whose move out of it was folded
            // into that delete (`mv Sub/b b; rm b; rmdir Sub` offline: fuzz 63000/64): those
            // deletes go first.
            if (await this.emptiedLater(graph, remoteId)) throw new WaitForDeletes(e.name ?? remoteId);
            this.conflict(e.itemId, 'both-modified', null, `not deleted on the server: it holds ${remote.folder?.childCount} item(s) this device did not delete`);
            return;
          }
        }
        try {
          await graph.deleteItem(remoteId, e.baseEtag ? { ifMatch: e.baseEtag } : {});
          store.items.noteChangedHere(remoteId);
        } catch (err) {
          if (isNotFound(err)) return;
          if (!isPreconditionFailed(err)) throw err;
          if (e.kind === 'unlink' && (await this.deleteIfOnlyRenamed(graph, remoteId, e))) return;
          this.conflict(e.itemId, 'both-modified', null, 'not deleted on the server: it changed there after it was deleted here');
        }
        return;
      }
      case 'setattr': {
        const item = store.items.get(e.itemId);
        if (!item || item.remoteId === null || e.payload?.mtimeMs === undefined) return;
        const when = new Date(Math.floor(e.payload.mtimeMs / 1000) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
        try {
          const updated = await graph.update(item.remoteId, { fileSystemInfo: { lastModifiedDateTime: when } });
          this.adopt(item.id, updated);
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        return;
      }
      default:
        return;
    }
  }

  /**
   * A namespace change the server refused for good: the item takes the server's place and name
   * again (a refused rename is undone, a refused delete brings the item back), so the mount never
   * shows what the server does not hold.
   */
  private async followServer(e: JournalEntry, graph: ReplayGraph): Promise<void> {
    const { store } = this.o;
    if (e.kind !== 'rename' && e.kind !== 'unlink' && e.kind !== 'rmdir' && e.kind !== 'setattr') return;
    const remoteId = store.items.get(e.itemId)?.remoteId ?? e.payload?.remoteId ?? (isLocalId(e.itemId) ? null : e.itemId);
    if (!remoteId) return;
    let remote: DriveItem;
    try {
      remote = await graph.getItem(remoteId);
    } catch (err) {
      if (isNotFound(err)) return; // gone on the server too: delta removes it here
      throw err;
    }
    const record = this.o.toRecord(remote);
    if (record.parentId !== null && !store.items.get(store.items.keyOf(record.parentId))) return; // its folder is not here: delta brings both
    const clash = { onNameClash: (occupant: { name: string }) => conflictCopyName(occupant.name, new Date(this.now()), this.o.hostName) };
    const local = store.items.get(store.items.keyOf(remoteId));
    if (local && store.content.get(local.id)?.status === 'dirty') {
      // Its local bytes stay: only its place follows the server.
      store.items.upsert({ ...record, id: local.id, size: local.size, mtimeMs: local.mtimeMs, etag: local.etag, ctag: local.ctag, quickXorHash: local.quickXorHash }, clash);
    } else {
      store.items.upsert(record, clash);
    }
    this.o.logger.warn({ path: this.path(e.itemId), kind: e.kind }, `the server refused this ${e.kind}; the item is back as the server holds it`);
  }

  /** `name` in the folder `parentKey`, as the mount shows it (the server's path unless a change above is not sent yet). */
  private localPath(parentKey: string, name: string): string | undefined {
    const parentPath = this.o.store.items.pathOf(parentKey);
    if (parentPath === undefined) return undefined;
    return parentPath === '/' ? `/${name}` : `${parentPath}/${name}`;
  }

  /**
   * What holds `name` in the folder is an upload of a file deleted or moved away here that landed
   * there: it goes now, before delta would have seen it (landed-copy.ts). A copy of the item
   * itself counts too: what is replayed here is an item the server knows (a rename) or a folder,
   * so such a copy is a stale duplicate, not the item. True when the name is free now.
   */
  private async freeFromLandedCopy(graph: ReplayGraph, parentKey: string, parentRemoteId: string, name: string, occupant?: DriveItem): Promise<boolean> {
    const path = this.localPath(parentKey, name);
    if (path === undefined) return false;
    return deleteCopyOfDeleted(graph, this.o.store, { parentKey, name, path, inFolder: (found) => this.o.toRecord(found).parentId === parentRemoteId }, occupant);
  }

  /**
   * The folder made under its parking name, which is this item's alone (it names its inode): one
   * already there is the folder an earlier pass made, its answer lost, not a second one to make.
   */
  private async parkedFolder(graph: ReplayGraph, item: StoredItem, parentRemoteId: string): Promise<DriveItem> {
    const name = `${PARKING_PREFIX}${item.inode}`;
    try {
      return await graph.createFolder(parentRemoteId, name, 'fail');
    } catch (err) {
      if (!isNameConflict(err)) throw err;
      const path = this.localPath(item.parentId!, name);
      let made: DriveItem | undefined;
      try {
        made = path === undefined ? undefined : await graph.getItemByPath(path);
      } catch (lookup) {
        // The local path is not the server's (a rename of a folder above not sent yet).
        if (!isNotFound(lookup)) throw lookup;
      }
      // Made by us and left empty (nothing could go into a folder whose answer never came), in
      // this folder (a share's root is named by the shortcut: toRecord maps it).
      if (made?.folder && (made.folder.childCount ?? 0) === 0 && this.o.toRecord(made).parentId === parentRemoteId) return made;
      return graph.createFolder(parentRemoteId, name, 'rename');
    }
  }

  /** A pending entry after `e` deletes or moves away what holds `name` in the folder. */
  private freedLater(e: JournalEntry, parentId: string, name: string): boolean {
    return nameLeavingByReplay(this.o.store, parentId, name, { exceptItemId: e.itemId, afterSeq: e.seq });
  }

  /** Every item the server folder holds is one an offline change not replayed yet removes from it. */
  private async emptiedLater(graph: ReplayGraph, folderRemoteId: string): Promise<boolean> {
    for await (const page of graph.listChildren(folderRemoteId, { select: ['id'] })) {
      if (page.some((child) => !serverItemLeavingByReplay(this.o.store, child.id))) return false;
    }
    return true;
  }

  /** The server's id of a folder, null while it waits to be created there. */
  private remoteIdOf(itemId: string): string | null {
    return this.o.store.items.get(itemId)?.remoteId ?? null;
  }

  /** The server's answer for a replayed item; a file with local changes keeps its local size. */
  private adopt(itemId: string, answer: DriveItem): void {
    const { store } = this.o;
    // A delta batch asked for before this answer must not undo it (docs/concurrency.md §2).
    store.items.noteChangedHere(itemId, answer.id);
    const record = this.o.toRecord(answer);
    if (store.content.get(itemId)?.status === 'dirty') store.items.update(itemId, { etag: record.etag ?? null });
    else store.items.upsert(record);
  }

  private keepUnderConflictName(e: JournalEntry, itemId: string, cause: unknown): never {
    const item = this.o.store.items.get(itemId)!;
    const name = conflictCopyName(item.name, new Date(this.now()), this.o.hostName);
    this.o.store.items.move(itemId, item.parentId!, name);
    this.conflict(itemId, 'name-clash', name, `a file with this name exists on the server; the folder is kept as ${name}`);
    // The entry stays pending and is replayed under the new name.
    throw new WaitForParent(`${e.seq}`, cause);
  }

  /**
   * A delete refused because the file's eTag moved on: if the server still holds the bytes deleted
   * here (a rename or move changes the eTag, not the cTag), only its place changed; if it holds a
   * version this engine sent (an upload cut off by the outage that landed after all), the delete
   * covers it too. Either way the delete goes ahead, conditional on the version just read. Another
   * edit means a real conflict.
   */
  private async deleteIfOnlyRenamed(graph: ReplayGraph, remoteId: string, e: JournalEntry): Promise<boolean> {
    const base = { etag: e.baseEtag, ctag: e.payload?.baseCtag ?? null, quickXorHash: e.payload?.quickXorHash ?? null };
    const sent = e.payload?.sentHashes ?? [];
    if (!base.ctag && !base.quickXorHash && sent.length === 0) return false;
    let remote: DriveItem;
    try {
      remote = await graph.getItem(remoteId);
    } catch (err) {
      if (isNotFound(err)) return true;
      throw err;
    }
    const remoteHash = remote.file?.hashes?.quickXorHash;
    const ours = remoteHash !== undefined && sent.some((hash) => sameQuickXorHash(hash, remoteHash));
    if (!remote.file || !remote.eTag || !(ours || sameContent(base, versionOf(remote)))) return false;
    try {
      await graph.deleteItem(remoteId, { ifMatch: remote.eTag });
    } catch (err) {
      if (isNotFound(err)) return true;
      if (isPreconditionFailed(err)) return false;
      throw err;
    }
    this.o.logger.info({ itemId: e.itemId, remoteId }, 'deleted on the server: it had only been renamed or moved since');
    return true;
  }

  private conflict(itemId: string, reason: 'name-clash' | 'both-modified', localCopyName: string | null, detail: string): void {
    const path = this.path(itemId);
    this.o.store.conflicts.record({ itemId, path, reason, localCopyName });
    this.o.logger.warn({ itemId, path, reason }, `conflict: ${path}: ${detail}`);
    this.events.emit('conflict', { itemId, path, reason, detail });
  }
}

/** The entry depends on a folder not created on the server yet; it is retried on the next pass. */
class WaitForParent extends Error {
  constructor(parentId: string, cause?: unknown) {
    super(`waiting for ${parentId} to be created on the server`, { cause });
  }
}

/** The folder is emptied on the server by later deletes of this pass; it is retried on the next pass. */
class WaitForDeletes extends WaitForParent {
  constructor(name: string) {
    super(name);
    this.message = `waiting for later offline deletes to empty ${name} on the server`;
  }
}

/** A landed copy's delete waits for the upload attempt sending a file to its place (deleted-uploads.ts). */
class WaitForUpload extends WaitForParent {
  constructor(name: string) {
    super(name);
    this.message = `waiting for the upload sending a file to ${name} to end`;
  }
}

/** The entry's name is freed by a later entry of this pass; it is retried on the next pass. */
class WaitForName extends WaitForParent {
  constructor(name: string, cause: unknown) {
    super(name, cause);
    this.message = `waiting for ${name} to be freed by a later offline change`;
  }
}

/** The same requests, each stopped by `signal`. */
function withSignal(graph: ReplayGraph, signal: AbortSignal): ReplayGraph {
  return {
    createFolder: (parentId, name, conflictBehavior, options) => graph.createFolder(parentId, name, conflictBehavior, { ...options, signal }),
    update: (id, patch, options) => graph.update(id, patch, { ...options, signal }),
    deleteItem: (id, options) => graph.deleteItem(id, { ...options, signal }),
    getItem: (id, options) => graph.getItem(id, { ...options, signal }),
    getItemByPath: (path, options) => graph.getItemByPath(path, { ...options, signal }),
    listChildren: (id, options) => graph.listChildren(id, { ...options, signal }),
  };
}
