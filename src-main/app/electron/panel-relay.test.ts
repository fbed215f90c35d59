import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDirs } from '../../base/testing/temp-dirs.ts';
import { OneMountError } from '../../base/errors.ts';
import type { CallName } from '../../../src-shared/ipc/contract.ts';
import type { Settings } from '../../../src-shared/ipc/desktop-calls.ts';
import { linkOf, PanelRelay, refusalLine, type RelayEngine } from './panel-relay.ts';
import type { ValidRequest } from './ipc-validation.ts';

const SETTINGS: Settings = { mountpoint: '/m', cacheLimitBytes: 1e9, downloadConcurrency: 4, uploadConcurrency: 2, startOnLogin: false, notifications: true, logLevel: 'info' };

const temp = tempDirs('onemount-relay-');
const configDirs = temp.make;
afterEach(temp.removeAll);

function setup(answers: Partial<Record<CallName, (params: unknown) => unknown>> = {}) {
  const calls: Array<{ method: string; params: unknown; timeoutMs?: number }> = [];
  const configDir = configDirs();
  const desktop = { quits: 0, quitNows: 0, signIns: [] as string[], autostart: false, seen: [] as Settings[], opened: [] as unknown[] };
  const engine: RelayEngine = {
    call: async (method, params, timeoutMs) => {
      calls.push({ method, params, ...(timeoutMs !== undefined ? { timeoutMs } : {}) });
      const a = answers[method];
      if (!a) throw new OneMountError('NOT_SUPPORTED', `${method} is not served`);
      return a(params) as never;
    },
    quitNow: async () => void desktop.quitNows++,
  };
  const relay = new PanelRelay(engine, {
    quit: () => void desktop.quits++,
    openSignIn: (url) => void desktop.signIns.push(url),
    autostart: { isEnabled: async () => desktop.autostart, setEnabled: async (on) => void (desktop.autostart = on) },
    settingsSeen: (s) => void desktop.seen.push(s),
    openFolder: async (o) => void desktop.opened.push(o),
    openInWindow: () => void desktop.opened.push('window'),
    configDir,
  });
  const ask = async (id: number, method: CallName, params: unknown = {}) => JSON.parse(await relay.answer({ id, method, params } as ValidRequest)) as unknown;
  return { relay, calls, desktop, ask, configDir };
}

describe('PanelRelay', () => {
  it('forwards calls to the engine and answers with its result or its error code', async () => {
    const { ask, calls } = setup({ syncNow: () => ({ started: true }), pin: (p) => ({ ...(p as object), files: 1, bytes: 2, queued: 1 }) });
    expect(await ask(1, 'syncNow')).toEqual({ id: 1, result: { started: true } });
    expect(await ask(2, 'pause', { durationMs: 1000 })).toEqual({ id: 2, error: { code: 'NOT_SUPPORTED', message: 'pause is not served' } });
    expect(await ask(3, 'pin', { path: '/Photos' })).toMatchObject({ id: 3, result: { path: '/Photos', files: 1 } });
    expect(calls).toEqual([
      { method: 'syncNow', params: {} },
      { method: 'pause', params: { durationMs: 1000 } },
      { method: 'pin', params: { path: '/Photos' }, timeoutMs: 300_000 },
    ]);
  });

  it('records what the window subscribes to without bothering the engine', async () => {
    const { relay, ask, calls } = setup();
    expect(relay.wantsEvent('status')).toBe(false);
    expect(await ask(1, 'subscribe', { events: ['shutdown'] })).toEqual({ id: 1, result: { ok: true } });
    expect([relay.wantsEvent('status'), relay.wantsEvent('shutdown')]).toEqual([false, true]);
    await ask(2, 'subscribe', {});
    expect(relay.wantsEvent('transfer')).toBe(true);
    expect(calls).toEqual([]);
  });

  it("quit starts the app's graceful quit; quitNow cuts it short", async () => {
    const { ask, desktop, calls } = setup();
    expect(await ask(1, 'quit')).toEqual({ id: 1, result: { ok: true } });
    expect(await ask(2, 'quitNow')).toEqual({ id: 2, result: { ok: true } });
    expect([desktop.quits, desktop.quitNows, calls.length]).toEqual([1, 1, 0]);
  });

  it('signIn opens the sign-in window at the URL the engine gives', async () => {
    const url = 'https://login.test/common/oauth2/v2.0/authorize?client_id=x';
    const { ask, desktop } = setup({ signIn: () => ({ authorizationUrl: url }) });
    expect(await ask(1, 'signIn')).toEqual({ id: 1, result: { authorizationUrl: url } });
    expect(desktop.signIns).toEqual([url]);
    const failing = setup();
    expect(await failing.ask(2, 'signIn')).toMatchObject({ error: { code: 'NOT_SUPPORTED' } });
    expect(failing.desktop.signIns).toEqual([]);
  });

  it('start on login is the autostart entry, whatever the engine says', async () => {
    const { ask, desktop, calls } = setup({
      settings: () => ({ ...SETTINGS, startOnLogin: true }),
      updateSettings: (p) => ({ ...SETTINGS, ...(p as object) }),
    });
    expect(await ask(1, 'settings')).toMatchObject({ result: { startOnLogin: false } });
    expect(await ask(2, 'updateSettings', { startOnLogin: true })).toMatchObject({ result: { startOnLogin: true, cacheLimitBytes: 1e9 } });
    expect(desktop.autostart).toBe(true);
    expect(calls.map((c) => c.method)).toEqual(['settings', 'settings']);
    expect(await ask(3, 'updateSettings', { startOnLogin: false, uploadConcurrency: 3 })).toMatchObject({ result: { startOnLogin: false, uploadConcurrency: 3 } });
    expect(calls.at(-1)).toEqual({ method: 'updateSettings', params: { uploadConcurrency: 3 } });
    expect(desktop.seen.map((s) => s.startOnLogin)).toEqual([false, true, false]);
  });

  it('notifications are on by default and stay on once the panel loads settings, though the engine says off', async () => {
    const { ask, desktop, calls, configDir } = setup({
      settings: () => ({ ...SETTINGS, notifications: false }),
      updateSettings: (p) => ({ ...SETTINGS, notifications: false, ...(p as object) }),
    });
    expect(await ask(1, 'settings')).toMatchObject({ result: { notifications: true } });
    expect(desktop.seen.at(-1)?.notifications).toBe(true);
    // Turning them off is the person's choice, kept in the account's settings file for the next start.
    expect(await ask(2, 'updateSettings', { notifications: false })).toMatchObject({ result: { notifications: false } });
    expect(JSON.parse(readFileSync(path.join(configDir, 'settings.json'), 'utf8'))).toEqual({ notifications: false });
    expect(await ask(3, 'settings')).toMatchObject({ result: { notifications: false } });
    expect(calls.map((c) => c.method)).toEqual(['settings', 'settings', 'settings']);
  });

  it('opens the mount or shows a file in the file manager, from the engine’s mount point', async () => {
    const { ask, desktop } = setup({ status: () => ({ mountpoint: '/home/me/OneDrive' }) });
    expect(await ask(1, 'openFolder', {})).toEqual({ id: 1, result: { ok: true } });
    expect(await ask(2, 'openFolder', { path: '/Docs/report.docx' })).toEqual({ id: 2, result: { ok: true } });
    expect(desktop.opened).toEqual([{ folder: '/home/me/OneDrive' }, { select: '/home/me/OneDrive/Docs/report.docx' }]);
    expect(await ask(3, 'openInWindow', {})).toEqual({ id: 3, result: { ok: true } });
    expect(desktop.opened.at(-1)).toBe('window');
  });

  it('answers refusals that carry an id', () => {
    expect(refusalLine({ code: 'BAD_PARAMS', message: 'no', id: 4 })).toBe('{"id":4,"error":{"code":"BAD_PARAMS","message":"no"}}');
    expect(refusalLine({ code: 'BAD_REQUEST', message: 'no' })).toBeUndefined();
  });
});

describe('linkOf', () => {
  it('maps the supervisor state to what the panel shows', () => {
    expect(linkOf({ phase: 'running', connected: true })).toEqual({ state: 'connected' });
    expect(linkOf({ phase: 'stopping', connected: true })).toEqual({ state: 'connected' });
    expect(linkOf({ phase: 'starting', connected: false })).toEqual({ state: 'connecting' });
    expect(linkOf({ phase: 'restarting', connected: false, restartAt: 5, lastExit: { code: 1, signal: null, message: 'exit code 1', at: 1 } })).toEqual({
      state: 'disconnected',
      reason: 'The OneMount engine stopped unexpectedly (exit code 1)',
      retryAt: 5,
    });
    expect(linkOf({ phase: 'stopping', connected: false })).toEqual({ state: 'disconnected', reason: 'OneMount is shutting down' });
    expect(linkOf({ phase: 'stopped', connected: false })).toEqual({ state: 'disconnected', reason: 'The OneMount engine is not running' });
  });
});
