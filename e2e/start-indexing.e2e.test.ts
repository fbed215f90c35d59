/**
 * Issue 13, start-up: a first start mounts at once and enumerates the drive in the background;
 * folders the enumeration has not reached are listed on demand, and once it is applied the mount
 * shows exactly the server's tree (docs/concurrency.md, "Listings during the first enumeration").
 *
 * To read a deep path "before the enumeration is done" without depending on timing, the emulator
 * refuses every delta request until the test lets the enumeration through; then it is slowed
 * (latency per request) while the server changes folders that were listed.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCOUNT, comparable, eventually, findTree, MountHarness, runOk, serverTree } from './harness.ts';

const FOLDERS = 20;
const FILES_PER_FOLDER = 999;
const LEAF = 'listed before the enumeration was done\n';

let h: MountHarness;

describe(`a first start on a ${FOLDERS * (FILES_PER_FOLDER + 1)}-item drive`, () => {
  beforeAll(async () => {
    h = await MountHarness.start({
      untilIndexed: false,
      seed: async (admin) => {
        await admin.generate({ folders: FOLDERS, filesPerFolder: FILES_PER_FOLDER, fileSize: 100 });
        for (const p of ['/deep', '/deep/a', '/deep/a/b', '/deep/a/b/c']) await admin.remote({ op: 'mkdir', path: p });
        await admin.remote({ op: 'write', path: '/deep/a/b/c/leaf.txt', content: LEAF });
        await admin.remote({ op: 'write', path: '/deep/a/b/gone.txt', content: 'deleted on the server while indexing\n' });
        await admin.remote({ op: 'write', path: '/deep/a/stays.txt', content: 'moved on the server while indexing\n' });
        await admin.failNext({ status: 400, code: 'invalidRequest', message: 'held back by the test', pathIncludes: '/delta', count: 1_000_000, listener: 'api' });
      },
    });
  }, 300_000);

  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('mounts before the enumeration ran, and says it is indexing', { timeout: 30_000 }, async () => {
    const status = await h.status();
    expect(status.indexing).toBeDefined();
    expect(status.items).toBeLessThan(10);
    const text = await h.onemount(['status', '--account', ACCOUNT]);
    expect(text.stdout).toMatch(/Indexing: \d+ items so far/);
  });

  it('reads and lists a deep path the enumeration has not reached, through children listings', { timeout: 60_000 }, async () => {
    expect(await readFile(h.at('deep', 'a', 'b', 'c', 'leaf.txt'), 'utf8')).toBe(LEAF);
    const listing = await runOk('ls', ['-l', h.at('deep', 'a', 'b')]);
    expect(listing).toMatch(/ c$/m);
    expect(listing).toMatch(/ gone\.txt$/m);
    const root = await runOk('ls', ['-1', h.mountpoint]);
    expect(root.split('\n').filter(Boolean)).toHaveLength(FOLDERS + 1);
    const firstFolder = root.split('\n').find((n) => n !== 'deep')!;
    const inFolder = await runOk('ls', ['-1', h.at(firstFolder)]);
    expect(inFolder.split('\n').filter(Boolean)).toHaveLength(FILES_PER_FOLDER);
    // A name that does not exist in a listed folder is ENOENT, not a hang or a listing loop.
    await expect(readFile(h.at('deep', 'a', 'nothing-here'))).rejects.toMatchObject({ code: 'ENOENT' });
    // The delta feed is still held back: all of this happened before the enumeration.
    expect((await h.status()).indexing).toBeDefined();
  });

  it('once the enumeration is applied, the mount equals the server, changes made meanwhile included', { timeout: 240_000 }, async () => {
    // Changes to listed folders before and while the enumeration runs: a delete, a move, a create.
    await h.admin.remote({ op: 'delete', path: '/deep/a/b/gone.txt' });
    await h.admin.resetFaults();
    await h.admin.setFaults({ latencyMs: 40 });
    await h.admin.remote({ op: 'move', path: '/deep/a/stays.txt', newPath: '/deep/moved.txt' });
    await h.admin.remote({ op: 'write', path: '/deep/a/b/c/new.txt', content: 'created while indexing\n' });
    await eventually('the enumeration to be applied', async () => ((await h.status()).indexing === undefined ? true : undefined), 180_000, 500);
    await h.admin.resetFaults();
    const expected = comparable(await serverTree(h.emulator.info.apiUrl));
    expect(expected.has('deep/moved.txt')).toBe(true);
    expect(expected.has('deep/a/b/gone.txt')).toBe(false);
    // The round after the enumeration brings what changed while it ran; kernel caches last 1 s.
    const tree = await eventually(
      'the mount to show the server tree',
      async () => {
        const seen = comparable(await findTree(h.mountpoint));
        return seen.size === expected.size && [...expected].every(([p, e]) => seen.get(p)?.size === e.size && seen.get(p)?.kind === e.kind) ? seen : undefined;
      },
      60_000,
      1000,
    );
    expect(tree).toEqual(expected);
    expect(await readFile(h.at('deep', 'a', 'b', 'c', 'new.txt'), 'utf8')).toBe('created while indexing\n');
  });
});
