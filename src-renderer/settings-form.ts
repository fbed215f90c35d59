/**
 * The cache limit as the settings form shows it: gigabytes (decimal, as the panel's sizes are) with
 * at most two decimals, e.g. 10 GiB is "10.74". What the person types is parsed back to whole bytes.
 */
const GB = 1e9;
/** Smallest limit the form accepts: below it the cache could not hold one ordinary file. */
export const MIN_CACHE_BYTES = 100_000_000;

export function gbOfBytes(bytes: number): string {
  return String(Math.round((bytes / GB) * 100) / 100);
}

/** Whole bytes for a typed size in GB, or undefined when it is not a size the engine accepts. */
export function bytesOfGb(text: string): number | undefined {
  const trimmed = text.trim().replace(',', '.');
  if (!/^\d*\.?\d+$|^\d+\.$/.test(trimmed)) return undefined;
  const bytes = Math.round(Number(trimmed) * GB);
  return Number.isSafeInteger(bytes) && bytes >= MIN_CACHE_BYTES ? bytes : undefined;
}
