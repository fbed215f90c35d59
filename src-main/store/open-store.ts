import { closeSync, existsSync, openSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';
import Database from 'better-sqlite3';
import { migrate, latestSchemaVersion, MIGRATIONS } from './migrations.ts';
import { KEY_LOG_SUFFIX, KeyLog } from './key-log.ts';
import { Store } from './store.ts';
import { StoreError } from './store-error.ts';
import { stderrStoreLogger, type StoreLogger } from './store-logger.ts';

export interface OpenStoreOptions {
  /** The database file. Its directory must exist. */
  path: string;
  logger?: StoreLogger;
  /**
   * NORMAL (the default) keeps every committed transaction through a killed process; FULL also
   * through a power loss, at the price of an fsync per commit.
   */
  synchronous?: 'NORMAL' | 'FULL';
  /** How long a statement waits for another connection's lock before failing with SQLITE_BUSY. */
  busyTimeoutMs?: number;
  /** Run PRAGMA quick_check at open (default true). It reads the whole file once. */
  verify?: boolean;
  /** Clock for journal and conflict timestamps and the name of a moved-aside file. */
  now?: () => number;
}

export interface OpenedStore {
  store: Store;
  /**
   * Set when the database was corrupt: where the old file was moved. The new database is empty,
   * so the engine must enumerate the drive again (a full delta).
   */
  rebuiltFrom?: string;
}

const DEFAULT_BUSY_TIMEOUT_MS = DEFAULT_TIMEOUTS.storeBusyTimeoutMs;

/**
 * Opens (creating if needed) and migrates the store. A file that is not a database, is
 * malformed, or fails quick_check is moved aside, with its -wal and -shm, to
 * `<path>.corrupt-<timestamp>` and a fresh database takes its place; nothing else in the
 * directory is touched. A database from a newer OneMount is refused (SCHEMA_TOO_NEW), never
 * rebuilt, since that would throw away data a newer version can still read.
 */
export function openStore(options: OpenStoreOptions): OpenedStore {
  const logger = options.logger ?? stderrStoreLogger();
  const now = options.now ?? Date.now;
  try {
    return { store: openAndMigrate(options, logger, now) };
  } catch (error) {
    if (!isCorruption(error)) throw asOpenError(options.path, error);
    const movedTo = moveAside(options.path, now(), error);
    logger.error(
      { path: options.path, movedTo, reason: describe(error) },
      'the OneMount database is corrupt; it was moved aside and a new one is built from the server',
    );
    return { store: openAndMigrate(options, logger, now), rebuiltFrom: movedTo };
  }
}

function openAndMigrate(options: OpenStoreOptions, logger: StoreLogger, now: () => number): Store {
  verifyExisting(options.path, options.verify ?? true);
  // The database holds file names and the delta link: readable by its owner only. SQLite gives
  // -wal and -shm the same mode as the database file.
  if (!existsSync(options.path)) writeFileSync(options.path, '', { mode: 0o600, flag: 'wx' });
  const db = new Database(options.path);
  try {
    db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS}`);
    const mode = db.pragma('journal_mode = WAL', { simple: true });
    if (mode !== 'wal') throw new StoreError('OPEN_FAILED', `${options.path}: SQLite refused WAL mode (got ${String(mode)})`);
    db.pragma(`synchronous = ${options.synchronous ?? 'NORMAL'}`);
    // A checkpoint (the only fsyncs in WAL + NORMAL) runs inside the commit that crosses the limit,
    // on the event loop, and on a disk busy with cache-file writes one took 10-55 ms in the middle
    // of a FUSE create or write. SQLite's default of 1000 pages (4 MiB) meant one every ~150 small
    // creates; 10 000 pages (40 MiB) makes them ten times rarer. The WAL file is cut back to that
    // size when a checkpoint resets it.
    db.pragma(`wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`);
    db.pragma(`journal_size_limit = ${WAL_AUTOCHECKPOINT_PAGES * 4096}`);
    db.pragma('foreign_keys = ON');
    db.pragma(`cache_size = -${PAGE_CACHE_KIB}`);
    const found = migrate(db, MIGRATIONS);
    const latest = latestSchemaVersion(MIGRATIONS);
    if (found !== latest) logger.info({ path: options.path, from: found, to: latest }, 'database schema migrated');
    const keyLog = new KeyLog(options.path + KEY_LOG_SUFFIX, logger);
    const store = new Store(db, now, keyLog);
    keyLog.tidy(() => store.items.serverIdsOfLocalFiles());
    return store;
  } catch (error) {
    db.close();
    throw error;
  }
}

/**
 * The connection's page cache, KiB: SQLite's own default. better-sqlite3 raises it to 16 MB, which a
 * large listing or a first enumeration fills and the process then keeps (malloc'd, never given
 * back: 7 of the 16 MiB of C heap after listing a 10 000-item folder). The kernel's page cache
 * holds the file's hot pages anyway; a page read from it is a pread of a few µs.
 */
export const PAGE_CACHE_KIB = 2000;

/** WAL pages before SQLite checkpoints on its own (see openAndMigrate). */
const WAL_AUTOCHECKPOINT_PAGES = 10_000;

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Checks an existing file before a read-write connection touches it: closing a read-write
 * connection checkpoints and deletes the -wal file, which would destroy the newest data of a
 * damaged database before it is moved aside. A read-only connection leaves the -wal alone.
 */
function verifyExisting(path: string, quickCheck: boolean): void {
  if (!existsSync(path) || statSync(path).size === 0) return;
  const header = Buffer.alloc(SQLITE_MAGIC.length);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, header, 0, header.length, 0);
  } finally {
    closeSync(fd);
  }
  if (!header.equals(SQLITE_MAGIC)) throw new StoreError('CORRUPT', 'the file does not start with the SQLite header');
  if (!quickCheck) return;
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const problems = db.pragma('quick_check', { simple: false }) as Array<{ quick_check: string }>;
    const messages = problems.map((row) => row.quick_check);
    if (messages.length !== 1 || messages[0] !== 'ok') {
      throw new StoreError('CORRUPT', `quick_check failed: ${messages.slice(0, 5).join('; ')}`);
    }
  } finally {
    db.close();
  }
}

function isCorruption(error: unknown): boolean {
  if (error instanceof StoreError) return error.code === 'CORRUPT';
  if (error instanceof Database.SqliteError) {
    return error.code.startsWith('SQLITE_CORRUPT') || error.code === 'SQLITE_NOTADB';
  }
  return false;
}

function moveAside(path: string, nowMs: number, reason: unknown): string {
  const stamp = new Date(nowMs).toISOString().replace(/[:.]/g, '-');
  let target = `${path}.corrupt-${stamp}`;
  for (let n = 2; existsSync(target); n++) target = `${path}.corrupt-${stamp}-${n}`;
  try {
    renameSync(path, target);
    for (const suffix of ['-wal', '-shm', KEY_LOG_SUFFIX]) {
      if (existsSync(path + suffix)) renameSync(path + suffix, target + suffix);
    }
  } catch (error) {
    throw new StoreError(
      'CORRUPT',
      `the database ${path} is corrupt (${describe(reason)}) and could not be moved aside: ${describe(error)}`,
      { cause: error },
    );
  }
  return target;
}

function asOpenError(path: string, error: unknown): unknown {
  if (error instanceof StoreError) return error;
  return new StoreError('OPEN_FAILED', `cannot open the database ${path}: ${describe(error)}`, { cause: error });
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
