/** Conflicts waiting for the person's choice; `unavailable` says why the list cannot be shown. */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { Conflict } from '../../src-shared/ipc/desktop-calls.ts';

export interface ConflictsState {
  conflicts: Conflict[];
  unavailable: string | undefined;
  /** Conflicts with a resolution on its way, so their buttons are disabled. */
  resolving: ReadonlySet<number>;
  setConflicts(conflicts: Conflict[]): void;
  setUnavailable(reason: string): void;
  setResolving(id: number, on: boolean): void;
}

export type ConflictsStore = StoreApi<ConflictsState>;

export function createConflictsStore(): ConflictsStore {
  return createStore<ConflictsState>()((set, get) => ({
    conflicts: [],
    unavailable: undefined,
    resolving: new Set(),
    setConflicts: (conflicts) => set({ conflicts, unavailable: undefined }),
    setUnavailable: (reason) => set({ unavailable: reason, conflicts: [] }),
    setResolving(id, on) {
      const next = new Set(get().resolving);
      if (on) next.add(id);
      else next.delete(id);
      set({ resolving: next });
    },
  }));
}
