/**
 * Reads what is still readable of a database that was moved aside as corrupt: the local edits that
 * had not reached the server (journal entries, dirty content) and, for each, where it was (its
 * item row and the names of its folders). Every query is tried on its own and row by row where a
 * table is damaged, so one broken page loses as little as possible. Read-only: the file is
 * evidence and stays as it is.
 */
import Database from 'better-sqlite3';
import { KEY_LOG_SUFFIX, readKeyLog } from './key-log.ts';

/** One local edit found in the old database. */
export interface SalvagedEdit {
  /** The item's key in the old database (its cache file is named after it). */
  key: string;
  /** The server's id of the item, when the server knew it. */
  remoteId: string | null;
  /** Its path in the drive (`/Documents/a.txt`), when every folder up to the root was readable. */
  path: string | null;
  name: string | null;
  size: number | null;
  mtimeMs: number | null;
  /** The server version the edit started from, when known (uploads are conditional on it). */
  baseEtag: string | null;
  /** Where the journal says a new file was created (its folder's key in the old database) and under which name. */
  createdIn: { parentKey: string; name: string } | null;
}

export interface SalvageReport {
  edits: SalvagedEdit[];
  /** True when the journal and the content table were read whole: no other edit can exist. */
  complete: boolean;
  /** What could not be read, for the log. */
  problems: string[];
  /**
   * The server ids of files made here, by their keys in the old database (from the key log kept
   * beside it, and its items table where readable): their cache files are those of server items.
   */
  serverIds: Map<string, string>;
}

interface OldItem {
  id: string;
  remote_id?: string | null;
  parent_id: string | null;
  name: string;
  size: number;
  mtime_ms: number;
  etag: string | null;
}

/** How far up a folder chain may go (deeper than any OneDrive path). */
const MAX_DEPTH = 1000;

export function readSalvage(path: string): SalvageReport {
  const problems: string[] = [];
  let serverIds = new Map<string, string>();
  try {
    serverIds = readKeyLog(path + KEY_LOG_SUFFIX);
  } catch (error) {
    problems.push(`key log: ${String(error)}`);
  }
  let db: Database.Database;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
  } catch (error) {
    return { edits: [], complete: false, problems: [...problems, `cannot open ${path}: ${String(error)}`], serverIds };
  }
  try {
    const attempt = <T>(what: string, work: () => T, fallback: T): T => {
      try {
        return work();
      } catch (error) {
        problems.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
        return fallback;
      }
    };
    const keys = new Map<string, string | null>();
    const created = new Map<string, { parentKey: string; name: string }>();
    let complete = true;
    const journal = attempt(
      'journal',
      () =>
        db.prepare(`SELECT item_id, kind, parent_id, name, base_etag FROM journal WHERE state != 'done' AND kind IN ('create', 'write')`).all() as Array<{
          item_id: string;
          kind: string;
          parent_id: string | null;
          name: string | null;
          base_etag: string | null;
        }>,
      undefined,
    );
    if (journal) {
      for (const row of journal) {
        keys.set(row.item_id, keys.get(row.item_id) ?? row.base_etag);
        if (row.kind === 'create' && row.parent_id && row.name) created.set(row.item_id, { parentKey: row.parent_id, name: row.name });
      }
    } else {
      complete = false;
    }
    const dirty = attempt(
      'content',
      () => db.prepare(`SELECT item_id, etag FROM content WHERE status = 'dirty'`).all() as Array<{ item_id: string; etag: string | null }>,
      undefined,
    );
    if (dirty) for (const row of dirty) keys.set(row.item_id, row.etag ?? keys.get(row.item_id) ?? null);
    else complete = false;

    const hasRemoteId = attempt('schema', () => (db.prepare(`SELECT count(*) AS n FROM pragma_table_info('items') WHERE name = 'remote_id'`).get() as { n: number }).n > 0, false);
    const columns = `id, ${hasRemoteId ? 'remote_id, ' : ''}parent_id, name, size, mtime_ms, etag`;
    const byId = attempt('items', () => db.prepare(`SELECT ${columns} FROM items WHERE id = ?`), undefined);
    const item = (id: string): OldItem | undefined => (byId ? attempt(`item ${id}`, () => byId.get(id) as OldItem | undefined, undefined) : undefined);

    const edits: SalvagedEdit[] = [];
    for (const [key, baseEtag] of keys) {
      const row = item(key);
      const remoteId = row ? (hasRemoteId ? (row.remote_id ?? null) : key.startsWith('local:') ? null : key) : key.startsWith('local:') ? null : key;
      edits.push({
        key,
        remoteId,
        path: row ? pathOf(row, item) : null,
        name: row?.name ?? null,
        size: row?.size ?? null,
        mtimeMs: row?.mtime_ms ?? null,
        baseEtag: baseEtag ?? row?.etag ?? null,
        createdIn: created.get(key) ?? null,
      });
    }
    if (hasRemoteId) {
      const rows = attempt(
        'server ids',
        () => db.prepare(`SELECT id, remote_id FROM items WHERE kind = 'file' AND remote_id IS NOT NULL AND id LIKE 'local:%'`).raw().all() as Array<[string, string]>,
        [],
      );
      for (const [key, remoteId] of rows) serverIds.set(key, remoteId);
    }
    return { edits, complete, problems, serverIds };
  } finally {
    db.close();
  }
}

/** The item's path from the root, or null when a folder on the way is unreadable. */
function pathOf(row: OldItem, item: (id: string) => OldItem | undefined): string | null {
  const names: string[] = [];
  let current: OldItem | undefined = row;
  for (let depth = 0; current && depth < MAX_DEPTH; depth++) {
    if (current.parent_id === null) return `/${names.reverse().join('/')}`;
    names.push(current.name);
    current = item(current.parent_id);
  }
  return null;
}
