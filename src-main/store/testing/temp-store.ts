import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore, type OpenStoreOptions } from '../open-store.ts';
import type { Store } from '../store.ts';
import type { StoreLogger } from '../store-logger.ts';
import type { ItemRecord } from '../types.ts';

/** A temporary directory for one test; remove() deletes it and everything in it. */
export interface TempDir {
  path: string;
  remove(): void;
}

export function makeTempDir(): TempDir {
  const path = mkdtempSync(join(tmpdir(), 'onemount-store-'));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export interface RecordingLogger extends StoreLogger {
  lines: Array<{ level: string; fields: object; message: string }>;
}

export function recordingLogger(): RecordingLogger {
  const lines: RecordingLogger['lines'] = [];
  return {
    lines,
    info: (fields, message) => lines.push({ level: 'info', fields, message }),
    warn: (fields, message) => lines.push({ level: 'warn', fields, message }),
    error: (fields, message) => lines.push({ level: 'error', fields, message }),
  };
}

export interface TempStore {
  store: Store;
  dir: TempDir;
  dbPath: string;
  logger: RecordingLogger;
  /** Closes the store (if still open) and removes the directory. */
  dispose(): void;
}

export function openTempStore(options: Partial<OpenStoreOptions> = {}): TempStore {
  const dir = makeTempDir();
  const dbPath = join(dir.path, 'drive.sqlite');
  const logger = recordingLogger();
  const { store } = openStore({ path: dbPath, logger, ...options });
  return {
    store,
    dir,
    dbPath,
    logger,
    dispose: () => {
      store.close();
      dir.remove();
    },
  };
}

/** Opens an existing database file again, as the engine's next start would. */
export function reopenStore(dbPath: string): Store {
  const opened = openStore({ path: dbPath, logger: recordingLogger() });
  if (opened.rebuiltFrom !== undefined) throw new Error(`reopening ${dbPath} rebuilt it`);
  return opened.store;
}

export const ROOT: ItemRecord = { id: 'ROOT', parentId: null, name: 'root', kind: 'folder', size: 0, ctimeMs: 1, mtimeMs: 1 };

export function file(id: string, parentId: string, name: string, extra: Partial<ItemRecord> = {}): ItemRecord {
  return { id, parentId, name, kind: 'file', size: 10, ctimeMs: 1_000, mtimeMs: 2_000, etag: `e-${id}`, ctag: `c-${id}`, ...extra };
}

export function folder(id: string, parentId: string, name: string, extra: Partial<ItemRecord> = {}): ItemRecord {
  return { id, parentId, name, kind: 'folder', size: 0, ctimeMs: 1_000, mtimeMs: 2_000, etag: `e-${id}`, ...extra };
}
