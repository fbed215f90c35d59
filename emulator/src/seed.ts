/**
 * Seeding: generated trees (N folders × M files, images, one huge folder, one large file), a local
 * directory, and the demo drive. Generated file bytes are synthetic (nothing written to disk) except
 * images, which are real PNGs so thumbnails have something to describe.
 */
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { syntheticRef, type ContentHashes } from './content-store.ts';
import type { EmulatorState } from './state.ts';
import { renderPng } from './thumbnails.ts';

export interface GenerateSpec {
  /** Folder (path below the root, created if missing) that receives the tree. Default: the root. */
  under?: string;
  folders?: number;
  filesPerFolder?: number;
  /** Size of each generated file, or [min, max] for a spread. */
  fileSize?: number | [number, number];
  /** PNG images in `Photos/`. */
  images?: number;
  /** Entries in one folder `Big/` (e.g. 10 000). */
  bigFolder?: number;
  /** Size in bytes of `large.bin` (e.g. 1 GiB). */
  largeFile?: number;
  /** Folders nest this deep (each folder holds the next level). */
  depth?: number;
  /** Deterministic output for the same seed. */
  seed?: number;
  /** Generated file names: `${prefix}${n}${extension}` (default `file-00000.txt`). */
  prefix?: string;
  extension?: string;
}

export interface SeedResult {
  folders: number;
  files: number;
  bytes: number;
  ms: number;
}

type Entry = Parameters<EmulatorState['drive']['bulkInsert']>[0][number];

/** A small deterministic PRNG (mulberry32), so a seed reproduces a tree. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function ensureFolder(emu: EmulatorState, under: string | undefined): Promise<string> {
  let id = emu.drive.rootId;
  for (const seg of (under ?? '').split('/').filter(Boolean)) {
    const existing = emu.drive.child(id, seg);
    id = existing ? existing.id : emu.drive.createFolder(id, seg, 'fail').row.id;
  }
  return id;
}

export async function generate(emu: EmulatorState, spec: GenerateSpec): Promise<SeedResult> {
  const started = Date.now();
  const rnd = prng(spec.seed ?? 42);
  const parentId = await ensureFolder(emu, spec.under);
  const entries: Entry[] = [];
  const sizeOf = () => {
    const s = spec.fileSize ?? [1024, 64 * 1024];
    return typeof s === 'number' ? s : Math.floor(s[0] + rnd() * (s[1] - s[0]));
  };
  let synth = 0;
  const file = async (key: string, parentKey: string | null, name: string, size: number): Promise<void> => {
    const ref = syntheticRef(Math.floor(rnd() * 1e9) + synth++);
    entries.push({ key, parentKey, name, kind: 'file', size, ref, hashes: await emu.content.hashesOf(ref, size) });
  };
  const folders = spec.folders ?? 0;
  const depth = Math.max(1, spec.depth ?? 1);
  for (let f = 0; f < folders; f++) {
    let parentKey: string | null = null;
    for (let d = 0; d < depth; d++) {
      const key = `f${f}/${d}`;
      entries.push({ key, parentKey, name: d === 0 ? `Folder ${String(f).padStart(4, '0')}` : `Level ${d}`, kind: 'folder' });
      parentKey = key;
    }
    for (let i = 0; i < (spec.filesPerFolder ?? 0); i++) await file(`f${f}/file${i}`, parentKey, `${spec.prefix ?? 'file-'}${String(i).padStart(5, '0')}${spec.extension ?? '.txt'}`, sizeOf());
  }
  if (spec.bigFolder) {
    entries.push({ key: 'big', parentKey: null, name: 'Big', kind: 'folder' });
    for (let i = 0; i < spec.bigFolder; i++) await file(`big/${i}`, 'big', `entry-${String(i).padStart(6, '0')}.dat`, sizeOf());
  }
  if (spec.largeFile) await file('large', null, 'large.bin', spec.largeFile);
  emu.drive.bulkInsert(entries, parentId);
  let bytes = entries.reduce((n, e) => n + (e.size ?? 0), 0);
  let files = entries.filter((e) => e.kind === 'file').length;
  let folderCount = entries.length - files;
  if (spec.images) {
    const photos = await ensureFolder(emu, [spec.under, 'Photos'].filter(Boolean).join('/'));
    folderCount++;
    for (let i = 0; i < spec.images; i++) {
      const w = 640 + Math.floor(rnd() * 1280);
      const h = 480 + Math.floor(rnd() * 960);
      const png = renderPng(w, h, [Math.floor(rnd() * 255), Math.floor(rnd() * 255), Math.floor(rnd() * 255)]);
      const size = await putBytes(emu, photos, `IMG_${String(i).padStart(4, '0')}.png`, png);
      bytes += size;
      files++;
    }
  }
  return { folders: folderCount, files, bytes, ms: Date.now() - started };
}

/** Writes real bytes as a new file (replacing a same-named one). */
export async function putBytes(
  emu: EmulatorState,
  parentId: string,
  name: string,
  data: Buffer | NodeJS.ReadableStream,
  /** Runs in the same tick as the commit, so it sees exactly what the write replaces. */
  beforeCommit?: () => void,
): Promise<number> {
  const source: Iterable<Uint8Array> | AsyncIterable<Uint8Array> = Buffer.isBuffer(data) ? [data] : (data as AsyncIterable<Uint8Array>);
  const ingested = await emu.content.ingest(source);
  const ref = await emu.content.adopt(ingested.file);
  try {
    beforeCommit?.();
    emu.drive.commitContent({ parentId, name }, { ref, size: ingested.size, hashes: ingested.hashes }, { behavior: 'replace' });
  } catch (e) {
    await emu.content.remove(ref);
    throw e;
  }
  await emu.flushGarbage();
  return ingested.size;
}

/** Copies a local directory tree into the drive (below `under`). */
export async function fromDirectory(emu: EmulatorState, dir: string, under?: string): Promise<SeedResult> {
  const started = Date.now();
  const result: SeedResult = { folders: 0, files: 0, bytes: 0, ms: 0 };
  const walk = async (local: string, parentId: string): Promise<void> => {
    for (const ent of await readdir(local, { withFileTypes: true })) {
      const full = path.join(local, ent.name);
      if (ent.isDirectory()) {
        const existing = emu.drive.child(parentId, ent.name);
        const id = existing ? existing.id : emu.drive.createFolder(parentId, ent.name, 'fail').row.id;
        result.folders++;
        await walk(full, id);
      } else if (ent.isFile()) {
        result.bytes += await putBytes(emu, parentId, ent.name, createReadStream(full));
        result.files++;
      }
    }
  };
  if (!(await stat(dir)).isDirectory()) throw new Error(`${dir} is not a directory`);
  await walk(dir, await ensureFolder(emu, under));
  result.ms = Date.now() - started;
  return result;
}

const DEMO_TEXT: Record<string, string> = {
  'Documents/Welcome.md':
    '# Welcome to OneMount\n\nThis is the demo drive, served by the built-in OneDrive emulator.\n\n' +
    '- Open files: bytes are fetched on demand, only the ranges a program reads.\n' +
    '- Save files: they land locally first and upload in the background.\n' +
    '- Go offline: cached files keep working.\n',
  'Documents/Shopping list.txt': 'coffee\nbread\napples\nmore coffee\n',
  'Documents/Projects/OneMount/notes.txt': 'Remember: never block the FUSE loop.\n',
  'Documents/Projects/OneMount/todo.md': '- [x] emulator\n- [ ] world domination\n',
};

/** The drive `onemount demo` mounts: documents, photos, music, a video, a big folder. */
export async function seedDemo(emu: EmulatorState): Promise<SeedResult> {
  const started = Date.now();
  if (emu.drive.childCount(emu.drive.rootId) > 0) return { folders: 0, files: 0, bytes: 0, ms: 0 };
  let files = 0;
  let bytes = 0;
  for (const [p, text] of Object.entries(DEMO_TEXT)) {
    const parts = p.split('/');
    const parent = await ensureFolder(emu, parts.slice(0, -1).join('/'));
    bytes += await putBytes(emu, parent, parts[parts.length - 1]!, Buffer.from(text));
    files++;
  }
  const photos = await generate(emu, { images: 12, seed: 7 });
  const music = await generate(emu, { under: 'Music', folders: 3, filesPerFolder: 8, fileSize: [3_000_000, 9_000_000], seed: 11, prefix: 'Track ', extension: '.mp3' });
  const archive = await generate(emu, { under: 'Archive', bigFolder: 2000, fileSize: [200, 20_000], seed: 13 });
  const video = await ensureFolder(emu, 'Videos');
  const ref = syntheticRef(20260101);
  const size = 256 * 1024 * 1024;
  const hashes: ContentHashes = await emu.content.hashesOf(ref, size);
  emu.drive.bulkInsert([{ key: 'v', parentKey: null, name: 'Holiday 2026.mp4', kind: 'file', size, ref, hashes }], video);
  return {
    folders: photos.folders + music.folders + archive.folders + 6,
    files: files + photos.files + music.files + archive.files + 1,
    bytes: bytes + photos.bytes + music.bytes + archive.bytes + size,
    ms: Date.now() - started,
  };
}
