/**
 * Conformance over real HTTP: the drive survives a restart on the same data directory (a mode
 * mismatch is refused), and the admin API (`/_emu/…`) seeds, inspects and changes the drive.
 */
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startEmulator } from '../src/emulator.ts';
import { admin, api, apiJson, storage, useEmulator, useTempDir, type EmulatorHandle } from './helpers.ts';
import { getById, getItem, mkdirp, MODES, put, ref, type Item, type Page } from './item-helpers.ts';

async function download(h: EmulatorHandle, id: string): Promise<Buffer> {
  const redirect = await api(h, `/me/drive/items/${encodeURIComponent(id)}/content`);
  expect(redirect.status).toBe(302);
  const res = await storage(redirect.headers.get('location')!);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

describe.each(MODES)('persistence (%s)', (mode) => {
  const dir = useTempDir();

  it('a restart on the same data directory keeps the drive id, items, bytes and tags; a mode mismatch is refused', async () => {
    const dataDir = dir();
    const first = await startEmulator({ mode, dataDir });
    let driveId: string;
    let items: Item[];
    try {
      driveId = (await apiJson(first, '/me/drive')).body.id as string;
      await mkdirp(first, 'keep/sub');
      await put(first, 'keep/sub/a.txt', 'alpha');
      await put(first, 'keep/b.bin', Buffer.alloc(3000, 9));
      await put(first, 'keep/b.bin', Buffer.alloc(2000, 8));
      await admin(first, 'POST', '/seed', { under: 'gen', folders: 1, filesPerFolder: 3, fileSize: 700 });
      await apiJson(first, `/me/drive/items/${encodeURIComponent((await getItem(first, 'keep/sub/a.txt')).id)}`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ fileSystemInfo: { lastModifiedDateTime: '2023-05-06T07:08:09Z' } }),
      });
      items = await Promise.all(['', 'keep', 'keep/sub', 'keep/sub/a.txt', 'keep/b.bin', 'gen/Folder 0000/file-00002.txt'].map((p) => getItem(first, p)));
    } finally {
      await first.close();
    }

    const second = await startEmulator({ mode, dataDir });
    try {
      expect((await apiJson(second, '/me/drive')).body.id).toBe(driveId);
      for (const before of items) {
        const after = (await getById(second, before.id)).body;
        expect(after.id).toBe(before.id);
        expect(after.name).toBe(before.name);
        expect(after.eTag).toBe(before.eTag);
        expect(after.cTag).toBe(before.cTag);
        expect(after.size).toBe(before.size);
        expect(after.fileSystemInfo).toEqual(before.fileSystemInfo);
        expect(after.file?.hashes).toEqual(before.file?.hashes);
      }
      expect((await download(second, items[3]!.id)).toString()).toBe('alpha');
      expect(await download(second, items[4]!.id)).toEqual(Buffer.alloc(2000, 8));
      expect((await download(second, items[5]!.id)).length).toBe(700);
      expect((await apiJson(second, '/me/drive')).body.quota).toMatchObject({ used: 5 + 2000 + 3 * 700 });
      // New items get fresh ids after the restart.
      const fresh = (await put(second, 'keep/new.txt', 'new')).body;
      expect(items.map((i) => i.id)).not.toContain(fresh.id);
    } finally {
      await second.close();
    }

    const other = mode === 'personal' ? 'business' : 'personal';
    await expect(startEmulator({ mode: other, dataDir })).rejects.toThrow(new RegExp(`holds a ${mode} drive`));
    // The refused start left nothing open: the right mode still starts.
    const third = await startEmulator({ mode, dataDir });
    try {
      expect((await apiJson(third, '/me/drive')).body.id).toBe(driveId);
    } finally {
      await third.close();
    }
  });
});

describe.each(MODES)('admin API over HTTP (%s)', (mode) => {
  const emu = useEmulator({ mode });
  const local = useTempDir('onemount-emu-local-');

  it('GET /_emu/info describes the emulator and the drive', async () => {
    const h = emu();
    const { status, body } = await admin(h, 'GET', '/info');
    expect(status).toBe(200);
    const drive = (await apiJson(h, '/me/drive')).body;
    expect(body).toMatchObject({ mode, driveId: drive.id, rootId: (await getItem(h, '')).id, apiUrl: h.apiUrl, storageUrl: h.storageUrl, offline: false });
    expect(body.quota).toMatchObject({ total: expect.any(Number), used: expect.any(Number) });
  });

  it('POST /_emu/seed generates folders × files and reports what it made', async () => {
    const h = emu();
    const before = (await admin(h, 'GET', '/info')).body as { files: number; folders: number };
    const { status, body } = await admin(h, 'POST', '/seed', { under: 'seed/here', folders: 3, filesPerFolder: 4, fileSize: 100, depth: 2 });
    expect(status).toBe(200);
    expect(body).toMatchObject({ folders: 6, files: 12, bytes: 1200 });
    const listing = await apiJson<Page>(h, `${ref('seed/here')}/children`);
    expect(listing.body.value.map((c) => c.name)).toEqual(['Folder 0000', 'Folder 0001', 'Folder 0002']);
    const leaf = await apiJson<Page>(h, `${ref('seed/here/Folder 0001/Level 1')}/children`);
    expect(leaf.body.value).toHaveLength(4);
    expect((await getItem(h, 'seed/here')).size).toBe(1200);
    const after = (await admin(h, 'GET', '/info')).body as { files: number; folders: number };
    expect(after.files).toBe(before.files + 12);
    expect(after.folders).toBe(before.folders + 6 + 2);
  });

  it('POST /_emu/seed {fromDirectory} copies a local tree', async () => {
    const h = emu();
    const root = path.join(local(), 'tree');
    await mkdir(path.join(root, 'docs'), { recursive: true });
    await writeFile(path.join(root, 'docs', 'readme.md'), '# hi\n');
    await writeFile(path.join(root, 'top.txt'), 'top');
    const { status, body } = await admin(h, 'POST', '/seed', { fromDirectory: root, under: 'imported' });
    expect(status).toBe(200);
    expect(body).toMatchObject({ folders: 1, files: 2, bytes: 8 });
    expect((await download(h, (await getItem(h, 'imported/docs/readme.md')).id)).toString()).toBe('# hi\n');
  });

  it('POST /_emu/remote changes the drive as another device would', async () => {
    const h = emu();
    const mk = await admin<{ item: Item }>(h, 'POST', '/remote', { op: 'mkdir', path: 'remote/dir' });
    // The parent must exist, as for any device.
    expect(mk.status).toBe(404);
    await mkdirp(h, 'remote');
    const made = await admin<{ item: Item }>(h, 'POST', '/remote', { op: 'mkdir', path: 'remote/dir' });
    expect(made.status).toBe(200);
    expect(made.body.item).toMatchObject({ name: 'dir', folder: { childCount: 0 } });

    const written = await admin<{ item: Item }>(h, 'POST', '/remote', { op: 'write', path: 'remote/dir/a.txt', content: 'from elsewhere' });
    expect(written.body.item).toMatchObject({ name: 'a.txt', size: 14 });
    const viaApi = await getItem(h, 'remote/dir/a.txt');
    expect(viaApi.id).toBe(written.body.item.id);
    expect((await download(h, viaApi.id)).toString()).toBe('from elsewhere');

    const rewritten = await admin<{ item: Item }>(h, 'POST', '/remote', { op: 'write', path: 'remote/dir/a.txt', size: 4096 });
    expect(rewritten.body.item).toMatchObject({ id: viaApi.id, size: 4096 });
    expect(rewritten.body.item.cTag).not.toBe(viaApi.cTag);
    expect((await download(h, viaApi.id)).length).toBe(4096);

    const touched = await admin<{ item: Item }>(h, 'POST', '/remote', { op: 'touch', path: 'remote/dir/a.txt', modified: '2022-01-02T03:04:05.678Z' });
    expect(touched.body.item.fileSystemInfo?.lastModifiedDateTime).toBe('2022-01-02T03:04:05Z');
    expect(touched.body.item.cTag).toBe(rewritten.body.item.cTag);

    const moved = await admin<{ item: Item }>(h, 'POST', '/remote', { op: 'move', path: 'remote/dir/a.txt', newPath: 'remote/b.txt' });
    expect(moved.body.item).toMatchObject({ id: viaApi.id, name: 'b.txt' });
    expect((await apiJson(h, ref('remote/dir/a.txt'))).status).toBe(404);
    expect((await getItem(h, 'remote/b.txt')).id).toBe(viaApi.id);

    const deleted = await admin(h, 'POST', '/remote', { op: 'delete', path: 'remote/dir' });
    expect(deleted.status).toBe(200);
    expect(deleted.body).toEqual({ item: null, previousSha256: null });
    expect((await apiJson(h, ref('remote/dir'))).status).toBe(404);

    expect((await admin(h, 'POST', '/remote', { op: 'explode', path: 'remote/b.txt' })).status).toBe(400);
  });

  it('POST /_emu/remote says which file a write or delete replaced (previousSha256, read in the tick of the change)', async () => {
    const h = emu();
    await mkdirp(h, 'prev');
    const sha = (text: string) => createHash('sha256').update(text).digest('hex').toUpperCase();
    const first = await admin<{ previousSha256: string | null }>(h, 'POST', '/remote', { op: 'write', path: 'prev/a.txt', content: 'one' });
    expect(first.body.previousSha256).toBeNull();
    // A client's upload in between is what the next remote write replaces.
    await put(h, 'prev/a.txt', 'from the client');
    const second = await admin<{ previousSha256: string | null }>(h, 'POST', '/remote', { op: 'write', path: 'prev/a.txt', content: 'two' });
    expect(second.body.previousSha256).toBe(sha('from the client'));
    const gone = await admin<{ previousSha256: string | null }>(h, 'POST', '/remote', { op: 'delete', path: 'prev/a.txt' });
    expect(gone.body.previousSha256).toBe(sha('two'));
  });

  it('GET /_emu/item and /_emu/content read the drive by path', async () => {
    const h = emu();
    const bytes = Buffer.from([0, 1, 2, 250, 255]);
    const up = (await put(h, 'peek/bytes.bin', bytes)).body;
    const item = await admin<Item>(h, 'GET', `/item?path=${encodeURIComponent('peek/bytes.bin')}`);
    expect(item.status).toBe(200);
    expect(item.body).toMatchObject({ id: up.id, name: 'bytes.bin', size: 5, eTag: up.eTag });
    expect((await admin(h, 'GET', `/item?path=${encodeURIComponent('peek/missing')}`)).status).toBe(404);
    const content = await fetch(`${h.adminUrl}/content?path=${encodeURIComponent('peek/bytes.bin')}`);
    expect(content.status).toBe(200);
    expect(Buffer.from(await content.arrayBuffer())).toEqual(bytes);
    expect((await fetch(`${h.adminUrl}/content?path=${encodeURIComponent('peek/missing')}`)).status).toBe(404);
  });

  it('GET /_emu/tree lists a subtree with paths and stored hashes, parents first', async () => {
    const h = emu();
    await mkdirp(h, 'walk/sub/deeper');
    const a = (await put(h, 'walk/a.txt', 'alpha')).body;
    await put(h, 'walk/sub/b.bin', Buffer.alloc(700, 7));
    await put(h, 'outside.txt', 'not below walk');
    const tree = await admin<{ items: Array<Record<string, unknown>> }>(h, 'GET', `/tree?path=${encodeURIComponent('walk')}`);
    expect(tree.status).toBe(200);
    const items = tree.body.items;
    expect(items.map((i) => i.path).sort()).toEqual(['a.txt', 'sub', 'sub/b.bin', 'sub/deeper']);
    const file = items.find((i) => i.path === 'a.txt')!;
    expect(file).toMatchObject({ id: a.id, kind: 'file', size: 5, quickXorHash: a.file?.hashes.quickXorHash });
    expect(file.sha256Hash).toBe(createHash('sha256').update('alpha').digest('hex').toUpperCase());
    expect(items.find((i) => i.path === 'sub')).toMatchObject({ kind: 'folder' });
    expect(items.findIndex((i) => i.path === 'sub')).toBeLessThan(items.findIndex((i) => i.path === 'sub/b.bin'));
    expect((await admin(h, 'GET', `/tree?path=${encodeURIComponent('walk/a.txt')}`)).status).toBe(400);
    expect((await admin(h, 'GET', `/tree?path=${encodeURIComponent('nowhere')}`)).status).toBe(404);
    const whole = (await admin<{ items: Array<{ path: string }> }>(h, 'GET', '/tree?path=')).body.items.map((i) => i.path);
    expect(whole).toEqual(expect.arrayContaining(['walk', 'walk/sub/b.bin', 'outside.txt']));
  });

  it('POST /_emu/knobs sets the quota total; an unknown admin route is 404', async () => {
    const h = emu();
    const set = await admin<{ quota: { total: number } }>(h, 'POST', '/knobs', { quotaTotal: 123_456_789 });
    expect(set.body.quota.total).toBe(123_456_789);
    expect(((await apiJson(h, '/me/drive')).body.quota as { total: number }).total).toBe(123_456_789);
    await admin(h, 'POST', '/knobs', { quotaTotal: 1024 ** 4 });
    expect((await admin(h, 'GET', '/nope')).status).toBe(404);
  });

  it('the admin listener is not the API: Graph routes are not served there and admin routes need no token', async () => {
    const h = emu();
    expect((await fetch(`${h.adminUrl}/info`)).status).toBe(200);
    expect((await fetch(h.adminUrl.replace(/\/_emu$/, '/v1.0/me/drive'))).status).toBe(404);
  });
});
