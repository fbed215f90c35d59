import { describe, expect, it } from 'vitest';
import type { EngineStatus } from '../../../src-shared/ipc/contract.ts';
import type { TransferItem } from '../../../src-shared/model/transfer.ts';
import { kdePanelIsDark, popoverPosition, roughDuration, trayIconTheme, trayIconVariant, trayView, uploadsBeforeQuit, type TrayInput, type TrayMenuItem } from './tray-model.ts';

const NOW = Date.UTC(2026, 10, 27, 14, 0, 0);
/** UTC "HH:MM", so the test does not depend on the machine's time zone. */
const utcClock = (ms: number) => new Date(ms).toISOString().slice(11, 16);
const running = { phase: 'running', connected: true } as const;

function status(extra: Partial<EngineStatus> = {}): EngineStatus {
  return {
    account: 'default',
    mountpoint: '/home/u/OneDrive',
    state: 'ready',
    items: 10,
    cachedBytes: 0,
    transfers: [],
    pid: 7,
    auth: { state: 'signed-in', user: 'user@example.com' },
    pause: { paused: false },
    connectivity: { state: 'online', since: NOW - 60_000 },
    conflicts: 0,
    ...extra,
  };
}

let nextId = 1;
function transfer(direction: TransferItem['direction'], state: TransferItem['state']): TransferItem {
  const id = String(nextId++);
  return {
    id,
    itemId: `item-${id}`,
    path: `/f${id}.txt`,
    direction,
    state,
    bytes: 0,
    total: 10,
    updatedAt: NOW,
    ...(state === 'failed' ? { error: { code: 'X', message: 'failed' } } : {}),
    ...(state === 'retrying' ? { retryAt: NOW + 30_000 } : {}),
  };
}

const view = (s: EngineStatus | undefined, engine: TrayInput['engine'] = running) => trayView({ engine, status: s, now: NOW, formatClock: utcClock });

function find(menu: TrayMenuItem[], label: string): TrayMenuItem | undefined {
  for (const m of menu) {
    if (m.type !== 'separator' && m.label === label) return m;
    if (m.type === 'submenu') {
      const inner = find(m.items, label);
      if (inner) return inner;
    }
  }
  return undefined;
}
const labels = (menu: TrayMenuItem[]) => menu.map((m) => (m.type === 'separator' ? '—' : m.label));

describe('trayView: icon and tooltip per docs/ui.md state', () => {
  it('up to date', () => {
    expect(view(status())).toMatchObject({ icon: 'up-to-date', tooltip: 'OneMount — up to date' });
  });

  it('syncing counts pending uploads and downloads, leaving out done ones and empty parts', () => {
    const transfers = [
      transfer('upload', 'active'),
      transfer('upload', 'queued'),
      transfer('upload', 'retrying'),
      transfer('upload', 'done'),
      transfer('download', 'active'),
      transfer('download', 'waiting-for-network'),
    ];
    expect(view(status({ transfers }))).toMatchObject({ icon: 'syncing', tooltip: 'Uploading 3 · Downloading 2' });
    expect(view(status({ transfers: [transfer('download', 'queued')] })).tooltip).toBe('Downloading 1');
    expect(view(status({ transfers: [transfer('upload', 'queued')] })).tooltip).toBe('Uploading 1');
    expect(view(status({ state: 'syncing' }))).toMatchObject({ icon: 'syncing', tooltip: 'Looking for changes…' });
  });

  it('paused, until a time or until resumed', () => {
    expect(view(status({ pause: { paused: true, until: Date.UTC(2026, 10, 27, 16, 30) } }))).toMatchObject({ icon: 'paused', tooltip: 'Paused until 16:30' });
    expect(view(status({ pause: { paused: true } }))).toMatchObject({ icon: 'paused', tooltip: 'Paused until you resume' });
  });

  it('offline', () => {
    const connectivity = { state: 'offline', since: Date.UTC(2026, 10, 27, 14, 2), nextRetryAt: NOW + 12_000 } as const;
    expect(view(status({ connectivity }))).toMatchObject({ icon: 'offline', tooltip: 'Offline since 14:02 — cached files still open' });
  });

  it('throttled, only while the time has not passed', () => {
    expect(view(status({ throttledUntil: NOW + 45_000 }))).toMatchObject({ icon: 'throttled', tooltip: 'OneDrive asked to slow down — resuming in 45 s' });
    expect(view(status({ throttledUntil: NOW - 1 })).icon).toBe('up-to-date');
  });

  it('needs attention: conflicts and failed transfers, singular and plural', () => {
    expect(view(status({ conflicts: 1, transfers: [transfer('upload', 'failed')] }))).toMatchObject({ icon: 'attention', tooltip: '2 files need attention' });
    expect(view(status({ conflicts: 1 })).tooltip).toBe('1 file needs attention');
  });

  it('signed out', () => {
    expect(view(status({ auth: { state: 'signed-out' } }))).toMatchObject({ icon: 'signed-out', tooltip: 'Sign in to OneDrive' });
  });

  it('picks the most severe state when several apply', () => {
    const offline = { state: 'offline', since: NOW, nextRetryAt: NOW } as const;
    const all = status({
      auth: { state: 'signed-out' },
      connectivity: offline,
      throttledUntil: NOW + 1000,
      conflicts: 1,
      pause: { paused: true },
      transfers: [transfer('upload', 'active')],
    });
    const order = [
      view(all).icon,
      view({ ...all, auth: { state: 'signed-in' } }).icon,
      view({ ...all, auth: { state: 'signed-in' }, connectivity: { state: 'online', since: NOW } }).icon,
      view({ ...all, auth: { state: 'signed-in' }, connectivity: { state: 'online', since: NOW }, throttledUntil: undefined }).icon,
      view({ ...all, auth: { state: 'signed-in' }, connectivity: { state: 'online', since: NOW }, throttledUntil: undefined, conflicts: 0 }).icon,
    ];
    expect(order).toEqual(['signed-out', 'offline', 'throttled', 'attention', 'paused']);
  });

  it('the engine process itself: starting, crashed and restarting, stopped, shutting down', () => {
    expect(view(undefined, { phase: 'starting', connected: false })).toMatchObject({ icon: 'signed-out', tooltip: 'OneMount is starting…' });
    const crashed = { phase: 'restarting', connected: false, restartAt: NOW + 4000, lastExit: { code: 1, signal: null, message: 'exit code 1', at: NOW } } as const;
    expect(view(status(), crashed)).toMatchObject({ icon: 'attention', tooltip: 'OneMount stopped unexpectedly (exit code 1) — restarting in 4 s' });
    expect(view(undefined, { phase: 'stopped', connected: false })).toMatchObject({ icon: 'signed-out', tooltip: 'OneMount is not running' });
    expect(view(status(), { phase: 'stopping', connected: true })).toMatchObject({ icon: 'syncing', tooltip: 'Finishing up before quitting…' });
  });

  it('rough durations stay short', () => {
    expect([roughDuration(44_001), roughDuration(119_000), roughDuration(150_000), roughDuration(3 * 3600_000)]).toEqual(['45 s', '119 s', '3 min', '3 h']);
  });
});

describe('trayView: menu', () => {
  it('has docs/ui.md items in order, the status line repeating the tooltip', () => {
    const v = view(status({ transfers: [transfer('upload', 'active')] }));
    expect(labels(v.menu)).toEqual(['Uploading 1', '—', 'Open OneDrive folder', 'Show transfers…', 'Open in a window', '—', 'Pause syncing', 'Sync now', '—', 'user@example.com', 'Settings…', 'Quit OneMount']);
    expect(v.menu[0]).toEqual({ type: 'item', label: 'Uploading 1', enabled: false });
    const pause = find(v.menu, 'Pause syncing');
    expect(pause?.type === 'submenu' && pause.items.map((i) => (i.type === 'item' ? [i.label, i.action] : []))).toEqual([
      ['2 hours', { kind: 'pause', durationMs: 7_200_000 }],
      ['8 hours', { kind: 'pause', durationMs: 28_800_000 }],
      ['24 hours', { kind: 'pause', durationMs: 86_400_000 }],
      ['Until I resume', { kind: 'pause' }],
    ]);
    expect(find(v.menu, 'Sign out')).toMatchObject({ enabled: true, action: { kind: 'sign-out' } });
    expect(find(v.menu, 'Sync now')).toMatchObject({ enabled: true, action: { kind: 'sync-now' } });
    expect(find(v.menu, 'Quit OneMount')).toMatchObject({ enabled: true, action: { kind: 'quit' } });
  });

  it('paused: Resume syncing replaces the pause submenu and Sync now is off', () => {
    const v = view(status({ pause: { paused: true } }));
    expect(find(v.menu, 'Pause syncing')).toBeUndefined();
    expect(find(v.menu, 'Resume syncing')).toMatchObject({ enabled: true, action: { kind: 'resume' } });
    expect(find(v.menu, 'Sync now')).toMatchObject({ enabled: false });
  });

  it('signed out: Sign in… instead of the account line; no pausing or syncing', () => {
    const v = view(status({ auth: { state: 'signed-out' } }));
    expect(find(v.menu, 'Sign in…')).toMatchObject({ enabled: true, action: { kind: 'sign-in' } });
    expect(find(v.menu, 'Sign out')).toBeUndefined();
    expect(find(v.menu, 'Pause syncing')).toMatchObject({ enabled: false });
    expect(find(v.menu, 'Sync now')).toMatchObject({ enabled: false });
  });

  it('an engine without sign-in (a token from the command line) names the account but cannot sign out', () => {
    const v = view(status({ auth: undefined }));
    expect(find(v.menu, 'default')).toMatchObject({ type: 'submenu' });
    expect(find(v.menu, 'Sign out')).toMatchObject({ enabled: false });
  });

  it('engine down: only what works without it is enabled; a stopped engine can be started', () => {
    const starting = view(undefined, { phase: 'starting', connected: false });
    expect(find(starting.menu, 'Open OneDrive folder')).toMatchObject({ enabled: false });
    expect(find(starting.menu, 'Show transfers…')).toMatchObject({ enabled: true });
    expect(find(starting.menu, 'Pause syncing')).toMatchObject({ enabled: false });
    expect(find(starting.menu, 'Sync now')).toMatchObject({ enabled: false });
    expect(find(starting.menu, 'Settings…')).toMatchObject({ enabled: true });
    const stopped = view(undefined, { phase: 'stopped', connected: false });
    expect(find(stopped.menu, 'Start OneMount')).toMatchObject({ enabled: true, action: { kind: 'start-engine' } });
    expect(find(stopped.menu, 'Pause syncing')).toBeUndefined();
  });
});

describe('tray icon variant: the panel’s colour, not the app theme', () => {
  const input = (o: Partial<Parameters<typeof trayIconTheme>[0]>) => ({ desktop: undefined, override: undefined, kdeglobals: undefined, systemDark: false, ...o });
  it('GNOME’s top bar is dark whatever the app theme: light glyphs there', () => {
    expect(trayIconTheme(input({ desktop: 'ubuntu:GNOME', systemDark: false }))).toBe('dark');
    expect(trayIconTheme(input({ desktop: 'GNOME', systemDark: true }))).toBe('dark');
    expect(trayIconTheme(input({ desktop: 'Budgie:GNOME' }))).toBe('dark');
  });
  it('KDE follows the Plasma colour scheme’s header, then window colours; others follow the system', () => {
    const breezeLight = '[General]\nColorScheme=BreezeLight\n\n[Colors:Header]\nBackgroundNormal=222,224,226\n\n[Colors:Window]\nBackgroundNormal=239,240,241\n';
    const breezeDark = '[Colors:Window]\nBackgroundAlternate=49,54,59\nBackgroundNormal=32,35,38\n[WM]\nactiveBackground=49,54,59\n';
    expect(kdePanelIsDark(breezeLight)).toBe(false);
    expect(kdePanelIsDark(breezeDark)).toBe(true);
    expect(kdePanelIsDark('[General]\nName=x\n')).toBeUndefined();
    expect(trayIconTheme(input({ desktop: 'KDE', kdeglobals: breezeDark, systemDark: false }))).toBe('dark');
    expect(trayIconTheme(input({ desktop: 'KDE', kdeglobals: breezeLight, systemDark: true }))).toBe('light');
    expect(trayIconTheme(input({ desktop: 'KDE', systemDark: true }))).toBe('dark');
    expect(trayIconTheme(input({ desktop: 'XFCE', systemDark: false }))).toBe('light');
  });
  it('symbolic (one-colour) icons on GNOME and KDE, whose tray hosts draw icons that way; colour elsewhere', () => {
    expect(trayIconVariant(input({ desktop: 'ubuntu:GNOME' }))).toBe('symbolic-dark');
    expect(trayIconVariant(input({ desktop: 'KDE', kdeglobals: '[Colors:Window]\nBackgroundNormal=239,240,241\n' }))).toBe('symbolic-light');
    expect(trayIconVariant(input({ desktop: 'XFCE', systemDark: true }))).toBe('dark');
  });
  it('a person’s override wins', () => {
    expect(trayIconTheme(input({ desktop: 'GNOME', override: 'light' }))).toBe('light');
    expect(trayIconTheme(input({ desktop: 'GNOME', override: 'nonsense' }))).toBe('dark');
  });
});

describe('the panel as a popover next to the tray', () => {
  const workArea = { x: 0, y: 32, width: 1920, height: 1048 };
  const size = { width: 440, height: 640 };
  it('opens below a top-bar icon, centred on it and kept on screen', () => {
    expect(popoverPosition({ tray: { x: 1200, y: 4, width: 24, height: 24 }, pointer: { x: 0, y: 0 }, workArea, size })).toEqual({ x: 992, y: 40 });
    // At the right edge it slides left rather than off screen.
    expect(popoverPosition({ tray: { x: 1900, y: 4, width: 24, height: 24 }, pointer: { x: 0, y: 0 }, workArea, size })).toEqual({ x: 1472, y: 40 });
  });
  it('opens above an icon in a bottom panel', () => {
    const bottom = { x: 0, y: 0, width: 1920, height: 1040 };
    expect(popoverPosition({ tray: { x: 1800, y: 1044, width: 32, height: 32 }, pointer: { x: 0, y: 0 }, workArea: bottom, size })).toEqual({ x: 1472, y: 392 });
  });
  it('uses the pointer where the tray reports no bounds (StatusNotifierItem hosts)', () => {
    expect(popoverPosition({ tray: { x: 0, y: 0, width: 0, height: 0 }, pointer: { x: 300, y: 12 }, workArea, size })).toEqual({ x: 80, y: 40 });
  });
});

describe('quitting from the tray', () => {
  it('asks first while uploads are pending (failed ones and downloads do not count)', () => {
    expect(uploadsBeforeQuit(undefined)).toBe(0);
    expect(uploadsBeforeQuit(status({ transfers: [transfer('download', 'active'), transfer('upload', 'failed')] }))).toBe(0);
    expect(uploadsBeforeQuit(status({ transfers: [transfer('upload', 'queued'), transfer('upload', 'paused'), transfer('upload', 'active')] }))).toBe(3);
  });
});
