/**
 * Files deleted while a program holds them open, as libfuse 2.9's high-level API passes that: a
 * rename of the file to `.fuse_hidden…` in its folder, then, at the last close, an unlink of that
 * name (e2e/open-deleted.e2e.test.ts does the same through a real mount). The file is deleted on
 * the server under its own name; the hidden name never leaves this device; the handles open on it
 * read what it held here.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
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
beforeEach(async () => {
  rig = startCacheRig(emu.apiUrl);
});
afterEach(async () => {
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

async function read(fh: number, length: number, position = 0): Promise<string> {
  const buf = Buffer.alloc(length);
  const n = await rig.vfs.read(fh, buf, length, position);
  return buf.subarray(0, n).toString();
}

describe('a file deleted while open (libfuse hides it)', () => {
  it('is deleted on the server under its own name; its handle reads on and fstat answers until libfuse lets go of the hidden name', async () => {
    await serverFile('/held.txt', 'still here', true);
    const fh = await rig.vfs.open('/held.txt', 0);

    await rig.vfs.rename('/held.txt', `/${HIDDEN}`);

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
    // A name of that pattern is the user's own again: a file can be made with it and is uploaded.
    const made = await rig.vfs.create(`/${HIDDEN}`);
    await rig.vfs.release(made);
    expect(rig.item(`/${HIDDEN}`).remoteId).toBeNull();
  });

  it('a handle that had read nothing reads the cached bytes; bytes never on this device fail with EIO', async () => {
    await serverFile('/cached.txt', 'cached bytes', true);
    await serverFile('/remote.txt', 'never read here', false);
    const cached = await rig.vfs.open('/cached.txt', 0);
    const remote = await rig.vfs.open('/remote.txt', 0);

    await rig.vfs.rename('/cached.txt', `/${HIDDEN}`);
    await rig.vfs.rename('/remote.txt', '/.fuse_hidden0000000300000002');

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

    await rig.vfs.rename('/draft.txt', `/${HIDDEN}`);

    expect(await read(reader, 100)).toBe('VERSION one');
    const journal = rig.temp.store.journal.list({ states: ['pending'] });
    expect(journal.map((e) => [e.kind, e.name])).toEqual([['unlink', 'draft.txt']]);
    await rig.vfs.release(writer);
    await rig.vfs.release(reader);
    await rig.vfs.unlink(`/${HIDDEN}`);
    // Nothing is scheduled for upload from the deleted file's handles.
    expect(rig.uploads.scheduled).toEqual([]);

    await emu.emulator.setOffline(false);
    const replayer = new JournalReplayer({ graph: rig.graph, store: rig.temp.store, toRecord, logger: rig.memory.logger, tasks: rig.tasks, hostName: 'test-host', retry: { baseMs: 5_000, maxMs: 5_000 } });
    expect(await replayer.replay()).toBe(0);
    expect(onServer('/draft.txt')).toBe(false);
    expect(serverNames().filter((n) => n.startsWith('.fuse_hidden'))).toEqual([]);
  });
});
