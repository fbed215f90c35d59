import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { latestSchemaVersion, migrate, MIGRATIONS, readSchemaVersion, type Migration } from './migrations.ts';
import { openStore } from './open-store.ts';
import { StoreError } from './store-error.ts';
import { makeTempDir, recordingLogger, type TempDir } from './testing/temp-store.ts';

let dir: TempDir;
beforeEach(() => {
  dir = makeTempDir();
});
afterEach(() => dir.remove());

function schemaOf(db: Database.Database): Array<{ type: string; name: string; sql: string | null }> {
  return db
    .prepare<[], { type: string; name: string; sql: string | null }>(
      `SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_autoindex%' ORDER BY type, name`,
    )
    .all();
}

function codeOf(work: () => unknown): string {
  try {
    work();
  } catch (error) {
    if (error instanceof StoreError) return error.code;
    throw error;
  }
  return 'no error';
}

describe('migrations', () => {
  it('numbers the real migrations 1, 2, 3 …', () => {
    MIGRATIONS.forEach((migration, index) => expect(migration.version).toBe(index + 1));
  });

  it.each(Array.from({ length: MIGRATIONS.length }, (_, version) => version))(
    'brings a database at version %i to the latest schema',
    (version) => {
      const fresh = new Database(':memory:');
      migrate(fresh);
      const old = new Database(join(dir.path, `v${version}.sqlite`));
      migrate(old, MIGRATIONS.slice(0, version));
      expect(readSchemaVersion(old)).toBe(version);
      expect(migrate(old)).toBe(version);
      expect(readSchemaVersion(old)).toBe(latestSchemaVersion());
      expect(schemaOf(old)).toEqual(schemaOf(fresh));
      old.close();
      fresh.close();
    },
  );

  it('applies only the missing steps, each in its own transaction', () => {
    const applied: number[] = [];
    const step = (version: number, fail = false): Migration => ({
      version,
      description: `step ${version}`,
      up: (db) => {
        db.exec(`CREATE TABLE t${version} (x)`);
        if (fail) throw new Error(`step ${version} broke`);
        applied.push(version);
      },
    });
    const db = new Database(':memory:');
    migrate(db, [step(1)]);
    expect(() => migrate(db, [step(1), step(2), step(3, true)])).toThrow('step 3 broke');
    expect(applied).toEqual([1, 2]);
    expect(readSchemaVersion(db)).toBe(2);
    expect(schemaOf(db).map((o) => o.name)).toEqual(['t1', 't2']);
    db.close();
  });

  it('rejects a migration list with gaps', () => {
    const db = new Database(':memory:');
    const noop = (version: number): Migration => ({ version, description: '', up: () => undefined });
    expect(codeOf(() => migrate(db, [noop(1), noop(3)]))).toBe('BAD_MIGRATIONS');
    db.close();
  });

  it('refuses a database from a newer version and leaves the file where it is', () => {
    const path = join(dir.path, 'future.sqlite');
    const future = new Database(path);
    future.pragma(`user_version = ${latestSchemaVersion() + 1}`);
    future.exec('CREATE TABLE from_the_future (x)');
    future.close();
    const logger = recordingLogger();
    let message = '';
    try {
      openStore({ path, logger });
    } catch (error) {
      expect(error).toBeInstanceOf(StoreError);
      expect((error as StoreError).code).toBe('SCHEMA_TOO_NEW');
      message = (error as StoreError).message;
    }
    expect(message).toMatch(/newer than this OneMount understands/);
    const again = new Database(path, { readonly: true });
    expect(readSchemaVersion(again)).toBe(latestSchemaVersion() + 1);
    again.close();
  });
});
