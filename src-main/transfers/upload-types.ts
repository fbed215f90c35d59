import type { GraphClient } from '../graph/client.ts';
import type { ConflictReason } from '../store/types.ts';

/** What the upload manager needs from the Graph client. */
export type UploadSource = Pick<
  GraphClient,
  | 'getItem'
  | 'getItemByPath'
  | 'deleteItem'
  | 'update'
  | 'uploadSmall'
  | 'uploadSmallById'
  | 'createUploadSession'
  | 'uploadFragment'
  | 'commitUploadSession'
  | 'getUploadSession'
  | 'cancelUploadSession'
>;

/** high: a file a user closed or fsynced. low: background work (replays, restarts). */
export type UploadPriority = 'high' | 'low';

/** Drops an item's cached bytes (the download manager): used when the server's version wins a conflict. */
export interface ContentInvalidator {
  invalidate(itemId: string): Promise<void> | void;
}

export interface UploadProgress {
  itemId: string;
  path: string;
  /** Bytes the server has confirmed. */
  bytes: number;
  total: number;
  direction: 'upload';
}

export interface UploadEvents {
  progress: UploadProgress;
  /** The server holds the local content; the store item has the server's id, tags and hash. */
  done: { itemId: string; path: string; total: number; verified: boolean };
  /** An attempt failed. `willRetry` false: the entry is failed in the journal and the item shows the error. */
  failed: { itemId: string; path: string; error: Error; willRetry: boolean; retryAt?: number };
  /**
   * Both sides changed the file (or the server lost it, or took its name): both versions are kept.
   * `localCopyName` is the name the local version now has on the server; `itemId` is the item the
   * store keeps under its original name (the remote version for both-modified).
   */
  conflict: { itemId: string; path: string; localCopyName: string; reason: ConflictReason; localCopyId: string };
  /** Something worth showing that did not stop the upload (a hash the server reports differently). */
  warning: { itemId: string; path: string; error: Error };
  /**
   * A change is left to the journal replay: a new file's move to where it is here, which failed; a
   * time set here while the upload was on its way.
   */
  journaled: { itemId: string; kind: 'rename' | 'setattr' };
}
