/** The transfers layer's public surface, for the layers above (sync, vfs, ipc, app). */
export { DownloadManager, type DownloadManagerOptions, type DownloadSource } from './download-manager.ts';
export type { ContentReader } from './content-reader.ts';
export { cacheFilePath } from './cache-files.ts';
export { deleteLandedCopy, isStrayLandedCopy } from './landed-copy.ts';
export {
  CacheWriteError,
  ContentDirtyError,
  ContentHashMismatchError,
  ContentIncompleteError,
  ContentVersionChangedError,
  DownloadCancelledError,
  DownloadManagerClosedError,
  DownloadShortError,
} from './download-errors.ts';
export { ReadAheadWindow, type ReadAheadOptions } from './read-ahead.ts';
export { type DownloadEvents, type DownloadItem, type DownloadPriority, type DownloadProgress } from './download-types.ts';
export { UploadManager, type UploadManagerOptions, type FinishResult } from './upload-manager.ts';
export type { UploadEvents, UploadPriority, UploadProgress, UploadSource, ContentInvalidator } from './upload-types.ts';
export {
  LocalContentMissingError,
  NotAFileError,
  ParentNotUploadedError,
  UploadHashMismatchError,
  UploadSessionStuckError,
  UploadStoppedError,
  type UploadStopReason,
} from './upload-errors.ts';
export { sameContent, type ContentVersion } from './content-version.ts';
export { ContentOwner, ContentTransitionError, CONTENT_TRANSITIONS, type ContentEvent, type ContentTransition, type VersionTags } from './content-owner.ts';
