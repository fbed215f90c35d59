/**
 * The filesystem's semantics, FUSE-agnostic. Metadata answers come from the store (never a network
 * round trip); content reads wait only for the byte ranges they need; namespace changes go to the
 * server first and land in the store from the server's answer.
 *
 * Until the write path lands, content writes answer EROFS with a clear message.
 */
import { open as openFile, type FileHandle } from 'node:fs/promises';
import type { Logger } from '../base/logger.ts';
import { nameKey, nameProblemErrno, validateName, validatePath, type DriveMode } from '../../src-shared/model/names.ts';
import type { ItemState } from '../../src-shared/model/transfer.ts';
import type { DriveItem, GraphClient, Quota } from '../graph/index.ts';
import type { ItemRecord, Store, StoredItem } from '../store/index.ts';
import { toVfsError, VfsError } from './vfs-error.ts';

/** What the vfs needs from the download manager. */
export interface ContentReaderPort {
  waitFor(offset: number, length: number, signal?: AbortSignal): Promise<void>;
  close(): void;
}

export interface DownloadsPort {
  cachePath(itemId: string): string;
  openReader(item: ContentItem): ContentReaderPort;
  invalidate(itemId: string): Promise<void> | void;
  /** True while a download of the item is queued or running. */
  isActive?(itemId: string): boolean;
}

export interface ContentItem {
  id: string;
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
  logger: Logger;
  driveMode: DriveMode;
  /** Maps a server answer to a store record (the same mapping delta uses). */
  toRecord: (item: DriveItem) => ItemRecord;
  uid: number;
  gid: number;
  /** How long a wait for missing content may take before the read fails. */
  readTimeoutMs: number;
  /** statfs answers from a cached quota, refreshed at most this often. */
  quotaRefreshMs?: number;
  now?: () => number;
}

export interface Attr {
  ino: number;
  mode: number;
  nlink: number;
  uid: number;
  gid: number;
  size: number;
  blocks: number;
  blksize: number;
  atime: Date;
  mtime: Date;
  ctime: Date;
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
  itemId: string;
  reader?: ContentReaderPort;
  file?: FileHandle;
  /** The content version the open cache file belongs to. */
  version?: string;
}

export const STATUS_XATTR = 'user.onemount.status';
const BLOCK = 4096;
const DIR_MODE = 0o040755;
const FILE_MODE = 0o100644;

export class Vfs {
  private readonly handles = new Map<number, OpenFile>();
  private nextHandle = 1;
  private quota: Quota | undefined;
  private quotaFetchedAt = 0;
  private quotaRefresh: Promise<void> | undefined;
  /** Last-access times to record, batched so reads do not each commit a transaction. */
  private readonly accessed = new Map<string, number>();
  private readonly now: () => number;

  constructor(private readonly o: VfsOptions) {
    this.now = o.now ?? Date.now;
  }

  // ---- lookup ------------------------------------------------------------------------------

  /** The item at a mount-relative path (`/` is the root). */
  resolve(path: string): StoredItem {
    const item = path === '/' ? this.o.store.items.getRoot() : this.o.store.items.resolvePath(path);
    if (!item) throw new VfsError('ENOENT', `no such file or folder: ${path}`);
    return item;
  }

  private split(path: string): { parent: StoredItem; name: string } {
    const cut = path.lastIndexOf('/');
    const name = path.slice(cut + 1);
    const parent = this.resolve(cut <= 0 ? '/' : path.slice(0, cut));
    if (parent.kind !== 'folder') throw new VfsError('ENOTDIR', `not a folder: ${path.slice(0, cut) || '/'}`);
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
      blksize: BLOCK,
      atime: new Date(item.mtimeMs),
      mtime: new Date(item.mtimeMs),
      ctime: new Date(Math.max(item.ctimeMs, item.mtimeMs)),
    };
  }

  getattr(path: string): Attr {
    return this.attrOf(this.resolve(path));
  }

  /** Every entry of a folder, paged out of the store (large folders never load in one query). */
  readdir(path: string): { names: string[]; attrs: Attr[] } {
    const dir = this.resolve(path);
    if (dir.kind !== 'folder') throw new VfsError('ENOTDIR', `not a folder: ${path}`);
    const names: string[] = [];
    const attrs: Attr[] = [];
    let after: string | undefined;
    for (;;) {
      const page = this.o.store.items.listChildren(dir.id, after, 1000);
      for (const child of page) {
        names.push(child.name);
        attrs.push(this.attrOf(child));
      }
      if (page.length < 1000) break;
      after = page[page.length - 1]!.nameKey;
    }
    return { names, attrs };
  }

  // ---- content -----------------------------------------------------------------------------

  open(path: string, flags: number): number {
    const item = this.resolve(path);
    if (item.kind === 'folder' || item.kind === 'remote') throw new VfsError('EISDIR', `is a folder: ${path}`);
    if (item.kind === 'package') throw new VfsError('ENOTSUP', `${path} is a OneNote notebook or similar package; open it on the web`);
    // O_ACCMODE: 0 read-only, 1 write-only, 2 read-write. O_TRUNC is 0o1000.
    if ((flags & 3) !== 0 || (flags & 0o1000) !== 0) {
      throw new VfsError('EROFS', `${path}: writing file contents is not supported yet (the write path is not built); folders can be created, renamed and deleted`);
    }
    const fh = this.nextHandle++;
    this.handles.set(fh, { itemId: item.id });
    return fh;
  }

  private handle(fh: number): OpenFile {
    const h = this.handles.get(fh);
    if (!h) throw new VfsError('EBADF', `unknown file handle ${fh}`);
    return h;
  }

  private contentItem(item: StoredItem): ContentItem {
    return { id: item.id, size: item.size, etag: item.etag, ctag: item.ctag, quickXorHash: item.quickXorHash, path: this.o.store.items.pathOf(item.id) };
  }

  /** Reads into `buf`; waits only for the bytes asked for. Returns the number of bytes read. */
  async read(fh: number, buf: Buffer, length: number, position: number): Promise<number> {
    const h = this.handle(fh);
    const item = this.o.store.items.get(h.itemId);
    if (!item) throw new VfsError('ENOENT', 'the file was deleted while open');
    if (position >= item.size || length <= 0) return 0;
    const n = Math.min(length, item.size - position);
    const version = `${item.ctag ?? ''}|${item.etag ?? ''}|${item.size}`;
    if (h.version !== version) {
      // The remote version changed under an open file: start over on the new bytes.
      h.reader?.close();
      h.reader = undefined;
      await h.file?.close();
      h.file = undefined;
      h.version = version;
    }
    h.reader ??= this.o.downloads.openReader(this.contentItem(item));
    const signal = AbortSignal.timeout(this.o.readTimeoutMs);
    try {
      await h.reader.waitFor(position, n, signal);
    } catch (e) {
      const err = toVfsError(e, `reading ${this.o.store.items.pathOf(item.id) ?? item.id} at ${position}`);
      this.o.logger.warn({ itemId: item.id, errno: err.errno }, err.message);
      throw new VfsError(err.errno === 'ENOENT' ? 'EIO' : err.errno, err.message, { cause: e });
    }
    h.file ??= await openFile(this.o.downloads.cachePath(item.id), 'r');
    const { bytesRead } = await h.file.read(buf, 0, n, position);
    this.accessed.set(item.id, this.now());
    return bytesRead;
  }

  async release(fh: number): Promise<void> {
    const h = this.handles.get(fh);
    if (!h) return;
    this.handles.delete(fh);
    h.reader?.close();
    await h.file?.close();
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

  refuseWrite(path: string): never {
    throw new VfsError('EROFS', `${path}: writing file contents is not supported yet (the write path is not built)`);
  }

  // ---- namespace ---------------------------------------------------------------------------

  private clash(parent: StoredItem, name: string, path: string, except?: string): StoredItem | undefined {
    const existing = this.o.store.items.getChild(parent.id, name);
    if (existing && existing.id !== except && nameKey(existing.name) === nameKey(name)) {
      return existing;
    }
    void path;
    return undefined;
  }

  async mkdir(path: string): Promise<void> {
    const { parent, name } = this.split(path);
    this.checkName(path, name);
    if (this.clash(parent, name, path)) throw new VfsError('EEXIST', `${path}: a file or folder with this name already exists (OneDrive names are case-insensitive)`);
    let created: DriveItem;
    try {
      created = await this.o.graph.createFolder(parent.id, name, 'fail');
    } catch (e) {
      throw toVfsError(e, `creating folder ${path}`);
    }
    this.o.store.items.upsert(this.o.toRecord(created));
  }

  async rmdir(path: string): Promise<void> {
    const item = this.resolve(path);
    if (item.kind !== 'folder') throw new VfsError('ENOTDIR', `not a folder: ${path}`);
    if (item.parentId === null) throw new VfsError('EBUSY' as never, 'the drive root cannot be removed');
    if (this.o.store.items.countChildren(item.id) > 0) throw new VfsError('ENOTEMPTY', `folder not empty: ${path}`);
    await this.deleteOnServer(item, path);
  }

  async unlink(path: string): Promise<void> {
    const item = this.resolve(path);
    if (item.kind === 'folder') throw new VfsError('EISDIR', `is a folder: ${path}`);
    await this.deleteOnServer(item, path);
  }

  private async deleteOnServer(item: StoredItem, path: string): Promise<void> {
    try {
      await this.o.graph.deleteItem(item.id);
    } catch (e) {
      // Already gone on the server: the local view just catches up.
      if (toVfsError(e, '').errno !== 'ENOENT') throw toVfsError(e, `deleting ${path}`);
    }
    for (const gone of this.o.store.items.deleteSubtree(item.id)) {
      if (gone.contentStatus !== 'none') await this.o.downloads.invalidate(gone.id);
    }
  }

  /** rename(2): same folder, across folders, and over an existing target (replacing it). */
  async rename(from: string, to: string): Promise<void> {
    const item = this.resolve(from);
    if (item.parentId === null) throw new VfsError('EINVAL', 'the drive root cannot be renamed');
    const { parent: newParent, name } = this.split(to);
    this.checkName(to, name);
    for (let p: StoredItem | undefined = newParent; p; p = p.parentId ? this.o.store.items.get(p.parentId) : undefined) {
      if (p.id === item.id) throw new VfsError('EINVAL', `cannot move ${from} into itself`);
    }
    const target = this.clash(newParent, name, to, item.id);
    if (target) {
      const targetIsDir = target.kind === 'folder';
      const itemIsDir = item.kind === 'folder';
      if (targetIsDir && !itemIsDir) throw new VfsError('EISDIR', `${to} is a folder`);
      if (!targetIsDir && itemIsDir) throw new VfsError('ENOTDIR', `${to} is not a folder`);
      if (targetIsDir && this.o.store.items.countChildren(target.id) > 0) throw new VfsError('ENOTEMPTY', `folder not empty: ${to}`);
      // POSIX rename replaces the target; OneDrive refuses a clash, so the target goes first.
      await this.deleteOnServer(target, to);
    }
    let moved: DriveItem;
    try {
      moved = await this.o.graph.update(item.id, {
        name,
        ...(newParent.id !== item.parentId ? { parentReference: { id: newParent.id } } : {}),
      });
    } catch (e) {
      throw toVfsError(e, `renaming ${from} to ${to}`);
    }
    this.o.store.items.upsert(this.o.toRecord(moved));
  }

  /** utimens: OneDrive keeps whole seconds of the modification time (fileSystemInfo). */
  async utimens(path: string, mtimeMs: number): Promise<void> {
    const item = this.resolve(path);
    if (item.parentId === null) return;
    const seconds = Math.floor(mtimeMs / 1000) * 1000;
    try {
      const updated = await this.o.graph.update(item.id, {
        fileSystemInfo: { lastModifiedDateTime: new Date(seconds).toISOString().replace(/\.\d{3}Z$/, 'Z') },
      });
      this.o.store.items.upsert(this.o.toRecord(updated));
    } catch (e) {
      throw toVfsError(e, `setting the time of ${path}`);
    }
  }

  // ---- status ------------------------------------------------------------------------------

  /** The file's state as the status xattr and file managers show it. */
  itemState(item: StoredItem): ItemState {
    if (item.kind !== 'file') return 'cached';
    const content = this.o.store.content.get(item.id);
    if (content?.errorCode) return 'error';
    if (this.o.downloads.isActive?.(item.id)) return 'syncing';
    if (!content || content.status === 'none') return 'cloud-only';
    if (content.status === 'dirty') return 'modified';
    const current = content.ctag === item.ctag && content.etag === item.etag;
    if (!current) return 'cloud-only';
    if (content.status === 'complete') return content.pinned ? 'pinned' : 'cached';
    return 'partial';
  }

  getxattr(path: string, name: string): Buffer | undefined {
    const item = this.resolve(path);
    if (name !== STATUS_XATTR) return undefined;
    return Buffer.from(this.itemState(item));
  }

  listxattr(path: string): string[] {
    this.resolve(path);
    return [STATUS_XATTR];
  }

  // ---- statfs ------------------------------------------------------------------------------

  /** From the drive quota, cached; a refresh runs in the background and never delays the answer. */
  statfs(): StatFs {
    if (this.now() - this.quotaFetchedAt > (this.o.quotaRefreshMs ?? 60_000)) this.refreshQuota();
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
    this.quotaFetchedAt = this.now();
  }

  private refreshQuota(): void {
    if (this.quotaRefresh) return;
    this.quotaFetchedAt = this.now();
    this.quotaRefresh = this.o.graph
      .getDrive()
      .then((d) => this.setQuota(d.quota))
      .catch((e) => this.o.logger.warn({ err: e }, 'could not refresh the drive quota; statfs keeps the last known numbers'))
      .finally(() => (this.quotaRefresh = undefined));
  }

  /** Waits for a quota refresh in flight (shutdown and tests). */
  async settle(): Promise<void> {
    await this.quotaRefresh;
  }
}
