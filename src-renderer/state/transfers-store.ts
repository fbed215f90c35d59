/**
 * The transfer panel's lists, fed by the engine's snapshots (status) and single-transfer events.
 * A transfer that leaves the engine's snapshot without failing has finished: the engine lists only
 * queued, running, retrying and failed transfers, so it moves to Recent. Lists keep the engine's
 * order with running transfers first; work per update is linear, so 10 000 queued items stay cheap.
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { FileError, RecentTransfer, TransferItem } from '../../src-shared/model/transfer.ts';

/** How many finished transfers Recent keeps. */
export const RECENT_LIMIT = 50;
/** How many failed reads and writes of programs Errors keeps. */
export const FILE_ERROR_LIMIT = 20;

export type FinishedTransfer = RecentTransfer;

export interface TransfersState {
  uploads: TransferItem[];
  downloads: TransferItem[];
  /** Transfers that failed for good, with their message. */
  failed: TransferItem[];
  recent: FinishedTransfer[];
  /** Programs' reads and writes on the mount that failed (newest first). */
  fileErrors: FileError[];
  /** A snapshot from the engine (its full list), at `now`. */
  applySnapshot(items: readonly TransferItem[], now: number): void;
  /** One transfer changed. */
  applyTransfer(item: TransferItem, now: number): void;
  /** A pushed batch of changed transfers (the `transferProgress` event). */
  applyProgress(items: readonly TransferItem[], now: number): void;
  /** The engine's own history of finished transfers, merged with what this page saw finish. */
  setRecent(recent: readonly FinishedTransfer[]): void;
  addFileError(e: FileError): void;
  dismissFileError(e: FileError): void;
}

export type TransfersStore = StoreApi<TransfersState>;

function runningFirst(items: TransferItem[]): TransferItem[] {
  const active: TransferItem[] = [];
  const rest: TransferItem[] = [];
  for (const t of items) (t.state === 'active' ? active : rest).push(t);
  return active.length === 0 ? rest : active.concat(rest);
}

function finished(t: TransferItem, now: number): FinishedTransfer {
  return { id: t.id, path: t.path, direction: t.direction, total: t.total, finishedAt: now };
}

export function createTransfersStore(): TransfersStore {
  return createStore<TransfersState>()((set, get) => ({
    uploads: [],
    downloads: [],
    failed: [],
    recent: [],
    fileErrors: [],
    applySnapshot(items, now) {
      const { uploads, downloads, failed, recent } = get();
      const present = new Set<string>();
      for (const t of items) present.add(t.id);
      const done: FinishedTransfer[] = [];
      for (const list of [uploads, downloads]) for (const t of list) if (!present.has(t.id)) done.push(finished(t, now));
      const up: TransferItem[] = [];
      const down: TransferItem[] = [];
      const bad: TransferItem[] = [];
      for (const t of items) {
        if (t.state === 'failed') bad.push(t);
        else if (t.state === 'done') done.push(finished(t, now));
        else (t.direction === 'upload' ? up : down).push(t);
      }
      const failedNow = bad.length === 0 && failed.length === 0 ? failed : bad;
      set({
        uploads: runningFirst(up),
        downloads: runningFirst(down),
        failed: failedNow,
        recent: done.length === 0 ? recent : mergeRecent(done, recent),
      });
    },
    applyTransfer(item, now) {
      const s = get();
      const key = item.direction === 'upload' ? 'uploads' : 'downloads';
      const without = (list: TransferItem[]) => (list.some((t) => t.id === item.id) ? list.filter((t) => t.id !== item.id) : list);
      if (item.state === 'done') {
        set({ [key]: without(s[key]), failed: without(s.failed), recent: mergeRecent([finished(item, now)], s.recent) });
        return;
      }
      if (item.state === 'failed') {
        set({ [key]: without(s[key]), failed: [item, ...without(s.failed)] });
        return;
      }
      const list = s[key];
      const at = list.findIndex((t) => t.id === item.id);
      const next = at < 0 ? [...list, item] : list.map((t, i) => (i === at ? item : t));
      set({ [key]: runningFirst(next), failed: without(s.failed) });
    },
    applyProgress(items, now) {
      // One update for the whole batch: one render however many transfers moved.
      const s = get();
      const changed = new Map(items.map((t) => [t.id, t]));
      const done: FinishedTransfer[] = [];
      const bad: TransferItem[] = [];
      const apply = (list: TransferItem[], direction: TransferItem['direction']) => {
        let touched = false;
        const out: TransferItem[] = [];
        for (const t of list) {
          const c = changed.get(t.id);
          if (!c) {
            out.push(t);
            continue;
          }
          touched = true;
          changed.delete(t.id);
          if (c.state === 'done') done.push(finished(c, now));
          else if (c.state === 'failed') bad.push(c);
          else out.push(c);
        }
        for (const c of [...changed.values()]) {
          if (c.direction !== direction) continue;
          changed.delete(c.id);
          touched = true;
          if (c.state === 'done') done.push(finished(c, now));
          else if (c.state === 'failed') bad.push(c);
          else out.push(c);
        }
        return touched ? runningFirst(out) : list;
      };
      const uploads = apply(s.uploads, 'upload');
      const downloads = apply(s.downloads, 'download');
      const gone = new Set(items.map((t) => t.id));
      const keptFailed = s.failed.filter((f) => !gone.has(f.id));
      set({
        uploads,
        downloads,
        failed: bad.length === 0 && keptFailed.length === s.failed.length ? s.failed : [...bad, ...keptFailed],
        recent: done.length === 0 ? s.recent : mergeRecent(done, s.recent),
      });
    },
    setRecent(recent) {
      set({ recent: mergeRecent(get().recent, [...recent]).sort((a, b) => b.finishedAt - a.finishedAt).slice(0, RECENT_LIMIT) });
    },
    addFileError(e) {
      set({ fileErrors: [e, ...get().fileErrors].slice(0, FILE_ERROR_LIMIT) });
    },
    dismissFileError(e) {
      set({ fileErrors: get().fileErrors.filter((x) => x !== e) });
    },
  }));
}

function mergeRecent(done: FinishedTransfer[], recent: FinishedTransfer[]): FinishedTransfer[] {
  const seen = new Set(done.map((d) => d.id));
  return [...done, ...recent.filter((r) => !seen.has(r.id))].slice(0, RECENT_LIMIT);
}
