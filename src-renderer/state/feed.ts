/**
 * Feeds the stores from the engine: on every (re)connection it subscribes and loads status,
 * conflicts and settings; events update the stores as they come; and while connected the status
 * is fetched every `pollMs`, because transfer progress is a snapshot the engine computes when asked.
 */
import { CallError, type OneMountApi } from '../../src-shared/ipc/api.ts';
import { NOT_SUPPORTED, type EngineStatus } from '../../src-shared/ipc/contract.ts';
import type { PanelStores } from './stores.ts';
import { pastUploads } from './shutdown-store.ts';
import { retryOutcome, syncNowBlocked } from '../feedback.ts';

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
  let shutdownPoll: unknown;
  let polling = false;
  let knownConflicts: number | undefined;

  const shuttingDown = () => {
    const s = stores.shutdown.getState();
    return s.requested || s.progress !== undefined;
  };
  const applyStatus = (status: EngineStatus) => {
    if (shuttingDown()) stores.shutdown.getState().noteUploads(status.transfers.filter((t) => t.direction === 'upload' && t.state !== 'failed').length);
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
      // While shutting down the engine stops answering before it closes: the shutdown view says so.
      if (!(e instanceof CallError && e.code === 'ENGINE_UNREACHABLE') && !shuttingDown()) report('Could not read the engine status', e);
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

  /** Recent as the engine remembers it; an engine that keeps no history leaves this page's own. */
  const loadRecent = async () => {
    try {
      stores.transfers.getState().setRecent((await api.call('recent', {})).recent);
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code !== NOT_SUPPORTED && code !== 'ENGINE_UNREACHABLE') report('Could not read the recent transfers', e);
    }
  };

  const onConnected = async () => {
    try {
      await api.call('subscribe', {});
    } catch (e) {
      // A link that dropped again at once is shown by the link state itself.
      if (!(e instanceof CallError && e.code === 'ENGINE_UNREACHABLE')) report('Could not follow the engine’s events', e);
    }
    await Promise.all([loadStatus(), loadConflicts(), loadSettings(), loadRecent()]);
  };

  const offs = [
    api.on('status', applyStatus),
    api.on('transfer', (t) => stores.transfers.getState().applyTransfer(t, now())),
    api.on('transferProgress', (p) => stores.transfers.getState().applyProgress(p.transfers, now())),
    api.on('fileError', (e) => stores.transfers.getState().addFileError(e)),
    api.on('shutdown', (p) => {
      stores.shutdown.getState().apply(p, now());
      // While it shuts down the engine's list of uploads changes fast and then stops answering:
      // read it four times a second so the count that resumes next start is close to the end.
      if (shutdownPoll === undefined && !p.done) shutdownPoll = every(() => void loadStatus(), SHUTDOWN_POLL_MS);
      // The uploads phase is over: what the engine still lists now is what resumes at the next
      // start. Asked at once, as the last phases can be over before the next poll.
      if (pastUploads(p) && !stores.shutdown.getState().uploadsSettled) {
        api.call('status', {}).then(applyStatus, () => undefined /* the engine may already be past answering: the last count stands */);
      }
    }),
    api.on('auth', (a) => stores.engine.getState().setAuth(a)),
    api.on('signInPrompt', (p) => stores.engine.getState().setSignInPrompt(p)),
    api.onLink((link) => {
      stores.engine.getState().setLink(link);
      if (poll !== undefined) stopEvery(poll);
      poll = undefined;
      if (shutdownPoll !== undefined && link.state !== 'connected') {
        stopEvery(shutdownPoll);
        shutdownPoll = undefined;
      }
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
    if (shutdownPoll !== undefined) stopEvery(shutdownPoll);
  };
}

/** How often the status is read while the engine shuts down. */
const SHUTDOWN_POLL_MS = 250;

/** How long "Retry now" waits for the connection check's outcome before saying nothing more. */
const RETRY_OUTCOME_MS = 30_000;

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
  /** Asks the engine to check the connection now, then says how the check went (docs/ui.md: every action answers). */
  const checkConnection = async () => {
    const before = stores.engine.getState().status?.connectivity;
    const beforeRetry = before?.state === 'offline' ? before.nextRetryAt : undefined;
    const started = await attempt('Could not check the connection', () => api.call('syncNow', {}));
    if (!started) return;
    const outcome = await new Promise<string | undefined>((resolve) => {
      const check = (): boolean => {
        const status = stores.engine.getState().status;
        if (!status) return false;
        const o = retryOutcome(beforeRetry, status, Date.now());
        if (o.done) {
          resolve(o.text);
          return true;
        }
        return false;
      };
      if (check()) return;
      const off = stores.engine.subscribe(() => {
        if (check()) {
          off();
          clearTimeout(timer);
        }
      });
      const timer = setTimeout(() => {
        off();
        resolve('Still checking the connection; the banner shows when the next try is.');
      }, RETRY_OUTCOME_MS);
      // The status may not be pushed: ask for it, so the outcome shows as soon as it exists.
      void refreshStatus().catch(() => undefined);
    });
    if (outcome) notify(outcome);
  };
  /**
   * While the panel asks (or waits), uploads that finish take the question's reason away: with none
   * left it quits, as the person asked. Cancelling the quit stops this.
   */
  let watchingUploads = false;
  const quitOnceUploaded = () => {
    if (watchingUploads) return;
    watchingUploads = true;
    const off = stores.transfers.subscribe(() => {
      const flow = stores.view.getState().quitFlow;
      if (flow === 'none') {
        off();
        watchingUploads = false;
      } else if (pendingUploads(stores) === 0) {
        off();
        watchingUploads = false;
        void quit();
      }
    });
  };
  const quit = () =>
    attempt('Could not quit', async () => {
      stores.view.getState().setQuitFlow('none');
      stores.shutdown.getState().request();
      await api.call('quit', {});
    });
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
    syncNow: async () => {
      const status = stores.engine.getState().status;
      const blocked = syncNowBlocked(status);
      if (blocked) {
        notify(blocked);
        return;
      }
      if (status?.connectivity?.state === 'offline') {
        notify('OneDrive is not reachable: checking the connection now…');
        await checkConnection();
        return;
      }
      const r = await attempt('Could not start a sync', () => api.call('syncNow', {}));
      // An engine that did not start one says why (paused or offline since this page last looked).
      if (r) notify(r.started ? 'Looking for changes on OneDrive…' : (r.message ?? 'The engine did not start a sync.'));
    },
    /** The offline banner's [Retry now]. */
    retryNow: () => checkConnection(),
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
    /** Resolves with the settings as saved, or undefined when saving failed (a notice says why). */
    updateSettings: (update: Parameters<typeof api.call<'updateSettings'>>[1]) =>
      attempt('Could not save the settings', async () => {
        const saved = await api.call('updateSettings', update);
        stores.view.getState().setSettings(saved);
        return saved;
      }),
    signIn: () => attempt('Could not start signing in', () => api.call('signIn', {})),
    /** The desktop app's popover: the full view in an ordinary window. */
    openInWindow: () => attempt('Could not open a window', () => api.call('openInWindow', {})),
    /** "Open folder" (the mount's root) and a conflict's [Show in folder] (the file selected). */
    openFolder: (path?: string) => attempt('Could not open the folder', () => api.call('openFolder', path === undefined ? {} : { path })),
    /**
     * "Quit OneMount": with changes not uploaded yet it asks first (docs/ui.md, Shutdown view), as
     * Microsoft's client and Dropbox do; otherwise it quits.
     */
    requestQuit: () => {
      if (pendingUploads(stores) === 0) return quit();
      stores.view.getState().setQuitFlow('asking');
      quitOnceUploaded();
      return Promise.resolve(undefined);
    },
    /** The desktop app's tray Quit found uploads pending: ask here (the page opened at #quit). */
    askBeforeQuit: () => {
      stores.view.getState().setQuitFlow('asking');
      quitOnceUploaded();
    },
    /** [Quit — they resume next time]. */
    quit,
    /** [Wait for uploads]: quits by itself once nothing is left to upload. */
    quitAfterUploads: () => {
      stores.view.getState().setQuitFlow('waiting');
      if (pendingUploads(stores) === 0) return quit();
      quitOnceUploaded();
      return Promise.resolve(undefined);
    },
    cancelQuit: () => stores.view.getState().setQuitFlow('none'),
    quitNow: () => attempt('Could not quit at once', () => api.call('quitNow', {})),
  };
}

/** Uploads that would be left behind by quitting now (failed ones are not waiting for anything). */
export function pendingUploads(stores: PanelStores): number {
  return stores.transfers.getState().uploads.length;
}

export type PanelActions = ReturnType<typeof panelActions>;
