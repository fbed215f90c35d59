/**
 * The one rule for "are these the same bytes?" (docs/concurrency.md §3): cached bytes against the
 * item's version, a download against the server's answer, an upload's base against the server now,
 * delta's old record against its new one. The eTag alone cannot say: it also changes on rename,
 * move and touch (§15 #13). Strongest evidence first:
 *
 * 0. Both sizes known and different → different (whatever the tags say: a re-download is cheap).
 * 1. Both have a cTag → same iff the cTags match. (P always sends one; B omits it in delta answers.)
 * 2. Both have the same eTag → same: the eTag changes whenever anything does.
 * 3. Both have a quickXorHash → same iff the hashes match. (The one hash both services guarantee,
 *    §15 #9; B can omit it for a while.)
 * 4. Neither names a server version (no eTag, no cTag) → same: both are the local bytes of a file
 *    that was never uploaded.
 * 5. Otherwise → different: a needless re-download or conflict copy costs far less than stale
 *    bytes or a silent overwrite.
 */
import type { DriveItem } from '../graph/drive-item.ts';
import { sameQuickXorHash } from '../graph/quickxor.ts';

export interface ContentVersion {
  size?: number | null | undefined;
  etag?: string | null | undefined;
  ctag?: string | null | undefined;
  quickXorHash?: string | null | undefined;
}

export function sameContent(a: ContentVersion, b: ContentVersion): boolean {
  if (a.size != null && b.size != null && a.size !== b.size) return false;
  if (a.ctag && b.ctag) return a.ctag === b.ctag;
  if (a.etag && b.etag && a.etag === b.etag) return true;
  if (a.quickXorHash && b.quickXorHash) return sameQuickXorHash(a.quickXorHash, b.quickXorHash);
  if (!a.etag && !a.ctag && !b.etag && !b.ctag) return true;
  return false;
}

/** The server version a local edit started from. */
export interface BaseVersion {
  etag: string | null;
  ctag: string | null;
  /** The base version's hash: the proof of last resort when tags are missing (B omits cTags in places). */
  quickXorHash: string | null;
}

/** A server answer's version, in the rule's terms. */
export function versionOf(remote: DriveItem): BaseVersion & { size: number | null } {
  return { etag: remote.eTag ?? null, ctag: remote.cTag ?? null, quickXorHash: remote.file?.hashes?.quickXorHash ?? null, size: remote.size ?? null };
}
