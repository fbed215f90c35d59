/**
 * The shutdown view's state. The budget bar needs the whole budget, which the events do not carry:
 * the first event's `budgetLeftMs` is taken as the whole (it is sent as the shutdown begins).
 */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { ShutdownProgress } from '../../src-shared/model/transfer.ts';

export interface ShutdownState {
  progress: ShutdownProgress | undefined;
  budgetMs: number;
  /** Quit was asked for here, before the first progress event arrived. */
  requested: boolean;
  /**
   * The engine's connection ended during the shutdown, with this reason. The engine closes its
   * socket in the last phase, before it could send the final "done", so this is how the end is seen.
   */
  ended: string | undefined;
  apply(p: ShutdownProgress): void;
  request(): void;
  /** The link to the engine dropped; it counts as the end only while shutting down. */
  linkLost(reason: string): void;
}

export type ShutdownStore = StoreApi<ShutdownState>;

export function createShutdownStore(): ShutdownStore {
  return createStore<ShutdownState>()((set, get) => ({
    progress: undefined,
    budgetMs: 0,
    requested: false,
    ended: undefined,
    apply(p) {
      set({ progress: p, budgetMs: Math.max(get().budgetMs, p.budgetLeftMs) });
    },
    request: () => set({ requested: true }),
    linkLost(reason) {
      const { requested, progress, ended } = get();
      if ((requested || progress) && ended === undefined) set({ ended: reason });
    },
  }));
}
