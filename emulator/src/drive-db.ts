/**
 * The emulator's persistent drive: metadata in SQLite (WAL), one database per data directory.
 */
import Database from 'better-sqlite3';

/** `remote`: a shortcut to a folder in another drive (a shared folder added to this drive). */
export type ItemKind = 'folder' | 'file' | 'package' | 'remote';

export interface ItemRow {
  rid: number;
  id: string;
  parent_id: string | null;
  name: string;
  name_key: string;
  kind: ItemKind;
  depth: number;
  size: number;
  mime: string | null;
  content_ref: string | null;
  quickxor: string | null;
  sha256: string | null;
  hashes_hidden_until: number;
  etag_seq: number;
  ctag_seq: number;
  created_at: number;
  modified_at: number;
  fs_created: number;
  fs_modified: number;
  description: string | null;
  seq: number;
  deleted: number;
}

export interface SessionRow {
  id: string;
  parent_id: string;
  item_id: string | null;
  name: string;
  conflict: string;
  fs_created: number | null;
  fs_modified: number | null;
  total: number | null;
  next_offset: number;
  expires_at: number;
  created_at: number;
  temp_file: string;
  defer_commit: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
  rid INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  parent_id TEXT,
  name TEXT NOT NULL,
  name_key TEXT NOT NULL,
  kind TEXT NOT NULL,
  depth INTEGER NOT NULL,
  size INTEGER NOT NULL DEFAULT 0,
  mime TEXT,
  content_ref TEXT,
  quickxor TEXT,
  sha256 TEXT,
  hashes_hidden_until INTEGER NOT NULL DEFAULT 0,
  etag_seq INTEGER NOT NULL,
  ctag_seq INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  modified_at INTEGER NOT NULL,
  fs_created INTEGER NOT NULL,
  fs_modified INTEGER NOT NULL,
  description TEXT,
  seq INTEGER NOT NULL,
  deleted INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS items_name ON items(parent_id, name_key) WHERE deleted = 0;
CREATE INDEX IF NOT EXISTS items_seq ON items(seq);
CREATE INDEX IF NOT EXISTS items_tree ON items(depth, rid) WHERE deleted = 0;
-- The quota's deleted bytes (every GET /me/drive) sum these alone: a scan of the whole table took 10+ ms at 100 000 items.
CREATE INDEX IF NOT EXISTS items_deleted_files ON items(kind, size) WHERE deleted = 1;
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  parent_id TEXT NOT NULL,
  item_id TEXT,
  name TEXT NOT NULL,
  conflict TEXT NOT NULL,
  fs_created INTEGER,
  fs_modified INTEGER,
  total INTEGER,
  next_offset INTEGER NOT NULL DEFAULT 0,
  expires_at INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  temp_file TEXT NOT NULL,
  defer_commit INTEGER NOT NULL DEFAULT 0
);
-- Folders of this drive shared with the signed-in user (only the other user's drive has rows).
CREATE TABLE IF NOT EXISTS shares (item_id TEXT PRIMARY KEY, access TEXT NOT NULL CHECK (access IN ('read', 'write')));
-- Shortcuts (kind 'remote' items) of this drive and the folder in another drive each points to.
CREATE TABLE IF NOT EXISTS shortcuts (item_id TEXT PRIMARY KEY, drive_id TEXT NOT NULL, remote_id TEXT NOT NULL);
`;

export class DriveDb {
  readonly db: Database.Database;
  private readonly stmts;

  constructor(file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    const db = this.db;
    this.stmts = {
      metaGet: db.prepare<[string], { value: string }>('SELECT value FROM meta WHERE key = ?'),
      metaSet: db.prepare('INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      byId: db.prepare<[string], ItemRow>('SELECT * FROM items WHERE id = ?'),
      child: db.prepare<[string, string], ItemRow>('SELECT * FROM items WHERE parent_id = ? AND name_key = ? AND deleted = 0'),
      children: db.prepare<[string, string, number], ItemRow>(
        'SELECT * FROM items WHERE parent_id = ? AND deleted = 0 AND name_key > ? ORDER BY name_key LIMIT ?',
      ),
      childCount: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM items WHERE parent_id = ? AND deleted = 0'),
      fileCount: db.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM items WHERE deleted = 0 AND kind = 'file'"),
      /** Characters of the longest `/a/b/c` path below an item (0 when it has no children). */
      longestPathBelow: db.prepare<[string], { n: number | null }>(`WITH RECURSIVE below(id, len) AS (
          SELECT id, length(name) + 1 FROM items WHERE parent_id = ? AND deleted = 0
          UNION ALL SELECT i.id, below.len + length(i.name) + 1 FROM items i JOIN below ON i.parent_id = below.id WHERE i.deleted = 0)
        SELECT MAX(len) AS n FROM below`),
      childIds: db.prepare<[string], { id: string }>('SELECT id FROM items WHERE parent_id = ? AND deleted = 0'),
      insert: db.prepare(`INSERT INTO items (id, parent_id, name, name_key, kind, depth, size, mime, content_ref, quickxor, sha256,
        hashes_hidden_until, etag_seq, ctag_seq, created_at, modified_at, fs_created, fs_modified, description, seq, deleted)
        VALUES (@id, @parent_id, @name, @name_key, @kind, @depth, @size, @mime, @content_ref, @quickxor, @sha256,
        @hashes_hidden_until, @etag_seq, @ctag_seq, @created_at, @modified_at, @fs_created, @fs_modified, @description, @seq, @deleted)`),
      update: db.prepare(`UPDATE items SET parent_id = @parent_id, name = @name, name_key = @name_key, kind = @kind, depth = @depth,
        size = @size, mime = @mime, content_ref = @content_ref, quickxor = @quickxor, sha256 = @sha256,
        hashes_hidden_until = @hashes_hidden_until, etag_seq = @etag_seq, ctag_seq = @ctag_seq, created_at = @created_at,
        modified_at = @modified_at, fs_created = @fs_created, fs_modified = @fs_modified, description = @description,
        seq = @seq, deleted = @deleted WHERE id = @id`),
      sizeAdd: db.prepare('UPDATE items SET size = size + ? WHERE id = ?'),
      depthAdd: db.prepare('UPDATE items SET depth = depth + ? WHERE id = ?'),
      changedSince: db.prepare<[number, number], ItemRow>('SELECT * FROM items WHERE seq > ? ORDER BY seq LIMIT ?'),
      treePage: db.prepare<[number, number, number, number], ItemRow>(
        'SELECT * FROM items WHERE deleted = 0 AND (depth > ? OR (depth = ? AND rid > ?)) ORDER BY depth, rid LIMIT ?',
      ),
      purgeTombstones: db.prepare('DELETE FROM items WHERE deleted = 1 AND seq <= ?'),
      tombstoneSeqs: db.prepare<[], { n: number; minSeq: number | null }>('SELECT COUNT(*) AS n, MIN(seq) AS minSeq FROM items WHERE deleted = 1'),
      deletedBytes: db.prepare<[], { b: number | null }>("SELECT SUM(size) AS b FROM items WHERE deleted = 1 AND kind = 'file'"),
      sessionGet: db.prepare<[string], SessionRow>('SELECT * FROM sessions WHERE id = ?'),
      sessionInsert: db.prepare(`INSERT INTO sessions (id, parent_id, item_id, name, conflict, fs_created, fs_modified, total,
        next_offset, expires_at, created_at, temp_file, defer_commit) VALUES (@id, @parent_id, @item_id, @name, @conflict,
        @fs_created, @fs_modified, @total, @next_offset, @expires_at, @created_at, @temp_file, @defer_commit)`),
      sessionProgress: db.prepare('UPDATE sessions SET next_offset = ?, total = ?, expires_at = ? WHERE id = ?'),
      sessionDelete: db.prepare('DELETE FROM sessions WHERE id = ?'),
      sessionsAll: db.prepare<[], SessionRow>('SELECT * FROM sessions'),
      sessionExpire: db.prepare('UPDATE sessions SET expires_at = ?'),
    };
  }

  get statements() {
    return this.stmts;
  }

  meta(key: string): string | undefined {
    return this.stmts.metaGet.get(key)?.value;
  }

  setMeta(key: string, value: string | number): void {
    this.stmts.metaSet.run(key, String(value));
  }

  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
