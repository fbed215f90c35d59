/**
 * Files removed or replaced while a program holds them open.
 *
 * libfuse's high-level API (fuse-native, libfuse 2.9, mounted without `hard_remove`) never passes
 * an unlink or a rename over a file that is open to the filesystem: it first renames the file to
 * `.fuse_hiddenNNNN…` in the same folder, and unlinks that name when the last handle closes. The
 * vfs takes that rename for what it is (vfs.ts `hide`): a delete, or the first step of a save over
 * the file when a rename onto its name follows; the server never sees the hidden name, and the
 * program reads on the version it opened. (`hard_remove` would pass the unlink as it is, but
 * libfuse 2.9 then answers fstat of the open file with ENOENT: the kernel's GETATTR carries no file
 * handle.) Found 2026-12-06 (expected failures until the next session fixed them).
 */
import { open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, MountHarness } from './harness.ts';

let h: MountHarness;

beforeAll(async () => {
  h = await MountHarness.start({ engineArgs: ['--write-back', '100', '--poll-interval', '2'] });
}, 120_000);

afterAll(async () => {
  await h?.close();
});

/** A file written on the mount, once it is on the server; returns its server item id. */
async function uploaded(name: string, text: string): Promise<string> {
  await writeFile(h.at(name), text);
  return eventually(`${name} on the server`, async () => {
    const item = (await h.admin.tree('')).find((i) => i.path === name);
    return item && (await h.admin.content(`/${name}`)).toString() === text ? item.id : undefined;
  });
}

const hiddenOnServer = async (): Promise<string[]> => (await h.admin.tree('')).map((i) => i.path).filter((p) => p.includes('.fuse_hidden'));

describe('files removed or replaced while open', () => {
  it('deleting a file a program holds open: it reads on, and the server never lists libfuse\'s hidden name', async () => {
    await uploaded('held.txt', 'still here');
    const held = await open(h.at('held.txt'), 'r');
    try {
      await rm(h.at('held.txt'));
      // fstat (readFile's first step) and reads of the open file.
      expect((await held.stat()).size).toBe('still here'.length);
      expect((await held.readFile()).toString()).toBe('still here');
      // Deleted on the server while the program still holds it.
      await eventually('held.txt deleted on the server', async () => ((await h.admin.tree('')).some((i) => i.path === 'held.txt') ? undefined : true));
      expect(await hiddenOnServer()).toEqual([]);
    } finally {
      await held.close();
    }
    expect(await hiddenOnServer()).toEqual([]);
  });

  it('a program holding a file open while another saves over it reads the version it opened; the new one is on the server', async () => {
    await uploaded('seen.txt', 'the version opened');
    const viewer = await open(h.at('seen.txt'), 'r');
    try {
      await writeFile(h.at('seen.txt.tmp'), 'the version saved');
      await rename(h.at('seen.txt.tmp'), h.at('seen.txt'));
      expect((await viewer.readFile()).toString()).toBe('the version opened');
      expect((await readFile(h.at('seen.txt'))).toString()).toBe('the version saved');
    } finally {
      await viewer.close();
    }
    await eventually('the saved version on the server', async () => ((await h.admin.content('/seen.txt').catch(() => undefined))?.toString() === 'the version saved' ? true : undefined));
    await eventually('no hidden file left on the server', async () => ((await hiddenOnServer()).length === 0 ? true : undefined));
    expect((await h.admin.tree('')).map((i) => i.path).filter((p) => p.startsWith('seen.txt'))).toEqual(['seen.txt']);
  });

  it('an editor\'s save over a file open elsewhere is a new version of the same server item', async () => {
    const id = await uploaded('doc.txt', 'version 1');
    const viewer = await open(h.at('doc.txt'), 'r');
    try {
      await writeFile(h.at('doc.txt.tmp'), 'version 2');
      await rename(h.at('doc.txt.tmp'), h.at('doc.txt'));
      expect((await readFile(h.at('doc.txt'))).toString()).toBe('version 2');
    } finally {
      await viewer.close();
    }
    const after = await eventually('version 2 on the server', async () => {
      const item = (await h.admin.tree('')).find((i) => i.path === 'doc.txt');
      return item && (await h.admin.content('/doc.txt')).toString() === 'version 2' ? item : undefined;
    });
    await eventually('no hidden file left on the server', async () => ((await hiddenOnServer()).length === 0 ? true : undefined));
    expect(after.id).toBe(id);
  });
});
