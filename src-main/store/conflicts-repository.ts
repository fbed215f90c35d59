import type Database from 'better-sqlite3';
import { StoreError } from './store-error.ts';
import { CONFLICT_REASONS, type Conflict, type ConflictReason, type NewConflict } from './types.ts';

interface ConflictRow {
  id: number;
  item_id: string;
  path: string;
  reason: ConflictReason;
  local_copy_name: string | null;
  remote_etag: string | null;
  detected_ms: number;
  resolved: number;
  resolved_ms: number | null;
}

const CONFLICT_COLUMNS = 'id, item_id, path, reason, local_copy_name, remote_etag, detected_ms, resolved, resolved_ms';

/** Conflicts found while syncing, kept until the user has seen them. */
export class ConflictsRepository {
  readonly #insert: Database.Statement<[Omit<ConflictRow, 'id' | 'resolved' | 'resolved_ms'>]>;
  readonly #get: Database.Statement<[number], ConflictRow>;
  readonly #unresolved: Database.Statement<[], ConflictRow>;
  readonly #all: Database.Statement<[], ConflictRow>;
  readonly #byItem: Database.Statement<[string], ConflictRow>;
  readonly #resolve: Database.Statement<[number, number]>;
  readonly #remove: Database.Statement<[number]>;
  readonly #openFor: Database.Statement<[string, string], ConflictRow>;
  readonly #openAny: Database.Statement<[string], ConflictRow>;
  readonly #merge: Database.Statement<[{ id: number; reason: string; path: string; local_copy_name: string | null; remote_etag: string | null }]>;
  readonly #countUnresolved: Database.Statement<[], number>;
  readonly #now: () => number;

  constructor(db: Database.Database, now: () => number) {
    this.#now = now;
    this.#insert = db.prepare(
      `INSERT INTO conflicts (item_id, path, reason, local_copy_name, remote_etag, detected_ms)
       VALUES (@item_id, @path, @reason, @local_copy_name, @remote_etag, @detected_ms)`,
    );
    this.#get = db.prepare(`SELECT ${CONFLICT_COLUMNS} FROM conflicts WHERE id = ?`);
    this.#unresolved = db.prepare(`SELECT ${CONFLICT_COLUMNS} FROM conflicts WHERE resolved = 0 ORDER BY detected_ms, id`);
    this.#all = db.prepare(`SELECT ${CONFLICT_COLUMNS} FROM conflicts ORDER BY detected_ms, id`);
    this.#byItem = db.prepare(`SELECT ${CONFLICT_COLUMNS} FROM conflicts WHERE item_id = ? ORDER BY detected_ms, id`);
    this.#resolve = db.prepare('UPDATE conflicts SET resolved = 1, resolved_ms = ? WHERE id = ?');
    this.#remove = db.prepare('DELETE FROM conflicts WHERE id = ?');
    this.#openAny = db.prepare(`SELECT ${CONFLICT_COLUMNS} FROM conflicts WHERE item_id = ? AND resolved = 0 ORDER BY id DESC`);
    this.#openFor = db.prepare(`SELECT ${CONFLICT_COLUMNS} FROM conflicts WHERE item_id = ? AND reason = ? AND resolved = 0 ORDER BY id DESC`);
    this.#merge = db.prepare(
      `UPDATE conflicts SET reason = @reason, path = @path, local_copy_name = coalesce(@local_copy_name, local_copy_name),
         remote_etag = coalesce(@remote_etag, remote_etag) WHERE id = @id`,
    );
    this.#countUnresolved = db.prepare<[], number>('SELECT count(*) FROM conflicts WHERE resolved = 0').pluck();
  }

  /**
   * One record per conflict, whoever notices it first: while an item has an unresolved conflict of
   * this reason, a later report (delta saw the remote change, then the upload kept both versions)
   * completes that record (the local copy's name, the server version) instead of adding another.
   */
  record(conflict: NewConflict): Conflict {
    if (!(CONFLICT_REASONS as readonly string[]).includes(conflict.reason)) {
      throw new StoreError('INVALID_ARGUMENT', `unknown conflict reason ${JSON.stringify(conflict.reason)}`);
    }
    // The same conflict reported again (delta saw it, then the upload kept both) completes its
    // record; a conflict that made another copy is another record, or the first copy would be
    // left without one and the user never told about it.
    const copy = conflict.localCopyName ?? null;
    let open = this.#openFor
      .all(conflict.itemId, conflict.reason)
      .find((row) => row.local_copy_name === null || copy === null || row.local_copy_name === copy || row.local_copy_name === conflict.formerCopyName);
    // An open conflict without a copy is ended by the first report that places the local edit: a
    // kept edit of a file the server deleted (or changed) that loses its name to a new server file
    // (name-clash: the conflict keeps the reason it was noticed with), or an upload that met the
    // server's side changed again after delta saw a remote version (delta saw an edit, the upload
    // found the file deleted: the reason becomes what the upload met). Left open, that record would
    // be completed by a later, different conflict, whose copy then came with a record the user had
    // already seen (fuzz 241000/311). A record that names no remote version (a refused offline
    // delete) is about something else, and stays as it is.
    let reason = conflict.reason;
    if (!open && copy !== null) {
      const bare = this.#openAny.all(conflict.itemId).filter((row) => row.local_copy_name === null);
      if (conflict.reason === 'name-clash') {
        open = bare[0];
        if (open) reason = open.reason;
      } else open = bare.find((row) => row.remote_etag !== null);
    }
    if (open) {
      this.#merge.run({ id: open.id, reason, path: conflict.path, local_copy_name: copy, remote_etag: conflict.remoteEtag ?? null });
      return this.#mustGet(open.id);
    }
    const result = this.#insert.run({
      item_id: conflict.itemId,
      path: conflict.path,
      reason: conflict.reason,
      local_copy_name: conflict.localCopyName ?? null,
      remote_etag: conflict.remoteEtag ?? null,
      detected_ms: conflict.detectedMs ?? this.#now(),
    });
    return this.#mustGet(Number(result.lastInsertRowid));
  }

  get(id: number): Conflict | undefined {
    const row = this.#get.get(id);
    return row && conflictFromRow(row);
  }

  /** Oldest first; resolved ones only when asked. */
  list(options: { includeResolved?: boolean } = {}): Conflict[] {
    return (options.includeResolved ? this.#all : this.#unresolved).all().map(conflictFromRow);
  }

  listForItem(itemId: string): Conflict[] {
    return this.#byItem.all(itemId).map(conflictFromRow);
  }

  markResolved(id: number): Conflict {
    if (this.#resolve.run(this.#now(), id).changes === 0) throw notFound(id);
    return this.#mustGet(id);
  }

  remove(id: number): void {
    this.#remove.run(id);
  }

  countUnresolved(): number {
    return this.#countUnresolved.get() ?? 0;
  }

  #mustGet(id: number): Conflict {
    const conflict = this.get(id);
    if (!conflict) throw notFound(id);
    return conflict;
  }
}

function conflictFromRow(row: ConflictRow): Conflict {
  return {
    id: row.id,
    itemId: row.item_id,
    path: row.path,
    reason: row.reason,
    localCopyName: row.local_copy_name,
    remoteEtag: row.remote_etag,
    detectedMs: row.detected_ms,
    resolved: row.resolved === 1,
    resolvedMs: row.resolved_ms,
  };
}

function notFound(id: number): StoreError {
  return new StoreError('NOT_FOUND', `no conflict with id ${id}`);
}
