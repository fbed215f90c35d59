/**
 * Draws OneMount's icons — the tray states of docs/ui.md (light and dark variants) and the app icon — as
 * SVG sources and as PNGs, from one description of simple shapes on a 24-unit grid, so the SVG and
 * the PNG can never disagree. No image library: shapes are sampled 4×4 per pixel into an RGBA
 * buffer and encoded as PNG with node:zlib.
 *
 *   node --import tsx assets/render-icons.ts      (rewrites assets/tray/ and assets/icons/)
 *
 * Tray files: tray/tray-<state>-<theme>.svg and tray/tray-<state>-<theme>-<size>.png, where a
 * `light` icon is for a light panel (dark glyph) and a `dark` one for a dark panel (light glyph).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { deflateSync } from 'node:zlib';

type Shape =
  | { kind: 'circle'; cx: number; cy: number; r: number }
  | { kind: 'rect'; x: number; y: number; w: number; h: number }
  /** A stroke with round caps. */
  | { kind: 'line'; x1: number; y1: number; x2: number; y2: number; width: number }
  | { kind: 'polygon'; points: ReadonlyArray<readonly [number, number]> };

/**
 * A glyph: `base` shapes in one colour, `cuts` erased from them, then `overlay` painted on top in
 * order, then `holes` erased from everything (a symbolic icon's badge symbol is a hole in the badge).
 */
interface Art {
  base: Shape[];
  baseColor: string;
  cuts: Shape[];
  overlay: Array<{ shape: Shape; color: string }>;
  holes?: Shape[];
  /** Design grid size (units); the picture is scaled to the pixel size. */
  grid: number;
}

const circle = (cx: number, cy: number, r: number): Shape => ({ kind: 'circle', cx, cy, r });
const rect = (x: number, y: number, w: number, h: number): Shape => ({ kind: 'rect', x, y, w, h });
const line = (x1: number, y1: number, x2: number, y2: number, width: number): Shape => ({ kind: 'line', x1, y1, x2, y2, width });
const polygon = (...points: Array<readonly [number, number]>): Shape => ({ kind: 'polygon', points });

const CLOUD: Shape[] = [circle(7, 14.5, 4.5), circle(12, 10.5, 6), circle(17.5, 14.5, 4.5), rect(7, 12, 10.5, 7)];
const BADGE = { cx: 17.5, cy: 17.5, r: 5.6 };
const BADGE_GAP = circle(BADGE.cx, BADGE.cy, BADGE.r + 1.4);

export const TRAY_STATES = ['up-to-date', 'syncing', 'paused', 'offline', 'throttled', 'attention', 'signed-out'] as const;
export type TrayState = (typeof TRAY_STATES)[number];
/**
 * `light`/`dark`: full-colour icons for light or dark panels. `symbolic-light`/`symbolic-dark`: one
 * colour, as GNOME's and KDE's tray hosts draw their own icons (badge symbols are holes).
 */
export type Theme = 'light' | 'dark' | 'symbolic-light' | 'symbolic-dark';
export const THEMES: readonly Theme[] = ['light', 'dark', 'symbolic-light', 'symbolic-dark'];
export const TRAY_SIZES = [16, 22, 24, 32, 48] as const;
export const APP_ICON_SIZES = [16, 24, 32, 48, 64, 128, 256, 512] as const;

const PALETTE: Record<'light' | 'dark', { glyph: string; muted: string; sync: string; pause: string; warn: string; alert: string; onBadge: string }> = {
  light: { glyph: '#242424', muted: '#8a8a8a', sync: '#0f6cbd', pause: '#616161', warn: '#c47f00', alert: '#c50f1f', onBadge: '#ffffff' },
  dark: { glyph: '#f5f5f5', muted: '#9e9e9e', sync: '#62abf5', pause: '#c8c8c8', warn: '#f2b544', alert: '#ff6b6b', onBadge: '#1b1b1b' },
};
/** The one colour of a symbolic icon (Adwaita's foreground on light and on dark panels). */
const SYMBOLIC: Record<'symbolic-light' | 'symbolic-dark', string> = { 'symbolic-light': '#2e3436', 'symbolic-dark': '#ffffff' };

function badged(baseColor: string, badgeColor: string, symbol: Shape[], symbolColor: string): Art {
  return {
    base: CLOUD,
    baseColor,
    cuts: [BADGE_GAP],
    overlay: [{ shape: circle(BADGE.cx, BADGE.cy, BADGE.r), color: badgeColor }, ...symbol.map((shape) => ({ shape, color: symbolColor }))],
    grid: 24,
  };
}

/** The symbolic variant: every colour is the one foreground; badge symbols are cut out of the badge. */
function symbolicArt(state: TrayState, color: string): Art {
  const colored = trayArt(state, 'light');
  const [badge, ...symbol] = colored.overlay;
  const isBadged = colored.cuts.includes(BADGE_GAP);
  return {
    ...colored,
    baseColor: color,
    overlay: isBadged && badge ? [{ shape: badge.shape, color }] : colored.overlay.map((o) => ({ shape: o.shape, color })),
    ...(isBadged ? { holes: symbol.map((o) => o.shape) } : {}),
    // Signed out is the muted cloud in colour; in one colour, a cloud with a bar cut out ("none").
    ...(state === 'signed-out' ? { cuts: [rect(8, 12.6, 8, 2)] } : {}),
  };
}

export function trayArt(state: TrayState, theme: Theme): Art {
  if (theme === 'symbolic-light' || theme === 'symbolic-dark') return symbolicArt(state, SYMBOLIC[theme]);
  const p = PALETTE[theme];
  switch (state) {
    case 'up-to-date':
      return { base: CLOUD, baseColor: p.glyph, cuts: [], overlay: [], grid: 24 };
    case 'signed-out':
      return { base: CLOUD, baseColor: p.muted, cuts: [], overlay: [], grid: 24 };
    case 'offline':
      return { base: CLOUD, baseColor: p.glyph, cuts: [line(3, 3.5, 21, 21.5, 4.6)], overlay: [{ shape: line(3, 3.5, 21, 21.5, 1.8), color: p.glyph }], grid: 24 };
    case 'syncing':
      return badged(p.glyph, p.sync, [polygon([15.7, 13.6], [13.6, 16.2], [17.8, 16.2]), line(15.7, 15.6, 15.7, 20.8, 1.4), polygon([19.3, 21.4], [17.2, 18.8], [21.4, 18.8]), line(19.3, 14.2, 19.3, 19.4, 1.4)], p.onBadge);
    case 'paused':
      return badged(p.glyph, p.pause, [rect(15.2, 14.6, 1.8, 5.8), rect(18, 14.6, 1.8, 5.8)], p.onBadge);
    case 'throttled':
      return badged(p.glyph, p.warn, [line(17.5, 17.5, 17.5, 14.2, 1.5), line(17.5, 17.5, 20.1, 18.9, 1.5)], p.onBadge);
    case 'attention':
      return badged(p.glyph, p.alert, [line(17.5, 14.3, 17.5, 18, 1.8), circle(17.5, 20.6, 1.05)], p.onBadge);
  }
}

/** The app icon: a white cloud on a blue disc (desktop entry, notifications, window icon). */
export function appArt(): Art {
  const s = (v: number) => 3 + v * 0.75; // the cloud, scaled into the disc
  return {
    base: [circle(12, 12, 11.5)],
    baseColor: '#0f6cbd',
    cuts: [],
    overlay: CLOUD.map((c) => ({
      shape: c.kind === 'circle' ? circle(s(c.cx), s(c.cy) - 1, c.r * 0.75) : c.kind === 'rect' ? rect(s(c.x), s(c.y) - 1, c.w * 0.75, c.h * 0.75) : c,
      color: '#ffffff',
    })),
    grid: 24,
  };
}

// ---- SVG ------------------------------------------------------------------------------------------

function svgShape(s: Shape, fill: string): string {
  switch (s.kind) {
    case 'circle':
      return `<circle cx="${s.cx}" cy="${s.cy}" r="${s.r}" fill="${fill}"/>`;
    case 'rect':
      return `<rect x="${s.x}" y="${s.y}" width="${s.w}" height="${s.h}" fill="${fill}"/>`;
    case 'line':
      return `<line x1="${s.x1}" y1="${s.y1}" x2="${s.x2}" y2="${s.y2}" stroke="${fill}" stroke-width="${s.width}" stroke-linecap="round"/>`;
    case 'polygon':
      return `<polygon points="${s.points.map(([x, y]) => `${x},${y}`).join(' ')}" fill="${fill}"/>`;
  }
}

export function toSvg(art: Art, title: string): string {
  const g = art.grid;
  const lines = [`<svg xmlns="http://www.w3.org/2000/svg" width="${g}" height="${g}" viewBox="0 0 ${g} ${g}">`, `  <title>${title}</title>`];
  if (art.cuts.length > 0) {
    lines.push('  <mask id="cut">', `    <rect width="${g}" height="${g}" fill="#fff"/>`, ...art.cuts.map((c) => `    ${svgShape(c, '#000')}`), '  </mask>');
    lines.push('  <g mask="url(#cut)">', ...art.base.map((s) => `    ${svgShape(s, art.baseColor)}`), '  </g>');
  } else {
    lines.push(...art.base.map((s) => `  ${svgShape(s, art.baseColor)}`));
  }
  if (art.holes && art.holes.length > 0) {
    lines.push('  <mask id="holes">', `    <rect width="${g}" height="${g}" fill="#fff"/>`, ...art.holes.map((h) => `    ${svgShape(h, '#000')}`), '  </mask>');
    lines.push('  <g mask="url(#holes)">', ...art.overlay.map((o) => `    ${svgShape(o.shape, o.color)}`), '  </g>');
  } else {
    lines.push(...art.overlay.map((o) => `  ${svgShape(o.shape, o.color)}`));
  }
  lines.push('</svg>', '');
  return lines.join('\n');
}

// ---- raster ---------------------------------------------------------------------------------------

function inside(s: Shape, x: number, y: number): boolean {
  switch (s.kind) {
    case 'circle':
      return (x - s.cx) ** 2 + (y - s.cy) ** 2 <= s.r ** 2;
    case 'rect':
      return x >= s.x && x <= s.x + s.w && y >= s.y && y <= s.y + s.h;
    case 'line': {
      const dx = s.x2 - s.x1;
      const dy = s.y2 - s.y1;
      const t = Math.max(0, Math.min(1, ((x - s.x1) * dx + (y - s.y1) * dy) / (dx * dx + dy * dy)));
      return (x - s.x1 - t * dx) ** 2 + (y - s.y1 - t * dy) ** 2 <= (s.width / 2) ** 2;
    }
    case 'polygon': {
      let hit = false;
      const pts = s.points;
      for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
        const [xi, yi] = pts[i]!;
        const [xj, yj] = pts[j]!;
        if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
      }
      return hit;
    }
  }
}

function rgb(hex: string): [number, number, number] {
  const n = Number.parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

const SAMPLES = 4;

/** Straight-alpha RGBA pixels, `size`×`size`. */
export function rasterize(art: Art, size: number): Uint8Array {
  const out = new Uint8Array(size * size * 4);
  const scale = art.grid / size;
  const base = rgb(art.baseColor);
  const overlays = art.overlay.map((o) => ({ shape: o.shape, color: rgb(o.color) }));
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      // Premultiplied accumulation over the sub-samples.
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sy = 0; sy < SAMPLES; sy++) {
        for (let sx = 0; sx < SAMPLES; sx++) {
          const x = (px + (sx + 0.5) / SAMPLES) * scale;
          const y = (py + (sy + 0.5) / SAMPLES) * scale;
          let color: [number, number, number] | undefined;
          if (art.base.some((s) => inside(s, x, y)) && !art.cuts.some((s) => inside(s, x, y))) color = base;
          for (const o of overlays) if (inside(o.shape, x, y)) color = o.color;
          if (color && art.holes?.some((h) => inside(h, x, y))) color = undefined;
          if (color) {
            r += color[0];
            g += color[1];
            b += color[2];
            a++;
          }
        }
      }
      const i = (py * size + px) * 4;
      if (a > 0) {
        out[i] = Math.round(r / a);
        out[i + 1] = Math.round(g / a);
        out[i + 2] = Math.round(b / a);
        out[i + 3] = Math.round((a / (SAMPLES * SAMPLES)) * 255);
      }
    }
  }
  return out;
}

// ---- PNG ------------------------------------------------------------------------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const byte of bytes) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** An 8-bit RGBA PNG (colour type 6), every row with filter 0. */
export function encodePng(rgba: Uint8Array, width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8);
  const raw = Buffer.alloc((width * 4 + 1) * height);
  for (let y = 0; y < height; y++) raw.set(rgba.subarray(y * width * 4, (y + 1) * width * 4), y * (width * 4 + 1) + 1);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw, { level: 9 })), chunk('IEND', new Uint8Array(0))]);
}

// ---- files ----------------------------------------------------------------------------------------

function renderAll(assetsDir: string): number {
  let files = 0;
  const write = (rel: string, data: string | Buffer) => {
    const file = path.join(assetsDir, rel);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, data);
    files++;
  };
  for (const state of TRAY_STATES) {
    for (const theme of THEMES) {
      const art = trayArt(state, theme);
      write(`tray/tray-${state}-${theme}.svg`, toSvg(art, `OneMount: ${state}`));
      for (const size of TRAY_SIZES) write(`tray/tray-${state}-${theme}-${size}.png`, encodePng(rasterize(art, size), size, size));
    }
  }
  const app = appArt();
  write('onemount.svg', toSvg(app, 'OneMount'));
  write('onemount.png', encodePng(rasterize(app, 512), 512, 512));
  for (const size of APP_ICON_SIZES) write(`icons/${size}x${size}.png`, encodePng(rasterize(app, size), size, size));
  return files;
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const n = renderAll(import.meta.dirname);
  process.stdout.write(`Wrote ${n} icon files under ${import.meta.dirname}\n`);
}
