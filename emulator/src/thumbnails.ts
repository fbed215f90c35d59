/**
 * Thumbnails for images (docs/graph-api.md §9): small 96 px, medium 176 px, large 800 px on the longest
 * edge. Each size is rendered once per content version into the data directory and then served from
 * there; the picture is a flat colour derived from the content hash (enough for a client to cache
 * and show something).
 */
import { deflateSync, crc32 } from 'node:zlib';
import { access, link, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { EmulatorState } from './state.ts';
import type { ItemRow } from './drive-db.ts';
import { badRequest, notFound } from './errors.ts';
import { sendEmpty, sendJson, type Ctx } from './http-util.ts';

export const THUMBNAIL_SIZES = { small: 96, medium: 176, large: 800 } as const;
export type ThumbnailSize = keyof typeof THUMBNAIL_SIZES;

const URL_TTL_MS = 60 * 60 * 1000;

function isImage(row: ItemRow): boolean {
  return row.kind === 'file' && (row.mime ?? '').startsWith('image/');
}

/** Width and height of the source: read from a PNG header, else a 4:3 default. */
async function sourceSize(emu: EmulatorState, row: ItemRow): Promise<{ w: number; h: number }> {
  if (row.content_ref && row.mime === 'image/png' && row.size >= 24) {
    const head: Buffer[] = [];
    for await (const c of emu.content.open(row.content_ref, 0, 24)) head.push(c as Buffer);
    const b = Buffer.concat(head);
    if (b.subarray(12, 16).toString('latin1') === 'IHDR') return { w: b.readUInt32BE(16), h: b.readUInt32BE(20) };
  }
  return { w: 1024, h: 768 };
}

function fit(src: { w: number; h: number }, edge: number): { width: number; height: number } {
  const scale = Math.min(1, edge / Math.max(src.w, src.h));
  return { width: Math.max(1, Math.round(src.w * scale)), height: Math.max(1, Math.round(src.h * scale)) };
}

async function describe(emu: EmulatorState, ctx: Ctx, row: ItemRow, size: ThumbnailSize): Promise<{ width: number; height: number; url: string }> {
  const dims = fit(await sourceSize(emu, row), THUMBNAIL_SIZES[size]);
  const fields: Record<string, string | number> = { i: row.id, v: row.ctag_seq, s: size, w: dims.width, h: dims.height };
  // An item of the other user's drive (shares.ts): the URL says which drive serves it.
  if (emu.shares.isOther(emu)) fields.d = emu.drive.driveId;
  const url = emu.signedUrl('th', fields, URL_TTL_MS, ctx.storageBase);
  return { ...dims, url };
}

export async function listThumbnails(emu: EmulatorState, ctx: Ctx, row: ItemRow): Promise<void> {
  if (!isImage(row)) {
    sendJson(ctx, 200, { value: [] });
    return;
  }
  const set: Record<string, unknown> = { id: '0' };
  for (const size of Object.keys(THUMBNAIL_SIZES) as ThumbnailSize[]) set[size] = await describe(emu, ctx, row, size);
  sendJson(ctx, 200, { value: [set] });
}

/** `thumbnails/{set}/{size}` and `thumbnails/{set}/{size}/content`. */
export async function thumbnailRoute(emu: EmulatorState, ctx: Ctx, row: ItemRow, rest: string): Promise<void> {
  const m = /^(\d+)\/(small|medium|large)(\/content)?$/.exec(rest);
  if (!m) throw badRequest(`Unsupported thumbnail request '${rest}'`, 'invalidRequest');
  if (!isImage(row) || m[1] !== '0') throw notFound('Thumbnail not found');
  const info = await describe(emu, ctx, row, m[2] as ThumbnailSize);
  if (m[3]) sendEmpty(ctx, 302, { location: info.url });
  else sendJson(ctx, 200, info);
}

export async function serveThumbnail(emu: EmulatorState, ctx: Ctx, fields: Record<string, string | number>): Promise<void> {
  const row = emu.drive.row(String(fields.i));
  if (!row || row.deleted || row.ctag_seq !== Number(fields.v)) throw notFound('Thumbnail not found');
  const dir = path.join(emu.dataDir, 'thumbs');
  const file = path.join(dir, `${encodeURIComponent(row.id)}-${row.ctag_seq}-${String(fields.s)}.png`);
  const exists = await access(file).then(() => true, () => false);
  if (!exists) {
    await mkdir(dir, { recursive: true });
    // Rendered to a temp file and published with link(): concurrent first requests never read a
    // half-written picture, and only the one whose link lands counts as the render.
    const temp = emu.content.tempPath();
    await writeFile(temp, renderPng(Number(fields.w), Number(fields.h), colourOf(row.quickxor ?? row.id)));
    try {
      await link(temp, file);
      emu.thumbnailRenders++;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    } finally {
      await rm(temp, { force: true });
    }
  }
  const bytes = await readFile(file);
  ctx.res.writeHead(200, { 'content-type': 'image/png', 'content-length': String(bytes.length) });
  ctx.res.end(bytes);
}

function colourOf(seed: string): [number, number, number] {
  const b = Buffer.from(seed, 'base64');
  return [b[0] ?? 90, b[1] ?? 140, b[2] ?? 200];
}

/** A flat-colour RGB PNG. */
export function renderPng(width: number, height: number, rgb: [number, number, number]): Buffer {
  const row = Buffer.alloc(1 + width * 3);
  for (let x = 0; x < width; x++) row.set(rgb, 1 + x * 3);
  const raw = Buffer.concat(Array.from({ length: height }, () => row));
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([len, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // truecolour
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
