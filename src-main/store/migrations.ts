import type Database from 'better-sqlite3';
import { StoreError } from './store-error.ts';

/**
 * One step of the schema. Versions start at 1 and increase by one; the database's
 * `PRAGMA user_version` records the last step applied. Never edit a released step: add a new one.
 */
export interface Migration {
  version: number;
  description: string;
  up(db: Database.Database): void;
}

const SCHEMA_V1 = `
-- inode is the rowid, so inode lookups are the table's own b-tree. AUTOINCREMENT keeps inodes
-- from being reused after a delete (the kernel may still remember an old one); the sequence is
-- seeded at 1 so that only the root ever gets inode 1.
CREATE TABLE items (
  inode INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  parent_id TEXT REFERENCES items(id) ON UPDATE CASCADE ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  name TEXT NOT NULL,
  name_key TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('file', 'folder', 'package', 'remote')),
  size INTEGER NOT NULL CHECK (size >= 0),
  ctime_ms INTEGER NOT NULL,
  mtime_ms INTEGER NOT NULL,
  etag TEXT,
  ctag TEXT,
  quickxor_hash TEXT,
  remote_drive_id TEXT,
  remote_item_id TEXT,
  CHECK ((parent_id IS NULL) = (inode = 1))
);
-- Case-insensitive lookup and paged listing of a folder, ordered by folded name.
CREATE UNIQUE INDEX items_parent_name ON items (parent_id, name_key);
INSERT INTO sqlite_sequence (name, seq) VALUES ('items', 1);

CREATE TABLE drive_state (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE content (
  item_id TEXT PRIMARY KEY REFERENCES items(id) ON UPDATE CASCADE ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  status TEXT NOT NULL CHECK (status IN ('none', 'partial', 'complete', 'dirty')),
  etag TEXT,
  ctag TEXT,
  ranges BLOB NOT NULL DEFAULT x'01',
  cached_bytes INTEGER NOT NULL DEFAULT 0,
  last_access_ms INTEGER NOT NULL DEFAULT 0,
  pinned INTEGER NOT NULL DEFAULT 0 CHECK (pinned IN (0, 1)),
  error_code TEXT,
  error_message TEXT
) WITHOUT ROWID;
-- The cleaner walks only what it may evict, oldest access first.
CREATE INDEX content_eviction ON content (last_access_ms, item_id)
  WHERE pinned = 0 AND status IN ('partial', 'complete');
CREATE INDEX content_pinned ON content (item_id) WHERE pinned = 1;
CREATE INDEX content_status ON content (status, item_id);

-- Not tied to items by a foreign key: an unlink entry outlives the item it removed.
CREATE TABLE journal (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL CHECK (kind IN ('create', 'write', 'mkdir', 'rename', 'unlink', 'rmdir', 'setattr')),
  item_id TEXT NOT NULL,
  parent_id TEXT,
  name TEXT,
  new_parent_id TEXT,
  new_name TEXT,
  base_etag TEXT,
  payload TEXT,
  state TEXT NOT NULL CHECK (state IN ('pending', 'uploading', 'done', 'failed')),
  session_url TEXT,
  session_expires_ms INTEGER,
  confirmed_offset INTEGER NOT NULL DEFAULT 0,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
);
CREATE INDEX journal_state ON journal (state, seq);
CREATE INDEX journal_item ON journal (item_id, seq);
CREATE INDEX journal_parent ON journal (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX journal_new_parent ON journal (new_parent_id) WHERE new_parent_id IS NOT NULL;

CREATE TABLE conflicts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  item_id TEXT NOT NULL,
  path TEXT NOT NULL,
  reason TEXT NOT NULL CHECK (reason IN ('both-modified', 'remote-deleted', 'name-clash')),
  local_copy_name TEXT,
  remote_etag TEXT,
  detected_ms INTEGER NOT NULL,
  resolved INTEGER NOT NULL DEFAULT 0 CHECK (resolved IN (0, 1)),
  resolved_ms INTEGER
);
CREATE INDEX conflicts_item ON conflicts (item_id);
CREATE INDEX conflicts_unresolved ON conflicts (detected_ms) WHERE resolved = 0;
`;

// The key (items.id) of an item never changes: items the server told us about are keyed by the
// server's id, items made here by a local id (local-id.ts); remote_id is the server's id, filled
// in once when the server first knows a local item. See docs/architecture.md.
const SCHEMA_V2 = `
ALTER TABLE items ADD COLUMN remote_id TEXT;
UPDATE items SET remote_id = id WHERE id NOT LIKE 'local:%';
CREATE UNIQUE INDEX items_remote_id ON items (remote_id) WHERE remote_id IS NOT NULL;
-- Bumped by every local change of the bytes; an upload commits as clean only if it is unchanged.
ALTER TABLE content ADD COLUMN local_version INTEGER NOT NULL DEFAULT 0;
-- Hashes of versions this engine sent, so a restart never mistakes our own upload for a conflict.
CREATE TABLE sent_versions (
  item_id TEXT NOT NULL REFERENCES items(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  quickxor_hash TEXT NOT NULL,
  seq INTEGER NOT NULL,
  PRIMARY KEY (item_id, quickxor_hash)
) WITHOUT ROWID;
`;

// Shared folders (a `remote` item is a shortcut to a folder of another drive): the items below one
// live in that drive, so every request for them must name it (graph/drive-router.ts). drive_id is
// null for the signed-in user's own drive. Each shared folder has its own delta on its own drive.
const SCHEMA_V3 = `
ALTER TABLE items ADD COLUMN drive_id TEXT;
CREATE INDEX items_shortcuts ON items (id) WHERE kind = 'remote';
CREATE TABLE shared_folders (
  item_id TEXT PRIMARY KEY REFERENCES items(id) ON UPDATE CASCADE ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
  drive_id TEXT NOT NULL,
  remote_item_id TEXT NOT NULL,
  access TEXT CHECK (access IN ('read', 'write')),
  access_checked_ms INTEGER,
  delta_link TEXT,
  last_error TEXT,
  synced_ms INTEGER
) WITHOUT ROWID;
`;

/** The schema history, oldest first. */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'items, drive state, content state, upload journal, conflicts',
    up: (db) => db.exec(SCHEMA_V1),
  },
  {
    version: 2,
    description: 'one key per item: the server id is a column filled in once; local change counter; versions we uploaded',
    up: (db) => db.exec(SCHEMA_V2),
  },
  {
    version: 3,
    description: 'shared folders: the drive of each item, and each shared folder\'s own delta and access',
    up: (db) => db.exec(SCHEMA_V3),
  },
];

export function latestSchemaVersion(migrations: readonly Migration[] = MIGRATIONS): number {
  return migrations.length === 0 ? 0 : migrations[migrations.length - 1]!.version;
}

export function readSchemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/**
 * Brings the database up to the last migration, one transaction per step, so a crash leaves it
 * at some whole version. A database from a newer version is refused, not downgraded.
 * Returns the version found before migrating.
 */
export function migrate(db: Database.Database, migrations: readonly Migration[] = MIGRATIONS): number {
  migrations.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new StoreError(
        'BAD_MIGRATIONS',
        `migration #${index} has version ${migration.version}; versions must run 1, 2, 3 … without gaps`,
      );
    }
  });
  const found = readSchemaVersion(db);
  const latest = latestSchemaVersion(migrations);
  if (found > latest) {
    throw new StoreError(
      'SCHEMA_TOO_NEW',
      `the database ${db.name} has schema version ${found}, newer than this OneMount understands (${latest}); ` +
        'it was written by a newer OneMount. Upgrade OneMount, or remove the file to rebuild it from the server.',
    );
  }
  for (const migration of migrations.slice(found)) {
    db.transaction(() => {
      migration.up(db);
      db.pragma(`user_version = ${migration.version}`);
    })();
  }
  return found;
}
