/** ThumbnailCache against the emulator: thumbnails listed through Graph, bytes from the storage host. */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { putBytes } from '../../emulator/src/seed.ts';
import { renderPng } from '../../emulator/src/thumbnails.ts';
import { createMemoryLogger } from '../base/logger.ts';
import { GraphClient } from '../graph/client.ts';
import { StaticTokenProvider } from '../graph/token-provider.ts';
import { TaskRegistry } from '../lifecycle/task-registry.ts';
import { openTempStore, type TempStore } from '../store/testing/temp-store.ts';
import type { StoredItem } from '../store/index.ts';
import { isImageName, ThumbnailCache } from './thumbnail-cache.ts';

let emu: EmulatorHandle;
let graph: GraphClient;
let temp: TempStore;
let cacheDir: string;
let tasks: TaskRegistry;
let thumbs: ThumbnailCache;
let seq = 0;

beforeAll(async () => {
  emu = await startEmulator();
  graph = new GraphClient({ baseUrl: emu.apiUrl, tokenProvider: new StaticTokenProvider('emulator-token-not-a-secret-1234567890'), requestTimeoutMs: 10_000, maxRetries: 1, retryBaseMs: 5, retryMaxMs: 20 });
});
afterAll(async () => {
  await graph.close();
  await emu.close();
});
beforeEach(() => {
  temp = openTempStore();
  temp.store.items.upsert({ id: 'ROOT', parentId: null, name: 'root', kind: 'folder', size: 0, ctimeMs: 1, mtimeMs: 1 });
  cacheDir = mkdtempSync(join(tmpdir(), 'onemount-thumbs-'));
  const { logger } = createMemoryLogger('debug', 'thumbs-test');
  tasks = new TaskRegistry({ logger });
  thumbs = new ThumbnailCache({ graph, cacheDir, tasks, logger });
});
afterEach(async () => {
  await thumbs.stop();
  await tasks.stopAll(2000);
  // No bearer token may ever reach the storage host.
  expect(emu.emulator.log.clientFaults().filter((f) => f.kind === 'authorization-on-storage')).toEqual([]);
  temp.dispose();
  rmSync(cacheDir, { recursive: true, force: true });
});

/** A file on the server and its row in the store. */
async function serverFile(name: string, data: Buffer): Promise<StoredItem> {
  await putBytes(emu.emulator, emu.emulator.drive.rootId, name, data);
  const json = emu.emulator.admin.itemJson(`/${name}`) as { id: string; size: number; eTag: string; cTag: string };
  return temp.store.items.upsert({ id: json.id, parentId: 'ROOT', name, kind: 'file', size: json.size, etag: json.eTag, ctag: json.cTag, ctimeMs: 1, mtimeMs: 1 });
}

function pngSize(file: string): { w: number; h: number } {
  const b = readFileSync(file);
  expect(b.subarray(1, 4).toString('latin1')).toBe('PNG');
  return { w: b.readUInt32BE(16), h: b.readUInt32BE(20) };
}

describe('ThumbnailCache', () => {
  it('fetches a picture once and serves it from the cache afterwards', async () => {
    const item = await serverFile(`photo-${++seq}.png`, renderPng(1000, 500, [200, 10, 10]));
    const small = await thumbs.get(item, 'small');
    expect(small).toBe(thumbs.fileOf(item, 'small'));
    expect(small!.startsWith(join(cacheDir, 'thumbnails'))).toBe(true);
    expect(pngSize(small!)).toEqual({ w: 96, h: 48 });
    const since = emu.emulator.log.lastSeq;
    const [again, concurrent] = await Promise.all([thumbs.get(item, 'small'), thumbs.get(item, 'small')]);
    expect([again, concurrent]).toEqual([small, small]);
    expect(emu.emulator.log.list({ since })).toEqual([]);
    expect(pngSize((await thumbs.get(item, 'medium'))!)).toEqual({ w: 176, h: 88 });
  });

  it('answers undefined for a file without thumbnails', async () => {
    const item = await serverFile(`notes-${++seq}.txt`, Buffer.from('not a picture'));
    expect(await thumbs.get(item, 'small')).toBeUndefined();
    expect(existsSync(thumbs.fileOf(item, 'small'))).toBe(false);
  });

  it('keeps only the thumbnails of the current version', async () => {
    const name = `changing-${++seq}.png`;
    const first = await serverFile(name, renderPng(300, 300, [0, 0, 255]));
    const old = (await thumbs.get(first, 'small'))!;
    const second = await serverFile(name, renderPng(400, 200, [0, 255, 0]));
    const current = (await thumbs.get(second, 'small'))!;
    expect(current).not.toBe(old);
    expect(pngSize(current)).toEqual({ w: 96, h: 48 });
    expect(readdirSync(dirname(current))).toEqual([current.slice(dirname(current).length + 1)]);
  });

  it('prefetches pictures in the background as a named task', async () => {
    const picture = await serverFile(`bg-${++seq}.png`, renderPng(200, 200, [9, 9, 9]));
    const text = await serverFile(`bg-${seq}.txt`, Buffer.from('text'));
    thumbs.start();
    expect(tasks.list().map((t) => t.name)).toContain('thumbnails');
    thumbs.prefetch([picture, text]);
    expect(thumbs.queued).toBe(1);
    await expect.poll(() => existsSync(thumbs.fileOf(picture, 'medium')), { timeout: 10_000 }).toBe(true);
    expect(existsSync(thumbs.fileOf(picture, 'small'))).toBe(true);
    await thumbs.stop();
    expect(tasks.list().map((t) => t.name)).not.toContain('thumbnails');
  });

  it('knows picture names', () => {
    expect(['a.JPG', 'b.jpeg', 'c.png', 'd.heic', 'e.webp'].every(isImageName)).toBe(true);
    expect(['a.txt', 'png', 'b.png.txt'].some(isImageName)).toBe(false);
  });
});
