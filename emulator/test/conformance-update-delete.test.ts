/**
 * Conformance over real HTTP (docs/graph-api.md §2.2, §8.2, §8.3): PATCH rename/move/fileSystemInfo with
 * If-Match, eTag and cTag semantics per mode, and DELETE.
 */
import { describe, expect, it } from 'vitest';
import { api, apiJson, apiSend, errorOf, storage, useEmulator, type EmulatorHandle } from './helpers.ts';
import { getById, getItem, mkdirp, MODES, put, quota, ref, type Item, type Page } from './item-helpers.ts';

function patch(h: EmulatorHandle, id: string, body: unknown, headers: Record<string, string> = {}) {
  return apiSend<Item>(h, 'PATCH', `/me/drive/items/${encodeURIComponent(id)}`, body, headers);
}

function del(h: EmulatorHandle, id: string, headers: Record<string, string> = {}) {
  return apiJson(h, `/me/drive/items/${encodeURIComponent(id)}`, { method: 'DELETE', headers });
}

/** The bytes behind `/content` (302 to the storage origin, fetched without the token). */
async function download(h: EmulatorHandle, id: string): Promise<Buffer> {
  const redirect = await api(h, `/me/drive/items/${encodeURIComponent(id)}/content`);
  expect(redirect.status).toBe(302);
  const res = await storage(redirect.headers.get('location')!);
  expect(res.status).toBe(200);
  return Buffer.from(await res.arrayBuffer());
}

describe.each(MODES)('PATCH (%s)', (mode) => {
  const emu = useEmulator({ mode });

  it('rename keeps the id, changes the eTag, keeps a file cTag; new content changes both', async () => {
    const h = emu();
    const made = (await put(h, 'rename/old.txt', 'content')).body;
    const renamed = await patch(h, made.id, { name: 'new.txt' });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id: made.id, name: 'new.txt', size: 7 });
    expect(renamed.body.eTag).not.toBe(made.eTag);
    expect(renamed.body.cTag).toBe(made.cTag);
    expect((await apiJson(h, ref('rename/old.txt'))).status).toBe(404);
    expect((await getItem(h, 'rename/new.txt')).id).toBe(made.id);

    const rewritten = (await put(h, 'rename/new.txt', 'other content')).body;
    expect(rewritten.id).toBe(made.id);
    expect(rewritten.cTag).not.toBe(renamed.body.cTag);
    expect(rewritten.eTag).not.toBe(renamed.body.eTag);
    if (mode === 'business') expect(rewritten.eTag).toMatch(/^"\{[0-9A-F-]{36}\},\d+"$/);
  });

  it('a case-only rename of the item itself is allowed; a clash with a sibling is 409 nameAlreadyExists', async () => {
    const h = emu();
    const a = (await put(h, 'rn409/a.txt', 'a')).body;
    await put(h, 'rn409/b.txt', 'b');
    const upper = await patch(h, a.id, { name: 'A.TXT' });
    expect(upper.status).toBe(200);
    expect(upper.body.name).toBe('A.TXT');
    const clash = await patch(h, a.id, { name: 'B.txt' });
    expect(clash.status).toBe(409);
    expect(errorOf(clash.body).code).toBe('nameAlreadyExists');
    expect((await getById(h, a.id)).body.name).toBe('A.TXT');
  });

  it('move by parentReference.id carries the item, its subtree and its size; paths follow', async () => {
    const h = emu();
    const from = await mkdirp(h, 'mv/from');
    const to = await mkdirp(h, 'mv/to');
    const box = await mkdirp(h, 'mv/from/box');
    const leaf = (await put(h, 'mv/from/box/leaf.txt', '12345')).body;
    expect((await getById(h, from.id)).body.size).toBe(5);
    const moved = await patch(h, box.id, { parentReference: { id: to.id } });
    expect(moved.status).toBe(200);
    expect(moved.body.parentReference?.id).toBe(to.id);
    expect(moved.body.parentReference?.path).toMatch(/root:\/mv\/to$/);
    expect((await getById(h, from.id)).body).toMatchObject({ size: 0, folder: { childCount: 0 } });
    expect((await getById(h, to.id)).body).toMatchObject({ size: 5, folder: { childCount: 1 } });
    const leafNow = await getItem(h, 'mv/to/box/leaf.txt');
    expect(leafNow.id).toBe(leaf.id);
    expect(leafNow.parentReference?.path).toMatch(/root:\/mv\/to\/box$/);
    // Move and rename in one PATCH.
    const both = await patch(h, leaf.id, { name: 'renamed.txt', parentReference: { id: from.id } });
    expect(both.body).toMatchObject({ name: 'renamed.txt', parentReference: { id: from.id } });
  });

  it('moving to the root takes the root\'s real id; the string "root" is refused', async () => {
    const h = emu();
    const f = (await put(h, 'toroot/unique-at-root-' + mode + '.txt', 'x')).body;
    const byWord = await patch(h, f.id, { parentReference: { id: 'root' } });
    expect(byWord.status).toBe(400);
    expect(errorOf(byWord.body).code).toBe('invalidRequest');
    const root = await getItem(h, '');
    const byId = await patch(h, f.id, { parentReference: { id: root.id } });
    expect(byId.status).toBe(200);
    expect(byId.body.parentReference?.id).toBe(root.id);
    expect((await getItem(h, 'unique-at-root-' + mode + '.txt')).id).toBe(f.id);
  });

  it('moving into itself, into its own descendant, into a file or a missing folder is refused', async () => {
    const h = emu();
    const top = await mkdirp(h, 'cyc/top');
    const child = await mkdirp(h, 'cyc/top/child');
    const grandchild = await mkdirp(h, 'cyc/top/child/grand');
    const file = (await put(h, 'cyc/file.txt', 'f')).body;
    for (const target of [top.id, child.id, grandchild.id]) {
      const r = await patch(h, top.id, { parentReference: { id: target } });
      expect(r.status).toBe(400);
      expect(errorOf(r.body).code).toBe('invalidRequest');
    }
    expect((await patch(h, child.id, { parentReference: { id: file.id } })).status).toBe(400);
    expect((await patch(h, child.id, { parentReference: { id: 'NOPE!404' } })).status).toBe(404);
    expect((await getItem(h, 'cyc/top/child/grand')).id).toBe(grandchild.id);
    // A move into a folder that already holds the name clashes.
    await mkdirp(h, 'cyc/other/child');
    const other = await getItem(h, 'cyc/other');
    expect((await patch(h, child.id, { parentReference: { id: other.id } })).status).toBe(409);
  });

  it('the root cannot be renamed or moved; an unknown id is 404', async () => {
    const h = emu();
    const root = await getItem(h, '');
    expect((await patch(h, root.id, { name: 'renamed-root' })).status).toBe(400);
    const dir = await mkdirp(h, 'rootmove');
    expect((await patch(h, root.id, { parentReference: { id: dir.id } })).status).toBe(400);
    const missing = await patch(h, 'NOPE!1', { name: 'x' });
    expect(missing.status).toBe(404);
    expect(errorOf(missing.body).code).toBe('itemNotFound');
  });

  it('fileSystemInfo is writable and kept to whole seconds; the cTag stays', async () => {
    const h = emu();
    const f = (await put(h, 'fsi/f.txt', 'x')).body;
    const r = await patch(h, f.id, {
      fileSystemInfo: { createdDateTime: '2024-02-29T08:00:00.999Z', lastModifiedDateTime: '2024-02-29T09:30:00.5+01:00' },
    });
    expect(r.status).toBe(200);
    expect(r.body.fileSystemInfo).toMatchObject({ createdDateTime: '2024-02-29T08:00:00Z', lastModifiedDateTime: '2024-02-29T08:30:00Z' });
    expect(r.body.cTag).toBe(f.cTag);
    expect(r.body.eTag).not.toBe(f.eTag);
    expect((await getById(h, f.id)).body.fileSystemInfo?.lastModifiedDateTime).toBe('2024-02-29T08:30:00Z');
    expect((await patch(h, f.id, { fileSystemInfo: { lastModifiedDateTime: 'yesterday' } })).status).toBe(400);
    // New content without times resets the modified time to now.
    const rewritten = (await put(h, 'fsi/f.txt', 'new')).body;
    expect(Date.parse(rewritten.fileSystemInfo!.lastModifiedDateTime)).toBeGreaterThan(Date.parse('2025-01-01T00:00:00Z'));
    expect(rewritten.fileSystemInfo!.createdDateTime).toBe('2024-02-29T08:00:00Z');
  });

  it('If-Match with the current eTag or cTag succeeds; a stale one is 412 resourceModified and changes nothing', async () => {
    const h = emu();
    const f = (await put(h, 'ifm/f.txt', 'x')).body;
    const ok = await patch(h, f.id, { name: 'g.txt' }, { 'if-match': f.eTag });
    expect(ok.status).toBe(200);
    const stale = await patch(h, f.id, { name: 'h.txt' }, { 'if-match': f.eTag });
    expect(stale.status).toBe(412);
    const err = errorOf(stale.body);
    expect(err.code).toBe('resourceModified');
    expect(err.inner).toBe('entityTagDoesNotMatch');
    expect((stale.body as unknown as { error: { innerError: Record<string, string> } }).error.innerError['request-id']).toBe(stale.headers.get('request-id'));
    expect((await getById(h, f.id)).body.name).toBe('g.txt');
    const byCTag = await patch(h, f.id, { name: 'h.txt' }, { 'if-match': ok.body.cTag! });
    expect(byCTag.status).toBe(200);
    expect((await patch(h, f.id, { name: 'i.txt' }, { 'if-match': '*' })).status).toBe(200);
  });

  it('a folder eTag does not change when its children change; P folder cTags follow every descendant, B folders have none', async () => {
    const h = emu();
    await mkdirp(h, 'tags/mid/deep');
    const top0 = await getItem(h, 'tags');
    const mid0 = await getItem(h, 'tags/mid');
    const child = (await put(h, 'tags/mid/deep/f.txt', 'one')).body;
    const steps: Array<() => Promise<unknown>> = [
      () => put(h, 'tags/mid/deep/f.txt', 'two'),
      () => patch(h, child.id, { name: 'g.txt' }),
      () => put(h, 'tags/mid/new.txt', 'new'),
    ];
    let prevTop = top0;
    for (const step of steps) {
      await step();
      const top = await getItem(h, 'tags');
      const mid = await getItem(h, 'tags/mid');
      expect(top.eTag).toBe(top0.eTag);
      expect(mid.eTag).toBe(mid0.eTag);
      if (mode === 'personal') {
        expect(top.cTag).toEqual(expect.any(String));
        expect(top.cTag).not.toBe(prevTop.cTag);
      } else {
        expect(top).not.toHaveProperty('cTag');
        expect(mid).not.toHaveProperty('cTag');
      }
      prevTop = top;
    }
    // Renaming the folder itself changes its eTag.
    const renamed = await patch(h, mid0.id, { name: 'middle' });
    expect(renamed.body.eTag).not.toBe(mid0.eTag);
    // Files have a cTag in both modes.
    expect((await getById(h, child.id)).body.cTag).toEqual(expect.any(String));
  });
});

describe.each(MODES)('DELETE (%s)', (mode) => {
  const emu = useEmulator({ mode });

  it('answers 204, removes the folder recursively, then 404; quota.deleted counts the bytes', async () => {
    const h = emu();
    const dir = await mkdirp(h, 'rm/tree/sub');
    const a = (await put(h, 'rm/tree/a.bin', Buffer.alloc(300))).body;
    const b = (await put(h, 'rm/tree/sub/b.bin', Buffer.alloc(200))).body;
    const tree = await getItem(h, 'rm/tree');
    const before = await quota(h);
    const res = await del(h, tree.id);
    expect(res.status).toBe(204);
    for (const id of [tree.id, dir.id, a.id, b.id]) {
      const gone = await getById(h, id);
      expect(gone.status).toBe(404);
      expect(errorOf(gone.body).code).toBe('itemNotFound');
    }
    expect((await apiJson(h, ref('rm/tree/sub/b.bin'))).status).toBe(404);
    const after = await quota(h);
    expect(after.used).toBe(before.used - 500);
    expect(after.deleted).toBe(before.deleted + 500);
    expect((await getItem(h, 'rm')).folder?.childCount).toBe(0);
    expect((await del(h, tree.id)).status).toBe(404);
    // The name is free again; the new item gets a new id.
    const again = await mkdirp(h, 'rm/tree');
    expect(again.id).not.toBe(tree.id);
  });

  it('If-Match: a stale eTag is 412 and deletes nothing; the current one deletes', async () => {
    const h = emu();
    const f = (await put(h, 'rmif/f.txt', 'one')).body;
    await put(h, 'rmif/f.txt', 'two');
    const stale = await del(h, f.id, { 'if-match': f.eTag });
    expect(stale.status).toBe(412);
    expect(errorOf(stale.body).code).toBe('resourceModified');
    expect((await getById(h, f.id)).status).toBe(200);
    const current = (await getById(h, f.id)).body;
    expect((await del(h, f.id, { 'if-match': current.eTag })).status).toBe(204);
    expect((await getById(h, f.id)).status).toBe(404);
  });

  it('the root cannot be deleted', async () => {
    const h = emu();
    const root = await getItem(h, '');
    const res = await del(h, root.id);
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect((await apiJson(h, '/me/drive/root')).status).toBe(200);
    expect((await apiJson(h, '/me/drive/root', { method: 'DELETE' })).status).toBe(res.status);
  });

  it('permanentDelete exists on B only', async () => {
    const h = emu();
    const f = (await put(h, 'perm/f.txt', 'x')).body;
    const res = await apiJson(h, `/me/drive/items/${encodeURIComponent(f.id)}/permanentDelete`, { method: 'POST' });
    if (mode === 'business') {
      expect(res.status).toBe(204);
      expect((await getById(h, f.id)).status).toBe(404);
    } else {
      expect(res.status).toBe(400);
      expect((await getById(h, f.id)).status).toBe(200);
    }
  });

  it('a replace refused for quota leaves what it would have replaced intact (bytes included)', async () => {
    const h = emu();
    await mkdirp(h, 'keep/victim');
    const inner = (await put(h, 'keep/victim/inner.bin', Buffer.alloc(100, 7))).body;
    const { used } = await quota(h);
    h.emulator.drive.quotaTotal = used + 5;
    try {
      // PUT onto the folder's name replaces it by default; the new 200 bytes do not fit even after
      // the folder's 100 are freed, so the whole replace is rolled back.
      const refused = await apiJson(h, `${ref('keep/victim')}/content`, { method: 'PUT', body: Buffer.alloc(200, 1) });
      expect(refused.status).toBe(507);
    } finally {
      h.emulator.drive.quotaTotal = 1024 ** 4;
    }
    expect((await getById(h, inner.id)).status).toBe(200);
    expect(await download(h, inner.id)).toEqual(Buffer.alloc(100, 7));
    const listing = await apiJson<Page>(h, `${ref('keep/victim')}/children`);
    expect(listing.body.value.map((c) => c.id)).toEqual([inner.id]);
  });
});
