import type { RecentTransfer } from '../../src-shared/model/transfer.ts';
import type { RangeSet } from '../base/range-set.ts';

/**
 * What a drive item is. `package` (OneNote notebooks and the like) is opaque: neither file nor
 * folder. `remote` is a reference to an item in another drive (a shared folder added to "My files").
 */
export type ItemKind = 'file' | 'folder' | 'package' | 'remote';

export const ITEM_KINDS: readonly ItemKind[] = ['file', 'folder', 'package', 'remote'];

/** An item as the caller hands it to the store (from delta, an upload answer, or a local create). */
export interface ItemRecord {
  /**
   * The item's key. Records built from a server answer carry the server's id here (and in
   * remoteId); the store maps it to the key of the item holding that server id, if any.
   */
  id: string;
  /** The server's id; null or absent for an item the server does not know yet. */
  remoteId?: string | null;
  /** Null only for the drive root. */
  parentId: string | null;
  name: string;
  kind: ItemKind;
  size: number;
  ctimeMs: number;
  mtimeMs: number;
  etag?: string | null;
  ctag?: string | null;
  quickXorHash?: string | null;
  remoteDriveId?: string | null;
  remoteItemId?: string | null;
  /**
   * The drive the item lives in when it is not the signed-in user's own (an item of a shared
   * folder); null for the own drive. Undefined keeps what the store holds (an insert stores null).
   */
  driveId?: string | null;
}

/** An item as stored: every field present, plus the local inode and the case-folded name. */
export interface StoredItem {
  /** The item's key for its whole life (never rewritten): a server id or a local id. */
  id: string;
  /** The server's id, null until the server knows the item (filled in once). */
  remoteId: string | null;
  /** Stable for the life of the item, never reused; the root is always 1. */
  inode: number;
  parentId: string | null;
  name: string;
  nameKey: string;
  kind: ItemKind;
  size: number;
  ctimeMs: number;
  mtimeMs: number;
  etag: string | null;
  ctag: string | null;
  quickXorHash: string | null;
  remoteDriveId: string | null;
  remoteItemId: string | null;
  /** The drive holding the item when it is not the user's own (inside a shared folder), else null. */
  driveId: string | null;
}

/** Fields of an item that may change without a move (local writes, an upload's answer). */
export type ItemPatch = Partial<
  Pick<StoredItem, 'size' | 'ctimeMs' | 'mtimeMs' | 'etag' | 'ctag' | 'quickXorHash' | 'kind' | 'remoteDriveId' | 'remoteItemId'>
>;

/** An item removed by deleteSubtree, with what the caller must clean up for it. */
export interface DeletedItem {
  id: string;
  inode: number;
  kind: ItemKind;
  /** The local content status it had; anything but 'none' means a cache file may exist. */
  contentStatus: ContentStatus;
}

/**
 * none: nothing local. partial: some byte ranges are local. complete: the whole server version is
 * local. dirty: the local content has changes the server does not have yet (never evicted).
 */
export type ContentStatus = 'none' | 'partial' | 'complete' | 'dirty';

export const CONTENT_STATUSES: readonly ContentStatus[] = ['none', 'partial', 'complete', 'dirty'];

/** The local cache of one item. How many programs have it open is runtime-only and not here. */
export interface ContentState {
  itemId: string;
  status: ContentStatus;
  /** The server version the local bytes belong to. */
  etag: string | null;
  ctag: string | null;
  ranges: RangeSet;
  /** ranges.coveredBytes, kept in a column so the cache size is one SUM. */
  cachedBytes: number;
  lastAccessMs: number;
  /** "Always keep on this device". On a folder it covers everything below it. */
  pinned: boolean;
  errorCode: string | null;
  errorMessage: string | null;
  /**
   * Counts local changes of the bytes (never decreases). An upload remembers it when it starts;
   * its commit makes the content clean only if it is still the same (docs/concurrency.md).
   */
  localVersion: number;
}

export interface EvictionCandidate {
  itemId: string;
  inode: number;
  status: 'partial' | 'complete';
  cachedBytes: number;
  lastAccessMs: number;
}

/** Where to continue listing eviction candidates: the last one of the previous page. */
export interface EvictionCursor {
  lastAccessMs: number;
  itemId: string;
}

export type JournalKind = 'create' | 'write' | 'mkdir' | 'rename' | 'unlink' | 'rmdir' | 'setattr';

export const JOURNAL_KINDS: readonly JournalKind[] = ['create', 'write', 'mkdir', 'rename', 'unlink', 'rmdir', 'setattr'];

export type JournalState = 'pending' | 'uploading' | 'done' | 'failed';

export const JOURNAL_STATES: readonly JournalState[] = ['pending', 'uploading', 'done', 'failed'];

/** Kind-specific details that have no column of their own (setattr times, the size after a write). */
export interface JournalPayload {
  /** unlink/rmdir: the server id of the item removed here (the entry outlives the item). */
  remoteId?: string;
  /**
   * unlink/rmdir: the drive the item was in, when not the user's own (a shared folder's): requests
   * for an item are routed by the store (sync/shared-folders.ts), which no longer has it.
   */
  driveId?: string;
  /**
   * unlink: the content version removed here. A refused conditional delete (412) whose server
   * version still holds these bytes was only renamed or moved meanwhile (often by this device, an
   * answer lost): the delete goes ahead instead of keeping the file as a conflict.
   */
  baseCtag?: string | null;
  quickXorHash?: string | null;
  /**
   * unlink: the versions this engine sent for the file (QuickXorHash). An upload on its way when
   * the file was deleted, or one whose answer was lost, can land after the delete: a refused
   * conditional delete whose server version is one of them goes ahead too (fuzz 212000/41).
   */
  sentHashes?: string[];
  size?: number;
  mtimeMs?: number;
  ctimeMs?: number;
}

/** A local operation to append to the upload journal. */
export interface NewJournalEntry {
  kind: JournalKind;
  /** The item the operation is about: a Graph id or a local id. */
  itemId: string;
  /** Parent and name before the operation (create/mkdir: where it is created). */
  parentId?: string | null;
  name?: string | null;
  /** Parent and name after a rename. */
  newParentId?: string | null;
  newName?: string | null;
  /** The server version the local edit started from; uploads are conditional on it. */
  baseEtag?: string | null;
  payload?: JournalPayload | null;
}

export interface JournalEntry {
  /** Order of the operations; replay goes by increasing seq. */
  seq: number;
  kind: JournalKind;
  itemId: string;
  parentId: string | null;
  name: string | null;
  newParentId: string | null;
  newName: string | null;
  baseEtag: string | null;
  payload: JournalPayload | null;
  state: JournalState;
  /** Resumable upload session, when one was created. */
  sessionUrl: string | null;
  sessionExpiresMs: number | null;
  /** Bytes the server has confirmed in that session. */
  confirmedOffset: number;
  attempts: number;
  lastError: string | null;
  createdMs: number;
  updatedMs: number;
}

export interface UploadSessionProgress {
  sessionUrl: string;
  confirmedOffset: number;
  expiresMs?: number | null;
}

export type ConflictReason = 'both-modified' | 'remote-deleted' | 'name-clash';

export const CONFLICT_REASONS: readonly ConflictReason[] = ['both-modified', 'remote-deleted', 'name-clash'];

export interface NewConflict {
  itemId: string;
  /** Path of the item when the conflict was found, for showing to the user. */
  path: string;
  reason: ConflictReason;
  /** Name under which the local version was kept, if it was renamed. */
  localCopyName?: string | null;
  /**
   * The name the local version was kept under before it took `localCopyName` (moved back to where
   * the upload landed): a record naming it is this conflict's.
   */
  formerCopyName?: string;
  remoteEtag?: string | null;
  detectedMs?: number;
}

export interface Conflict {
  id: number;
  itemId: string;
  path: string;
  reason: ConflictReason;
  localCopyName: string | null;
  remoteEtag: string | null;
  detectedMs: number;
  resolved: boolean;
  resolvedMs: number | null;
}

/** Drive quota as last fetched; answers statfs without a network call. */
export interface QuotaSnapshot {
  total: number;
  used: number;
  remaining: number;
  deleted?: number;
  state?: string;
  fetchedAtMs: number;
}

/** Everything kept in the drive state table, by key. */
export interface DriveStateValues {
  deltaLink: string;
  /** The Graph API base the stored links were made for (a demo drive's address changes between runs). */
  graphUrl: string;
  /** The last finished transfers, newest first (the panel's Recent, across restarts). */
  recentTransfers: RecentTransfer[];
  driveId: string;
  driveType: string;
  quota: QuotaSnapshot;
  lastFullSyncMs: number;
  /**
   * The name each conflict copy being uploaded was given, by item key, until its commit: an
   * attempt after a kill sends the copy under the same name, over the one that may have landed.
   */
  conflictCopyNames: Record<string, string>;
  /** New files deleted here whose first upload may still land (deleted-uploads.ts). */
  deletedUploads: DeletedUpload[];
  /**
   * Keys of files libfuse hid whose fate was not known yet (the vfs's PendingHide): the unlink was
   * answered, so an engine killed meanwhile deletes them at its next start (Vfs.deleteHiddenLeftOver).
   */
  hiddenFiles: string[];
}

/** A place a version of a new file may land on the server though the file is no longer there. */
export interface DeletedUpload {
  /** Its key (gone from items when it was deleted here). */
  itemId: string;
  /** Its folder's key. */
  parentId: string;
  name: string;
  /** quickXorHash of every version sent. */
  hashes: string[];
  deletedMs: number;
}

export type DriveStateKey = keyof DriveStateValues;

/** What a shared folder grants the user: read-only or read-write; null while unknown. */
export type ShareAccess = 'read' | 'write';

/** A shared folder added to the drive (a `remote` item) and the sync state of its own delta. */
export interface SharedFolder {
  /** The key of the shortcut item in the store. */
  itemId: string;
  /** The drive and folder the shortcut points to. */
  driveId: string;
  remoteItemId: string;
  access: ShareAccess | null;
  /** When access was last learned (an owner can change it any time). */
  accessCheckedMs: number | null;
  deltaLink: string | null;
  lastError: string | null;
  syncedMs: number | null;
}
