/**
 * What the tray shows (docs/ui.md, Tray icon and Tray menu) as plain data: the icon, the tooltip's exact
 * words and the menu, computed from the engine's status and the supervisor's state. main.ts turns it
 * into Electron's Tray and Menu; keeping it pure is what lets every state be tested without Electron.
 *
 * When several states apply, the first of this list wins: signed out, offline, throttled, needs
 * attention, paused, syncing, up to date — the panel's banners use the same order for the first four.
 */
import type { EngineStatus } from '../../../src-shared/ipc/contract.ts';
import type { TransferItem } from '../../../src-shared/model/transfer.ts';
import type { SupervisorState } from './engine-supervisor.ts';

/** One icon per docs/ui.md state; the files are assets/tray-<icon>-<theme>-<size>.png. */
export const TRAY_ICONS = ['up-to-date', 'syncing', 'paused', 'offline', 'throttled', 'attention', 'signed-out'] as const;
export type TrayIcon = (typeof TRAY_ICONS)[number];

export const TRAY_ICON_SIZES = [16, 22, 24, 32, 48] as const;
export type TrayIconSize = (typeof TRAY_ICON_SIZES)[number];

/** The tray icon variants (assets/render-icons.ts draws them). */
export type TrayIconVariant = 'light' | 'dark' | 'symbolic-light' | 'symbolic-dark';

/**
 * The PNG for a state: `light` icons are drawn for light panels (dark glyph), `dark` ones for dark
 * panels (light glyph); `symbolic-*` are the one-colour variants.
 */
export function trayIconFile(assetsDir: string, icon: TrayIcon, theme: TrayIconVariant, size: TrayIconSize): string {
  return `${assetsDir}/tray/tray-${icon}-${theme}-${size}.png`;
}

/** The snooze lengths the tray offers (`onemount pause --for` takes any length): choices, not timeouts. */
export const PAUSE_CHOICES = [
  { label: '2 hours', durationMs: 2 * 3600_000 }, // user choice: a snooze length
  { label: '8 hours', durationMs: 8 * 3600_000 }, // user choice: a snooze length
  { label: '24 hours', durationMs: 24 * 3600_000 }, // user choice: a snooze length
  { label: 'Until I resume' },
] as const;

export type TrayAction =
  | { kind: 'open-folder' }
  | { kind: 'show-panel' }
  /** The panel as an ordinary window (the full view), rather than the popover next to the tray. */
  | { kind: 'open-window' }
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

/** Icon, tooltip and menu (docs/ui.md, Tray menu). */
export function trayView(input: TrayInput): TrayView {
  const { icon, tooltip } = trayState(input);
  const { engine, status } = input;
  const live = engine.connected && status !== undefined && engine.phase === 'running';
  const signedOut = status?.auth?.state === 'signed-out';
  const item = (label: string, action: TrayAction, enabled = true): TrayMenuItem => ({ type: 'item', label, enabled, action });
  const sep: TrayMenuItem = { type: 'separator' };

  const menu: TrayMenuItem[] = [{ type: 'item', label: tooltip, enabled: false }, sep];
  menu.push(item('Open OneDrive folder', { kind: 'open-folder' }, status !== undefined), item('Show transfers…', { kind: 'show-panel' }), item('Open in a window', { kind: 'open-window' }), sep);

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

/**
 * Which icon variant the tray needs: it follows the colour of the panel the icon sits on, not the
 * app's theme (a dark GNOME top bar with a light app theme would hide a dark glyph).
 * - `ONEMOUNT_TRAY_THEME=light|dark` (a person's override) wins;
 * - KDE Plasma: the panel is drawn with the colour scheme's header (or window) background, read from
 *   kdeglobals;
 * - GNOME, Ubuntu, Pantheon, Budgie, Cinnamon: their top bar is dark in the stock light and dark themes;
 * - otherwise (Xfce, MATE, LXQt … whose panel follows the system theme) the system's dark preference.
 * `light` icons are drawn for light panels, `dark` ones for dark panels.
 */
export interface TrayThemeInput {
  /** `$XDG_CURRENT_DESKTOP`, e.g. "ubuntu:GNOME" or "KDE". */
  desktop: string | undefined;
  override: string | undefined;
  /** The text of ~/.config/kdeglobals, when there is one. */
  kdeglobals: string | undefined;
  systemDark: boolean;
}

const DARK_TOP_BARS = ['gnome', 'unity', 'pantheon', 'budgie', 'x-cinnamon', 'cinnamon'];

export function trayIconTheme(input: TrayThemeInput): 'light' | 'dark' {
  if (input.override === 'light' || input.override === 'dark') return input.override;
  const desktops = (input.desktop ?? '').toLowerCase().split(':');
  if (desktops.includes('kde')) {
    const dark = input.kdeglobals === undefined ? undefined : kdePanelIsDark(input.kdeglobals);
    return (dark ?? input.systemDark) ? 'dark' : 'light';
  }
  if (desktops.some((d) => DARK_TOP_BARS.includes(d))) return 'dark';
  return input.systemDark ? 'dark' : 'light';
}

/**
 * One-colour (symbolic) icons where the tray host draws its icons that way: GNOME's AppIndicator
 * extension and KDE's StatusNotifierItem tray (and the GNOME-based desktops); full colour elsewhere.
 */
export function trayIconVariant(input: TrayThemeInput): TrayIconVariant {
  const theme = trayIconTheme(input);
  const desktops = (input.desktop ?? '').toLowerCase().split(':');
  const symbolic = desktops.includes('kde') || desktops.some((d) => DARK_TOP_BARS.includes(d));
  return symbolic ? `symbolic-${theme}` : theme;
}

/** Whether the Plasma colour scheme's header (else window) background is dark; undefined when not stated. */
export function kdePanelIsDark(kdeglobals: string): boolean | undefined {
  const section = (name: string): string | undefined => {
    const m = new RegExp(`^\\[${name.replace(/[[\]:]/g, (c) => `\\${c}`)}\\]\\s*$([\\s\\S]*?)(?=^\\[|(?![\\s\\S]))`, 'm').exec(kdeglobals);
    return m?.[1];
  };
  for (const name of ['Colors:Header', 'Colors:Window']) {
    const body = section(name);
    const rgb = body && /^BackgroundNormal\s*=\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)/m.exec(body);
    if (rgb) {
      const [r, g, b] = [rgb[1], rgb[2], rgb[3]].map((v) => Number(v) / 255) as [number, number, number];
      return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5;
    }
  }
  return undefined;
}

/** A rectangle in screen coordinates (Electron's Rectangle). */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** Gap between the popover and the tray or the screen's edge. */
const POPOVER_MARGIN = 8;

/**
 * Where the panel opens as a popover (docs/ui.md: a frameless panel next to the tray icon), within the
 * work area of the screen the tray is on. The tray's own bounds are used when the desktop reports
 * them; StatusNotifierItem hosts (GNOME's AppIndicator extension, KDE) report none, so the pointer's
 * position at the click stands in for the icon. The popover goes below a tray in the top half of the
 * screen and above one in the bottom half, centred on the icon and kept on screen.
 */
export function popoverPosition(o: { tray: Rect | undefined; pointer: { x: number; y: number }; workArea: Rect; size: { width: number; height: number } }): { x: number; y: number } {
  const { workArea: area, size } = o;
  const anchor = o.tray && o.tray.width > 0 && o.tray.height > 0 ? o.tray : { x: o.pointer.x, y: o.pointer.y, width: 0, height: 0 };
  const centreX = anchor.x + anchor.width / 2;
  const clamp = (v: number, lo: number, hi: number) => Math.round(Math.min(Math.max(v, lo), Math.max(lo, hi)));
  const x = clamp(centreX - size.width / 2, area.x + POPOVER_MARGIN, area.x + area.width - size.width - POPOVER_MARGIN);
  const topHalf = anchor.y + anchor.height / 2 < area.y + area.height / 2;
  const wantY = topHalf ? Math.max(area.y, anchor.y + anchor.height) + POPOVER_MARGIN : Math.min(area.y + area.height, anchor.y) - size.height - POPOVER_MARGIN;
  const y = clamp(wantY, area.y + POPOVER_MARGIN, area.y + area.height - size.height - POPOVER_MARGIN);
  return { x, y };
}

/**
 * The tray's "Quit OneMount": with uploads not done yet the panel asks first (docs/ui.md: [Wait for
 * uploads] [Quit — they resume next time]); the number is what it asks about, 0 quits at once.
 * Logout and SIGTERM never ask: they cannot wait for an answer.
 */
export function uploadsBeforeQuit(status: EngineStatus | undefined): number {
  return status?.transfers.filter((t) => t.direction === 'upload' && PENDING.has(t.state)).length ?? 0;
}
