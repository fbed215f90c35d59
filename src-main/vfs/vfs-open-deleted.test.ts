/**
 * Files deleted or saved over while a program holds them open, as libfuse 2.9's high-level API
 * passes that: a rename of the file to `.fuse_hidden…` in its folder, then a rename onto its name
 * at once (a save over it) or nothing (an unlink), and at the last close an unlink of the hidden
 * name (e2e/open-deleted.e2e.test.ts does the same through a real mount). An unlinked file is
 * deleted on the server under its own name once the grace for a save has passed; a saved one stays
 * the same server item; the hidden name never leaves this device; the handles open on the file
 * read what it held here.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { JournalReplayer } from '../sync/journal-replayer.ts';
import { toRecord } from '../sync/testing/to-record.ts';
import { startCacheRig, type CacheRig } from './testing/cache-rig.ts';

const HIDDEN = '.fuse_hidden0000000200000001';

let emu: EmulatorHandle;
let rig: CacheRig;

beforeAll(async () => {
  emu = await startEmulator();
});
afterAll(async () => {
  await emu.close();
});
const GRACE_MS = 30;

beforeEach(async () => {
  rig = startCacheRig(emu.apiUrl, { hideGraceMs: GRACE_MS });
});
afterEach(async () => {
  emu.emulator.faults.reset();
  await emu.emulator.setOffline(false);
  await rig.close();
});

/** A file on the server, known to the store (and cached, when `cached`). */
async function serverFile(path: string, content: string, cached: boolean): Promise<void> {
  await emu.emulator.admin.remote({ op: 'write', path, content });
  await rig.sync.syncOnce();
  if (cached) expect((await rig.readAll(path)).toString()).toBe(content);
}

const onServer = (path: string): boolean => emu.emulator.admin.item(path) !== undefined;
const serverNames = (): string[] => emu.emulator.drive.children(emu.emulator.drive.rootId, '', 1000).map((r) => r.name);

/** libfuse's hiding rename and nothing after it: the file is deleted once the grace has passed. */
async function hideAndWait(path: string, hidden: string): Promise<void> {
  await rig.vfs.rename(path, hidden);
  // Its name looks free at once.
  expect(() => rig.vfs.getattr(path)).toThrow(expect.objectContaining({ errno: 'ENOENT' }));
  const folder = path.slice(0, path.lastIndexOf('/')) || '/';
  expect((await rig.vfs.readdir(folder)).names).not.toContain(path.slice(path.lastIndexOf('/') + 1));
  // Deleted once the grace has passed (however late a loaded machine fires the timer).
  await vi.waitFor(() => expect(rig.temp.store.items.resolvePath(path)).toBeUndefined(), { timeout: 20_000, interval: 10 });
  // The delete the grace began (its rows are gone) ends.
  await rig.vfs.deleteHiddenFiles();
}

/** A file made here (a program's temporary file, a new file). */
async function writeNew(path: string, text: string): Promise<void> {
  const fh = await rig.vfs.create(path);
  await rig.vfs.write(fh, Buffer.from(text), Buffer.byteLength(text), 0);
  await rig.vfs.release(fh);
}

/**
 * Waits out the grace, after a step that should have settled the hidden file's fate: no file is
 * waiting any more (its timer is off: the wait is not what keeps the checks after it true).
 */
async function pastTheGrace(): Promise<void> {
  expect(rig.temp.store.driveState.get('hiddenFiles')).toBeUndefined();
  await new Promise((resolve) => setTimeout(resolve, GRACE_MS * 3));
}

function replayer(): JournalReplayer {
  return new JournalReplayer({ graph: rig.graph, store: rig.temp.store, toRecord, logger: rig.memory.logger, tasks: rig.tasks, hostName: 'test-host', retry: { baseMs: 5_000, maxMs: 5_000 } });
}

async function read(fh: number, length: number, position = 0): Promise<string> {
  const buf = Buffer.alloc(length);
  const n = await rig.vfs.read(fh, buf, length, position);
  return buf.subarray(0, n).toString();
}

describe('a file deleted while open (libfuse hides it)', () => {
  it('is deleted on the server under its own name; its handle reads on and fstat answers until libfuse lets go of the hidden name', async () => {
    await serverFile('/held.txt', 'still here', true);
    const fh = await rig.vfs.open('/held.txt', 0);

    await hideAndWait('/held.txt', `/${HIDDEN}`);

    expect(onServer('/held.txt')).toBe(false);
    expect(serverNames().filter((n) => n.startsWith('.fuse_hidden'))).toEqual([]);
    expect(() => rig.vfs.getattr('/held.txt')).toThrow(expect.objectContaining({ errno: 'ENOENT' }));
    expect((await rig.vfs.readdir('/')).names).not.toContain(HIDDEN);
    expect(await rig.vfs.getattr(`/${HIDDEN}`)).toMatchObject({ size: 'still here'.length, nlink: 0 });
    expect(await read(fh, 100)).toBe('still here');
    expect(await read(fh, 4, 6)).toBe('here');

    await rig.vfs.release(fh);
    await rig.vfs.unlink(`/${HIDDEN}`);
    expect(() => rig.vfs.getattr(`/${HIDDEN}`)).toThrow(expect.objectContaining({ errno: 'ENOENT' }));
    // A name of that pattern is the user's own again: a file can be made with it and is uploaded,
    // and a file nobody holds open is renamed to it as asked.
    const made = await rig.vfs.create(`/${HIDDEN}`);
    await rig.vfs.release(made);
    expect(rig.item(`/${HIDDEN}`).remoteId).toBeNull();
    await serverFile('/closed.txt', 'closed', false);
    await rig.vfs.rename('/closed.txt', '/.fuse_hidden00000009000000ff');
    expect(emu.emulator.admin.item('/.fuse_hidden00000009000000ff')).toBeDefined();
    await rig.vfs.unlink('/.fuse_hidden00000009000000ff');
    expect(emu.emulator.admin.item('/.fuse_hidden00000009000000ff')).toBeUndefined();
  });

  it('a handle that had read nothing reads the cached bytes; bytes never on this device fail with EIO', async () => {
    await serverFile('/cached.txt', 'cached bytes', true);
    await serverFile('/remote.txt', 'never read here', false);
    const cached = await rig.vfs.open('/cached.txt', 0);
    const remote = await rig.vfs.open('/remote.txt', 0);

    await hideAndWait('/cached.txt', `/${HIDDEN}`);
    await hideAndWait('/remote.txt', '/.fuse_hidden0000000300000002');

    expect(await read(cached, 100)).toBe('cached bytes');
    await expect(read(remote, 100)).rejects.toMatchObject({ errno: 'EIO', message: expect.stringMatching(/never on this device/) });
    expect(onServer('/remote.txt')).toBe(false);
    await rig.vfs.release(cached);
    await rig.vfs.release(remote);
  });

  it('a file changed here and not uploaded yet: its handles read the local bytes; offline, the delete is journaled under its own name', async () => {
    await serverFile('/draft.txt', 'version one', true);
    const writer = await rig.vfs.open('/draft.txt', 2);
    await rig.vfs.write(writer, Buffer.from('VERSION'), 7, 0);
    const reader = await rig.vfs.open('/draft.txt', 0);
    await emu.emulator.setOffline(true);

    await hideAndWait('/draft.txt', `/${HIDDEN}`);

    expect(await read(reader, 100)).toBe('VERSION one');
    const journal = rig.temp.store.journal.list({ states: ['pending'] });
    expect(journal.map((e) => [e.kind, e.name])).toEqual([['unlink', 'draft.txt']]);
    await rig.vfs.release(writer);
    await rig.vfs.release(reader);
    await rig.vfs.unlink(`/${HIDDEN}`);
    // Nothing is scheduled for upload from the deleted file's handles.
    expect(rig.uploads.scheduled).toEqual([]);

    await emu.emulator.setOffline(false);
    expect(await replayer().replay()).toBe(0);
    expect(onServer('/draft.txt')).toBe(false);
    expect(serverNames().filter((n) => n.startsWith('.fuse_hidden'))).toEqual([]);
  });

  it("an editor's save over it (the hiding rename, then a rename onto its name) keeps the same server item; the program holding it reads the version it opened", async () => {
    await serverFile('/doc.txt', 'version 1', true);
    const doc = rig.item('/doc.txt');
    const viewer = await rig.vfs.open('/doc.txt', 0);
    await writeNew('/doc.txt.tmp', 'version 2 is longer');

    await rig.vfs.rename('/doc.txt', `/${HIDDEN}`);
    await rig.vfs.rename('/doc.txt.tmp', '/doc.txt');

    expect(rig.item('/doc.txt').id).toBe(doc.id);
    expect(rig.temp.store.items.resolvePath('/doc.txt.tmp')).toBeUndefined();
    expect((await rig.readAll('/doc.txt')).toString()).toBe('version 2 is longer');
    expect(rig.uploads.scheduled).toContain(doc.id);
    expect(await read(viewer, 100)).toBe('version 1');
    expect(await rig.vfs.getattr(`/${HIDDEN}`)).toMatchObject({ size: 'version 1'.length, nlink: 0 });
    await rig.vfs.release(viewer);
    await rig.vfs.unlink(`/${HIDDEN}`);
    // The grace passing deletes nothing: the server still holds the item, under its name.
    await pastTheGrace();
    expect(emu.emulator.admin.item('/doc.txt')?.id).toBe(doc.remoteId);
    expect(serverNames().filter((n) => n.startsWith('.fuse_hidden'))).toEqual([]);
    expect(rig.item('/doc.txt').id).toBe(doc.id);
  });

  it('a handle of a version replaced by a save writes into that version, as into an unlinked file; a file made at the hidden name before the grace passed deletes the hidden one first', async () => {
    await serverFile('/log.txt', 'old log', true);
    const writer = await rig.vfs.open('/log.txt', 2);
    await writeNew('/log.txt.new', 'saved');
    await rig.vfs.rename('/log.txt', `/${HIDDEN}`);
    await rig.vfs.rename('/log.txt.new', '/log.txt');
    expect(await rig.vfs.write(writer, Buffer.from('N'), 1, 0)).toBe(1);
    expect(await rig.vfs.write(writer, Buffer.from('!'), 1, 9)).toBe(1);
    expect(await read(writer, 100)).toBe('Nld log\0\0!');
    expect((await rig.vfs.getattr(`/${HIDDEN}`)).size).toBe(10);
    await rig.vfs.ftruncate(writer, 3);
    expect(await read(writer, 100)).toBe('Nld');
    await rig.vfs.release(writer);
    await rig.vfs.unlink(`/${HIDDEN}`);
    expect((await rig.readAll('/log.txt')).toString()).toBe('saved');
    expect(rig.uploads.scheduled.filter((id) => id === rig.item('/log.txt').id)).toHaveLength(1);

    await serverFile('/again.txt', 'first', true);
    const held = await rig.vfs.open('/again.txt', 0);
    await rig.vfs.rename('/again.txt', '/.fuse_hidden0000000400000003');
    // rm again.txt; echo > again.txt, faster than the grace: the old file goes first.
    const made = await rig.vfs.create('/again.txt');
    await rig.vfs.release(made);
    expect(rig.item('/again.txt').remoteId).toBeNull();
    expect(onServer('/again.txt')).toBe(false);
    expect(await read(held, 100)).toBe('first');
    await rig.vfs.release(held);
    await rig.vfs.unlink('/.fuse_hidden0000000400000003');
  });

  it('a hidden file is kept in the store until its fate is known: a kill in the grace has it deleted at the next start (deleteHiddenLeftOver)', async () => {
    await rig.close();
    rig = startCacheRig(emu.apiUrl, { hideGraceMs: 60_000 });
    await serverFile('/killed.txt', 'killed', true);
    await serverFile('/saved.txt', 'saved', true);
    const killed = rig.item('/killed.txt');
    const held = await rig.vfs.open('/killed.txt', 0);
    const heldSaved = await rig.vfs.open('/saved.txt', 0);
    await rig.vfs.rename('/killed.txt', `/${HIDDEN}`);
    await rig.vfs.rename('/saved.txt', '/.fuse_hidden0000000a0000000b');
    expect(rig.temp.store.driveState.get('hiddenFiles')).toEqual([killed.id, rig.item('/saved.txt').id]);
    const tmp = await rig.vfs.create('/saved.tmp');
    await rig.vfs.release(tmp);
    await rig.vfs.rename('/saved.tmp', '/saved.txt');
    expect(rig.temp.store.driveState.get('hiddenFiles')).toEqual([killed.id]);
    await rig.vfs.release(held);
    await rig.vfs.release(heldSaved);

    // What the next start does first, the engine killed meanwhile (here the same vfs, its timer pending).
    expect(await rig.vfs.deleteHiddenLeftOver()).toBe(1);
    expect(rig.temp.store.items.get(killed.id)).toBeUndefined();
    expect(rig.temp.store.driveState.get('hiddenFiles')).toBeUndefined();
    expect(rig.temp.store.journal.list({ states: ['pending'] }).map((e) => [e.kind, e.name])).toEqual([['write', 'saved.txt'], ['unlink', 'killed.txt']]);
    expect(await replayer().replay()).toBe(0);
    expect(onServer('/killed.txt')).toBe(false);
    expect(onServer('/saved.txt')).toBe(true);
  });

  it('a hidden file still waiting when the mount goes away is deleted then, its delete journaled for the next start (deleteHiddenFiles)', async () => {
    await rig.close();
    rig = startCacheRig(emu.apiUrl, { hideGraceMs: 60_000 });
    await serverFile('/late.txt', 'late', true);
    const held = await rig.vfs.open('/late.txt', 0);
    await rig.vfs.rename('/late.txt', `/${HIDDEN}`);
    expect(onServer('/late.txt')).toBe(true);

    await rig.vfs.deleteHiddenFiles();
    expect(rig.temp.store.items.resolvePath('/late.txt')).toBeUndefined();
    expect(rig.temp.store.journal.list({ states: ['pending'] }).map((e) => [e.kind, e.name])).toEqual([['unlink', 'late.txt']]);
    expect(await read(held, 10)).toBe('late');
    await rig.vfs.release(held);
    expect(await replayer().replay()).toBe(0);
    expect(onServer('/late.txt')).toBe(false);
  });

  it('names are the drive\'s, whatever their case: a file made as A.txt after a.txt was hidden is new (the hidden one goes first); a save as C.txt over a hidden c.txt is a save', async () => {
    await serverFile('/a.txt', 'old a', true);
    const a = rig.item('/a.txt');
    const heldA = await rig.vfs.open('/a.txt', 0);
    await rig.vfs.rename('/a.txt', `/${HIDDEN}`);
    expect(() => rig.vfs.getattr('/A.txt')).toThrow(expect.objectContaining({ errno: 'ENOENT' }));
    await writeNew('/A.txt', 'hi');
    await pastTheGrace();
    expect(rig.item('/A.txt').id).not.toBe(a.id);
    expect((await rig.readAll('/A.txt')).toString()).toBe('hi');
    expect(emu.emulator.admin.item('/a.txt')?.id).not.toBe(a.remoteId);
    await rig.vfs.release(heldA);
    await rig.vfs.unlink(`/${HIDDEN}`);

    await serverFile('/c.txt', 'old c', true);
    const c = rig.item('/c.txt');
    const heldC = await rig.vfs.open('/c.txt', 0);
    await writeNew('/new.tmp', 'new c');
    await rig.vfs.rename('/c.txt', '/.fuse_hidden0000000500000006', 7);
    await rig.vfs.rename('/new.tmp', '/C.txt', 7);
    await pastTheGrace();
    expect(rig.item('/c.txt').id).toBe(c.id);
    expect((await rig.readAll('/c.txt')).toString()).toBe('new c');
    expect(emu.emulator.admin.item('/c.txt')?.id).toBe(c.remoteId);
    await rig.vfs.release(heldC);
  });

  it('a rename onto the hidden file\'s name by another program (rm f; mv g f) is no save: f is deleted, g (new here) takes its name', async () => {
    await serverFile('/f.txt', 'f', true);
    const f = rig.item('/f.txt');
    const made = await rig.vfs.create('/g.txt');
    await rig.vfs.release(made);
    const g = rig.item('/g.txt');
    const held = await rig.vfs.open('/f.txt', 0);
    await rig.vfs.rename('/f.txt', `/${HIDDEN}`, 100);
    await rig.vfs.rename('/g.txt', '/f.txt', 200);
    expect(rig.temp.store.items.get(f.id)).toBeUndefined();
    expect(rig.item('/f.txt').id).toBe(g.id);
    expect(onServer('/f.txt')).toBe(false);
    expect(await read(held, 10)).toBe('f');
    await rig.vfs.release(held);
  });

  it('a delete the server refuses is journaled and tried again (the unlink was answered); a file made at the name then is new', async () => {
    await serverFile('/locked.txt', 'locked', true);
    const locked = rig.item('/locked.txt');
    const held = await rig.vfs.open('/locked.txt', 0);
    emu.emulator.faults.failNext({ status: 423, code: 'resourceLocked', method: 'DELETE', listener: 'api' });
    await rig.vfs.rename('/locked.txt', `/${HIDDEN}`);
    await writeNew('/locked.txt', 'NEW');
    expect(rig.item('/locked.txt').id).not.toBe(locked.id);
    expect((await rig.readAll('/locked.txt')).toString()).toBe('NEW');
    expect(rig.temp.store.journal.list({ states: ['pending'] }).map((e) => [e.kind, e.name])).toEqual([['unlink', 'locked.txt'], ['create', 'locked.txt']]);
    expect(await read(held, 10)).toBe('locked');
    await rig.vfs.release(held);
    await rig.vfs.unlink(`/${HIDDEN}`);
    expect(await replayer().replay()).toBe(0);
    expect(emu.emulator.admin.item('/locked.txt')?.id).not.toBe(locked.remoteId);
  });

  it('a rename over the hidden file that fails leaves the file where it was; libfuse\'s unlink of the hidden name then deletes nothing', async () => {
    await serverFile('/kept.txt', 'kept', true);
    await rig.vfs.mkdir('/dir');
    const kept = rig.item('/kept.txt');
    const held = await rig.vfs.open('/kept.txt', 0);
    await rig.vfs.rename('/kept.txt', `/${HIDDEN}`);
    await expect(rig.vfs.rename('/dir', '/kept.txt')).rejects.toMatchObject({ errno: 'ENOTDIR' });
    await pastTheGrace();
    expect(rig.item('/kept.txt').id).toBe(kept.id);
    expect((await rig.vfs.getattr(`/${HIDDEN}`)).size).toBe(4);
    expect(await read(held, 10)).toBe('kept');
    await rig.vfs.release(held);
    await rig.vfs.unlink(`/${HIDDEN}`);
    expect(rig.item('/kept.txt').id).toBe(kept.id);
    expect(onServer('/kept.txt')).toBe(true);
  });

  it('rm -rf of a folder whose file a program holds: the folder is empty at once and goes; its hidden name answers after a rename of the folder', async () => {
    await rig.sync.syncOnce();
    await rig.vfs.mkdir('/d');
    await serverFile('/d/a', 'in d', true);
    await rig.vfs.mkdir('/e');
    await serverFile('/e/b', 'in e', true);
    const heldA = await rig.vfs.open('/d/a', 0);
    const heldB = await rig.vfs.open('/e/b', 0);
    await rig.vfs.rename('/d/a', '/d/.fuse_hidden0000000700000008');
    expect((await rig.vfs.readdir('/d')).names).toEqual([]);
    await rig.vfs.rmdir('/d');
    expect(onServer('/d')).toBe(false);
    expect(await read(heldA, 10)).toBe('in d');
    await rig.vfs.release(heldA);

    await rig.vfs.rename('/e/b', '/e/.fuse_hidden0000000900000009');
    await rig.vfs.rename('/e', '/f');
    expect((await rig.vfs.readdir('/f')).names).toEqual([]);
    expect((await rig.vfs.getattr('/f/.fuse_hidden0000000900000009')).size).toBe(4);
    // The grace passes (the timer's delete, not the unmount's journal-only one: waited for, then ended).
    await vi.waitFor(() => expect(rig.temp.store.items.resolvePath('/f/b')).toBeUndefined(), { timeout: 20_000, interval: 10 });
    await rig.vfs.deleteHiddenFiles();
    expect(onServer('/f/b')).toBe(false);
    expect((await rig.vfs.getattr('/f/.fuse_hidden0000000900000009')).size).toBe(4);
    await rig.vfs.release(heldB);
    await rig.vfs.unlink('/f/.fuse_hidden0000000900000009');
    expect(() => rig.vfs.getattr('/f/.fuse_hidden0000000900000009')).toThrow(expect.objectContaining({ errno: 'ENOENT' }));
  });

  it('failures on the way lose no answered delete: the journal entry goes with the rows, a start is never stopped, a hide the store cannot record hides nothing', async () => {
    await serverFile('/j.txt', 'j', true);
    const j = rig.item('/j.txt');
    let held = await rig.vfs.open('/j.txt', 0);
    await emu.emulator.setOffline(true);
    const cancel = rig.downloads.cancel.bind(rig.downloads);
    rig.downloads.cancel = () => Promise.reject(new Error('stands for a kill after the rows went'));
    await rig.vfs.rename('/j.txt', `/${HIDDEN}`);
    await rig.vfs.deleteHiddenFiles();
    rig.downloads.cancel = cancel;
    expect(rig.temp.store.items.get(j.id)).toBeUndefined();
    expect(rig.temp.store.journal.list({ states: ['pending'] }).map((e) => [e.kind, e.name])).toEqual([['unlink', 'j.txt']]);
    expect((await rig.vfs.getattr(`/${HIDDEN}`)).size).toBe(1);
    await rig.vfs.release(held);
    await rig.vfs.unlink(`/${HIDDEN}`);
    await emu.emulator.setOffline(false);

    // A left-over key whose delete fails now: logged, and the start goes on.
    await serverFile('/k.txt', 'k', true);
    const k = rig.item('/k.txt');
    rig.temp.store.driveState.set('hiddenFiles', [k.id]);
    const append = rig.temp.store.journal.append.bind(rig.temp.store.journal);
    rig.temp.store.journal.append = () => {
      throw new Error('the store refuses');
    };
    await expect(rig.vfs.deleteHiddenLeftOver()).resolves.toBe(0);
    rig.temp.store.journal.append = append;
    expect(rig.item('/k.txt').id).toBe(k.id);
    expect(rig.temp.store.driveState.get('hiddenFiles')).toBeUndefined();

    // A hide that cannot be recorded fails, and the file stays.
    held = await rig.vfs.open('/k.txt', 0);
    const set = rig.temp.store.driveState.set.bind(rig.temp.store.driveState);
    rig.temp.store.driveState.set = () => {
      throw new Error('disk full');
    };
    await expect(rig.vfs.rename('/k.txt', `/${HIDDEN}`)).rejects.toThrow('disk full');
    rig.temp.store.driveState.set = set;
    await pastTheGrace();
    expect(rig.item('/k.txt').id).toBe(k.id);
    expect(onServer('/k.txt')).toBe(true);
    await rig.vfs.release(held);
  });

  it('a folder renamed over a folder whose only file libfuse hid: the hidden file goes first, then the rename; changes made in the grace are not uploaded', async () => {
    await rig.sync.syncOnce();
    await rig.vfs.mkdir('/from');
    await rig.vfs.mkdir('/over');
    await serverFile('/over/x', 'x', true);
    const x = rig.item('/over/x');
    const writer = await rig.vfs.open('/over/x', 2);
    await rig.vfs.rename('/over/x', '/over/.fuse_hidden0000000c0000000d');
    await rig.vfs.write(writer, Buffer.from('late'), 4, 0);
    await rig.vfs.release(writer);
    expect(rig.uploads.scheduled).not.toContain(x.id);
    await rig.vfs.rename('/from', '/over');
    expect(rig.temp.store.items.get(x.id)).toBeUndefined();
    expect(onServer('/over/x')).toBe(false);
    expect(rig.uploads.scheduled).not.toContain(x.id);
  });
});
