import type Database from 'better-sqlite3';
import { StoreError } from './store-error.ts';
import {
  JOURNAL_KINDS,
  JOURNAL_STATES,
  type JournalEntry,
  type JournalKind,
  type JournalPayload,
  type JournalState,
  type NewJournalEntry,
  type UploadSessionProgress,
} from './types.ts';

interface JournalRow {
  seq: number;
  kind: JournalKind;
  item_id: string;
  parent_id: string | null;
  name: string | null;
  new_parent_id: string | null;
  new_name: string | null;
  base_etag: string | null;
  payload: string | null;
  state: JournalState;
  session_url: string | null;
  session_expires_ms: number | null;
  confirmed_offset: number;
  attempts: number;
  last_error: string | null;
  created_ms: number;
  updated_ms: number;
}

const JOURNAL_COLUMNS = `seq, kind, item_id, parent_id, name, new_parent_id, new_name, base_etag, payload, state,
  session_url, session_expires_ms, confirmed_offset, attempts, last_error, created_ms, updated_ms`;

export interface JournalFilter {
  states?: readonly JournalState[];
  itemId?: string;
}

/**
 * The upload journal: local operations not yet confirmed by the server, in the order they
 * happened. Every method is one small statement, committed before it returns, so a FUSE call that
 * journals a change can answer only after the change is durable against a killed process.
 */
export class JournalRepository {
  readonly #insert: Database.Statement<[Omit<JournalRow, 'seq' | 'session_url' | 'session_expires_ms' | 'confirmed_offset' | 'attempts' | 'last_error'>]>;
  readonly #get: Database.Statement<[number], JournalRow>;
  readonly #nextPending: Database.Statement<[number], JournalRow>;
  readonly #all: Database.Statement<[], JournalRow>;
  readonly #byState: Database.Statement<[string], JournalRow>;
  readonly #byItem: Database.Statement<[string], JournalRow>;
  readonly #mark: Database.Statement<[{ seq: number; state: string; error: string | null; now: number; count_attempt: number }]>;
  readonly #session: Database.Statement<[{ seq: number; url: string | null; offset: number; expires: number | null; now: number }]>;
  readonly #requeue: Database.Statement<[number]>;
  readonly #remove: Database.Statement<[number]>;
  readonly #setOrigin: Database.Statement<[string | null, string | null, number]>;
  readonly #removeDone: Database.Statement<[]>;
  readonly #countUnfinished: Database.Statement<[], number>;
  readonly #now: () => number;

  constructor(db: Database.Database, now: () => number) {
    this.#now = now;
    this.#insert = db.prepare(
      `INSERT INTO journal (kind, item_id, parent_id, name, new_parent_id, new_name, base_etag, payload, state, created_ms, updated_ms)
       VALUES (@kind, @item_id, @parent_id, @name, @new_parent_id, @new_name, @base_etag, @payload, @state, @created_ms, @updated_ms)`,
    );
    this.#get = db.prepare(`SELECT ${JOURNAL_COLUMNS} FROM journal WHERE seq = ?`);
    this.#nextPending = db.prepare(
      `SELECT ${JOURNAL_COLUMNS} FROM journal WHERE state = 'pending' AND seq > ? ORDER BY seq LIMIT 1`,
    );
    this.#all = db.prepare(`SELECT ${JOURNAL_COLUMNS} FROM journal ORDER BY seq`);
    this.#byState = db.prepare(`SELECT ${JOURNAL_COLUMNS} FROM journal WHERE state = ? ORDER BY seq`);
    this.#byItem = db.prepare(`SELECT ${JOURNAL_COLUMNS} FROM journal WHERE item_id = ? ORDER BY seq`);
    this.#mark = db.prepare(
      `UPDATE journal SET state = @state, last_error = @error, updated_ms = @now, attempts = attempts + @count_attempt
       WHERE seq = @seq`,
    );
    this.#session = db.prepare(
      `UPDATE journal SET session_url = @url, confirmed_offset = @offset, session_expires_ms = @expires, updated_ms = @now
       WHERE seq = @seq`,
    );
    this.#requeue = db.prepare(`UPDATE journal SET state = 'pending', updated_ms = ? WHERE state = 'uploading'`);
    this.#remove = db.prepare('DELETE FROM journal WHERE seq = ?');
    this.#setOrigin = db.prepare('UPDATE journal SET parent_id = ?, name = ? WHERE seq = ?');
    this.#removeDone = db.prepare(`DELETE FROM journal WHERE state = 'done'`);
    this.#countUnfinished = db.prepare<[], number>(`SELECT count(*) FROM journal WHERE state != 'done'`).pluck();
  }

  /** Records a local operation as pending; durable when this returns. */
  append(entry: NewJournalEntry): JournalEntry {
    if (!(JOURNAL_KINDS as readonly string[]).includes(entry.kind)) {
      throw new StoreError('INVALID_ARGUMENT', `unknown journal kind ${JSON.stringify(entry.kind)}`);
    }
    if (entry.itemId === '') throw new StoreError('INVALID_ARGUMENT', 'journal entries need an item id');
    const now = this.#now();
    const result = this.#insert.run({
      kind: entry.kind,
      item_id: entry.itemId,
      parent_id: entry.parentId ?? null,
      name: entry.name ?? null,
      new_parent_id: entry.newParentId ?? null,
      new_name: entry.newName ?? null,
      base_etag: entry.baseEtag ?? null,
      payload: entry.payload == null ? null : JSON.stringify(entry.payload),
      state: 'pending',
      created_ms: now,
      updated_ms: now,
    });
    return this.#mustGet(Number(result.lastInsertRowid));
  }

  get(seq: number): JournalEntry | undefined {
    const row = this.#get.get(seq);
    return row && entryFromRow(row);
  }

  /** The oldest pending entry after `afterSeq` (to skip entries the caller is holding back). */
  nextPending(afterSeq = 0): JournalEntry | undefined {
    const row = this.#nextPending.get(afterSeq);
    return row && entryFromRow(row);
  }

  /** Entries in seq order, optionally only some states and/or one item. */
  list(filter: JournalFilter = {}): JournalEntry[] {
    let rows: JournalRow[];
    if (filter.itemId !== undefined) rows = this.#byItem.all(filter.itemId);
    else if (filter.states?.length === 1) rows = this.#byState.all(filter.states[0]!);
    else rows = this.#all.all();
    const states = filter.states;
    return rows.filter((row) => states === undefined || states.includes(row.state)).map(entryFromRow);
  }

  /** Starts an attempt: state 'uploading' and one more attempt counted. */
  markUploading(seq: number): JournalEntry {
    return this.#setState(seq, 'uploading', null, true);
  }

  markDone(seq: number): JournalEntry {
    return this.#setState(seq, 'done', null, false);
  }

  /** Gives up on the entry until someone retries it; the error is kept for the user to see. */
  markFailed(seq: number, error: string): JournalEntry {
    return this.#setState(seq, 'failed', error, false);
  }

  /** Back to the queue (a retryable failure, or a user's retry of a failed entry). */
  markPending(seq: number, error: string | null = null): JournalEntry {
    return this.#setState(seq, 'pending', error, false);
  }

  /** Persists an upload session's URL and the offset the server confirmed. */
  updateSession(seq: number, progress: UploadSessionProgress): JournalEntry {
    if (!Number.isSafeInteger(progress.confirmedOffset) || progress.confirmedOffset < 0) {
      throw new StoreError('INVALID_ARGUMENT', `invalid confirmed offset ${progress.confirmedOffset}`);
    }
    return this.#writeSession(seq, progress.sessionUrl, progress.confirmedOffset, progress.expiresMs ?? null);
  }

  /** Forgets the session (expired or rejected): the next attempt starts a new one from zero. */
  clearSession(seq: number): JournalEntry {
    return this.#writeSession(seq, null, 0, null);
  }

  /**
   * After a restart nothing is uploading any more: entries caught mid-upload go back to pending,
   * keeping their session so the upload resumes. Returns how many.
   */
  requeueInterrupted(): number {
    return this.#requeue.run(this.#now()).changes;
  }

  remove(seq: number): void {
    this.#remove.run(seq);
  }

  /** The place an entry says its item had (a rename's origin) is now this one. */
  setOrigin(seq: number, parentId: string | null, name: string | null): void {
    this.#setOrigin.run(parentId, name, seq);
  }

  removeDone(): number {
    return this.#removeDone.run().changes;
  }

  /** Entries not done yet (pending, uploading or failed). */
  countUnfinished(): number {
    return this.#countUnfinished.get() ?? 0;
  }

  #setState(seq: number, state: JournalState, error: string | null, countAttempt: boolean): JournalEntry {
    if (!(JOURNAL_STATES as readonly string[]).includes(state)) {
      throw new StoreError('INVALID_ARGUMENT', `unknown journal state ${JSON.stringify(state)}`);
    }
    const result = this.#mark.run({ seq, state, error, now: this.#now(), count_attempt: countAttempt ? 1 : 0 });
    if (result.changes === 0) throw notFound(seq);
    return this.#mustGet(seq);
  }

  #writeSession(seq: number, url: string | null, offset: number, expires: number | null): JournalEntry {
    const result = this.#session.run({ seq, url, offset, expires, now: this.#now() });
    if (result.changes === 0) throw notFound(seq);
    return this.#mustGet(seq);
  }

  #mustGet(seq: number): JournalEntry {
    const entry = this.get(seq);
    if (!entry) throw notFound(seq);
    return entry;
  }
}

function entryFromRow(row: JournalRow): JournalEntry {
  return {
    seq: row.seq,
    kind: row.kind,
    itemId: row.item_id,
    parentId: row.parent_id,
    name: row.name,
    newParentId: row.new_parent_id,
    newName: row.new_name,
    baseEtag: row.base_etag,
    payload: row.payload === null ? null : (JSON.parse(row.payload) as JournalPayload),
    state: row.state,
    sessionUrl: row.session_url,
    sessionExpiresMs: row.session_expires_ms,
    confirmedOffset: row.confirmed_offset,
    attempts: row.attempts,
    lastError: row.last_error,
    createdMs: row.created_ms,
    updatedMs: row.updated_ms,
  };
}

function notFound(seq: number): StoreError {
  return new StoreError('NOT_FOUND', `no journal entry with seq ${seq}`);
}
