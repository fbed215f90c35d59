/**
 * What the panel hears about transfers, pushed instead of polled (docs/ui.md: progress never
 * jumps from 0 to half): the transfers that moved since the last event, a few times a second at
 * most however many move, each row in full; a finished one once more as `done`. Finished transfers
 * are also kept (the last RECENT_KEPT, in the store) so Recent survives panel reloads and restarts.
 */
import type { Logger } from '../base/logger.ts';
import { abortableSleep } from '../base/abort.ts';
import type { TaskRegistry } from '../lifecycle/task-registry.ts';
import type { Store } from '../store/index.ts';
import type { RecentTransfer, TransferItem } from '../../src-shared/model/transfer.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';

const RECENT_KEPT = 50;

interface Source {
  /** The rows of these items only (a full snapshot costs a path lookup per queued transfer). */
  snapshot(only: ReadonlySet<string>): TransferItem[];
  events: {
    on(event: 'progress', listener: (e: { itemId: string }) => void): unknown;
    on(event: 'done', listener: (e: { itemId: string; path: string; total: number }) => void): unknown;
  };
}

export interface TransferFeedOptions {
  uploads: Source;
  downloads: Source;
  store: Store;
  tasks: TaskRegistry;
  logger: Logger;
  emit: (transfers: TransferItem[]) => void;
  now?: () => number;
}

export class TransferFeed {
  readonly #o: TransferFeedOptions;
  readonly #now: () => number;
  /** Transfers that moved since the last event, by direction and item. */
  readonly #moved = new Map<string, { source: Source; itemId: string }>();
  /** Finished rows waiting for the next event. */
  readonly #finished: TransferItem[] = [];
  #recent: RecentTransfer[];
  #flushing = false;
  #recentChanged = false;

  constructor(options: TransferFeedOptions) {
    this.#o = options;
    this.#now = options.now ?? Date.now;
    this.#recent = options.store.driveState.get('recentTransfers') ?? [];
    for (const [direction, source] of [['upload', options.uploads], ['download', options.downloads]] as const) {
      source.events.on('progress', (e) => this.#onProgress(direction, source, e.itemId));
      source.events.on('done', (e) => this.#onDone(direction, source, e));
    }
  }

  /** Finished transfers, newest first. */
  recent(): RecentTransfer[] {
    return [...this.#recent];
  }

  #onProgress(direction: 'upload' | 'download', source: Source, itemId: string): void {
    this.#moved.set(`${direction}:${itemId}`, { source, itemId });
    this.#schedule();
  }

  #onDone(direction: 'upload' | 'download', source: Source, e: { itemId: string; path: string; total: number }): void {
    const now = this.#now();
    const row = source.snapshot(new Set([e.itemId]))[0];
    const id = row?.id ?? `${direction}:${e.itemId}:${now}`;
    this.#moved.delete(`${direction}:${e.itemId}`);
    const { retryAt: _retryAt, error: _error, bytesPerSecond: _speed, ...kept } = row ?? { id, itemId: e.itemId, direction };
    this.#finished.push({ ...kept, id, itemId: e.itemId, direction, path: e.path, state: 'done', bytes: e.total, total: e.total, updatedAt: now });
    this.#recent = [{ id, path: e.path, direction, total: e.total, finishedAt: now }, ...this.#recent.filter((r) => r.id !== id)].slice(0, RECENT_KEPT);
    // Saved with the next event, not per finished file (a thousand small uploads, one write a flush).
    this.#recentChanged = true;
    this.#schedule();
  }

  #schedule(): void {
    if (this.#flushing || this.#o.tasks.closed) return;
    this.#flushing = true;
    this.#o.tasks.start('transfer-feed', async (signal) => {
      try {
        await abortableSleep(DEFAULT_TIMEOUTS.transferFeedFlushMs, signal).catch(() => undefined);
      } finally {
        this.#flushing = false;
      }
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#recentChanged) {
      this.#recentChanged = false;
      try {
        this.#o.store.driveState.set('recentTransfers', this.#recent);
      } catch (error) {
        this.#o.logger.warn({ err: error }, 'could not save the list of recent transfers');
      }
    }
    const rows: TransferItem[] = this.#finished.splice(0);
    const bySource = new Map<Source, Set<string>>();
    for (const { source, itemId } of this.#moved.values()) {
      const ids = bySource.get(source) ?? new Set<string>();
      ids.add(itemId);
      bySource.set(source, ids);
    }
    this.#moved.clear();
    for (const [source, ids] of bySource) rows.push(...source.snapshot(ids));
    if (rows.length > 0) this.#o.emit(rows);
  }
}
