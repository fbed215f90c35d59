/**
 * Conformance: shared folders (docs/graph-api.md §2.2, §15 #15) over real HTTP, in both modes — the
 * shortcut's remoteItem facet in children and delta, listing, reading and writing through
 * /drives/{otherDrive}/items/{id}/…, 403 accessDenied for read-only shares and for items not shared,
 * permissions, and each share's own delta (folder delta on Personal, the trimmed root delta on
 * Business). Personal lists shortcuts only with `Prefer: Include-Feature=AddToOneDrive`.
 */
import { describe, expect, it } from 'vitest';
import { admin, api, apiJson, apiSend, errorOf, storage, useEmulator, type EmulatorHandle } from './helpers.ts';

const PREFER = { prefer: 'Include-Feature=AddToOneDrive' };

interface Item {
  id: string;
  name?: string;
  deleted?: object;
  folder?: object;
  file?: object;
  parentReference?: { driveId?: string; id?: string };
  remoteItem?: { id: string; name?: string; parentReference?: { driveId?: string; driveType?: string }; folder?: { childCount?: number } };
  '@microsoft.graph.downloadUrl'?: string;
}

interface Share {
  driveId: string;
  itemId: string;
  access: 'read' | 'write';
  shortcutId?: string;
}

async function share(h: EmulatorHandle, path: string, access: 'read' | 'write', name?: string): Promise<Share> {
  const { status, body } = await admin<Share>(h, 'POST', '/shares', { path, access, ...(name ? { name } : {}) });
  expect(status).toBe(200);
  return body;
}

async function otherWrite(h: EmulatorHandle, path: string, content: string): Promise<void> {
  expect((await admin(h, 'POST', '/remote?drive=other', { op: 'write', path, content })).status).toBe(200);
}

async function deltaAll(h: EmulatorHandle, start: string): Promise<{ items: Item[]; deltaLink: string }> {
  const items: Item[] = [];
  let url = start;
  for (;;) {
    const { status, body } = await apiJson<{ value: Item[]; '@odata.nextLink'?: string; '@odata.deltaLink'?: string }>(h, url, { headers: PREFER });
    expect(status, JSON.stringify(body)).toBe(200);
    items.push(...body.value);
    if (body['@odata.deltaLink']) return { items, deltaLink: body['@odata.deltaLink'] };
    url = body['@odata.nextLink']!;
  }
}

for (const mode of ['personal', 'business'] as const) {
  describe(`shared folders (${mode})`, () => {
    const emu = useEmulator({ mode });
    let rw: Share;
    let ro: Share;

    /** The share's own delta: folder delta on Personal, the other drive's (trimmed) root delta on Business. */
    const shareDelta = (s: Share) => (mode === 'personal' ? `/drives/${s.driveId}/items/${s.itemId}/delta` : `/drives/${s.driveId}/root/delta`);

    it('a shared folder added to the drive is a shortcut with remoteItem (other drive id, folder id)', async () => {
      const h = emu();
      rw = await share(h, 'Team', 'write');
      ro = await share(h, 'Archive', 'read', 'Old archive');
      await otherWrite(h, 'Team/readme.txt', 'team notes');
      await otherWrite(h, 'Archive/2019.txt', 'old');
      expect((await admin(h, 'POST', '/remote?drive=other', { op: 'mkdir', path: 'Private' })).status).toBe(200);
      await otherWrite(h, 'Private/secret.txt', 'not shared');
      expect(rw.driveId).not.toBe((await admin<{ driveId: string }>(h, 'GET', '/info')).body.driveId);
      const { body } = await apiJson<{ value: Item[] }>(h, '/me/drive/root/children', { headers: PREFER });
      const team = body.value.find((i) => i.name === 'Team')!;
      expect(team.folder).toBeUndefined();
      expect(team.remoteItem).toMatchObject({ id: rw.itemId, name: 'Team', parentReference: { driveId: rw.driveId, driveType: mode }, folder: { childCount: 1 } });
      expect(body.value.find((i) => i.name === 'Old archive')?.remoteItem?.id).toBe(ro.itemId);
    });

    it(mode === 'personal' ? 'Personal hides shortcuts without Prefer: Include-Feature=AddToOneDrive' : 'Business lists shortcuts without the Prefer header', async () => {
      const h = emu();
      const { body } = await apiJson<{ value: Item[] }>(h, '/me/drive/root/children');
      expect(body.value.some((i) => i.remoteItem !== undefined)).toBe(mode === 'business');
    });

    it('lists and reads the share through /drives/{driveId}/items/{id}', async () => {
      const h = emu();
      const { status, body } = await apiJson<{ value: Item[] }>(h, `/drives/${rw.driveId}/items/${rw.itemId}/children`);
      expect(status).toBe(200);
      const readme = body.value.find((i) => i.name === 'readme.txt')!;
      expect(readme.parentReference).toMatchObject({ driveId: rw.driveId, id: rw.itemId });
      const bytes = await storage(readme['@microsoft.graph.downloadUrl']!);
      expect(await bytes.text()).toBe('team notes');
      const redirect = await api(h, `/drives/${rw.driveId}/items/${readme.id}/content`);
      expect(redirect.status).toBe(302);
      expect(await (await storage(redirect.headers.get('location')!)).text()).toBe('team notes');
    });

    it('writes into a read-write share land in the other drive: upload, mkdir, rename, delete, upload session', async () => {
      const h = emu();
      const base = `/drives/${rw.driveId}/items/${rw.itemId}`;
      const put = await apiJson<Item>(h, `${base}:/mine.txt:/content`, { method: 'PUT', body: 'from the user' });
      expect(put.status).toBe(201);
      expect(put.body.parentReference?.driveId).toBe(rw.driveId);
      expect(await (await fetch(`${h.adminUrl}/content?path=Team/mine.txt&drive=other`)).text()).toBe('from the user');
      const folder = await apiSend<Item>(h, 'POST', `${base}/children`, { name: 'Sub', folder: {} });
      expect(folder.status).toBe(201);
      const renamed = await apiSend<Item>(h, 'PATCH', `/drives/${rw.driveId}/items/${put.body.id}`, { name: 'mine2.txt', parentReference: { id: folder.body.id } });
      expect(renamed.status).toBe(200);
      expect(renamed.body.name).toBe('mine2.txt');
      const session = await apiSend<{ uploadUrl: string }>(h, 'POST', `${base}:/big.bin:/createUploadSession`, { item: {} });
      expect(session.status).toBe(200);
      const frag = await storage(session.body.uploadUrl, { method: 'PUT', body: 'x'.repeat(10), headers: { 'content-range': 'bytes 0-9/10' } });
      expect(frag.status).toBe(201);
      expect(((await frag.json()) as Item).parentReference?.driveId).toBe(rw.driveId);
      const del = await api(h, `/drives/${rw.driveId}/items/${renamed.body.id}`, { method: 'DELETE' });
      expect(del.status).toBe(204);
      const tree = (await admin<{ items: Array<{ path: string }> }>(h, 'GET', '/tree?path=Team&drive=other')).body.items.map((i) => i.path);
      expect(tree.sort()).toEqual(['Sub', 'big.bin', 'readme.txt']);
    });

    it("thumbnails of a shared picture are served from the other drive", async () => {
      const h = emu();
      const put = await apiJson<Item>(h, `/drives/${rw.driveId}/items/${rw.itemId}:/pic.png:/content`, { method: 'PUT', body: 'not really a png' });
      expect(put.status).toBe(201);
      const sets = await apiJson<{ value: Array<{ small?: { url: string } }> }>(h, `/drives/${rw.driveId}/items/${put.body.id}/thumbnails`);
      expect(sets.status).toBe(200);
      const small = await storage(sets.body.value[0]!.small!.url);
      expect(small.status).toBe(200);
      expect(small.headers.get('content-type')).toBe('image/png');
      expect((await api(h, `/drives/${rw.driveId}/items/${put.body.id}`, { method: 'DELETE' })).status).toBe(204);
    });

    it('a read-only share refuses every write with 403 accessDenied, and nothing changes', async () => {
      const h = emu();
      const base = `/drives/${ro.driveId}/items/${ro.itemId}`;
      const { body: listing } = await apiJson<{ value: Item[] }>(h, `${base}/children`);
      const file = listing.value.find((i) => i.name === '2019.txt')!;
      const attempts = [
        await apiJson(h, `${base}:/new.txt:/content`, { method: 'PUT', body: 'x' }),
        await apiJson(h, `/drives/${ro.driveId}/items/${file.id}/content`, { method: 'PUT', body: 'x' }),
        await apiSend(h, 'POST', `${base}/children`, { name: 'Sub', folder: {} }),
        await apiSend(h, 'PATCH', `/drives/${ro.driveId}/items/${file.id}`, { name: 'renamed.txt' }),
        await apiJson(h, `/drives/${ro.driveId}/items/${file.id}`, { method: 'DELETE' }),
        await apiSend(h, 'POST', `${base}:/big.bin:/createUploadSession`, { item: {} }),
      ];
      for (const a of attempts) {
        expect(a.status).toBe(403);
        expect(errorOf(a.body).code).toBe('accessDenied');
      }
      const tree = (await admin<{ items: Array<{ path: string }> }>(h, 'GET', '/tree?path=Archive&drive=other')).body.items.map((i) => i.path);
      expect(tree).toEqual(['2019.txt']);
      const perms = await apiJson<{ value: Array<{ roles: string[] }> }>(h, `/drives/${ro.driveId}/items/${file.id}/permissions`);
      expect(perms.body.value[0]!.roles).toEqual(['read']);
      const rwPerms = await apiJson<{ value: Array<{ roles: string[] }> }>(h, `/drives/${rw.driveId}/items/${rw.itemId}/permissions`);
      expect(rwPerms.body.value[0]!.roles).toEqual(['write']);
    });

    it('what is not shared is not reachable; the shared folder itself cannot be deleted by the user', async () => {
      const h = emu();
      const root = await apiJson(h, `/drives/${rw.driveId}/root/children`);
      expect(root.status).toBe(403);
      const priv = await apiJson(h, `/drives/${rw.driveId}/root:/Private/secret.txt`);
      expect(priv.status).toBe(403);
      const del = await apiJson(h, `/drives/${rw.driveId}/items/${rw.itemId}`, { method: 'DELETE' });
      expect(del.status).toBe(403);
      expect((await apiJson(h, '/drives/no-such-drive/root')).status).toBe(404);
    });

    it("the share has its own delta on the other drive; the owner's changes arrive there, not in the user's delta", async () => {
      const h = emu();
      if (mode === 'business') {
        const refused = await apiJson(h, `/drives/${rw.driveId}/items/${rw.itemId}/delta`);
        expect(refused.status).toBe(400);
      }
      const first = await deltaAll(h, shareDelta(rw));
      const names = first.items.map((i) => i.name);
      expect(names).toContain('readme.txt');
      expect(names).not.toContain('secret.txt');
      expect(names).not.toContain('Private');
      if (mode === 'personal') expect(names).not.toContain('2019.txt');
      const mine = await deltaAll(h, '/me/drive/root/delta');
      await otherWrite(h, 'Team/owner-added.txt', 'by the owner');
      await otherWrite(h, 'Private/also-secret.txt', 'no');
      const next = await deltaAll(h, first.deltaLink);
      expect(next.items.map((i) => i.name)).toContain('owner-added.txt');
      expect(next.items.map((i) => i.name)).not.toContain('also-secret.txt');
      expect(next.items.every((i) => i.name !== 'Private' && i.name !== 'root')).toBe(true);
      const mineNext = await deltaAll(h, mine.deltaLink);
      expect(mineNext.items.map((i) => i.name)).not.toContain('owner-added.txt');
    });

    it("the user's delta lists the shortcut; unsharing deletes it there", async () => {
      const h = emu();
      const first = await deltaAll(h, '/me/drive/root/delta');
      expect(first.items.find((i) => i.id === ro.shortcutId)?.remoteItem?.id).toBe(ro.itemId);
      expect((await admin(h, 'DELETE', '/shares?path=Archive')).status).toBe(204);
      const next = await deltaAll(h, first.deltaLink);
      expect(next.items.find((i) => i.id === ro.shortcutId)?.deleted).toBeDefined();
      expect((await apiJson(h, `/drives/${ro.driveId}/items/${ro.itemId}/children`)).status).toBe(403);
    });
  });
}
