/**
 * Typed errors of the download manager. The vfs maps every one of them (and the Graph client's
 * NetworkError, TimeoutError, GraphApiError) to an errno; callers branch on `code`, never on text.
 */
import { OneMountError } from '../base/errors.ts';

/** Work for an item was cancelled: cancel()/invalidate(), its last reader closed, or shutdown. */
export class DownloadCancelledError extends OneMountError {
  readonly itemId: string;

  constructor(itemId: string, why: string) {
    super('DOWNLOAD_CANCELLED', `download of item ${itemId} cancelled: ${why}`);
    this.itemId = itemId;
  }
}

/** The downloaded file does not hash to the server's quickXorHash; its bytes were discarded. */
export class ContentHashMismatchError extends OneMountError {
  readonly itemId: string;
  readonly expected: string;
  readonly actual: string;

  constructor(itemId: string, expected: string, actual: string) {
    super(
      'HASH_MISMATCH',
      `the cached content of item ${itemId} hashes to ${actual} but the server says ${expected}; the local copy was discarded`,
    );
    this.itemId = itemId;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * The version asked for is not the current one: the store (or the server) holds another
 * eTag/cTag or size. The caller re-reads the item and retries with the new version.
 */
export class ContentVersionChangedError extends OneMountError {
  readonly itemId: string;

  constructor(itemId: string, detail: string) {
    super('CONTENT_VERSION_CHANGED', `item ${itemId} changed: ${detail}`);
    this.itemId = itemId;
  }
}

/** The local content has changes not uploaded yet; a download for another version would lose them. */
export class ContentDirtyError extends OneMountError {
  readonly itemId: string;

  constructor(itemId: string) {
    super('CONTENT_DIRTY', `item ${itemId} has local changes that are not uploaded; not replacing them with a download`);
    this.itemId = itemId;
  }
}

/**
 * The item's content is being changed here (a first write, a truncate, a file renamed over it): its
 * downloads were stopped so that none of their bytes lands in the changed file. A reader asks again
 * once the change's locked step is done (ContentOwner.settled), and reads the local bytes.
 */
export class ContentChangingError extends OneMountError {
  readonly itemId: string;

  constructor(itemId: string) {
    super('CONTENT_CHANGING', `item ${itemId} is being changed on this device; its download stopped`);
    this.itemId = itemId;
  }
}

/** The server sent fewer bytes than the item's size promised (the file is shorter than its metadata). */
export class DownloadShortError extends OneMountError {
  readonly itemId: string;

  constructor(itemId: string, expectedEnd: number, gotEnd: number) {
    super('DOWNLOAD_SHORT', `item ${itemId}: the server's bytes ended at ${gotEnd}, expected up to ${expectedEnd}`);
    this.itemId = itemId;
  }
}

/** Writing downloaded bytes into the cache file failed (disk full, permissions, I/O error). */
export class CacheWriteError extends OneMountError {
  readonly itemId: string;
  /** The system error code (ENOSPC, EIO …) when known. */
  readonly causeCode: string | undefined;

  constructor(itemId: string, path: string, cause: unknown) {
    const causeCode = (cause as { code?: unknown } | null)?.code;
    super('CACHE_WRITE', `could not write the cache file ${path} of item ${itemId}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
    this.itemId = itemId;
    this.causeCode = typeof causeCode === 'string' ? causeCode : undefined;
  }
}

/** The manager was closed (shutdown); no new work is accepted. */
export class DownloadManagerClosedError extends OneMountError {
  constructor() {
    super('DOWNLOAD_MANAGER_CLOSED', 'the download manager is closed (shutting down)');
  }
}

/** verify() on a file whose bytes are not all cached yet. */
export class ContentIncompleteError extends OneMountError {
  readonly itemId: string;

  constructor(itemId: string) {
    super('CONTENT_INCOMPLETE', `item ${itemId} is not completely cached; nothing to verify yet`);
    this.itemId = itemId;
  }
}
