import type Database from 'better-sqlite3';
import { StoreError } from './store-error.ts';
import type { DriveStateKey, DriveStateValues } from './types.ts';

/** Small per-drive facts: the delta link, the drive's identity, the quota snapshot. */
export class DriveStateRepository {
  readonly #get: Database.Statement<[string], string>;
  readonly #set: Database.Statement<[string, string]>;
  readonly #delete: Database.Statement<[string]>;

  constructor(db: Database.Database) {
    this.#get = db.prepare<[string], string>('SELECT value FROM drive_state WHERE key = ?').pluck();
    this.#set = db.prepare(
      'INSERT INTO drive_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    );
    this.#delete = db.prepare('DELETE FROM drive_state WHERE key = ?');
  }

  get<K extends DriveStateKey>(key: K): DriveStateValues[K] | undefined {
    const text = this.#get.get(key);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as DriveStateValues[K];
    } catch (error) {
      throw new StoreError('CORRUPT', `drive state "${key}" is not valid JSON`, { cause: error });
    }
  }

  set<K extends DriveStateKey>(key: K, value: DriveStateValues[K]): void {
    this.#set.run(key, JSON.stringify(value));
  }

  delete(key: DriveStateKey): void {
    this.#delete.run(key);
  }
}
