import type Database from 'better-sqlite3';
import type { ShareAccess, SharedFolder } from './types.ts';

interface Row {
  item_id: string;
  drive_id: string;
  remote_item_id: string;
  access: ShareAccess | null;
  access_checked_ms: number | null;
  delta_link: string | null;
  last_error: string | null;
  synced_ms: number | null;
}

const COLUMNS = 'item_id, drive_id, remote_item_id, access, access_checked_ms, delta_link, last_error, synced_ms';

function fromRow(row: Row): SharedFolder {
  return {
    itemId: row.item_id,
    driveId: row.drive_id,
    remoteItemId: row.remote_item_id,
    access: row.access,
    accessCheckedMs: row.access_checked_ms,
    deltaLink: row.delta_link,
    lastError: row.last_error,
    syncedMs: row.synced_ms,
  };
}

/**
 * The shared folders added to the drive (`remote` items) and the state of each one's own delta on
 * its own drive. A row goes with its shortcut item (foreign key, ON DELETE CASCADE).
 */
export class SharedFoldersRepository {
  readonly #get: Database.Statement<[string], Row>;
  readonly #all: Database.Statement<[], Row>;
  readonly #track: Database.Statement<[{ item_id: string; drive_id: string; remote_item_id: string }]>;
  readonly #setAccess: Database.Statement<[ShareAccess | null, number, string]>;
  readonly #synced: Database.Statement<[string, number, string]>;
  readonly #failed: Database.Statement<[string, string]>;
  readonly #resetLink: Database.Statement<[string]>;
  readonly #untrack: Database.Statement<[string]>;

  constructor(db: Database.Database) {
    this.#get = db.prepare(`SELECT ${COLUMNS} FROM shared_folders WHERE item_id = ?`);
    this.#all = db.prepare(`SELECT ${COLUMNS} FROM shared_folders ORDER BY item_id`);
    // A shortcut that now points elsewhere starts over: its old link and access say nothing of the new target.
    this.#track = db.prepare(
      `INSERT INTO shared_folders (item_id, drive_id, remote_item_id) VALUES (@item_id, @drive_id, @remote_item_id)
       ON CONFLICT (item_id) DO UPDATE SET drive_id = excluded.drive_id, remote_item_id = excluded.remote_item_id,
         access = NULL, access_checked_ms = NULL, delta_link = NULL, last_error = NULL, synced_ms = NULL
       WHERE drive_id IS NOT excluded.drive_id OR remote_item_id IS NOT excluded.remote_item_id`,
    );
    this.#setAccess = db.prepare('UPDATE shared_folders SET access = ?, access_checked_ms = ? WHERE item_id = ?');
    this.#synced = db.prepare('UPDATE shared_folders SET delta_link = ?, synced_ms = ?, last_error = NULL WHERE item_id = ?');
    this.#failed = db.prepare('UPDATE shared_folders SET last_error = ? WHERE item_id = ?');
    this.#resetLink = db.prepare('UPDATE shared_folders SET delta_link = NULL WHERE item_id = ?');
    this.#untrack = db.prepare('DELETE FROM shared_folders WHERE item_id = ?');
  }

  get(itemId: string): SharedFolder | undefined {
    const row = this.#get.get(itemId);
    return row && fromRow(row);
  }

  list(): SharedFolder[] {
    return this.#all.all().map(fromRow);
  }

  /** Starts following a shortcut's target (or keeps following it when it is unchanged). */
  track(itemId: string, driveId: string, remoteItemId: string): SharedFolder {
    this.#track.run({ item_id: itemId, drive_id: driveId, remote_item_id: remoteItemId });
    return this.get(itemId)!;
  }

  /** What the share grants, as learned at `atMs`. */
  setAccess(itemId: string, access: ShareAccess | null, atMs: number): void {
    this.#setAccess.run(access, atMs, itemId);
  }

  /** A delta batch of the share was applied: its link is where the next one starts. */
  synced(itemId: string, deltaLink: string, atMs: number): void {
    this.#synced.run(deltaLink, atMs, itemId);
  }

  failed(itemId: string, message: string): void {
    this.#failed.run(message, itemId);
  }

  /** The next sync enumerates the share anew (its token was refused). */
  resetDeltaLink(itemId: string): void {
    this.#resetLink.run(itemId);
  }

  untrack(itemId: string): void {
    this.#untrack.run(itemId);
  }
}
