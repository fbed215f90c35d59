/**
 * From a delta driveItem (docs/graph-api.md §2.2, §5) to what the store keeps: an ItemRecord, or a
 * tombstone when the item left this drive's view (deleted, moved to another drive, or reported
 * without a usable parent or name).
 */
import type { DriveItem } from '../graph/index.ts';
import type { ItemKind, ItemRecord } from '../store/index.ts';

/** Why an item is gone from this drive's view. */
export type GoneReason =
  /** The feed carries a `deleted` facet. */
  | 'deleted'
  /** Not the root, yet its parentReference has no id (historic P quirk, §5). */
  | 'no-parent'
  /** Its parent lives in another drive (moved into a shared folder, §5). */
  | 'foreign-drive'
  /** A live item without a name: nothing the filesystem could show. */
  | 'no-name'
  /** Its parent is neither in the store nor in the same batch (found while applying). */
  | 'orphan'
  /** A full enumeration did not list it (found while applying). */
  | 'unseen';

export interface DeltaTombstone {
  readonly tombstone: true;
  readonly id: string;
  readonly reason: GoneReason;
}

export interface MapOptions {
  /** The server's root id, when known; an item with this id maps to the store root. */
  rootId?: string | undefined;
  /** This drive's id; a parent in any other drive makes the item "gone from my view". */
  driveId?: string | undefined;
  /**
   * The signed-in user's own drive: a record of an item in any other drive (a shared folder's)
   * names that drive in `driveId`, one of the own drive null. Without it records leave `driveId`
   * undefined (the store keeps what it has).
   */
  ownDriveId?: string | undefined;
}

/** The fields delta is asked for: everything mapDriveItem reads, nothing more. */
export const DELTA_SELECT: readonly string[] = [
  'id',
  'name',
  'size',
  'eTag',
  'cTag',
  'createdDateTime',
  'lastModifiedDateTime',
  'fileSystemInfo',
  'parentReference',
  'file',
  'folder',
  'package',
  'root',
  'deleted',
  'remoteItem',
];

export function isTombstone(value: ItemRecord | DeltaTombstone): value is DeltaTombstone {
  return 'tombstone' in value;
}

/**
 * P drive ids are 16 hex digits, but the service has sent them in either case and with leading
 * zeros dropped (§15 #7); B ids (`b!…`) are base64url and compared exactly.
 */
export function normalizeDriveId(driveId: string): string {
  return /^[0-9a-f]{1,16}$/i.test(driveId) ? driveId.toLowerCase().padStart(16, '0') : driveId;
}

export function sameDrive(a: string, b: string): boolean {
  return normalizeDriveId(a) === normalizeDriveId(b);
}

export function mapDriveItem(item: DriveItem, options: MapOptions = {}): ItemRecord | DeltaTombstone {
  const gone = (reason: GoneReason): DeltaTombstone => ({ tombstone: true, id: item.id, reason });
  if (item.deleted) return gone('deleted');
  const isRoot = item.root !== undefined || (options.rootId !== undefined && item.id === options.rootId);
  let parentId: string | null = null;
  if (!isRoot) {
    const parent = item.parentReference;
    if (parent?.id === undefined || parent.id === '') return gone('no-parent');
    if (options.driveId !== undefined && parent.driveId !== undefined && !sameDrive(parent.driveId, options.driveId)) {
      return gone('foreign-drive');
    }
    parentId = parent.id;
  }
  const parentDrive = isRoot ? undefined : item.parentReference?.driveId;
  const name = item.name ?? item.remoteItem?.name;
  if (!isRoot && (name === undefined || name === '')) return gone('no-name');

  const kind = kindOf(item);
  const record: ItemRecord = {
    id: item.id,
    remoteId: item.id,
    parentId,
    name: isRoot ? name || 'root' : name!,
    kind,
    size: sizeOf(item, kind),
    ctimeMs: timeMs(item.fileSystemInfo?.createdDateTime) ?? timeMs(item.createdDateTime) ?? 0,
    mtimeMs: timeMs(item.fileSystemInfo?.lastModifiedDateTime) ?? timeMs(item.lastModifiedDateTime) ?? 0,
    etag: item.eTag ?? null,
    ctag: item.cTag ?? null,
    quickXorHash: kind === 'file' ? (item.file?.hashes?.quickXorHash ?? null) : null,
    remoteDriveId: null,
    remoteItemId: null,
  };
  if (options.ownDriveId !== undefined) {
    record.driveId = parentDrive === undefined || sameDrive(parentDrive, options.ownDriveId) ? null : normalizeDriveId(parentDrive);
  }
  if (kind === 'remote' && item.remoteItem) {
    // A shortcut to another drive: recorded, never followed (§2.2, §15 #15).
    record.remoteItemId = item.remoteItem.id;
    const remoteDrive = item.remoteItem.parentReference?.driveId;
    record.remoteDriveId = remoteDrive === undefined ? null : normalizeDriveId(remoteDrive);
  }
  return record;
}

function kindOf(item: DriveItem): ItemKind {
  if (item.remoteItem) return 'remote';
  if (item.folder || item.root) return 'folder';
  if (item.package) return 'package';
  return 'file';
}

/**
 * A folder's `size` is the total of everything below it (§2.2): it changes with every write
 * anywhere beneath, and no filesystem shows folders that way, so folders are stored as 0.
 */
function sizeOf(item: DriveItem, kind: ItemKind): number {
  if (kind === 'folder' || (kind === 'remote' && item.remoteItem?.folder)) return 0;
  const size = kind === 'remote' ? (item.remoteItem?.size ?? item.size) : item.size;
  return size !== undefined && Number.isSafeInteger(size) && size >= 0 ? size : 0;
}

function timeMs(iso: string | undefined): number | undefined {
  if (iso === undefined) return undefined;
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? Math.trunc(ms) : undefined;
}
