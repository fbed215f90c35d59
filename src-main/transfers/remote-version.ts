import type { DriveItem } from '../graph/drive-item.ts';
import { sameQuickXorHash } from '../graph/quickxor.ts';

/** The server version a local edit started from. */
export interface BaseVersion {
  etag: string | null;
  ctag: string | null;
  /** The base version's hash: the proof of last resort when tags are missing (B omits cTags in places). */
  quickXorHash: string | null;
}

/**
 * Whether the server's bytes are no longer those the edit started from. The cTag decides when both
 * sides have one (an eTag also changes on rename or metadata extraction, §15 #13); without it an
 * unchanged eTag proves nothing changed, and then the hashes decide. With nothing to compare, the
 * answer is "changed": a needless conflict copy costs far less than a silent overwrite.
 */
export function remoteContentChanged(base: BaseVersion, remote: DriveItem): boolean {
  if (base.ctag && remote.cTag) return base.ctag !== remote.cTag;
  if (base.etag && remote.eTag && base.etag === remote.eTag) return false;
  const remoteHash = remote.file?.hashes?.quickXorHash;
  if (base.quickXorHash && remoteHash) return !sameQuickXorHash(base.quickXorHash, remoteHash);
  return true;
}

export function versionOf(remote: DriveItem): BaseVersion {
  return { etag: remote.eTag ?? null, ctag: remote.cTag ?? null, quickXorHash: remote.file?.hashes?.quickXorHash ?? null };
}
