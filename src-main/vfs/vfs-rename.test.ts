/**
 * rename(2) through the vfs against the emulator, where the server's state changes while the rename
 * waits (the uploads are the cache rig's recording stand-in, so each case says exactly what lands
 * when).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import type { DriveItem } from '../graph/index.ts';
import { startCacheRig, type CacheRig } from './testing/cache-rig.ts';

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
  await rig.close();
});

async function writeNew(path: string, content: Buffer): Promise<void> {
  const fh = await rig.vfs.create(path);
  await rig.vfs.write(fh, content, content.length, 0);
  await rig.vfs.release(fh);
}

describe('vfs rename', () => {
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
