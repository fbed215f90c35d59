export { openStore, type OpenStoreOptions, type OpenedStore } from './open-store.ts';
export { Store, type StoreConnectionSettings } from './store.ts';
export { StoreError, type StoreErrorCode } from './store-error.ts';
export type { StoreLogger } from './store-logger.ts';
export { nameKey } from '../../src-shared/model/names.ts';
export { newLocalId, isLocalId } from './local-id.ts';
export { RangeSet, type ByteRange } from '../base/range-set.ts';
export { sameRecordFields } from './item-row.ts';
export {
  ItemsRepository,
  ROOT_INODE,
  type ItemChange,
  type NameClashResolver,
  type UpsertOptions,
  type UpsertResult,
} from './items-repository.ts';
export { SentVersionsRepository } from './sent-versions-repository.ts';
export { isLandedCopyKey, landedCopyKey } from './deleted-uploads.ts';
export { nameLeavingByReplay, serverItemLeavingByReplay } from './leaving-by-replay.ts';
export { SharedFoldersRepository } from './shared-folders-repository.ts';
export { ContentRepository, type ContentUpdate } from './content-repository.ts';
export { JournalRepository, type JournalFilter } from './journal-repository.ts';
export { ConflictsRepository } from './conflicts-repository.ts';
export { DriveStateRepository } from './drive-state-repository.ts';
export type * from './types.ts';
export { ITEM_KINDS, CONTENT_STATUSES, JOURNAL_KINDS, JOURNAL_STATES, CONFLICT_REASONS } from './types.ts';
