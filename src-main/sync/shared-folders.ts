/**
 * Shared folders added to the drive (docs/graph-api.md §2.2, §15 #15): a `remote` item is a shortcut
 * to a folder of another drive. Its content is served like any folder of the mount, but:
 *
 * - Every request about an item below it goes to that drive (`/drives/{driveId}/items/{id}`), and
 *   a request for the shortcut's children to the folder it points to: this class is the Graph
 *   client's DriveRouter, answering from the store (and from answers not stored yet).
 * - Its changes never appear in the user's delta: each shared folder has its own delta on its own
 *   drive — a folder delta on Personal, the drive's root delta on Business (which serves delta only
 *   at a drive's root; what lies outside the folder is left out here). They are polled after each
 *   run of the main delta, so pausing sync (the user, an outage, offline changes replaying) pauses
 *   them too. A batch is applied by the same BatchApplier as the main delta: local edits are kept.
 * - What the share grants (read or write, `GET …/permissions`) is kept per share. Known read-only,
 *   a change below it is refused at once with EACCES (checkWrite); a rename between two drives is
 *   EXDEV (programs like mv then copy and delete). Unknown, the server's 403 maps to EACCES.
 */
import { Alarm } from '../base/alarm.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';
import { errorMessage } from '../base/errors.ts';
import type { Logger } from '../base/logger.ts';
import { TypedEmitter } from '../base/typed-emitter.ts';
import { GraphApiError, isNotFound, isResyncRequired, type DriveItem, type DriveRouter, type GraphClient, type ItemAddress } from '../graph/index.ts';
import type { TaskHandle, TaskRegistry } from '../lifecycle/task-registry.ts';
import type { ShutdownAware, ShutdownStep } from '../lifecycle/participation.ts';
import type { SharedFolder, Store, StoredItem } from '../store/index.ts';
import { applyAsTheyAreNow, BatchApplier, readCurrent, type ChangeSet, type ContentInvalidator } from './delta-apply.ts';
import { planBatch } from './delta-plan.ts';
import { DELTA_SELECT, normalizeDriveId, sameDrive } from './drive-item-mapping.ts';
import { LoopYielder } from './loop-yielder.ts';
import { walkSubtree } from './store-walk.ts';

/** What SharedFolders needs from the Graph client. */
export type SharedFoldersGraph = Pick<GraphClient, 'delta' | 'deltaStart' | 'getPermissionRoles' | 'getItem'>;

export interface SharedFoldersOptions {
  graph: SharedFoldersGraph;
  store: Store;
  invalidator: ContentInvalidator;
  logger: Logger;
  tasks?: TaskRegistry;
  /** Business serves delta only at a drive's root (docs/graph-api.md §5). */
  driveMode: () => 'personal' | 'business';
  pageSize?: number;
  applyChunk?: number;
  now?: () => number;
}

export interface SharedFoldersEvents {
  /** Items one committed chunk of a share's batch changed. */
  changed: ChangeSet;
  /** One share's sync failed (it is tried again after the next main delta run). */
  error: { itemId: string; error: unknown };
  /** A share's batch was applied. */
  /** `deletedHere`: landed uploads of files deleted here that the batch journaled for deletion. */
  applied: { itemId: string; added: number; updated: number; removed: number; deletedHere: number; full: boolean };
}

/** Why a change below a shared folder is refused locally. */
export class ShareAccessError extends Error {
  constructor(
    readonly errno: 'EACCES' | 'EXDEV',
    message: string,
  ) {
    super(message);
    this.name = 'ShareAccessError';
  }
}

/** An owner can change what a share allows any time: it is asked again this often. */
const ACCESS_RECHECK_MS = DEFAULT_TIMEOUTS.sharedAccessRecheckMs;

/** Ids of other drives' items learned from answers before the store holds them; bounded. */
const LEARNED_LIMIT = 10_000;

export class SharedFolders implements DriveRouter, ShutdownAware {
  readonly events: TypedEmitter<SharedFoldersEvents>;
  readonly #o: SharedFoldersOptions;
  readonly #store: Store;
  readonly #learned = new Map<string, string>();
  readonly #now: () => number;
  #task: TaskHandle | undefined;
  readonly #alarm = new Alarm();
  #wanted = false;
  #shortcutsSeen: { generation: number; any: boolean } | undefined;

  constructor(options: SharedFoldersOptions) {
    this.#o = options;
    this.#store = options.store;
    this.#now = options.now ?? Date.now;
    this.events = new TypedEmitter<SharedFoldersEvents>((error, event) => options.logger.error({ err: error, event }, `a shared-folders "${event}" listener failed`));
  }

  // ── routing (DriveRouter) ─────────────────────────────────────────────────

  item(remoteId: string): ItemAddress | undefined {
    const item = this.#store.items.getByRemoteId(remoteId);
    if (!item) {
      const driveId = this.#learned.get(remoteId);
      if (driveId !== undefined) return { driveId, itemId: remoteId };
      // A shared folder named by its own id (the parentReference of an item in it): its shortcut
      // holds it under the shortcut's id, and knows its drive.
      const shortcut = this.#store.items.listShortcuts().find((s) => s.remoteItemId === remoteId && s.remoteDriveId !== null);
      return shortcut ? { driveId: shortcut.remoteDriveId!, itemId: remoteId } : undefined;
    }
    const driveId = item.driveId ?? this.#enclosingShortcut(item, 'item')?.remoteDriveId ?? null;
    return driveId === null ? undefined : { driveId, itemId: remoteId };
  }

  folder(remoteId: string): ItemAddress | undefined {
    const item = this.#store.items.getByRemoteId(remoteId);
    const target = item && targetOf(item);
    return target ?? this.item(remoteId);
  }

  path(path: string): { folder: ItemAddress; rest: string } | undefined {
    const parts = path.split('/').filter((part) => part.length > 0);
    let current = this.#store.items.getRoot();
    for (let i = 0; i < parts.length && current; i++) {
      current = this.#store.items.getChild(current.id, parts[i]!);
      const target = current && targetOf(current);
      if (target) return { folder: target, rest: parts.slice(i + 1).join('/') };
    }
    return undefined;
  }

  learn(item: DriveItem): void {
    const driveId = item.parentReference?.driveId;
    const own = this.#store.driveState.get('driveId');
    if (driveId === undefined || own === undefined || sameDrive(driveId, own) || item.root !== undefined) return;
    this.remember({ driveId, itemId: item.id });
  }

  remember(at: ItemAddress): void {
    this.#learned.delete(at.itemId);
    this.#learned.set(at.itemId, normalizeDriveId(at.driveId));
    if (this.#learned.size > LEARNED_LIMIT) this.#learned.delete(this.#learned.keys().next().value!);
  }

  denied(at: ItemAddress, method: string): void {
    const item = this.#store.items.getByRemoteId(at.itemId);
    const shortcut = item ? this.#enclosingShortcut(item, 'container') : this.#store.items.listShortcuts().find((s) => s.remoteItemId === at.itemId);
    if (!shortcut) return;
    const share = this.#store.sharedFolders.get(shortcut.id);
    this.#o.logger.warn(
      { sharedFolder: shortcut.name, method, itemId: at.itemId },
      `the owner of "${shortcut.name}" did not let us change it (403 accessDenied); it is treated as read-only from now on`,
    );
    if (share && share.access !== 'read') this.#store.sharedFolders.setAccess(shortcut.id, 'read', this.#now());
  }

  /**
   * A server answer's parent, as the store names it: the folder a shortcut points to is the
   * shortcut (children of a shared folder hang below the shortcut on the mount).
   */
  localParent(parentRemoteId: string): string {
    if (this.#store.items.getByRemoteId(parentRemoteId)) return parentRemoteId;
    const shortcut = this.#store.items.listShortcuts().find((s) => s.remoteItemId === parentRemoteId);
    return shortcut?.remoteId ?? parentRemoteId;
  }

  // ── access ────────────────────────────────────────────────────────────────

  /**
   * The shared folder `item` is in. `container`: `item` is where something is created (a shortcut
   * counts as the shared folder itself); `item`: `item` is what changes (the shortcut itself is an
   * item of the user's own drive).
   */
  shareOf(item: StoredItem, role: 'container' | 'item'): { shortcut: StoredItem; folder: SharedFolder | undefined } | undefined {
    if (!this.#anyShortcut()) return undefined;
    const shortcut = this.#enclosingShortcut(item, role);
    return shortcut && { shortcut, folder: this.#store.sharedFolders.get(shortcut.id) };
  }

  driveOf(item: StoredItem): string | undefined {
    return item.remoteId === null ? undefined : this.item(item.remoteId)?.driveId;
  }

  /** Throws ShareAccessError(EACCES) for a change below a shared folder known to be read-only. */
  checkWrite(item: StoredItem, role: 'container' | 'item', path: string): void {
    const share = this.shareOf(item, role);
    if (share?.folder?.access !== 'read') return;
    const message = `${path}: "${share.shortcut.name}" is shared with you read-only; the change was refused`;
    this.#o.logger.warn({ path, sharedFolder: share.shortcut.name }, message);
    throw new ShareAccessError('EACCES', message);
  }

  /** A rename stays within one drive (EXDEV otherwise) and in a folder that may be written. */
  checkRename(item: StoredItem, newParent: StoredItem, from: string, to: string): void {
    const source = this.shareOf(item, 'item');
    const target = this.shareOf(newParent, 'container');
    if ((source?.shortcut.id ?? null) !== (target?.shortcut.id ?? null)) {
      throw new ShareAccessError('EXDEV', `${from} → ${to}: a shared folder is another drive; items are copied between drives, not moved`);
    }
    this.checkWrite(item, 'item', from);
  }

  /** 'read', 'write', or undefined (not shared, or not known yet) for the status attributes. */
  accessOf(item: StoredItem): 'read' | 'write' | 'unknown' | undefined {
    const share = this.shareOf(item, 'container');
    if (!share) return undefined;
    return share.folder?.access ?? 'unknown';
  }

  /**
   * Whether the drive holds a shortcut at all, asked again after any change of the items: most
   * drives have none, and every create, open for writing, rename and delete asks shareOf, whose
   * walk up the folders costs a row read per level.
   */
  #anyShortcut(): boolean {
    const generation = this.#store.items.generation;
    if (this.#shortcutsSeen?.generation !== generation) this.#shortcutsSeen = { generation, any: this.#store.items.hasShortcuts() };
    return this.#shortcutsSeen.any;
  }

  #enclosingShortcut(item: StoredItem, role: 'container' | 'item'): StoredItem | undefined {
    let current: StoredItem | undefined = role === 'container' ? item : item.parentId === null ? undefined : this.#store.items.get(item.parentId);
    for (let depth = 0; current && depth < 1000; depth++) {
      if (current.kind === 'remote') return current;
      current = current.parentId === null ? undefined : this.#store.items.get(current.parentId);
    }
    return undefined;
  }

  // ── sync ──────────────────────────────────────────────────────────────────

  /** The loop (task "shared-folders-sync"): one pass over every share after each kick(). */
  start(): void {
    if (this.#task || !this.#o.tasks) return;
    this.#task = this.#o.tasks.start('shared-folders-sync', async (signal) => {
      while (!signal.aborted) {
        if (!this.#wanted) {
          await this.#alarm.sleep(Number.POSITIVE_INFINITY, signal);
          continue;
        }
        this.#wanted = false;
        await this.syncAll(signal);
      }
    });
  }

  /** Asks for a pass (the main delta just ran); passes asked for while one runs become one more. */
  kick(): void {
    this.#wanted = true;
    this.#alarm.wake();
  }

  async stop(): Promise<void> {
    this.#task?.abort();
    await this.#task?.done;
  }

  /** Shutdown: the shares' syncs stop with the main delta, before uploads finish and the store closes. */
  shutdownSteps(): readonly ShutdownStep[] {
    return [{ phase: 'stop-sync', name: 'shared folders', run: () => this.stop() }];
  }

  /** Syncs every shared folder once; one failing share does not stop the others. */
  async syncAll(signal?: AbortSignal): Promise<void> {
    for (const shortcut of this.#store.items.listShortcuts()) {
      if (signal?.aborted) return;
      const target = targetOf(shortcut);
      if (!target) continue;
      try {
        await this.syncOne(shortcut, target, signal);
      } catch (error) {
        if (signal?.aborted) return;
        this.#o.logger.warn({ err: error, sharedFolder: shortcut.name }, `could not sync the shared folder "${shortcut.name}"; trying again after the next poll`);
        if (this.#store.items.get(shortcut.id)) this.#store.sharedFolders.failed(shortcut.id, errorMessage(error));
        this.events.emit('error', { itemId: shortcut.id, error });
      }
    }
  }

  async syncOne(shortcut: StoredItem, target: ItemAddress, signal?: AbortSignal): Promise<void> {
    // Changes made here from now on are newer than what this batch may say of their items
    // (docs/concurrency.md §2, as for the main delta).
    const mark = this.#store.items.openChangeWindow();
    try {
      await this.#syncOnce(shortcut, target, mark, signal);
    } finally {
      this.#store.items.closeChangeWindow();
    }
  }

  async #syncOnce(shortcut: StoredItem, target: ItemAddress, mark: number, signal: AbortSignal | undefined): Promise<void> {
    const store = this.#store;
    let share = store.sharedFolders.track(shortcut.id, target.driveId, target.itemId);
    if (share.access === null || this.#now() - (share.accessCheckedMs ?? 0) >= ACCESS_RECHECK_MS) share = await this.#learnAccess(shortcut, target, signal);
    const business = this.#o.driveMode() === 'business';
    const pageSize = this.#o.pageSize ?? 1000;
    const start = this.#o.graph.deltaStart(target, { root: business, top: pageSize, select: DELTA_SELECT });
    let full = share.deltaLink === null;
    let batch;
    let gone: string | undefined;
    try {
      batch = await this.#o.graph.delta(share.deltaLink ?? start, { signal });
    } catch (error) {
      if (isGone(error)) {
        // Deleted by its owner, or no longer shared with us (the shortcut may outlive it).
        batch = { items: [{ id: target.itemId, deleted: {} }], deltaLink: share.deltaLink ?? start, pages: 0 };
        gone = errorMessage(error);
        if (store.items.countChildren(shortcut.id) === 0) {
          store.sharedFolders.failed(shortcut.id, errorMessage(error));
          return;
        }
      } else {
        if (full || !isResyncRequired(error)) throw error;
        this.#o.logger.warn({ err: error, sharedFolder: shortcut.name }, 'the shared folder\'s delta token was refused; enumerating it again');
        full = true;
        batch = await this.#o.graph.delta((error as GraphApiError).location ?? start, { signal });
      }
    }
    if (!store.items.get(shortcut.id)) return;
    const items = this.#scope(batch.items, shortcut, target, business);
    if (items.folderGone) gone ??= 'the shared folder was deleted by its owner';
    const yielder = new LoopYielder(20, signal);
    const own = store.driveState.get('driveId');
    const plan = await planBatch(items.live, {
      full: false,
      driveId: target.driveId,
      ownDriveId: own,
      inStore: (id) => store.items.get(store.items.keyOf(id)) !== undefined,
      yielder,
    });
    if (full || items.folderGone) {
      // What a full enumeration of the share does not list is gone (§5), local edits excepted.
      for (const item of await walkSubtree(store, shortcut.id, pageSize, yielder)) {
        if (item.remoteId !== null && (items.folderGone || !plan.live.has(item.remoteId)) && !plan.removals.has(item.remoteId)) {
          plan.removals.set(item.remoteId, items.folderGone ? 'deleted' : 'unseen');
        }
      }
    }
    if (items.folderGone && share.lastError === null) {
      this.#o.logger.warn({ sharedFolder: shortcut.name, reason: gone }, `"${shortcut.name}" can no longer be reached in its owner's drive (deleted, or no longer shared); its content leaves the mount, local edits excepted`);
    }
    // `since`: the change clock when the records were asked for (what changed here after is left alone).
    const applierFor = (current: boolean, since: number) =>
      new BatchApplier({
        store,
        invalidator: this.#o.invalidator,
        logger: this.#o.logger,
        chunkSize: this.#o.applyChunk ?? 2000,
        pageSize,
        yielder,
        current,
        changedHere: (id: string) => store.items.changedHereSince(id, since),
        deletes: store.items,
        onChanged: (change) => this.events.emit('changed', change),
        onInvalidateError: (error, itemId) => this.#o.logger.error({ err: error, itemId }, 'could not drop the cached content of a changed item of a shared folder'),
      });
    const applier = applierFor(false, mark);
    const counts = await applier.apply(plan, false, () => {
      if (!store.items.get(shortcut.id)) return;
      // A share that is gone keeps its link (and its error) for when it comes back.
      if (gone !== undefined) {
        store.sharedFolders.failed(shortcut.id, gone);
        // If it comes back, what was removed here must be listed again: start from a full enumeration.
        store.sharedFolders.resetDeltaLink(shortcut.id);
      } else store.sharedFolders.synced(shortcut.id, batch.deltaLink, this.#now());
    });
    if (applier.staleRecords.length && store.items.get(shortcut.id)) {
      // Records possibly older than the store (BatchApplier staleRecords): as they are now. What
      // changed here at every read waits for the share's next pass.
      await applyAsTheyAreNow(
        store,
        applier.staleRecords,
        async (stale) => {
          const current = this.#scope(await readCurrent(this.#o.graph, stale, signal), shortcut, target, false);
          return planBatch(current.live, { full: false, driveId: target.driveId, ownDriveId: own, inStore: (id) => store.items.get(store.items.keyOf(id)) !== undefined, yielder });
        },
        (since) => applierFor(true, since),
      );
    }
    if (counts.added + counts.updated + counts.removed > 0 || full) {
      this.#o.logger.info({ sharedFolder: shortcut.name, ...counts, full }, full ? 'shared folder enumerated' : 'shared folder changes applied');
    }
    this.events.emit('applied', { itemId: shortcut.id, added: counts.added, updated: counts.updated, removed: counts.removed, deletedHere: counts.deletedHere, full });
  }

  async #learnAccess(shortcut: StoredItem, target: ItemAddress, signal: AbortSignal | undefined): Promise<SharedFolder> {
    try {
      const roles = await this.#o.graph.getPermissionRoles(target, signal ? { signal } : {});
      const access = roles.includes('write') || roles.includes('owner') ? 'write' : roles.includes('read') ? 'read' : null;
      this.#store.sharedFolders.setAccess(shortcut.id, access, this.#now());
      this.#o.logger.info({ sharedFolder: shortcut.name, roles }, `"${shortcut.name}" is shared with you ${access === 'read' ? 'read-only' : access === 'write' ? 'read-write' : 'with unknown access'}`);
    } catch (error) {
      if (signal?.aborted) throw error;
      // A known answer holds until the next check; an unknown one is asked again at the next pass.
      const known = this.#store.sharedFolders.get(shortcut.id)?.access ?? null;
      if (known !== null) this.#store.sharedFolders.setAccess(shortcut.id, known, this.#now());
      // Unknown access is not fatal: a refused write then answers 403, which is EACCES too.
      this.#o.logger.warn({ err: error, sharedFolder: shortcut.name }, `could not learn what "${shortcut.name}" allows; the server will say when a change is refused`);
    }
    return this.#store.sharedFolders.get(shortcut.id)!;
  }

  /**
   * The share's part of a batch, as children of the shortcut: the shared folder itself is the
   * shortcut (its own record is dropped; its children name the shortcut as parent), and on a root
   * delta (Business) only what lies below the shared folder is kept.
   */
  #scope(items: readonly DriveItem[], shortcut: StoredItem, target: ItemAddress, rootDelta: boolean): { live: DriveItem[]; folderGone: boolean } {
    const shortcutRemoteId = shortcut.remoteId ?? shortcut.id;
    let folderGone = false;
    const parents = new Map<string, string | undefined>();
    for (const item of items) parents.set(item.id, item.parentReference?.id);
    const inside = (item: DriveItem): boolean => {
      if (!rootDelta) return true;
      let id: string | undefined = item.id;
      for (let depth = 0; id !== undefined && depth < 1000; depth++) {
        const parent: string | undefined = parents.has(id) ? parents.get(id) : undefined;
        if (parent === target.itemId) return true;
        if (!parents.has(id) || parent === undefined) {
          // Outside the batch: the store knows whether it is below this shortcut.
          const stored = this.#store.items.getByRemoteId(parent ?? id);
          return stored !== undefined && (stored.id === shortcut.id || this.#enclosingShortcut(stored, 'container')?.id === shortcut.id);
        }
        id = parent;
      }
      return false;
    };
    const live: DriveItem[] = [];
    for (const item of items) {
      if (item.id === target.itemId) {
        if (item.deleted) folderGone = true;
        continue;
      }
      if (item.root !== undefined || !inside(item)) continue;
      if (item.parentReference?.id === target.itemId) {
        live.push({ ...item, parentReference: { ...item.parentReference, id: shortcutRemoteId } });
      } else {
        live.push(item);
      }
    }
    return { live, folderGone };
  }
}

/** The share's folder is gone for us: deleted (404) or no longer shared (403). */
function isGone(error: unknown): boolean {
  return isNotFound(error) || (error instanceof GraphApiError && error.status === 403);
}

/** The folder a shortcut points to. */
function targetOf(item: StoredItem): ItemAddress | undefined {
  if (item.kind !== 'remote' || item.remoteDriveId === null || item.remoteItemId === null) return undefined;
  return { driveId: item.remoteDriveId, itemId: item.remoteItemId };
}
