/** Which programs count as indexers, how /proc names them, and what the guard counts. */
import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../base/logger.ts';
import { IndexerProgramSchema, SettingsUpdateSchema } from '../../src-shared/ipc/desktop-calls.ts';
import { DEFAULT_INDEXER_PROGRAMS, IndexerGuard, identifyProcess, matchProgram, needsArguments, type ProcessIdentity } from './indexer-guard.ts';

const proc = (comm: string, exe: string | undefined, argv: string[] = []): ProcessIdentity => ({ pid: 42, comm, ...(exe ? { exe } : {}), argv });

describe('matchProgram (the default list)', () => {
  const match = (p: ProcessIdentity) => matchProgram(DEFAULT_INDEXER_PROGRAMS, p);

  it('names longer than the kernel keeps: the 15-character comm, or the program file', () => {
    // /proc/pid/comm of tracker-miner-fs-3 is "tracker-miner-f".
    expect(match(proc('tracker-miner-f', undefined))).toBe('tracker-miner-fs-3');
    expect(match(proc('tracker-miner-f', '/usr/libexec/tracker-miner-fs-3'))).toBe('tracker-miner-fs-3');
    expect(match(proc('baloo_file_extr', '/usr/lib/x86_64-linux-gnu/libexec/baloo_file_extractor'))).toBe('baloo_file_extractor');
    expect(match(proc('renamed', '/usr/bin/totem-video-thumbnailer'))).toBe('totem-video-thumbnailer');
    expect(match(proc('ffmpegthumbnail', '/usr/bin/ffmpegthumbnailer'))).toBe('ffmpegthumbnailer');
    expect(match(proc('updatedb.plocat', '/usr/sbin/updatedb.plocate'))).toBe('updatedb.plocate');
  });

  it("a program file replaced by an upgrade ('… (deleted)') still matches", () => {
    expect(match(proc('x', '/usr/libexec/tracker-extract-3 (deleted)'))).toBe('tracker-extract-3');
  });

  it("KDE's worker process is an indexer only when it runs the thumbnail plugin", () => {
    const worker = '/usr/lib/x86_64-linux-gnu/libexec/kf6/kioworker';
    expect(match(proc('kioworker', worker, [worker, '/usr/lib/x86_64-linux-gnu/qt6/plugins/kf6/kio/thumbnail.so', 'thumbnail', 'local:/run/user/1000/x']))).toBe('kioworker/thumbnail');
    expect(match(proc('kioworker', worker, [worker, '/usr/lib/x86_64-linux-gnu/qt6/plugins/kf6/kio/kio_file.so', 'file', 'local:/run/user/1000/y']))).toBeUndefined();
  });

  it("a person's programs are not indexers", () => {
    for (const [comm, exe] of [
      ['cat', '/usr/bin/cat'],
      ['nautilus', '/usr/bin/nautilus'],
      ['dolphin', '/usr/bin/dolphin'],
      ['totem', '/usr/bin/totem'],
      ['evince', '/usr/bin/evince'],
      ['node', '/usr/bin/node'],
      ['tracker', undefined],
    ] as const) {
      expect(match(proc(comm, exe)), comm).toBeUndefined();
    }
  });
});

describe('matchProgram (rules a person writes)', () => {
  it('globs match the program file or the process name', () => {
    expect(matchProgram(['*-thumbnailer'], proc('gdk-pixbuf-thum', '/usr/bin/gdk-pixbuf-thumbnailer'))).toBe('*-thumbnailer');
    expect(matchProgram(['*-thumbnailer'], proc('my-thumbnailer', undefined))).toBe('*-thumbnailer');
    expect(matchProgram(['*-thumbnailer'], proc('thumbnailer-x', '/usr/bin/thumbnailer-x'))).toBeUndefined();
    // Characters special in a regular expression are literal.
    expect(matchProgram(['updatedb.*'], proc('updatedbXplocat', '/usr/bin/updatedbXplocate'))).toBeUndefined();
    expect(matchProgram(['updatedb.*'], proc('updatedb.mlocat', '/usr/bin/updatedb.mlocate'))).toBe('updatedb.*');
  });

  it('the first matching rule is reported; rules that are not rules match nothing', () => {
    expect(matchProgram(['', ' cat', 'a/b/c', 'cat', '*'], proc('cat', '/usr/bin/cat'))).toBe('cat');
    expect(matchProgram(['', ' cat', 'a/b/c'], proc('cat', '/usr/bin/cat'))).toBeUndefined();
  });
});

describe('the settings schema of the list', () => {
  it('accepts names, name/argument and globs; refuses empty, padded and two-slash entries', () => {
    for (const ok of DEFAULT_INDEXER_PROGRAMS) expect(IndexerProgramSchema.safeParse(ok).success, ok).toBe(true);
    for (const bad of ['', ' tracker', 'tracker ', 'a/b/c', '/x', 'x/', 'a\0b', 'x'.repeat(256)]) expect(IndexerProgramSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    expect(SettingsUpdateSchema.parse({ refuseIndexers: false, indexerPrograms: ['cat'] })).toEqual({ refuseIndexers: false, indexerPrograms: ['cat'] });
    expect(SettingsUpdateSchema.safeParse({ indexerPrograms: Array.from({ length: 201 }, (_, i) => `p${i}`) }).success).toBe(false);
  });
});

describe('identifyProcess', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'onemount-proc-'));
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  const fakeProcess = async (pid: number, files: { status: string; comm?: string; exe?: string; cmdline?: string }) => {
    const dir = path.join(root, String(pid));
    await mkdir(dir, { recursive: true });
    await writeFile(path.join(dir, 'status'), files.status);
    if (files.comm !== undefined) await writeFile(path.join(dir, 'comm'), files.comm);
    if (files.exe !== undefined) await symlink(files.exe, path.join(dir, 'exe'));
    if (files.cmdline !== undefined) await writeFile(path.join(dir, 'cmdline'), files.cmdline);
  };

  it("a thread's request is its process's: comm, exe and arguments of the thread group", async () => {
    await fakeProcess(100, { status: 'Name:\tkioworker\nTgid:\t100\nPid:\t100\n', comm: 'kioworker\n', exe: '/usr/libexec/kf6/kioworker', cmdline: 'kioworker\0/p/thumbnail.so\0thumbnail\0' });
    // As in the real /proc, a thread's entry shows its process's program file and arguments.
    await fakeProcess(101, { status: 'Name:\tpool-worker\nTgid:\t100\nPid:\t101\n', comm: 'pool-worker\n', exe: '/usr/libexec/kf6/kioworker', cmdline: 'kioworker\0/p/thumbnail.so\0thumbnail\0' });
    expect(await identifyProcess(101, root)).toEqual({ pid: 100, comm: 'kioworker', exe: '/usr/libexec/kf6/kioworker', argv: ['kioworker', '/p/thumbnail.so', 'thumbnail'] });
  });

  it('an exited process is unknown; unreadable fields are left out', async () => {
    expect(await identifyProcess(999_999, root)).toBeUndefined();
    await fakeProcess(200, { status: 'Name:\tbaloo_file\nTgid:\t200\n' });
    expect(await identifyProcess(200, root)).toEqual({ pid: 200, comm: 'baloo_file', argv: [] });
  });

  it('on the real /proc: a copy of sleep named like an indexer, and a thread of this process', { timeout: 20_000 }, async () => {
    const exe = path.join(root, 'tracker-extract-3');
    await copyFile('/bin/sleep', exe);
    const child = spawn(exe, ['30'], { stdio: 'ignore' });
    try {
      await new Promise<void>((resolve, reject) => child.once('spawn', resolve).once('error', reject));
      // Between fork and exec the child is still called node: wait for the exec to show.
      let id: ProcessIdentity | undefined;
      for (let i = 0; i < 200 && id?.exe !== exe; i++) {
        id = await identifyProcess(child.pid!);
        if (id?.exe !== exe) await new Promise((r) => setTimeout(r, 10));
      }
      expect(id).toEqual({ pid: child.pid, comm: 'tracker-extract', exe, argv: [exe, '30'] });
      expect(matchProgram(DEFAULT_INDEXER_PROGRAMS, id!)).toBe('tracker-extract-3');
    } finally {
      child.kill();
    }
    const tids = (await readdir(`/proc/${process.pid}/task`)).map(Number).filter((t) => t !== process.pid);
    expect(tids.length).toBeGreaterThan(0);
    const self = await identifyProcess(tids[0]!);
    expect(self?.pid).toBe(process.pid);
    expect(self?.exe).toBe(process.execPath);
  });
});

describe('IndexerGuard', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'onemount-proc-'));
    for (const [pid, comm, cmdline] of [
      [10, 'tracker-extract', undefined],
      [11, 'cat', undefined],
      [12, 'baloo_file', undefined],
      [13, 'kioworker', 'kioworker\0/p/thumbnail.so\0thumbnail\0'],
      [14, 'kioworker', 'kioworker\0/p/file.so\0file\0'],
    ] as const) {
      await mkdir(path.join(root, String(pid)));
      await writeFile(path.join(root, String(pid), 'status'), `Name:\t${comm}\nTgid:\t${pid}\n`);
      await writeFile(path.join(root, String(pid), 'comm'), `${comm}\n`);
      if (cmdline !== undefined) await writeFile(path.join(root, String(pid), 'cmdline'), cmdline);
    }
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('refuses listed programs, counts them by rule, logs the first of each once', async () => {
    const mem = createMemoryLogger();
    let told = 0;
    const guard = new IndexerGuard({ refuse: true, programs: DEFAULT_INDEXER_PROGRAMS, logger: mem.logger, procRoot: root, onRefused: () => told++ });
    guard.setCallerKnown(true);
    expect(await guard.refuses(10, '/a.mp4')).toBe(true);
    expect(await guard.refuses(10, '/b.mp4')).toBe(true);
    expect(await guard.refuses(12, '/c.pdf')).toBe(true);
    expect(await guard.refuses(11, '/a.mp4')).toBe(false);
    expect(await guard.refuses(0, '/a.mp4')).toBe(false);
    expect(await guard.refuses(424_242, '/a.mp4')).toBe(false);
    expect(guard.snapshot()).toEqual({ refuse: true, callerKnown: true, refused: 3, byProgram: { 'tracker-extract-3': 2, baloo_file: 1 } });
    expect(told).toBe(3);
    const infos = mem.records().filter((r) => r['level'] === 30);
    expect(infos.map((r) => r['program'])).toEqual(['tracker-extract-3', 'baloo_file']);
    expect(String(infos[0]!['msg'])).toContain('/a.mp4');
  });

  it('reads the arguments only of a program that a rule with an argument names', async () => {
    const guard = new IndexerGuard({ refuse: true, programs: DEFAULT_INDEXER_PROGRAMS, logger: createMemoryLogger().logger, procRoot: root });
    guard.setCallerKnown(true);
    expect(await guard.refuses(13, '/a.jpg')).toBe(true);
    expect(await guard.refuses(14, '/a.jpg')).toBe(false);
    const kio = (await identifyProcess(14, root, { argv: false }))!;
    expect(kio.argv).toEqual([]);
    expect(needsArguments(DEFAULT_INDEXER_PROGRAMS, kio)).toBe(true);
    expect(needsArguments(DEFAULT_INDEXER_PROGRAMS, (await identifyProcess(11, root, { argv: false }))!)).toBe(false);
  });

  it('settings apply to the next open: off refuses nothing, a new list is the list', async () => {
    const guard = new IndexerGuard({ refuse: true, programs: ['baloo_file'], logger: createMemoryLogger().logger, procRoot: root });
    expect(await guard.refuses(10, '/x')).toBe(false);
    guard.update({ programs: ['tracker-extract-3', 'cat'] });
    expect(await guard.refuses(10, '/x')).toBe(true);
    expect(await guard.refuses(11, '/x')).toBe(true);
    guard.update({ refuse: false });
    expect(guard.active).toBe(false);
    expect(await guard.refuses(10, '/x')).toBe(false);
    expect(guard.settings).toEqual({ refuse: false, programs: ['tracker-extract-3', 'cat'] });
    expect(guard.snapshot().refused).toBe(2);
    guard.update({ refuse: true, programs: [] });
    expect(guard.active).toBe(false);
  });
});
