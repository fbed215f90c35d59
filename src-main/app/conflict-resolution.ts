/**
 * The conflicts list and the user's choice (ui.md: Keep mine / Keep theirs / Keep both). Conflicts
 * are resolved by keeping both versions already — the local edit sits next to the other device's
 * as `name (conflict … host).ext` — so every choice is an ordinary filesystem operation on the
 * mount's own paths, going through the vfs like any program's would.
 */
import { OneMountError } from '../base/errors.ts';
import type { Store } from '../store/index.ts';
import type { Vfs } from '../vfs/vfs.ts';
import { VfsError } from '../vfs/vfs-error.ts';
import type { Conflict as ConflictView, ConflictChoice } from '../../src-shared/ipc/desktop-calls.ts';

export class ConflictResolution {
  constructor(
    private readonly store: Store,
    private readonly vfs: Pick<Vfs, 'rename' | 'unlink' | 'resolve'>,
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

  async resolve(id: number, choice: ConflictChoice): Promise<void> {
    const conflict = this.store.conflicts.get(id);
    if (!conflict || conflict.resolved) throw new OneMountError('CONFLICT_NOT_FOUND', `no open conflict ${id}`);
    const original = this.store.items.pathOf(conflict.itemId) ?? conflict.path;
    const copy = conflict.localCopyName ? `${parentOf(original)}/${conflict.localCopyName}`.replace(/^\/\//, '/') : undefined;
    const exists = (p: string) => {
      try {
        this.vfs.resolve(p);
        return true;
      } catch (e) {
        if (e instanceof VfsError && e.errno === 'ENOENT') return false;
        throw e;
      }
    };
    if (choice === 'keep-mine' && copy && exists(copy)) {
      // My version takes the original's name (and replaces theirs).
      await this.vfs.rename(copy, original);
    } else if (choice === 'keep-theirs') {
      if (copy && exists(copy)) await this.vfs.unlink(copy);
      // A local edit re-uploaded after a remote delete: theirs was "deleted".
      else if (conflict.reason === 'remote-deleted' && exists(original)) await this.vfs.unlink(original);
    }
    this.store.conflicts.markResolved(id);
  }
}

function parentOf(path: string): string {
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? '' : path.slice(0, cut);
}
