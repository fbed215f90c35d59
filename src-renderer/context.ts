/** React access to the page's stores and actions (made once in main.tsx, never module-level). */
import { createContext, useContext } from 'react';
import { useStore } from 'zustand';
import type { PanelActions } from './state/feed.ts';
import type { PanelStores } from './state/stores.ts';
import type { EngineState } from './state/engine-store.ts';
import type { TransfersState } from './state/transfers-store.ts';
import type { ConflictsState } from './state/conflicts-store.ts';
import type { ShutdownState } from './state/shutdown-store.ts';
import type { ViewState } from './state/view-store.ts';

export interface Panel {
  stores: PanelStores;
  actions: PanelActions;
}

export const PanelContext = createContext<Panel | undefined>(undefined);

export function usePanel(): Panel {
  const p = useContext(PanelContext);
  if (!p) throw new Error('usePanel outside PanelContext');
  return p;
}

// Selectors must return stored values (not new objects), or every store change re-renders.
export const useEngine = <T>(select: (s: EngineState) => T): T => useStore(usePanel().stores.engine, select);
export const useTransfers = <T>(select: (s: TransfersState) => T): T => useStore(usePanel().stores.transfers, select);
export const useConflicts = <T>(select: (s: ConflictsState) => T): T => useStore(usePanel().stores.conflicts, select);
export const useShutdown = <T>(select: (s: ShutdownState) => T): T => useStore(usePanel().stores.shutdown, select);
export const useView = <T>(select: (s: ViewState) => T): T => useStore(usePanel().stores.view, select);
export const useActions = (): PanelActions => usePanel().actions;
