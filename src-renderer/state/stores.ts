/** All of the panel's stores, made once per page and handed down through React context. */
import { createConflictsStore, type ConflictsStore } from './conflicts-store.ts';
import { createEngineStore, type EngineStore } from './engine-store.ts';
import { createShutdownStore, type ShutdownStore } from './shutdown-store.ts';
import { createTransfersStore, type TransfersStore } from './transfers-store.ts';
import { createViewStore, type ViewStore } from './view-store.ts';

export interface PanelStores {
  engine: EngineStore;
  transfers: TransfersStore;
  conflicts: ConflictsStore;
  shutdown: ShutdownStore;
  view: ViewStore;
}

export function createPanelStores(): PanelStores {
  return {
    engine: createEngineStore(),
    transfers: createTransfersStore(),
    conflicts: createConflictsStore(),
    shutdown: createShutdownStore(),
    view: createViewStore(),
  };
}
