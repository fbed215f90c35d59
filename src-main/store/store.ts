import type Database from 'better-sqlite3';
import { ConflictsRepository } from './conflicts-repository.ts';
import { ContentRepository } from './content-repository.ts';
import { DriveStateRepository } from './drive-state-repository.ts';
import { ItemsRepository } from './items-repository.ts';
import { JournalRepository } from './journal-repository.ts';
import type { KeyLog } from './key-log.ts';
import { DeletedUploads } from './deleted-uploads.ts';
import { SentVersionsRepository } from './sent-versions-repository.ts';
import { SharedFoldersRepository } from './shared-folders-repository.ts';

export interface StoreConnectionSettings {
  journalMode: string;
  synchronous: string;
  foreignKeys: boolean;
  busyTimeoutMs: number;
  /** WAL pages before SQLite checkpoints on its own. */
  walAutocheckpoint: number;
  /** The connection's page cache (SQLite's cache_size), KiB. */
  pageCacheKib: number;
  schemaVersion: number;
}

const SYNCHRONOUS_NAMES: Record<number, string> = { 0: 'OFF', 1: 'NORMAL', 2: 'FULL', 3: 'EXTRA' };

/**
 * One drive's database, opened by openStore. Every call runs synchronously on the caller's event
 * loop and commits before it returns, so each is kept to a few indexed statements.
 */
export class Store {
  readonly items: ItemsRepository;
  readonly driveState: DriveStateRepository;
  readonly content: ContentRepository;
  readonly journal: JournalRepository;
  readonly conflicts: ConflictsRepository;
  readonly sentVersions: SentVersionsRepository;
  readonly sharedFolders: SharedFoldersRepository;
  readonly deletedUploads: DeletedUploads;
  readonly #db: Database.Database;
  /**
   * One wrapper for every transaction: better-sqlite3 builds four wrapped functions and their
   * properties per db.transaction() call, which a FUSE write (one transaction each) paid every time.
   * Nested calls still become savepoints (the wrapper looks at db.inTransaction at each call).
   */
  readonly #transaction: <T>(work: () => T) => T;

  constructor(db: Database.Database, now: () => number, keyLog?: KeyLog) {
    this.#db = db;
    this.#transaction = db.transaction(<T>(work: () => T): T => work()) as <T>(work: () => T) => T;
    this.items = new ItemsRepository(db, keyLog);
    this.driveState = new DriveStateRepository(db);
    this.content = new ContentRepository(db);
    this.journal = new JournalRepository(db, now);
    this.conflicts = new ConflictsRepository(db, now);
    this.sentVersions = new SentVersionsRepository(db);
    this.sharedFolders = new SharedFoldersRepository(db);
    this.deletedUploads = new DeletedUploads(this.driveState, now);
  }

  /** The database file. */
  get path(): string {
    return this.#db.name;
  }

  get isOpen(): boolean {
    return this.#db.open;
  }

  /**
   * Runs `work` in one transaction: all its store calls commit together or not at all. Nested
   * calls become savepoints. `work` must be synchronous; an async function would commit at its
   * first await.
   */
  transaction<T>(work: () => T): T {
    return this.#transaction(work);
  }

  /** How this connection is configured, for status output and tests. */
  connectionSettings(): StoreConnectionSettings {
    const synchronous = this.#db.pragma('synchronous', { simple: true }) as number;
    return {
      journalMode: String(this.#db.pragma('journal_mode', { simple: true })),
      synchronous: SYNCHRONOUS_NAMES[synchronous] ?? String(synchronous),
      foreignKeys: this.#db.pragma('foreign_keys', { simple: true }) === 1,
      busyTimeoutMs: this.#db.pragma('busy_timeout', { simple: true }) as number,
      walAutocheckpoint: this.#db.pragma('wal_autocheckpoint', { simple: true }) as number,
      pageCacheKib: this.#pageCacheKib(),
      schemaVersion: this.#db.pragma('user_version', { simple: true }) as number,
    };
  }

  #pageCacheKib(): number {
    // cache_size: KiB when negative, pages when positive.
    const size = this.#db.pragma('cache_size', { simple: true }) as number;
    return size < 0 ? -size : (size * (this.#db.pragma('page_size', { simple: true }) as number)) / 1024;
  }

  /** Copies the WAL into the database file without blocking writers (housekeeping, idle time). */
  checkpoint(): void {
    this.#db.pragma('wal_checkpoint(PASSIVE)');
  }

  /** Checkpoints and closes. Safe to call twice. */
  close(): void {
    if (!this.#db.open) return;
    this.#db.pragma('wal_checkpoint(TRUNCATE)');
    this.#db.close();
  }
}
