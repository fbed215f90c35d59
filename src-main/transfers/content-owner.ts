/**
 * The one owner of each file's local content (docs/concurrency.md §3): the cache file, its range
 * map and its state. Downloads, uploads, delta (through the download manager's invalidate), the
 * cleaner, the vfs, the edit choices and recovery ask it; nothing else writes a content row or
 * creates, truncates, renames, copies or deletes a cache file (both enforced by lint).
 *
 * Each method names an event of CONTENT_TRANSITIONS and is checked against it before anything
 * changes: a transition the table does not allow throws ContentTransitionError (code CONTENT_DIRTY
 * when it would drop local changes, which callers branch on; INVALID_TRANSITION otherwise).
 *
 * Serialization: a transition that only writes rows is one synchronous call, atomic by
 * construction (callers may put it in their store transaction with their own rows). A transition
 * that touches the cache file first runs under the item's lock, file step then row step, so two of
 * them for one item never interleave; different items do not wait for each other. Nothing under
 * the lock waits for the network.
 *
 * It lives in transfers/ (not vfs/) because the download manager and the upload worker, which use
 * it, sit below vfs and sync in the layer order.
 */
import { copyFile, rename, writeFile, type FileHandle } from 'node:fs/promises';
import { closeSync, constants as fsConstants, fdatasync, ftruncate, openSync, rmSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../base/files.ts';
import { KeyedMutex } from '../base/keyed-mutex.ts';
import { RangeSet, StoreError, type ContentState, type ContentStatus, type Store } from '../store/index.ts';
import { cacheFileLength, openCacheFile, removeCacheFile, resetCacheFile, writevFully } from './cache-files.ts';
import type { SpareCacheFiles } from './spare-cache-files.ts';

/** What content changes, by whom (the rows of the table in docs/concurrency.md §3). */
export type ContentEvent =
  | 'bytesArrived'
  | 'versionStarted'
  | 'emptyVersionStored'
  | 'badBytesDiscarded'
  | 'evicted'
  | 'localFileCreated'
  | 'localChangeStarted'
  | 'localChange'
  | 'contentReplaced'
  | 'rebased'
  | 'uploadCommitted'
  | 'copyUploaded'
  | 'serverVersionKept'
  | 'editDropped'
  | 'fileRemoved';

export interface ContentTransition {
  readonly from: readonly ContentStatus[];
  readonly to: readonly ContentStatus[];
  /** Who asks for it (documentation, mirrored in docs/concurrency.md §3). */
  readonly by: string;
}

const ANY: readonly ContentStatus[] = ['none', 'partial', 'complete', 'dirty'];
const NOT_DIRTY: readonly ContentStatus[] = ['none', 'partial', 'complete'];

/**
 * The transition table. none = only in the cloud, partial = some ranges of the server version,
 * complete = the whole server version (clean), dirty = local changes not uploaded. An upload in
 * flight and a recorded conflict are not content states: they live in the journal and the
 * conflicts table, and the content stays dirty meanwhile.
 */
export const CONTENT_TRANSITIONS: Readonly<Record<ContentEvent, ContentTransition>> = {
  // Download manager. Never into dirty content: a local change stops the item's downloads first
  // (startLocalChange, moveFile, adoptFile wait until none of their writes can land).
  bytesArrived: { from: NOT_DIRTY, to: ['partial', 'complete'], by: 'download manager' },
  versionStarted: { from: NOT_DIRTY, to: ['none'], by: 'download manager' },
  emptyVersionStored: { from: NOT_DIRTY, to: ['complete'], by: 'download manager' },
  badBytesDiscarded: { from: NOT_DIRTY, to: ['none'], by: 'download manager (hash check)' },
  evicted: { from: NOT_DIRTY, to: ['none'], by: 'download manager invalidate, for delta, the cleaner, pins' },
  // Local changes.
  localFileCreated: { from: ['none'], to: ['dirty'], by: 'vfs create, edit choices (keep both), recovery' },
  localChangeStarted: { from: NOT_DIRTY, to: ['dirty'], by: 'vfs prepareForChange' },
  localChange: { from: ANY, to: ['dirty'], by: 'vfs write, truncate' },
  contentReplaced: { from: ANY, to: ['dirty'], by: 'vfs rename over a file (an editor save), recovery' },
  // Uploads and the user's choices.
  rebased: { from: ['dirty'], to: ['dirty'], by: 'upload worker (bytes changed meanwhile), edit choices (keep mine)' },
  uploadCommitted: { from: ['dirty'], to: ['complete', 'none'], by: 'upload worker' },
  // A copy delta listed meanwhile may hold a download of the same bytes already.
  copyUploaded: { from: NOT_DIRTY, to: ['complete'], by: 'upload worker (conflict copy)' },
  serverVersionKept: { from: ['dirty'], to: ['none'], by: 'upload worker (keep both)' },
  editDropped: { from: ANY, to: ['none'], by: 'edit choices (keep theirs, keep both)' },
  // Never the bytes of a local change; a stale range map of a file gone is caught by the next download.
  fileRemoved: { from: NOT_DIRTY, to: ['none', 'partial', 'complete'], by: 'vfs (item deleted), upload worker (copy not stored, local bytes dropped)' },
};

export class ContentTransitionError extends StoreError {
  readonly event: ContentEvent;
  readonly from: ContentStatus;

  constructor(itemId: string, event: ContentEvent, from: ContentStatus, to?: ContentStatus) {
    const fromAllowed = CONTENT_TRANSITIONS[event].from.includes(from);
    const dropsChanges = from === 'dirty' && !fromAllowed;
    super(
      dropsChanges ? 'CONTENT_DIRTY' : 'INVALID_TRANSITION',
      dropsChanges
        ? `item ${itemId} has local changes that are not uploaded; not dropping them (${event})`
        : fromAllowed
          ? `content of ${itemId}: ${event} cannot end ${to ?? '?'}`
          : `content of ${itemId}: ${event} is not allowed from ${from}`,
    );
    this.event = event;
    this.from = from;
  }
}

/**
 * A cache file the vfs writes through, opened on the calling thread: a FUSE create or first write
 * then costs one open(2) instead of a thread-pool round trip and a FileHandle, and its release one
 * close(2) (both local files, as cheap as the SQLite commit beside them). Closing twice is a no-op.
 */
export class CacheFd {
  #open = true;

  constructor(readonly fd: number) {}

  close(): void {
    if (!this.#open) return;
    this.#open = false;
    closeSync(this.fd);
  }

  datasync(): Promise<void> {
    return new Promise((resolve, reject) => fdatasync(this.fd, (error) => (error ? reject(error) : resolve())));
  }
}

/** A server version's tags, as content rows keep them. */
export interface VersionTags {
  etag: string | null;
  ctag: string | null;
}

export interface ContentOwnerOptions {
  store: Store;
  /** The item's cache file (transfers/cache-files.ts cacheFilePath under the cache folder). */
  cachePath: (itemId: string) => string;
  /** Empty files a new local file's cache file is made from (createLocalFile); without them it is created there and then. */
  spares?: SpareCacheFiles;
}

/** What writes downloaded bytes into cache files (the download manager), as a local change sees it. */
export interface DownloadWriters {
  /**
   * Stops the item's downloads, waits until none of their writes can land any more, and runs `work`
   * while none may start: a local change's bytes are never overwritten by a download's late write.
   */
  stopped<T>(itemId: string, work: () => Promise<T>): Promise<T>;
}

/**
 * Owners of one store share their locks, know its download writers and tell the same listeners, so
 * that a second owner (a test's, a layer's own) cannot bypass any of them.
 */
interface Shared {
  readonly locks: KeyedMutex;
  readonly downloads: Set<DownloadWriters>;
  readonly dropped: Set<(itemId: string) => void>;
}
const SHARED = new WeakMap<Store, Shared>();

export class ContentOwner {
  readonly #store: Store;
  readonly #path: (itemId: string) => string;
  readonly #spares: SpareCacheFiles | undefined;
  readonly #locks: KeyedMutex;
  readonly #downloads: Set<DownloadWriters>;
  readonly #dropped: Set<(itemId: string) => void>;

  constructor(options: ContentOwnerOptions) {
    this.#store = options.store;
    this.#path = options.cachePath;
    this.#spares = options.spares;
    let shared = SHARED.get(options.store);
    if (!shared) SHARED.set(options.store, (shared = { locks: new KeyedMutex(), downloads: new Set(), dropped: new Set() }));
    this.#locks = shared.locks;
    this.#downloads = shared.downloads;
    this.#dropped = shared.dropped;
  }

  /**
   * `listener` hears of each item whose server bytes on this device went (evicted: a new version,
   * the cleaner, "free up space"; or discarded after a failed hash check), once they are gone.
   * Returns its removal.
   */
  onBytesDropped(listener: (itemId: string) => void): () => void {
    this.#dropped.add(listener);
    return () => this.#dropped.delete(listener);
  }

  /** The download manager makes itself known (for every owner of the store); returns its detach. */
  attachDownloads(writers: DownloadWriters): () => void {
    this.#downloads.add(writers);
    return () => this.#downloads.delete(writers);
  }

  /** Resolves once the item's transitions queued before this call have ended (a reader's wait after ContentChangingError). */
  settled(itemId: string): Promise<void> {
    return this.#locked(itemId, async () => undefined);
  }

  cachePath(itemId: string): string {
    return this.#path(itemId);
  }

  /** The item's content state now; 'none' without a row. */
  statusOf(itemId: string): ContentStatus {
    return this.#store.content.statusOf(itemId);
  }

  /** Throws ContentTransitionError unless the table allows `event` from the item's state (and to `to`). */
  check(itemId: string, event: ContentEvent, to?: ContentStatus): ContentStatus {
    const from = this.statusOf(itemId);
    const rule = CONTENT_TRANSITIONS[event];
    if (!rule.from.includes(from) || (to !== undefined && !rule.to.includes(to))) throw new ContentTransitionError(itemId, event, from, to);
    return from;
  }

  // ── bytes by handle (not state transitions: the range map moves with bytesArrived/localChange) ──

  /** Opens the item's cache file for positional reads and writes, creating it when missing. */
  openFile(itemId: string): Promise<FileHandle> {
    return openCacheFile(this.#path(itemId));
  }

  /** openFile for the vfs's writes: a CacheFd, opened on this thread (its folder made first when missing). */
  async openFd(itemId: string): Promise<CacheFd> {
    const path = this.#path(itemId);
    const flags = fsConstants.O_RDWR | fsConstants.O_CREAT;
    try {
      return new CacheFd(openSync(path, flags, PRIVATE_FILE_MODE));
    } catch (error) {
      // The first file of its folder: make the folder (0700), then open again.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      await ensurePrivateDir(dirname(path));
      return new CacheFd(openSync(path, flags, PRIVATE_FILE_MODE));
    }
  }

  /**
   * A positional write on the calling thread: for the FUSE write path, where a write of at most
   * 128 KiB into the page cache costs less than the two thread hops of the promise API (the same
   * kind of local write as the SQLite commit that follows it, which is synchronous too).
   */
  writeAtSync(handle: CacheFd, data: Uint8Array, position: number): void {
    for (let done = 0; done < data.length; ) done += writeSync(handle.fd, data, done, data.length - done, position + done);
  }

  writevAt(handle: FileHandle, pieces: Buffer[], position: number, length: number): Promise<void> {
    return writevFully(handle, pieces, position, length);
  }

  truncateFile(handle: CacheFd, size: number): Promise<void> {
    return new Promise((resolve, reject) => ftruncate(handle.fd, size, (error) => (error ? reject(error) : resolve())));
  }

  // ── download manager ───────────────────────────────────────────────────────

  /** Downloaded bytes of the current version landed at [start, end). */
  bytesArrived(itemId: string, start: number, end: number, fileSize: number): ContentState {
    this.check(itemId, 'bytesArrived');
    return this.#store.content.addRange(itemId, start, end, fileSize);
  }

  /** A download starts a new server version afresh: an empty sparse file of its size, no ranges. */
  versionStarted(itemId: string, version: VersionTags, size: number): Promise<void> {
    return this.#locked(itemId, async () => {
      this.check(itemId, 'versionStarted');
      await resetCacheFile(this.#path(itemId), size);
      this.#store.content.setContent(itemId, { status: 'none', ...version, ranges: new RangeSet() });
    });
  }

  /** An empty file's version is complete without a byte downloaded. */
  emptyVersionStored(itemId: string, version: VersionTags): Promise<void> {
    return this.#locked(itemId, async () => {
      this.check(itemId, 'emptyVersionStored');
      await resetCacheFile(this.#path(itemId), 0);
      this.#store.content.setContent(itemId, { status: 'complete', ...version, ranges: new RangeSet() });
    });
  }

  /** The downloaded bytes failed their hash check: they go, and the error stays for the panel. */
  badBytesDiscarded(itemId: string, version: VersionTags, error: { code: string; message: string }): Promise<void> {
    return this.#locked(itemId, async () => {
      this.check(itemId, 'badBytesDiscarded');
      await resetCacheFile(this.#path(itemId), 0);
      this.#store.transaction(() => {
        this.#store.content.setContent(itemId, { status: 'none', ...version, ranges: new RangeSet() });
        this.#store.content.setError(itemId, error.code, error.message);
      });
      this.#bytesDropped(itemId);
    });
  }

  /**
   * Forgets the cached bytes (the server version changed, or the cleaner needs the space) and deletes
   * the cache file. Refuses dirty content (CONTENT_DIRTY). Returns the state it had.
   */
  evict(itemId: string): Promise<ContentState | undefined> {
    return this.#locked(itemId, async () => {
      this.check(itemId, 'evicted');
      const had = this.#store.content.invalidate(itemId);
      await removeCacheFile(this.#path(itemId));
      this.#bytesDropped(itemId);
      return had;
    });
  }

  #bytesDropped(itemId: string): void {
    for (const listener of this.#dropped) listener(itemId);
  }

  // ── local changes (vfs, edit choices, recovery) ───────────────────────────

  /**
   * A new local file: its cache file is created, then `rows` (the caller's item and journal rows) and
   * the dirty content commit in one transaction. On failure the file goes again. Returns the open file:
   * at once (no promise) when a spare file takes its place and nothing holds the item, as for almost
   * every new file. That stretch runs without yielding, so nothing can come between its steps, as
   * under the item's lock; a new item's key is one nobody else knows yet.
   */
  createLocalFile(itemId: string, rows: () => void): CacheFd | Promise<CacheFd> {
    const free = !this.#locks.isBusy(itemId);
    if (free) {
      this.check(itemId, 'localFileCreated');
      const spare = this.#spares?.take(this.#path(itemId));
      if (spare !== undefined) return this.#created(itemId, new CacheFd(spare), rows);
    }
    // Held, or no spare taken (none made yet, the first file of its folder): under the item's lock.
    return this.#locked(itemId, async () => {
      this.check(itemId, 'localFileCreated');
      const spare = free ? undefined : this.#spares?.take(this.#path(itemId));
      return this.#created(itemId, spare === undefined ? await this.openFd(itemId) : new CacheFd(spare), rows);
    });
  }

  /** createLocalFile's rows, with its file in place; on failure the file is closed and removed (an empty file: at once). */
  #created(itemId: string, file: CacheFd, rows: () => void): CacheFd {
    try {
      this.#store.transaction(() => {
        rows();
        this.localFileCreated(itemId, new RangeSet());
      });
    } catch (error) {
      try {
        file.close();
      } finally {
        rmSync(this.#path(itemId), { force: true });
      }
      throw error;
    }
    return file;
  }

  /** A new local file whose cache file is already in place (a copy, a recovered file). */
  localFileCreated(itemId: string, ranges: RangeSet): void {
    this.check(itemId, 'localFileCreated');
    this.#store.content.setContent(itemId, { status: 'dirty', etag: null, ctag: null, ranges });
  }

  /**
   * Runs `change` (the caller's steps of a local change: the first change of a clean file, ending in
   * a transaction that records localChangeStarted, or a truncate of changed content) under the
   * item's lock, with its downloads stopped: a first change waits for an eviction or a new download
   * version of the item to finish its file step, so its bytes never go to a file about to be
   * deleted or reset; no download's late write lands in the changed file; and a file renamed over
   * the item (moveFile) lands wholly before or after the change.
   */
  startLocalChange<T>(itemId: string, change: () => Promise<T>): Promise<T> {
    return this.#changing([itemId], change);
  }

  /** Before the first change of a clean file: dirty, based on `base`, one more local version. */
  localChangeStarted(itemId: string, base: VersionTags, ranges: RangeSet): void {
    this.check(itemId, 'localChangeStarted');
    this.#store.content.setChanged(itemId, { status: 'dirty', ...base, ranges });
  }

  /** A write or truncate landed: dirty, based on `base`, one more local version. */
  localChange(itemId: string, base: VersionTags, ranges: RangeSet): void {
    this.check(itemId, 'localChange');
    this.#store.content.setChanged(itemId, { status: 'dirty', ...base, ranges });
  }

  /**
   * At start, before anything else looks at the content: a write to content already dirty is
   * answered before its record (vfs.ts recordAfterReply), so a process killed between the two
   * leaves a cache file longer than the size its row says. Such a file's size becomes its
   * length, the bytes past the old size local, one more local version (its journal entry is there:
   * it was dirty). A file that cannot be looked at is told to `failed` and left as it is. Returns
   * how many files grew.
   */
  async recordAnsweredWrites(now: number, failed: (itemId: string, error: unknown) => void): Promise<number> {
    let grown = 0;
    for (const itemId of this.#store.content.listByStatus('dirty')) {
      await this.#locked(itemId, async () => {
        const length = await cacheFileLength(this.#path(itemId));
        const item = this.#store.items.get(itemId);
        const state = this.#store.content.get(itemId);
        if (length === undefined || !item || state?.status !== 'dirty' || length <= item.size) return;
        const ranges = state.ranges;
        ranges.add(item.size, length);
        this.#store.transaction(() => {
          this.localChange(itemId, { etag: state.etag, ctag: state.ctag }, ranges);
          this.#store.items.setSizeAndTime(item, length, now);
        });
        grown++;
      }).catch((error: unknown) => failed(itemId, error));
    }
    return grown;
  }

  /** The item's bytes were replaced as a whole (rename over it, recovery): dirty, based on `base`. */
  contentReplaced(itemId: string, base: VersionTags, ranges: RangeSet): void {
    this.check(itemId, 'contentReplaced');
    this.#store.content.setChanged(itemId, { status: 'dirty', ...base, ranges });
  }

  /**
   * Moves the source item's cache file onto the target's (rename over a file), then runs `commit`
   * (the caller's transaction, which records contentReplaced). Both items are held meanwhile.
   */
  moveFile(sourceId: string, targetId: string, commit: () => void): Promise<void> {
    return this.#changing([sourceId, targetId], async () => {
      const target = this.#path(targetId);
      await ensurePrivateDir(dirname(target));
      await rename(this.#path(sourceId), target);
      this.#store.transaction(commit);
    });
  }

  /**
   * Moves a file from outside the cache (a salvaged edit) in as the item's cache file, then runs
   * `commit`. A missing file stands for an empty one (an empty new file may never have had one).
   */
  adoptFile(from: string, itemId: string, commit: () => void): Promise<void> {
    return this.#changing([itemId], async () => {
      const to = this.#path(itemId);
      await ensurePrivateDir(dirname(to));
      try {
        await rename(from, to);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        await writeFile(to, '', { mode: PRIVATE_FILE_MODE });
      }
      this.#store.transaction(commit);
    });
  }

  /**
   * Copies the bytes of one item's cache file to another's (a conflict copy starts with the local
   * bytes). A failed copy leaves no target file behind. The target's row is the caller's next step,
   * `then`, which is checked before the copy.
   */
  copyFile(fromId: string, toId: string, then: 'localFileCreated' | 'copyUploaded'): Promise<void> {
    return this.#locks.runAll([fromId, toId], async () => {
      this.check(toId, then);
      const target = this.#path(toId);
      try {
        await ensurePrivateDir(dirname(target));
        await copyFile(this.#path(fromId), target, fsConstants.COPYFILE_FICLONE);
      } catch (error) {
        await removeCacheFile(target);
        throw error;
      }
    });
  }

  /** Deletes the cache file of an item without content (deleted here, or a copy never stored). */
  removeFile(itemId: string): Promise<void> {
    return this.#locked(itemId, async () => {
      this.check(itemId, 'fileRemoved');
      await removeCacheFile(this.#path(itemId));
    });
  }

  // ── uploads and the user's choices ─────────────────────────────────────────

  /** The local bytes stay dirty, now based on `base` (the server's version the next upload replaces). */
  rebased(itemId: string, base: VersionTags, ranges: RangeSet): void {
    this.check(itemId, 'rebased');
    this.#store.content.setContent(itemId, { status: 'dirty', ...base, ranges });
  }

  /**
   * The upload of the current local version committed: the bytes are the server's `version`,
   * complete (`size` bytes) or, when the server's hash disagreed (`size` null), to be read anew.
   */
  uploadCommitted(itemId: string, version: VersionTags, size: number | null): void {
    this.check(itemId, 'uploadCommitted');
    if (size === null) this.#store.content.setContent(itemId, { status: 'none', ...version, ranges: new RangeSet() });
    else this.#store.content.setContent(itemId, { status: 'complete', ...version, ranges: RangeSet.whole(size) });
  }

  /** A conflict copy uploaded from the local bytes, already in its cache file. */
  copyUploaded(copyId: string, version: VersionTags, size: number): void {
    this.check(copyId, 'copyUploaded');
    this.#store.content.setContent(copyId, { status: 'complete', ...version, ranges: RangeSet.whole(size) });
  }

  /** Keep both: the local bytes went to a copy; the original is the server's `version`, not cached. */
  serverVersionKept(itemId: string, version: VersionTags): void {
    this.check(itemId, 'serverVersionKept');
    this.#store.content.setContent(itemId, { status: 'none', ...version, ranges: new RangeSet() });
  }

  /** The user dropped the local edit (keep theirs): nothing local any more. */
  editDropped(itemId: string): void {
    this.check(itemId, 'editDropped');
    this.#store.content.invalidate(itemId, { force: true });
  }

  #locked<T>(itemId: string, work: () => Promise<T>): Promise<T> {
    return this.#locks.run(itemId, work);
  }

  /** A transition that makes content dirty: under the items' locks, with their downloads stopped. */
  #changing<T>(itemIds: readonly string[], work: () => Promise<T>): Promise<T> {
    let run = work;
    for (const writers of this.#downloads) {
      for (const itemId of itemIds) {
        const inner = run;
        run = () => writers.stopped(itemId, inner);
      }
    }
    return this.#locks.runAll(itemIds, run);
  }
}
