/** The version of a file the caller wants bytes of (from the store's item row). */
export interface DownloadItem {
  id: string;
  size: number;
  etag?: string | null;
  ctag?: string | null;
  /** The server's quickXorHash; when absent (B can omit it for a while) the completion check is skipped. */
  quickXorHash?: string | null;
  /** Drive path for progress rows (`/Documents/a.txt`); looked up in the store when absent. */
  path?: string;
}

/** A blocked read goes before read-ahead, which goes before background hydration (pins). */
export type DownloadPriority = 'read' | 'readahead' | 'hydrate';

export const PRIORITY_RANK: Readonly<Record<DownloadPriority, number>> = { read: 2, readahead: 1, hydrate: 0 };

/** A progress report: how much of the item is now in the cache. */
export interface DownloadProgress {
  itemId: string;
  path: string;
  /** Bytes of the file present in the cache (downloaded now or before). */
  bytes: number;
  total: number;
  direction: 'download';
}

export interface DownloadEvents {
  progress: DownloadProgress;
  /** The whole file is cached and verified (or had no hash to verify against). */
  done: { itemId: string; path: string; total: number; verified: boolean };
  /** A download failed for a reason other than cancellation (network, hash mismatch, disk …). */
  failed: { itemId: string; path: string; error: Error };
}
