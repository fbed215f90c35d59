/**
 * Did a file's bytes change between two server versions? The eTag alone cannot say: it also
 * changes on rename, move and touch (§2.2). The rule, strongest evidence first:
 *
 * 1. Both versions have a cTag → changed iff the cTags differ. (P always sends one; B omits it in
 *    delta answers, so on B this step applies only between two non-delta reads.)
 * 2. Both have a quickXorHash → changed iff the hashes or the sizes differ. (The one hash both
 *    services guarantee, §15 #9; never sha1/sha256.)
 * 3. The sizes differ → changed.
 * 4. Otherwise (hashes temporarily missing, §2.2) → changed iff the eTags differ: it may flag a
 *    metadata-only change as a content change, which costs a re-download, never stale bytes.
 * With no evidence at all (no tags, no hash) the content counts as changed.
 */

export interface ContentVersion {
  size: number;
  etag?: string | null | undefined;
  ctag?: string | null | undefined;
  quickXorHash?: string | null | undefined;
}

export function contentChanged(before: ContentVersion, after: ContentVersion): boolean {
  if (before.ctag && after.ctag) return before.ctag !== after.ctag;
  if (before.quickXorHash && after.quickXorHash) {
    return before.quickXorHash !== after.quickXorHash || before.size !== after.size;
  }
  if (before.size !== after.size) return true;
  if (before.etag && after.etag) return before.etag !== after.etag;
  return true;
}
