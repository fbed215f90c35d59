import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDirs } from '../base/testing/temp-dirs.ts';
import { firstRunAutostart, loadSettings, notificationsOn, saveDesktopSwitches, saveSettings, withDesktopSwitches } from './saved-settings.ts';
import { DEFAULT_INDEXER_PROGRAMS } from '../../src-shared/model/indexer-programs.ts';

const ENGINE = { mountpoint: '/m', cacheLimitBytes: 1e9, downloadConcurrency: 4, uploadConcurrency: 2, startOnLogin: false, notifications: false, logLevel: 'info' } as const;

const temp = tempDirs('onemount-settings-');
const settingsDir = temp.make;
afterEach(temp.removeAll);

function switchFake(on = false) {
  const s = { on, writes: 0, isEnabled: async () => s.on, setEnabled: async (v: boolean) => void ((s.on = v), s.writes++) };
  return s;
}

describe('the desktop switches', () => {
  it('notifications default to on; the engine’s idea of them is ignored', async () => {
    const dir = settingsDir();
    expect(await notificationsOn(dir)).toBe(true);
    expect(await withDesktopSwitches(dir, switchFake(true), ENGINE)).toMatchObject({ notifications: true, startOnLogin: true, cacheLimitBytes: 1e9 });
    await saveSettings(dir, { uploadConcurrency: 3 });
    await saveDesktopSwitches(dir, switchFake(), { notifications: false });
    expect(JSON.parse(readFileSync(path.join(dir, 'settings.json'), 'utf8'))).toEqual({ uploadConcurrency: 3, notifications: false });
    expect(await notificationsOn(dir)).toBe(false);
  });

  it('start on login is written once on the first run, and a later "off" stays off', async () => {
    const dir = settingsDir();
    const autostart = switchFake();
    expect(await firstRunAutostart(dir, autostart)).toBe(true);
    expect(autostart.on).toBe(true);
    await saveDesktopSwitches(dir, autostart, { startOnLogin: false });
    expect(autostart.on).toBe(false);
    expect(await firstRunAutostart(dir, autostart)).toBe(false);
    expect([autostart.on, autostart.writes]).toEqual([false, 2]);
  });
});

describe('the indexer settings', () => {
  it('are saved and read back; the default list is left out of the file so later additions apply', async () => {
    const dir = settingsDir();
    await saveSettings(dir, { refuseIndexers: false, indexerPrograms: ['baloo_file', 'kioworker/thumbnail'] });
    expect(await loadSettings(dir)).toEqual({ refuseIndexers: false, indexerPrograms: ['baloo_file', 'kioworker/thumbnail'] });
    await saveSettings(dir, { refuseIndexers: true, indexerPrograms: [...DEFAULT_INDEXER_PROGRAMS] });
    expect(JSON.parse(readFileSync(path.join(dir, 'settings.json'), 'utf8'))).toEqual({ refuseIndexers: true });
    // The same programs in another order are a choice of their own.
    const reordered = [...DEFAULT_INDEXER_PROGRAMS].reverse();
    await saveSettings(dir, { indexerPrograms: reordered });
    expect((await loadSettings(dir)).indexerPrograms).toEqual(reordered);
  });
});
