import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { APP_ICON_SIZES, THEMES, TRAY_STATES, encodePng, rasterize, trayArt, appArt } from '../../../assets/render-icons.ts';
import { TRAY_ICONS, TRAY_ICON_SIZES, trayIconFile } from './tray-model.ts';

const ASSETS = path.resolve(import.meta.dirname, '..', '..', '..', 'assets');

function pngSize(file: string): { width: number; height: number } {
  const b = readFileSync(file);
  expect(b.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(b.toString('ascii', 12, 16)).toBe('IHDR');
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20) };
}

/** Key=value lines of a desktop entry's [Desktop Entry] group. */
function desktopEntry(file: string): Record<string, string> {
  const lines = readFileSync(path.join(ASSETS, file), 'utf8').split('\n');
  const start = lines.indexOf('[Desktop Entry]');
  expect(start).toBeGreaterThanOrEqual(0);
  return Object.fromEntries(lines.slice(start + 1).filter((l) => l.includes('=') && !l.startsWith('#')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

describe('assets', () => {
  it('has a PNG of the right size for every tray state, theme and size the tray asks for, and an SVG source', () => {
    expect([...TRAY_ICONS]).toEqual([...TRAY_STATES]);
    for (const icon of TRAY_ICONS) {
      for (const theme of THEMES) {
        expect(readFileSync(path.join(ASSETS, 'tray', `tray-${icon}-${theme}.svg`), 'utf8')).toMatch(/^<svg [^>]*viewBox="0 0 24 24"/);
        for (const size of TRAY_ICON_SIZES) expect(pngSize(trayIconFile(ASSETS, icon, theme, size))).toEqual({ width: size, height: size });
      }
    }
    expect(readdirSync(path.join(ASSETS, 'tray'))).toHaveLength(TRAY_ICONS.length * THEMES.length * (TRAY_ICON_SIZES.length + 1));
    for (const size of APP_ICON_SIZES) expect(pngSize(path.join(ASSETS, 'icons', `${size}x${size}.png`))).toEqual({ width: size, height: size });
  });

  it('committed PNGs are what render-icons.ts draws now (run it after changing the art)', () => {
    for (const icon of TRAY_STATES) {
      for (const theme of THEMES) {
        for (const size of [16, 48]) {
          const fresh = encodePng(rasterize(trayArt(icon, theme), size), size, size);
          expect(readFileSync(path.join(ASSETS, 'tray', `tray-${icon}-${theme}-${size}.png`)).equals(fresh), `${icon} ${theme} ${size}`).toBe(true);
        }
      }
    }
    expect(readFileSync(path.join(ASSETS, 'icons', '64x64.png')).equals(encodePng(rasterize(appArt(), 64), 64, 64))).toBe(true);
  });

  it('draws states that differ from each other in every size', () => {
    for (const theme of ['light', 'symbolic-dark'] as const) {
      for (const size of [16, 22]) {
        const pictures = TRAY_STATES.map((s) => Buffer.from(rasterize(trayArt(s, theme), size)).toString('base64'));
        expect(new Set(pictures).size, `${theme} ${size}`).toBe(TRAY_STATES.length);
      }
    }
  });

  it('symbolic icons are one colour (the tray host may recolour them)', () => {
    for (const theme of ['symbolic-light', 'symbolic-dark'] as const) {
      for (const state of TRAY_STATES) {
        const px = rasterize(trayArt(state, theme), 48);
        const colours = new Set<string>();
        for (let i = 0; i < px.length; i += 4) if (px[i + 3]! > 0) colours.add(`${px[i]},${px[i + 1]},${px[i + 2]}`);
        expect([...colours], `${theme} ${state}`).toHaveLength(1);
      }
    }
  });

  it('desktop entries name the app, its categories and how it starts', () => {
    const app = desktopEntry('onemount.desktop');
    expect(app).toMatchObject({ Type: 'Application', Name: 'OneMount', Icon: 'onemount', Categories: 'Network;FileTransfer;', Terminal: 'false' });
    expect(app.Exec).toMatch(/^onemount-desktop\b/);
    const auto = desktopEntry('onemount-autostart.desktop');
    expect(auto).toMatchObject({ Type: 'Application', Exec: 'onemount-desktop --hidden', Categories: 'Network;FileTransfer;' });
  });

  it('the systemd user unit runs the engine daemon and stops it with SIGTERM', () => {
    const unit = readFileSync(path.join(ASSETS, 'onemount-engine@.service'), 'utf8');
    expect(unit).toMatch(/^ExecStart=.*\bonemount daemon \$\{ONEMOUNT_MOUNTPOINT\} --account %i/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    expect(unit).toMatch(/^Environment=MALLOC_ARENA_MAX=2$/m);
    expect(unit).toMatch(/^WantedBy=default.target$/m);
  });
});
