/**
 * Issue 3's "done means", end to end: the emulator and the engine each run in their own process and
 * this process uses the mount only through ordinary programs (ls, find, cat, cp, dd, mkdir, mv, rm,
 * rmdir) and asynchronous fs calls.
 *
 * One drive and one engine serve the whole file (seeding and a first mount cost seconds); the tests
 * run in order, read-only ones first, and the ones that stop the engine last.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, readdir, readFile, rename, rmdir, stat, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { quickXorHash, quickXorHashFile } from '../src-main/graph/quickxor.ts';
import {
  ACCOUNT,
  comparable,
  eventually,
  findTree,
  isMounted,
  logPosition,
  MountHarness,
  parseLsLR,
  parseRange,
  run,
  runBuffer,
  runOk,
  scratchFile,
  serverTree,
  settledLog,
  type ByteRange,
} from './harness.ts';

const MiB = 1 << 20;
const GiB = 1 << 30;
const LARGE = GiB;
const BIG_FOLDER = 10_000;
const SHARED_SIZE = 48 * MiB;
const STATUS_SIZE = 8 * MiB;

let h: MountHarness;

/** The server's item at `path`, or undefined when it does not exist. */
async function serverItem(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return await h.admin.item(path);
  } catch (e) {
    if (/→ 404/.test(String(e))) return undefined;
    throw e;
  }
}

async function serverHash(path: string): Promise<string> {
  const item = await h.admin.item(path);
  const hash = (item.file as { hashes?: { quickXorHash?: string } } | undefined)?.hashes?.quickXorHash;
  if (!hash) throw new Error(`the server has no quickXorHash for ${path}`);
  return hash;
}

/** The `user.onemount.status` xattr, read by a separate program (getfattr may be missing). */
async function statusXattr(path: string): Promise<string> {
  const py = 'import os,sys; sys.stdout.write(os.getxattr(sys.argv[1], "user.onemount.status").decode())';
  return runOk('/usr/bin/python3', ['-c', py, path], { timeoutMs: 20_000 });
}

/** Server bytes of a range, fetched through the API as another client would (after the log was read). */
async function serverRange(path: string, range: ByteRange): Promise<Buffer> {
  const res = await fetch(`${h.emulator.info.apiUrl}/me/drive/root:/${path}:/content`, {
    headers: { authorization: 'Bearer e2e', range: `bytes=${range.start}-${range.end - 1}` },
  });
  if (res.status !== 206) throw new Error(`ranged GET of ${path} → ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

function rangesOf(entries: { range?: string; method: string }[], size: number): ByteRange[] {
  return entries.filter((e) => e.method === 'GET').map((e) => parseRange(e.range, size));
}

function total(ranges: ByteRange[]): number {
  return ranges.reduce((n, r) => n + (r.end - r.start), 0);
}

/** Ranges sorted and merged; overlapping ones are reported, since each byte should be fetched once. */
function union(ranges: ByteRange[]): { merged: ByteRange[]; overlaps: Array<[ByteRange, ByteRange]> } {
  const sorted = [...ranges].sort((a, b) => a.start - b.start || a.end - b.end);
  const merged: ByteRange[] = [];
  const overlaps: Array<[ByteRange, ByteRange]> = [];
  let prev: ByteRange | undefined;
  for (const r of sorted) {
    if (prev && r.start < prev.end) overlaps.push([prev, r]);
    const last = merged[merged.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
    prev = !prev || r.end > prev.end ? r : prev;
  }
  return { merged, overlaps };
}

/** Rejects with "hung" if `p` has not settled after `ms` (a hang guard, not a speed check). */
function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(Object.assign(new Error(`still waiting after ${ms} ms`), { code: 'hung' })), ms)));
  return Promise.race([p, guard]).finally(() => clearTimeout(timer));
}

const errnoOf = async (p: Promise<unknown>): Promise<string | undefined> => {
  try {
    await p;
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? String(e);
  }
};

describe('a mounted drive (emulator and engine in their own processes)', () => {
  beforeAll(async () => {
    h = await MountHarness.start({
      seed: async (admin) => {
        await admin.generate({ folders: 4, depth: 2, filesPerFolder: 25, bigFolder: BIG_FOLDER, seed: 1 });
        await admin.generate({ under: 'Large', largeFile: LARGE, seed: 2 });
        await admin.generate({ under: 'Ranged', largeFile: LARGE, seed: 3 });
        await admin.generate({ under: 'Shared', largeFile: SHARED_SIZE, seed: 4 });
        await admin.generate({ under: 'Status', largeFile: STATUS_SIZE, seed: 5 });
        await admin.generate({ under: 'Ops', folders: 2, filesPerFolder: 3, seed: 6 });
        await admin.generate({ under: 'Offline', folders: 1, filesPerFolder: 3, seed: 7 });
      },
    });
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  }, 60_000);

  it('holds every item of the drive once the first start has indexed it', async () => {
    const server = await serverTree(h.emulator.info.apiUrl);
    expect((await h.status()).items).toBe(server.size + 1);
  });

  it('`ls -lR` and `find` show the server tree (names, kinds, sizes)', async () => {
    const server = comparable(await serverTree(h.emulator.info.apiUrl));
    const ls = await runOk('ls', ['-lRA', '--time-style=+%s', '--quoting-style=literal', h.mountpoint], { timeoutMs: 60_000 });
    expect(parseLsLR(ls, h.mountpoint)).toEqual(server);
    expect(await findTree(h.mountpoint)).toEqual(server);
  });

  it('a 10 000-entry folder lists completely', async () => {
    const names = (await runOk('ls', ['-1', '--quoting-style=literal', h.at('Big')])).split('\n').filter(Boolean);
    const expected = Array.from({ length: BIG_FOLDER }, (_, i) => `entry-${String(i).padStart(6, '0')}.dat`);
    expect(names).toEqual(expected);
    // readdir(3) through the async fs API pages the same folder on its own.
    expect((await readdir(h.at('Big'))).sort()).toEqual(expected);
  });

  it('`cat` of small files returns the server bytes', async () => {
    const files = ['Folder 0000/Level 1/file-00000.txt', 'Folder 0001/Level 1/file-00007.txt', 'Folder 0003/Level 1/file-00024.txt', 'Big/entry-009999.dat'];
    for (const f of files) {
      const r = await runBuffer('cat', [h.at(f)]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.equals(await h.admin.content(f)), `bytes of ${f}`).toBe(true);
    }
    // One cat over several files, as a pipeline would.
    const joined = await runBuffer('cat', files.map((f) => h.at(f)));
    expect(joined.stdout.equals(Buffer.concat(await Promise.all(files.map((f) => h.admin.content(f)))))).toBe(true);
  });

  it('`stat` shows the server\'s modification times, and `cp -p` and `touch -d` set them there', async () => {
    const serverTime = async (f: string) => ((await h.admin.item(f)).fileSystemInfo as { lastModifiedDateTime: string }).lastModifiedDateTime;
    const f = 'Folder 0003/Level 1/file-00024.txt';
    const before = await stat(h.at(f));
    expect(before.mtimeMs).toBe(Date.parse(await serverTime(f)));
    expect(before.atimeMs).toBe(before.mtimeMs);
    // cp -p sets both times at once, each its own (the stock fuse-native handed over the access
    // time for both).
    const local = await scratchFile(h, 'kept-time.txt');
    await writeFile(local, 'times kept\n');
    await runOk('touch', ['-a', '-d', '2021-01-02T03:04:05Z', local]);
    await runOk('touch', ['-m', '-d', '2020-01-02T03:04:05Z', local]);
    await runOk('cp', ['-p', local, h.at('kept-time.txt')]);
    expect((await stat(h.at('kept-time.txt'))).mtimeMs).toBe(Date.parse('2020-01-02T03:04:05Z'));
    await eventually('the copy\'s time on the server', async () => ((await serverItem('kept-time.txt')) && (await serverTime('kept-time.txt')) === '2020-01-02T03:04:05Z' ? true : undefined));
    // Gone again: the corrupt-database case below counts the cache files of files made here.
    await runOk('rm', [h.at('kept-time.txt')]);
    await eventually('the copy deleted on the server', async () => ((await serverItem('kept-time.txt')) === undefined ? true : undefined));
    // A file already on the server: its new time is sent at once.
    await runOk('touch', ['-d', '2019-05-06T07:08:09Z', h.at(f)]);
    expect((await stat(h.at(f))).mtimeMs).toBe(Date.parse('2019-05-06T07:08:09Z'));
    expect(await serverTime(f)).toBe('2019-05-06T07:08:09Z');
  });

  it('`dd skip=` of an uncached 1 GiB file fetches only the ranges around that offset', async () => {
    const from = await logPosition(h.admin);
    const r = await runBuffer('dd', [`if=${h.at('Ranged/large.bin')}`, 'bs=1M', 'skip=500', 'count=2', 'status=none'], { timeoutMs: 60_000 });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.length).toBe(2 * MiB);
    const ranges = rangesOf(await settledLog(h, 'storage', from), LARGE);
    expect(ranges.length).toBeGreaterThan(0);
    // Chunks are 1 MiB-aligned; read-ahead only goes forward; nothing near the start of the file.
    for (const range of ranges) expect(range.start, `range ${range.start}-${range.end}`).toBeGreaterThanOrEqual(499 * MiB);
    const fetched = total(ranges);
    console.log(`dd of 2 MiB at 500 MiB: ${ranges.length} range requests, ${(fetched / MiB).toFixed(2)} MiB fetched`);
    expect(fetched).toBeGreaterThanOrEqual(2 * MiB);
    expect(fetched).toBeLessThan(64 * MiB);
    const { merged } = union(ranges);
    expect(merged.some((m) => m.start <= 500 * MiB && m.end >= 502 * MiB)).toBe(true);
    expect(r.stdout.equals(await serverRange('Ranged/large.bin', { start: 500 * MiB, end: 502 * MiB }))).toBe(true);
  });

  it('two concurrent readers of one uncached file cause one download of each range', async () => {
    const file = h.at('Shared/large.bin');
    const from = await logPosition(h.admin);
    const [a, b] = await Promise.all([runBuffer('cat', [file], { timeoutMs: 60_000 }), runBuffer('dd', [`if=${file}`, 'bs=64k', 'status=none'], { timeoutMs: 60_000 })]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const hash = await serverHash('Shared/large.bin');
    expect(quickXorHash(a.stdout)).toBe(hash);
    expect(quickXorHash(b.stdout)).toBe(hash);
    const ranges = rangesOf(await settledLog(h, 'storage', from), SHARED_SIZE);
    const { merged, overlaps } = union(ranges);
    expect(overlaps, 'byte ranges fetched more than once').toEqual([]);
    expect(merged).toEqual([{ start: 0, end: SHARED_SIZE }]);
    expect(total(ranges)).toBe(SHARED_SIZE);
  });

  it('`cp` of a 1 GiB file out of the mount has the server quickXorHash', async () => {
    const out = await scratchFile(h, 'large.bin');
    const started = Date.now();
    await runOk('cp', [h.at('Large/large.bin'), out], { timeoutMs: 180_000 });
    const copyMs = Date.now() - started;
    expect((await stat(out)).size).toBe(LARGE);
    expect(await quickXorHashFile(out)).toBe(await serverHash('Large/large.bin'));
    console.log(`cp of 1 GiB out of the mount: ${copyMs} ms`);
    // A second read of the now complete file is served from the cache: no storage request at all.
    const from = await logPosition(h.admin);
    const again = await runBuffer('dd', [`if=${h.at('Large/large.bin')}`, 'bs=1M', 'skip=700', 'count=4', 'status=none']);
    expect(again.code, again.stderr).toBe(0);
    expect((await h.admin.log({ listener: 'storage', since: from })).entries).toEqual([]);
    const contentCalls = (await h.admin.log({ listener: 'api', since: from })).entries.filter((e) => /\/content|\/items\//.test(e.path));
    expect(contentCalls).toEqual([]);
  }, 240_000);

  it('the status xattr goes cloud-only → partial → cached', async () => {
    const file = h.at('Status/large.bin');
    expect(await statusXattr(file)).toBe('cloud-only');
    const r = await runBuffer('dd', [`if=${file}`, 'bs=4k', 'skip=1000', 'count=1', 'status=none']);
    expect(r.code, r.stderr).toBe(0);
    // While its chunk is still landing the file is "syncing"; once idle, a part of it is local.
    await eventually('the partial state', async () => ((await statusXattr(file)) === 'partial' ? true : undefined));
    const all = await runBuffer('cat', [file], { timeoutMs: 60_000 });
    expect(quickXorHash(all.stdout)).toBe(await serverHash('Status/large.bin'));
    await eventually('the cached state', async () => ((await statusXattr(file)) === 'cached' ? true : undefined));
    expect(await statusXattr(h.at('Status'))).toBe('cached');
  });

  it('mkdir, rename (same folder, across folders, over a file), unlink and rmdir reach the server', async () => {
    await runOk('mkdir', [h.at('Ops/new')]);
    expect((await serverItem('Ops/new'))?.folder).toBeDefined();

    await runOk('mv', [h.at('Ops/new'), h.at('Ops/renamed')]);
    expect(await serverItem('Ops/new')).toBeUndefined();
    expect((await serverItem('Ops/renamed'))?.folder).toBeDefined();

    const moving = await h.admin.item('Ops/Folder 0000/file-00000.txt');
    await runOk('mv', [h.at('Ops/Folder 0000/file-00000.txt'), h.at('Ops/Folder 0001/moved.txt')]);
    expect(await serverItem('Ops/Folder 0000/file-00000.txt')).toBeUndefined();
    expect((await h.admin.item('Ops/Folder 0001/moved.txt')).id).toBe(moving.id);

    const replacing = await h.admin.item('Ops/Folder 0001/file-00000.txt');
    await runOk('mv', [h.at('Ops/Folder 0001/file-00000.txt'), h.at('Ops/Folder 0001/file-00001.txt')]);
    expect(await serverItem('Ops/Folder 0001/file-00000.txt')).toBeUndefined();
    const replaced = await h.admin.item('Ops/Folder 0001/file-00001.txt');
    expect(replaced.id).toBe(replacing.id);
    expect(replaced.size).toBe(replacing.size);

    // A folder moved into another folder keeps its identity too.
    await runOk('mv', [h.at('Ops/renamed'), h.at('Ops/Folder 0001/renamed')]);
    expect((await serverItem('Ops/Folder 0001/renamed'))?.folder).toBeDefined();

    await runOk('rm', [h.at('Ops/Folder 0001/file-00002.txt')]);
    expect(await serverItem('Ops/Folder 0001/file-00002.txt')).toBeUndefined();

    const notEmpty = await run('rmdir', [h.at('Ops/Folder 0000')]);
    expect(notEmpty.code).not.toBe(0);
    expect(notEmpty.stderr).toMatch(/Directory not empty/);
    expect(await errnoOf(rmdir(h.at('Ops/Folder 0000')))).toBe('ENOTEMPTY');
    expect(await serverItem('Ops/Folder 0000')).toBeDefined();

    await runOk('rmdir', [h.at('Ops/Folder 0001/renamed')]);
    expect(await serverItem('Ops/Folder 0001/renamed')).toBeUndefined();

    // The mount shows the result at once (the engine's own changes, not a later poll).
    expect((await readdir(h.at('Ops/Folder 0001'))).sort()).toEqual(['file-00001.txt', 'moved.txt']);
    expect((await readdir(h.at('Ops/Folder 0000'))).sort()).toEqual(['file-00001.txt', 'file-00002.txt']);
  });

  it('a change made on another device appears after a poll', async () => {
    await h.admin.remote({ op: 'mkdir', path: 'Remote' });
    await h.admin.remote({ op: 'write', path: 'Remote/hello.txt', content: 'hello from another device\n' });
    const first = await eventually('the new file', async () => {
      const text = await readFile(h.at('Remote/hello.txt'), 'utf8').catch(() => undefined);
      return text === 'hello from another device\n' ? text : undefined;
    });
    expect(first).toBe('hello from another device\n');

    // A changed file: the cached copy of the old version is not served any more.
    await h.admin.remote({ op: 'write', path: 'Remote/hello.txt', content: 'changed elsewhere, and longer than before\n' });
    await eventually('the changed content', async () =>
      (await runBuffer('cat', [h.at('Remote/hello.txt')])).stdout.toString() === 'changed elsewhere, and longer than before\n' ? true : undefined,
    );

    await h.admin.remote({ op: 'move', path: 'Remote/hello.txt', newPath: 'Remote/moved.txt' });
    await eventually('the move', async () => {
      const names = await readdir(h.at('Remote'));
      return names.length === 1 && names[0] === 'moved.txt' ? true : undefined;
    });

    await h.admin.remote({ op: 'delete', path: 'Remote' });
    await eventually('the deletion', async () => ((await errnoOf(stat(h.at('Remote')))) === 'ENOENT' ? true : undefined));
  });

  it('refuses bad names before sending anything', async () => {
    const deep = 'd'.repeat(200);
    await mkdir(h.at(deep));
    await runOk('mkdir', [h.at('foo')]);
    const from = await logPosition(h.admin);

    expect(await errnoOf(mkdir(h.at('a:b')))).toBe('EINVAL');
    expect(await errnoOf(mkdir(h.at('CON')))).toBe('EINVAL');
    expect(await errnoOf(mkdir(h.at('trailing.')))).toBe('EINVAL');
    expect(await errnoOf(mkdir(h.at('trailing ')))).toBe('EINVAL');
    expect(await errnoOf(mkdir(h.at('n'.repeat(256))))).toBe('ENAMETOOLONG');
    // Each component is fine, the drive path (over 400 characters) is not.
    expect(await errnoOf(mkdir(h.at(deep, 'e'.repeat(210))))).toBe('ENAMETOOLONG');
    expect(await errnoOf(rename(h.at('foo'), h.at('bad|name')))).toBe('EINVAL');
    // OneDrive names are case-insensitive.
    expect(await errnoOf(mkdir(h.at('Foo')))).toBe('EEXIST');
    expect(await errnoOf(mkdir(h.at('FOO')))).toBe('EEXIST');
    const shell = await run('mkdir', [h.at('x:y')]);
    expect(shell.stderr).toMatch(/Invalid argument/);

    const sent = (await h.admin.log({ listener: 'api', since: from })).entries.filter((e) => e.method !== 'GET');
    expect(sent).toEqual([]);
    expect(await serverItem('a:b')).toBeUndefined();
    expect(await serverItem('foo')).toBeDefined();
  });

  it('`onemount status --json` reports the mount point and the item count', async () => {
    // Every item the mount shows, and the root.
    const expected = (await findTree(h.mountpoint)).size + 1;
    const status = await eventually('the status with every item', async () => {
      const r = await h.onemount(['status', '--json', '--account', ACCOUNT]);
      if (r.code !== 0) throw new Error(r.stderr);
      const s = JSON.parse(r.stdout) as { mountpoint: string; items: number; account: string; pid: number };
      return s.items === expected ? s : undefined;
    });
    expect(status.mountpoint).toBe(h.mountpoint);
    expect(status.account).toBe(ACCOUNT);
    expect(status.pid).toBe(h.engine!.pid);
  });

  it('offline: cached files read, uncached reads fail with an errno instead of hanging, and online works again', async () => {
    const cached = 'Offline/Folder 0000/file-00000.txt';
    const uncached = 'Offline/Folder 0000/file-00001.txt';
    const cachedBytes = await h.admin.content(cached);
    const uncachedBytes = await h.admin.content(uncached);
    expect((await readFile(h.at(cached))).equals(cachedBytes)).toBe(true);
    await h.admin.setOffline(true);
    try {
      expect((await readFile(h.at(cached))).equals(cachedBytes)).toBe(true);
      // One read through the fs API and one through a program, at once; each must end on its own
      // with an errno (the hang guard would kill cat).
      const started = Date.now();
      // The bound is a hang guard: each engine read gives up within the read timeout (10 s), and
      // the kernel retries a failed read once.
      const [errno, cat] = await Promise.all([errnoOf(within(45_000, readFile(h.at(uncached)))), runBuffer('cat', [h.at(uncached)], { timeoutMs: 45_000 })]);
      console.log(`an uncached read while offline failed with ${errno} after ${Date.now() - started} ms`);
      expect(['EIO', 'ENETDOWN', 'ETIMEDOUT']).toContain(errno);
      expect(cat.code).not.toBe(0);
      expect(cat.stderr).toMatch(/Input\/output error|Network is down|Connection timed out/);
      // Metadata still answers from the store.
      expect((await readdir(h.at('Offline/Folder 0000'))).length).toBe(3);
    } finally {
      await h.admin.setOffline(false);
    }
    const back = await eventually('a read after reconnecting', async () => readFile(h.at(uncached)), 30_000, 500);
    expect(back.equals(uncachedBytes)).toBe(true);
  }, 120_000);

  it('a restart mounts from the store and resumes delta from the saved link', async () => {
    const stopped = await h.stopEngine();
    expect(stopped.code).toBe(0);
    expect(h.engine!.stdout).toMatch(/Unmounted /);
    expect(await isMounted(h.mountpoint)).toBe(false);

    await h.admin.remote({ op: 'write', path: 'written-while-stopped.txt', content: 'made while the engine was stopped\n' });
    const from = await logPosition(h.admin);
    await h.startEngine();
    const text = await eventually('the change made while stopped', async () => readFile(h.at('written-while-stopped.txt'), 'utf8'));
    expect(text).toBe('made while the engine was stopped\n');
    const deltaCalls = (await h.admin.log({ listener: 'api', since: from, path: 'delta' })).entries;
    expect(deltaCalls.length).toBeGreaterThan(0);
    // Every delta call carries the saved token: the drive was not enumerated again.
    for (const call of deltaCalls) expect(call.path, 'a delta call without the saved token is a full enumeration').toMatch(/token=/);
  }, 90_000);

  it('after kill -9 the stale mount is cleared and the engine mounts again', async () => {
    await h.engine!.kill();
    // A killed FUSE server leaves "Transport endpoint is not connected" behind.
    expect(await errnoOf(stat(h.mountpoint))).toBe('ENOTCONN');
    const engine = await h.startEngine();
    expect(engine.mountedItems).toBe((await serverTree(h.emulator.info.apiUrl)).size + 1);
    const f = 'Folder 0001/Level 1/file-00002.txt';
    expect((await runBuffer('cat', [h.at(f)])).stdout.equals(await h.admin.content(f))).toBe(true);
  }, 90_000);

  it('a corrupt database is moved aside and rebuilt from the server', async () => {
    await h.stopEngine();
    await writeFile(h.storeFile, randomBytes(64 * 1024));
    const engine = await h.startEngine();
    const server = comparable(await serverTree(h.emulator.info.apiUrl));
    expect(engine.mountedItems).toBe(server.size + 1);
    expect(await findTree(h.mountpoint)).toEqual(server);
    // The damaged file (with its -wal and -shm, when there were any) was moved aside, not deleted.
    const aside = (await readdir(h.stateDir)).filter((n) => /^onemount\.sqlite\.corrupt-[\dTZ-]+$/.test(n) && !/-(wal|shm)$/.test(n));
    expect(aside.length).toBe(1);
    expect(await h.engineLog()).toMatch(/moved aside/);
    // Content reads work on the rebuilt store.
    const f = 'Folder 0002/Level 1/file-00003.txt';
    expect((await runBuffer('cat', [h.at(f)])).stdout.equals(await h.admin.content(f))).toBe(true);
  }, 90_000);
});
