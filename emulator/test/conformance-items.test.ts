/**
 * Conformance over real HTTP (docs/graph-api.md §1–§4): the drive and its quota, /me, both route roots,
 * items by id and by path, the error shape and request-id headers, and children listing with paging,
 * $top, $select, $expand and If-None-Match.
 */
import { describe, expect, it } from 'vitest';
import { admin, api, apiJson, errorOf, useEmulator } from './helpers.ts';
import { allPages, getById, getItem, mkdir, mkdirp, MODES, put, quota, ref, type Item, type Page } from './item-helpers.ts';

describe.each(MODES)('drive and quota (%s)', (mode) => {
  const emu = useEmulator({ mode });

  it('GET /me/drive describes the drive in the shape of the mode', async () => {
    const { status, body } = await apiJson(emu(), '/me/drive');
    expect(status).toBe(200);
    expect(body.driveType).toBe(mode);
    expect(body.owner).toMatchObject({ user: { id: expect.any(String) } });
    const id = body.id as string;
    if (mode === 'personal') expect(id).toMatch(/^[0-9a-f]{16}$/);
    else expect(id).toMatch(/^b!/);
    const q = body.quota as Record<string, unknown>;
    expect(q).toMatchObject({ total: expect.any(Number), used: expect.any(Number), remaining: expect.any(Number), deleted: expect.any(Number), state: 'normal' });
    // fileCount exists on B only (docs/graph-api.md §2.1).
    if (mode === 'business') expect(q.fileCount).toEqual(expect.any(Number));
    else expect(q).not.toHaveProperty('fileCount');
  });

  it('quota.used follows file sizes through create, replace and delete; deleted counts the recycle bin', async () => {
    const h = emu();
    const before = await quota(h);
    expect(before.remaining).toBe(before.total - before.used);
    expect((await put(h, 'q/one.bin', Buffer.alloc(1000, 1))).status).toBe(201);
    expect((await quota(h)).used).toBe(before.used + 1000);
    expect((await put(h, 'q/one.bin', Buffer.alloc(400, 2))).status).toBe(200);
    const afterReplace = await quota(h);
    expect(afterReplace.used).toBe(before.used + 400);
    expect(afterReplace.remaining).toBe(afterReplace.total - afterReplace.used);
    const item = await getItem(h, 'q/one.bin');
    expect((await api(h, `/me/drive/items/${item.id}`, { method: 'DELETE' })).status).toBe(204);
    const afterDelete = await quota(h);
    expect(afterDelete.used).toBe(before.used);
    expect(afterDelete.deleted).toBe(before.deleted + 400);
  });

  if (mode === 'business') {
    it('B reports the live file count in quota.fileCount', async () => {
      const h = emu();
      const before = (await quota(h)).fileCount!;
      await put(h, 'fc/a.txt', 'a');
      await put(h, 'fc/b.txt', 'b');
      expect((await quota(h)).fileCount).toBe(before + 2);
    });
  }

  it('state moves through normal, nearing (<10 % left), critical (<1 % left) and exceeded', async () => {
    const h = emu();
    await put(h, 'states/x.bin', Buffer.alloc(1000));
    const used = (await quota(h)).used;
    const setTotal = async (total: number) => {
      const r = await admin(h, 'POST', '/knobs', { quotaTotal: total });
      expect(r.status).toBe(200);
      return quota(h);
    };
    try {
      expect((await setTotal(used * 2)).state).toBe('normal');
      expect((await setTotal(Math.ceil(used / 0.95))).state).toBe('nearing');
      expect((await setTotal(Math.ceil(used / 0.995))).state).toBe('critical');
      const over = await setTotal(used - 1);
      expect(over.state).toBe('exceeded');
      expect(over.remaining).toBe(0);
    } finally {
      await setTotal(1024 ** 4);
    }
  });

  it('a write that would exceed the quota is refused with 507 quotaLimitReached; one that fits succeeds', async () => {
    const h = emu();
    const { used } = await quota(h);
    h.emulator.drive.quotaTotal = used + 10;
    try {
      const refused = await put(h, 'full/big.bin', Buffer.alloc(11));
      expect(refused.status).toBe(507);
      expect(errorOf(refused.body).code).toBe('quotaLimitReached');
      expect((await apiJson(h, ref('full/big.bin'))).status).toBe(404);
      expect((await quota(h)).used).toBe(used);
      expect((await put(h, 'full/fits.bin', Buffer.alloc(10))).status).toBe(201);
      // Shrinking a file always works, even on a full drive.
      expect((await put(h, 'full/fits.bin', Buffer.alloc(3))).status).toBe(200);
    } finally {
      h.emulator.drive.quotaTotal = 1024 ** 4;
    }
  });

  it('$select on the drive limits the fields (id always present)', async () => {
    const { body } = await apiJson(emu(), '/me/drive?$select=quota');
    expect(Object.keys(body).sort()).toEqual(['id', 'quota']);
  });

  it('GET /me answers the signed-in user', async () => {
    const { status, body } = await apiJson(emu(), '/me');
    expect(status).toBe(200);
    expect(body).toMatchObject({ id: expect.any(String), displayName: expect.any(String), userPrincipalName: expect.any(String), mail: expect.any(String) });
  });

  it('a request without a bearer token is refused with 401 InvalidAuthenticationToken', async () => {
    const res = await fetch(emu().apiUrl + '/me/drive', { headers: { authorization: '' } });
    expect(res.status).toBe(401);
    expect(errorOf(await res.json()).code).toBe('InvalidAuthenticationToken');
  });

  it('/drives/{id}/… serves the same items as /me/drive/…', async () => {
    const h = emu();
    const drive = (await apiJson(h, '/me/drive')).body;
    const driveId = encodeURIComponent(drive.id as string);
    await put(h, 'routes/sub/f.txt', 'hello');
    const byMe = await getItem(h, 'routes/sub/f.txt');
    const root = await apiJson<Item>(h, `/drives/${driveId}/root`);
    expect(root.status).toBe(200);
    expect(root.body.id).toBe((await getItem(h, '')).id);
    expect((await apiJson(h, `/drives/${driveId}`)).body.id).toBe(drive.id);
    const byPath = await apiJson<Item>(h, `/drives/${driveId}/root:/routes/sub/f.txt`);
    expect(byPath.body.id).toBe(byMe.id);
    const byId = await apiJson<Item>(h, `/drives/${driveId}/items/${encodeURIComponent(byMe.id)}`);
    expect(byId.body).toMatchObject({ id: byMe.id, name: 'f.txt', size: 5 });
    const children = await apiJson<Page>(h, `/drives/${driveId}/root:/routes/sub:/children`);
    expect(children.body.value.map((c) => c.id)).toEqual([byMe.id]);
    const folder = await getItem(h, 'routes');
    const rel = await apiJson<Item>(h, `/drives/${driveId}/items/${encodeURIComponent(folder.id)}:/sub/f.txt`);
    expect(rel.body.id).toBe(byMe.id);
    // parentReference names this drive.
    expect(byMe.parentReference?.driveId).toBe(drive.id);
    const unknown = await apiJson(h, `/drives/${mode === 'personal' ? '0123456789abcdef' : 'b!unknown'}/root`);
    expect(unknown.status).toBe(404);
  });

  it('P drive ids are matched case-insensitively and without leading zeros; B drive ids exactly', async () => {
    const h = emu();
    const id = (await apiJson(h, '/me/drive')).body.id as string;
    const upper = await apiJson<Item>(h, `/drives/${encodeURIComponent(id.toUpperCase())}/root`);
    const padded = await apiJson<Item>(h, `/drives/${encodeURIComponent('0' + id)}/root`);
    if (mode === 'personal') {
      expect(upper.status).toBe(200);
      expect(padded.status).toBe(200);
      const stripped = await apiJson<Item>(h, `/drives/${id.replace(/^0+/, '')}/root`);
      expect(stripped.status).toBe(200);
    } else {
      expect(upper.status).toBe(404);
      expect(padded.status).toBe(404);
    }
  });
});

describe.each(MODES)('items by id and by path (%s)', (mode) => {
  const emu = useEmulator({ mode });
  // '#' and '%' are legal on both unless a business tenant turned them off (docs/graph-api.md §3).
  const names = ['with space.txt', 'hash#tag.txt', '100%.txt', 'ünïcødé 文件 🎉.txt', "it's (1) & co+plus=.txt"];

  it('the root answers with root:{} and a parentReference holding only the drive', async () => {
    const h = emu();
    for (const p of ['/me/drive/root', '/me/drive/items/root']) {
      const { status, body } = await apiJson<Item>(h, p);
      expect(status).toBe(200);
      expect(body.root).toEqual({});
      expect(body.folder).toBeDefined();
      expect(Object.keys(body.parentReference ?? {}).sort()).toEqual(['driveId', 'driveType']);
    }
  });

  it.each(names)('percent-encoded path segments address %j exactly once-decoded', async (name) => {
    const h = emu();
    const up = await put(h, `enc/dir ${name}/${name}`, name);
    expect(up.status).toBe(201);
    expect(up.body.name).toBe(name);
    const byPath = await getItem(h, `enc/dir ${name}/${name}`);
    expect(byPath.id).toBe(up.body.id);
    expect(byPath.name).toBe(name);
    const byId = await getById(h, up.body.id as string);
    expect(byId.body.name).toBe(name);
    // parentReference.path is the human path of the parent.
    expect(byPath.parentReference?.path).toMatch(new RegExp(`root:/enc/dir ${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    const listing = await apiJson<Page>(h, `${ref(`enc/dir ${name}`)}/children`);
    expect(listing.body.value.map((c) => c.name)).toEqual([name]);
  });

  if (mode !== 'business') {
    it('a %25 that decodes to a percent-escape is not decoded twice', async () => {
      const h = emu();
      await put(h, 'twice/a%20b.txt', 'literal');
      await put(h, 'twice/a b.txt', 'space');
      const literal = await getItem(h, 'twice/a%20b.txt');
      const spaced = await getItem(h, 'twice/a b.txt');
      expect(literal.name).toBe('a%20b.txt');
      expect(spaced.name).toBe('a b.txt');
      expect(literal.id).not.toBe(spaced.id);
    });
  }

  it('paths are matched case-insensitively', async () => {
    const h = emu();
    const made = await put(h, 'CaseDir/File.TXT', 'x');
    expect((await getItem(h, 'casedir/file.txt')).id).toBe(made.body.id);
    expect((await getItem(h, 'CASEDIR/FILE.txt')).name).toBe('File.TXT');
  });

  it('a path relative to an item: items/{id}:/a/b and items/{id}:/a:/children', async () => {
    const h = emu();
    const up = await put(h, 'relbase/a/b/leaf.txt', 'leaf');
    const base = await getItem(h, 'relbase');
    const rel = await apiJson<Item>(h, `/me/drive/items/${encodeURIComponent(base.id)}:/a/b/leaf.txt`);
    expect(rel.status).toBe(200);
    expect(rel.body.id).toBe(up.body.id);
    const withColon = await apiJson<Item>(h, `/me/drive/items/${encodeURIComponent(base.id)}:/a/b/leaf.txt:`);
    expect(withColon.body.id).toBe(up.body.id);
    const kids = await apiJson<Page>(h, `/me/drive/items/${encodeURIComponent(base.id)}:/a/b:/children`);
    expect(kids.body.value.map((c) => c.name)).toEqual(['leaf.txt']);
    const missing = await apiJson(h, `/me/drive/items/${encodeURIComponent(base.id)}:/a/nope`);
    expect(missing.status).toBe(404);
    // A path through a file leads nowhere.
    expect((await apiJson(h, `/me/drive/items/${encodeURIComponent(base.id)}:/a/b/leaf.txt/deeper`)).status).toBe(404);
  });

  it('an unknown id or path answers 404 itemNotFound in the Graph error shape', async () => {
    const h = emu();
    for (const p of ['/me/drive/items/does-not-exist', '/me/drive/root:/no/such/thing.txt', '/me/drive/root:/no-such:/children']) {
      const res = await api(h, p);
      expect(res.status).toBe(404);
      const body = (await res.json()) as { error: { code: string; message: string; innerError: Record<string, string> } };
      expect(body.error.code).toBe('itemNotFound');
      expect(body.error.message).toEqual(expect.any(String));
      expect(body.error.innerError['request-id']).toBe(res.headers.get('request-id'));
      expect(body.error.innerError.date).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d/);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    }
  });

  it('every answer carries request-id and client-request-id (echoed when sent) and Date', async () => {
    const h = emu();
    const plain = await api(h, '/me/drive/root');
    expect(plain.headers.get('request-id')).toMatch(/\S/);
    expect(plain.headers.get('client-request-id')).toMatch(/\S/);
    expect(plain.headers.get('date')).toMatch(/GMT$/);
    const mine = '6e0cbf5f-0000-4000-8000-000000000001';
    const echoed = await api(h, '/me/drive/items/missing', { headers: { 'client-request-id': mine } });
    expect(echoed.headers.get('client-request-id')).toBe(mine);
    const body = (await echoed.json()) as { error: { innerError: Record<string, string> } };
    expect(body.error.innerError['client-request-id']).toBe(mine);
    const a = (await api(h, '/me')).headers.get('request-id');
    const b = (await api(h, '/me')).headers.get('request-id');
    expect(a).not.toBe(b);
  });

  it('times: P emits milliseconds, B whole seconds; fileSystemInfo is whole seconds', async () => {
    const h = emu();
    const up = await put(h, 'times/t.txt', 't');
    const created = up.body.createdDateTime as string;
    if (mode === 'personal') expect(created).toMatch(/\.\d{3}Z$/);
    else expect(created).toMatch(/:\d\dZ$/);
    const fsi = up.body.fileSystemInfo as { lastModifiedDateTime: string };
    expect(fsi.lastModifiedDateTime).toMatch(/T\d\d:\d\d:\d\dZ$/);
  });
});

describe.each(MODES)('children (%s)', (mode) => {
  const emu = useEmulator({ mode });

  it('a 10 000-entry folder pages by 200 by default and by $top up to 1000, every child once, in name order', async () => {
    const h = emu();
    const seeded = await admin(h, 'POST', '/seed', { under: 'paging', bigFolder: 10_000, fileSize: 1 });
    expect(seeded.status).toBe(200);
    const url = `${ref('paging/Big')}/children`;

    const first = await apiJson<Page>(h, url);
    expect(first.body.value).toHaveLength(200);
    expect(first.body['@odata.nextLink']).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\.0\/.*skiptoken=/);

    expect((await apiJson<Page>(h, `${url}?top=7`)).body.value).toHaveLength(7);
    expect((await apiJson<Page>(h, `${url}?$top=5000`)).body.value).toHaveLength(1000);
    expect((await apiJson(h, `${url}?$top=0`)).status).toBe(400);

    const pages = await allPages(h, `${url}?$top=1000&$select=id,name`);
    expect(pages).toHaveLength(10);
    expect(pages.slice(0, -1).every((p) => p['@odata.nextLink'] && p.value.length === 1000)).toBe(true);
    expect(pages[pages.length - 1]!['@odata.nextLink']).toBeUndefined();
    const names = pages.flatMap((p) => p.value.map((v) => v.name));
    expect(names).toHaveLength(10_000);
    expect(new Set(names).size).toBe(10_000);
    expect(names).toEqual([...names].sort());
    expect(names[0]).toBe('entry-000000.dat');
    expect(names[9_999]).toBe('entry-009999.dat');
    // $select survives into the nextLink.
    expect(Object.keys(pages[3]!.value[0]!).sort()).toEqual(['id', 'name']);

    const folder = await getItem(h, 'paging/Big');
    expect(folder.folder?.childCount).toBe(10_000);
    expect(folder.size).toBe(10_000);
  });

  it('an exact multiple of the page size ends without a dangling nextLink', async () => {
    const h = emu();
    for (let i = 0; i < 4; i++) await put(h, `exact/f${i}.txt`, String(i));
    const pages = await allPages(h, `${ref('exact')}/children?$top=2`);
    expect(pages.map((p) => p.value.length)).toEqual([2, 2]);
  });

  it('$select returns the fields asked for plus id; the download URL only when selected', async () => {
    const h = emu();
    await put(h, 'sel/a.txt', 'a');
    await mkdir(h, 'sel', 'sub');
    const full = (await apiJson<Page>(h, `${ref('sel')}/children`)).body.value;
    const file = full.find((c) => c.name === 'a.txt')!;
    expect(file['@microsoft.graph.downloadUrl']).toMatch(/^http:\/\/127\.0\.0\.1:\d+\//);
    expect(file['@microsoft.graph.downloadUrl']).not.toContain(new URL(h.apiUrl).port + '/v1.0');

    const names = (await apiJson<Page>(h, `${ref('sel')}/children?$select=name`)).body.value;
    for (const c of names) expect(Object.keys(c).sort()).toEqual(['id', 'name']);

    const sized = (await apiJson<Page>(h, `${ref('sel')}/children?select=name,size,file`)).body.value;
    expect(sized.find((c) => c.name === 'a.txt')).not.toHaveProperty('@microsoft.graph.downloadUrl');

    const withUrl = (await apiJson<Page>(h, `${ref('sel')}/children?$select=id,@microsoft.graph.downloadUrl`)).body.value;
    const f = withUrl.find((c) => c.id === file.id)!;
    expect(Object.keys(f).sort()).toEqual(['@microsoft.graph.downloadUrl', 'id']);

    const item = await apiJson<Item>(h, `${ref('sel/a.txt')}?$select=id,size`);
    expect(item.body).toEqual({ id: file.id, size: 1 });
  });

  it('If-None-Match with the current tag answers 304; a changed item answers 200', async () => {
    const h = emu();
    await put(h, 'inm/x.txt', 'one');
    const file = await getItem(h, 'inm/x.txt');
    const notModified = await api(h, ref('inm/x.txt'), { headers: { 'if-none-match': file.eTag } });
    expect(notModified.status).toBe(304);
    expect(await notModified.text()).toBe('');
    expect((await api(h, ref('inm/x.txt'), { headers: { 'if-none-match': file.cTag! } })).status).toBe(304);
    await put(h, 'inm/x.txt', 'two');
    expect((await api(h, ref('inm/x.txt'), { headers: { 'if-none-match': file.eTag } })).status).toBe(200);

    const folder = await getItem(h, 'inm');
    expect((await api(h, ref('inm'), { headers: { 'if-none-match': folder.eTag } })).status).toBe(304);
    if (mode === 'personal') {
      // The listing's validator is the folder cTag, which moves when anything below changes.
      expect((await api(h, `${ref('inm')}/children`, { headers: { 'if-none-match': folder.cTag! } })).status).toBe(304);
      await put(h, 'inm/y.txt', 'new child');
      expect((await api(h, `${ref('inm')}/children`, { headers: { 'if-none-match': folder.cTag! } })).status).toBe(200);
    }
    // The folder eTag does not follow its children, so it cannot vouch for the listing.
    await put(h, 'inm/z.txt', 'another child');
    const listing = await api(h, `${ref('inm')}/children`, { headers: { 'if-none-match': folder.eTag } });
    expect(listing.status).toBe(200);
    expect(((await listing.json()) as Page).value.map((c) => c.name)).toContain('z.txt');
  });

  it('$expand=children inlines the children of a folder', async () => {
    const h = emu();
    await put(h, 'exp/b.txt', 'b');
    await put(h, 'exp/a.txt', 'a');
    await mkdirp(h, 'exp/c');
    const { body } = await apiJson<Item & { children: Item[] }>(h, `${ref('exp')}?$expand=children`);
    expect(body.children.map((c) => c.name)).toEqual(['a.txt', 'b.txt', 'c']);
    expect(body.children[2]!.folder).toBeDefined();
  });

  it('$expand=children beyond one page says where the rest is (children@odata.nextLink)', async () => {
    const h = emu();
    await admin(h, 'POST', '/seed', { under: 'expbig', bigFolder: 250, fileSize: 1 });
    const { body } = await apiJson<Item & { children: Item[]; 'children@odata.nextLink'?: string }>(h, `${ref('expbig/Big')}?$expand=children`);
    expect(body.children).toHaveLength(200);
    const rest = await allPages(h, body['children@odata.nextLink']!);
    const names = [...body.children, ...rest.flatMap((p) => p.value)].map((c) => c.name);
    expect(names).toHaveLength(250);
    expect(new Set(names).size).toBe(250);
    const small = await apiJson<Item>(h, `${ref('expbig')}?$expand=children`);
    expect(small.body).not.toHaveProperty('children@odata.nextLink');
  });

  it('listing a file is refused; children of a missing folder are 404', async () => {
    const h = emu();
    await put(h, 'notdir/f.txt', 'f');
    const f = await apiJson(h, `${ref('notdir/f.txt')}/children`);
    expect(f.status).toBe(400);
    expect(errorOf(f.body).code).toBe('invalidRequest');
    expect((await apiJson(h, `${ref('nowhere')}/children`)).status).toBe(404);
  });
});
