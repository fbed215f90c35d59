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
  let landed = known;
  if (!landed) {
    try {
      landed = await graph.getItemByPath(path);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
  const hash = landed.file?.hashes?.quickXorHash;
  if (!hash || !ours(hash)) return undefined;
  await graph.deleteItem(landed.id, landed.eTag ? { ifMatch: landed.eTag } : {});
  return landed;
}

/**
 * The file holding `name` in the folder is an upload of another file (not `itemId`), deleted or
 * moved away here, that landed without an answer (it holds a version sent for that file:
 * deletedUploads). Delta would delete it on sight but may not have seen it yet; it goes now (at
 * its version), so whoever needs the name takes it instead of making a conflict copy (fuzz
 * 163000/300, 243000/301). False when it is no such copy, changed since (someone's file), or not
 * `inFolder` (`path` is the local path, which an offline rename not sent yet can make name another
 * folder; the caller compares parents as the store names them: a share's root by its shortcut).
 */
export async function deleteCopyOfDeleted(
  graph: Pick<GraphClient, 'getItemByPath' | 'deleteItem'>,
  store: Pick<Store, 'deletedUploads'>,
  at: { itemId: string; parentKey: string; name: string; path: string; inFolder: (found: DriveItem) => boolean },
  occupant?: DriveItem,
): Promise<boolean> {
  let found = occupant;
  if (!found) {
    try {
      found = await graph.getItemByPath(at.path);
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }
  if (!at.inFolder(found)) return false;
  const ofAnother = (hash: string) => {
    const deleted = store.deletedUploads.match(at.parentKey, at.name, hash);
    return deleted !== undefined && deleted.itemId !== at.itemId;
  };
  try {
    return (await deleteLandedCopy(graph, at.path, ofAnother, found)) !== undefined;
  } catch (error) {
    if (isNotFound(error)) return true;
    if (isPreconditionFailed(error)) return false;
    throw error;
  }
}
