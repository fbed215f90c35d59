/**
 * Pins ("always keep on this device") and "free up space", per file or folder tree.
 *
 * - pin(path) marks the item pinned in the store (a pinned folder covers everything below it, also
 *   what arrives later) and queues its files for hydration. A background task ('pin-hydrate')
 *   downloads them one file at a time at the download manager's lowest priority, so reads always go
 *   first. Files that delta adds or changes below a pinned folder are queued as they arrive, and a
 *   periodic rescan of every pin retries what failed (offline, throttled) and resumes after a restart.
 * - unpin(path) clears the pin on the item and on pins below it. The bytes stay cached; they are now
 *   ordinary cache content that the cleaner may evict. A hydration the unpin made pointless stops.
 * - free(path) drops the local content of clean, unpinned, closed files in the tree, through the
 *   download manager's invalidate. Dirty files (their bytes are the only copy), pinned ones and open
 *   ones are counted and left alone.
 *
 * Paths are mount-relative (`/Documents/a.txt`; `/` is the root).
 */
import { AbortError, anySignal, isAbortError } from '../base/abort.ts';
import { Alarm } from '../base/alarm.ts';
import { isOneMountError } from '../base/errors.ts';
import type { Logger } from '../base/logger.ts';
import type { TypedEmitter } from '../base/typed-emitter.ts';
import type { TaskHandle, TaskRegistry } from '../lifecycle/task-registry.ts';
import { StoreError, type Store, type StoredItem } from '../store/index.ts';
import { sameContent, type DownloadItem } from '../transfers/index.ts';
import type { DeltaSyncEvents } from '../sync/delta-sync.ts';
import { LoopYielder } from '../sync/loop-yielder.ts';
import { walkSubtree } from '../sync/store-walk.ts';
import { VfsError } from './vfs-error.ts';
import type { FreeResult, PinResult, UnpinResult } from '../../src-shared/ipc/contract.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';

export type { FreeResult, PinResult, UnpinResult };

/** What pins need from the download manager. */
export interface PinDownloadsPort {
  hydrate(item: DownloadItem, options: { signal?: AbortSignal }): Promise<void>;
  invalidate(itemId: string): Promise<void> | void;
}

export interface PinsOptions {
  store: Store;
  downloads: PinDownloadsPort;
  /** True while the item is open through the mount. */
  isOpen: (itemId: string) => boolean;
  tasks: TaskRegistry;
  logger: Logger;
  /** Delta's events: files changed or added below a pinned folder are hydrated as they arrive. */
  changes?: Pick<TypedEmitter<DeltaSyncEvents>, 'on'>;
  /** Every pin is walked again this often (failed hydrations retry, restarts resume). Default 5 min. */
  rescanIntervalMs?: number;
}

const WALK_PAGE = 1000;
const SLICE_MS = DEFAULT_TIMEOUTS.pinsSliceMs;

export class Pins {
  readonly #o: PinsOptions;
  /** Files waiting for hydration, in the order they were asked for. */
  readonly #queue = new Set<string>();
  /** Items delta touched while something is pinned: checked by the worker, off the delta path. */
  #toCheck: string[] = [];
  #rescanDue = true;
  /** A pass of the loop is under way (between two sleeps). */
  #working = false;
  #current: { itemId: string; controller: AbortController } | undefined;
  #task: TaskHandle | undefined;
  readonly #alarm = new Alarm();
  #idleWaiters: Array<() => void> = [];
  #unsubscribe: Array<() => void> = [];

  constructor(options: PinsOptions) {
    this.#o = options;
  }

  /** Starts the hydration task; it first walks every existing pin (resuming after a restart). */
  start(): void {
    if (this.#task) return;
    if (this.#o.changes) {
      this.#unsubscribe.push(
        this.#o.changes.on('changed', (change) => {
          if (change.upserted.length === 0 || this.#o.store.content.listPinned().length === 0) return;
          for (const id of change.upserted) this.#toCheck.push(id);
          this.#alarm.wake();
        }),
      );
    }
    this.#task = this.#o.tasks.start('pin-hydrate', (signal) => this.#loop(signal));
  }

  async stop(): Promise<void> {
    for (const off of this.#unsubscribe.splice(0)) off();
    const task = this.#task;
    if (!task) return;
    task.abort();
    await task.done;
  }

  /** Pins the file or folder tree at `path` and queues what is not cached yet. */
  async pin(path: string): Promise<PinResult> {
    const item = this.#resolve(path);
    if (item.kind !== 'file' && item.kind !== 'folder') {
      throw new VfsError('ENOTSUP', `${path} cannot be kept on this device (a ${item.kind === 'package' ? 'OneNote notebook or similar package' : 'shared folder shortcut'})`);
    }
    this.#o.store.content.setPinned(item.id, true);
    const files = await this.#filesOf(item);
    let bytes = 0;
    let queued = 0;
    for (const file of files) {
      bytes += file.size;
      if (this.#needsHydration(file)) {
        this.#queue.add(file.id);
        queued++;
      }
    }
    this.#alarm.wake();
    this.#o.logger.info({ path, files: files.length, bytes, queued }, `pinned ${path}`);
    return { path, files: files.length, bytes, queued };
  }

  /** Clears the pin of the item and every pin below it; cached bytes stay (the cleaner may evict them). */
  async unpin(path: string): Promise<UnpinResult> {
    const item = this.#resolve(path);
    const { content, items } = this.#o.store;
    let unpinned = 0;
    for (const pinnedId of content.listPinned()) {
      if (pinnedId === item.id || this.#isBelow(pinnedId, item.id)) {
        content.setPinned(pinnedId, false);
        unpinned++;
      }
    }
    const current = this.#current;
    if (current && !content.isEffectivelyPinned(current.itemId)) current.controller.abort(new AbortError('the file is no longer pinned'));
    const ancestor = content.pinnedAncestorOf(item.id);
    const result: UnpinResult = { path, unpinned };
    if (ancestor !== undefined) result.stillPinnedBy = items.pathOf(ancestor) ?? ancestor;
    this.#o.logger.info(result, `unpinned ${path}`);
    return result;
  }

  /** Drops the local content of clean, unpinned, closed files at `path` (a file or a folder tree). */
  async free(path: string): Promise<FreeResult> {
    const item = this.#resolve(path);
    const result: FreeResult = { path, freedFiles: 0, freedBytes: 0, skippedOpen: 0, skippedDirty: 0, skippedPinned: 0 };
    const { content } = this.#o.store;
    for (const file of await this.#filesOf(item)) {
      const state = content.get(file.id);
      if (!state || state.status === 'none') continue;
      if (state.status === 'dirty') {
        result.skippedDirty++;
        continue;
      }
      if (content.isEffectivelyPinned(file.id)) {
        result.skippedPinned++;
        continue;
      }
      if (this.#o.isOpen(file.id)) {
        result.skippedOpen++;
        continue;
      }
      try {
        await this.#o.downloads.invalidate(file.id);
      } catch (error) {
        // Written to after the check above: the new bytes are the only copy.
        if (error instanceof StoreError && error.code === 'CONTENT_DIRTY') {
          result.skippedDirty++;
          continue;
        }
        throw error;
      }
      result.freedFiles++;
      result.freedBytes += state.cachedBytes;
    }
    this.#o.logger.info(result, `freed up space in ${path}`);
    return result;
  }

  /** Resolves once nothing is queued, being checked or hydrating (tests, status). */
  whenIdle(): Promise<void> {
    if (this.#idle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Files waiting for hydration or hydrating now. */
  get pending(): number {
    return this.#queue.size + (this.#current ? 1 : 0);
  }

  #idle(): boolean {
    return !this.#working && this.#queue.size === 0 && this.#toCheck.length === 0 && !this.#rescanDue;
  }

  async #loop(signal: AbortSignal): Promise<void> {
    const rescanMs = this.#o.rescanIntervalMs ?? DEFAULT_TIMEOUTS.pinsRescanMs;
    let nextRescan = 0;
    while (!signal.aborted) {
      this.#working = true;
      try {
        if (this.#rescanDue || Date.now() >= nextRescan) {
          this.#rescanDue = false;
          nextRescan = Date.now() + rescanMs;
          await this.#rescan(signal);
        }
        if (this.#toCheck.length > 0) await this.#checkChanged(signal);
        const next = this.#queue.values().next();
        if (!next.done) {
          this.#queue.delete(next.value);
          await this.#hydrate(next.value, signal);
          continue;
        }
      } catch (error) {
        if (signal.aborted && isAbortError(error)) return;
        this.#o.logger.error({ err: error }, 'pin hydration failed; the next rescan retries');
      }
      this.#working = false;
      if (this.#idle()) for (const resolve of this.#idleWaiters.splice(0)) resolve();
      await this.#sleep(Math.max(0, nextRescan - Date.now()), signal);
    }
  }

  #sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (this.#queue.size > 0 || this.#toCheck.length > 0 || this.#rescanDue) return Promise.resolve();
    return this.#alarm.sleep(ms, signal);
  }


  /** Queues every incomplete file under every pin. */
  async #rescan(signal: AbortSignal): Promise<void> {
    for (const id of this.#o.store.content.listPinned()) {
      const item = this.#o.store.items.get(id);
      if (!item) continue;
      for (const file of await this.#filesOf(item, signal)) if (this.#needsHydration(file)) this.#queue.add(file.id);
    }
  }

  async #checkChanged(signal: AbortSignal): Promise<void> {
    const ids = this.#toCheck;
    this.#toCheck = [];
    const yielder = new LoopYielder(SLICE_MS, signal);
    const { store } = this.#o;
    for (const id of ids) {
      const item = store.items.get(id);
      if (item?.kind === 'file' && this.#needsHydration(item) && store.content.isEffectivelyPinned(id)) this.#queue.add(id);
      await yielder.maybeYield();
    }
  }

  async #hydrate(itemId: string, signal: AbortSignal): Promise<void> {
    const item = this.#o.store.items.get(itemId);
    if (!item || item.kind !== 'file' || !this.#needsHydration(item) || !this.#o.store.content.isEffectivelyPinned(itemId)) return;
    const controller = new AbortController();
    this.#current = { itemId, controller };
    const both = anySignal(signal, controller.signal);
    try {
      await this.#o.downloads.hydrate(
        { id: item.id, size: item.size, etag: item.etag, ctag: item.ctag, quickXorHash: item.quickXorHash, path: this.#o.store.items.pathOf(item.id) },
        { signal: both.signal },
      );
      this.#o.logger.debug({ itemId }, 'pinned file hydrated');
    } catch (error) {
      if (signal.aborted) throw error;
      if (controller.signal.aborted) return;
      if (isOneMountError(error, 'CONTENT_CHANGING')) {
        // Being changed here: its local bytes become the file (uploaded, not fetched); a change that
        // did not go through leaves it to the next rescan, as other failures do.
        this.#o.logger.debug({ itemId }, 'a pinned file was being changed here while it was downloaded');
        return;
      }
      // Offline, throttled, changed meanwhile: delta or the next rescan queues it again.
      this.#o.logger.warn({ err: error, itemId }, 'could not download a pinned file; it is retried later');
    } finally {
      both.dispose();
      this.#current = undefined;
    }
  }

  #needsHydration(file: StoredItem): boolean {
    if (file.kind !== 'file') return false;
    const content = this.#o.store.content.get(file.id);
    if (content?.status === 'dirty') return false;
    return !(content?.status === 'complete' && sameContent(content, file));
  }

  async #filesOf(item: StoredItem, signal?: AbortSignal): Promise<StoredItem[]> {
    if (item.kind === 'file') return [item];
    if (item.kind !== 'folder') return [];
    const below = await walkSubtree(this.#o.store, item.id, WALK_PAGE, new LoopYielder(SLICE_MS, signal));
    return below.filter((i) => i.kind === 'file');
  }

  /** True when `ancestorId` is a proper ancestor of `itemId`. */
  #isBelow(itemId: string, ancestorId: string): boolean {
    let parent = this.#o.store.items.get(itemId)?.parentId;
    for (let depth = 0; parent != null && depth < 1000; depth++) {
      if (parent === ancestorId) return true;
      parent = this.#o.store.items.get(parent)?.parentId;
    }
    return false;
  }

  #resolve(path: string): StoredItem {
    const item = path === '/' || path === '' ? this.#o.store.items.getRoot() : this.#o.store.items.resolvePath(path);
    if (!item) throw new VfsError('ENOENT', `no such file or folder: ${path}`);
    return item;
  }
}
