/**
 * Feeds the stores from the engine: on every (re)connection it subscribes and loads status,
 * conflicts and settings; events update the stores as they come; and while connected the status
 * is fetched every `pollMs`, because transfer progress is a snapshot the engine computes when asked.
 */
import { CallError, type OneMountApi } from '../../src-shared/ipc/api.ts';
import type { EngineStatus } from '../../src-shared/ipc/contract.ts';
import type { PanelStores } from './stores.ts';

export interface FeedOptions {
  pollMs?: number;
  now?: () => number;
  setInterval?: (fn: () => void, ms: number) => unknown;
  clearInterval?: (handle: unknown) => void;
}

export const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Starts feeding; the returned function stops it. */
export function feedStores(api: OneMountApi, stores: PanelStores, o: FeedOptions = {}): () => void {
  const now = o.now ?? Date.now;
  const every = o.setInterval ?? ((fn, ms) => setInterval(fn, ms));
  const stopEvery = o.clearInterval ?? ((h) => clearInterval(h as ReturnType<typeof setInterval>));
  let poll: unknown;
  let polling = false;
  let knownConflicts: number | undefined;

  const applyStatus = (status: EngineStatus) => {
    stores.engine.getState().setStatus(status);
    stores.transfers.getState().applySnapshot(status.transfers, now());
    if (status.conflicts !== undefined && status.conflicts !== knownConflicts) void loadConflicts();
  };
  const report = (what: string, e: unknown) => stores.engine.getState().notify(`${what}: ${messageOf(e)}`);

  const loadStatus = async () => {
    if (polling) return; // a slow engine gets one request at a time, not a pile
    polling = true;
    try {
      applyStatus(await api.call('status', {}));
    } catch (e) {
      if (!(e instanceof CallError && e.code === 'ENGINE_UNREACHABLE')) report('Could not read the engine status', e);
    } finally {
      polling = false;
    }
  };

  const loadConflicts = async () => {
    try {
      const { conflicts } = await api.call('conflicts', {});
      knownConflicts = conflicts.length;
      stores.conflicts.getState().setConflicts(conflicts);
    } catch (e) {
      stores.conflicts.getState().setUnavailable(messageOf(e));
    }
  };

  const loadSettings = async () => {
    try {
      stores.view.getState().setSettings(await api.call('settings', {}));
    } catch (e) {
      stores.view.getState().setSettingsUnavailable(messageOf(e));
    }
  };

  const onConnected = async () => {
    try {
      await api.call('subscribe', {});
    } catch (e) {
      // A link that dropped again at once is shown by the link state itself.
      if (!(e instanceof CallError && e.code === 'ENGINE_UNREACHABLE')) report('Could not follow the engine’s events', e);
    }
    await Promise.all([loadStatus(), loadConflicts(), loadSettings()]);
  };

  const offs = [
    api.on('status', applyStatus),
    api.on('transfer', (t) => stores.transfers.getState().applyTransfer(t, now())),
    api.on('shutdown', (p) => stores.shutdown.getState().apply(p)),
    api.on('auth', (a) => stores.engine.getState().setAuth(a)),
    api.on('signInPrompt', (p) => stores.engine.getState().setSignInPrompt(p)),
    api.onLink((link) => {
      stores.engine.getState().setLink(link);
      if (poll !== undefined) stopEvery(poll);
      poll = undefined;
      if (link.state === 'disconnected') stores.shutdown.getState().linkLost(link.reason);
      if (link.state !== 'connected') return;
      knownConflicts = undefined;
      void onConnected();
      poll = every(() => void loadStatus(), o.pollMs ?? 1000);
    }),
  ];
  return () => {
    for (const off of offs) off();
    if (poll !== undefined) stopEvery(poll);
  };
}

/** What the person can do, each reporting a failure as a notice instead of failing silently. */
export function panelActions(api: OneMountApi, stores: PanelStores) {
  const notify = (text: string) => stores.engine.getState().notify(text);
  const attempt = async <T>(what: string, work: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await work();
    } catch (e) {
      notify(`${what}: ${messageOf(e)}`);
      return undefined;
    }
  };
  const refreshStatus = async () => {
    const status = await api.call('status', {});
    stores.engine.getState().setStatus(status);
    stores.transfers.getState().applySnapshot(status.transfers, Date.now());
  };
  return {
    pause: (durationMs?: number) =>
      attempt('Could not pause', async () => {
        await api.call('pause', durationMs === undefined ? {} : { durationMs });
        await refreshStatus();
      }),
    resume: () =>
      attempt('Could not resume', async () => {
        await api.call('resume', {});
        await refreshStatus();
      }),
    syncNow: () => attempt('Could not start a sync', () => api.call('syncNow', {})),
    retryTransfer: (id: string) =>
      attempt('Could not retry', async () => {
        await api.call('retryTransfer', { id });
        await refreshStatus();
      }),
    resolveConflict: (id: number, choice: 'keep-mine' | 'keep-theirs' | 'keep-both') =>
      attempt('Could not resolve the conflict', async () => {
        stores.conflicts.getState().setResolving(id, true);
        try {
          await api.call('resolveConflict', { id, choice });
          const { conflicts } = await api.call('conflicts', {});
          stores.conflicts.getState().setConflicts(conflicts);
        } finally {
          stores.conflicts.getState().setResolving(id, false);
        }
      }),
    freeUpSpace: () =>
      attempt('Could not free up space', async () => {
        const r = await api.call('free', { path: '/' });
        notify(`Freed ${r.freedFiles} file(s)${r.skippedDirty ? `; ${r.skippedDirty} with changes not uploaded yet were kept` : ''}.`);
        await refreshStatus();
      }),
    updateSettings: (update: Parameters<typeof api.call<'updateSettings'>>[1]) =>
      attempt('Could not save the settings', async () => stores.view.getState().setSettings(await api.call('updateSettings', update))),
    signIn: () => attempt('Could not start signing in', () => api.call('signIn', {})),
    quit: () =>
      attempt('Could not quit', async () => {
        stores.shutdown.getState().request();
        await api.call('quit', {});
      }),
    quitNow: () => attempt('Could not quit at once', () => api.call('quitNow', {})),
  };
}

export type PanelActions = ReturnType<typeof panelActions>;
