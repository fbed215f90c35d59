/**
 * The filesystem's semantics, FUSE-agnostic. Metadata answers come from the store (never a network
 * round trip); content reads wait only for the byte ranges they need; namespace changes go to the
 * server first and land in the store from the server's answer (offline they are applied locally and
 * journaled for replay).
 *
 * Content writes land locally first: the bytes go to the item's cache file, and before the write
 * call returns the store marks the content dirty and the journal holds a pending entry (so a crash
 * cannot forget the change). The upload manager uploads after the last close, conditionally on the
 * version the edit started from.
 */
import { read as readFd, readSync } from 'node:fs';
import { raceWithSignal, timeoutSignal } from '../base/abort.ts';
import { isOneMountError } from '../base/errors.ts';
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { ContentOwner, deleteLandedCopy, isStrayLandedCopy, sameContent } from '../transfers/index.ts';
import { KernelPages } from './kernel-pages.ts';
import type { CacheFd } from '../transfers/content-owner.ts';
import type { Logger } from '../base/logger.ts';
import { nameProblemErrno, validateName, validatePath, type DriveMode, type NameRules } from '../../src-shared/model/names.ts';
import type { FileError, ItemState } from '../../src-shared/model/transfer.ts';
import { TypedEmitter } from '../base/typed-emitter.ts';
import { isNameConflict, isNotFound, NetworkError, type DriveItem, type GraphClient, type Quota } from '../graph/index.ts';
import { nameLeavingByReplay, newLocalId, RangeSet, serverItemLeavingByReplay, type ItemChange, type ItemRecord, type Store, type StoredItem } from '../store/index.ts';
import { noSuchPath, toVfsError, VfsError } from './vfs-error.ts';
import type { ListingPort } from '../sync/children-listing.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';

/** What the vfs needs from the download manager. */
export interface ContentReaderPort {
  waitFor(offset: number, length: number, signal?: AbortSignal): Promise<void>;
  /** True (the read recorded, as by waitFor) when the bytes are in the cache file already: no wait to set up. */
  ready?(offset: number, length: number): boolean;
  /** Whether the whole file is in the cache file (only then is the store asked whether it is complete). */
  complete?(): boolean;
  close(): void;
}

export interface DownloadsPort {
  cachePath(itemId: string): string;
  openReader(item: ContentItem): ContentReaderPort;
  /** Resolves when [start, end) of the item's current version is in its cache file. */
  ensure(item: ContentItem, start: number, end: number, options: { priority: 'read'; signal?: AbortSignal }): Promise<void>;
  invalidate(itemId: string): Promise<void> | void;
  cancel(itemId: string): Promise<void> | void;
  /** True while a download of the item is queued or running. */
  isActive?(itemId: string): boolean;
}

/** What the vfs needs to know about connectivity (the sync layer's ConnectivityMonitor). */
export interface NetworkStatePort {
  /** True while the service is known to be unreachable. */
  readonly offline: boolean;
  /** Fires when the service becomes unreachable (already fired while it is); take it anew per wait. */
  readonly offlineSignal: AbortSignal;
}

/** What the vfs needs from the upload manager. */
export interface UploadsPort {
  /** Upload after the write-back delay (a released — last close — or fsynced file). */
  schedule(itemId: string, options: { priority: 'high' | 'low'; immediately?: boolean }): void;
  /** The file changed again: an upload in flight stops and the write-back delay restarts. */
  touch(itemId: string): void;
  /** The item is gone locally: forget its upload. */
  cancel(itemId: string): Promise<void> | void;
  isActive?(itemId: string): boolean;
  /**
   * The server copy of a new file of ours is being moved away from this place (the folder's key, a
   * name) after its first upload: settles when that move ends. Undefined when none is.
   */
  leaving(parentKey: string, name: string): Promise<void> | undefined;
}

/**
 * What the vfs needs to know about shared folders (sync/shared-folders.ts): the check methods throw
 * an error carrying `errno` ('EACCES' for a read-only share, 'EXDEV' for a rename between drives).
 */
export interface SharesPort {
  checkWrite(item: StoredItem, role: 'container' | 'item', path: string): void;
  checkRename(item: StoredItem, newParent: StoredItem, from: string, to: string): void;
  accessOf(item: StoredItem): 'read' | 'write' | 'unknown' | undefined;
  /** The drive the item is in when it is not the user's own (a file made here has none on its row). */
  driveOf(item: StoredItem): string | undefined;
}

export interface ContentItem {
  /** The item's key (cache file, content row). */
  id: string;
  /** The server's id, for requests. */
  remoteId: string | null;
  size: number;
  etag: string | null;
  ctag: string | null;
  quickXorHash: string | null;
  path?: string;
}

export interface VfsOptions {
  store: Store;
  graph: GraphClient;
  downloads: DownloadsPort;
  uploads: UploadsPort;
  logger: Logger;
  /** The drive's kind, or its naming rules as learned so far (read at each check, so a learned rule applies at once). */
  driveMode: DriveMode | NameRules;
  /** Maps a server answer to a store record (the same mapping delta uses). */
  toRecord: (item: DriveItem) => ItemRecord;
  uid: number;
  gid: number;
  /** How long a wait for missing content may take before the read fails. */
  readTimeoutMs: number;
  /**
   * How long a file libfuse hid waits for a rename onto its name before it is deleted (PendingHide;
   * TimeoutPolicy hiddenFileGraceMs). A loop held up longer costs a save over an open file its
   * history (deleted, and the saved file a new item).
   */
  hideGraceMs?: number;
  /** How often writes whose record failed are tried again (TimeoutPolicy unrecordedWritesRetryMs). */
  unrecordedRetryMs?: number;
  /** How long fetching the kept part of a file before its first change may take (TimeoutPolicy prepareForChangeTimeoutMs). */
  prepareTimeoutMs?: number;
  /** While offline, reads of bytes not on this device fail at once with ENETDOWN instead of waiting. */
  network?: NetworkStatePort;
  /** Told when a namespace change was journaled because the server was unreachable. */
  onJournaled?: () => void;
  /** Shared folders: refuses changes a read-only share would refuse, and renames between drives. */
  shares?: SharesPort;
  /** While the first enumeration runs: folders not listed yet are listed before they are answered for. */
  listing?: ListingPort;
  /** The owner of the items' content (the download manager's); one over `store` and `downloads.cachePath` when absent. */
  content?: ContentOwner;
  now?: () => number;
}

/** A folder's entries (readdir); `complete`: getattr answers no other name in it until a change (the mount may answer them ENOENT itself). */
export interface Listing {
  names: string[];
  attrs: Attr[];
  complete?: boolean;
}

export interface ListingOptions {
  /**
   * Keep each entry in the cache of items by path, for the look-ups the kernel makes next (default
   * true). A mount that keeps the listing's attributes answers those itself (`ls -l` of 10 000
   * entries: none reaches the vfs), and the cache would only hold them, ~7 MiB per 10 000, until
   * the engine settles.
   */
  cacheEntries?: boolean;
}

/**
 * What is about to change of getattr's and readdir's answers, when that is all (onAttributesChange):
 * the attributes of one inode; a new item at a path; new items anywhere; or a folder just made, empty.
 */
export type AttrChange = { inode: number } | { newPath: string } | { newItems: true } | { emptyFolder: string };

export interface Attr {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  blocks: number;
  blksize: number;
  /** Milliseconds since the epoch (fuse-native takes a number as it is: no Date per answer). */
  atime: number;
  mtime: number;
  ctime: number;
}

export interface StatFs {
  bsize: number;
  frsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
  favail: number;
  namemax: number;
}

interface OpenFile {
  /** The item's key: the same for its whole life (docs/architecture.md). */
  itemId: string;
  /** Its inode, as stable as its key: the kept attributes a write drops before its reply. */
  inode: number;
  reader?: ContentReaderPort;
  file?: FileHandle;
  /** The content version the open cache file belongs to. */
  version?: string;
  writable: boolean;
  /** Opened for writing the cache file; the same handle serves reads of a dirty file. */
  writeFile?: CacheFd;
  /**
   * Write descriptors let go of (a read-only handle's once the local changes it read were gone; any
   * handle's at a first change or once a save replaced the cache file): closed as soon as no read
   * or sync of the handle is running on the thread pool (`busy`), which may still be using one.
   */
  retired?: CacheFd[];
  /** The handle's reads and syncs running on the thread pool (readOff, fsync). */
  busy?: number;
  /** This handle changed the content: release schedules the upload. */
  changed: boolean;
  /**
   * Set once the bytes are all local (complete, or dirty): reads go straight to the file while the
   * store is at the same generation (storeGeneration: any change to any item or content state sends
   * the next read the slow way).
   */
  local?: { fd: number; size: number; generation: number };
  /** What the last read found in the store, for the next reads while it is at the same generation. */
  seen?: Seen;
  /** Set when the file was deleted or replaced while this handle was open: what it reads and writes from then on. */
  gone?: GoneFile;
  /**
   * Where libfuse's node of this handle is (its path at the open, moved along by renames), and the
   * content identity the open found there (KernelPages; undefined: nothing to keep). Each read and
   * write through a handle whose identity is not what is recorded for its path drops that record:
   * its bytes land in the pages of that node.
   */
  pagePath?: string;
  pageIdentity?: string;
  /** Whether the open let the kernel keep the pages it had cached (keepsPages). */
  keepsPages?: boolean;
}

/**
 * A file libfuse hid (Vfs.isHiding) whose fate shows next: a rename onto its name by the same
 * caller at once (a save over the open file: the file takes the new content, its history kept) or
 * nothing (an unlink: the file is deleted once `hideGraceMs` have passed, or as soon as its name,
 * its folder or its hidden name is used). Meanwhile it looks deleted (`resolve`, `listStored`),
 * and its hidden name answers for it.
 */
interface PendingHide {
  itemId: string;
  parentId: string;
  hiddenName: string;
  /** The thread whose request hid it (0: not known): only its own rename onto the name is a save over the file. */
  caller: number;
  /** Its attributes when it was hidden, for the hidden name once its rows are gone. */
  attr: Attr;
  timer: NodeJS.Timeout;
  /** Set once its delete has begun. */
  deleting?: Promise<void>;
}

/**
 * What a hidden name (libfuse's, for a file open when it was deleted or replaced) stands for until
 * libfuse unlinks it: a file whose fate is not known yet, the last attributes of one deleted or
 * replaced, or a file still here (a rename over it failed after libfuse had hidden it).
 */
type HiddenName = { pending: PendingHide } | { attr: Attr } | { itemId: string };

/**
 * A file deleted or replaced while open, as its handles still see it (POSIX: an unlinked file stays
 * readable and writable through the descriptors open on it): its attributes, and a read-write
 * descriptor of its cache file taken before that was deleted or replaced, with the byte ranges it
 * held (then, and written since).
 */
interface GoneFile {
  attr: Attr;
  file?: FileHandle;
  ranges: RangeSet;
}

/**
 * An open file's item as its last read found it: two SQLite lookups fewer per read of a file being
 * downloaded. Valid while the store is at `generation` (storeGeneration).
 */
interface Seen {
  item: StoredItem;
  /** Its content had local changes (the cache file is the truth). */
  dirty: boolean;
  /** Its server version (a change under an open file starts the reads over). */
  version: string;
  generation: number;
}

// open(2) flags (Linux).
const O_ACCMODE = 3;
const O_TRUNC = 0o1000;

export const STATUS_XATTR = 'user.onemount.status';
/** On a shared folder and everything below it: `read-only`, `read-write` or `unknown`. */
export const SHARE_XATTR = 'user.onemount.share';
/** A failed read of a file is reported once in this long, however many FUSE reads fail. */
const READ_ERROR_QUIET_MS = DEFAULT_TIMEOUTS.readErrorLogQuietMs;
/** The name libfuse gives an open file it hides (hidden_name in libfuse 2.9's fuse.c: node id, counter). */
const LIBFUSE_HIDDEN = /^\.fuse_hidden[0-9a-f]{16}$/;

/** A hidden name's key in Vfs.hiddenNames: by folder key, so a rename of the folder keeps it. */
function hiddenKey(folderId: string, name: string): string {
  return `${folderId}\u0000${name}`;
}

/** How often one read may find its download stopped by a local change of the file before it fails (readSlow). */
const MAX_READ_STOPS = 3;
const BLOCK = 4096;
/**
 * The preferred I/O size files report (st_blksize; not the block size of statfs or st_blocks).
 * Programs size their buffers by it (cp, cat: max(128 KiB, st_blksize)), and the kernel asks
 * getxattr("security.capability") once per write(2) to a FUSE file (FUSE filesystems never get
 * SB_NOSEC) — a round trip to the FUSE thread (through the engine with the stock fuse-native): 1 MiB
 * writes ask once per 8 FUSE writes of 128 KiB instead of once per write.
 */
const IO_BLOCK = 1024 * 1024;
/** Folder listings kept for the next readdir of the same folder (see Vfs.listings). */
const KEPT_LISTINGS = 4;
const DIR_MODE = 0o040755;
const FILE_MODE = 0o100644;

/** What the vfs tells the rest of the engine (the panel's Errors hear about failed reads). */
export interface VfsEvents {
  fileError: FileError;
}

export class Vfs {
  /** fileError: a program's read failed for a reason the person can act on (offline, timed out). */
  readonly events: TypedEmitter<VfsEvents>;
  private readonly handles = new Map<number, OpenFile>();
  /** Which content the kernel's cached pages of each path are of (kernel-pages.ts). */
  private readonly kernelPages = new KernelPages();
  /** Read errors reported to `events` lately, by item and errno (see readFailed). */
  private readonly reportedReadErrors = new Map<string, number>();
  private nextHandle = 1;
  private quota: Quota | undefined;
  /** Last-access times to record, batched so reads do not each commit a transaction. */
  private readonly accessed = new Map<string, number>();
  private readonly now: () => number;
  /**
   * Items by mount path, valid while the store's item generation is unchanged: `ls -l` asks for
   * the attributes (and extended attributes) of every entry it just listed.
   */
  private readonly byPath = new Map<string, StoredItem>();
  private byPathGeneration = -1;
  /**
   * Folders by mount path, valid while the store's folders generation is unchanged: a create or a
   * local write changes the item generation (which empties byPath) but no folder, so the next
   * create's or lookup's parent is still one query away instead of a walk from the root.
   */
  private readonly foldersByPath = new Map<string, StoredItem>();
  private foldersGeneration = -1;
  /**
   * The last few folder listings by mount path, valid while the store's item generation is
   * unchanged (an entry's attributes are its item's alone): a program that lists a folder again
   * (`ls -l` after the kernel's cache expired, a file manager's refresh) is answered without
   * reading the folder's rows again.
   */
  private readonly listings = new Map<string, { names: string[]; attrs: Attr[] }>();
  private listingsGeneration = -1;
  /** Items whose content is being made local and dirty (one preparation per item at a time). */
  private readonly preparing = new Map<string, Promise<boolean>>();
  /** Files libfuse hid whose fate is not known yet (PendingHide), by item key. */
  private readonly pendingHides = new Map<string, PendingHide>();
  /** libfuse's hidden names until it unlinks them, by folder key and name (hiddenKey). */
  private readonly hiddenNames = new Map<string, HiddenName>();
  /** Writes answered before their record whose record failed (recordAfterReply), by item, and the timer that tries them again. */
  private readonly unrecorded = new Map<string, Array<{ start: number; end: number }>>();
  private unrecordedTimer: NodeJS.Timeout | undefined;
  /** Listeners of onAttributesChange, told also of changes the store does not see (a file hidden). */
  private readonly attributeListeners = new Set<(change?: AttrChange) => void>();
  /** Every change of content rows and cache files goes through it (docs/concurrency.md §3). */
  private readonly content: ContentOwner;

  constructor(private readonly o: VfsOptions) {
    this.now = o.now ?? Date.now;
    this.content = o.content ?? new ContentOwner({ store: o.store, cachePath: (id) => o.downloads.cachePath(id) });
    this.content.onBytesDropped((itemId) => this.kernelPages.forgetItem(itemId));
    this.events = new TypedEmitter<VfsEvents>((error, event) => o.logger.error({ err: error, event }, `a vfs "${event}" listener failed`));
  }

  // ---- lookup ------------------------------------------------------------------------------

  /** The item at a mount-relative path (`/` is the root). */
  resolve(path: string): StoredItem {
    if (this.hiddenNames.size > 0) {
      const named = this.hiddenNamed(path)?.named;
      const id = named && ('pending' in named ? named.pending.itemId : 'itemId' in named ? named.itemId : undefined);
      const item = id === undefined ? undefined : this.o.store.items.get(id);
      if (item) return item;
    }
    const cache = this.pathCache();
    let item = cache.get(path);
    if (!item) {
      item = this.find(path);
      if (!item) throw noSuchPath(path);
      cache.set(path, item);
    }
    if (this.pendingHides.size > 0 && this.pendingHides.has(item.id)) throw noSuchPath(path);
    return item;
  }

  /** What a path names if it is one of libfuse's hidden names (HiddenName), with its key. */
  private hiddenNamed(path: string): { key: string; named: HiddenName } | undefined {
    const cut = path.lastIndexOf('/');
    const name = path.slice(cut + 1);
    if (!LIBFUSE_HIDDEN.test(name)) return undefined;
    const folder = this.folderAt(cut <= 0 ? '/' : path.slice(0, cut));
    const key = folder && hiddenKey(folder.id, name);
    const named = key && this.hiddenNames.get(key);
    return named ? { key: key!, named } : undefined;
  }

  /** The item at a path by its folder (cached) and one child look-up. */
  private find(path: string): StoredItem | undefined {
    if (path === '/') return this.o.store.items.getRoot();
    const cut = path.lastIndexOf('/');
    const parent = this.folderAt(cut <= 0 ? '/' : path.slice(0, cut));
    return parent && this.o.store.items.getChild(parent.id, path.slice(cut + 1));
  }

  private folderAt(path: string): StoredItem | undefined {
    const folders = this.folderCache();
    const hit = folders.get(path) ?? this.pathCache().get(path);
    if (hit) return hit;
    const item = this.find(path);
    if (item?.kind === 'folder' || item?.kind === 'remote') folders.set(path, item);
    return item;
  }

  /**
   * Empties the cache of items by path (rebuilt from the store as paths are asked for): the engine
   * has settled after a burst, and the item per entry a large listing left there is most of what it
   * would keep holding (about 7 MiB for a 10 000-entry folder). The mount's kept attributes answer
   * the kernel's lookups of those paths meanwhile; the listings stay, so the next readdir of the
   * folder is answered as fast.
   */
  dropCaches(): void {
    this.byPath.clear();
  }

  private pathCache(): Map<string, StoredItem> {
    const generation = this.o.store.items.generation;
    if (generation !== this.byPathGeneration || this.byPath.size > 200_000) {
      this.byPath.clear();
      this.byPathGeneration = generation;
    }
    return this.byPath;
  }

  private folderCache(): Map<string, StoredItem> {
    const generation = this.o.store.items.foldersGeneration;
    if (generation !== this.foldersGeneration || this.foldersByPath.size > 200_000) {
      this.foldersByPath.clear();
      this.foldersGeneration = generation;
    }
    return this.foldersByPath;
  }

  private split(path: string): { parent: StoredItem; name: string } {
    const cut = path.lastIndexOf('/');
    const name = path.slice(cut + 1);
    const parent = this.resolve(cut <= 0 ? '/' : path.slice(0, cut));
    if (parent.kind !== 'folder' && parent.kind !== 'remote') throw new VfsError('ENOTDIR', `not a folder: ${path.slice(0, cut) || '/'}`);
    return { parent, name };
  }

  /** OneDrive's naming rules, checked before any network call. */
  private checkName(path: string, name: string): void {
    const problem = validateName(name, this.o.driveMode) ?? validatePath(path, this.o.driveMode);
    if (problem) {
      this.o.logger.warn({ path, problem: problem.code }, `refused name: ${problem.message}`);
      throw new VfsError(nameProblemErrno[problem.code], `${path}: ${problem.message}`);
    }
  }

  /**
   * Calls `listener` before anything changes that getattr or readdir answer (an item's fields or
   * place), synchronously, with what changes when that is all (AttrChange); and when a folder was
   * just made, empty. Returns the unsubscribe.
   */
  onAttributesChange(listener: (change?: AttrChange) => void): () => void {
    this.attributeListeners.add(listener);
    const stop = this.o.store.items.onChange((change) => listener(change && this.attrChange(change)));
    return () => {
      this.attributeListeners.delete(listener);
      stop();
    };
  }

  /** A change of the store as what it changes of getattr's and readdir's answers (undefined: anything may). */
  private attrChange(change: ItemChange): AttrChange | undefined {
    switch (change.kind) {
      case 'fields': {
        const inode = change.inode ?? this.o.store.items.get(change.id)?.inode;
        return inode === undefined ? undefined : { inode };
      }
      case 'new': {
        const folder = this.o.store.items.pathOf(change.parentId);
        return folder === undefined ? undefined : { newPath: folder === '/' ? `/${change.name}` : `${folder}/${change.name}` };
      }
      case 'new-items':
        return { newItems: true };
    }
  }

  /** A folder just made at `path`: empty, for the listeners, if it is (nothing came into it) and that is where the store has it (its names as stored). */
  private madeFolder(id: string, path: string): void {
    if (this.attributeListeners.size === 0 || this.o.store.items.pathOf(id) !== path) return;
    if (this.o.store.items.listChildren(id, undefined, 1).length > 0) return;
    for (const listener of this.attributeListeners) listener({ emptyFolder: path });
  }

  attrOf(item: StoredItem): Attr {
    const isDir = item.kind === 'folder' || item.kind === 'remote';
    const size = isDir ? BLOCK : item.size;
    return {
      ino: item.inode,
      mode: isDir ? DIR_MODE : FILE_MODE,
      nlink: isDir ? 2 : 1,
      uid: this.o.uid,
      gid: this.o.gid,
      size,
      blocks: Math.ceil(size / 512),
      blksize: IO_BLOCK,
      atime: item.mtimeMs,
      mtime: item.mtimeMs,
      ctime: Math.max(item.ctimeMs, item.mtimeMs),
    };
  }

  /** Synchronous from the store, except while a folder on the path is not listed yet (see lookup). */
  getattr(path: string): Attr | Promise<Attr> {
    const named = this.hiddenNames.size > 0 ? this.hiddenNamed(path)?.named : undefined;
    if (named && 'attr' in named) return named.attr;
    if (named && 'pending' in named) {
      const item = this.o.store.items.get(named.pending.itemId);
      return item ? { ...this.attrOf(item), nlink: 0 } : named.pending.attr;
    }
    const item = this.lookup(path);
    return item instanceof Promise ? item.then((found) => this.attrOf(found)) : this.attrOf(item);
  }

  /**
   * resolve(), except while the first enumeration runs: a name missing below a folder not listed
   * yet is not ENOENT before that folder has been listed.
   */
  private lookup(path: string): StoredItem | Promise<StoredItem> {
    const listing = this.o.listing;
    if (listing && !listing.complete) listing.activity();
    try {
      return this.resolve(path);
    } catch (e) {
      if (!(e instanceof VfsError) || e.errno !== 'ENOENT' || !listing || listing.complete) throw e;
      return this.lookupListing(path, listing);
    }
  }

  private async lookupListing(path: string, listing: ListingPort): Promise<StoredItem> {
    let item = this.o.store.items.getRoot();
    if (!item) throw noSuchPath(path);
    for (const name of path.split('/')) {
      if (name === '') continue;
      if (item.kind !== 'folder' && item.kind !== 'remote') throw new VfsError('ENOTDIR', `not a folder on the way to ${path}`);
      let child = this.o.store.items.getChild(item.id, name);
      // A shared folder's items come from its own drive's delta, not from listings.
      if (!child && item.kind === 'folder' && !listing.isListed(item.id)) {
        await this.listFolder(item, listing);
        child = this.o.store.items.getChild(item.id, name);
      }
      if (!child || this.pendingHides.has(child.id)) throw noSuchPath(path);
      item = child;
    }
    return item;
  }

  private async listFolder(folder: StoredItem, listing: ListingPort): Promise<void> {
    try {
      await listing.ensureListed(folder);
    } catch (e) {
      if (e instanceof NetworkError) throw new VfsError('ENETDOWN', `listing ${this.o.store.items.pathOf(folder.id) ?? folder.id}: OneDrive is unreachable and this folder is not listed on this device yet`);
      throw toVfsError(e, `listing ${this.o.store.items.pathOf(folder.id) ?? folder.id}`);
    }
  }

  /** Every entry of a folder, paged out of the store (large folders never load in one query). */
  readdir(path: string, options: ListingOptions = {}): Listing | Promise<Listing> {
    const listing = this.o.listing;
    if (listing && !listing.complete) {
      const dir = this.lookup(path);
      if (dir instanceof Promise || !listing.isListed(dir.id)) {
        return (async () => {
          const folder = await dir;
          if (folder.kind === 'folder') await this.listFolder(folder, listing);
          return this.listStored(path, options);
        })();
      }
    }
    return this.listStored(path, options);
  }

  /** The folder's entries as the store holds them now, without listing it from the server (readdir does that first). */
  listStored(path: string, options: ListingOptions = {}): Listing {
    const generation = this.o.store.items.generation;
    if (generation !== this.listingsGeneration) {
      this.listings.clear();
      this.listingsGeneration = generation;
    }
    let listed = this.listings.get(path);
    if (!listed) {
      listed = this.readListing(path, options.cacheEntries ?? true);
      if (this.listings.size >= KEPT_LISTINGS) this.listings.delete(this.listings.keys().next().value!);
      this.listings.set(path, listed);
    }
    if (this.pendingHides.size > 0) return this.withoutPendingHides(listed);
    // getattr answers no name of it the listing leaves out: no hidden name, and the path is the
    // folder's own (a lookup through another letter case of a folder's name is not a name of its).
    const complete = this.hiddenNames.size === 0 && this.o.store.items.pathOf(this.resolve(path).id) === path;
    return complete ? { ...listed, complete } : listed;
  }

  /** A listing without the files libfuse hid whose fate is not known yet (PendingHide). */
  private withoutPendingHides(listed: { names: string[]; attrs: Attr[] }): { names: string[]; attrs: Attr[] } {
    const inodes = new Set<number>();
    for (const hid of this.pendingHides.values()) inodes.add(hid.attr.ino);
    const keep = listed.attrs.map((a) => !inodes.has(a.ino));
    if (keep.every(Boolean)) return listed;
    return { names: listed.names.filter((_, i) => keep[i]), attrs: listed.attrs.filter((_, i) => keep[i]) };
  }

  private readListing(path: string, cacheEntries: boolean): { names: string[]; attrs: Attr[] } {
    const dir = this.resolve(path);
    if (dir.kind !== 'folder' && dir.kind !== 'remote') throw new VfsError('ENOTDIR', `not a folder: ${path}`);
    const names: string[] = [];
    const attrs: Attr[] = [];
    const cache = cacheEntries ? this.pathCache() : undefined;
    const prefix = path === '/' ? '/' : `${path}/`;
    let after: string | undefined;
    for (;;) {
      const page = this.o.store.items.listChildren(dir.id, after, 1000);
      for (const child of page) {
        names.push(child.name);
        attrs.push(this.attrOf(child));
        if (!cache) continue;
        // The kernel looks each entry up next (getattr per name for `ls -l`). An entry already
        // cached is the same item (the generation did not change): replacing it would only turn
        // the cached one into old-generation garbage at every listing of a large folder.
        const key = prefix + child.name;
        if (!cache.has(key)) cache.set(key, child);
      }
      if (page.length < 1000) break;
      after = page[page.length - 1]!.nameKey;
    }
    return { names, attrs };
  }

  // ---- content -----------------------------------------------------------------------------

  async open(path: string, flags: number): Promise<number> {
    const item = this.resolve(path);
    if (item.kind === 'folder' || item.kind === 'remote') throw new VfsError('EISDIR', `is a folder: ${path}`);
    if (item.kind === 'package') throw new VfsError('ENOTSUP', `${path} is a OneNote notebook or similar package; open it on the web`);
    const writable = (flags & O_ACCMODE) !== 0;
    if (writable) this.checkShare(() => this.o.shares?.checkWrite(item, 'item', path));
    const fh = this.nextHandle++;
    const pageIdentity = (flags & O_TRUNC) === 0 ? this.pageIdentity(item) : undefined;
    const keepsPages = this.kernelPages.opened(path, item.id, pageIdentity);
    // Its reads may all be answered from the kept pages: the open is what tells the cache cleaner it is in use.
    if (keepsPages) this.accessed.set(item.id, this.now());
    const h: OpenFile = { itemId: item.id, inode: item.inode, writable, changed: false, pagePath: path, pageIdentity, keepsPages };
    this.handles.set(fh, h);
    if (writable && (flags & O_TRUNC) !== 0) {
      try {
        await this.truncateItem(h, item, 0);
      } catch (e) {
        this.handles.delete(fh);
        throw e;
      }
    }
    return fh;
  }

  /** Whether the open that made `fh` let the kernel keep its cached pages of the file (FOPEN_KEEP_CACHE). */
  keepsPages(fh: number): boolean {
    return this.handle(fh).keepsPages === true;
  }

  /**
   * What the kernel's pages of a file read now would hold (beside the item itself), unless it has
   * local changes: its server version (its cTag) as downloaded for it. The local change counter is
   * part of it, so content changed here and then set back to the server version it came from (a
   * conflict resolved to it) is not taken for what it was. (The counter only grows: the row lives
   * as long as its item.)
   */
  private pageIdentity(item: StoredItem): string | undefined {
    const { status, localVersion } = this.o.store.content.localStateOf(item.id);
    if (status === 'dirty') return undefined;
    // The content's tag (a rename moves the etag, not the cTag), or the etag where there is none.
    return `${item.ctag ?? `e:${item.etag ?? ''}`}|${item.size}|${localVersion}`;
  }

  /** A read or write through `h` fills the pages of its node: a record of other content there goes. */
  private pagesTouched(h: OpenFile): void {
    if (h.pagePath !== undefined) this.kernelPages.touched(h.pagePath, h.itemId, h.pageIdentity);
  }

  /**
   * create(2): a new local file; it is uploaded after it is closed. At once (no promise) unless a
   * file libfuse hid holds the name, or the new file's cache file has to be made here (no spare).
   */
  create(path: string): number | Promise<number> {
    const { parent, name } = this.split(path);
    this.checkName(path, name);
    this.checkShare(() => this.o.shares?.checkWrite(parent, 'container', path));
    const existing = this.clashNow(parent, name);
    return existing instanceof Promise ? existing.then((e) => this.createIn(path, parent, name, e)) : this.createIn(path, parent, name, existing);
  }

  /** create() once the name's holder is known (`existing`). */
  private createIn(path: string, parent: StoredItem, name: string, existing: StoredItem | undefined): number | Promise<number> {
    if (existing) {
      // O_CREAT without O_EXCL on an existing file (the kernel normally looks it up first).
      if (existing.kind !== 'file') throw new VfsError('EISDIR', `is a folder: ${path}`);
      return this.open(path, 1);
    }
    const id = newLocalId();
    const now = this.now();
    let created: { item: StoredItem; generation: number } | undefined;
    const failed = (e: unknown): never => {
      throw toVfsError(e, `creating ${path}`);
    };
    const opened = (cache: CacheFd): number => {
      // (createLocalFile inserts the rows before it hands the cache file over.)
      if (!created) {
        cache.close();
        throw new VfsError('EIO', `creating ${path}: the cache file came without the item's row`);
      }
      // The kernel asks for the new file's attributes next (libfuse's create does): no query for
      // them, unless any item changed since the insert (the row read then may be stale).
      if (created.generation === this.o.store.items.generation) this.pathCache().set(path, created.item);
      const fh = this.nextHandle++;
      this.kernelPages.opened(path, id, undefined);
      this.handles.set(fh, { itemId: id, inode: created.item.inode, writable: true, changed: true, writeFile: cache, pagePath: path });
      return fh;
    };
    let cache: CacheFd | Promise<CacheFd>;
    try {
      cache = this.content.createLocalFile(id, () => {
        const item = this.o.store.items.insert({ id, parentId: parent.id, name, kind: 'file', size: 0, ctimeMs: now, mtimeMs: now });
        this.o.store.journal.append({ kind: 'create', itemId: id, parentId: parent.id, name });
        created = { item, generation: this.o.store.items.generation };
      });
    } catch (e) {
      return failed(e);
    }
    return cache instanceof Promise ? cache.then(opened, failed) : opened(cache);
  }

  /** The item as the store holds it now (its size and version may have changed across an await). */
  private current(item: StoredItem): StoredItem {
    const now = this.o.store.items.get(item.id);
    if (!now) throw new VfsError('ENOENT', 'the file was deleted while it was being changed');
    return now;
  }

  private itemOf(h: OpenFile): StoredItem | undefined {
    return this.o.store.items.get(h.itemId);
  }

  private handle(fh: number): OpenFile {
    const h = this.handles.get(fh);
    if (!h) throw new VfsError('EBADF', `unknown file handle ${fh}`);
    return h;
  }

  private contentItem(item: StoredItem): ContentItem {
    return { id: item.id, remoteId: item.remoteId, size: item.size, etag: item.etag, ctag: item.ctag, quickXorHash: item.quickXorHash, path: this.o.store.items.pathOf(item.id) };
  }

  /**
   * Reads into `buf`; waits only for the bytes asked for. Returns the number of bytes read: at once
   * (no promise) when they are in the cache file already and it is open for this handle, as for
   * most reads of a cold sequential read (the read-ahead fetched them; offline too: they are here).
   * An unknown handle (EBADF) throws at once; a handle of a file deleted or replaced while open
   * reads the version it opened (GoneFile: EIO for bytes that were never on this device).
   */
  read(fh: number, buf: Buffer, length: number, position: number): number | Promise<number> {
    return this.readOnce(fh, buf, length, position, 0);
  }

  /** read(); `stopped`: how often a local change of the file stopped its download (read again, not for ever). */
  private readOnce(fh: number, buf: Buffer, length: number, position: number, stopped: number): number | Promise<number> {
    const h = this.handle(fh);
    this.pagesTouched(h);
    if (h.gone) return this.readGone(h, h.gone, buf, length, position);
    const generation = this.storeGeneration();
    const local = h.local;
    if (local && local.generation === generation) {
      // A whole cached file, maybe not read since the last boot: off the loop (readOff).
      if (position >= local.size || length <= 0) return 0;
      return this.readOff(h, local.fd, buf, Math.min(length, local.size - position), position);
    }
    h.local = undefined;
    let seen = h.seen;
    if (seen?.generation !== generation || seen.item.id !== h.itemId) {
      const found = this.itemOf(h);
      if (!found) throw new VfsError('ENOENT', 'the file was deleted while open');
      seen = h.seen = {
        item: found,
        dirty: this.o.store.content.statusOf(found.id) === 'dirty',
        version: `${found.ctag ?? ''}|${found.etag ?? ''}|${found.size}`,
        generation,
      };
      if (!seen.dirty && !h.writable && h.writeFile) {
        // A read-only handle read the file while it had local changes; they are gone (uploaded, or
        // dropped for the server's version): its reads follow the server's version again.
        this.retire(h, h.writeFile);
        h.writeFile = undefined;
      }
    }
    const item = seen.item;
    if (position >= item.size || length <= 0) return 0;
    const n = Math.min(length, item.size - position);
    const { reader, file } = h;
    if (reader && file && !h.writeFile && !seen.dirty && h.version === seen.version && reader.ready?.(position, n)) {
      return this.readReady(h, seen, reader, file, buf, n, position);
    }
    return this.readSlow(fh, h, seen, buf, n, position, stopped);
  }

  /** Moves at every change of an item or of a content state (both counters only grow). */
  private storeGeneration(): number {
    return this.o.store.items.generation + this.o.store.content.generation;
  }

  /** The rest of read(): a first read, local changes, a new version, or bytes to wait for. */
  private async readSlow(fh: number, h: OpenFile, seen: Seen, buf: Buffer, n: number, position: number, stopped: number): Promise<number> {
    const item = seen.item;
    if (h.writeFile || seen.dirty) {
      // Local changes: the cache file is the truth; nothing to download.
      const file = (h.writeFile ??= await this.content.openFd(item.id));
      h.local = { fd: file.fd, size: item.size, generation: seen.generation };
      return this.readOff(h, file.fd, buf, n, position);
    }
    if (h.version !== seen.version) {
      // The remote version changed under an open file: start over on the new bytes.
      h.reader?.close();
      h.reader = undefined;
      await h.file?.close();
      h.file = undefined;
      h.version = seen.version;
    }
    // Offline, a read that needs the network fails now; one that started online ends when the outage begins.
    const offline = this.o.network?.offline ?? false;
    if (offline && !this.isCached(item, position, position + n)) {
      throw this.readFailed(item, new VfsError('ENETDOWN', `reading ${this.o.store.items.pathOf(item.id) ?? item.id} at ${position}: OneDrive is unreachable and these bytes are not on this device`));
    }
    const reader = (h.reader ??= this.o.downloads.openReader(this.contentItem(item)));
    // Bytes the read-ahead has fetched need no wait.
    if (!reader.ready?.(position, n)) {
      // A cleared timer per read (AbortSignal.timeout's timer would live on until it fires).
      const wait = timeoutSignal(this.o.readTimeoutMs, offline ? undefined : this.o.network?.offlineSignal, 'a read waiting for its bytes');
      let stoppedByChange = false;
      try {
        try {
          await reader.waitFor(position, n, wait.signal);
        } catch (e) {
          if (stopped >= MAX_READ_STOPS || !isOneMountError(e, 'CONTENT_CHANGING')) throw e;
          // The file is being changed here (a truncate, a first write, a save over it): its
          // download stopped so that no server byte lands in the changed file; once the change's
          // locked step is done, the read takes the local bytes (docs/concurrency.md §3). A change that found a
          // new server version fetches it and stops the download again: a few times, then EIO.
          await raceWithSignal(this.content.settled(item.id), wait.signal);
          stoppedByChange = true;
        }
      } catch (e) {
        const err = toVfsError(e, `reading ${this.o.store.items.pathOf(item.id) ?? item.id} at ${position}`);
        this.o.logger.warn({ itemId: item.id, errno: err.errno }, err.message);
        throw this.readFailed(item, new VfsError(err.errno === 'ENOENT' ? 'EIO' : err.errno, err.message, { cause: e }));
      } finally {
        wait.dispose();
      }
      if (stoppedByChange) return this.readOnce(fh, buf, n, position, stopped + 1);
    }
    const file = (h.file ??= await openFile(this.o.downloads.cachePath(item.id), 'r'));
    return this.readReady(h, seen, reader, file, buf, n, position);
  }

  /** Bytes in the cache file, read from it; once the file is whole here, the next reads take h.local. */
  private readReady(h: OpenFile, seen: Seen, reader: ContentReaderPort, file: FileHandle, buf: Buffer, n: number, position: number): number {
    const item = seen.item;
    this.accessed.set(item.id, this.now());
    if (reader.complete?.() ?? true) {
      const content = this.o.store.content.get(item.id);
      if (content?.status === 'complete' && sameContent(content, item)) {
        h.local = { fd: file.fd, size: item.size, generation: seen.generation };
      }
    }
    return readAt(file.fd, buf, n, position);
  }

  /** A read through a handle of a file deleted or replaced while open: the version it opened, as far as it was on this device. */
  private readGone(h: OpenFile, gone: GoneFile, buf: Buffer, length: number, position: number): number | Promise<number> {
    if (position >= gone.attr.size || length <= 0) return 0;
    const n = Math.min(length, gone.attr.size - position);
    if (!gone.file || !gone.ranges.has(position, position + n)) {
      throw new VfsError('EIO', `a file deleted while open: bytes ${position} to ${position + n} of it were never on this device`);
    }
    return this.readOff(h, gone.file.fd, buf, n, position);
  }

  /**
   * A write through a handle of a file deleted or replaced while open: into the version it opened,
   * as into an unlinked file on a local disk (its handles read it; nothing else ever will).
   */
  private async writeGone(h: OpenFile, gone: GoneFile, buf: Buffer, length: number, position: number): Promise<number> {
    const file = gone.file;
    if (!file) throw new VfsError('ENOENT', 'the file was deleted while open, and none of it was on this device');
    const { bytesWritten } = await this.whileBusy(h, file.write(buf, 0, length, position));
    // Bytes between the end and a write past it are zeros, there as well.
    gone.ranges.add(Math.min(position, gone.attr.size), position + bytesWritten);
    if (position + bytesWritten > gone.attr.size) this.resizeGone(gone, position + bytesWritten);
    return bytesWritten;
  }

  private async truncateGone(h: OpenFile, gone: GoneFile, size: number): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0) throw new VfsError('EINVAL', `invalid size ${size}`);
    if (!gone.file) throw new VfsError('ENOENT', 'the file was deleted while open, and none of it was on this device');
    await this.whileBusy(h, gone.file.truncate(size));
    if (size < gone.attr.size) gone.ranges.truncate(size);
    else gone.ranges.add(gone.attr.size, size);
    this.resizeGone(gone, size);
  }

  /** The size a gone file's handles (and its hidden name) show. */
  private resizeGone(gone: GoneFile, size: number): void {
    gone.attr.size = size;
    gone.attr.blocks = Math.ceil(size / 512);
  }

  /** A read that failed for the person to see (the panel's Errors), not only the program. */
  private readFailed(item: StoredItem, error: VfsError): VfsError {
    // One program's read is several FUSE reads (the kernel retries, reads ahead): one report per
    // file and reason a while.
    const now = this.now();
    const key = `${item.id}\u0000${error.errno}`;
    for (const [k, at] of this.reportedReadErrors) if (now - at > READ_ERROR_QUIET_MS) this.reportedReadErrors.delete(k);
    if (!this.reportedReadErrors.has(key)) {
      this.reportedReadErrors.set(key, now);
      this.events.emit('fileError', { path: this.o.store.items.pathOf(item.id) ?? `/${item.name}`, operation: 'read', error: { code: error.errno, message: error.message }, at: now });
    }
    return error;
  }

  /** Whether [start, end) of the item's current version is in its cache file, by the store's range map. */
  private isCached(item: StoredItem, start: number, end: number): boolean {
    const content = this.o.store.content.get(item.id);
    return !!content && content.status !== 'none' && sameContent(content, item) && content.ranges.has(start, end);
  }

  /** Synchronous unless a read handle (a FileHandle) has to be closed. */
  release(fh: number): void | Promise<void> {
    const h = this.handles.get(fh);
    if (!h) return;
    this.handles.delete(fh);
    let recorded = true;
    try {
      this.recordFailedWrites(h.itemId);
    } catch (e) {
      // Tried again on a timer, which schedules the upload once they are recorded.
      recorded = false;
      this.o.logger.error({ err: e, itemId: h.itemId }, 'writes to a closed file could not be recorded: they are tried again, and its upload waits for them');
    }
    h.reader?.close();
    h.writeFile?.close();
    this.closeRetired(h);
    const done = (): void => {
      if (recorded && h.changed && this.uploadable(h)) this.o.uploads.schedule(h.itemId, { priority: 'high' });
    };
    const files = [h.file, h.gone?.file].filter((f) => f !== undefined);
    if (files.length > 0) return Promise.all(files.map((f) => f.close())).then(done);
    done();
  }

  async fsync(fh: number): Promise<void> {
    const h = this.handle(fh);
    this.recordFailedWrites(h.itemId);
    if (h.writeFile) await this.whileBusy(h, h.writeFile.datasync());
    if (h.changed && this.uploadable(h)) this.o.uploads.schedule(h.itemId, { priority: 'high' });
  }

  /** Whether a handle's changes are the item's to upload: not once it was deleted or replaced, nor while libfuse's hiding of it waits. */
  private uploadable(h: OpenFile): boolean {
    return !h.gone && !this.pendingHides.has(h.itemId) && this.itemOf(h) !== undefined;
  }

  /**
   * Makes an item's content local and dirty before its first change: the whole current version is
   * downloaded (the kept part of it for a truncate), the content is marked dirty with the version it
   * started from, and a pending journal entry records that it must be uploaded. Its downloads stop
   * first (startLocalChange): none of their bytes lands in the changed file. A truncate passes
   * `truncate`: the cache file is cut and the new size recorded in the same step, so no read finds
   * the file dirty at its old size over bytes it no longer has. Returns whether this call made the
   * change (false: the content was dirty already, or another call's prepare made it so).
   */
  private async prepareForChange(item: StoredItem, keepBytes: number, truncate?: { file: () => Promise<CacheFd>; size: number }): Promise<boolean> {
    if (this.content.statusOf(item.id) === 'dirty') return false;
    const running = this.preparing.get(item.id);
    if (running) {
      await running;
      return false;
    }
    const work = this.startChange(item, keepBytes, truncate);
    this.preparing.set(item.id, work);
    try {
      return await work;
    } finally {
      this.preparing.delete(item.id);
    }
  }

  private async startChange(item: StoredItem, keepBytes: number, truncate: { file: () => Promise<CacheFd>; size: number } | undefined): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1 && this.content.statusOf(item.id) === 'dirty') return false;
      const version = this.current(item);
      const needed = Math.min(keepBytes, version.size);
      if (needed > 0 && !(await this.fetchBeforeChange(version, needed, attempt < 3))) continue;
      /** Set between the cache file's truncation and the commit: a failed commit leaves a clean file cut short. */
      let cut = false;
      let outcome: 'dirty' | 'changed' | 'moved';
      try {
        outcome = await this.content.startLocalChange(version.id, async () => {
          if (this.content.statusOf(version.id) === 'dirty') return 'dirty';
          // A new server version, an eviction or a failed hash check came while the lock was
          // awaited: the change would not start from the version it fetched; fetch again.
          if (!sameContent(this.current(version), version) || (needed > 0 && !this.isCached(version, 0, needed))) return 'moved';
          // Descriptors open on the item may be of a cache file deleted since (an eviction, a new
          // version): the next read or write opens the file there is now.
          for (const h of this.handles.values()) if (h.itemId === version.id) this.retireDescriptors(h);
          if (truncate) {
            const file = await truncate.file();
            cut = true;
            await this.content.truncateFile(file, truncate.size);
          }
          this.o.store.transaction(() => {
            // Based on the version whose bytes it keeps: a server change recorded meanwhile (no
            // eviction can pass the lock) is a conflict for the upload to find, not a new base.
            const now = this.current(version);
            this.content.localChangeStarted(now.id, { etag: version.etag, ctag: version.ctag }, RangeSet.whole(truncate?.size ?? needed));
            this.ensureJournal(now, 'write');
            if (truncate) this.o.store.items.setSizeAndTime(now, truncate.size, this.now());
          });
          cut = false;
          return 'changed';
        });
      } catch (e) {
        if (cut) await this.forgetCutFile(version.id, e);
        throw e;
      }
      if (outcome !== 'moved') return outcome === 'changed';
      if (attempt >= 3) throw new VfsError('EAGAIN', `${this.o.store.items.pathOf(item.id) ?? item.id}: its cached bytes were replaced three times (new server versions) while it was being fetched to be changed here; try again`);
    }
  }

  /**
   * The first `needed` bytes of the version, in the cache file, before a change keeps them. False
   * (when `again`) if another change of the file (a save over it) stopped the download: once it has
   * begun, the caller looks again.
   */
  private async fetchBeforeChange(version: StoredItem, needed: number, again: boolean): Promise<boolean> {
    try {
      const wait = timeoutSignal(this.o.prepareTimeoutMs ?? DEFAULT_TIMEOUTS.prepareForChangeTimeoutMs, undefined, 'fetching a file before changing it');
      try {
        await this.o.downloads.ensure(this.contentItem(version), 0, needed, { priority: 'read', signal: wait.signal });
        return true;
      } catch (e) {
        if (!again || !isOneMountError(e, 'CONTENT_CHANGING')) throw e;
        await raceWithSignal(this.content.settled(version.id), wait.signal);
        return false;
      } finally {
        wait.dispose();
      }
    } catch (e) {
      throw toVfsError(e, `fetching ${this.o.store.items.pathOf(version.id) ?? version.id} before changing it`);
    }
  }

  /** A truncate cut a clean file's cache file but could not record it: its cached bytes go (the server has them). */
  private async forgetCutFile(itemId: string, cause: unknown): Promise<void> {
    try {
      await this.o.downloads.invalidate(itemId);
    } catch (e) {
      this.o.logger.error({ itemId, err: e, cause }, 'a truncate failed after cutting the cache file, and its cached bytes could not be dropped');
    }
  }

  /** One unfinished write/create entry per item is enough: the upload takes the file as it is then. */
  private ensureJournal(item: StoredItem, kind: 'write' | 'create'): void {
    const pending = this.o.store.journal.list({ itemId: item.id, states: ['pending', 'uploading'] });
    if (pending.some((e) => e.kind === 'write' || e.kind === 'create')) return;
    this.o.store.journal.append({ kind, itemId: item.id, parentId: item.parentId, name: item.name, baseEtag: item.etag });
  }

  private async writableFile(h: OpenFile): Promise<CacheFd> {
    return (h.writeFile ??= await this.content.openFd(h.itemId));
  }

  /**
   * Synchronous when the content is dirty already and this handle has its cache file open (every
   * write after a file's first): nothing to prepare or open, so the bytes and the row step run in
   * one stretch of the loop, without a promise or a thread hop (a 256 MiB cp is 2048 of these).
   */
  write(fh: number, buf: Buffer, length: number, position: number): number | Promise<number> {
    const h = this.handle(fh);
    if (!h.writable) throw new VfsError('EBADF', 'the file was opened read-only');
    this.pagesTouched(h);
    this.recordFailedWrites(h.itemId);
    const file = h.writeFile;
    if (!file || this.content.statusOf(h.itemId) !== 'dirty') return this.writeSlow(h, buf, length, position);
    this.o.uploads.touch(h.itemId);
    this.content.writeAtSync(file, buf.subarray(0, length), position);
    h.changed = true;
    this.recordAfterReply(h, position, position + length);
    return length;
  }

  /**
   * A write to a file that is dirty already is answered once its bytes are in the cache file. Its
   * record (recordChange: size, ranges, the local change counter) follows in a microtask: after
   * the mount's reply (fuse-native sends it in a process.nextTick, which Node runs before the
   * microtasks), so the kernel's next write overlaps it, and before anything else runs on the event
   * loop (the op's callback runs both queues as it returns), so nothing in the engine sees the
   * store without it. The attributes kept in the FUSE thread for the file are dropped before the
   * reply: no stat after the write returned is answered with the size before it. A record that
   * fails is kept (keepUnrecorded). See docs/concurrency.md §3.
   */
  private recordAfterReply(h: OpenFile, start: number, end: number): void {
    for (const listener of this.attributeListeners) listener({ inode: h.inode });
    const itemId = h.itemId;
    queueMicrotask(() => {
      try {
        this.recordWrites(itemId, [{ start, end }]);
      } catch (e) {
        this.o.logger.error({ err: e, itemId, start, end }, 'a write to the cache file could not be recorded; it is tried again before the next step of its file, and on a timer');
        this.keepUnrecorded(itemId, { start, end });
      }
    });
  }

  /**
   * Records the item's writes whose record failed before; if that fails again, its error (they
   * are kept for the next try). Every step that reads the item's size runs this first: a write,
   * fsync, truncate, release (a rename of it over another file takes their ends into the size it
   * gives). Returns whether it recorded any.
   */
  private recordFailedWrites(itemId: string): boolean {
    const writes = this.unrecorded.get(itemId);
    if (!writes) return false;
    if (!this.o.store.items.get(itemId)) {
      this.dropUnrecorded(itemId, 'the file was deleted');
      return false;
    }
    try {
      this.recordWrites(itemId, writes);
    } catch (e) {
      throw toVfsError(e, 'recording earlier writes to the file');
    }
    this.unrecorded.delete(itemId);
    return true;
  }

  /**
   * Writes whose record failed: kept by item, tried before the item's next step (recordFailedWrites)
   * and every `unrecordedRetryMs`, which then schedules the file's upload (a close whose try failed
   * scheduled none). Dropped when their content goes (dropUnrecorded).
   */
  private keepUnrecorded(itemId: string, write: { start: number; end: number }): void {
    this.unrecorded.set(itemId, [...(this.unrecorded.get(itemId) ?? []), write]);
    this.retryUnrecordedLater();
  }

  private retryUnrecordedLater(): void {
    this.unrecordedTimer ??= setTimeout(() => {
      this.unrecordedTimer = undefined;
      for (const itemId of [...this.unrecorded.keys()]) {
        try {
          if (this.recordFailedWrites(itemId)) this.o.uploads.schedule(itemId, { priority: 'high' });
        } catch (e) {
          this.o.logger.warn({ err: e, itemId }, 'writes whose record failed still cannot be recorded; tried again later');
        }
      }
      if (this.unrecorded.size > 0) this.retryUnrecordedLater();
    }, this.o.unrecordedRetryMs ?? DEFAULT_TIMEOUTS.unrecordedWritesRetryMs).unref();
  }

  /** The item's content went (deleted, or replaced by a rename over it): its writes not recorded yet went with it. */
  private dropUnrecorded(itemId: string, why: string): void {
    const writes = this.unrecorded.get(itemId);
    if (!writes) return;
    this.o.logger.error({ itemId, writes }, `writes whose record had failed are dropped: ${why}`);
    this.unrecorded.delete(itemId);
  }

  private recordWrites(itemId: string, writes: ReadonlyArray<{ start: number; end: number }>): void {
    const end = Math.max(...writes.map((w) => w.end));
    this.recordChange(itemId, (current) => Math.max(current.size, end), (ranges) => {
      for (const w of writes) ranges.add(w.start, w.end);
    });
  }

  private async writeSlow(h: OpenFile, buf: Buffer, length: number, position: number): Promise<number> {
    if (h.gone) return this.writeGone(h, h.gone, buf, length, position);
    const item = this.itemOf(h);
    if (!item) throw new VfsError('ENOENT', 'the file was deleted while open');
    // Bytes before the write position and after its end must be the current version's.
    await this.prepareForChange(item, Number.POSITIVE_INFINITY);
    this.o.uploads.touch(item.id);
    const file = await this.writableFile(h);
    this.content.writeAtSync(file, buf.subarray(0, length), position);
    const end = position + length;
    this.recordChange(item.id, (current) => Math.max(current.size, end), (ranges) => ranges.add(position, end));
    h.changed = true;
    return length;
  }

  /**
   * The one way local bytes change state (docs/concurrency.md): in one transaction the content is
   * dirty (based on the server version it started from), a journal entry says it must be uploaded,
   * the size and ranges follow the change, and the local change counter moves. An upload that
   * read the bytes before this commits as stale and uploads again; one that committed while the
   * bytes were being written is undone here (dirty again, journaled again).
   */
  private recordChange(itemId: string, newSize: (item: StoredItem) => number, edit: (ranges: RangeSet, size: number) => void): void {
    const { store } = this.o;
    store.transaction(() => {
      const item = store.items.get(itemId);
      if (!item) throw new VfsError('ENOENT', 'the file was deleted while it was being changed');
      const size = newSize(item);
      const state = store.content.get(itemId);
      const ranges = state?.ranges ?? new RangeSet();
      edit(ranges, size);
      const wasDirty = state?.status === 'dirty';
      this.content.localChange(itemId, { etag: wasDirty ? state.etag : item.etag, ctag: wasDirty ? state.ctag : item.ctag }, ranges);
      if (!wasDirty) this.ensureJournal(item, 'write');
      store.items.setSizeAndTime(item, size, this.now());
    });
  }

  async truncate(path: string, size: number): Promise<void> {
    const item = this.resolve(path);
    if (item.kind !== 'file') throw new VfsError('EISDIR', `is a folder: ${path}`);
    this.checkShare(() => this.o.shares?.checkWrite(item, 'item', path));
    const h: OpenFile = { itemId: item.id, inode: item.inode, writable: true, changed: false };
    try {
      await this.truncateItem(h, item, size);
    } finally {
      h.writeFile?.close();
    }
    if (!h.changed) return;
    // `: > file` opens with O_TRUNC and closes without writing: the kernel truncates by path, so
    // the open handles must know the content changed (their close schedules the upload).
    const writers = [...this.handles.values()].filter((w) => w.itemId === item.id && w.writable && !w.gone);
    for (const w of writers) w.changed = true;
    if (writers.length === 0) this.o.uploads.schedule(item.id, { priority: 'high' });
  }

  async ftruncate(fh: number, size: number): Promise<void> {
    const h = this.handle(fh);
    if (h.gone) return this.truncateGone(h, h.gone, size);
    const item = this.itemOf(h);
    if (!item) throw new VfsError('ENOENT', 'the file was deleted while open');
    await this.truncateItem(h, item, size);
  }

  private async truncateItem(h: OpenFile, item: StoredItem, size: number): Promise<void> {
    if (!Number.isSafeInteger(size) || size < 0) throw new VfsError('EINVAL', `invalid size ${size}`);
    this.recordFailedWrites(item.id);
    for (let attempt = 1; ; attempt++) {
      if (await this.prepareForChange(this.current(item), size, { file: () => this.writableFile(h), size })) break;
      // Content changed already: under the item's lock, so that a save renamed over the file
      // (moveFile) lands wholly before or after the cut and its record; unless an upload made it
      // clean again meanwhile (then it is a first change once more).
      const cut = await this.content.startLocalChange(item.id, async () => {
        if (this.content.statusOf(item.id) !== 'dirty') return false;
        // (A record that failed while this waited.)
        this.recordFailedWrites(item.id);
        const file = await this.writableFile(h);
        await this.content.truncateFile(file, size);
        this.recordChange(
          item.id,
          () => size,
          (ranges) => {
            ranges.truncate(size);
            ranges.add(0, size);
          },
        );
        return true;
      });
      if (cut) break;
      if (attempt >= 3) throw new VfsError('EAGAIN', `truncating ${this.o.store.items.pathOf(item.id) ?? item.id}: its local changes were uploaded three times meanwhile; try again`);
    }
    this.o.uploads.touch(item.id);
    h.changed = true;
  }

  /** Writes the batched last-access times (for the LRU cleaner); the engine calls this periodically. */
  flushAccessTimes(): void {
    if (this.accessed.size === 0) return;
    const entries = [...this.accessed].map(([itemId, atMs]) => ({ itemId, atMs }));
    this.accessed.clear();
    this.o.store.content.touchMany(entries);
  }

  get openHandles(): number {
    return this.handles.size;
  }

  /** True while any handle has the item open (the cache cleaner and "free up space" leave it alone). */
  isOpen(itemId: string): boolean {
    for (const h of this.handles.values()) if (h.itemId === itemId) return true;
    return false;
  }

  // ---- namespace ---------------------------------------------------------------------------

  /** The item already holding `name` (case-insensitively) in the folder, other than `except`. */
  private clash(parent: StoredItem, name: string, except?: string): StoredItem | undefined {
    const existing = this.o.store.items.getChild(parent.id, name);
    return existing && existing.id !== except ? existing : undefined;
  }

  /** clash(), once a file libfuse hid there is deleted (the name is used again: PendingHide); at once when none is. */
  private clashNow(parent: StoredItem, name: string): StoredItem | undefined | Promise<StoredItem | undefined> {
    const hid = this.pendingHideIn(parent, name);
    return hid ? this.deleteHidden(hid).then(() => this.clash(parent, name)) : this.clash(parent, name);
  }

  async mkdir(path: string): Promise<void> {
    const { parent, name } = this.split(path);
    this.checkName(path, name);
    this.checkShare(() => this.o.shares?.checkWrite(parent, 'container', path));
    if (await this.clashNow(parent, name)) throw new VfsError('EEXIST', `${path}: a file or folder with this name already exists (OneDrive names are case-insensitive)`);
    // An offline delete or move away of what held the name is still in the journal: the server
    // keeps the name until it is replayed, so the new folder is created after it, in order.
    if (parent.remoteId !== null && !nameLeavingByReplay(this.o.store, parent.id, name)) {
      try {
        const created = await this.o.graph.createFolder(parent.remoteId, name, 'fail');
        this.madeFolder(this.o.store.items.upsert(this.o.toRecord(created)).id, path);
        return;
      } catch (e) {
        const afterReplay = isNameConflict(e) && (await this.occupantLeavingByReplay(path, parent, name));
        if (!afterReplay && !(e instanceof NetworkError)) throw toVfsError(e, `creating folder ${path}`);
      }
    }
    // Offline, or inside a folder that is itself waiting to be created: local now, replayed later.
    const id = newLocalId();
    const now = this.now();
    this.o.store.transaction(() => {
      this.o.store.items.insert({ id, parentId: parent.id, name, kind: 'folder', size: 0, ctimeMs: now, mtimeMs: now });
      this.o.store.journal.append({ kind: 'mkdir', itemId: id, parentId: parent.id, name });
    });
    this.madeFolder(id, path);
    this.journaled(path, 'mkdir');
  }

  /**
   * The server item holding `name` in `parent` (at `path`) is one an offline change not replayed
   * yet removes (leaving-by-replay.ts), or the landed upload of a file of ours (this one's too: a
   * stale copy) deleted or moved away here, which the replay deletes to take the name
   * (landed-copy.ts; fuzz 263000/176).
   */
  private async occupantLeavingByReplay(path: string, parent: StoredItem, name: string): Promise<boolean> {
    try {
      const occupant = await this.o.graph.getItemByPath(path);
      const inFolder = (found: DriveItem) => this.o.toRecord(found).parentId === parent.remoteId;
      return serverItemLeavingByReplay(this.o.store, occupant.id) || isStrayLandedCopy(this.o.store, { parentKey: parent.id, name, inFolder }, occupant);
    } catch (e) {
      // Cannot tell (unreachable, gone meanwhile, a shared folder's own path): the name stays taken.
      this.o.logger.debug({ err: e, path }, 'could not look at what holds the name on the server');
      return false;
    }
  }

  private journaled(path: string, what: string, when = 'when it is reachable again'): void {
    this.o.logger.info({ path }, `${what} ${path} applied locally; it reaches the server ${when}`);
    this.o.onJournaled?.();
  }

  async rmdir(path: string): Promise<void> {
    const item = this.resolve(path);
    if (item.kind !== 'folder' && item.kind !== 'remote') throw new VfsError('ENOTDIR', `not a folder: ${path}`);
    if (item.parentId === null) throw new VfsError('EBUSY', 'the drive root cannot be removed');
    await this.deleteHiddenIn(item.id);
    if (this.o.store.items.countChildren(item.id) > 0) throw new VfsError('ENOTEMPTY', `folder not empty: ${path}`);
    await this.remove(item, path, {});
  }

  async unlink(path: string): Promise<void> {
    // libfuse lets go of a file it hid (hide): deleted already, or now (or still here: HiddenName).
    const hidden = this.hiddenNames.size > 0 ? this.hiddenNamed(path) : undefined;
    if (hidden) {
      if ('pending' in hidden.named) await this.deleteHidden(hidden.named.pending);
      // What getattr answered for the hidden name is kept no longer (libfuse picks hidden names
      // by asking getattr which are free).
      this.forgetAttributes();
      this.hiddenNames.delete(hidden.key);
      return;
    }
    const item = this.resolve(path);
    if (item.kind === 'folder') throw new VfsError('EISDIR', `is a folder: ${path}`);
    await this.remove(item, path, {});
  }

  /**
   * Deletes on the server (unless the item never got there), then forgets it locally; returns what
   * the handles open on it go on reading. `answered`: the delete was answered already (a file libfuse
   * hid), so one the server refuses is journaled, tried again later, instead of failing;
   * `journalOnly`: journaled without a request.
   */
  private async remove(found: StoredItem, path: string, opts: { answered?: boolean; journalOnly?: boolean }): Promise<GoneFile[]> {
    this.checkShare(() => this.o.shares?.checkWrite(found, 'item', path));
    let offline = false;
    let item = found;
    if (item.remoteId === null && this.o.store.sentVersions.any(item.id) && !opts.journalOnly) {
      await this.removeLandedCopy(item, path);
      // Delta may have recognised the landed upload meanwhile and given the item its server id.
      item = this.o.store.items.get(item.id) ?? item;
    }
    if (item.remoteId === null && item.kind === 'file' && item.parentId !== null) {
      // A request already on its way can still land after every look-up: delta deletes that copy.
      const hashes = this.o.store.sentVersions.list(item.id);
      if (hashes.length) this.o.store.deletedUploads.add({ itemId: item.id, parentId: item.parentId, name: item.name, hashes });
    }
    if (item.remoteId !== null && opts.journalOnly) offline = true;
    // From the request until the rows are gone here, delta leaves the item to this delete
    // (docs/concurrency.md §2): a batch the server computed after the delete can arrive before
    // its answer, and a file with edits would look deleted by someone else (fuzz 710000/216).
    const deleting = item.remoteId !== null && !opts.journalOnly ? this.o.store.items.deletingHere(item.id, item.remoteId) : undefined;
    try {
      return await this.removeRows(item, path, offline, opts);
    } finally {
      deleting?.();
    }
  }

  /** Whether the server says the item does not exist (any other answer, or none: not known to be gone). */
  private async goneOnServer(remoteId: string): Promise<boolean> {
    try {
      await this.o.graph.getItem(remoteId);
      return false;
    } catch (e) {
      return isNotFound(e);
    }
  }

  /** remove() from the server request on: the request (unless `offline` already), then the local rows. */
  private async removeRows(item: StoredItem, path: string, offline: boolean, opts: { answered?: boolean }): Promise<GoneFile[]> {
    if (item.remoteId !== null && !offline) {
      try {
        await this.o.graph.deleteItem(item.remoteId);
      } catch (e) {
        const errno = toVfsError(e, '').errno;
        offline = e instanceof NetworkError || (opts.answered === true && errno !== 'ENOENT');
        if (offline && !(e instanceof NetworkError)) this.o.logger.warn({ path, err: e }, 'OneDrive refused to delete a file deleted while a program held it open; the delete waits in the journal');
        // Already gone on the server: the local view just catches up. So after a failure whose
        // request may have done its work (a timeout): a batch meanwhile left the removal to this
        // delete (deletingHere), and no later delta brings it again.
        if (!offline && errno !== 'ENOENT' && !(await this.goneOnServer(item.remoteId))) throw toVfsError(e, `deleting ${path}`);
      }
    }
    // Where the server holds the item: a rename of it not replayed yet goes with it (forget), so the
    // delete names the place that rename left, the name it frees there (leaving-by-replay.ts; fuzz
    // 173000/530).
    const renamed = this.o.store.journal.list({ itemId: item.id, states: ['pending', 'uploading'] }).find((e) => e.kind === 'rename');
    const place = renamed ? { parentId: renamed.parentId, name: renamed.name } : { parentId: item.parentId, name: item.name };
    // Versions this engine sent for it: one on its way may still land after the delete (it goes
    // with the item's rows, the entry keeps it: journal-replayer deleteIfOnlyRenamed).
    const sentHashes = item.kind === 'file' ? this.o.store.sentVersions.list(item.id) : [];
    // Requests for an item of a shared folder are routed by the store, which forgets it now.
    const driveId = item.remoteId === null ? undefined : this.o.shares?.driveOf(item);
    const drive = driveId ? { driveId } : {};
    // Journaled in the transaction that drops the rows: no kill between them loses the delete.
    const journal = (): void => {
      if (!offline) return;
      // The delete is conditional on the version seen here, so a remote edit made meanwhile survives.
      this.o.store.journal.append({
        kind: item.kind === 'folder' ? 'rmdir' : 'unlink',
        itemId: item.id,
        ...place,
        baseEtag: item.etag,
        ...(item.remoteId === null
          ? {}
          : {
              payload:
                item.kind === 'file'
                  ? { remoteId: item.remoteId, ...drive, baseCtag: item.ctag, quickXorHash: item.quickXorHash, ...(sentHashes.length ? { sentHashes } : {}) }
                  : { remoteId: item.remoteId, ...drive },
            }),
      });
    };
    const gone = await this.forget(item, journal);
    if (offline) this.journaled(path, 'delete of');
    return gone;
  }

  /**
   * A new file whose upload may have reached the server though no answer said so (the engine was
   * killed, or the answer was lost): a copy at its path holding a version we sent is ours, and goes
   * with the local delete — else delta would bring the deleted file back.
   */
  private async removeLandedCopy(item: StoredItem, path: string): Promise<void> {
    await this.o.uploads.cancel(item.id);
    try {
      await deleteLandedCopy(this.o.graph, path, (hash) => this.o.store.sentVersions.has(item.id, hash));
    } catch (e) {
      this.o.logger.warn({ err: e, path }, 'could not check whether an upload of this deleted file reached the server');
    }
  }

  /**
   * Drops an item and everything below it locally: store rows, pending journal entries, uploads,
   * cache files. Handles open on a file keep reading what it held here (GoneFile).
   */
  private async forget(item: StoredItem, alsoInTransaction?: () => void): Promise<GoneFile[]> {
    const held = item.kind === 'file' ? await this.openForGone(item) : [];
    const made: Array<{ h: OpenFile; gone: GoneFile }> = [];
    const gone = this.o.store.transaction(() => {
      const now = this.o.store.items.get(item.id);
      // Handles released while the descriptors were opened are left out (their descriptor closes below).
      const live = new Set(this.handles.values());
      for (const { h, file } of held) if (now && live.has(h)) made.push({ h, gone: this.goneFile(now, file) });
      const removed = this.o.store.items.deleteSubtree(item.id);
      for (const g of removed) {
        for (const e of this.o.store.journal.list({ itemId: g.id, states: ['pending', 'uploading', 'failed'] })) this.o.store.journal.remove(e.seq);
      }
      alsoInTransaction?.();
      return removed;
    });
    // Only once the rows are gone for good (a failed transaction leaves the handles as they were).
    for (const { h, gone: g } of made) h.gone = g;
    // Gone already (another delete came first): nothing of these is read.
    for (const { h, file } of held) if (file && h.gone?.file !== file) await file.close();
    for (const g of gone) {
      await this.o.uploads.cancel(g.id);
      await this.o.downloads.cancel(g.id);
      if (g.contentStatus !== 'none') await this.content.removeFile(g.id);
    }
    return made.map((m) => m.gone);
  }

  /**
   * Descriptors of a file's cache file for each handle open on it (or those of `handles`), before
   * the file is deleted or its content replaced: the handles go on reading what it holds here
   * (GoneFile). Those a failed change did not hand out are closed by the caller.
   */
  private async openForGone(item: StoredItem, handles?: readonly OpenFile[]): Promise<Array<{ h: OpenFile; file?: FileHandle }>> {
    const open = (handles ?? [...this.handles.values()]).filter((h) => h.itemId === item.id && !h.gone);
    const cached = (this.o.store.content.get(item.id)?.status ?? 'none') !== 'none';
    return Promise.all(
      open.map(async (h) => {
        if (!cached) return { h };
        try {
          // Read-write: a write through the handle goes into the version it opened (writeGone).
          return { h, file: await openFile(this.o.downloads.cachePath(item.id), 'r+') };
        } catch (e) {
          this.o.logger.warn({ itemId: item.id, err: e }, 'a file deleted while open: its cached bytes could not be kept for the programs reading it');
          return { h };
        }
      }),
    );
  }

  /** What a handle of a file being deleted goes on reading: read in the deleting transaction. */
  private goneFile(item: StoredItem, file: FileHandle | undefined): GoneFile {
    const content = this.o.store.content.get(item.id);
    const ranges =
      !file || !content || content.status === 'none'
        ? new RangeSet()
        : content.status === 'dirty'
          ? RangeSet.whole(item.size)
          : sameContent(content, item)
            ? content.ranges.clone()
            : new RangeSet();
    return { attr: { ...this.attrOf(item), nlink: 0 }, file, ranges };
  }

  /**
   * The server's answer to a rename/move or a time change: a file with local changes keeps its local
   * size, time and content state; an item deleted here meanwhile stays deleted.
   */
  private applyAnswer(item: StoredItem, answer: DriveItem): void {
    if (!this.o.store.items.get(item.id)) return;
    // A delta batch asked for before this answer must not undo it (docs/concurrency.md §2).
    this.o.store.items.noteChangedHere(item.id, answer.id);
    if (this.o.store.content.get(item.id)?.status === 'dirty') {
      const record = this.o.toRecord(answer);
      this.o.store.transaction(() => {
        // The answer names the folder by its server id; a folder made here has a key of its own.
        this.o.store.items.move(item.id, record.parentId === null ? item.parentId! : this.o.store.items.keyOf(record.parentId), record.name);
        this.o.store.items.update(item.id, { etag: record.etag ?? null });
      });
    } else {
      this.o.store.items.upsert(this.o.toRecord(answer));
    }
  }

  /**
   * rename(2): same folder, across folders, and over an existing target (replacing it). `caller`:
   * the thread that asked (0: not known), which tells libfuse's two steps of a rename over an open
   * file from an unlink and another program's rename (PendingHide).
   */
  async rename(from: string, to: string, caller = 0): Promise<void> {
    // A folder moves its files' records too (not found: looked for as if it were one).
    const folder = this.o.store.items.resolvePath(from)?.kind !== 'file';
    await this.renameNode(from, to, caller);
    // libfuse moves its node (and so the kernel's pages) to the new name once this is answered.
    this.kernelPages.moved(from, to, folder);
    for (const h of this.handles.values()) {
      const at = h.pagePath;
      if (at !== undefined && (at === from || at.startsWith(`${from}/`))) h.pagePath = to + at.slice(from.length);
    }
  }

  private async renameNode(from: string, to: string, caller: number): Promise<void> {
    if (this.isHiding(from, to)) return this.hide(from, to, caller);
    const hid = this.pendingHideAt(to);
    if (!hid) return this.renameTo(from, to, []);
    // A rename onto a file libfuse hid a moment ago by the same request: a save over a file open elsewhere.
    if (!hid.deleting && (hid.caller === 0 || caller === 0 || hid.caller === caller)) return this.saveOverHidden(hid, from, to);
    await this.deleteHidden(hid);
    return this.renameTo(from, to, []);
  }

  /** rename(); `detach`: handles open on the target that keep the content they opened (saveOverHidden). */
  private async renameTo(from: string, to: string, detach: readonly OpenFile[]): Promise<void> {
    let item = this.resolve(from);
    if (item.parentId === null) throw new VfsError('EINVAL', 'the drive root cannot be renamed');
    const split = this.split(to);
    let newParent = split.parent;
    const name = split.name;
    this.checkName(to, name);
    this.checkShare(() => this.o.shares?.checkRename(item, newParent, from, to));
    for (let p: StoredItem | undefined = newParent; p; p = p.parentId ? this.o.store.items.get(p.parentId) : undefined) {
      if (p.id === item.id) throw new VfsError('EINVAL', `cannot move ${from} into itself`);
    }
    const target = this.clash(newParent, name, item.id);
    if (target) {
      const targetIsDir = target.kind === 'folder';
      const itemIsDir = item.kind === 'folder';
      if (targetIsDir && !itemIsDir) throw new VfsError('EISDIR', `${to} is a folder`);
      if (!targetIsDir && itemIsDir) throw new VfsError('ENOTDIR', `${to} is not a folder`);
      if (targetIsDir) await this.deleteHiddenIn(target.id);
      if (targetIsDir && this.o.store.items.countChildren(target.id) > 0) throw new VfsError('ENOTEMPTY', `folder not empty: ${to}`);
      if (item.remoteId === null && target.remoteId !== null && !targetIsDir) {
        // An editor's save (write a temp file, rename it over the original): the original keeps its
        // id, history and conflict check; only its content is replaced.
        await this.replaceContent(item, target, detach);
        return;
      }
      // POSIX rename replaces the target; OneDrive refuses a clash, so the target goes first.
      await this.remove(target, to, {});
      // The item as it is now: a first upload may have committed while the target went (an
      // editor's save of a file not uploaded yet), and the server copy must move with it.
      const now = this.o.store.items.get(item.id);
      if (!now) throw new VfsError('ENOENT', `no such file or folder: ${from}`);
      item = now;
      newParent = this.o.store.items.get(newParent.id) ?? newParent;
    }
    if (item.remoteId === null) {
      // Never uploaded yet: the upload (or folder creation) will use wherever it is by then.
      this.o.store.items.move(item.id, newParent.id, name);
      return;
    }
    // An offline rename or mkdir of this item not replayed yet goes first: sent now, this one could
    // land before it and be undone by it (fuzz 15000/178). It joins the journal behind it.
    const queued = this.o.store.journal.list({ itemId: item.id, states: ['pending', 'uploading'] }).some((e) => e.kind === 'rename' || e.kind === 'mkdir');
    // So does an offline delete or move away of what held the new name there (as for mkdir): the
    // server keeps the name until it is replayed (fuzz 132000/68).
    let nameHeld = nameLeavingByReplay(this.o.store, newParent.id, name, { exceptItemId: item.id });
    if (newParent.remoteId !== null && !queued && !nameHeld) {
      const move = () =>
        this.o.graph.update(item.remoteId!, {
          name,
          ...(newParent.id !== item.parentId ? { parentReference: { id: newParent.remoteId! } } : {}),
        });
      // The name's holder may be a new file's server copy that its upload is moving to where the
      // file went here: once that move ends the name is free (or its move is journaled, below). Asked
      // before the request too: that move may end between the server's refusal and its answer here.
      const leavingBefore = this.o.uploads.leaving(newParent.id, name);
      try {
        let moved: DriveItem;
        try {
          moved = await move();
        } catch (e) {
          const leaving = isNameConflict(e) ? (this.o.uploads.leaving(newParent.id, name) ?? leavingBefore) : undefined;
          if (!leaving) throw e;
          await leaving;
          // Taken here meanwhile (a create): refused as it would have been before the wait.
          if (this.clash(newParent, name, item.id)) throw new VfsError('EEXIST', `${to}: a file or folder with this name already exists`);
          moved = await move();
        }
        this.applyAnswer(item, moved);
        return;
      } catch (e) {
        nameHeld = isNameConflict(e) && (await this.occupantLeavingByReplay(to, newParent, name));
        if (!nameHeld && !(e instanceof NetworkError)) throw toVfsError(e, `renaming ${from} to ${to}`);
      }
    }
    this.o.store.transaction(() => {
      this.o.store.items.move(item.id, newParent.id, name);
      this.o.store.journal.append({ kind: 'rename', itemId: item.id, parentId: item.parentId, name: item.name, newParentId: newParent.id, newName: name });
    });
    this.journaled(from, 'rename of', queued ? 'after the earlier offline change of it' : nameHeld ? 'after the offline change that frees its new name' : undefined);
  }

  /**
   * libfuse's rename of an open file to a hidden name in its folder (`.fuse_hidden` and 16 hex
   * digits, free): how its high-level API passes an unlink of a file that is open, or a rename over
   * it, before it unlinks that name at the last close (without hard_remove, which would leave
   * fstat of such files failing with ENOENT). A file nobody holds open is renamed as asked.
   */
  private isHiding(from: string, to: string): boolean {
    const slash = to.lastIndexOf('/');
    if (!LIBFUSE_HIDDEN.test(to.slice(slash + 1)) || from.lastIndexOf('/') !== slash || from.slice(0, slash) !== to.slice(0, slash)) return false;
    if (this.hiddenNames.size > 0 && this.hiddenNamed(to)) return false;
    const item = this.find(from);
    return item !== undefined && this.isOpen(item.id);
  }

  /**
   * libfuse hid an open file (isHiding): an unlink of it, or the first step of a rename over it.
   * Which one shows next (PendingHide); the file looks deleted at once. Refused at once where the
   * file could not be deleted (a folder shared read-only).
   */
  private hide(from: string, to: string, caller: number): void {
    const item = this.resolve(from);
    this.checkShare(() => this.o.shares?.checkWrite(item, 'item', from));
    // Kept in the store first: if that fails, the rename fails and nothing is hidden.
    this.saveHiddenFiles([...this.pendingHides.keys(), item.id]);
    const hid: PendingHide = {
      itemId: item.id,
      parentId: item.parentId!,
      hiddenName: to.slice(to.lastIndexOf('/') + 1),
      caller,
      attr: { ...this.attrOf(item), nlink: 0 },
      timer: setTimeout(() => void this.deleteHidden(hid), this.o.hideGraceMs ?? DEFAULT_TIMEOUTS.hiddenFileGraceMs),
    };
    hid.timer.unref();
    this.forgetAttributes();
    this.pendingHides.set(item.id, hid);
    this.hiddenNames.set(hiddenKey(hid.parentId, hid.hiddenName), { pending: hid });
  }

  /** The files whose fate is not known yet, kept in the store: a kill must not undo an answered unlink. */
  private saveHiddenFiles(keys: readonly string[]): void {
    if (keys.length === 0) this.o.store.driveState.delete('hiddenFiles');
    else this.o.store.driveState.set('hiddenFiles', [...keys]);
  }

  /** The pending files but `itemId`. */
  private otherHiddenFiles(itemId: string): string[] {
    return [...this.pendingHides.keys()].filter((key) => key !== itemId);
  }

  /**
   * At start, before the mount: files libfuse hid when the engine was killed, their fate not known
   * yet, are deleted as the unlink that hid them was answered (journaled, replayed once online).
   */
  async deleteHiddenLeftOver(): Promise<number> {
    const keys = this.o.store.driveState.get('hiddenFiles') ?? [];
    let deleted = 0;
    for (const key of keys) {
      const item = this.o.store.items.get(key);
      if (!item) continue;
      const path = this.o.store.items.pathOf(item.id) ?? `/${item.name}`;
      try {
        await this.remove(item, path, { answered: true, journalOnly: true });
        deleted++;
      } catch (e) {
        // A folder shared read-only since, say: the file stays, as a refused delete would leave it.
        this.o.logger.error({ path, err: e }, 'a file deleted while a program held it open, just before the engine stopped, could not be deleted; it stays');
      }
    }
    this.o.store.driveState.delete('hiddenFiles');
    return deleted;
  }

  /** Files libfuse hid in a folder (rm -rf of a folder whose files a program holds) are deleted before it goes. */
  private async deleteHiddenIn(folderId: string): Promise<void> {
    await Promise.all([...this.pendingHides.values()].filter((hid) => hid.parentId === folderId).map((hid) => this.deleteHidden(hid)));
  }

  /** The file libfuse hid that holds `path`'s name (case-insensitively), if its fate is not known yet. */
  private pendingHideAt(path: string): PendingHide | undefined {
    if (this.pendingHides.size === 0) return undefined;
    const cut = path.lastIndexOf('/');
    const folder = this.folderAt(cut <= 0 ? '/' : path.slice(0, cut));
    return folder && this.pendingHideIn(folder, path.slice(cut + 1));
  }

  private pendingHideIn(folder: StoredItem, name: string): PendingHide | undefined {
    if (this.pendingHides.size === 0) return undefined;
    const holder = this.clash(folder, name);
    return holder && this.pendingHides.get(holder.id);
  }

  /**
   * A hidden file's delete, as an unlink's (once): the hidden name never reaches the server. A
   * delete the server refuses is journaled and tried again (the unlink was answered already);
   * `journalOnly` journals it at once (the engine is stopping). Until libfuse unlinks the hidden
   * name, it answers getattr with the file's last attributes, and the handles open on the file read
   * what it held here (GoneFile).
   */
  private deleteHidden(hid: PendingHide, journalOnly = false): Promise<void> {
    clearTimeout(hid.timer);
    hid.deleting ??= (async () => {
      const key = hiddenKey(hid.parentId, hid.hiddenName);
      try {
        const item = this.o.store.items.get(hid.itemId);
        if (!item) {
          this.hiddenNames.set(key, { attr: hid.attr });
          return;
        }
        const gone = await this.remove(item, this.o.store.items.pathOf(item.id) ?? `/${item.name}`, { answered: true, journalOnly });
        this.hiddenNames.set(key, { attr: gone[0]?.attr ?? { ...this.attrOf(item), nlink: 0 } });
      } catch (e) {
        if (this.o.store.items.get(hid.itemId)) {
          // Not even journaled (a share made read-only meanwhile, the store failing): the file is back.
          this.hiddenNames.set(key, { itemId: hid.itemId });
          this.changesBack(hid.itemId);
          this.o.logger.error({ itemId: hid.itemId, err: e }, 'a file deleted while a program held it open could not be deleted; it is back');
        } else {
          this.hiddenNames.set(key, { attr: hid.attr });
          this.o.logger.error({ itemId: hid.itemId, err: e }, 'a file deleted while a program held it open is deleted, but what it left here could not all be cleared');
        }
      } finally {
        try {
          this.saveHiddenFiles(this.otherHiddenFiles(hid.itemId));
        } catch (e) {
          // The next start finds the key of a file deleted already, and skips it.
          this.o.logger.error({ err: e }, 'could not record that a hidden file was deleted');
        }
        this.pendingHides.delete(hid.itemId);
        this.forgetAttributes();
      }
    })();
    return hid.deleting;
  }

  /**
   * Every hidden file whose fate is not known yet is deleted now, its delete journaled for the next
   * start (the mount is gone, and the engine stopping).
   */
  async deleteHiddenFiles(): Promise<void> {
    await Promise.all([...this.pendingHides.values()].map((hid) => this.deleteHidden(hid, true)));
  }

  /**
   * The rename of a save over a file another program holds open, after libfuse hid that file. The
   * file stays the same item on the server (a new version, its history kept), as for a save over a
   * file nobody holds; that program goes on reading the version it opened (GoneFile). If the rename
   * fails, the file stays, and libfuse's hidden name names it until libfuse lets go of it.
   */
  private async saveOverHidden(hid: PendingHide, from: string, to: string): Promise<void> {
    // Recorded first: if that fails, the rename fails with the file still waiting.
    this.saveHiddenFiles(this.otherHiddenFiles(hid.itemId));
    clearTimeout(hid.timer);
    this.pendingHides.delete(hid.itemId);
    const key = hiddenKey(hid.parentId, hid.hiddenName);
    this.hiddenNames.set(key, { itemId: hid.itemId });
    this.forgetAttributes();
    const held = [...this.handles.values()].filter((h) => h.itemId === hid.itemId && !h.gone);
    try {
      await this.renameTo(from, to, held);
    } catch (e) {
      // Failed after the file went (its server delete came first: a source on the server), the
      // hidden name answers with the file's last attributes.
      if (!this.o.store.items.get(hid.itemId)) this.hiddenNames.set(key, { attr: held.find((h) => h.gone)?.gone?.attr ?? hid.attr });
      else this.changesBack(hid.itemId);
      throw e;
    } finally {
      this.forgetAttributes();
    }
    this.hiddenNames.set(key, { attr: held.find((h) => h.gone)?.gone?.attr ?? hid.attr });
  }

  /** A hidden file is back after all: changes made to it while it waited are uploaded (uploadable). */
  private changesBack(itemId: string): void {
    if (this.o.store.content.statusOf(itemId) === 'dirty') this.o.uploads.schedule(itemId, { priority: 'high' });
  }

  /** Tells onAttributesChange listeners of a change the store does not see. */
  private forgetAttributes(): void {
    for (const listener of this.attributeListeners) listener();
  }

  /** Moves a local file's bytes into an existing server file, which then uploads as a new version. */
  private async replaceContent(source: StoredItem, target: StoredItem, detach: readonly OpenFile[] = []): Promise<void> {
    await this.o.uploads.cancel(source.id);
    // (The target's downloads are stopped by moveFile, under its lock: a read or a first write
    // waiting for them goes on with the new content.)
    const base = this.o.store.content.get(target.id);
    const held = await this.openForGone(target, detach);
    try {
      await this.content.moveFile(source.id, target.id, () => {
        const replaced = this.o.store.items.get(target.id);
        const live = new Set(this.handles.values());
        for (const { h, file } of held) if (replaced && live.has(h)) h.gone = this.goneFile(replaced, file);
        // The moved file as it is now: writes through its handles were recorded during the awaits
        // above, or failed to be (their ends count: the bytes are in the moved file).
        const now = this.o.store.items.get(source.id) ?? source;
        const size = Math.max(now.size, ...(this.unrecorded.get(source.id) ?? []).map((w) => w.end));
        const started = base?.status === 'dirty' ? base : { etag: target.etag, ctag: target.ctag };
        this.content.contentReplaced(target.id, { etag: started.etag, ctag: started.ctag }, RangeSet.whole(size));
        this.o.store.items.update(target.id, { size, mtimeMs: now.mtimeMs });
        for (const e of this.o.store.journal.list({ itemId: source.id, states: ['pending', 'uploading', 'failed'] })) this.o.store.journal.remove(e.seq);
        this.o.store.items.deleteSubtree(source.id);
        this.ensureJournal(target, 'write');
        // Other handles open on the target follow its new content (through FUSE those of a save over
        // an open file are detached above; keep-mine's rename of a copy over its file runs beside
        // programs that may have it open): their descriptors of the replaced cache file are let go
        // under the item's lock, and their next read or write opens the new one.
        for (const h of this.handles.values()) if (h.itemId === target.id) this.retireDescriptors(h);
        // Descriptors still open on the renamed file now write the original's content (their cache
        // file moved with it), as POSIX rename keeps them working; from here on, not after the
        // awaits below, so that a write meanwhile is recorded on the original.
        for (const h of this.handles.values()) {
          if (h.itemId !== source.id) continue;
          h.itemId = target.id;
          h.inode = target.inode;
        }
        this.unrecorded.delete(source.id);
        this.dropUnrecorded(target.id, 'another file was renamed over it');
      });
    } finally {
      for (const { h, file } of held) if (file && h.gone?.file !== file) await file.close();
    }
    this.o.uploads.schedule(target.id, { priority: 'high' });
  }

  /**
   * A handle's descriptors of a cache file that was replaced: the write descriptor is closed at
   * release (a read on the thread pool may still be using it), and the reader and read file of a
   * clean version are opened again at the next read (version unknown).
   */
  private retireDescriptors(h: OpenFile): void {
    if (h.writeFile) this.retire(h, h.writeFile);
    h.writeFile = undefined;
    h.local = undefined;
    h.seen = undefined;
    h.version = undefined;
  }

  /** A descriptor the handle no longer uses: closed now, or once its running reads and syncs end. */
  private retire(h: OpenFile, file: CacheFd): void {
    (h.retired ??= []).push(file);
    if (!h.busy) this.closeRetired(h);
  }

  private closeRetired(h: OpenFile): void {
    const files = h.retired ?? [];
    h.retired = undefined;
    for (const file of files) file.close();
  }

  /** An operation of the handle on the thread pool: its retired descriptors wait for it to end. */
  private async whileBusy<T>(h: OpenFile, work: Promise<T>): Promise<T> {
    h.busy = (h.busy ?? 0) + 1;
    try {
      return await work;
    } finally {
      if (--h.busy === 0 && h.retired) this.closeRetired(h);
    }
  }

  /**
   * A read of bytes that may not be in memory (a file cached long ago): in the thread pool, so a
   * slow disk never holds the loop (callback API: no FileHandle promise machinery per call); counted
   * in the handle's `busy` meanwhile.
   */
  private readOff(h: OpenFile, fd: number, buf: Buffer, length: number, position: number): Promise<number> {
    h.busy = (h.busy ?? 0) + 1;
    return new Promise((resolve, reject) =>
      readFd(fd, buf, 0, length, position, (err, n) => {
        if (--h.busy! === 0 && h.retired) this.closeRetired(h);
        if (err) reject(err);
        else resolve(n);
      }),
    );
  }

  /** utimens: OneDrive keeps whole seconds of the modification time (fileSystemInfo). */
  async utimens(path: string, mtimeMs: number): Promise<void> {
    const item = this.resolve(path);
    if (item.parentId === null) return;
    this.checkShare(() => this.o.shares?.checkWrite(item, 'item', path));
    const seconds = Math.floor(mtimeMs / 1000) * 1000;
    if (item.remoteId === null || this.o.store.content.get(item.id)?.status === 'dirty') {
      // Not uploaded yet: the upload carries the time (one set while it is on its way follows it
      // through the journal: the upload worker's commit).
      this.o.store.items.update(item.id, { mtimeMs: seconds });
      return;
    }
    try {
      const updated = await this.o.graph.update(item.remoteId, {
        fileSystemInfo: { lastModifiedDateTime: new Date(seconds).toISOString().replace(/\.\d{3}Z$/, 'Z') },
      });
      // A write while the request was on its way made the size and time the upload will carry
      // (the whole answer put the old size back and cut the write off: vfs-time-change.test.ts).
      this.applyAnswer(item, updated);
    } catch (e) {
      if (!(e instanceof NetworkError)) throw toVfsError(e, `setting the time of ${path}`);
      this.o.store.transaction(() => {
        this.o.store.items.update(item.id, { mtimeMs: seconds });
        this.o.store.journal.append({ kind: 'setattr', itemId: item.id, payload: { mtimeMs: seconds } });
      });
      this.journaled(path, 'time change of');
    }
  }

  // ---- status ------------------------------------------------------------------------------

  /** The file's state as the status xattr and file managers show it. */
  itemState(item: StoredItem): ItemState {
    if (item.kind !== 'file') return 'cached';
    const content = this.o.store.content.get(item.id);
    if (content?.errorCode) return 'error';
    if (this.o.downloads.isActive?.(item.id)) return 'syncing';
    if (content?.status === 'dirty') return 'modified';
    // By the rule reads use: a new time or name changes the eTag, not the bytes held here.
    const held = content !== undefined && content.status !== 'none' && sameContent(content, item);
    // An empty file has nothing to fetch: it is on this device whether it was read or not. A file
    // below a pinned folder is pinned too (the ancestor walk runs only for files on this device).
    if (held ? content.status === 'complete' : item.size === 0) return content?.pinned || this.o.store.content.isEffectivelyPinned(item.id) ? 'pinned' : 'cached';
    return held ? 'partial' : 'cloud-only';
  }

  /**
   * Whether reading all of the file needs no download: its current bytes are on this device (or it
   * has local changes, or nothing to read). Folders count as local. For callers that must not
   * start a download (an indexer's open, src-main/fuse/indexer-guard.ts).
   */
  isLocal(path: string): boolean {
    const item = this.resolve(path);
    if (item.kind !== 'file' || item.size === 0) return true;
    if (this.o.store.content.get(item.id)?.status === 'dirty') return true;
    return this.isCached(item, 0, item.size);
  }

  getxattr(path: string, name: string): Buffer | undefined {
    // `ls -l` asks every entry for security.selinux and system.posix_acl_access: answer at once.
    if (name === SHARE_XATTR) {
      const access = this.o.shares?.accessOf(this.resolve(path));
      return access === undefined ? undefined : Buffer.from(access === 'read' ? 'read-only' : access === 'write' ? 'read-write' : 'unknown');
    }
    if (name !== STATUS_XATTR) return undefined;
    const item = this.resolve(path);
    // A shared folder added to the drive says so; what is below it has the usual file states.
    return Buffer.from(item.kind === 'remote' ? 'shared' : this.itemState(item));
  }

  listxattr(path: string): string[] {
    const item = this.resolve(path);
    return this.o.shares?.accessOf(item) === undefined ? [STATUS_XATTR] : [STATUS_XATTR, SHARE_XATTR];
  }

  /** Runs a shared-folder check, turning its refusal into the errno it names. */
  private checkShare(check: () => void): void {
    try {
      check();
    } catch (e) {
      const errno = (e as { errno?: unknown }).errno;
      if (errno === 'EACCES' || errno === 'EXDEV') throw new VfsError(errno, (e as Error).message, { cause: e });
      throw e;
    }
  }

  // ---- statfs ------------------------------------------------------------------------------

  /** From the drive quota the engine keeps fresh (setQuota); never a network call. */
  statfs(): StatFs {
    const total = this.quota?.total ?? 0;
    const remaining = this.quota?.remaining ?? Math.max(0, total - (this.quota?.used ?? 0));
    const files = this.o.store.items.count();
    return {
      bsize: BLOCK,
      frsize: BLOCK,
      blocks: Math.floor(total / BLOCK),
      bfree: Math.floor(remaining / BLOCK),
      bavail: Math.floor(remaining / BLOCK),
      files: files + 1_000_000,
      ffree: 1_000_000,
      favail: 1_000_000,
      namemax: 255,
    };
  }

  setQuota(quota: Quota | undefined): void {
    this.quota = quota;
  }
}

/**
 * A read of a file not yet whole here, on this device's disk (never the mount): mostly bytes a
 * download has just brought, still in the page cache, so a copy, done on the loop; a round trip
 * through the thread pool cost more than the copy (bench peers, cold read). A range cached in an
 * earlier session may need the disk: a short wait on the loop.
 */
function readAt(fd: number, buf: Buffer, length: number, position: number): number {
  return readSync(fd, buf, 0, length, position);
}

