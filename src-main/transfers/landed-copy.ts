/**
 * A new file deleted here while its first upload reached the server anyway (the request was on its
 * way, or its answer was lost to a kill): the server's copy must go too, or delta brings the
 * deleted file back. Only a copy holding a version we sent is ours to delete, and only at the
 * version the server gave it (If-Match).
 */
import type { DriveItem } from '../graph/drive-item.ts';
import { isNotFound, isPreconditionFailed } from '../graph/errors.ts';
import type { GraphClient } from '../graph/client.ts';
import type { Store } from '../store/index.ts';

/** Deletes the landed copy at `path` (or `known`, when the upload's answer named it); returns it, or undefined when there was none of ours. */
export async function deleteLandedCopy(
  graph: Pick<GraphClient, 'getItemByPath' | 'deleteItem'>,
  path: string,
  ours: (quickXorHash: string) => boolean,
  known?: DriveItem,
): Promise<DriveItem | undefined> {
  const landed = known ?? (await itemAt(graph, path));
  if (!landed) return undefined;
  const hash = landed.file?.hashes?.quickXorHash;
  if (!hash || !ours(hash)) return undefined;
  await graph.deleteItem(landed.id, landed.eTag ? { ifMatch: landed.eTag } : {});
  return landed;
}

/**
 * Where a name is wanted, in the folder `parentKey`; by `itemId` when it is a new file's first
 * upload, whose own landed copy is the file, not a copy to delete (the upload adopts it).
 */
export interface WantedName {
  itemId?: string;
  parentKey: string;
  name: string;
  /**
   * `found` is in that folder on the server (a local path can name another folder while an
   * offline rename is not sent yet; parents compare as the store names them: a share's root by its
   * shortcut).
   */
  inFolder: (found: DriveItem) => boolean;
}

/**
 * `found`, holding the wanted name, is a landed upload of a file deleted or moved away here (it
 * holds a version sent for that file at that place: deletedUploads) — any file's but the asking
 * upload's own (`at.itemId`). Delta deletes such a copy on sight; whoever wants the name may delete
 * it first (deleteCopyOfDeleted).
 */
export function isStrayLandedCopy(store: Pick<Store, 'deletedUploads'>, at: WantedName, found: DriveItem): boolean {
  const hash = found.file?.hashes?.quickXorHash;
  if (!hash || !at.inFolder(found)) return false;
  const deleted = store.deletedUploads.match(at.parentKey, at.name, hash);
  return deleted !== undefined && deleted.itemId !== at.itemId;
}

/**
 * Frees the wanted name (at `path`, the local path) when what holds it is a stray landed copy
 * (isStrayLandedCopy), which goes now at the version looked at, so whoever needs the name takes
 * it instead of making a conflict copy (fuzz 163000/300, 243000/301). True when the name is free
 * now: the copy deleted, or nothing there any more (the copy's own upload may be moving it to where
 * its file is: fuzz 263000/176). False when what holds it is no such copy, or changed since and
 * is still there.
 */
export async function deleteCopyOfDeleted(
  graph: Pick<GraphClient, 'getItemByPath' | 'deleteItem'>,
  store: Pick<Store, 'deletedUploads'>,
  at: WantedName & { path: string },
  occupant?: DriveItem,
): Promise<boolean> {
  const found = occupant ?? (await itemAt(graph, at.path));
  if (!found) return true;
  if (!isStrayLandedCopy(store, at, found)) return false;
  try {
    await graph.deleteItem(found.id, found.eTag ? { ifMatch: found.eTag } : {});
    return true;
  } catch (error) {
    if (isNotFound(error)) return true;
    if (!isPreconditionFailed(error)) throw error;
    // Changed since it was looked at: moved away by its own upload, or someone's edit (kept).
    return (await itemAt(graph, at.path)) === undefined;
  }
}

async function itemAt(graph: Pick<GraphClient, 'getItemByPath'>, path: string): Promise<DriveItem | undefined> {
  try {
    return await graph.getItemByPath(path);
  } catch (error) {
    if (isNotFound(error)) return undefined;
    throw error;
  }
}
