/**
 * Kept pages through a real mount (docs/architecture.md, "Kept pages"): the kernel keeps its cached
 * pages of a file from one open to the next, so reading it again costs the
 * engine nothing; and a change made elsewhere is read anew even when it keeps the file's size and
 * modification time, which the kernel alone could not tell from no change. `fincore` (util-linux)
 * opens the file and counts its pages in memory: kept, they are all there; dropped at its open, none.
 * The engine and the emulator run in their own processes; this process uses ordinary programs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, MountHarness, runOk } from './harness.ts';

const SIZE = 256 * 1024;
const FIRST = 'a'.repeat(SIZE);
const SECOND = 'b'.repeat(SIZE);

let h: MountHarness;

/** Bytes of the file the kernel holds in memory right after an open of it (fincore's own). */
async function residentBytes(path: string): Promise<number> {
  return Number((await runOk('fincore', ['--bytes', '--noheadings', '--output', 'RES', h.at(path)])).trim());
}

const cat = (path: string) => runOk('cat', [h.at(path)], { timeoutMs: 20_000 });

describe('kept pages (e2e)', () => {
  beforeAll(async () => {
    h = await MountHarness.start({ seed: (admin) => admin.remote({ op: 'write', path: 'pages.txt', content: FIRST }).then(() => undefined) });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('keeps the pages of a file read once from one open to the next', async () => {
    // The first read downloads it; from the next open on, its pages stay.
    expect(await cat('pages.txt')).toBe(FIRST);
    expect(await residentBytes('pages.txt')).toBe(SIZE);
    expect(await cat('pages.txt')).toBe(FIRST);
  }, 60_000);

  it('reads a change made elsewhere anew, though it keeps the size and the modification time', async () => {
    type Shown = { size: number; fileSystemInfo: { lastModifiedDateTime: string } };
    const shown = (item: Shown) => [item.size, item.fileSystemInfo.lastModifiedDateTime];
    const before = (await h.admin.item('pages.txt')) as Shown;
    const mtime = () => runOk('stat', ['--format=%s %Y', h.at('pages.txt')]);
    const mtimeBefore = await mtime();
    await h.admin.remote({ op: 'write', path: 'pages.txt', content: SECOND });
    await h.admin.remote({ op: 'touch', path: 'pages.txt', modified: before.fileSystemInfo.lastModifiedDateTime });
    expect(shown((await h.admin.item('pages.txt')) as Shown)).toEqual(shown(before));
    // Once the engine has seen the change (delta, every second here), an open drops the old pages.
    await eventually('the new content through the mount', async () => ((await cat('pages.txt')) === SECOND ? true : undefined), 30_000);
    expect(await mtime()).toBe(mtimeBefore);
    expect(await cat('pages.txt')).toBe(SECOND);
    expect(await residentBytes('pages.txt')).toBe(SIZE);
    expect(await cat('pages.txt')).toBe(SECOND);
  }, 60_000);

  it('drops them after a write here', async () => {
    await runOk('dd', ['if=/dev/zero', `of=${h.at('pages.txt')}`, 'bs=1', 'count=1', 'conv=notrunc', 'status=none']);
    // dd wrote through the kernel, which updated its pages; the open after it drops them all the same.
    expect(await residentBytes('pages.txt')).toBe(0);
    expect((await cat('pages.txt')).slice(0, 2)).toBe('\0b');
  }, 60_000);
});
