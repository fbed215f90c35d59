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

/**
 * A bandwidth limit as the settings form shows it: MB/s (decimal, as the panel's speeds are), empty
 * for "no limit". What the person types is parsed back to whole bytes per second.
 */
const MB = 1e6;

export function mbpsOfBytes(bytesPerSecond: number | undefined): string {
  return bytesPerSecond ? String(Math.round((bytesPerSecond / MB) * 100) / 100) : '';
}

/** Bytes per second for a typed limit in MB/s (empty or 0: none, which is 0), or undefined when the engine would refuse it. */
export function bytesOfMbps(text: string, minimum: number): number | undefined {
  const trimmed = text.trim().replace(',', '.');
  if (trimmed === '') return 0;
  if (!/^\d*\.?\d+$|^\d+\.$/.test(trimmed)) return undefined;
  const bytes = Math.round(Number(trimmed) * MB);
  if (bytes === 0) return 0;
  return Number.isSafeInteger(bytes) && bytes >= minimum ? bytes : undefined;
}
