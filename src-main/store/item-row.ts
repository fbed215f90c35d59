import type { ItemKind, ItemRecord, StoredItem } from './types.ts';

/** An items row as SQLite returns it. */
export interface ItemRow {
  inode: number;
  id: string;
  remote_id: string | null;
  parent_id: string | null;
  name: string;
  name_key: string;
  kind: ItemKind;
  size: number;
  ctime_ms: number;
  mtime_ms: number;
  etag: string | null;
  ctag: string | null;
  quickxor_hash: string | null;
  remote_drive_id: string | null;
  remote_item_id: string | null;
  drive_id: string | null;
}

export const ITEM_COLUMNS =
  'inode, id, remote_id, parent_id, name, name_key, kind, size, ctime_ms, mtime_ms, etag, ctag, quickxor_hash, remote_drive_id, remote_item_id, drive_id';

export function itemFromRow(row: ItemRow): StoredItem {
  return {
    id: row.id,
    remoteId: row.remote_id,
    inode: row.inode,
    parentId: row.parent_id,
    name: row.name,
    nameKey: row.name_key,
    kind: row.kind,
    size: row.size,
    ctimeMs: row.ctime_ms,
    mtimeMs: row.mtime_ms,
    etag: row.etag,
    ctag: row.ctag,
    quickXorHash: row.quickxor_hash,
    remoteDriveId: row.remote_drive_id,
    remoteItemId: row.remote_item_id,
    driveId: row.drive_id,
  };
}

/**
 * Whether a record says what the stored item already has, in the fields a record sets beside its
 * ids (its server id and drive are the store's to compare): delta leaves such records out of its
 * batch, and the store does not write them.
 */
export function sameRecordFields(old: StoredItem, next: ItemRecord): boolean {
  return (
    old.parentId === next.parentId &&
    old.name === next.name &&
    old.kind === next.kind &&
    old.size === next.size &&
    old.ctimeMs === next.ctimeMs &&
    old.mtimeMs === next.mtimeMs &&
    old.etag === (next.etag ?? null) &&
    old.ctag === (next.ctag ?? null) &&
    old.quickXorHash === (next.quickXorHash ?? null) &&
    old.remoteDriveId === (next.remoteDriveId ?? null) &&
    old.remoteItemId === (next.remoteItemId ?? null)
  );
}
