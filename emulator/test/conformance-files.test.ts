/**
 * Conformance over real HTTP (docs/graph-api.md §2.2, §8.4, §9): hashes per mode, the hide-hashes knob,
 * thumbnails rendered once per content version, copy through a monitor, and package items.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { quickXorHash } from '../../src-main/graph/quickxor.ts';
import { syntheticRef } from '../src/content-store.ts';
import { renderPng } from '../src/thumbnails.ts';
import { admin, api, apiJson, apiSend, errorOf, pseudoRandomBytes, storage, storageJson, testClock, useEmulator, type EmulatorHandle } from './helpers.ts';
import { getById, getItem, mkdirp, MODES, put, ref, type Item, type Page } from './item-helpers.ts';

async function download(h: EmulatorHandle, id: string): Promise<Buffer> {
  const redirect = await api(h, `/me/drive/items/${encodeURIComponent(id)}/content`);
  expect(redirect.status).toBe(302);
  const res = await storage(redirect.headers.get('location')!);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

function pngSize(bytes: Buffer): { width: number; height: number } {
  expect(bytes.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  expect(bytes.subarray(12, 16).toString('latin1')).toBe('IHDR');
  expect(bytes.subarray(-8, -4).toString('latin1')).toBe('IEND');
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

describe.each(MODES)('hashes (%s)', (mode) => {
  const clock = testClock();
  const emu = useEmulator({ mode, now: clock.now });

  it.each([0, 1, 11, 1000, 70_000])('a %i-byte file carries the hashes of its mode, computed over its bytes', async (size) => {
    const h = emu();
    const bytes = pseudoRandomBytes(size, size + 3);
    const up = await put(h, `hash/f-${size}.bin`, bytes);
    expect(up.status).toBe(201);
    const hashes = (await getById(h, up.body.id)).body.file!.hashes;
    expect(hashes.quickXorHash).toBe(quickXorHash(bytes));
    if (mode === 'personal') {
      expect(Object.keys(hashes).sort()).toEqual(['quickXorHash', 'sha256Hash']);
      expect(hashes.sha256Hash).toBe(createHash('sha256').update(bytes).digest('hex').toUpperCase());
    } else {
      expect(Object.keys(hashes)).toEqual(['quickXorHash']);
    }
    expect(up.body.file!.hashes).toEqual(hashes);
  });

  it('the published vector: "hello world"', async () => {
    const up = await put(emu(), 'hash/hello.txt', 'hello world');
    expect(up.body.file!.hashes.quickXorHash).toBe('aCgDG9jwBhDc4Q1yawMZAAAAAAA=');
    expect(up.body.file!.mimeType).toBe('text/plain');
  });

  it('seeded (synthetic) files carry hashes of the bytes they serve', async () => {
    const h = emu();
    await admin(h, 'POST', '/seed', { under: 'seeded', folders: 1, filesPerFolder: 2, fileSize: 5000 });
    const listing = await apiJson<Page>(h, `${ref('seeded/Folder 0000')}/children`);
    expect(listing.body.value).toHaveLength(2);
    for (const f of listing.body.value) expect(f.file!.hashes.quickXorHash).toBe(quickXorHash(await download(h, f.id)));
  });

  it('the hideHashesMs knob omits hashes for a while after a write', async () => {
    const h = emu();
    expect((await admin(h, 'POST', '/knobs', { hideHashesMs: 400 })).status).toBe(200);
    try {
      const up = await put(h, 'hidden/f.txt', 'soon hashed');
      expect(up.body.file!.hashes).toEqual({});
      expect((await getById(h, up.body.id)).body.file!.hashes).toEqual({});
      clock.advance(400);
      expect((await getById(h, up.body.id)).body.file!.hashes.quickXorHash).toBe(quickXorHash(Buffer.from('soon hashed')));
    } finally {
      await admin(h, 'POST', '/knobs', { hideHashesMs: 0 });
    }
  });
});

describe.each(MODES)('thumbnails (%s)', (mode) => {
  const emu = useEmulator({ mode });

  it('an image gets small/medium/large sets of 96/176/800 px on the longest edge', async () => {
    const h = emu();
    const img = (await put(h, 'th/wide.png', renderPng(1000, 500, [10, 20, 30]))).body;
    expect(img.file!.mimeType).toBe('image/png');
    const { status, body } = await apiJson<{ value: Array<Record<string, { width: number; height: number; url: string }> & { id: string }> }>(
      h,
      `/me/drive/items/${encodeURIComponent(img.id)}/thumbnails`,
    );
    expect(status).toBe(200);
    expect(body.value).toHaveLength(1);
    const set = body.value[0]!;
    expect(set.id).toBe('0');
    expect(set.small).toMatchObject({ width: 96, height: 48 });
    expect(set.medium).toMatchObject({ width: 176, height: 88 });
    expect(set.large).toMatchObject({ width: 800, height: 400 });
    for (const s of [set.small!, set.medium!, set.large!]) expect(s.url.startsWith(h.storageUrl + '/')).toBe(true);

    const tall = (await put(h, 'th/tall.png', renderPng(300, 900, [1, 2, 3]))).body;
    const small = await apiJson<{ width: number; height: number; url: string }>(h, `/me/drive/items/${encodeURIComponent(tall.id)}/thumbnails/0/small`);
    expect(small.body).toMatchObject({ width: 32, height: 96 });
  });

  it('thumbnails/0/small/content redirects to the storage origin, which serves a PNG of that size', async () => {
    const h = emu();
    const img = (await put(h, 'thc/pic.png', renderPng(640, 480, [200, 100, 50]))).body;
    for (const [size, w, h2] of [
      ['small', 96, 72],
      ['medium', 176, 132],
      ['large', 640, 480],
    ] as const) {
      const res = await api(h, `/me/drive/items/${encodeURIComponent(img.id)}/thumbnails/0/${size}/content`);
      expect(res.status).toBe(302);
      const location = res.headers.get('location')!;
      expect(location.startsWith(h.storageUrl + '/')).toBe(true);
      const png = await storage(location);
      expect(png.status).toBe(200);
      expect(png.headers.get('content-type')).toBe('image/png');
      const bytes = Buffer.from(await png.arrayBuffer());
      expect(pngSize(bytes)).toEqual({ width: w, height: h2 });
    }
  });

  it('files that are not images, and folders, have no thumbnails', async () => {
    const h = emu();
    const txt = (await put(h, 'thn/notes.txt', 'text')).body;
    const dir = await mkdirp(h, 'thn/dir');
    for (const id of [txt.id, dir.id]) {
      const list = await apiJson<{ value: unknown[] }>(h, `/me/drive/items/${encodeURIComponent(id)}/thumbnails`);
      expect(list.status).toBe(200);
      expect(list.body.value).toEqual([]);
    }
    expect((await apiJson(h, `/me/drive/items/${encodeURIComponent(txt.id)}/thumbnails/0/small`)).status).toBe(404);
    expect((await apiJson(h, `/me/drive/items/${encodeURIComponent(txt.id)}/thumbnails/0/small/content`)).status).toBe(404);
  });

  it('each thumbnail is rendered once per content version and again after the content changes', async () => {
    const h = emu();
    const img = (await put(h, 'thr/r.png', renderPng(200, 200, [9, 9, 9]))).body;
    const thumbUrl = async () => {
      const res = await api(h, `/me/drive/items/${encodeURIComponent(img.id)}/thumbnails/0/medium/content`);
      expect(res.status).toBe(302);
      return res.headers.get('location')!;
    };
    const renders0 = h.emulator.thumbnailRenders;
    const first = await storage(await thumbUrl());
    expect(first.status).toBe(200);
    const firstBytes = Buffer.from(await first.arrayBuffer());
    expect(h.emulator.thumbnailRenders).toBe(renders0 + 1);
    const oldUrl = await thumbUrl();
    const again = Buffer.from(await (await storage(oldUrl)).arrayBuffer());
    expect(again).toEqual(firstBytes);
    expect(h.emulator.thumbnailRenders).toBe(renders0 + 1);

    await put(h, 'thr/r.png', renderPng(400, 100, [250, 0, 0]));
    expect((await storage(oldUrl)).status).toBe(404);
    const fresh = await storage(await thumbUrl());
    expect(fresh.status).toBe(200);
    expect(pngSize(Buffer.from(await fresh.arrayBuffer()))).toEqual({ width: 176, height: 44 });
    expect(h.emulator.thumbnailRenders).toBe(renders0 + 2);
  });

  it('concurrent first requests for one thumbnail render it once and all get the whole picture', async () => {
    const h = emu();
    const img = (await put(h, 'thx/x.png', renderPng(300, 150, [5, 6, 7]))).body;
    const small = await apiJson<{ url: string }>(h, `/me/drive/items/${encodeURIComponent(img.id)}/thumbnails/0/large`);
    const renders0 = h.emulator.thumbnailRenders;
    const all = await Promise.all(Array.from({ length: 6 }, async () => Buffer.from(await (await storage(small.body.url)).arrayBuffer())));
    for (const bytes of all) expect(pngSize(bytes)).toEqual({ width: 300, height: 150 });
    expect(h.emulator.thumbnailRenders).toBe(renders0 + 1);
  });

  it('a thumbnail URL needs no Authorization header', async () => {
    const h = emu();
    const img = (await put(h, 'tha/a.png', renderPng(50, 50, [0, 0, 0]))).body;
    const small = await apiJson<{ url: string }>(h, `/me/drive/items/${encodeURIComponent(img.id)}/thumbnails/0/small`);
    const before = h.emulator.log.clientFaults().length;
    expect((await storage(small.body.url)).status).toBe(200);
    expect(h.emulator.log.clientFaults()).toHaveLength(before);
  });
});

interface Monitor {
  operation: string;
  status: string;
  resourceId?: string;
  percentageComplete?: number;
  error?: { code: string };
}

async function waitForCopy(monitor: string): Promise<Monitor[]> {
  const seen: Monitor[] = [];
  for (let i = 0; i < 200; i++) {
    const m = await storageJson<Monitor>(monitor);
    expect(m.status).toBe(200);
    seen.push(m.body);
    if (m.body.status === 'completed' || m.body.status === 'failed') return seen;
    await sleep(20);
  }
  throw new Error(`copy did not finish: ${JSON.stringify(seen.at(-1))}`);
}

describe.each(MODES)('copy (%s)', (mode) => {
  const emu = useEmulator({ mode });

  it('202 with a monitor URL that reports inProgress, then completed with the new item; bytes are equal', async () => {
    const h = emu();
    const bytes = pseudoRandomBytes(5000, 77);
    const src = (await put(h, 'cp/src.bin', bytes)).body;
    const dest = await mkdirp(h, 'cp/dest');
    await admin(h, 'POST', '/knobs', { copyDelayMs: 150 });
    const res = await api(h, `/me/drive/items/${encodeURIComponent(src.id)}/copy`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', prefer: 'respond-async' },
      body: JSON.stringify({ parentReference: { id: dest.id }, name: 'copy.bin' }),
    });
    expect(res.status).toBe(202);
    const monitor = res.headers.get('location')!;
    expect(monitor.startsWith(h.storageUrl + '/')).toBe(true);
    const seen = await waitForCopy(monitor);
    expect(seen[0]).toMatchObject({ operation: 'ItemCopy', status: 'inProgress' });
    const done = seen.at(-1)!;
    expect(done.status).toBe('completed');
    const copy = (await getById(h, done.resourceId!)).body;
    expect(copy).toMatchObject({ name: 'copy.bin', size: 5000, parentReference: { id: dest.id } });
    expect(copy.id).not.toBe(src.id);
    expect(copy.file!.hashes.quickXorHash).toBe(src.file!.hashes.quickXorHash);
    expect(await download(h, copy.id)).toEqual(bytes);
    // The source is untouched and the two are independent afterwards.
    await put(h, 'cp/src.bin', 'changed');
    expect(await download(h, copy.id)).toEqual(bytes);
    await admin(h, 'POST', '/knobs', { copyDelayMs: 10 });
  });

  it('a folder copies with its whole subtree', async () => {
    const h = emu();
    await put(h, 'cpt/tree/a.txt', 'a');
    await put(h, 'cpt/tree/sub/b.txt', 'bb');
    const tree = await getItem(h, 'cpt/tree');
    const res = await apiSend(h, 'POST', `/me/drive/items/${encodeURIComponent(tree.id)}/copy`, { name: 'tree copy' });
    expect(res.status).toBe(202);
    const done = (await waitForCopy(res.headers.get('location')!)).at(-1)!;
    expect(done.status).toBe('completed');
    const copy = await getItem(h, 'cpt/tree copy');
    expect(copy).toMatchObject({ id: done.resourceId, size: 3, folder: { childCount: 2 } });
    expect((await download(h, (await getItem(h, 'cpt/tree copy/sub/b.txt')).id)).toString()).toBe('bb');
    expect((await getItem(h, 'cpt')).size).toBe(6);
  });

  it('a name clash fails through the monitor; B honours ?@microsoft.graph.conflictBehavior=rename, P does not', async () => {
    const h = emu();
    const src = (await put(h, 'cpc/same.txt', 'same')).body;
    const plain = await apiSend(h, 'POST', `/me/drive/items/${encodeURIComponent(src.id)}/copy`, {});
    expect(plain.status).toBe(202);
    const failed = (await waitForCopy(plain.headers.get('location')!)).at(-1)!;
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('nameAlreadyExists');

    const renamed = await apiSend(h, 'POST', `/me/drive/items/${encodeURIComponent(src.id)}/copy?@microsoft.graph.conflictBehavior=rename`, {});
    const end = (await waitForCopy(renamed.headers.get('location')!)).at(-1)!;
    if (mode === 'business') {
      expect(end.status).toBe('completed');
      expect((await getById(h, end.resourceId!)).body.name).toBe('same 1.txt');
    } else {
      expect(end.status).toBe('failed');
    }
  });

  it('copying into itself or a descendant, or into a file, is refused at once', async () => {
    const h = emu();
    const top = await mkdirp(h, 'cpd/top/inner');
    const topItem = await getItem(h, 'cpd/top');
    const file = (await put(h, 'cpd/f.txt', 'f')).body;
    for (const target of [topItem.id, top.id, file.id]) {
      const r = await apiSend(h, 'POST', `/me/drive/items/${encodeURIComponent(topItem.id)}/copy`, { parentReference: { id: target }, name: 'x' });
      expect(r.status).toBe(400);
      expect(errorOf(r.body).code).toBe('invalidRequest');
    }
    expect((await apiSend(h, 'POST', `/me/drive/items/${encodeURIComponent(topItem.id)}/copy`, { parentReference: { id: 'NOPE!1' } })).status).toBe(404);
    expect((await getItem(h, 'cpd/top')).folder?.childCount).toBe(1);
  });

  it('a destination on another drive is 404', async () => {
    const h = emu();
    const src = (await put(h, 'cpx/f.txt', 'f')).body;
    const other = mode === 'personal' ? 'ffffffffffffffff' : 'b!someone-else';
    const r = await apiSend(h, 'POST', `/me/drive/items/${encodeURIComponent(src.id)}/copy`, { parentReference: { driveId: other, id: src.parentReference!.id } });
    expect(r.status).toBe(404);
  });

  it('an unknown monitor is 404', async () => {
    expect((await storage(emu().storageUrl + '/monitor/nope')).status).toBe(404);
  });
});

describe.each(MODES)('package items (%s)', (mode) => {
  const emu = useEmulator({ mode });

  it('a OneNote package has neither file nor folder and refuses /content', async () => {
    const h = emu();
    const parent = await mkdirp(h, 'pkg');
    const drive = h.emulator.drive;
    const ref0 = syntheticRef(5);
    const { row } = drive.commitContent(
      { parentId: parent.id, name: 'Notebook' },
      { ref: ref0, size: 10, hashes: await h.emulator.content.hashesOf(ref0, 10) },
      { behavior: 'fail', kind: 'package' },
    );
    const item = (await getById(h, row.id)).body;
    expect(item.package).toEqual({ type: 'oneNote' });
    expect(item).not.toHaveProperty('file');
    expect(item).not.toHaveProperty('folder');
    expect(item).not.toHaveProperty('@microsoft.graph.downloadUrl');
    const content = await api(h, `/me/drive/items/${encodeURIComponent(row.id)}/content`);
    expect(content.status).toBeGreaterThanOrEqual(400);
    expect(content.status).toBeLessThan(500);
    expect(content.headers.get('location')).toBeNull();
    expect((await apiJson<Page>(h, `${ref('pkg')}/children`)).body.value.map((c: Item) => c.name)).toEqual(['Notebook']);
    // It occupies its name like any item.
    expect((await apiSend(h, 'POST', `${ref('pkg')}/children`, { name: 'notebook', folder: {} })).status).toBe(409);
  });
});
