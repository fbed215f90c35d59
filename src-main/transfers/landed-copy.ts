/**
 * A new file deleted here while its first upload reached the server anyway (the request was on its
 * way, or its answer was lost to a kill): the server's copy must go too, or delta brings the
 * deleted file back. Only a copy holding a version we sent is ours to delete, and only at the
 * version the server gave it (If-Match).
 */
import type { DriveItem } from '../graph/drive-item.ts';
import { isNotFound } from '../graph/errors.ts';
import type { GraphClient } from '../graph/client.ts';

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
