/** What the panel knows about the engine: the link to it and its latest status. */
import { createStore, type StoreApi } from 'zustand/vanilla';
import type { EngineLink } from '../../src-shared/ipc/api.ts';
import type { EngineStatus, SignInPrompt } from '../../src-shared/ipc/contract.ts';
import type { AuthState } from '../../src-shared/ipc/desktop-calls.ts';

export interface Notice {
  id: number;
  text: string;
}

export interface EngineState {
  link: EngineLink;
  status: EngineStatus | undefined;
  /** Results of the person's own actions that failed ("this engine cannot pause syncing yet"). */
  notices: Notice[];
  /** A sign-in waiting for the person (the page to open, and a device code when there is one). */
  signInPrompt: SignInPrompt | undefined;
  setLink(link: EngineLink): void;
  setStatus(status: EngineStatus): void;
  setAuth(auth: AuthState): void;
  setSignInPrompt(prompt: SignInPrompt): void;
  notify(text: string): void;
  dismiss(id: number): void;
}

export type EngineStore = StoreApi<EngineState>;

/** Notices shown at once; older ones give way. */
const NOTICE_LIMIT = 3;

export function createEngineStore(): EngineStore {
  let nextNotice = 1;
  return createStore<EngineState>()((set, get) => ({
    link: { state: 'connecting' },
    status: undefined,
    notices: [],
    signInPrompt: undefined,
    setLink: (link) => set({ link }),
    setStatus: (status) => set(status.auth?.state === 'signed-in' ? { status, signInPrompt: undefined } : { status }),
    setAuth(auth) {
      const { status } = get();
      set({ ...(status ? { status: { ...status, auth } } : {}), ...(auth.state === 'signed-in' ? { signInPrompt: undefined } : {}) });
    },
    setSignInPrompt: (signInPrompt) => set({ signInPrompt }),
    notify: (text) => set({ notices: [...get().notices, { id: nextNotice++, text }].slice(-NOTICE_LIMIT) }),
    dismiss: (id) => set({ notices: get().notices.filter((n) => n.id !== id) }),
  }));
}
