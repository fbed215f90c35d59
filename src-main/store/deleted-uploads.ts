import type { DriveStateRepository } from './drive-state-repository.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';
import type { DeletedUpload } from './types.ts';

/** How long a deleted new file's sent versions are watched for in delta. */
const WATCH_MS = DEFAULT_TIMEOUTS.deletedUploadWatchMs;
/** Versions watched per place: the last few sent (as sent_versions keeps). */
const HASHES_PER_PLACE = 4;

/**
 * Places where a first upload of a new file may still land on the server though the file is no
 * longer there: it was deleted here while the request was on its way (the server can commit it
 * after every look-up of ours), or moved after an attempt that a write stopped once its bytes had
 * left. Delta that brings such a file — same folder, same name, a version we sent — brings a copy
 * to delete, not a file to show (unless the file is still there: its own upload landing). The
 * upload watches the place of a new file's attempt from before its bytes leave until the server's
 * answer holds that place, and each place it moves the landed copy to, following the file, before
 * its commit. Kept in the drive state (a handful at most), each for a day.
 */
export class DeletedUploads {
  readonly #state: DriveStateRepository;
  readonly #now: () => number;
  /** The place each file's upload attempt running now sends it to (this process only). */
  readonly #sending = new Map<string, { parentId: string; name: string }>();
  /** Who waits for no attempt to send to a place any more (sendingEnded). */
  readonly #waiters = new Set<{ parentId: string; name: string; resolve: () => void }>();

  constructor(state: DriveStateRepository, now: () => number) {
    this.#state = state;
    this.#now = now;
  }

  add(entry: Omit<DeletedUpload, 'deletedMs'>): void {
    const list = this.#live().filter((e) => !(e.itemId === entry.itemId && e.parentId === entry.parentId && e.name === entry.name));
    list.push({ ...entry, deletedMs: this.#now() });
    this.#state.set('deletedUploads', list);
  }

  /** Another version of the item was sent: every place it is watched at watches that one too. */
  sent(itemId: string, quickXorHash: string): void {
    const all = this.#live();
    if (!all.some((e) => e.itemId === itemId)) return;
    const hash = canonical(quickXorHash);
    const list = all.map((e) =>
      e.itemId === itemId ? { ...e, hashes: [...e.hashes.filter((h) => canonical(h) !== hash), hash].slice(-HASHES_PER_PLACE), deletedMs: this.#now() } : e,
    );
    this.#state.set('deletedUploads', list);
  }

  /** Stops watching a place of the item (its upload's answer holds it now). */
  remove(itemId: string, parentId: string, name: string): void {
    const all = this.#live();
    const list = all.filter((e) => !(e.itemId === itemId && e.parentId === parentId && e.name === name));
    if (list.length === all.length) return;
    if (list.length) this.#state.set('deletedUploads', list);
    else this.#state.delete('deletedUploads');
  }

  /** The deleted or moved file a new server file is a landed upload of, or undefined. */
  match(parentId: string, name: string, quickXorHash: string): DeletedUpload | undefined {
    const hash = canonical(quickXorHash);
    return this.#live().find((e) => e.parentId === parentId && e.name.toLowerCase() === name.toLowerCase() && e.hashes.some((h) => canonical(h) === hash));
  }

  /**
   * An upload attempt of the item sends it to `place` now, its answer not in yet (`undefined`: the
   * attempt ended). A copy delta sees there meanwhile may be that attempt's landing, whose answer
   * decides what it is: the delete delta queues for it waits until then (sendingTo; the commit
   * drops that delete when the copy is the file).
   */
  sending(itemId: string, place: { parentId: string; name: string } | undefined): void {
    if (place) this.#sending.set(itemId, place);
    else this.#sending.delete(itemId);
    for (const waiter of this.#waiters) {
      if (this.sendingTo(waiter.parentId, waiter.name)) continue;
      this.#waiters.delete(waiter);
      waiter.resolve();
    }
  }

  /** Settles once no upload attempt sends a file to this place (at once when none does). */
  sendingEnded(parentId: string, name: string): Promise<void> {
    if (!this.sendingTo(parentId, name)) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.add({ parentId, name, resolve }));
  }

  /** An upload attempt running now sends a file to this place. */
  sendingTo(parentId: string, name: string): boolean {
    const key = name.toLowerCase();
    for (const place of this.#sending.values()) if (place.parentId === parentId && place.name.toLowerCase() === key) return true;
    return false;
  }

  #live(): DeletedUpload[] {
    const all = this.#state.get('deletedUploads') ?? [];
    const live = all.filter((e) => this.#now() - e.deletedMs < WATCH_MS);
    if (live.length !== all.length) {
      if (live.length) this.#state.set('deletedUploads', live);
      else this.#state.delete('deletedUploads');
    }
    return live;
  }
}

/** Hashes are base64 of raw bytes; one spelling for all of them. */
function canonical(quickXorHash: string): string {
  return Buffer.from(quickXorHash, 'base64').toString('base64');
}

/**
 * The journal key of the delete of a landed copy whose file is still here (it moved): the entry
 * must not carry the file's own key, or the file's journal would hold the copy's delete.
 */
export function landedCopyKey(remoteId: string): string {
  return `landed:${remoteId}`;
}

/** A journal entry's key is a landedCopyKey. */
export function isLandedCopyKey(key: string): boolean {
  return key.startsWith('landed:');
}
