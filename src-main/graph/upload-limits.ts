/**
 * Upload sizes OneDrive accepts (docs/graph-api.md §7). Every non-final fragment of an upload session
 * must be a multiple of 320 KiB and every request under 60 MiB; simple upload is kept to 4 MiB,
 * as every client studied does, whatever newer docs promise.
 */

/** 320 KiB: non-final fragments must be a whole number of these. */
export const FRAGMENT_UNIT = 327_680;

/** 10 MiB = 32 × 320 KiB, the size rclone and onedriver use. */
export const DEFAULT_FRAGMENT = 32 * FRAGMENT_UNIT;

/** Each fragment request must be smaller than 60 MiB. */
export const MAX_FRAGMENT = 60 * 1024 * 1024 - 1;

/** Files up to this size (and every empty file) go in one PUT; larger ones need an upload session. */
export const SIMPLE_UPLOAD_LIMIT = 4 * 1024 * 1024;

/** The offset to resume from: the start of the first open range of `nextExpectedRanges` (`"26-"`, `"0-99"`). */
export function nextExpectedOffset(nextExpectedRanges: readonly string[]): number | undefined {
  const first = nextExpectedRanges[0];
  if (first === undefined) return undefined;
  const match = /^\s*(\d+)\s*-/.exec(first);
  return match ? Number(match[1]) : undefined;
}
