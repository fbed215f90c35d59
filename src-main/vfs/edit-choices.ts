/**
 * The user's choice for a local edit that met a server change before its upload could resolve it
 * (sync paused, offline, or the upload still waiting): keep mine, keep theirs, keep both. Each
 * ends in the state it names, here and, once uploads run, on the server:
 *
 * - mine: the server's current version becomes the edit's base, so the upload replaces it.
 * - theirs: the edit is dropped (journal, upload, local bytes); the server's version is read anew.
 * - both: the local bytes become a new file next to the original (`name (conflict … host).ext`),
 *   which uploads as such; the original goes back to the server's version.
 */
import { conflictCopyName, conflictFreeName } from '../../src-shared/model/names.ts';
import { isNotFound, type DriveItem, type GraphClient } from '../graph/index.ts';
import { ContentOwner } from '../transfers/index.ts';
import { newLocalId, RangeSet, type ItemRecord, type Store, type StoredItem } from '../store/index.ts';
import type { DownloadsPort, UploadsPort } from './vfs.ts';
import { VfsError } from './vfs-error.ts';

export interface EditChoicesOptions {
  store: Store;
  graph: Pick<GraphClient, 'getItem'>;
  downloads: Pick<DownloadsPort, 'cachePath' | 'cancel'>;
  uploads: Pick<UploadsPort, 'schedule' | 'cancel'>;
  toRecord: (item: DriveItem) => ItemRecord;
  hostName: string;
  /** The owner of the items' content; one over `store` and `downloads.cachePath` when absent. */
  content?: ContentOwner;
  now?: () => number;
}

export class EditChoices {
  readonly #o: EditChoicesOptions;
  readonly #now: () => number;
  readonly #content: ContentOwner;

  constructor(options: EditChoicesOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#content = options.content ?? new ContentOwner({ store: options.store, cachePath: (id) => options.downloads.cachePath(id) });
  }

  /** True when the item holds a local edit not uploaded yet (the choices below apply). */
  hasLocalEdit(itemId: string): boolean {
    return this.#o.store.content.get(itemId)?.status === 'dirty';
  }

  /** My version wins: it is uploaded over the server's current version. */
  async keepMine(itemId: string): Promise<void> {
    const { store } = this.#o;
    const item = this.#editedFile(itemId);
    const remote = await this.#serverVersion(item);
    store.transaction(() => {
      const content = store.content.get(itemId);
      if (content?.status !== 'dirty') throw new VfsError('EINVAL', `${store.items.pathOf(itemId) ?? itemId} has no local edit any more`);
      // The base moves to what the server holds now; the bytes stay, so the upload replaces it.
      this.#content.rebased(itemId, { etag: remote?.eTag ?? null, ctag: remote?.cTag ?? null }, content.ranges);
      store.items.update(itemId, { etag: remote?.eTag ?? null, ctag: remote?.cTag ?? null });
    });
    this.#o.uploads.schedule(itemId, { priority: 'high', immediately: true });
  }

  /** Their version wins: the local edit is dropped and the server's version is read from now on. */
  async keepTheirs(itemId: string): Promise<void> {
    const item = this.#editedFile(itemId);
    const remote = await this.#serverVersion(item);
    await this.#dropEdit(item, remote);
  }

  /** Both stay: the local bytes go to a new file next to the original, which returns to the server's version. Returns the copy's name. */
  async keepBoth(itemId: string): Promise<string> {
    const { store } = this.#o;
    const item = this.#editedFile(itemId);
    const remote = await this.#serverVersion(item);
    const copyId = newLocalId();
    await this.#content.copyFile(itemId, copyId, 'localFileCreated');
    const name = this.#freeName(item);
    const current = this.#editedFile(itemId);
    const now = this.#now();
    store.transaction(() => {
      store.items.insert({ id: copyId, parentId: current.parentId, name, kind: 'file', size: current.size, ctimeMs: now, mtimeMs: current.mtimeMs });
      this.#content.localFileCreated(copyId, RangeSet.whole(current.size));
      store.journal.append({ kind: 'create', itemId: copyId, parentId: current.parentId, name });
    });
    this.#o.uploads.schedule(copyId, { priority: 'high', immediately: true });
    await this.#dropEdit(current, remote);
    return name;
  }

  #editedFile(itemId: string): StoredItem {
    const item = this.#o.store.items.get(itemId);
    if (!item || item.kind !== 'file') throw new VfsError('ENOENT', `the file of this conflict is gone (${itemId})`);
    if (!this.hasLocalEdit(itemId)) throw new VfsError('EINVAL', `${this.#o.store.items.pathOf(itemId) ?? item.name} has no local edit any more`);
    return item;
  }

  /** The server's version now; undefined when the server no longer has the file. */
  async #serverVersion(item: StoredItem): Promise<DriveItem | undefined> {
    if (item.remoteId === null) return undefined;
    try {
      return await this.#o.graph.getItem(item.remoteId);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  async #dropEdit(item: StoredItem, remote: DriveItem | undefined): Promise<void> {
    const { store } = this.#o;
    await this.#o.uploads.cancel(item.id);
    await this.#o.downloads.cancel(item.id);
    store.transaction(() => {
      for (const entry of store.journal.list({ itemId: item.id, states: ['pending', 'uploading', 'failed'] })) {
        if (entry.kind === 'write' || entry.kind === 'create') store.journal.remove(entry.seq);
      }
      this.#content.editDropped(item.id);
      if (remote) store.items.upsert(this.#o.toRecord(remote));
      // Theirs is "deleted": the local file goes too.
      else store.items.deleteSubtree(item.id);
    });
  }

  #freeName(item: StoredItem): string {
    const copy = conflictCopyName(item.name, new Date(this.#now()), this.#o.hostName);
    return conflictFreeName(copy, (key) => this.#o.store.items.getChild(item.parentId!, key) !== undefined);
  }
}
