/**
 * Namespace calls (mkdir, rename) through the vfs against the emulator, where the server is behind
 * the local view (an offline change still in the journal) or changes while the call waits
 * (the uploads are the cache rig's recording stand-in, so each case says exactly what lands
 * when).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { GraphApiError, quickXorHash, type DriveItem } from '../graph/index.ts';
import { JournalReplayer } from '../sync/journal-replayer.ts';
import { startCacheRig, type CacheRig } from './testing/cache-rig.ts';
import { toRecord } from '../sync/testing/to-record.ts';
import { type StoredItem } from '../store/index.ts';

let emu: EmulatorHandle;
let rig: CacheRig;

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
});
beforeEach(async () => {
  rig = startCacheRig(emu.apiUrl);
  await rig.sync.syncOnce();
});
afterEach(async () => {
  await emu.emulator.setOffline(false);
  await rig.close();
});

function replayer(): JournalReplayer {
  const { store } = rig.temp;
  return new JournalReplayer({ graph: rig.graph, store, toRecord, logger: rig.memory.logger, tasks: rig.tasks, hostName: 'test-host', retry: { baseMs: 5_000, maxMs: 5_000 } });
}

/** Makes the next `fail(n)` records of a write's size fail (an injected disk error). */
function failingSizeRecords(store: CacheRig['temp']['store']): { fail(times: number): void; stop(): void } {
  const { items } = store;
  const setSizeAndTime = items.setSizeAndTime.bind(items);
  let failures = 0;
  items.setSizeAndTime = (...args: Parameters<typeof setSizeAndTime>) => {
    if (failures-- > 0) throw new Error('disk I/O error (injected)');
    return setSizeAndTime(...args);
  };
  return { fail: (times) => (failures = times), stop: () => (items.setSizeAndTime = setSizeAndTime) };
}

async function writeNew(path: string, content: Buffer): Promise<void> {
  const fh = await rig.vfs.create(path);
  await rig.vfs.write(fh, content, content.length, 0);
  await rig.vfs.release(fh);
}

describe('vfs mkdir', () => {
  it('mkdir online of a name an offline rmdir still waiting in the journal frees is journaled after it, not refused with EEXIST (fuzz 8000/165, 8000/71, 5000/126)', async () => {
    await rig.vfs.mkdir('/G');
    const old = rig.item('/G');
    expect(old.remoteId).not.toBeNull();
    await emu.emulator.setOffline(true);
    await rig.vfs.rmdir('/G');
    await emu.emulator.setOffline(false);

    await rig.vfs.mkdir('/G');

    const made = rig.item('/G');
    expect(made.id).not.toBe(old.id);
    expect(rig.temp.store.journal.list({ states: ['pending'] }).map((e) => e.kind)).toEqual(['rmdir', 'mkdir']);
    expect(await replayer().replay()).toBe(0);
    const onServer = emu.emulator.admin.itemJson('/G') as unknown as DriveItem | undefined;
    expect(onServer?.id).toBe(rig.temp.store.items.get(made.id)?.remoteId);
    expect(onServer?.id).not.toBe(old.remoteId);
  }, 30_000);
});

describe('vfs mkdir after a moved-then-removed folder', () => {
  it('mkdir online of a name whose server folder an offline delete removes, though it was moved before it was deleted, waits for that delete (fuzz 35000/50)', async () => {
    await rig.vfs.mkdir('/H');
    await rig.vfs.mkdir('/H/Sub dir');
    const old = rig.item('/H/Sub dir');
    await emu.emulator.setOffline(true);
    await rig.vfs.rename('/H/Sub dir', '/Moved dir');
    await rig.vfs.rmdir('/Moved dir');
    await emu.emulator.setOffline(false);
    // The replay of the rename found its item gone and let the entry go: only the rmdir, which
    // names /Moved dir, is left.
    for (const e of rig.temp.store.journal.list({ states: ['pending'] })) if (e.kind === 'rename') rig.temp.store.journal.remove(e.seq);

    await rig.vfs.mkdir('/H/Sub dir');

    expect(rig.temp.store.journal.list({ states: ['pending'] }).map((e) => e.kind)).toEqual(['rmdir', 'mkdir']);
    expect(await replayer().replay()).toBe(0);
    const onServer = emu.emulator.admin.itemJson('/H/Sub dir') as unknown as DriveItem | undefined;
    expect(onServer?.id).toBeDefined();
    expect(onServer?.id).not.toBe(old.remoteId);
  }, 30_000);
});

describe('vfs rename', () => {
  it('a rename online of a folder whose offline rename is not replayed yet is queued behind it, so the later name wins (fuzz 15000/178)', async () => {
    await rig.vfs.mkdir('/F');
    const f = rig.item('/F');
    await emu.emulator.setOffline(true);
    await rig.vfs.rename('/F', '/Sub dir');
    await emu.emulator.setOffline(false);

    await rig.vfs.rename('/Sub dir', '/G');

    expect(rig.temp.store.journal.list({ states: ['pending'] }).map((e) => e.kind)).toEqual(['rename', 'rename']);
    expect((emu.emulator.admin.itemJson('/F') as unknown as DriveItem | undefined)?.id).toBe(f.remoteId);
    expect(await replayer().replay()).toBe(0);
    expect((emu.emulator.admin.itemJson('/G') as unknown as DriveItem | undefined)?.id).toBe(f.remoteId);
    expect(rig.temp.store.items.get(f.id)).toMatchObject({ name: 'G' });
  }, 30_000);

  it('a rename and a delete answered by the server are noted for a delta batch asked for before them', async () => {
    await rig.vfs.mkdir('/Noted');
    await rig.vfs.mkdir('/Gone');
    const noted = rig.item('/Noted');
    const gone = rig.item('/Gone');
    const mark = rig.temp.store.items.openChangeWindow();
    try {
      await rig.vfs.rename('/Noted', '/Noted again');
      await rig.vfs.rmdir('/Gone');
      expect(rig.temp.store.items.changedHereSince(noted.id, mark)).toBe(true);
      expect(rig.temp.store.items.changedHereSince(gone.remoteId!, mark)).toBe(true);
    } finally {
      rig.temp.store.items.closeChangeWindow();
    }
  }, 30_000);

  it('a rename online onto a name an offline delete still waiting in the journal frees is journaled after it, not refused with EEXIST (fuzz 132000/68)', async () => {
    await rig.vfs.mkdir('/D');
    await rig.vfs.mkdir('/E');
    const e = rig.item('/E');
    await emu.emulator.setOffline(true);
    await rig.vfs.rmdir('/D');
    await emu.emulator.setOffline(false);

    await rig.vfs.rename('/E', '/D');

    expect(rig.temp.store.journal.list({ states: ['pending'] }).map((x) => x.kind)).toEqual(['rmdir', 'rename']);
    expect(await replayer().replay()).toBe(0);
    expect((emu.emulator.admin.itemJson('/D') as unknown as DriveItem | undefined)?.id).toBe(e.remoteId);
    expect(rig.temp.store.items.get(e.id)).toMatchObject({ name: 'D' });
  }, 30_000);

  it('a rename online onto a name whose server folder an offline delete removes, though the journal names another place for it, waits for that delete', async () => {
    await rig.vfs.mkdir('/K');
    await rig.vfs.mkdir('/K/Sub dir');
    await rig.vfs.mkdir('/Y');
    const y = rig.item('/Y');
    await emu.emulator.setOffline(true);
    await rig.vfs.rename('/K/Sub dir', '/Moved away');
    await rig.vfs.rmdir('/Moved away');
    await emu.emulator.setOffline(false);
    for (const e of rig.temp.store.journal.list({ states: ['pending'] })) if (e.kind === 'rename') rig.temp.store.journal.remove(e.seq);

    await rig.vfs.rename('/Y', '/K/Sub dir');

    expect(rig.temp.store.journal.list({ states: ['pending'] }).map((e) => e.kind)).toEqual(['rmdir', 'rename']);
    expect(await replayer().replay()).toBe(0);
    expect((emu.emulator.admin.itemJson('/K/Sub dir') as unknown as DriveItem | undefined)?.id).toBe(y.remoteId);
  }, 30_000);

  it('a folder renamed offline and then deleted is deleted where the server holds it, so what waited for its old name gets it (mv P Q; mv Q/Q P; rmdir Q: fuzz 173000/530)', async () => {
    await rig.vfs.mkdir('/P');
    await rig.vfs.mkdir('/P/Q');
    const outer = rig.item('/P');
    const inner = rig.item('/P/Q');
    await emu.emulator.setOffline(true);
    await rig.vfs.rename('/P', '/Q');
    await rig.vfs.rename('/Q/Q', '/P');
    await rig.vfs.rmdir('/Q');
    await emu.emulator.setOffline(false);

    // The delete names the place the server holds the folder in, not the one it had here last.
    const rmdir = rig.temp.store.journal.list({ states: ['pending'] }).find((e) => e.kind === 'rmdir');
    expect(rmdir).toMatchObject({ itemId: outer.id, parentId: outer.parentId, name: 'P' });
    let left = await replayer().replay();
    for (let pass = 0; left > 0 && pass < 3; pass++) left = await replayer().replay();
    expect(left).toBe(0);
    expect(rig.temp.store.conflicts.list()).toEqual([]);
    expect((emu.emulator.admin.itemJson('/P') as unknown as DriveItem | undefined)?.id).toBe(inner.remoteId);
    expect(emu.emulator.admin.itemJson('/Q')).toBeUndefined();
    expect(rig.temp.store.items.get(inner.id)).toMatchObject({ name: 'P', parentId: outer.parentId });
  }, 30_000);

  it('a folder moved offline into a new folder over an empty one, then into a new folder of its old name, ends there (fuzz 260000/123)', async () => {
    await rig.vfs.mkdir('/S6');
    await rig.vfs.mkdir('/S6/G');
    const s = rig.item('/S6');
    await emu.emulator.setOffline(true);
    await rig.vfs.mkdir('/G6');
    await rig.vfs.mkdir('/G6/F');
    await rig.vfs.rename('/S6', '/G6/F');
    await rig.vfs.mkdir('/G6/S6');
    await rig.vfs.rmdir('/G6/F/G');
    await rig.vfs.mkdir('/S6');
    await rig.vfs.rename('/G6/F', '/S6/S6');
    await emu.emulator.setOffline(false);
    // The folder's rename waits for its new parent, whose mkdir meets the folder itself on the
    // server at that name: the mkdir parks, the rename goes, then the new folder takes its name.
    let left = await replayer().replay();
    for (let pass = 0; left > 0 && pass < 4; pass++) left = await replayer().replay();
    expect(left).toBe(0);
    expect(rig.temp.store.conflicts.list()).toEqual([]);
    const at = (p: string) => emu.emulator.admin.itemJson(p) as unknown as DriveItem | undefined;
    expect(at('/S6/S6')?.id).toBe(s.remoteId);
    expect(at('/S6')?.id).toBe(rig.item('/S6').remoteId);
    expect(at('/S6/S6/G')).toBeUndefined();
    expect(at('/G6/S6')?.folder).toBeDefined();
    expect(at('/G6/F')).toBeUndefined();
  }, 30_000);

  /**
   * `mkdir G; (new b, c); mv b G/c; mv c b` while b's first upload, watched at its first place
   * (deletedUploads), landed there as b and is on its way to G/c (fuzz 263000/176, in a shared
   * folder, once in seven replays): the server's 409 was EEXIST, though the name was free here
   * and freed there a moment later. The rename waits in the journal instead; its replay deletes
   * that copy (b's upload sends b again where it is) or finds it gone, and takes the name.
   */
  async function renameOntoNameOfOwnUploadMovingAway(n: number, replayer: () => JournalReplayer): Promise<{ cId: string; bUp: DriveItem; g: string }> {
    const root = rig.item('/');
    await rig.vfs.mkdir(`/G${n}`);
    await writeNew(`/b${n}.txt`, Buffer.from('b, new here'));
    await writeNew(`/c${n}.bin`, Buffer.from('c, new here'));
    const { store } = rig.temp;
    const b = rig.item(`/b${n}.txt`);
    const c = rig.item(`/c${n}.bin`);
    const cUp = await rig.graph.uploadSmall(root.remoteId!, `c${n}.bin`, Buffer.from('c, new here'));
    store.items.setRemoteId(c.id, cUp.id);
    store.journal.list({ itemId: c.id }).forEach((e) => store.journal.remove(e.seq));
    // b's first upload, its place watched as the upload worker does before the bytes leave, landed.
    const hash = quickXorHash(Buffer.from('b, new here'));
    store.sentVersions.remember(b.id, hash);
    store.deletedUploads.add({ itemId: b.id, parentId: root.id, name: `b${n}.txt`, hashes: [hash] });
    const bUp = await rig.graph.uploadSmall(root.remoteId!, `b${n}.txt`, Buffer.from('b, new here'));
    await rig.vfs.rename(`/b${n}.txt`, `/G${n}/c${n}.bin`);

    await rig.vfs.rename(`/c${n}.bin`, `/b${n}.txt`);
    expect(rig.item(`/b${n}.txt`).id).toBe(c.id);
    expect(store.journal.list({ itemId: c.id, states: ['pending'] }).map((e) => e.kind)).toEqual(['rename']);
    expect(await replayer().replay()).toBe(0);
    expect((emu.emulator.admin.itemJson(`/b${n}.txt`) as unknown as DriveItem | undefined)?.id).toBe(cUp.id);
    expect(store.conflicts.list()).toEqual([]);
    return { cId: cUp.id, bUp, g: rig.item(`/G${n}`).remoteId! };
  }

  it('a rename onto a name the landed first upload of a file moved away here holds waits for the replay, which deletes that copy (fuzz 263000/176)', async () => {
    const { bUp } = await renameOntoNameOfOwnUploadMovingAway(7, replayer);
    expect(emu.emulator.admin.itemJson(`/G7/c7.bin`)).toBeUndefined();
    expect((await rig.graph.getItem(bUp.id).catch((e: unknown) => e)) as object).toMatchObject({ status: 404 });
  }, 30_000);

  it('so it does when that upload moves the copy away while the replay looks at it', async () => {
    // Between the replay's look at the copy and its delete, b's upload takes the copy to G9/c9.bin.
    let moved: DriveItem | undefined;
    const graph = new Proxy(rig.graph, {
      get(target, key) {
        const value = Reflect.get(target, key) as unknown;
        if (key === 'deleteItem') {
          return async (...args: Parameters<typeof target.deleteItem>) => {
            moved ??= await target.update(args[0], { name: 'c9.bin', parentReference: { id: rig.item('/G9').remoteId! } });
            return target.deleteItem(...args);
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const { store } = rig.temp;
    const racing = () => new JournalReplayer({ graph, store, toRecord, logger: rig.memory.logger, tasks: rig.tasks, hostName: 'test-host', retry: { baseMs: 5_000, maxMs: 5_000 } });
    const { bUp } = await renameOntoNameOfOwnUploadMovingAway(9, racing);
    expect(moved?.id).toBe(bUp.id);
    expect((emu.emulator.admin.itemJson('/G9/c9.bin') as unknown as DriveItem | undefined)?.id).toBe(bUp.id);
  }, 30_000);

  it("a file renamed back onto a name its own stale first copy still holds takes it: the replay deletes that copy", async () => {
    const root = rig.item('/');
    await rig.vfs.mkdir('/G11');
    await writeNew('/b11', Buffer.from('b, new here'));
    const { store } = rig.temp;
    const b = rig.item('/b11');
    // b's first upload landed as /b11 without an answer; b moved to G11, where its next attempt
    // made it anew and committed.
    const hash = quickXorHash(Buffer.from('b, new here'));
    store.sentVersions.remember(b.id, hash);
    store.deletedUploads.add({ itemId: b.id, parentId: root.id, name: 'b11', hashes: [hash] });
    const stale = await rig.graph.uploadSmall(root.remoteId!, 'b11', Buffer.from('b, new here'));
    await rig.vfs.rename('/b11', '/G11/b11');
    const made = await rig.graph.uploadSmall(rig.item('/G11').remoteId!, 'b11', Buffer.from('b, new here'));
    store.transaction(() => {
      store.items.setRemoteId(b.id, made.id);
      store.journal.list({ itemId: b.id }).forEach((e) => store.journal.remove(e.seq));
    });

    await rig.vfs.rename('/G11/b11', '/b11');
    expect(await replayer().replay()).toBe(0);
    expect((emu.emulator.admin.itemJson('/b11') as unknown as DriveItem | undefined)?.id).toBe(made.id);
    expect((await rig.graph.getItem(stale.id).catch((e: unknown) => e)) as object).toMatchObject({ status: 404 });
    expect(store.conflicts.list()).toEqual([]);
  }, 30_000);

  it('a mkdir of a name the landed first upload of a file moved away here holds waits for the replay, which deletes that copy', async () => {
    const root = rig.item('/');
    await rig.vfs.mkdir('/G10');
    await writeNew('/b10', Buffer.from('b, new here'));
    const { store } = rig.temp;
    const b = rig.item('/b10');
    const hash = quickXorHash(Buffer.from('b, new here'));
    store.sentVersions.remember(b.id, hash);
    store.deletedUploads.add({ itemId: b.id, parentId: root.id, name: 'b10', hashes: [hash] });
    const bUp = await rig.graph.uploadSmall(root.remoteId!, 'b10', Buffer.from('b, new here'));
    await rig.vfs.rename('/b10', '/G10/b10');

    await rig.vfs.mkdir('/b10');
    const folder = rig.item('/b10');
    expect(await replayer().replay()).toBe(0);
    const made = emu.emulator.admin.itemJson('/b10') as unknown as DriveItem | undefined;
    expect(made?.folder).toBeDefined();
    expect(made?.id).toBe(store.items.get(folder.id)?.remoteId);
    expect((await rig.graph.getItem(bUp.id).catch((e: unknown) => e)) as object).toMatchObject({ status: 404 });
    expect(store.conflicts.list()).toEqual([]);
  }, 30_000);

  // Seen reading the code: between a new file's first commit (it has its server id; the watch of
  // its first place is gone) and the move that takes its copy to where the file is now
  // (upload-worker #placeCommitted), the copy still holds its first name, and nothing in the journal
  // or the watches says it is leaving: a rename onto that name in those few milliseconds got the
  // server's 409 as EEXIST. It waits for that move now (uploads.leaving). The state of the window:
  async function committedCopyLeaving(n: number): Promise<{ b: StoredItem; c: StoredItem; bUp: DriveItem; folder: StoredItem }> {
    const root = rig.item('/');
    await rig.vfs.mkdir(`/G${n}`);
    await writeNew(`/b${n}`, Buffer.from('b, new here'));
    await writeNew(`/c${n}`, Buffer.from('c'));
    const { store } = rig.temp;
    const b = rig.item(`/b${n}`);
    const c = rig.item(`/c${n}`);
    const cUp = await rig.graph.uploadSmall(root.remoteId!, `c${n}`, Buffer.from('c'));
    const bUp = await rig.graph.uploadSmall(root.remoteId!, `b${n}`, Buffer.from('b, new here'));
    await rig.vfs.rename(`/b${n}`, `/G${n}/b${n}`);
    store.transaction(() => {
      store.items.setRemoteId(c.id, cUp.id);
      store.items.setRemoteId(b.id, bUp.id);
      for (const id of [b.id, c.id]) store.journal.list({ itemId: id }).forEach((e) => store.journal.remove(e.seq));
    });
    return { b, c, bUp, folder: rig.item(`/G${n}`) };
  }

  it.each([
    ['still registered when the request is refused', 12, true],
    ['ended (and no longer registered) by the time the refusal is handled', 14, false],
  ])('a rename onto the first name of a just-committed new file whose copy is being moved away waits for that move: %s', async (_case, n, stillRegistered) => {
    const { b, c, bUp, folder } = await committedCopyLeaving(n);
    const asked: string[] = [];
    // The move is on its way from before the rename's request; the server takes it only after that
    // request was refused (when the rename asks again).
    let moved = (): void => undefined;
    const move = new Promise<void>((resolve) => (moved = resolve));
    rig.uploads.leavingPlace = (parentKey, name) => {
      asked.push(name);
      if (parentKey !== rig.item('/').id || name !== `b${n}`) return undefined;
      if (asked.length === 1) return move;
      void rig.graph.update(bUp.id, { parentReference: { id: folder.remoteId! } }).then(() => moved());
      return stillRegistered ? move : undefined;
    };

    await rig.vfs.rename(`/c${n}`, `/b${n}`);
    // Asked before the request and again at its refusal.
    expect(asked).toEqual([`b${n}`, `b${n}`]);
    expect(rig.item(`/b${n}`).id).toBe(c.id);
    expect(rig.item(`/G${n}/b${n}`).id).toBe(b.id);
    expect((emu.emulator.admin.itemJson(`/b${n}`) as { id: string }).id).toBe(rig.temp.store.items.get(c.id)?.remoteId);
    expect(rig.temp.store.journal.list({ states: ['pending'] })).toEqual([]);
  }, 30_000);

  it('so it does when that move fails and is journaled: the rename is journaled behind it', async () => {
    const { b, c, folder } = await committedCopyLeaving(13);
    const { store } = rig.temp;
    // As the upload worker does when the move cannot be sent (offline): journaled. One move, however often it is asked about.
    let move: Promise<void> | undefined;
    rig.uploads.leavingPlace = () =>
      (move ??= (async () => {
        store.journal.append({ kind: 'rename', itemId: b.id, parentId: rig.item('/').id, name: 'b13', newParentId: folder.id, newName: 'b13' });
      })());

    await rig.vfs.rename('/c13', '/b13');
    expect(rig.item('/b13').id).toBe(c.id);
    expect(store.journal.list({ states: ['pending'] }).map((e) => [e.itemId, e.kind])).toEqual([
      [b.id, 'rename'],
      [c.id, 'rename'],
    ]);
  }, 30_000);

  it('a rename onto a name someone else\'s file holds on the server is refused (EEXIST), even when it has the bytes of a new file of ours sent elsewhere', async () => {
    const root = rig.item('/');
    await writeNew('/c8.bin', Buffer.from('c'));
    await writeNew('/e8.txt', Buffer.alloc(0));
    const { store } = rig.temp;
    const c = rig.item('/c8.bin');
    const cUp = await rig.graph.uploadSmall(root.remoteId!, 'c8.bin', Buffer.from('c'));
    store.items.setRemoteId(c.id, cUp.id);
    store.journal.list({ itemId: c.id }).forEach((e) => store.journal.remove(e.seq));
    // A new empty file of ours is being uploaded under its own name; another device made an empty
    // b8.txt that delta has not brought yet.
    const empty = quickXorHash(Buffer.alloc(0));
    store.sentVersions.remember(rig.item('/e8.txt').id, empty);
    store.deletedUploads.add({ itemId: rig.item('/e8.txt').id, parentId: root.id, name: 'e8.txt', hashes: [empty] });
    await rig.graph.uploadSmall(root.remoteId!, 'b8.txt', Buffer.alloc(0));

    await expect(rig.vfs.rename('/c8.bin', '/b8.txt')).rejects.toMatchObject({ errno: 'EEXIST' });
    expect(store.journal.list({ itemId: c.id, states: ['pending'] })).toEqual([]);
  }, 30_000);

  it('a rename replayed before its pass broke off leaves the later renames of its item naming where the server holds it, as a delete then does', async () => {
    await rig.vfs.mkdir('/P2');
    const folder = rig.item('/P2');
    await emu.emulator.setOffline(true);
    await rig.vfs.rename('/P2', '/R2');
    await rig.vfs.rename('/R2', '/Q2');
    await emu.emulator.setOffline(false);
    // The pass sends the folder's latest place (Q2) with the first entry, then the network goes.
    let updates = 0;
    const graph = new Proxy(rig.graph, {
      get(target, key) {
        const value = Reflect.get(target, key) as unknown;
        if (key === 'update') {
          return async (...args: Parameters<typeof target.update>) => {
            const answer = await target.update(...args);
            if (++updates === 1) await emu.emulator.setOffline(true);
            return answer;
          };
        }
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    const { store } = rig.temp;
    const broken = new JournalReplayer({ graph, store, toRecord, logger: rig.memory.logger, tasks: rig.tasks, hostName: 'test-host', retry: { baseMs: 5_000, maxMs: 5_000 } });
    await expect(broken.replay()).rejects.toThrow();
    expect((emu.emulator.admin.itemJson('/Q2') as unknown as DriveItem | undefined)?.id).toBe(folder.remoteId);
    expect(store.journal.list({ states: ['pending'] })).toEqual([expect.objectContaining({ kind: 'rename', parentId: folder.parentId, name: 'Q2' })]);

    await rig.vfs.rmdir('/Q2');
    expect(store.journal.list({ states: ['pending'] })).toEqual([expect.objectContaining({ kind: 'rmdir', parentId: folder.parentId, name: 'Q2' })]);
  }, 30_000);

  it("an editor's save over a file not uploaded yet moves the temp file on the server when its first upload committed while the original went (fuzz 6000/127)", async () => {
    const saved = Buffer.from('the saved version');
    await writeNew('/notes.md', Buffer.from('the first version'));
    await writeNew('/notes.md.fzsave', saved);
    const temp = rig.item('/notes.md.fzsave');
    const original = rig.item('/notes.md');
    // The original's first upload may have reached the server: removing it looks for that copy.
    rig.temp.store.sentVersions.remember(original.id, 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=');
    // While it does, the temp file's own first upload commits under its name then.
    let landed: DriveItem | undefined;
    Object.assign(rig.uploads, {
      cancel: async (itemId: string) => {
        if (itemId !== original.id || landed) return;
        const root = rig.temp.store.items.getRoot()!;
        landed = await rig.graph.uploadSmall(root.remoteId!, 'notes.md.fzsave', saved);
        rig.temp.store.items.setRemoteId(temp.id, landed.id);
      },
    });

    await rig.vfs.rename('/notes.md.fzsave', '/notes.md');

    expect(landed).toBeDefined();
    expect(rig.temp.store.items.get(temp.id)).toMatchObject({ name: 'notes.md', remoteId: landed!.id });
    expect(emu.emulator.admin.itemJson('/notes.md.fzsave')).toBeUndefined();
    expect((emu.emulator.admin.itemJson('/notes.md') as unknown as DriveItem | undefined)?.id).toBe(landed!.id);
  }, 30_000);
});

describe('vfs unlink', () => {
  it('a delete that failed after the server did it (its answer lost) drops the file here, as delta left its removal to the delete', async () => {
    await emu.emulator.admin.remote({ op: 'write', path: '/gone.txt', content: 'on the server' });
    await rig.sync.syncOnce();
    const item = rig.item('/gone.txt');
    const graph = rig.graph;
    const deleteItem = graph.deleteItem.bind(graph);
    let marked = false;
    graph.deleteItem = async (id, ...rest) => {
      await deleteItem(id, ...rest);
      marked = rig.temp.store.items.isDeletingHere(item.id) && rig.temp.store.items.isDeletingHere(id);
      throw new GraphApiError({ status: 504, graphCode: 'gatewayTimeout', message: 'the answer was lost', request: `DELETE /items/${id}` });
    };
    try {
      await rig.vfs.unlink('/gone.txt');
    } finally {
      graph.deleteItem = deleteItem;
    }
    expect(marked).toBe(true);
    expect(rig.temp.store.items.resolvePath('/gone.txt')).toBeUndefined();
    expect(rig.temp.store.items.isDeletingHere(item.id)).toBe(false);
    expect(rig.temp.store.journal.list({ states: ['pending'] })).toEqual([]);
  });

  it('a delete the server refused keeps the file here and says why', async () => {
    await emu.emulator.admin.remote({ op: 'write', path: '/kept.txt', content: 'on the server' });
    await rig.sync.syncOnce();
    const graph = rig.graph;
    const deleteItem = graph.deleteItem.bind(graph);
    graph.deleteItem = async (id) => {
      throw new GraphApiError({ status: 423, graphCode: 'resourceLocked', message: 'locked', request: `DELETE /items/${id}` });
    };
    try {
      await expect(rig.vfs.unlink('/kept.txt')).rejects.toThrow(/locked/);
    } finally {
      graph.deleteItem = deleteItem;
    }
    expect(rig.item('/kept.txt')).toBeDefined();
  });
});

describe('vfs readdir', () => {
  it('lists a folder again from its kept listing while nothing changed, and from the store after any change', async () => {
    await rig.vfs.mkdir('/L');
    await writeNew('/L/a.txt', Buffer.from('a'));
    await writeNew('/L/b.txt', Buffer.from('bb'));
    const reads = vi.spyOn(rig.temp.store.items, 'listChildren');
    const list = async () => {
      const r = await rig.vfs.readdir('/L');
      return r.names.map((n, i) => `${n}:${r.attrs[i]!.size}`).sort();
    };

    expect(await list()).toEqual(['a.txt:1', 'b.txt:2']);
    expect(await list()).toEqual(['a.txt:1', 'b.txt:2']);
    expect(reads).toHaveBeenCalledTimes(1);
    // Any change to the store's items (here a new size) lists the folder from the store again.
    await writeNew('/L/a.txt', Buffer.from('aaa'));
    expect(await list()).toEqual(['a.txt:3', 'b.txt:2']);
    expect(reads).toHaveBeenCalledTimes(2);
    await rig.vfs.unlink('/L/b.txt');
    expect(await list()).toEqual(['a.txt:3']);
  }, 30_000);

  it("keeps the listed entries for the look-ups that follow, unless the mount answers those itself (cacheEntries: false)", async () => {
    await rig.vfs.mkdir('/Kept');
    await writeNew('/Kept/a.txt', Buffer.from('a'));
    await writeNew('/Kept/b.txt', Buffer.from('bb'));
    const lookups = vi.spyOn(rig.temp.store.items, 'getChild');
    // Each listing is read from the store (a write in between changes the generation), then both
    // entries are looked up as the kernel would after readdir.
    const listThenLookUp = async (cacheEntries: boolean) => {
      await writeNew('/Kept/c.txt', Buffer.from(String(cacheEntries)));
      await rig.vfs.readdir('/Kept', { cacheEntries });
      lookups.mockClear();
      for (const name of ['a.txt', 'b.txt']) expect(rig.vfs.getattr(`/Kept/${name}`)).toMatchObject({ size: name === 'a.txt' ? 1 : 2 });
      return lookups.mock.calls.map(([, name]) => name);
    };

    expect(await listThenLookUp(true)).toEqual([]);
    expect(await listThenLookUp(false)).toEqual(['a.txt', 'b.txt']);
  }, 30_000);
});

describe('vfs attribute changes (what the mount is told, for its kept attributes)', () => {
  it('tells a new folder as its new path and then as made empty, a create as its new path, a write as its inode, each at the names the store has', async () => {
    const told: unknown[] = [];
    const stop = rig.vfs.onAttributesChange((change) => told.push(change));
    await rig.vfs.mkdir('/Told');
    expect(told).toEqual([{ newPath: '/Told' }, { emptyFolder: '/Told' }]);
    told.length = 0;
    await writeNew('/Told/f.txt', Buffer.from('12345'));
    const f = rig.item('/Told/f.txt');
    // The write of a dirty file (a new one is): its inode before its reply, and with its record.
    expect(told).toEqual([{ newPath: '/Told/f.txt' }, { inode: f.inode }, { inode: f.inode }]);
    told.length = 0;
    // Through another letter case of the folder's name: the new path as the store has it, and no
    // folder made empty at a path that is not its own.
    await emu.emulator.setOffline(true);
    await rig.vfs.mkdir('/told/M');
    await emu.emulator.setOffline(false);
    expect(told).toEqual([{ newPath: '/Told/M' }]);
    stop();
  }, 30_000);

  it('a write to a dirty file is answered before its record: its inode is told before it returns, its size recorded in the microtask after', async () => {
    const fh = await rig.vfs.create('/Early.txt');
    const inode = rig.item('/Early.txt').inode;
    const told: unknown[] = [];
    const stop = rig.vfs.onAttributesChange((change) => told.push(change));
    expect(rig.vfs.write(fh, Buffer.from('abcd'), 4, 0)).toBe(4);
    expect(told).toEqual([{ inode }]);
    expect(rig.item('/Early.txt').size).toBe(0);
    await Promise.resolve();
    expect(rig.item('/Early.txt').size).toBe(4);
    expect(rig.temp.store.content.get(rig.item('/Early.txt').id)?.ranges.has(0, 4)).toBe(true);
    expect(told).toEqual([{ inode }, { inode }]);
    stop();
    await rig.vfs.release(fh);
  }, 30_000);

  it('a write through a file saved over another (rename over a server file) tells the inode the handle writes now', async () => {
    const root = rig.temp.store.items.getRoot()!;
    await rig.graph.uploadSmall(root.remoteId!, 'saved.txt', Buffer.from('old'));
    await rig.sync.syncOnce();
    const target = rig.item('/saved.txt');
    const fh = await rig.vfs.create('/saved.txt.tmp');
    await rig.vfs.write(fh, Buffer.from('new'), 3, 0);
    await rig.vfs.rename('/saved.txt.tmp', '/saved.txt');
    const told: unknown[] = [];
    const stop = rig.vfs.onAttributesChange((change) => told.push(change));
    expect(await rig.vfs.write(fh, Buffer.from('!'), 1, 3)).toBe(1);
    stop();
    expect(told[0]).toEqual({ inode: target.inode });
    expect(rig.item('/saved.txt').size).toBe(4);
    await rig.vfs.release(fh);
  }, 30_000);

  it('a write whose record failed is recorded before the next write (EIO while that fails too), and nothing of it is lost', async () => {
    const fh = await rig.vfs.create('/Unrecorded.txt');
    const records = failingSizeRecords(rig.temp.store);
    records.fail(2);
    try {
      expect(rig.vfs.write(fh, Buffer.from('abcd'), 4, 0)).toBe(4);
      await Promise.resolve();
      expect(rig.item('/Unrecorded.txt').size).toBe(0);
      expect(rig.memory.records().some((r) => String(r['msg']).startsWith('a write to the cache file could not be recorded'))).toBe(true);
      // The second failure: the next write is refused, and the first stays to be recorded.
      expect(() => rig.vfs.write(fh, Buffer.from('efgh'), 4, 4)).toThrow(expect.objectContaining({ errno: 'EIO' }));
      expect(rig.vfs.write(fh, Buffer.from('efgh'), 4, 4)).toBe(4);
      await Promise.resolve();
    } finally {
      records.stop();
    }
    expect(rig.item('/Unrecorded.txt').size).toBe(8);
    expect(rig.temp.store.content.get(rig.item('/Unrecorded.txt').id)?.ranges.has(0, 8)).toBe(true);
    await rig.vfs.release(fh);
  }, 30_000);

  it('a write whose record failed is recorded before a truncate; one to a file deleted meanwhile is dropped, and the handle goes on writing the deleted file', async () => {
    const records = failingSizeRecords(rig.temp.store);
    try {
      const fh = await rig.vfs.create('/Cut.txt');
      records.fail(1);
      expect(rig.vfs.write(fh, Buffer.alloc(200, 1), 200, 0)).toBe(200);
      await Promise.resolve();
      expect(rig.item('/Cut.txt').size).toBe(0);
      await rig.vfs.ftruncate(fh, 50);
      expect(rig.item('/Cut.txt').size).toBe(50);
      await rig.vfs.release(fh);
      expect(rig.item('/Cut.txt').size).toBe(50);

      const gone = await rig.vfs.create('/Gone.txt');
      records.fail(1);
      expect(rig.vfs.write(gone, Buffer.from('abcd'), 4, 0)).toBe(4);
      await Promise.resolve();
      await rig.vfs.unlink('/Gone.txt');
      expect(await rig.vfs.write(gone, Buffer.from('efgh'), 4, 4)).toBe(4);
      await rig.vfs.release(gone);
    } finally {
      records.stop();
    }
    expect(rig.memory.records().some((r) => String(r['msg']).startsWith('writes whose record had failed are dropped: the file was deleted'))).toBe(true);
  }, 30_000);

  it('writes of a closed file whose record still failed are tried again, and its upload is scheduled once they are recorded', async () => {
    const slow = startCacheRig(emu.apiUrl, { unrecordedRetryMs: 20 });
    try {
      await slow.sync.syncOnce();
      const records = failingSizeRecords(slow.temp.store);
      try {
        const fh = await slow.vfs.create('/Closed.txt');
        records.fail(2);
        expect(slow.vfs.write(fh, Buffer.from('abcd'), 4, 0)).toBe(4);
        await Promise.resolve();
        await slow.vfs.release(fh);
        expect(slow.item('/Closed.txt').size).toBe(0);
        const id = slow.item('/Closed.txt').id;
        expect(slow.uploads.scheduled).not.toContain(id);
        for (let i = 0; slow.item('/Closed.txt').size !== 4; i++) {
          if (i > 200) throw new Error('the writes were not recorded again');
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        expect(slow.uploads.scheduled).toContain(id);
      } finally {
        records.stop();
      }
    } finally {
      await slow.close();
    }
  }, 30_000);

  it('a rename over another file takes the writes whose record failed into the size it gives', async () => {
    const root = rig.temp.store.items.getRoot()!;
    await rig.graph.uploadSmall(root.remoteId!, 'folded.txt', Buffer.from('old'));
    await rig.sync.syncOnce();
    const records = failingSizeRecords(rig.temp.store);
    try {
      const fh = await rig.vfs.create('/folded.txt.tmp');
      await rig.vfs.write(fh, Buffer.from('new'), 3, 0);
      await Promise.resolve();
      records.fail(1);
      expect(rig.vfs.write(fh, Buffer.from('!!'), 2, 3)).toBe(2);
      await Promise.resolve();
      expect(rig.item('/folded.txt.tmp').size).toBe(3);
      await rig.vfs.rename('/folded.txt.tmp', '/folded.txt');
      await rig.vfs.release(fh);
    } finally {
      records.stop();
    }
    expect(rig.item('/folded.txt').size).toBe(5);
    expect((await rig.readAll('/folded.txt')).toString()).toBe('new!!');
  }, 30_000);

  it('a write through a file being saved over another, while the rename waits, lands in the saved file', async () => {
    const root = rig.temp.store.items.getRoot()!;
    await rig.graph.uploadSmall(root.remoteId!, 'racing.txt', Buffer.from('old'));
    await rig.sync.syncOnce();
    const fh = await rig.vfs.create('/racing.txt.tmp');
    await rig.vfs.write(fh, Buffer.from('new'), 3, 0);
    const renamed = rig.vfs.rename('/racing.txt.tmp', '/racing.txt');
    expect(rig.vfs.write(fh, Buffer.from('!!!!'), 4, 3)).toBe(4);
    await renamed;
    await rig.vfs.release(fh);
    expect(rig.item('/racing.txt').size).toBe(7);
    expect((await rig.readAll('/racing.txt')).toString()).toBe('new!!!!');
  }, 30_000);

  it('a listing is complete only at the folder\'s own path', async () => {
    await rig.vfs.mkdir('/Listed');
    await writeNew('/Listed/f.txt', Buffer.from('1'));
    expect(rig.vfs.listStored('/Listed')).toMatchObject({ names: ['f.txt'], complete: true });
    expect(rig.vfs.listStored('/listed').complete).toBeUndefined();
  }, 30_000);
});
