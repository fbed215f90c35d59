/**
 * What the tray shows (ui.md, Tray icon and Tray menu) as plain data: the icon, the tooltip's exact
 * words and the menu, computed from the engine's status and the supervisor's state. main.ts turns it
 * into Electron's Tray and Menu; keeping it pure is what lets every state be tested without Electron.
 *
 * When several states apply, the first of this list wins: signed out, offline, throttled, needs
 * attention, paused, syncing, up to date — the panel's banners use the same order for the first four.
 */
import type { EngineStatus } from '../../../src-shared/ipc/contract.ts';
import type { TransferItem } from '../../../src-shared/model/transfer.ts';
import type { SupervisorState } from './engine-supervisor.ts';

/** One icon per ui.md state; the files are assets/tray-<icon>-<theme>-<size>.png. */
export const TRAY_ICONS = ['up-to-date', 'syncing', 'paused', 'offline', 'throttled', 'attention', 'signed-out'] as const;
export type TrayIcon = (typeof TRAY_ICONS)[number];

export const TRAY_ICON_SIZES = [16, 22, 24, 32, 48] as const;
export type TrayIconSize = (typeof TRAY_ICON_SIZES)[number];

/**
 * The PNG for a state: `light` icons are drawn for light panels (dark glyph), `dark` ones for dark
 * panels (light glyph).
 */
export function trayIconFile(assetsDir: string, icon: TrayIcon, theme: 'light' | 'dark', size: TrayIconSize): string {
  return `${assetsDir}/tray/tray-${icon}-${theme}-${size}.png`;
}

export const PAUSE_CHOICES = [
  { label: '2 hours', durationMs: 2 * 3600_000 },
  { label: '8 hours', durationMs: 8 * 3600_000 },
  { label: '24 hours', durationMs: 24 * 3600_000 },
  { label: 'Until I resume' },
] as const;

export type TrayAction =
  | { kind: 'open-folder' }
  | { kind: 'show-panel' }
  | { kind: 'pause'; durationMs?: number }
  | { kind: 'resume' }
  | { kind: 'sync-now' }
  | { kind: 'sign-in' }
  | { kind: 'sign-out' }
  | { kind: 'settings' }
  | { kind: 'start-engine' }
  | { kind: 'quit' };

export type TrayMenuItem =
  | { type: 'item'; label: string; enabled: boolean; action?: TrayAction }
  | { type: 'submenu'; label: string; enabled: boolean; items: TrayMenuItem[] }
  | { type: 'separator' };

export interface TrayView {
  icon: TrayIcon;
  tooltip: string;
  menu: TrayMenuItem[];
}

export interface TrayInput {
  engine: Pick<SupervisorState, 'phase' | 'connected' | 'restartAt' | 'lastExit'>;
  status: EngineStatus | undefined;
  now: number;
  /** Wall-clock time as people read it ("16:30"); local time by default. */
  formatClock?: (epochMs: number) => string;
}

const PENDING: ReadonlySet<TransferItem['state']> = new Set(['queued', 'active', 'waiting-for-network', 'paused', 'retrying']);

export function localClock(epochMs: number): string {
  const d = new Date(epochMs);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** "45 s", "3 min", "2 h" — a tooltip is read at a glance, so one unit is enough. */
export function roughDuration(ms: number): string {
  const s = Math.max(0, Math.ceil(ms / 1000));
  if (s < 120) return `${s} s`;
  const min = Math.round(s / 60);
  if (min < 120) return `${min} min`;
  return `${Math.round(min / 60)} h`;
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Icon and tooltip: the state the tray shows. */
export function trayState(input: TrayInput): { icon: TrayIcon; tooltip: string } {
  const { engine, status, now } = input;
  const clock = input.formatClock ?? localClock;
  if (engine.phase === 'stopping') return { icon: 'syncing', tooltip: 'Finishing up before quitting…' };
  if (engine.phase === 'restarting') {
    const when = engine.restartAt !== undefined ? ` — restarting in ${roughDuration(engine.restartAt - now)}` : '';
    return { icon: 'attention', tooltip: `OneMount stopped unexpectedly (${engine.lastExit?.message ?? 'unknown'})${when}` };
  }
  if (engine.phase === 'stopped') return { icon: 'signed-out', tooltip: 'OneMount is not running' };
  if (!engine.connected || !status) return { icon: 'signed-out', tooltip: 'OneMount is starting…' };

  if (status.auth?.state === 'signed-out') return { icon: 'signed-out', tooltip: 'Sign in to OneDrive' };
  if (status.connectivity?.state === 'offline') {
    return { icon: 'offline', tooltip: `Offline since ${clock(status.connectivity.since)} — cached files still open` };
  }
  if (status.throttledUntil !== undefined && status.throttledUntil > now) {
    return { icon: 'throttled', tooltip: `OneDrive asked to slow down — resuming in ${roughDuration(status.throttledUntil - now)}` };
  }
  const attention = (status.conflicts ?? 0) + status.transfers.filter((t) => t.state === 'failed').length;
  if (attention > 0) return { icon: 'attention', tooltip: `${plural(attention, 'file needs', 'files need')} attention` };
  if (status.pause?.paused) {
    return { icon: 'paused', tooltip: status.pause.until === undefined ? 'Paused until you resume' : `Paused until ${clock(status.pause.until)}` };
  }
  const uploading = status.transfers.filter((t) => t.direction === 'upload' && PENDING.has(t.state)).length;
  const downloading = status.transfers.filter((t) => t.direction === 'download' && PENDING.has(t.state)).length;
  if (uploading + downloading > 0) {
    const parts = [uploading ? `Uploading ${uploading}` : '', downloading ? `Downloading ${downloading}` : ''].filter(Boolean);
    return { icon: 'syncing', tooltip: parts.join(' · ') };
  }
  if (status.state === 'syncing' || status.state === 'starting') return { icon: 'syncing', tooltip: 'Looking for changes…' };
  return { icon: 'up-to-date', tooltip: 'OneMount — up to date' };
}

/** Icon, tooltip and menu (ui.md, Tray menu). */
export function trayView(input: TrayInput): TrayView {
  const { icon, tooltip } = trayState(input);
  const { engine, status } = input;
  const live = engine.connected && status !== undefined && engine.phase === 'running';
  const signedOut = status?.auth?.state === 'signed-out';
  const item = (label: string, action: TrayAction, enabled = true): TrayMenuItem => ({ type: 'item', label, enabled, action });
  const sep: TrayMenuItem = { type: 'separator' };

  const menu: TrayMenuItem[] = [{ type: 'item', label: tooltip, enabled: false }, sep];
  menu.push(item('Open OneDrive folder', { kind: 'open-folder' }, status !== undefined), item('Show transfers…', { kind: 'show-panel' }), sep);

  if (engine.phase === 'stopped') {
    menu.push(item('Start OneMount', { kind: 'start-engine' }));
  } else if (status?.pause?.paused) {
    menu.push(item('Resume syncing', { kind: 'resume' }, live));
  } else {
    menu.push({
      type: 'submenu',
      label: 'Pause syncing',
      enabled: live && !signedOut,
      items: PAUSE_CHOICES.map((c) => item(c.label, 'durationMs' in c ? { kind: 'pause', durationMs: c.durationMs } : { kind: 'pause' })),
    });
  }
  menu.push(item('Sync now', { kind: 'sync-now' }, live && !signedOut && !status?.pause?.paused), sep);

  if (status && signedOut) {
    menu.push(item('Sign in…', { kind: 'sign-in' }, live));
  } else if (status) {
    const who = status.auth?.user ?? status.account;
    menu.push({ type: 'submenu', label: who, enabled: true, items: [item('Sign out', { kind: 'sign-out' }, live && status.auth !== undefined)] });
  }
  menu.push(item('Settings…', { kind: 'settings' }), item('Quit OneMount', { kind: 'quit' }));
  return { icon, tooltip, menu };
}
