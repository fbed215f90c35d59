/**
 * Typed errors of the upload manager. The manager sorts failures by these classes (and the Graph
 * client's) into "try again later", "wait for the network", "wait for the parent folder" and
 * "failed for good"; callers branch on `code`, never on text.
 */
import { OneMountError } from '../base/errors.ts';

/** Why an upload in flight was stopped by the manager itself. */
export type UploadStopReason = 'superseded' | 'cancelled' | 'shutdown' | 'paused';

/**
 * The manager stopped an upload: a new write made it stale (superseded), the item is gone locally
 * (cancelled), the engine is shutting down or the user paused syncing (shutdown, paused: its session
 * and offset stay persisted).
 */
export class UploadStoppedError extends OneMountError {
  readonly itemId: string;
  readonly reason: UploadStopReason;

  constructor(itemId: string, reason: UploadStopReason) {
    const why = {
      superseded: 'the file changed again',
      cancelled: 'the item is gone locally',
      shutdown: 'the engine is shutting down',
      paused: 'syncing is paused',
    }[reason];
    super('UPLOAD_STOPPED', `upload of item ${itemId} stopped: ${why}`);
    this.itemId = itemId;
    this.reason = reason;
  }
}

/**
 * The name a new file uploads to is held on the server by an item this device removed or renamed
 * away while offline, and that change waits in the journal: the upload waits for its replay
 * instead of taking the name as a clash.
 */
export class NameFreedByReplayError extends OneMountError {
  readonly itemId: string;

  constructor(itemId: string, name: string) {
    super('UPLOAD_NAME_PENDING', `item ${itemId} waits for ${name} to be freed by an offline change not replayed yet`);
    this.itemId = itemId;
  }
}

/** A new file's folder has no server id yet (created offline, not replayed): the upload waits. */
export class ParentNotUploadedError extends OneMountError {
  readonly itemId: string;
  readonly parentId: string;

  constructor(itemId: string, parentId: string) {
    super('UPLOAD_PARENT_PENDING', `item ${itemId} waits for its folder ${parentId} to be created on the server`);
    this.itemId = itemId;
    this.parentId = parentId;
  }
}

/** The cache file holding the local edit is missing or shorter than the file: there is nothing to upload. */
export class LocalContentMissingError extends OneMountError {
  readonly itemId: string;

  constructor(itemId: string, path: string, expected: number, found: number | undefined) {
    super(
      'UPLOAD_LOCAL_CONTENT_MISSING',
      `the local content of item ${itemId} (${path}) holds ${found === undefined ? 'no file' : `${found} bytes`}, expected ${expected}`,
    );
    this.itemId = itemId;
  }
}

/** Uploading a folder, package or shortcut makes no sense; the journal entry is wrong. */
export class NotAFileError extends OneMountError {
  constructor(itemId: string, kind: string) {
    super('UPLOAD_NOT_A_FILE', `item ${itemId} is a ${kind}, only files are uploaded`);
  }
}

/**
 * Every byte of a replacing upload is in, but the server's file is no longer the version the edit
 * started from (edited there while the bytes travelled): the session is dropped uncommitted and the
 * attempt goes on as after a 412.
 */
export class ChangedBeforeCommitError extends OneMountError {
  constructor(itemId: string) {
    super('UPLOAD_CHANGED_BEFORE_COMMIT', `the server's version of item ${itemId} changed while its upload was on the way; it was not committed`);
  }
}

/** An upload session that keeps refusing to move forward (416 loops, all bytes received but no commit). */
export class UploadSessionStuckError extends OneMountError {
  constructor(itemId: string, detail: string) {
    super('UPLOAD_SESSION_STUCK', `the upload session of item ${itemId} does not move forward: ${detail}`);
  }
}

/**
 * The server's quickXorHash of the uploaded file differs from the local bytes. Reported as a
 * warning: the server's version is kept (B rewrites Office files, docs/graph-api.md §15 #10), the local
 * copy is dropped so reads fetch what the server holds, and the item shows the error.
 */
export class UploadHashMismatchError extends OneMountError {
  readonly itemId: string;
  readonly expected: string;
  readonly actual: string;

  constructor(itemId: string, local: string, server: string, sizes: { local: number; server: number | undefined }) {
    super(
      'UPLOAD_HASH_MISMATCH',
      `the server holds item ${itemId} with quickXorHash ${server} (${sizes.server ?? '?'} bytes), the uploaded bytes hash to ${local} (${sizes.local} bytes); keeping the server's version`,
    );
    this.itemId = itemId;
    this.expected = local;
    this.actual = server;
  }
}

/** The drive has no room for the file (507 / quotaLimitReached): it waits until space is freed. */
export class QuotaExceededError extends OneMountError {
  constructor(cause: unknown) {
    super('QUOTA_EXCEEDED', 'OneDrive is full: this file waits until space is freed on the drive (it is tried again every few minutes)', { cause });
  }
}
