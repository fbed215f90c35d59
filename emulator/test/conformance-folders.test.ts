/**
 * Conformance over real HTTP (docs/graph-api.md §3, §8.1): folder creation with each conflict behaviour
 * and both annotation spellings, case-insensitive names, and the names OneDrive refuses.
 */
import { describe, expect, it } from 'vitest';
import { admin, apiJson, apiSend, errorOf, putContent, useEmulator } from './helpers.ts';
import { getItem, mkdir, mkdirp, MODES, put, ref, type Item, type Page } from './item-helpers.ts';

describe.each(MODES)('folder create (%s)', (mode) => {
  const emu = useEmulator({ mode });

  it('POST children creates a folder: 201, childCount 0, size 0, under the parent', async () => {
    const h = emu();
    const parent = await mkdirp(h, 'create');
    const made = await mkdir(h, 'create', 'New Folder');
    expect(made.status).toBe(201);
    expect(made.body).toMatchObject({ name: 'New Folder', size: 0, folder: { childCount: 0 }, parentReference: { id: parent.id } });
    expect(made.body.file).toBeUndefined();
    expect((await getItem(h, 'create/New Folder')).id).toBe(made.body.id);
    // Also through the parent's id and through root/children.
    const byId = await apiSend<Item>(h, 'POST', `/me/drive/items/${encodeURIComponent(parent.id)}/children`, { name: 'by id', folder: {} });
    expect(byId.status).toBe(201);
    expect(byId.body.parentReference?.id).toBe(parent.id);
    const atRoot = await apiSend<Item>(h, 'POST', '/me/drive/root/children', { name: 'top-level-create', folder: {} });
    expect(atRoot.status).toBe(201);
    expect(atRoot.body.parentReference?.id).toBe((await getItem(h, '')).id);
    expect((await getItem(h, 'create')).folder?.childCount).toBe(2);
  });

  it('a name taken (case-insensitively, by a folder or a file) fails with 409 nameAlreadyExists by default and with fail', async () => {
    const h = emu();
    await mkdirp(h, 'clash/a');
    await put(h, 'clash/file.txt', 'x');
    for (const [name, extra] of [
      ['a', {}],
      ['A', {}],
      ['a', { '@microsoft.graph.conflictBehavior': 'fail' }],
      ['FILE.TXT', { '@name.conflictBehavior': 'fail' }],
    ] as const) {
      const r = await mkdir(h, 'clash', name, extra);
      expect(r.status).toBe(409);
      expect(errorOf(r.body).code).toBe('nameAlreadyExists');
    }
    const listing = await apiJson<Page>(h, `${ref('clash')}/children`);
    expect(listing.body.value.map((c) => c.name)).toEqual(['a', 'file.txt']);
  });

  it('rename invents a free name (" 1", " 2" before the extension) and answers with it; both spellings, body or query', async () => {
    const h = emu();
    await mkdirp(h, 'ren/Docs');
    const one = await mkdir(h, 'ren', 'Docs', { '@microsoft.graph.conflictBehavior': 'rename' });
    expect(one.status).toBe(201);
    expect(one.body.name).toBe('Docs 1');
    const two = await mkdir(h, 'ren', 'docs', { '@name.conflictBehavior': 'rename' });
    expect(two.body.name).toBe('docs 2');
    const three = await mkdir(h, 'ren', 'Docs', {}, '?@microsoft.graph.conflictBehavior=rename');
    expect(three.body.name).toBe('Docs 3');
    await mkdirp(h, 'ren/photos.2024');
    const ext = await mkdir(h, 'ren', 'photos.2024', {}, '?@name.conflictBehavior=rename');
    expect(ext.body.name).toBe('photos 1.2024');
    const names = (await apiJson<Page>(h, `${ref('ren')}/children`)).body.value.map((c) => c.name);
    expect(names).toEqual(['Docs', 'Docs 1', 'docs 2', 'Docs 3', 'photos 1.2024', 'photos.2024']);
  });

  it('replace removes the existing item (and what it held) and creates a fresh folder', async () => {
    const h = emu();
    const old = await mkdirp(h, 'repl/target');
    await put(h, 'repl/target/inner.txt', 'inner');
    const inner = await getItem(h, 'repl/target/inner.txt');
    const r = await mkdir(h, 'repl', 'TARGET', { '@microsoft.graph.conflictBehavior': 'replace' });
    expect(r.status).toBe(201);
    expect(r.body.id).not.toBe(old.id);
    expect(r.body.folder?.childCount).toBe(0);
    expect((await apiJson(h, `/me/drive/items/${encodeURIComponent(inner.id)}`)).status).toBe(404);
    expect((await apiJson(h, `/me/drive/items/${encodeURIComponent(old.id)}`)).status).toBe(404);
    expect((await getItem(h, 'repl')).folder?.childCount).toBe(1);
  });

  it('an unknown conflict behaviour, a missing name or a missing folder facet is a 400', async () => {
    const h = emu();
    await mkdirp(h, 'bad');
    expect((await mkdir(h, 'bad', 'x', { '@microsoft.graph.conflictBehavior': 'overwrite' })).status).toBe(400);
    expect((await apiSend(h, 'POST', `${ref('bad')}/children`, { folder: {} })).status).toBe(400);
    expect((await apiSend(h, 'POST', `${ref('bad')}/children`, { name: 'no-facet' })).status).toBe(400);
    expect((await apiJson(h, `${ref('bad')}/children`, { method: 'POST', body: '{not json', headers: { 'content-type': 'application/json' } })).status).toBe(400);
  });

  it('a missing parent is 404 itemNotFound; a parent that is a file is 400 invalidRequest', async () => {
    const h = emu();
    const missing = await mkdir(h, 'no/such/parent', 'x');
    expect(missing.status).toBe(404);
    expect(errorOf(missing.body).code).toBe('itemNotFound');
    const gone = await apiSend(h, 'POST', '/me/drive/items/NOPE!999/children', { name: 'x', folder: {} });
    expect(gone.status).toBe(404);
    await put(h, 'isfile/f.txt', 'f');
    const onFile = await mkdir(h, 'isfile/f.txt', 'x');
    expect(onFile.status).toBe(400);
    expect(errorOf(onFile.body).code).toBe('invalidRequest');
  });

  it('names that differ only in Unicode normalisation clash', async () => {
    const h = emu();
    await mkdirp(h, 'nfc');
    expect((await mkdir(h, 'nfc', 'caf\u00e9')).status).toBe(201);
    expect((await mkdir(h, 'nfc', 'cafe\u0301')).status).toBe(409);
  });
});

describe.each(MODES)('invalid names (%s)', (mode) => {
  const emu = useEmulator({ mode });
  let fileNo = 0;

  const alwaysInvalid: Array<[string, string]> = [
    ...['\\', '*', '<', '>', '?', ':', '|', '"'].map((c): [string, string] => [`character ${c}`, `a${c}b`]),
    ['reserved CON', 'CON'],
    ['reserved con.txt', 'con.txt'],
    ['reserved LPT1', 'LPT1'],
    ['reserved nul.tar.gz', 'nul.tar.gz'],
    ['reserved COM9', 'com9'],
    ['trailing dot', 'name.'],
    ['trailing space', 'name '],
    ['desktop.ini', 'desktop.ini'],
    ['Desktop.INI', 'Desktop.INI'],
    ['.lock', '.lock'],
    ['_vti_', 'my_vti_file'],
    ['control character', 'a\u0001b'],
    ['dot', '.'],
    ['dot dot', '..'],
  ];
  const businessOnly: Array<[string, string]> = [
    ['~$ owner file', '~$report.docx'],
    ['leading ~', '~draft'],
  ];
  /** Accepted by every drive unless a business tenant turned them off. */
  const tenantOption: Array<[string, string]> = [
    ['#', 'a#b'],
    ['%', '100%'],
  ];

  const expectInvalid = (r: { status: number; body: unknown }) => {
    expect(r.status).toBe(400);
    expect(errorOf(r.body)).toMatchObject({ code: 'invalidRequest', inner: 'invalidPath' });
  };

  it.each(alwaysInvalid)('%s is refused as a folder, a file and a rename target', async (_label, name) => {
    const h = emu();
    await mkdirp(h, 'inv');
    expectInvalid(await mkdir(h, 'inv', name));
    if (!name.includes('?') && name !== '.' && name !== '..') {
      // A '?' would end the URL path; '.'/'..' would be resolved by the URL parser.
      expectInvalid(await putContent(h, `inv/${name}`, 'x'));
    }
    const ok = await put(h, `inv/ok-${++fileNo}.txt`, 'x');
    expect(ok.status).toBe(201);
    expectInvalid(await apiSend(h, 'PATCH', `/me/drive/items/${encodeURIComponent(ok.body.id)}`, { name }));
    const names = (await apiJson<Page>(h, `${ref('inv')}/children`)).body.value.map((c) => c.name);
    expect(names).not.toContain(name);
  });

  it.each(businessOnly)('%s is refused on business and accepted on personal', async (_label, name) => {
    const h = emu();
    await mkdirp(h, 'bonly');
    const folder = await mkdir(h, 'bonly', name);
    const file = await putContent(h, `bonly/${name}.txt`, 'x');
    if (mode === 'business') {
      expectInvalid(folder);
      expectInvalid(file);
    } else {
      expect(folder.status).toBe(201);
      expect(folder.body.name).toBe(name);
      expect(file.status).toBe(201);
      expect((await getItem(h, `bonly/${name}.txt`)).name).toBe(`${name}.txt`);
    }
  });

  it.each(tenantOption)('%s is accepted by default, and refused on business while the tenant turns it off', async (_label, name) => {
    const h = emu();
    await mkdirp(h, 'tenant');
    const folder = await mkdir(h, 'tenant', name);
    expect(folder.status).toBe(201);
    expect(folder.body.name).toBe(name);
    expect((await putContent(h, `tenant/${name}.txt`, 'x')).status).toBe(201);
    expect((await getItem(h, `tenant/${name}.txt`)).name).toBe(`${name}.txt`);
    await admin(h, 'POST', '/knobs', { refuseHashAndPercent: true });
    try {
      const again = await mkdir(h, 'tenant', `${name} 2`);
      const file = await putContent(h, `tenant/${name} 2.txt`, 'x');
      if (mode === 'business') {
        expectInvalid(again);
        expectInvalid(file);
        expect(errorOf(again.body).message).toContain(`"${name.includes('#') ? '#' : '%'}"`);
      } else {
        // A personal drive has no tenant: the option does not apply.
        expect(again.status).toBe(201);
        expect(file.status).toBe(201);
      }
    } finally {
      await admin(h, 'POST', '/knobs', { refuseHashAndPercent: false });
    }
  });

  it('reserved device names are fine as part of a longer stem (CONSOLE, lpt10x, con-tent)', async () => {
    const h = emu();
    await mkdirp(h, 'notreserved');
    for (const name of ['CONSOLE', 'console.txt', 'con-tent', 'auxiliary']) expect((await mkdir(h, 'notreserved', name)).status).toBe(201);
  });

  it('a path of 400 characters or more is refused; 399 is accepted', async () => {
    const h = emu();
    // Build /long/<a…>/<b…> so that the full path is exactly 399 characters, then one more.
    const base = await mkdirp(h, 'long');
    const seg1 = 'a'.repeat(200);
    const d1 = await apiSend<Item>(h, 'POST', `/me/drive/items/${encodeURIComponent(base.id)}/children`, { name: seg1, folder: {} });
    expect(d1.status).toBe(201);
    const used = `/long/${seg1}/`.length;
    const fits = 'b'.repeat(399 - used);
    const tooLong = 'c'.repeat(400 - used);
    expect((await mkdir(h, `long/${seg1}`, fits)).status).toBe(201);
    expectInvalid(await mkdir(h, `long/${seg1}`, tooLong));
    expectInvalid(await putContent(h, `long/${seg1}/${tooLong}`, 'x'));
    // Renaming or moving into a path that is too long is refused too.
    const short = await put(h, `long/${seg1}/short.txt`, 'x');
    expectInvalid(await apiSend(h, 'PATCH', `/me/drive/items/${encodeURIComponent(short.body.id)}`, { name: tooLong }));
    const deep = await mkdirp(h, `long/${seg1}/${fits}`);
    const mover = await put(h, 'long/mover.txt', 'x');
    expectInvalid(await apiSend(h, 'PATCH', `/me/drive/items/${encodeURIComponent(mover.body.id)}`, { parentReference: { id: deep.id } }));
    expect((await getItem(h, 'long/mover.txt')).id).toBe(mover.body.id);
  });

  it('renaming a folder whose deepest descendant would then reach 400 characters is refused', async () => {
    const h = emu();
    const x = await mkdirp(h, 'pl/x');
    const d = 'd'.repeat(250);
    await mkdirp(h, `pl/x/${d}/${'e'.repeat(100)}`);
    // Today the deepest path is /pl/x/d…/e… = 357 characters.
    expectInvalid(await apiSend(h, 'PATCH', `/me/drive/items/${encodeURIComponent(x.id)}`, { name: 'x'.repeat(50) }));
    const ok = await apiSend<Item>(h, 'PATCH', `/me/drive/items/${encodeURIComponent(x.id)}`, { name: 'x'.repeat(42) });
    expect(ok.status).toBe(200);
  });

  it('a percent-encoded slash inside a segment is a name with a slash, and refused', async () => {
    const h = emu();
    await mkdirp(h, 'slash');
    expectInvalid(await apiJson(h, '/me/drive/root:/slash/a%2Fb.txt:/content', { method: 'PUT', body: 'x' }));
  });
});
