import type Database from 'better-sqlite3';

/** Versions kept per item: enough for the answers an abort or a kill can lose in a row. */
const KEPT_PER_ITEM = 4;

/**
 * The quickXorHash of every version this engine sent of an item (the last few). When the server
 * holds a version whose answer never reached us (an abort, a kill, a restart), its hash says it is
 * our own upload and not someone else's change. Rows go away with their item.
 */
export class SentVersionsRepository {
  readonly #insert: Database.Statement<[string, string, string]>;
  readonly #has: Database.Statement<[string, string], number>;
  readonly #trim: Database.Statement<[string, string, number]>;
  readonly #any: Database.Statement<[string], number>;
  readonly #list: Database.Statement<[string], string>;

  constructor(db: Database.Database) {
    this.#insert = db.prepare(
      `INSERT INTO sent_versions (item_id, quickxor_hash, seq)
       VALUES (?, ?, (SELECT coalesce(max(seq), 0) + 1 FROM sent_versions WHERE item_id = ?))
       ON CONFLICT (item_id, quickxor_hash) DO UPDATE SET seq = excluded.seq`,
    );
    this.#any = db.prepare<[string], number>('SELECT 1 FROM sent_versions WHERE item_id = ? LIMIT 1').pluck();
    this.#list = db.prepare<[string], string>('SELECT quickxor_hash FROM sent_versions WHERE item_id = ? ORDER BY seq').pluck();
    this.#has = db.prepare<[string, string], number>('SELECT 1 FROM sent_versions WHERE item_id = ? AND quickxor_hash = ?').pluck();
    this.#trim = db.prepare(
      `DELETE FROM sent_versions WHERE item_id = ? AND quickxor_hash NOT IN
         (SELECT quickxor_hash FROM sent_versions WHERE item_id = ? ORDER BY seq DESC LIMIT ?)`,
    );
  }

  remember(itemId: string, quickXorHash: string): void {
    this.#insert.run(itemId, canonical(quickXorHash), itemId);
    this.#trim.run(itemId, itemId, KEPT_PER_ITEM);
  }

  /** True when some version of the item was sent (the server may hold it though no answer said so). */
  any(itemId: string): boolean {
    return this.#any.get(itemId) === 1;
  }

  list(itemId: string): string[] {
    return this.#list.all(itemId);
  }

  has(itemId: string, quickXorHash: string): boolean {
    return this.#has.get(itemId, canonical(quickXorHash)) === 1;
  }
}

/** Hashes are base64 of raw bytes; one spelling for all of them (padding, line breaks). */
function canonical(quickXorHash: string): string {
  return Buffer.from(quickXorHash, 'base64').toString('base64');
}
