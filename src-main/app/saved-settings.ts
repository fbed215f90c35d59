/**
 * Settings changed in the panel (cache limit, concurrent transfers, log level) are applied at once
 * and saved in the account's config folder, so the next start uses them; options given on the
 * command line win over them. The desktop's own switches (start on login, notifications) are kept in
 * the same file by the desktop app or the browser panel's server, never guessed by the engine.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../base/files.ts';
import { SettingsUpdateSchema, type Settings, type SettingsUpdate } from '../../src-shared/ipc/desktop-calls.ts';
import { DEFAULT_INDEXER_PROGRAMS } from '../../src-shared/model/indexer-programs.ts';

export function settingsFile(configDir: string): string {
  return path.join(configDir, 'settings.json');
}

/** The saved settings; a missing file is none, an unreadable one is reported, never guessed at. */
export async function loadSettings(configDir: string): Promise<SettingsUpdate> {
  let text: string;
  try {
    text = await readFile(settingsFile(configDir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw e;
  }
  const parsed = SettingsUpdateSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new Error(`${settingsFile(configDir)} is not valid settings: ${parsed.error.message}`);
  return parsed.data;
}

export async function saveSettings(configDir: string, settings: SettingsUpdate): Promise<void> {
  const { indexerPrograms, ...rest } = settings;
  // The default indexer list is not frozen into the file: what a later version adds to it applies.
  const kept = indexerPrograms === undefined || sameList(indexerPrograms, DEFAULT_INDEXER_PROGRAMS) ? rest : { ...rest, indexerPrograms };
  await writeFileAtomic(settingsFile(configDir), JSON.stringify(kept, null, 2) + '\n');
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * "Start on login" and "notifications" are the desktop's switches, not the engine's: start on login
 * is the XDG autostart entry itself, notifications are shown by the desktop app. A sync client starts
 * on login and notifies by default (docs/ui.md, Settings), so an unset switch is on.
 */
export interface AutostartSwitch {
  isEnabled(): Promise<boolean>;
  setEnabled(on: boolean): Promise<void>;
}

/** Notifications unless the person turned them off. */
export async function notificationsOn(configDir: string): Promise<boolean> {
  return (await loadSettings(configDir)).notifications ?? true;
}

/** The engine's settings with the desktop's switches as they really are. */
export async function withDesktopSwitches(configDir: string, autostart: AutostartSwitch, engine: Settings): Promise<Settings> {
  return { ...engine, notifications: await notificationsOn(configDir), startOnLogin: await autostart.isEnabled() };
}

/** Applies and records the desktop's switches from an update (the autostart entry first: it can fail). */
export async function saveDesktopSwitches(configDir: string, autostart: AutostartSwitch, update: SettingsUpdate): Promise<void> {
  if (update.startOnLogin === undefined && update.notifications === undefined) return;
  if (update.startOnLogin !== undefined) await autostart.setEnabled(update.startOnLogin);
  const saved = await loadSettings(configDir);
  await saveSettings(configDir, {
    ...saved,
    ...(update.startOnLogin !== undefined ? { startOnLogin: update.startOnLogin } : {}),
    ...(update.notifications !== undefined ? { notifications: update.notifications } : {}),
  });
}

/**
 * First start of the desktop app: start on login is on by default, so the entry is written once; a
 * person who turned it off (recorded as false) keeps it off. Returns whether it wrote the entry.
 */
export async function firstRunAutostart(configDir: string, autostart: AutostartSwitch): Promise<boolean> {
  const saved = await loadSettings(configDir);
  if (saved.startOnLogin !== undefined) return false;
  await saveDesktopSwitches(configDir, autostart, { startOnLogin: true });
  return true;
}
