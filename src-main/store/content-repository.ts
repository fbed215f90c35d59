import type Database from 'better-sqlite3';
import { RangeSet } from '../base/range-set.ts';
import { StoreError } from './store-error.ts';
import { CONTENT_STATUSES, type ContentState, type ContentStatus, type EvictionCandidate, type EvictionCursor } from './types.ts';

interface ContentRow {
  item_id: string;
  status: ContentStatus;
  etag: string | null;
  ctag: string | null;
  ranges: Uint8Array;
  cached_bytes: number;
  last_access_ms: number;
  pinned: number;
  error_code: string | null;
  error_message: string | null;
  local_version: number;
}

interface CandidateRow {
  item_id: string;
  inode: number;
  status: 'partial' | 'complete';
  cached_bytes: number;
  last_access_ms: number;
}

const CONTENT_COLUMNS =
  'item_id, status, etag, ctag, ranges, cached_bytes, last_access_ms, pinned, error_code, error_message, local_version';

/** Deeper than any OneDrive path; stops a corrupted parent cycle. */
const MAX_DEPTH = 1000;

/** What setContent writes: the bytes' status, the server version they belong to, which ranges are local. */
export interface ContentUpdate {
  status: ContentStatus;
  etag: string | null;
  ctag: string | null;
  ranges: RangeSet;
}

/**
 * Per-item local content: which byte ranges of which server version are in the cache file, LRU
 * access times, pins and the last error. Rows are created on first use; an item without a row
 * has status 'none'. Rows go away with their item (foreign key cascade).
 */
export class ContentRepository {
  readonly #get: Database.Statement<[string], ContentRow>;
  readonly #status: Database.Statement<[string], ContentStatus>;
  readonly #localState: Database.Statement<[string], { status: ContentStatus; local_version: number }>;
  readonly #setContent: Database.Statement<[{ item_id: string; status: string; etag: string | null; ctag: string | null; ranges: Uint8Array; cached_bytes: number; bump: number }]>;
  readonly #setStatus: Database.Statement<[string, string]>;
  readonly #touch: Database.Statement<[number, string]>;
  readonly #setPinned: Database.Statement<[string, number]>;
  readonly #setError: Database.Statement<[string, string | null, string | null]>;
  readonly #remove: Database.Statement<[string]>;
  readonly #bump: Database.Statement<[string]>;
  readonly #pinned: Database.Statement<[], string>;
  readonly #byStatus: Database.Statement<[string], string>;
  readonly #total: Database.Statement<[], number>;
  readonly #candidates: Database.Statement<[number, string, number], CandidateRow>;
  readonly #parentOf: Database.Statement<[string], string | null>;
  readonly #isPinned: Database.Statement<[string], number>;
  readonly #addRange: (itemId: string, start: number, end: number, fileSize: number) => ContentState;
  readonly #touchMany: (entries: ReadonlyArray<{ itemId: string; atMs: number }>) => void;
  readonly #invalidate: (itemId: string, force: boolean) => ContentState | undefined;
  #generation = 0;

  constructor(db: Database.Database) {
    this.#get = db.prepare(`SELECT ${CONTENT_COLUMNS} FROM content WHERE item_id = ?`);
    this.#status = db.prepare<[string], ContentStatus>('SELECT status FROM content WHERE item_id = ?').pluck();
    this.#localState = db.prepare<[string], { status: ContentStatus; local_version: number }>('SELECT status, local_version FROM content WHERE item_id = ?');
    this.#setContent = db.prepare(
      `INSERT INTO content (item_id, status, etag, ctag, ranges, cached_bytes, local_version)
       VALUES (@item_id, @status, @etag, @ctag, @ranges, @cached_bytes, @bump)
       ON CONFLICT (item_id) DO UPDATE SET status = excluded.status, etag = excluded.etag, ctag = excluded.ctag,
         ranges = excluded.ranges, cached_bytes = excluded.cached_bytes, local_version = local_version + @bump`,
    );
    this.#setStatus = db.prepare(
      `INSERT INTO content (item_id, status) VALUES (?, ?)
       ON CONFLICT (item_id) DO UPDATE SET status = excluded.status`,
    );
    this.#touch = db.prepare('UPDATE content SET last_access_ms = max(last_access_ms, ?) WHERE item_id = ?');
    this.#setPinned = db.prepare(
      `INSERT INTO content (item_id, status, pinned) VALUES (?, 'none', ?)
       ON CONFLICT (item_id) DO UPDATE SET pinned = excluded.pinned`,
    );
    this.#setError = db.prepare(
      `INSERT INTO content (item_id, status, error_code, error_message) VALUES (?, 'none', ?, ?)
       ON CONFLICT (item_id) DO UPDATE SET error_code = excluded.error_code, error_message = excluded.error_message`,
    );
    this.#remove = db.prepare('DELETE FROM content WHERE item_id = ?');
    this.#bump = db.prepare(
      `INSERT INTO content (item_id, status, local_version) VALUES (?, 'none', 1)
       ON CONFLICT (item_id) DO UPDATE SET local_version = local_version + 1`,
    );
    this.#pinned = db.prepare<[], string>('SELECT item_id FROM content WHERE pinned = 1 ORDER BY item_id').pluck();
    this.#byStatus = db.prepare<[string], string>('SELECT item_id FROM content WHERE status = ? ORDER BY item_id').pluck();
    this.#total = db
      .prepare<[], number>(`SELECT coalesce(sum(cached_bytes), 0) FROM content WHERE status != 'none'`)
      .pluck();
    this.#candidates = db.prepare(
      `SELECT c.item_id, i.inode, c.status, c.cached_bytes, c.last_access_ms
       FROM content AS c INDEXED BY content_eviction JOIN items AS i ON i.id = c.item_id
       WHERE c.pinned = 0 AND c.status IN ('partial', 'complete')
         AND (c.last_access_ms, c.item_id) > (?, ?)
       ORDER BY c.last_access_ms, c.item_id
       LIMIT ?`,
    );
    this.#parentOf = db.prepare<[string], string | null>('SELECT parent_id FROM items WHERE id = ?').pluck();
    this.#isPinned = db.prepare<[string], number>('SELECT pinned FROM content WHERE item_id = ?').pluck();
    this.#addRange = db.transaction((itemId: string, start: number, end: number, fileSize: number) => {
      const current = this.get(itemId);
      const ranges = current?.ranges ?? new RangeSet();
      ranges.add(start, end);
      const status = current?.status === 'dirty' ? 'dirty' : ranges.isComplete(fileSize) ? 'complete' : 'partial';
      this.#write(itemId, { status, etag: current?.etag ?? null, ctag: current?.ctag ?? null, ranges });
      return this.#mustGet(itemId);
    });
    this.#touchMany = db.transaction((entries: ReadonlyArray<{ itemId: string; atMs: number }>) => {
      for (const { itemId, atMs } of entries) this.#touch.run(atMs, itemId);
    });
    this.#invalidate = db.transaction((itemId: string, force: boolean) => {
      const current = this.get(itemId);
      if (!current) return undefined;
      if (current.status === 'dirty' && !force) {
        throw new StoreError('CONTENT_DIRTY', `item ${itemId} has local changes that are not uploaded; not dropping them`);
      }
      this.#write(itemId, { status: 'none', etag: null, ctag: null, ranges: new RangeSet() });
      this.#setError.run(itemId, null, null);
      return current;
    });
  }

  /**
   * Moves at every change of a status, version or range map, except a range landing (addRange: a
   * download's progress, which never makes a file dirty or clean): callers that keep content states
   * (the vfs's open files keep whether their file was dirty) compare it to know their copies are
   * current. Moved before the change, so a rolled back one counts too.
   */
  get generation(): number {
    return this.#generation;
  }

  /** setContent for a local change of the bytes: the local change counter moves in the same statement. */
  setChanged(itemId: string, update: ContentUpdate): void {
    this.#generation++;
    this.#write(itemId, update, true);
  }

  /** Counts one more local change of the item's bytes (see ContentState.localVersion). */
  bumpLocalVersion(itemId: string): void {
    this.#bump.run(itemId);
  }

  /** The item's content state; undefined means nothing local (status 'none', not pinned). */
  get(itemId: string): ContentState | undefined {
    const row = this.#get.get(itemId);
    return row && contentFromRow(row);
  }

  /** The item's status alone ('none' without a row): get() without decoding the range map. */
  statusOf(itemId: string): ContentStatus {
    return this.#status.get(itemId) ?? 'none';
  }

  /** The item's status and local change counter ('none' and 0 without a row), without the range map. */
  localStateOf(itemId: string): { status: ContentStatus; localVersion: number } {
    const row = this.#localState.get(itemId);
    return row ? { status: row.status, localVersion: row.local_version } : { status: 'none', localVersion: 0 };
  }

  /**
   * Records status, version and ranges together (a download starting for a version, a local
   * write making the file dirty, an upload making it clean). Keeps pin, access time and error.
   */
  setContent(itemId: string, update: ContentUpdate): ContentState {
    this.#generation++;
    this.#write(itemId, update);
    return this.#mustGet(itemId);
  }

  /**
   * Adds a downloaded or written range. The status becomes 'complete' when [0, fileSize) is
   * covered, 'partial' otherwise; a dirty file stays dirty.
   */
  addRange(itemId: string, start: number, end: number, fileSize: number): ContentState {
    return this.#addRange(itemId, start, end, fileSize);
  }

  setStatus(itemId: string, status: ContentStatus): void {
    checkStatus(status);
    this.#generation++;
    this.#setStatus.run(itemId, status);
  }

  /**
   * Forgets the local content (the server version changed, or "free up space"). Returns the state
   * it had, so the caller can delete the cache file. A dirty item is refused with CONTENT_DIRTY
   * unless `force` is set.
   */
  invalidate(itemId: string, options: { force?: boolean } = {}): ContentState | undefined {
    this.#generation++;
    return this.#invalidate(itemId, options.force ?? false);
  }

  /**
   * Records an access for LRU. Never moves the time backwards. Each call is a commit: on hot
   * read paths, collect accesses and use touchMany.
   */
  touch(itemId: string, atMs: number): void {
    this.#touch.run(atMs, itemId);
  }

  touchMany(entries: ReadonlyArray<{ itemId: string; atMs: number }>): void {
    this.#touchMany(entries);
  }

  setPinned(itemId: string, pinned: boolean): void {
    this.#setPinned.run(itemId, pinned ? 1 : 0);
  }

  /** Items pinned directly (files and folders); a pinned folder covers its whole subtree. */
  listPinned(): string[] {
    return this.#pinned.all();
  }

  /** The item itself or its nearest pinned ancestor, if any is pinned. */
  pinnedAncestorOf(itemId: string): string | undefined {
    let current: string | null | undefined = itemId;
    for (let depth = 0; current != null && depth < MAX_DEPTH; depth++) {
      if (this.#isPinned.get(current) === 1) return current;
      current = this.#parentOf.get(current);
    }
    return undefined;
  }

  isEffectivelyPinned(itemId: string): boolean {
    return this.pinnedAncestorOf(itemId) !== undefined;
  }

  setError(itemId: string, code: string, message: string): void {
    this.#setError.run(itemId, code, message);
  }

  clearError(itemId: string): void {
    if (this.#get.get(itemId)) this.#setError.run(itemId, null, null);
  }

  remove(itemId: string): void {
    this.#generation++;
    this.#remove.run(itemId);
  }

  /** Items with the given status, e.g. every dirty file at startup so its upload is requeued. */
  listByStatus(status: ContentStatus): string[] {
    checkStatus(status);
    return this.#byStatus.all(status);
  }

  /** Bytes held in cache files (partial, complete and dirty content). */
  totalCachedBytes(): number {
    return this.#total.get() ?? 0;
  }

  /**
   * Up to `limit` items the cleaner may evict, least recently used first: content present, not
   * dirty, not pinned and not below a pinned folder. Open files are the caller's to skip. Pass the
   * last candidate as `after` to continue.
   */
  listEvictionCandidates(limit: number, after?: EvictionCursor): EvictionCandidate[] {
    if (!Number.isInteger(limit) || limit < 1) throw new StoreError('INVALID_ARGUMENT', `bad page size ${limit}`);
    const found: EvictionCandidate[] = [];
    const pinnedFolders = new Map<string, boolean>();
    let cursor: EvictionCursor = after ?? { lastAccessMs: Number.MIN_SAFE_INTEGER, itemId: '' };
    while (found.length < limit) {
      const page = this.#candidates.all(cursor.lastAccessMs, cursor.itemId, limit);
      for (const row of page) {
        if (found.length < limit && !this.#underPinnedFolder(row.item_id, pinnedFolders)) {
          found.push({
            itemId: row.item_id,
            inode: row.inode,
            status: row.status,
            cachedBytes: row.cached_bytes,
            lastAccessMs: row.last_access_ms,
          });
        }
      }
      const last = page[page.length - 1];
      if (page.length < limit || last === undefined) break;
      cursor = { lastAccessMs: last.last_access_ms, itemId: last.item_id };
    }
    return found;
  }

  /** Ancestor walk with a per-call memo, so a page of siblings costs one walk. */
  #underPinnedFolder(itemId: string, memo: Map<string, boolean>): boolean {
    const visited: string[] = [];
    let current = this.#parentOf.get(itemId);
    let answer = false;
    for (let depth = 0; current != null && depth < MAX_DEPTH; depth++) {
      const known = memo.get(current);
      if (known !== undefined) {
        answer = known;
        break;
      }
      visited.push(current);
      if (this.#isPinned.get(current) === 1) {
        answer = true;
        break;
      }
      current = this.#parentOf.get(current);
    }
    for (const id of visited) memo.set(id, answer);
    return answer;
  }

  #write(itemId: string, update: ContentUpdate, bump = false): void {
    checkStatus(update.status);
    this.#setContent.run({
      item_id: itemId,
      status: update.status,
      etag: update.etag,
      ctag: update.ctag,
      ranges: update.ranges.serialize(),
      cached_bytes: update.ranges.coveredBytes,
      bump: bump ? 1 : 0,
    });
  }

  #mustGet(itemId: string): ContentState {
    const state = this.get(itemId);
    if (!state) throw new StoreError('NOT_FOUND', `no content state for item ${itemId}`);
    return state;
  }
}

function contentFromRow(row: ContentRow): ContentState {
  return {
    itemId: row.item_id,
    status: row.status,
    etag: row.etag,
    ctag: row.ctag,
    ranges: RangeSet.deserialize(row.ranges),
    cachedBytes: row.cached_bytes,
    lastAccessMs: row.last_access_ms,
    pinned: row.pinned === 1,
    errorCode: row.error_code,
    errorMessage: row.error_message,
    localVersion: row.local_version,
  };
}

function checkStatus(status: string): void {
  if (!(CONTENT_STATUSES as readonly string[]).includes(status)) {
    throw new StoreError('INVALID_ARGUMENT', `unknown content status ${JSON.stringify(status)}`);
  }
}
