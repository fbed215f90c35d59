/**
 * The server ids of files made here, kept beside the database as well (`<database>.keys`, one
 * `<key>\t<server id>` line each). An item made here keeps its local key for good, and its cache
 * file is named after that key; a drive rebuilt from the server after the database was lost keys
 * the same item by its server id. This file is how recovery tells the cache file of a file made
 * here that reached the server from an unsent one when the old database cannot be read at all
 * (vfs/recovery.ts). It is moved aside with a corrupt database and compacted at a healthy open.
 */
import { appendFileSync, closeSync, existsSync, openSync, readFileSync, readSync, renameSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import type { StoreLogger } from './store-logger.ts';

export const KEY_LOG_SUFFIX = '.keys';

/** A log this large is rewritten at open with only the pairs the database still holds. */
const COMPACT_AT_BYTES = 1024 * 1024;

export class KeyLog {
  constructor(
    readonly path: string,
    private readonly logger: StoreLogger,
  ) {}

  /** Appends one pair. A failure is logged, never thrown: the database stays the truth. */
  note(key: string, remoteId: string): void {
    try {
      appendFileSync(this.path, `${key}\t${remoteId}\n`, { mode: 0o600 });
    } catch (error) {
      this.logger.warn({ err: error, path: this.path, key, remoteId }, 'could not note the server id of an item made here beside the database');
    }
  }

  /**
   * At open: drops a line cut off mid-write (a crash), so the next pair starts a line of its own,
   * and rewrites the log with `pairs` once it has grown past COMPACT_AT_BYTES (`pairs` is only
   * asked for then).
   */
  tidy(pairs: () => Iterable<[key: string, remoteId: string]>, atBytes = COMPACT_AT_BYTES): void {
    try {
      if (!existsSync(this.path)) return;
      const size = statSync(this.path).size;
      if (size < atBytes) {
        // Only a torn tail needs the whole file read (to find the last newline).
        if (size > 0 && lastByte(this.path, size) !== 0x0a) {
          const bytes = readFileSync(this.path);
          truncateSync(this.path, bytes.lastIndexOf(0x0a) + 1);
        }
        return;
      }
      let text = '';
      for (const [key, remoteId] of pairs()) text += `${key}\t${remoteId}\n`;
      const next = `${this.path}.new`;
      writeFileSync(next, text, { mode: 0o600 });
      renameSync(next, this.path);
    } catch (error) {
      this.logger.warn({ err: error, path: this.path }, 'could not tidy the server ids noted beside the database');
    }
  }
}

function lastByte(path: string, size: number): number {
  const fd = openSync(path, 'r');
  try {
    const one = Buffer.alloc(1);
    readSync(fd, one, 0, 1, size - 1);
    return one[0]!;
  } finally {
    closeSync(fd);
  }
}

/** The pairs of a key log; a missing file is empty, a torn last line is skipped. */
export function readKeyLog(path: string): Map<string, string> {
  const pairs = new Map<string, string>();
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return pairs;
    throw error;
  }
  // Every whole line ends with a newline: what follows the last one was cut off mid-write.
  for (const line of text.slice(0, text.lastIndexOf('\n') + 1).split('\n')) {
    const [key, remoteId, extra] = line.split('\t');
    if (key && remoteId && extra === undefined) pairs.set(key, remoteId);
  }
  return pairs;
}
