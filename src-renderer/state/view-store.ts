/** Which view the panel shows, and the settings the settings view edits. */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { Settings } from '../../src-shared/ipc/desktop-calls.ts';

export type View = 'panel' | 'settings';
/** Quitting with uploads pending: asking first, or waiting for them before quitting. */
export type QuitFlow = 'none' | 'asking' | 'waiting';

export interface ViewState {
  view: View;
  settings: Settings | undefined;
  /** Why the settings cannot be shown or changed (an engine without the settings calls). */
  settingsUnavailable: string | undefined;
  quitFlow: QuitFlow;
  show(view: View): void;
  setQuitFlow(flow: QuitFlow): void;
  setSettings(settings: Settings): void;
  setSettingsUnavailable(reason: string): void;
}

export type ViewStore = StoreApi<ViewState>;

export function createViewStore(): ViewStore {
  return createStore<ViewState>()((set) => ({
    view: 'panel',
    settings: undefined,
    settingsUnavailable: undefined,
    quitFlow: 'none',
    show: (view) => set({ view }),
    setQuitFlow: (quitFlow) => set({ quitFlow }),
    setSettings: (settings) => set({ settings, settingsUnavailable: undefined }),
    setSettingsUnavailable: (reason) => set({ settingsUnavailable: reason }),
  }));
}
