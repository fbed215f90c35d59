/**
 * Settings as the form shows them and back. The cache limit: gigabytes (decimal, as the panel's
 * sizes are) with at most two decimals, e.g. 10 GiB is "10.74"; what the person types is parsed back
 * to whole bytes. The indexer list: one program per line.
 */
import { IndexerProgramSchema, MAX_INDEXER_PROGRAMS } from '../src-shared/ipc/desktop-calls.ts';
import type { EngineStatus } from '../src-shared/ipc/contract.ts';

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

/** The indexer list as the form shows it: one program per line. */
export function programsText(programs: readonly string[]): string {
  return programs.join('\n');
}

/**
 * The typed list back: ends trimmed, blank lines and repeats dropped; `bad` is the first line the
 * engine would refuse (and why), for the form to say so instead of saving.
 */
export function parsePrograms(text: string): { programs: string[] } | { bad: string } {
  const programs: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || programs.includes(line)) continue;
    if (!IndexerProgramSchema.safeParse(line).success) return { bad: `“${line}” is not a program name or name/argument` };
    programs.push(line);
  }
  if (programs.length > MAX_INDEXER_PROGRAMS) return { bad: `At most ${MAX_INDEXER_PROGRAMS} programs` };
  return { programs };
}

/** The panel's line about indexers (the engine's status.indexers), or undefined when it has none. */
export function indexerLine(i: EngineStatus['indexers']): string | undefined {
  if (!i) return undefined;
  if (!i.refuse) return 'Allowed to download files';
  if (!i.callerKnown) return 'Not told apart from your programs: this FUSE module cannot say who reads (npm run build:fuse-native)';
  if (i.refused === 0) return 'None refused yet';
  const top = Object.entries(i.byProgram)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([program, n]) => `${program} ${n}`);
  return `${i.refused} read${i.refused === 1 ? '' : 's'} of files not on this device refused (${top.slice(0, 3).join(', ')}${top.length > 3 ? ', …' : ''})`;
}
