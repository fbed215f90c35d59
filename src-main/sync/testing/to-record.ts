import type { DriveItem } from '../../graph/index.ts';
import type { ItemRecord } from '../../store/index.ts';
import { isTombstone, mapDriveItem } from '../drive-item-mapping.ts';

/** A server answer as the store records it (the engine's toRecord, without shared folders); tests only. */
export function toRecord(item: DriveItem): ItemRecord {
  const r = mapDriveItem(item);
  if (isTombstone(r)) throw new Error(`the server answered with an item that is gone (${r.reason})`);
  return r;
}
