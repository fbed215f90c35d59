/**
 * The shutdown view's state. The budget bar needs the whole budget, which the events do not carry:
 * the first event's `budgetLeftMs` is taken as the whole (it is sent as the shutdown begins). Events
 * come only at phase changes, so the time left is counted down here from the last event's arrival.
 * Uploads left come from the engine's status, read while it shuts down: the shutdown events count
 * them once as the phase begins and never again. The last count within the uploads phase can
 * include an upload that finished in its last quarter second (statuses are read that often then).
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { ShutdownProgress } from '../../src-shared/model/transfer.ts';

export interface ShutdownState {
  progress: ShutdownProgress | undefined;
  budgetMs: number;
  /** When `progress` arrived (this page's clock), to count `budgetLeftMs` down from. */
  receivedAt: number;
  /** Quit was asked for here, before the first progress event arrived. */
  requested: boolean;
  /**
   * The engine's connection ended during the shutdown, with this reason. The engine closes its
   * socket in the last phase, before it could send the final "done", so this is how the end is seen.
   */
  ended: string | undefined;
  /** Uploads the engine still lists (not failed), from its latest status during the shutdown. */
  uploadsLeft: number | undefined;
  /** Whether `uploadsLeft` was read after the uploads phase ended: then it is what resumes next start. */
  uploadsSettled: boolean;
  apply(p: ShutdownProgress, now: number): void;
  request(): void;
  /** The link to the engine dropped; it counts as the end only while shutting down. */
  linkLost(reason: string): void;
  /** A status read while shutting down: `uploads` pending uploads. */
  noteUploads(uploads: number): void;
}

export type ShutdownStore = StoreApi<ShutdownState>;

/** Whether the shutdown in `p` is past its uploads phase. */
export function pastUploads(p: ShutdownProgress): boolean {
  const at = p.phases.indexOf('uploads');
  return p.done || (at >= 0 && p.phaseIndex > at);
}

export function createShutdownStore(): ShutdownStore {
  return createStore<ShutdownState>()((set, get) => ({
    progress: undefined,
    budgetMs: 0,
    receivedAt: 0,
    requested: false,
    ended: undefined,
    uploadsLeft: undefined,
    uploadsSettled: false,
    apply(p, now) {
      set({ progress: p, receivedAt: now, budgetMs: Math.max(get().budgetMs, p.budgetLeftMs) });
    },
    request: () => set({ requested: true }),
    linkLost(reason) {
      const { requested, progress, ended } = get();
      if ((requested || progress) && ended === undefined) set({ ended: reason });
    },
    noteUploads(uploads) {
      const { requested, progress, uploadsSettled, uploadsLeft } = get();
      if (!(requested || progress) || uploadsSettled) return;
      if (progress === undefined || !pastUploads(progress)) {
        set({ uploadsLeft: uploads });
        return;
      }
      // After the phase the engine lists only the uploads that never started: the ones its deadline
      // interrupted are persisted (they resume) but no longer listed, so the last count from within
      // the phase stands when it is larger.
      set({ uploadsLeft: Math.max(uploadsLeft ?? 0, uploads), uploadsSettled: true });
    },
  }));
}
