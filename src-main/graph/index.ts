/** The Graph layer's public surface, for the layers above (transfers, sync, app). */
export {
  GraphClient,
  UploadTooLargeError,
  type CallOptions,
  type ConditionalOptions,
  type ConflictBehavior,
  type DeltaBatch,
  type DeltaPage,
  type FragmentResult,
  type GraphClientOptions,
  type ItemPatch,
  type ListOptions,
  type DeltaOptions,
  type RangeDownload,
  type SimpleUploadOptions,
  type UploadSession,
  type UploadSessionOptions,
  type UploadTarget,
} from './client.ts';
export type { DriveRouter, ItemAddress, PermissionRole } from './drive-router.ts';
export type { Drive, DriveItem, FileFacet, FileSystemInfo, FolderFacet, Hashes, ItemReference, Quota, RemoteItem } from './drive-item.ts';
export { encodeDrivePath, encodePathSegment } from './drive-path.ts';
export {
  DownloadUrlExpiredError,
  GraphApiError,
  GraphProtocolError,
  NetworkError,
  RangeNotSatisfiableError,
  TimeoutError,
  isNameConflict,
  isNotFound,
  isPreconditionFailed,
  isQuota,
  isResyncRequired,
  isThrottled,
  isUnauthorized,
} from './errors.ts';
export type { BodySource } from './graph-transport.ts';
export { QuickXorHash, quickXorHash, quickXorHashFile, sameQuickXorHash } from './quickxor.ts';
export type { ThrottleState } from './throttle-gate.ts';
export { StaticTokenProvider, type TokenProvider } from './token-provider.ts';
export { DEFAULT_FRAGMENT, FRAGMENT_UNIT, MAX_FRAGMENT, SIMPLE_UPLOAD_LIMIT, nextExpectedOffset } from './upload-limits.ts';
