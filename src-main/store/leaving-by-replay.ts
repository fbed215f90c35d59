/**
 * Offline changes not replayed yet that free a name on the server (docs/concurrency.md §2): until
 * they are, the server still holds the name, and whatever wants it (a new file's first upload, an
 * online mkdir) waits behind them instead of taking a conflict name or failing with EEXIST.
 */
import { isLocalId } from './local-id.ts';
import type { Store } from './store.ts';

type Journaled = Pick<Store, 'journal' | 'items'>;

/**
 * An offline delete, or rename away, of what held `name` in `parentId` (other than `exceptItemId`'s
 * own; with `afterSeq`, only a pending one journaled after that entry: the replayer asks whether
 * a later entry of its pass frees the name).
 */
export function nameLeavingByReplay(store: Journaled, parentId: string, name: string, options: { exceptItemId?: string; afterSeq?: number } = {}): boolean {
  const key = name.toLowerCase();
  const { exceptItemId, afterSeq } = options;
  return store.journal
    .list({ states: afterSeq === undefined ? ['pending', 'uploading'] : ['pending'] })
    .some((e) => (afterSeq === undefined || e.seq > afterSeq) && (e.kind === 'unlink' || e.kind === 'rmdir' || e.kind === 'rename') && e.itemId !== exceptItemId && e.parentId === parentId && e.name?.toLowerCase() === key);
}

/**
 * The server item `remoteId` is one an offline delete, or rename away, removes from where it is,
 * though the journal may no longer name that place (moved elsewhere here before it was deleted:
 * the delete's entry carries the later place; fuzz 12000/63, 35000/50).
 */
export function serverItemLeavingByReplay(store: Journaled, remoteId: string, exceptItemId?: string): boolean {
  return store.journal
    .list({ states: ['pending', 'uploading'] })
    .some(
      (e) =>
        e.itemId !== exceptItemId &&
        // A delete's entry carries the server id the item had (older entries: the key was it).
        (e.kind === 'unlink' || e.kind === 'rmdir'
          ? (e.payload?.remoteId ?? (isLocalId(e.itemId) ? undefined : e.itemId)) === remoteId
          : e.kind === 'rename' && store.items.get(e.itemId)?.remoteId === remoteId),
    );
}
