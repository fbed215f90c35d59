/**
 * The conflicts list and the user's choice (docs/ui.md: Keep mine / Keep theirs / Keep both). A conflict
 * is one record, completed by whoever sees more of it (docs/architecture.md). Each choice ends in
 * the state it names, on the mount and (once syncing runs) on the server:
 *
 * - When the upload already kept both versions (the local one as `name (conflict … host).ext`, or
 *   renamed away from a name the server gave another item), the choice is an ordinary filesystem
 *   operation on the mount's own paths: mine renames the copy over the original, theirs deletes
 *   the copy, both leaves them.
 * - When the local edit is still waiting (paused, offline, not uploaded yet), EditChoices settles it
 *   directly: mine uploads over the server's version, theirs drops the edit, both splits it off.
 */
import { OneMountError } from '../base/errors.ts';
import type { Conflict as StoredConflict, Store } from '../store/index.ts';
import type { EditChoices } from '../vfs/edit-choices.ts';
import type { Vfs } from '../vfs/vfs.ts';
import { VfsError } from '../vfs/vfs-error.ts';
import type { Conflict as ConflictView, ConflictChoice } from '../../src-shared/ipc/desktop-calls.ts';

export class ConflictResolution {
  constructor(
    private readonly store: Store,
    private readonly vfs: Pick<Vfs, 'rename' | 'unlink' | 'resolve'>,
    private readonly edits: Pick<EditChoices, 'hasLocalEdit' | 'keepMine' | 'keepTheirs' | 'keepBoth'>,
  ) {}

  list(): ConflictView[] {
    return this.store.conflicts.list().map((c) => ({
      id: c.id,
      itemId: c.itemId,
      path: this.store.items.pathOf(c.itemId) ?? c.path,
      reason: c.reason,
      localCopyName: c.localCopyName,
      detectedAt: c.detectedMs,
    }));
  }

  /** Carries out the choice and marks the conflict resolved; returns what was done, in words. */
  async resolve(id: number, choice: ConflictChoice): Promise<string> {
    const conflict = this.store.conflicts.get(id);
    if (!conflict || conflict.resolved) throw new OneMountError('CONFLICT_NOT_FOUND', `no open conflict ${id}`);
    const message = await this.#carryOut(conflict, choice);
    this.store.conflicts.markResolved(id);
    return message;
  }

  async #carryOut(conflict: StoredConflict, choice: ConflictChoice): Promise<string> {
    const original = this.store.items.pathOf(conflict.itemId) ?? conflict.path;
    const copy = conflict.localCopyName ? `${parentOf(conflict.path)}/${conflict.localCopyName}`.replace(/^\/\//, '/') : undefined;
    if (copy && copy !== conflict.path && this.exists(copy)) {
      // The upload kept both already: the copy holds my version, the original path theirs.
      if (choice === 'keep-mine') {
        await this.vfs.rename(copy, conflict.path);
        return `Kept your version as ${conflict.path}`;
      }
      if (choice === 'keep-theirs') {
        await this.vfs.unlink(copy);
        return `Kept the other version of ${conflict.path}; yours (${conflict.localCopyName}) was deleted`;
      }
      return `Kept both: ${conflict.path} and ${conflict.localCopyName}`;
    }
    if (this.store.items.get(conflict.itemId) && this.edits.hasLocalEdit(conflict.itemId)) {
      // The local edit has not met the server yet: settle it here.
      if (choice === 'keep-mine') {
        await this.edits.keepMine(conflict.itemId);
        return `Kept your version of ${original}; it replaces the other one when it uploads`;
      }
      if (choice === 'keep-theirs') {
        await this.edits.keepTheirs(conflict.itemId);
        return `Kept the other version of ${original}; your changes were discarded`;
      }
      const name = await this.edits.keepBoth(conflict.itemId);
      return `Kept both: ${original} (the other version) and ${name} (yours)`;
    }
    if (conflict.reason === 'remote-deleted') {
      // My edit was uploaded again after the server deleted the file: theirs is "deleted".
      if (choice === 'keep-theirs' && this.exists(original)) {
        await this.vfs.unlink(original);
        return `Deleted ${original}, as it was deleted elsewhere`;
      }
      return `Kept your version of ${original}`;
    }
    return `Nothing left to choose for ${original}: it changed since`;
  }

  private exists(p: string): boolean {
    try {
      this.vfs.resolve(p);
      return true;
    } catch (e) {
      if (e instanceof VfsError && e.errno === 'ENOENT') return false;
      throw e;
    }
  }
}

function parentOf(path: string): string {
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? '' : path.slice(0, cut);
}
