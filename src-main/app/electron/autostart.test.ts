import { readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tempDirs } from '../../base/testing/temp-dirs.ts';
import { Autostart, autostartDir, autostartEntry, desktopExec } from './autostart.ts';

const temp = tempDirs('autostart-');
const tempDir = temp.make;
afterEach(temp.removeAll);

describe('Autostart', () => {
  it('writes, reads and removes the XDG autostart entry', async () => {
    const dir = path.join(tempDir(), 'autostart');
    const a = new Autostart(dir, ['/opt/OneMount/onemount']);
    expect(await a.isEnabled()).toBe(false);
    await a.setEnabled(true);
    expect(await a.isEnabled()).toBe(true);
    const text = readFileSync(a.file, 'utf8');
    expect(text).toContain('Exec=/opt/OneMount/onemount --hidden\n');
    expect(text).toContain('Categories=Network;FileTransfer;');
    expect(statSync(a.file).mode & 0o777).toBe(0o644);
    await a.setEnabled(false);
    expect(await a.isEnabled()).toBe(false);
    await a.setEnabled(false);
  });

  it('counts an entry disabled by hand as off', async () => {
    const dir = tempDir();
    const a = new Autostart(dir, ['onemount']);
    writeFileSync(a.file, autostartEntry(['onemount']) + 'Hidden=true\n');
    expect(await a.isEnabled()).toBe(false);
  });

  it('quotes Exec arguments as the Desktop Entry spec says', () => {
    expect(desktopExec(['/usr/bin/electron', '/home/me/One Mount/main.js'])).toBe('/usr/bin/electron "/home/me/One Mount/main.js"');
    expect(desktopExec(['/a/b', 'x"$y`z'])).toBe('/a/b "x\\\\"\\\\$y\\\\`z"');
    expect(desktopExec(['/a/100%'])).toBe('/a/100%%');
  });

  it('lives in $XDG_CONFIG_HOME/autostart or ~/.config/autostart', () => {
    expect(autostartDir({ XDG_CONFIG_HOME: '/x/cfg' }, '/home/me')).toBe('/x/cfg/autostart');
    expect(autostartDir({}, '/home/me')).toBe('/home/me/.config/autostart');
  });
});
