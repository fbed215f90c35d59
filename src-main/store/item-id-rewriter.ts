import type Database from 'better-sqlite3';
import { StoreError } from './store-error.ts';

export interface ItemIdReplacement {
  /** The inode the item keeps (the one the kernel already knows), if the item exists. */
  inode: number | undefined;
  /**
   * When a row with the new id already existed (delta saw the server item before the upload
   * answer came back), that row was merged into the local one and its inode is gone.
   */
  droppedInode: number | undefined;
}

/**
 * Swaps an item's id everywhere it is referenced, in one transaction: the item itself, its
 * children's parent links and its content state (both by ON UPDATE CASCADE), the upload journal
 * and the conflicts list.
 */
export class ItemIdRewriter {
  readonly #inodeOf: Database.Statement<[string], number>;
  readonly #childKeyClash: Database.Statement<[string, string], string>;
  readonly #moveChildren: Database.Statement<[string, string]>;
  readonly #deleteItem: Database.Statement<[string]>;
  readonly #renameItem: Database.Statement<[string, string]>;
  readonly #journalItem: Database.Statement<[string, string]>;
  readonly #journalParent: Database.Statement<[string, string]>;
  readonly #journalNewParent: Database.Statement<[string, string]>;
  readonly #conflictItem: Database.Statement<[string, string]>;
  readonly #replace: (from: string, to: string) => ItemIdReplacement;

  constructor(db: Database.Database) {
    this.#inodeOf = db.prepare<[string], number>('SELECT inode FROM items WHERE id = ?').pluck();
    this.#childKeyClash = db
      .prepare<[string, string], string>(
        `SELECT theirs.name FROM items AS theirs JOIN items AS ours
           ON ours.parent_id = ? AND theirs.parent_id = ? AND ours.name_key = theirs.name_key LIMIT 1`,
      )
      .pluck();
    this.#moveChildren = db.prepare('UPDATE items SET parent_id = ? WHERE parent_id = ?');
    this.#deleteItem = db.prepare('DELETE FROM items WHERE id = ?');
    this.#renameItem = db.prepare('UPDATE items SET id = ? WHERE id = ?');
    this.#journalItem = db.prepare('UPDATE journal SET item_id = ? WHERE item_id = ?');
    this.#journalParent = db.prepare('UPDATE journal SET parent_id = ? WHERE parent_id = ?');
    this.#journalNewParent = db.prepare('UPDATE journal SET new_parent_id = ? WHERE new_parent_id = ?');
    this.#conflictItem = db.prepare('UPDATE conflicts SET item_id = ? WHERE item_id = ?');
    this.#replace = db.transaction((from: string, to: string) => this.#replaceInTransaction(from, to));
  }

  replace(from: string, to: string): ItemIdReplacement {
    if (from === '' || to === '') throw new StoreError('INVALID_ARGUMENT', 'item ids must not be empty');
    if (from === to) return { inode: this.#inodeOf.get(from), droppedInode: undefined };
    return this.#replace(from, to);
  }

  #replaceInTransaction(from: string, to: string): ItemIdReplacement {
    const inode = this.#inodeOf.get(from);
    const existing = this.#inodeOf.get(to);
    let droppedInode: number | undefined;
    if (existing !== undefined && inode !== undefined) {
      const clash = this.#childKeyClash.get(from, to);
      if (clash !== undefined) {
        throw new StoreError(
          'NAME_TAKEN',
          `cannot merge item ${to} into ${from}: both have a child named "${clash}"`,
        );
      }
      this.#moveChildren.run(from, to);
      this.#deleteItem.run(to);
      droppedInode = existing;
    }
    // Without a local row (deleted locally meanwhile) only the references move.
    if (inode !== undefined) this.#renameItem.run(to, from);
    this.#journalItem.run(to, from);
    this.#journalParent.run(to, from);
    this.#journalNewParent.run(to, from);
    this.#conflictItem.run(to, from);
    return { inode: inode ?? existing, droppedInode };
  }
}
