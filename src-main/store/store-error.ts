/** Why a store operation failed; callers branch on this, people read the message. */
export type StoreErrorCode =
  /** The database file was written by a newer OneMount; opening it would lose data. */
  | 'SCHEMA_TOO_NEW'
  /** The migrations list itself is malformed (a programming error). */
  | 'BAD_MIGRATIONS'
  /** The database could not be opened for a reason other than corruption (permissions, I/O). */
  | 'OPEN_FAILED'
  /** The database is corrupt and could not be moved aside. */
  | 'CORRUPT'
  | 'NOT_FOUND'
  /** Another item already holds that (parent, case-folded name). */
  | 'NAME_TAKEN'
  /** A folder cannot move into itself or below itself. */
  | 'INVALID_MOVE'
  /** The item already has another server id (a server id is filled in once). */
  | 'REMOTE_ID_MISMATCH'
  /** A serialized range list could not be parsed, or a range is malformed. */
  | 'BAD_RANGES'
  /** The operation would drop local changes that are not uploaded yet. */
  | 'CONTENT_DIRTY'
  /** A content state change the transition table does not allow (transfers/content-owner.ts). */
  | 'INVALID_TRANSITION'
  | 'INVALID_ARGUMENT';

export class StoreError extends Error {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;

  constructor(code: StoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}
