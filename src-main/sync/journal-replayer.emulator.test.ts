/**
 * Offline namespace changes replayed against the Graph emulator over real HTTP. The journal and the
 * store are set up as the vfs leaves them after the offline operations (src-main/vfs/vfs.ts
 * rename/remove), so each case is exact and independent of timing.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { createMemoryLogger } from '../base/logger.ts';
import { until } from '../base/testing/until.ts';
import { GraphClient, isNotFound, quickXorHash, StaticTokenProvider } from '../graph/index.ts';
import { TaskRegistry } from '../lifecycle/task-registry.ts';
import { newLocalId } from '../store/index.ts';
import { openTempStore, type TempStore } from '../store/testing/temp-store.ts';
import { DeltaSync } from './delta-sync.ts';
import { JournalReplayer } from './journal-replayer.ts';
import { toRecord } from './testing/to-record.ts';

let handle: EmulatorHandle;
let temp: TempStore;
let tasks: TaskRegistry;
let graph: GraphClient;
let sync: DeltaSync;
let replayer: JournalReplayer;


beforeEach(async () => {
  handle = await startEmulator({ mode: 'personal' });
  temp = openTempStore();
  const { logger } = createMemoryLogger('debug', 'journal-replayer-test');
  tasks = new TaskRegistry({ logger });
  graph = new GraphClient({
    baseUrl: handle.apiUrl,
    tokenProvider: new StaticTokenProvider('emulator-token'),
    requestTimeoutMs: 5_000,
    maxRetries: 1,
    retryBaseMs: 5,
    retryMaxMs: 20,
  });
  sync = new DeltaSync({ graph, store: temp.store, invalidator: { invalidate: () => undefined }, logger, tasks, pollIntervalMs: 60_000 });
  replayer = new JournalReplayer({ graph, store: temp.store, toRecord, logger, tasks, hostName: 'test-host', retry: { baseMs: 5_000, maxMs: 5_000 } });
});

afterEach(async () => {
  await sync.stop();
  await tasks.stopAll(5_000);
  await graph.close();
  await handle.close();
  temp.dispose();
});

async function exists(id: string): Promise<boolean> {
  try {
    await graph.getItem(id);
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

/** What the vfs journals for `rm` of a file offline: the version seen here, and the versions this engine sent for it. */
function deletedOffline(remoteId: string, sentHashes?: string[]): void {
  const { store } = temp;
  const key = store.items.keyOf(remoteId);
  const item = store.items.get(key)!;
  store.transaction(() => {
    store.items.deleteSubtree(key);
    store.journal.append({
      kind: 'unlink',
      itemId: key,
      parentId: item.parentId,
      name: item.name,
      baseEtag: item.etag,
      payload: { remoteId, baseCtag: item.ctag, quickXorHash: item.quickXorHash, ...(sentHashes ? { sentHashes } : {}) },
    });
  });
}

/**
 * Offline `mkdir G; mv "Sub dir" G/F; mv G "Sub dir"` as the vfs journals it (the new folder has no
 * server id: its rename is local only, the mkdir replays under its latest name).
 */
async function mkdirTakingNameOfFolderMovedIntoIt() {
  const root = await graph.getItemByPath('/');
  const sub = await graph.createFolder(root.id, 'Sub dir');
  await sync.syncOnce();
  const { store } = temp;
  const rootKey = store.items.keyOf(root.id);
  const subKey = store.items.keyOf(sub.id);
  const g = newLocalId();
  store.transaction(() => {
    store.items.insert({ id: g, parentId: rootKey, name: 'G', kind: 'folder', size: 0, ctimeMs: 1, mtimeMs: 1 });
    store.journal.append({ kind: 'mkdir', itemId: g, parentId: rootKey, name: 'G' });
    store.items.move(subKey, g, 'F');
    store.journal.append({ kind: 'rename', itemId: subKey, parentId: rootKey, name: 'Sub dir', newParentId: g, newName: 'F' });
    store.items.move(g, rootKey, 'Sub dir');
  });
  return { root, sub, g, rootKey, subKey };
}

/** Replays until the journal is empty (entries waiting for a name or a folder take another pass). */
async function replayToTheEnd(): Promise<void> {
  let left = await replayer.replay();
  for (let pass = 0; left > 0 && pass < 3; pass++) left = await replayer.replay();
  expect(left).toBe(0);
}

describe('journal replay against the emulator', () => {
  it('a folder made offline and renamed over a server folder is created after that folder is deleted, not merged into it (fuzz seed 7000/41)', async () => {
    const root = await graph.getItemByPath('/');
    const f = await graph.createFolder(root.id, 'F');
    const g = await graph.createFolder(f.id, 'G');
    await sync.syncOnce();
    const { store } = temp;
    const fKey = store.items.keyOf(f.id);
    const gKey = store.items.keyOf(g.id);

    // Offline: mkdir F/Sub dir, then `mv "F/Sub dir" F/G` (POSIX replaces the empty F/G).
    const subId = newLocalId();
    store.transaction(() => {
      store.items.insert({ id: subId, parentId: fKey, name: 'Sub dir', kind: 'folder', size: 0, ctimeMs: 1, mtimeMs: 1 });
      store.journal.append({ kind: 'mkdir', itemId: subId, parentId: fKey, name: 'Sub dir' });
    });
    const gItem = store.items.get(gKey)!;
    store.transaction(() => {
      store.items.deleteSubtree(gKey);
      store.journal.append({ kind: 'rmdir', itemId: gKey, parentId: fKey, name: 'G', baseEtag: gItem.etag, payload: { remoteId: g.id } });
      store.items.move(subId, fKey, 'G');
      store.journal.append({ kind: 'rename', itemId: subId, parentId: fKey, name: 'Sub dir', newParentId: fKey, newName: 'G' });
    });

    // The mkdir waits for the name, the delete goes first, the next pass creates the folder.
    await replayToTheEnd();

    const made = store.items.get(subId)!;
    expect(made.remoteId).not.toBeNull();
    expect(made.remoteId).not.toBe(g.id);
    const onServer = await graph.getItemByPath('/F/G');
    expect(onServer.id).toBe(made.remoteId);
    expect(onServer.folder).toBeDefined();
    expect(await exists(g.id)).toBe(false);
  }, 30_000);

  /** Offline: mkdir F in the root; `during` runs once the server has made it, before the answer is used. */
  async function mkdirReplayedWith(during: (folderKey: string) => void): Promise<string> {
    const root = await graph.getItemByPath('/');
    await sync.syncOnce();
    const { store } = temp;
    const rootKey = store.items.keyOf(root.id);
    const fKey = newLocalId();
    store.transaction(() => {
      store.items.insert({ id: fKey, parentId: rootKey, name: 'F', kind: 'folder', size: 0, ctimeMs: 1, mtimeMs: 1 });
      store.journal.append({ kind: 'mkdir', itemId: fKey, parentId: rootKey, name: 'F' });
    });
    const createFolder = graph.createFolder.bind(graph);
    graph.createFolder = async (...args) => {
      const made = await createFolder(...args);
      during(fKey);
      return made;
    };
    await replayToTheEnd();
    return fKey;
  }

  it('a folder made offline and removed while its creation was on its way is not left on the server (fuzz 14000/92)', async () => {
    const { store } = temp;
    // What vfs rmdir does to a folder without a server id: local rows and journal entries go.
    await mkdirReplayedWith((fKey) => {
      store.transaction(() => {
        store.items.deleteSubtree(fKey);
        for (const e of store.journal.list({ itemId: fKey })) store.journal.remove(e.seq);
      });
    });
    await expect(graph.getItemByPath('/F')).rejects.toSatisfy(isNotFound);
    expect(store.items.getChild(store.items.keyOf((await graph.getItemByPath('/')).id), 'F')).toBeUndefined();
  }, 30_000);

  it('a folder made offline and renamed while its creation was on its way ends under its new name', async () => {
    const { store } = temp;
    const fKey = await mkdirReplayedWith((key) => store.items.move(key, store.items.get(key)!.parentId!, 'G'));
    const g = await graph.getItemByPath('/G');
    expect(store.items.get(fKey)).toMatchObject({ name: 'G', remoteId: g.id });
    await expect(graph.getItemByPath('/F')).rejects.toSatisfy(isNotFound);
  }, 30_000);

  it('a folder renamed offline and renamed again while that rename is replayed ends under the last name (fuzz 15000/178)', async () => {
    const root = await graph.getItemByPath('/');
    const f = await graph.createFolder(root.id, 'F');
    await sync.syncOnce();
    const { store } = temp;
    const rootKey = store.items.keyOf(root.id);
    const fKey = store.items.keyOf(f.id);
    // Offline: `mv F "Sub dir"`.
    store.transaction(() => {
      store.items.move(fKey, rootKey, 'Sub dir');
      store.journal.append({ kind: 'rename', itemId: fKey, parentId: rootKey, name: 'F', newParentId: rootKey, newName: 'Sub dir' });
    });
    // Back online, `mv "Sub dir" G` while that rename is on its way: the vfs queues it behind.
    const update = graph.update.bind(graph);
    let once = false;
    graph.update = async (...args) => {
      const answer = await update(...args);
      if (!once) {
        once = true;
        store.transaction(() => {
          store.items.move(fKey, rootKey, 'G');
          store.journal.append({ kind: 'rename', itemId: fKey, parentId: rootKey, name: 'Sub dir', newParentId: rootKey, newName: 'G' });
        });
      }
      return answer;
    };
    await replayToTheEnd();
    expect(store.items.get(fKey)).toMatchObject({ name: 'G', remoteId: f.id });
    expect((await graph.getItem(f.id)).name).toBe('G');
  }, 30_000);

  it('a folder flattened offline (mv G/F F; rmdir G; mv F G) ends as G with F\'s content, no conflict (fuzz 31000/64)', async () => {
    const root = await graph.getItemByPath('/');
    const g = await graph.createFolder(root.id, 'G');
    const f = await graph.createFolder(g.id, 'F');
    await graph.uploadSmall(f.id, 'inside.txt', Buffer.from('kept'));
    await sync.syncOnce();
    const { store } = temp;
    const rootKey = store.items.keyOf(root.id);
    const gKey = store.items.keyOf(g.id);
    const fKey = store.items.keyOf(f.id);
    // What the vfs journals offline for the three commands.
    const gItem = store.items.get(gKey)!;
    store.transaction(() => {
      store.items.move(fKey, rootKey, 'F');
      store.journal.append({ kind: 'rename', itemId: fKey, parentId: gKey, name: 'F', newParentId: rootKey, newName: 'F' });
      store.items.deleteSubtree(gKey);
      store.journal.append({ kind: 'rmdir', itemId: gKey, parentId: rootKey, name: 'G', baseEtag: gItem.etag, payload: { remoteId: g.id } });
      store.items.move(fKey, rootKey, 'G');
      store.journal.append({ kind: 'rename', itemId: fKey, parentId: rootKey, name: 'F', newParentId: rootKey, newName: 'G' });
    });

    await replayToTheEnd();
    expect(store.conflicts.list()).toEqual([]);
    const onServer = await graph.getItemByPath('/G');
    expect(onServer.id).toBe(f.id);
    expect((await graph.getItemByPath('/G/inside.txt')).size).toBe(4);
    expect(await exists(g.id)).toBe(false);
    expect(store.items.get(fKey)).toMatchObject({ name: 'G', parentId: rootKey });
  }, 30_000);

  it('a folder made offline that takes the name of a folder moved into it (mkdir G; mv "Sub dir" G/F; mv G "Sub dir") ends so on the server, no conflict, no endless retry (fuzz 233000/496)', async () => {
    const { sub, g, rootKey, subKey } = await mkdirTakingNameOfFolderMovedIntoIt();
    const { store } = temp;

    await replayToTheEnd();
    expect(store.conflicts.list()).toEqual([]);
    const made = store.items.get(g)!;
    expect((await graph.getItemByPath('/Sub dir')).id).toBe(made.remoteId);
    expect((await graph.getItemByPath('/Sub dir/F')).id).toBe(sub.id);
    expect(store.items.get(subKey)).toMatchObject({ parentId: g, name: 'F' });
    expect(made).toMatchObject({ parentId: rootKey, name: 'Sub dir' });
  }, 30_000);

  it('a folder emptied offline by moving a file out and deleting it after the folder (mv Sub/b b; rmdir Sub; rm b) is deleted on the server, no conflict (fuzz 63000/64)', async () => {
    const root = await graph.getItemByPath('/');
    const sub = await graph.createFolder(root.id, 'Sub');
    const b = await graph.uploadSmall(sub.id, 'b.txt', Buffer.from('b'));
    const other = await graph.createFolder(root.id, 'Other');
    await graph.uploadSmall(other.id, 'theirs.txt', Buffer.from('made there'));
    await sync.syncOnce();
    const { store } = temp;
    const rootKey = store.items.keyOf(root.id);
    const subKey = store.items.keyOf(sub.id);
    const bKey = store.items.keyOf(b.id);
    const otherKey = store.items.keyOf(other.id);
    const subItem = store.items.get(subKey)!;
    const bItem = store.items.get(bKey)!;
    const otherItem = store.items.get(otherKey)!;
    // What the vfs journals offline: the move of b is folded into its delete (it has no place left).
    store.transaction(() => {
      store.items.move(bKey, rootKey, 'b.txt');
      store.journal.append({ kind: 'rename', itemId: bKey, parentId: subKey, name: 'b.txt', newParentId: rootKey, newName: 'b.txt' });
      store.items.deleteSubtree(subKey);
      store.journal.append({ kind: 'rmdir', itemId: subKey, parentId: rootKey, name: 'Sub', baseEtag: subItem.etag, payload: { remoteId: sub.id } });
      store.items.deleteSubtree(bKey);
      store.journal.append({ kind: 'unlink', itemId: bKey, parentId: rootKey, name: 'b.txt', baseEtag: bItem.etag, payload: { remoteId: b.id } });
      // A folder whose server content this device never deleted stays, with a conflict, as before.
      store.items.deleteSubtree(otherKey);
      store.journal.append({ kind: 'rmdir', itemId: otherKey, parentId: rootKey, name: 'Other', baseEtag: otherItem.etag, payload: { remoteId: other.id } });
    });

    await replayToTheEnd();
    expect(await exists(sub.id)).toBe(false);
    expect(await exists(b.id)).toBe(false);
    expect(await exists(other.id)).toBe(true);
    expect(store.conflicts.list().map((c) => c.itemId)).toEqual([otherKey]);
  }, 30_000);

  it('stops with its task, the request under way too: the entry waits, pending, for the next pass (fuzz 1120000/118)', async () => {
    const root = await graph.getItemByPath('/');
    const file = await graph.uploadSmall(root.id, 'held.md', Buffer.from('held'));
    await sync.syncOnce();
    deletedOffline(file.id);
    // The server takes the DELETE and holds it, as one that does not answer; the engine's shutdown
    // stops its tasks then, giving each a couple of seconds.
    handle.emulator.faults.set({ latencyMs: 5_000 });
    replayer.start();
    await until(() => handle.emulator.log.inflight > 0, 'the DELETE at the server');
    const stopped = await tasks.stopAll(1_000);
    expect(stopped.unfinished.map((t) => t.name)).toEqual([]);
    expect(temp.store.journal.list({ states: ['pending'] }).map((e) => e.kind)).toEqual(['unlink']);
    expect(temp.store.conflicts.list()).toEqual([]);
    // The client let go of the held request (the emulator closes its log entry; its handler
    // sleeps out the latency after the test); the next pass finishes the delete.
    await until(() => handle.emulator.log.inflight === 0, 'the client to let go of the held DELETE', 10_000);
    handle.emulator.faults.reset();
    expect(await replayer.replay()).toBe(0);
    expect(await exists(file.id)).toBe(false);
  }, 30_000);

  it('a file deleted offline that was only renamed on the server since is deleted; one edited there is kept as a conflict (fuzz 10000/424)', async () => {
    const root = await graph.getItemByPath('/');
    const renamed = await graph.uploadSmall(root.id, 'notes.md', Buffer.from('saved by an editor'));
    const edited = await graph.uploadSmall(root.id, 'other.md', Buffer.from('first'));
    await sync.syncOnce();
    const { store } = temp;
    // Deleted here while offline, each with the version this device had seen.
    for (const remote of [renamed, edited]) deletedOffline(remote.id);
    // Meanwhile the server renamed one (this device's own rename, its answer lost) and another device edited the other.
    await graph.update(renamed.id, { name: 'd' });
    await graph.uploadSmallById(edited.id, Buffer.from('edited elsewhere'));

    expect(await replayer.replay()).toBe(0);
    expect(await exists(renamed.id)).toBe(false);
    expect(await exists(edited.id)).toBe(true);
    expect(store.conflicts.list().map((c) => c.reason)).toEqual(['both-modified']);
  }, 30_000);

  it('a folder made under its parking name by a pass whose answer was lost is that folder, not junk beside a second one', async () => {
    const { root, g } = await mkdirTakingNameOfFolderMovedIntoIt();
    const { store } = temp;
    // An earlier pass made the folder under its parking name; the answer never came back.
    const parked = await graph.createFolder(root.id, `.onemount-moving-${store.items.get(g)!.inode}`);

    await replayToTheEnd();
    expect(store.items.get(g)!.remoteId).toBe(parked.id);
    expect((await graph.getItemByPath('/Sub dir')).id).toBe(parked.id);
    const names: string[] = [];
    for await (const page of graph.listChildren(root.id)) names.push(...page.map((c) => c.name ?? ''));
    expect(names.filter((n) => n.startsWith('.onemount-moving-'))).toEqual([]);
  }, 30_000);

  it('a folder under this parking name that holds something is not the one a lost answer made: it is left alone', async () => {
    const { root, g } = await mkdirTakingNameOfFolderMovedIntoIt();
    const { store } = temp;
    const theirs = await graph.createFolder(root.id, `.onemount-moving-${store.items.get(g)!.inode}`);
    await graph.uploadSmall(theirs.id, 'inside.txt', Buffer.from('not ours'));

    await replayToTheEnd();
    expect(store.items.get(g)!.remoteId).not.toBe(theirs.id);
    expect((await graph.getItemByPath('/Sub dir')).id).toBe(store.items.get(g)!.remoteId);
    expect(await exists(theirs.id)).toBe(true);
  }, 30_000);

  it('a file deleted offline while its own upload was on its way is deleted when that upload landed after all (fuzz 212000/41)', async () => {
    const root = await graph.getItemByPath('/');
    const first = await graph.uploadSmall(root.id, 'a.txt', Buffer.from('first'));
    await sync.syncOnce();
    const { store } = temp;
    const sent = Buffer.from('written here, its upload cut off by the outage');
    // With the versions this engine sent for the file (the one on its way among them).
    deletedOffline(first.id, [quickXorHash(sent)]);
    // The upload the outage cut off had reached the server after all.
    await graph.uploadSmallById(first.id, sent);

    expect(await replayer.replay()).toBe(0);
    expect(await exists(first.id)).toBe(false);
    expect(store.conflicts.list()).toEqual([]);
  }, 30_000);
  it('a file renamed offline over a new file whose upload landed without an answer takes the name, and frees its own at once (fuzz 243000/301)', async () => {
    const root = await graph.getItemByPath('/');
    const d = await graph.uploadSmall(root.id, 'd', Buffer.from('d, on the server'));
    const w = await graph.uploadSmall(root.id, 'w', Buffer.from('w, on the server'));
    await sync.syncOnce();
    const { store } = temp;
    const rootKey = store.items.keyOf(root.id);
    const dKey = store.items.keyOf(d.id);
    const wKey = store.items.keyOf(w.id);
    // A new c.bin made here: its upload landed, its answer was lost, and then offline
    // `mv d c.bin; mv w d` replaced it (the vfs remembers the versions sent for the deleted file:
    // deletedUploads).
    const sent = Buffer.from('c.bin, written here');
    const landed = await graph.uploadSmall(root.id, 'c.bin', sent);
    store.deletedUploads.add({ itemId: newLocalId(), parentId: rootKey, name: 'c.bin', hashes: [quickXorHash(sent)] });
    store.transaction(() => {
      store.items.move(dKey, rootKey, 'c.bin');
      store.journal.append({ kind: 'rename', itemId: dKey, parentId: rootKey, name: 'd', newParentId: rootKey, newName: 'c.bin' });
      store.items.move(wKey, rootKey, 'd');
      store.journal.append({ kind: 'rename', itemId: wKey, parentId: rootKey, name: 'w', newParentId: rootKey, newName: 'd' });
    });

    await replayToTheEnd();

    expect(await exists(landed.id)).toBe(false);
    expect((await graph.getItemByPath('/c.bin')).id).toBe(d.id);
    expect((await graph.getItemByPath('/d')).id).toBe(w.id);
    expect(store.conflicts.list()).toEqual([]);
  }, 30_000);

  it('a folder made offline where a new file whose upload landed without an answer was deleted takes the name', async () => {
    const root = await graph.getItemByPath('/');
    await sync.syncOnce();
    const { store } = temp;
    const rootKey = store.items.keyOf(root.id);
    const sent = Buffer.from('G, a file written here');
    const landed = await graph.uploadSmall(root.id, 'G', sent);
    // Offline: `rm G; mkdir G`.
    store.deletedUploads.add({ itemId: newLocalId(), parentId: rootKey, name: 'G', hashes: [quickXorHash(sent)] });
    const gId = newLocalId();
    store.transaction(() => {
      store.items.insert({ id: gId, parentId: rootKey, name: 'G', kind: 'folder', size: 0, ctimeMs: 1, mtimeMs: 1 });
      store.journal.append({ kind: 'mkdir', itemId: gId, parentId: rootKey, name: 'G' });
    });

    await replayToTheEnd();

    expect(await exists(landed.id)).toBe(false);
    const made = await graph.getItemByPath('/G');
    expect(made.folder).toBeDefined();
    expect(store.items.get(gId)!.remoteId).toBe(made.id);
    expect(store.conflicts.list()).toEqual([]);
  }, 30_000);

  it('a landed copy is looked for in the folder the server holds, not where a local path not sent yet points', async () => {
    const root = await graph.getItemByPath('/');
    const a = await graph.createFolder(root.id, 'A');
    const b = await graph.createFolder(root.id, 'B');
    const x = await graph.uploadSmall(a.id, 'x', Buffer.from('x'));
    await sync.syncOnce();
    const { store } = temp;
    const rootKey = store.items.keyOf(root.id);
    const aKey = store.items.keyOf(a.id);
    const bKey = store.items.keyOf(b.id);
    const xKey = store.items.keyOf(x.id);
    // A new A/N landed without an answer and was deleted here; B/N is someone's file, the same bytes.
    const bytes = Buffer.from('the same bytes');
    await graph.uploadSmall(a.id, 'N', bytes);
    const theirs = await graph.uploadSmall(b.id, 'N', bytes);
    store.deletedUploads.add({ itemId: newLocalId(), parentId: aKey, name: 'N', hashes: [quickXorHash(bytes)] });
    // Offline: `mv A/x A/N`, then A and B swap names (the local path /B/N now means the server's A/N).
    const rename = (key: string, parentId: string, from: string, to: string) => {
      store.items.move(key, parentId, to);
      store.journal.append({ kind: 'rename', itemId: key, parentId, name: from, newParentId: parentId, newName: to });
    };
    store.transaction(() => {
      rename(xKey, aKey, 'x', 'N');
      rename(aKey, rootKey, 'A', 'T');
      rename(bKey, rootKey, 'B', 'A');
      rename(aKey, rootKey, 'T', 'B');
    });

    await replayToTheEnd();

    expect(await exists(theirs.id)).toBe(true);
  }, 30_000);

  it('a file of someone else in the way of an offline rename is kept: the renamed file takes a conflict name', async () => {
    const root = await graph.getItemByPath('/');
    const d = await graph.uploadSmall(root.id, 'd', Buffer.from('d, on the server'));
    await sync.syncOnce();
    const { store } = temp;
    const rootKey = store.items.keyOf(root.id);
    const dKey = store.items.keyOf(d.id);
    // A deleted upload was sent under the name, but what holds it now is another version.
    store.deletedUploads.add({ itemId: newLocalId(), parentId: rootKey, name: 'c.bin', hashes: [quickXorHash(Buffer.from('sent from here'))] });
    const theirs = await graph.uploadSmall(root.id, 'c.bin', Buffer.from('made elsewhere'));
    store.transaction(() => {
      store.items.move(dKey, rootKey, 'c.bin');
      store.journal.append({ kind: 'rename', itemId: dKey, parentId: rootKey, name: 'd', newParentId: rootKey, newName: 'c.bin' });
    });

    await replayToTheEnd();

    expect((await graph.getItemByPath('/c.bin')).id).toBe(theirs.id);
    expect(store.conflicts.list().map((c) => c.reason)).toEqual(['name-clash']);
  }, 30_000);
});
