/**
 * Conformance: delta (docs/graph-api.md §5) over real HTTP, in both modes — enumeration across pages,
 * incremental feeds after changes "from another device", tombstones, token=latest, both link
 * spellings, $select, folder scope, timestamps, 410 resyncRequired with Location, invalid tokens.
 */
import { describe, expect, it } from 'vitest';
import { admin, apiJson, errorOf, testClock, useEmulator, type EmulatorHandle } from './helpers.ts';

interface DeltaItem {
  id: string;
  name?: string;
  size?: number;
  cTag?: string;
  root?: object;
  deleted?: Record<string, unknown>;
  file?: object;
  folder?: { childCount: number };
  parentReference?: { id?: string; driveId?: string; path?: string };
  [k: string]: unknown;
}

interface DeltaPage {
  value: DeltaItem[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

interface DeltaBatch {
  pages: DeltaPage[];
  /** Every entry of every page, in feed order (repeats kept). */
  items: DeltaItem[];
  deltaLink: string;
}

/** Follows nextLinks to the deltaLink, checking that each page carries exactly one of the two. */
async function collect(h: EmulatorHandle, start: string): Promise<DeltaBatch> {
  const pages: DeltaPage[] = [];
  let url = start;
  for (let guard = 0; guard < 10_000; guard++) {
    const { status, body } = await apiJson<DeltaPage>(h, url);
    expect(status, JSON.stringify(body)).toBe(200);
    const next = body['@odata.nextLink'];
    const delta = body['@odata.deltaLink'];
    expect(Array.isArray(body.value)).toBe(true);
    expect((next === undefined) !== (delta === undefined), 'exactly one of nextLink / deltaLink').toBe(true);
    pages.push(body);
    if (delta !== undefined) return { pages, items: pages.flatMap((p) => p.value), deltaLink: delta };
    url = next!;
  }
  throw new Error('delta did not reach a deltaLink');
}

/** A deltaLink "at now", without enumerating. */
async function latest(h: EmulatorHandle, query = ''): Promise<string> {
  const { status, body } = await apiJson<DeltaPage>(h, `/me/drive/root/delta?token=latest${query}`);
  expect(status).toBe(200);
  expect(body.value).toEqual([]);
  expect(body['@odata.nextLink']).toBeUndefined();
  expect(typeof body['@odata.deltaLink']).toBe('string');
  return body['@odata.deltaLink']!;
}

async function remote(h: EmulatorHandle, change: Record<string, unknown>): Promise<DeltaItem | null> {
  const { status, body } = await admin<{ item: DeltaItem | null }>(h, 'POST', '/remote', change);
  expect(status, JSON.stringify(body)).toBe(200);
  return body.item;
}

async function idOf(h: EmulatorHandle, path: string): Promise<string> {
  const { status, body } = await admin<{ id: string }>(h, 'GET', `/item?path=${encodeURIComponent(path)}`);
  expect(status).toBe(200);
  return body.id;
}

async function liveCount(h: EmulatorHandle): Promise<number> {
  const { body } = await admin<{ files: number; folders: number }>(h, 'GET', '/info');
  return body.files + body.folders + 1; // + the root
}

function countById(items: DeltaItem[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const it of items) m.set(it.id, (m.get(it.id) ?? 0) + 1);
  return m;
}

/** The last occurrence of each id wins (docs/graph-api.md §5). */
function lastById(items: DeltaItem[]): Map<string, DeltaItem> {
  return new Map(items.map((it) => [it.id, it]));
}

describe.each(['personal', 'business'] as const)('delta (%s)', (mode) => {
  const clock = testClock();
  const emu = useEmulator({ mode, now: clock.now });

  it('enumerates the whole tree across $top pages, root included, each item once, parents first', async () => {
    const h = emu();
    await h.emulator.admin.generate({ under: 'enum', folders: 3, filesPerFolder: 4, depth: 2, fileSize: 64 });
    const total = await liveCount(h);
    const batch = await collect(h, '/me/drive/root/delta?$top=5');
    expect(batch.pages.length).toBeGreaterThanOrEqual(Math.ceil(total / 5));
    for (const page of batch.pages.slice(0, -1)) expect(page['@odata.nextLink']).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\.0\//);
    expect(batch.deltaLink).toMatch(/\/root\/delta\?.*token=/);
    const counts = countById(batch.items);
    expect(counts.size).toBe(total);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    const root = batch.items.find((i) => i.root !== undefined);
    expect(root?.id).toBe(h.emulator.drive.rootId);
    // Parent-first in the initial enumeration (what rclone relies on), and no paths in delta.
    const seen = new Set<string>();
    for (const it of batch.items) {
      if (it.root === undefined) expect(seen.has(it.parentReference!.id!), `${it.name} after its parent`).toBe(true);
      expect(it.parentReference?.path).toBeUndefined();
      expect(it['@microsoft.graph.downloadUrl']).toBeUndefined();
      seen.add(it.id);
    }
    // An enumeration reports no tombstones.
    expect(batch.items.some((i) => i.deleted)).toBe(false);
  });

  it('reports only what changed since the token, each item once in its latest state', async () => {
    const h = emu();
    await remote(h, { op: 'mkdir', path: 'inc' });
    await remote(h, { op: 'mkdir', path: 'inc/sub' });
    await remote(h, { op: 'write', path: 'inc/keep.txt', content: 'keep' });
    const twice = (await remote(h, { op: 'write', path: 'inc/twice.txt', content: 'v1' }))!;
    const gone = (await remote(h, { op: 'write', path: 'inc/gone.txt', content: 'x' }))!;
    const link = await latest(h, '&$top=2');

    await remote(h, { op: 'write', path: 'inc/twice.txt', content: 'version two' });
    await remote(h, { op: 'move', path: 'inc/twice.txt', newPath: 'inc/sub/renamed.txt' });
    const added = (await remote(h, { op: 'write', path: 'inc/new.txt', content: 'new' }))!;
    await remote(h, { op: 'delete', path: 'inc/gone.txt' });
    const dir = (await remote(h, { op: 'mkdir', path: 'inc/newdir' }))!;

    const batch = await collect(h, link);
    expect(batch.pages.length).toBeGreaterThan(1);
    const changed = new Set([twice.id, added.id, gone.id, dir.id]);
    const counts = countById(batch.items);
    for (const id of changed) expect(counts.get(id), `changed item ${id} once`).toBe(1);
    const byId = lastById(batch.items);
    expect(byId.get(twice.id)).toMatchObject({ name: 'renamed.txt', size: 11, parentReference: { id: await idOf(h, 'inc/sub') } });
    expect(byId.get(gone.id)?.deleted).toBeDefined();
    expect(byId.has(await idOf(h, 'inc/keep.txt'))).toBe(false);

    const extras = [...counts.keys()].filter((id) => !changed.has(id));
    if (mode === 'personal') {
      expect(extras).toEqual([]);
    } else {
      // B re-sends the ancestor chain of changed items — and nothing else.
      const ancestors = new Set([h.emulator.drive.rootId, await idOf(h, 'inc'), await idOf(h, 'inc/sub')]);
      expect(extras.every((id) => ancestors.has(id)), `extras ${extras.join(',')}`).toBe(true);
      expect(new Set(extras)).toEqual(ancestors);
    }

    // The new deltaLink is at "now": nothing more to report.
    const again = await collect(h, batch.deltaLink);
    expect(again.items).toEqual([]);
  });

  it('makes no parent-first promise in incremental feeds (P: a moved child precedes its new parent; B: ancestors are re-sent)', async () => {
    const h = emu();
    const link = await latest(h);
    const later = (await remote(h, { op: 'mkdir', path: 'later' }))!;
    const child = (await remote(h, { op: 'write', path: 'orphan.txt', content: 'c' }))!;
    await remote(h, { op: 'move', path: 'orphan.txt', newPath: 'later/orphan.txt' });
    await remote(h, { op: 'move', path: 'later', newPath: 'later-renamed' });

    const { items } = await collect(h, link);
    const childAt = items.findIndex((i) => i.id === child.id);
    const lastParentAt = items.map((i) => i.id).lastIndexOf(later.id);
    expect(items[childAt]!.parentReference?.id).toBe(later.id);
    expect(lastById(items).get(later.id)?.name).toBe('later-renamed');
    if (mode === 'personal') {
      // The child's new parent arrives only after it: clients must buffer the batch and resolve by id.
      expect(childAt).toBeLessThan(lastParentAt);
      expect(items.slice(0, childAt).some((i) => i.id === later.id)).toBe(false);
    } else {
      // B adds the ancestor chain in front of the child; the parent's own change still comes later.
      expect(items.slice(0, childAt).some((i) => i.id === later.id)).toBe(true);
    }
  });

  it('reports deletes as tombstones in the mode’s shape, with every descendant of a deleted folder', async () => {
    const h = emu();
    await remote(h, { op: 'mkdir', path: 'del' });
    await remote(h, { op: 'mkdir', path: 'del/sub' });
    await remote(h, { op: 'write', path: 'del/a.txt', content: 'aaa' });
    await remote(h, { op: 'write', path: 'del/sub/b.txt', content: 'bbbb' });
    const ids = await Promise.all(['del', 'del/sub', 'del/a.txt', 'del/sub/b.txt'].map((p) => idOf(h, p)));
    const link = await latest(h);
    await remote(h, { op: 'delete', path: 'del' });

    const byId = lastById((await collect(h, link)).items);
    for (const id of ids) {
      const t = byId.get(id);
      expect(t, `tombstone for ${id}`).toBeDefined();
      expect(t!.cTag).toBeUndefined();
      if (mode === 'personal') {
        expect(t!.deleted).toEqual({});
        expect(typeof t!.name).toBe('string');
        expect(t!.size).toBeUndefined();
      } else {
        expect(t!.deleted).toEqual({ state: 'deleted' });
        expect(t!.size).toBe(0);
        expect(t!.name).toBeUndefined();
      }
    }
    const tombstones = [...byId.values()].filter((i) => i.deleted);
    expect(tombstones.map((t) => t.id).sort()).toEqual([...ids].sort());
  });

  it('token=latest starts at now without enumerating', async () => {
    const h = emu();
    await remote(h, { op: 'write', path: 'before-latest.txt', content: 'b' });
    const link = await latest(h);
    const after = (await remote(h, { op: 'write', path: 'after-latest.txt', content: 'a' }))!;
    const { items } = await collect(h, link);
    const ids = new Set(items.map((i) => i.id));
    expect(ids.has(after.id)).toBe(true);
    expect(ids.has(await idOf(h, 'before-latest.txt'))).toBe(false);
  });

  it('accepts both link spellings and both drive roots', async () => {
    const h = emu();
    const link = await latest(h);
    expect(new URL(link).pathname).toMatch(/\/root\/delta$/);
    const token = new URL(link).searchParams.get('token')!;
    expect(token).toBeTruthy();
    const made = (await remote(h, { op: 'write', path: 'spelling.txt', content: 's' }))!;
    const driveId = encodeURIComponent(h.emulator.drive.driveId);
    const forms = [
      link,
      `/me/drive/root/delta(token='${token}')`,
      `/drives/${driveId}/root/delta?token=${encodeURIComponent(token)}`,
      `/drives/${driveId}/root/delta(token='${token}')`,
    ];
    for (const form of forms) {
      const { items } = await collect(h, form);
      expect(items.some((i) => i.id === made.id), form).toBe(true);
    }
  });

  it('honours $select on every page, keeping tombstone markers', async () => {
    const h = emu();
    for (const n of ['s1', 's2', 's3', 's4']) await remote(h, { op: 'write', path: `sel-${n}.txt`, content: n });
    const first = await collect(h, '/me/drive/root/delta?$select=id,name&$top=3');
    expect(first.pages.length).toBeGreaterThan(1);
    for (const it of first.items) for (const k of Object.keys(it)) expect(['id', 'name'], k).toContain(k);
    await remote(h, { op: 'write', path: 'selected.txt', content: 's' });
    await remote(h, { op: 'delete', path: 'selected.txt' });
    // The deltaLink keeps the selection.
    const inc = await collect(h, first.deltaLink);
    expect(inc.items.length).toBeGreaterThan(0);
    for (const it of inc.items) for (const k of Object.keys(it)) expect(['id', 'name', 'deleted'], k).toContain(k);
    expect(inc.items.some((i) => i.deleted)).toBe(true);
  });

  it(`reports folder childCount ${mode === 'personal' ? 'as 0 (P quirk)' : 'truthfully (B)'}`, async () => {
    const h = emu();
    await remote(h, { op: 'mkdir', path: 'counted' });
    await remote(h, { op: 'write', path: 'counted/1.txt', content: '1' });
    await remote(h, { op: 'write', path: 'counted/2.txt', content: '2' });
    const id = await idOf(h, 'counted');
    const { items } = await collect(h, '/me/drive/root/delta?$top=1000');
    const folder = lastById(items).get(id)!;
    expect(folder.folder?.childCount).toBe(mode === 'personal' ? 0 : 2);
    // Outside delta the count is real in both modes.
    const { body } = await apiJson<DeltaItem>(h, `/me/drive/items/${encodeURIComponent(id)}`);
    expect(body.folder?.childCount).toBe(2);
  });

  if (mode === 'business') {
    it('B accepts a timestamp as token (changes since then)', async () => {
      const h = emu();
      const old = (await remote(h, { op: 'write', path: 'ts-old.txt', content: 'o' }))!;
      clock.advance(1000);
      const since = new Date(clock.now()).toISOString();
      clock.advance(1000);
      const fresh = (await remote(h, { op: 'write', path: 'ts-new.txt', content: 'n' }))!;
      const { items } = await collect(h, `/me/drive/root/delta?token=${encodeURIComponent(since)}`);
      const ids = new Set(items.map((i) => i.id));
      expect(ids.has(fresh.id)).toBe(true);
      expect(ids.has(old.id)).toBe(false);
    });

    it('B refuses folder-scoped delta', async () => {
      const h = emu();
      const folder = (await remote(h, { op: 'mkdir', path: 'b-scope' }))!;
      const { status, body } = await apiJson(h, `/me/drive/items/${encodeURIComponent(folder.id)}/delta`);
      expect(status).toBe(400);
      expect(errorOf(body).code).toBe('invalidRequest');
    });
  } else {
    it('P refuses a timestamp as token', async () => {
      const h = emu();
      const { status, body } = await apiJson(h, `/me/drive/root/delta?token=${encodeURIComponent(new Date().toISOString())}`);
      expect(status).toBe(400);
      expect(errorOf(body).code).toBe('invalidRequest');
    });

    it('P supports folder-scoped delta: only items in that subtree, enumeration and incremental', async () => {
      const h = emu();
      const scope = (await remote(h, { op: 'mkdir', path: 'scope' }))!;
      const inner = (await remote(h, { op: 'mkdir', path: 'scope/in' }))!;
      const f = (await remote(h, { op: 'write', path: 'scope/in/f.txt', content: 'f' }))!;
      await remote(h, { op: 'write', path: 'outside.txt', content: 'o' });
      const first = await collect(h, `/me/drive/items/${encodeURIComponent(scope.id)}/delta?$top=2`);
      expect(new Set(first.items.map((i) => i.id))).toEqual(new Set([scope.id, inner.id, f.id]));
      expect(first.deltaLink).toContain(`/items/${encodeURIComponent(scope.id)}/delta`);

      const g = (await remote(h, { op: 'write', path: 'scope/in/g.txt', content: 'g' }))!;
      await remote(h, { op: 'write', path: 'outside2.txt', content: 'o' });
      const inc = await collect(h, first.deltaLink);
      expect(inc.items.map((i) => i.id)).toEqual([g.id]);
    });
  }

  it('answers 410 resyncRequired with a Location that restarts the enumeration after an admin invalidate', async () => {
    const h = emu();
    const link = await latest(h);
    const ex = await admin(h, 'POST', '/expire', { what: 'deltaTokens' });
    expect(ex.status).toBe(204);
    const gone = await apiJson(h, link);
    expect(gone.status).toBe(410);
    expect(errorOf(gone.body).code).toBe('resyncRequired');
    const location = gone.headers.get('location');
    expect(location).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\.0\/.*delta/);
    const restart = await collect(h, location!);
    expect(countById(restart.items).size).toBe(await liveCount(h));
    expect(restart.items.some((i) => i.root !== undefined)).toBe(true);
    // The link the restart ends with is good again.
    expect((await apiJson(h, restart.deltaLink)).status).toBe(200);
  });

  it('answers 410 for a token older than the tombstones kept, not for a newer one', async () => {
    const h = emu();
    const old = await latest(h);
    await remote(h, { op: 'write', path: 'purged.txt', content: 'p' });
    await remote(h, { op: 'delete', path: 'purged.txt' });
    expect((await admin(h, 'POST', '/expire', { what: 'tombstones' })).status).toBe(204);
    const fresh = await latest(h);
    const gone = await apiJson(h, old);
    expect(gone.status).toBe(410);
    expect(errorOf(gone.body).code).toBe('resyncRequired');
    expect(gone.headers.get('location')).toContain('delta');
    expect((await collect(h, fresh)).items).toEqual([]);
  });

  it('answers 400 to a token it never issued, and to a bad $top', async () => {
    const h = emu();
    for (const bad of ['/me/drive/root/delta?token=not-a-token', "/me/drive/root/delta(token='zzz')", '/me/drive/root/delta?$top=0', '/me/drive/root/delta?$top=ten']) {
      const { status, body } = await apiJson(h, bad);
      expect(status, bad).toBe(400);
      expect(errorOf(body).code).toBe('invalidRequest');
    }
  });
});

describe('delta over a large drive', () => {
  const emu = useEmulator({ mode: 'personal' });
  // 100 000 items (+ folders and the root). Seeding and enumerating take about 10 s here; the
  // benchmark (bench/) times the same enumeration.
  const FOLDERS = 100;
  const FILES = 999;

  it('enumerates a 100 000-item drive with $top=1000, every item exactly once', { timeout: 120_000 }, async () => {
    const h = emu();
    await h.emulator.admin.generate({ folders: FOLDERS, filesPerFolder: FILES, fileSize: 16 });
    const total = await liveCount(h);
    expect(total).toBe(FOLDERS * (FILES + 1) + 1);
    const seen = new Set<string>();
    let url = '/me/drive/root/delta?$top=1000';
    let pages = 0;
    for (;;) {
      const { status, body } = await apiJson<DeltaPage>(h, url);
      expect(status).toBe(200);
      pages++;
      expect(body.value.length).toBeLessThanOrEqual(1000);
      for (const it of body.value) {
        if (seen.has(it.id)) throw new Error(`${it.id} reported twice`);
        if (it.root === undefined && !seen.has(it.parentReference!.id!)) throw new Error(`${it.id} before its parent`);
        seen.add(it.id);
      }
      if (body['@odata.deltaLink']) break;
      url = body['@odata.nextLink']!;
    }
    expect(seen.size).toBe(total);
    expect(pages).toBe(Math.ceil(total / 1000));
  });
});
