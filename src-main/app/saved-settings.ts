/**
 * Settings changed in the panel (cache limit, concurrent transfers, log level) are applied at once
 * and saved in the account's config folder, so the next start uses them; options given on the
 * command line win over them.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { writeFileAtomic } from '../base/files.ts';
import { SettingsUpdateSchema, type SettingsUpdate } from '../../src-shared/ipc/desktop-calls.ts';

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
  await writeFileAtomic(settingsFile(configDir), JSON.stringify(settings, null, 2) + '\n');
}
