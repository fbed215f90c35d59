import Database from 'better-sqlite3';
import { readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { latestSchemaVersion } from './migrations.ts';
import { openStore, PAGE_CACHE_KIB } from './open-store.ts';
import { StoreError } from './store-error.ts';
import { file, folder, makeTempDir, recordingLogger, ROOT, type TempDir } from './testing/temp-store.ts';

let dir: TempDir;
let dbPath: string;
const NOW = Date.UTC(2026, 10, 27, 10, 20, 30, 456);
const STAMP = '2026-11-27T10-20-30-456Z';
beforeEach(() => {
  dir = makeTempDir();
  dbPath = join(dir.path, 'drive.sqlite');
});
afterEach(() => dir.remove());

/** A real database with enough rows to span many pages, closed cleanly. */
function writeRealDatabase(): void {
  const { store } = openStore({ path: dbPath, logger: recordingLogger() });
  store.items.upsertMany([ROOT, folder('D', 'ROOT', 'd')]);
  store.items.upsertMany(Array.from({ length: 5_000 }, (_, i) => file(`F${i}`, 'D', `file number ${i} with a long name.txt`)));
  store.close();
}

describe('openStore', () => {
  it('creates a database readable by its owner only, in WAL mode with the asked-for settings', () => {
    const { store, rebuiltFrom } = openStore({ path: dbPath, logger: recordingLogger(), busyTimeoutMs: 1234 });
    expect(rebuiltFrom).toBeUndefined();
    store.items.upsert(ROOT);
    expect(statSync(dbPath).mode & 0o777).toBe(0o600);
    store.close();
    const db = new Database(dbPath);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
  });

  it('applies synchronous, foreign keys, busy timeout, the checkpoint threshold and the page cache on its connection', () => {
    const normal = openStore({ path: dbPath, logger: recordingLogger() }).store;
    expect(normal.connectionSettings()).toEqual({
      journalMode: 'wal',
      synchronous: 'NORMAL',
      foreignKeys: true,
      busyTimeoutMs: 5_000,
      walAutocheckpoint: 10_000,
      pageCacheKib: PAGE_CACHE_KIB,
      schemaVersion: latestSchemaVersion(),
    });
    expect(() => normal.content.addRange('nope', 0, 1, 1)).toThrow(/FOREIGN KEY/);
    normal.close();
    const full = openStore({ path: dbPath, logger: recordingLogger(), synchronous: 'FULL', busyTimeoutMs: 250 }).store;
    expect(full.connectionSettings()).toMatchObject({ synchronous: 'FULL', busyTimeoutMs: 250 });
    full.close();
  });

  it('keeps data across close and reopen', () => {
    writeRealDatabase();
    const { store, rebuiltFrom } = openStore({ path: dbPath, logger: recordingLogger(), synchronous: 'FULL' });
    expect(rebuiltFrom).toBeUndefined();
    expect(store.items.count()).toBe(5_002);
    store.close();
  });

  it('moves a file that is not a database aside, with its -wal and -shm, and starts fresh', () => {
    writeFileSync(dbPath, 'this is not a database, just some text that happens to be here '.repeat(100));
    writeFileSync(`${dbPath}-wal`, 'wal garbage');
    writeFileSync(`${dbPath}-shm`, 'shm garbage');
    writeFileSync(join(dir.path, 'unrelated.txt'), 'keep me');
    const logger = recordingLogger();

    const { store, rebuiltFrom } = openStore({ path: dbPath, logger, now: () => NOW });

    expect(rebuiltFrom).toBe(`${dbPath}.corrupt-${STAMP}`);
    expect(readFileSync(rebuiltFrom!, 'utf8')).toMatch(/^this is not a database/);
    expect(readFileSync(`${rebuiltFrom!}-wal`, 'utf8')).toBe('wal garbage');
    expect(readFileSync(`${rebuiltFrom!}-shm`, 'utf8')).toBe('shm garbage');
    expect(readFileSync(`${dbPath}.corrupt-${STAMP}-wal`, 'utf8')).toBe('wal garbage');
    expect(readFileSync(join(dir.path, 'unrelated.txt'), 'utf8')).toBe('keep me');
    const error = logger.lines.find((line) => line.level === 'error');
    expect(error?.message).toMatch(/corrupt; it was moved aside/);
    expect(error?.fields).toMatchObject({ path: dbPath, movedTo: rebuiltFrom });
    expect(store.items.count()).toBe(0);
    store.items.upsert(ROOT);
    store.close();
    expect(readdirSync(dir.path).sort()).toEqual(
      ['drive.sqlite', `drive.sqlite.corrupt-${STAMP}`, `drive.sqlite.corrupt-${STAMP}-shm`, `drive.sqlite.corrupt-${STAMP}-wal`, 'unrelated.txt'].sort(),
    );
  });

  it('moves a truncated real database aside and starts fresh', () => {
    writeRealDatabase();
    const size = statSync(dbPath).size;
    expect(size).toBeGreaterThan(64 * 1024);
    truncateSync(dbPath, Math.floor(size / 2));

    const { store, rebuiltFrom } = openStore({ path: dbPath, logger: recordingLogger(), now: () => NOW });
    expect(rebuiltFrom).toBe(`${dbPath}.corrupt-${STAMP}`);
    expect(statSync(rebuiltFrom!).size).toBe(Math.floor(size / 2));
    expect(store.items.count()).toBe(0);
    store.close();
  });

  it('keeps the -wal of a damaged database (its newest commits) when moving it aside', () => {
    writeRealDatabase();
    // Commit more rows and snapshot the files while the connection is open, as a killed engine leaves them.
    const live = new Database(dbPath);
    live.prepare('INSERT INTO drive_state (key, value) VALUES (?, ?)').run('deltaLink', '"https://x/delta?token=1"');
    const snapshot = join(dir.path, 'snapshot');
    for (const suffix of ['', '-wal']) writeFileSync(snapshot + suffix, readFileSync(dbPath + suffix));
    live.close();
    const walBytes = readFileSync(`${snapshot}-wal`);
    expect(walBytes.length).toBeGreaterThan(0);
    const damaged = readFileSync(snapshot);
    writeFileSync(dbPath, damaged.subarray(0, Math.floor(damaged.length / 2)));
    writeFileSync(`${dbPath}-wal`, walBytes);

    const { store, rebuiltFrom } = openStore({ path: dbPath, logger: recordingLogger(), now: () => NOW });
    store.close();
    expect(rebuiltFrom).toBe(`${dbPath}.corrupt-${STAMP}`);
    expect(readFileSync(`${rebuiltFrom!}-wal`).equals(walBytes)).toBe(true);
  });

  it('does not overwrite an earlier moved-aside file with the same timestamp', () => {
    writeFileSync(dbPath, 'garbage one'.repeat(200));
    openStore({ path: dbPath, logger: recordingLogger(), now: () => NOW }).store.close();
    writeFileSync(dbPath, 'garbage two'.repeat(200));
    const second = openStore({ path: dbPath, logger: recordingLogger(), now: () => NOW });
    second.store.close();
    expect(second.rebuiltFrom).toBe(`${dbPath}.corrupt-${STAMP}-2`);
    expect(readFileSync(`${dbPath}.corrupt-${STAMP}`, 'utf8')).toMatch(/^garbage one/);
  });

  it('reports a missing directory as an open failure, not corruption', () => {
    const missing = join(dir.path, 'no', 'such', 'dir', 'drive.sqlite');
    let code = '';
    try {
      openStore({ path: missing, logger: recordingLogger() });
    } catch (error) {
      code = error instanceof StoreError ? error.code : 'other';
    }
    expect(code).toBe('OPEN_FAILED');
    expect(readdirSync(dir.path)).toEqual([]);
  });
});
