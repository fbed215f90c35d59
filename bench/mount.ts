/**
 * Issue 3's numbers, as ratios against baselines measured in the same run: warm `ls -l` of a
 * 10 000-entry folder (vs tmpfs and vs a bare fuse-native filesystem answering from memory), the
 * cold listing and its Graph requests, time to first byte of an uncached 1 GiB file vs its full
 * download, cached sequential read vs a bare fuse-native passthrough, and engine RSS with a
 * 100 000-item drive.
 *
 * Every party runs in its own process: the emulator, the engine (`onemount mount`), the bare FUSE
 * filesystem (bench/bare-fuse.ts) and the programs that touch the mounts (ls, dd, cat). This process
 * only spawns, times and reads request logs; it never touches a mount with a sync fs call.
 *
 * Environment: BENCH_LARGE_FILE (bytes, default 1 GiB), BENCH_ITEMS (default 100 000),
 * BENCH_BIG_FOLDER (default 10 000), BENCH_LS_RUNS (default 7), BENCH_READ_RUNS (default 3),
 * BENCH_CPU_PROF=<dir> (the engines run with `--cpu-prof` into that folder).
 */
import { mkdir, mkdtemp, open, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EmulatorProcess } from '../emulator/src/spawn.ts';
import type { LogEntry } from '../emulator/src/request-log.ts';
import { SocketClient } from '../src-main/ipc/socket-client.ts';
import { accountPaths } from '../src-main/app/paths.ts';
import type { BareFuseManifest } from './bare-fuse.ts';
import { MountedChild, runProgram, type ProgramResult } from './mount-processes.ts';
import { collectGarbage } from './inspector-gc.ts';
import { envNumber, fmt, median, GiB, mbps, MiB, printTable, timed, type Row } from './lib.ts';
import { Cleanup, withBenchRoot } from './bench-root.ts';
import { statusMiB } from './rss-sampler.ts';

const AUTH = { authorization: 'Bearer bench' };
/** The engine's default `--kernel-cache`; the bare filesystem uses the same attr/entry timeouts. */
const KERNEL_CACHE_SEC = 10;
const SETTLE_TIMEOUT_MS = 10 * 60_000;

/** Request-log bookkeeping: what the emulator saw between two points. */
export class RequestWindow {
  constructor(
    private readonly emu: EmulatorProcess,
    private since: number,
  ) {}

  static async open(emu: EmulatorProcess): Promise<RequestWindow> {
    return new RequestWindow(emu, (await emu.admin.log({ since: Number.MAX_SAFE_INTEGER })).lastSeq);
  }

  /** Entries since the window opened (or was last taken); moves the window on. */
  async take(): Promise<LogEntry[]> {
    const { entries, lastSeq } = await this.emu.admin.log({ since: this.since });
    this.since = lastSeq;
    return entries;
  }
}

export const apiEntries = (es: LogEntry[]) => es.filter((e) => e.listener === 'api');
export const storageBytes = (es: LogEntry[]) => es.filter((e) => e.listener === 'storage').reduce((n, e) => n + e.bytesOut, 0);

/** "2× GET /me/drive/root/delta, 1× GET /me/drive" */
export function describeRequests(es: LogEntry[]): string {
  const counts = new Map<string, number>();
  for (const e of es) {
    const route = e.path
      .split('?')[0]!
      .replace(/\/items\/[^/]+/g, '/items/{id}')
      .replace(/\/v1\.0/, '');
    const key = `${e.method} ${route}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n}× ${k}`).join(', ') || 'none';
}

/** All children of a folder through the Graph API (paged), for the tmpfs and bare-FUSE copies. */
export async function listFolder(api: string, folder: string): Promise<Array<{ name: string; size: number; mtimeMs: number }>> {
  const out: Array<{ name: string; size: number; mtimeMs: number }> = [];
  let url: string | undefined = `${api}/me/drive/root:/${encodeURIComponent(folder)}:/children?$top=1000`;
  while (url) {
    const res = await fetch(url, { headers: AUTH });
    if (!res.ok) throw new Error(`listing ${folder}: ${res.status} ${await res.text()}`);
    const page = (await res.json()) as { value: Array<{ name: string; size: number; lastModifiedDateTime: string }>; '@odata.nextLink'?: string };
    for (const v of page.value) out.push({ name: v.name, size: v.size, mtimeMs: Date.parse(v.lastModifiedDateTime) });
    url = page['@odata.nextLink'];
  }
  return out;
}

/** Downloads a file straight from the emulator (302 → storage), discarding the bytes: the raw speed. */
async function rawDownload(api: string, itemPath: string): Promise<number> {
  const r = await fetch(`${api}/me/drive/root:/${itemPath}:/content`, { headers: AUTH, redirect: 'manual' });
  const location = r.headers.get('location');
  if (r.status !== 302 || !location) throw new Error(`download of ${itemPath}: expected a redirect, got ${r.status}`);
  const body = await fetch(location);
  let n = 0;
  for await (const chunk of body.body as unknown as AsyncIterable<Uint8Array>) n += chunk.length;
  return n;
}

/** A local file of `size` bytes with varied content, written in 8 MiB chunks. */
async function writeLocalFile(file: string, size: number): Promise<void> {
  const chunk = Buffer.alloc(8 * MiB);
  for (let i = 0; i < chunk.length; i += 4) chunk.writeUInt32LE((i * 2654435761) >>> 0, i);
  const fh = await open(file, 'w', 0o600);
  try {
    for (let at = 0; at < size; at += chunk.length) {
      const n = Math.min(chunk.length, size - at);
      await fh.write(chunk, 0, n, at);
    }
  } finally {
    await fh.close();
  }
}

/** Waits until the engine reports no running or queued transfer (content complete and verified). */
export async function transfersSettled(socketPath: string): Promise<number> {
  const client = await SocketClient.connect(socketPath);
  try {
    const t0 = performance.now();
    for (;;) {
      const status = await client.call('status', {});
      if (status.transfers.length === 0) return performance.now() - t0;
      if (performance.now() - t0 > SETTLE_TIMEOUT_MS) throw new Error(`transfers still running after ${SETTLE_TIMEOUT_MS} ms: ${JSON.stringify(status.transfers)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    client.close();
  }
}

const vmRssMiB = (pid: number) => statusMiB(pid, 'VmRSS');

async function sampleRss(pid: number, samples: number, everyMs: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < samples; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, everyMs));
    out.push(await vmRssMiB(pid));
  }
  return out;
}

/** A tmpfs of our own (we are root); /dev/shm otherwise. */
async function makeTmpfs(dir: string, cleanup: Cleanup): Promise<string> {
  await mkdir(dir, { recursive: true });
  const mounted = await runProgram('mount', ['-t', 'tmpfs', '-o', 'size=256m,mode=0700', 'onemount-bench', dir], { allowFailure: true });
  if (mounted.code === 0) {
    cleanup.add(`umount tmpfs ${dir}`, async () => {
      await runProgram('umount', [dir]);
    });
    return dir;
  }
  const shm = await mkdtemp('/dev/shm/onemount-bench-');
  cleanup.add(`remove ${shm}`, () => rm(shm, { recursive: true, force: true }));
  return shm;
}

/** Runs `run` on every target once per round, for `rounds` rounds; the times per target. */
async function interleaved<K extends string>(targets: Record<K, string>, rounds: number, run: (target: string) => Promise<ProgramResult>): Promise<Record<K, number[]>> {
  const keys = Object.keys(targets) as K[];
  const out = Object.fromEntries(keys.map((k) => [k, [] as number[]])) as Record<K, number[]>;
  for (let i = 0; i < rounds; i++) for (const k of keys) out[k].push((await run(targets[k])).ms);
  return out;
}

const ddMBps = (r: ProgramResult, bytes: number) => mbps(bytes, r.ms) * (MiB / 1e6);

export async function run(): Promise<void> {
  const size = envNumber('BENCH_LARGE_FILE', GiB);
  const items = envNumber('BENCH_ITEMS', 100_000);
  const bigFolder = envNumber('BENCH_BIG_FOLDER', 10_000);
  const lsCount = envNumber('BENCH_LS_RUNS', 7);
  const readCount = envNumber('BENCH_READ_RUNS', 3);
  const cpuProfDir = process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : undefined;
  const engineNodeArgs = cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : [];

  await withBenchRoot('onemount-bench-mount-', async (root, cleanup) => {
    const xdg = (name: string): NodeJS.ProcessEnv => ({
      XDG_CONFIG_HOME: path.join(root, name, 'config'),
      XDG_STATE_HOME: path.join(root, name, 'state'),
      XDG_CACHE_HOME: path.join(root, name, 'cache'),
      XDG_RUNTIME_DIR: path.join(root, name, 'run'),
    });
    await measure(root, cleanup, xdg, { size, items, bigFolder, lsCount, readCount, engineNodeArgs, cpuProfDir });
  });
}

interface MountBenchConfig {
  size: number;
  items: number;
  bigFolder: number;
  lsCount: number;
  readCount: number;
  engineNodeArgs: string[];
  cpuProfDir: string | undefined;
}

async function measure(root: string, cleanup: Cleanup, xdg: (name: string) => NodeJS.ProcessEnv, cfg: MountBenchConfig): Promise<void> {
  const { size, items, bigFolder, lsCount, readCount, engineNodeArgs, cpuProfDir } = cfg;
  // ---- drive A: a 10 000-entry folder and two large files --------------------------------------
  const emu = await EmulatorProcess.start({ dataDir: path.join(root, 'emu-a') });
  cleanup.add('stop emulator A', () => emu.stop());
  const api = emu.info.apiUrl;
  await emu.admin.generate({ bigFolder, largeFile: size });
  await emu.admin.remote({ op: 'write', path: '/large-2.bin', size });
  const entries = await listFolder(api, 'Big');
  if (entries.length !== bigFolder) throw new Error(`Big/ holds ${entries.length} entries, expected ${bigFolder}`);

  // Baselines: tmpfs with the same names and sizes (sparse), and the bare FUSE filesystem.
  const tmpfs = await makeTmpfs(path.join(root, 'tmpfs'), cleanup);
  await mkdir(path.join(tmpfs, 'Big'));
  for (const e of entries) {
    const f = path.join(tmpfs, 'Big', e.name);
    await writeFile(f, '');
    await truncate(f, e.size);
    await utimes(f, e.mtimeMs / 1000, e.mtimeMs / 1000);
  }
  const localFile = path.join(root, 'local-large.bin');
  await writeLocalFile(localFile, size);
  // The bare filesystem twice: xattr calls unimplemented (the floor), and answered from memory.
  const bareMount = path.join(root, 'bare');
  const bareXattrMount = path.join(root, 'bare-xattr');
  const startBare = async (mountpoint: string, xattrs: boolean): Promise<void> => {
    const manifest: BareFuseManifest = {
      mountpoint,
      kernelCacheSec: KERNEL_CACHE_SEC,
      folder: { name: 'Big', entries },
      file: { name: 'large.bin', localPath: localFile, size },
      xattrs,
    };
    const manifestFile = `${mountpoint}.json`;
    await writeFile(manifestFile, JSON.stringify(manifest));
    const bare = await MountedChild.startBare(manifestFile, mountpoint);
    cleanup.add(`stop the bare FUSE filesystem at ${mountpoint}`, () => bare.stop());
  };
  await startBare(bareMount, false);
  await startBare(bareXattrMount, true);

  // First start of the engine: enumerates the drive through delta, then mounts.
  const mnt = path.join(root, 'mnt-a');
  const paths = accountPaths('bench-a', { ...process.env, ...xdg('a') });
  const log = await RequestWindow.open(emu);
  const engine = await MountedChild.startEngine({ mountpoint: mnt, apiUrl: api, account: 'bench-a', env: xdg('a'), kernelCacheSec: KERNEL_CACHE_SEC, nodeArgs: engineNodeArgs });
  cleanup.add('stop engine A', () => engine.stop());
  const firstStart = apiEntries(await log.take());

  // Cold listing: fresh engine state and a kernel that has never seen the folder.
  const coldLs = await runProgram('ls', ['-l', '--color=never', path.join(mnt, 'Big')]);
  const coldEntries = await log.take();
  const coldApi = apiEntries(coldEntries);

  // Warm listings, interleaved round by round so background load hits every contender alike. Each
  // measured listing follows an unmeasured one of the same folder, so the kernel's attribute and
  // entry cache (KERNEL_CACHE_SEC) is fresh however long the other contenders took.
  const listers = { mount: path.join(mnt, 'Big'), bare: path.join(bareMount, 'Big'), bareXattr: path.join(bareXattrMount, 'Big'), tmpfs: path.join(tmpfs, 'Big') };
  const coldBareLs = await runProgram('ls', ['-l', '--color=never', listers.bare]);
  const ls = await interleaved(listers, lsCount, async (dir) => {
    await runProgram('ls', ['-l', '--color=never', dir]);
    return runProgram('ls', ['-l', '--color=never', dir]);
  });
  const warmApi = apiEntries(await log.take());
  const mountLs = ls.mount;
  const bareLs = ls.bare;
  const bareXattrLs = ls.bareXattr;
  const tmpfsLs = ls.tmpfs;

  // Time to first byte of an uncached file, then the full download of another one of the same size.
  await writeFile(path.join(tmpfs, 'small.bin'), Buffer.alloc(4096));
  const ddLocal: number[] = [];
  for (let i = 0; i < 3; i++) ddLocal.push((await runProgram('dd', [`if=${path.join(tmpfs, 'small.bin')}`, 'of=/dev/null', 'bs=4k', 'count=1'])).ms);
  const ddOverhead = median(ddLocal);
  const ttfb = await runProgram('dd', [`if=${path.join(mnt, 'large.bin')}`, 'of=/dev/null', 'bs=4k', 'count=1']);
  await new Promise((r) => setTimeout(r, 2000));
  const afterFirstByte = await log.take();
  const settleAfterTtfb = await transfersSettled(paths.socketPath);
  const hydrationAfterTtfb = storageBytes(await log.take());

  const raw = await timed(() => rawDownload(api, 'large-2.bin'));
  await log.take();
  const fullDownload = await runProgram('cat', [path.join(mnt, 'large-2.bin')]);
  const settleAfterFull = await transfersSettled(paths.socketPath);
  const fullEntries = await log.take();

  // Cached sequential reads: the second and later reads of the completed file, vs the passthrough.
  const cats = await interleaved({ mount: path.join(mnt, 'large-2.bin'), bare: path.join(bareMount, 'large.bin') }, readCount, (file) => runProgram('cat', [file]));
  const mountCat = cats.mount;
  const bareCat = cats.bare;
  const mountDd = await runProgram('dd', [`if=${path.join(mnt, 'large-2.bin')}`, 'of=/dev/null', 'bs=1M']);
  const bareDd = await runProgram('dd', [`if=${path.join(bareMount, 'large.bin')}`, 'of=/dev/null', 'bs=1M']);
  const cachedEntries = await log.take();
  const rssA = median(await sampleRss(engine.pid, 3, 500));

  await cleanup.run();

  // ---- drive B: 100 000 items, first start then idle --------------------------------------------
  const emuB = await EmulatorProcess.start({ dataDir: path.join(root, 'emu-b') });
  cleanup.add('stop emulator B', () => emuB.stop());
  await emuB.admin.generate({ under: 'many', folders: 100, filesPerFolder: Math.max(1, Math.round(items / 100) - 1), fileSize: 100 });
  const infoB = await emuB.admin.info();
  const logB = await RequestWindow.open(emuB);
  // With the inspector listening (idle, no client until the samples are taken), so a forced full GC
  // afterwards can tell live data from garbage the idle engine has not collected.
  const engineB = await MountedChild.startEngine({
    mountpoint: path.join(root, 'mnt-b'),
    apiUrl: emuB.info.apiUrl,
    account: 'bench-b',
    env: xdg('b'),
    kernelCacheSec: KERNEL_CACHE_SEC,
    nodeArgs: [...engineNodeArgs, '--inspect=127.0.0.1:0'],
  });
  cleanup.add('stop engine B', () => engineB.stop());
  const firstStartB = apiEntries(await logB.take());
  await new Promise((r) => setTimeout(r, 1000));
  const rssB = await sampleRss(engineB.pid, 6, 1000);
  const anonB = await statusMiB(engineB.pid, 'RssAnon');
  const fileB = await statusMiB(engineB.pid, 'RssFile');
  const inspector = engineB.inspectorUrl;
  if (!inspector) throw new Error('engine B did not print an inspector address');
  const gc = await collectGarbage(inspector);
  await new Promise((r) => setTimeout(r, 1000));
  const rssAfterGc = await vmRssMiB(engineB.pid);
  const idle = await MountedChild.startIdleNode();
  cleanup.add('stop the idle node process', () => idle.stop());
  const rssIdle = median(await sampleRss(idle.pid, 3, 300));
  await cleanup.run();

  // ---- report ------------------------------------------------------------------------------------
  const mMount = median(mountLs);
  const mTmpfs = median(tmpfsLs);
  const mBare = median(bareLs);
  const ttfbShare = (ttfb.ms / fullDownload.ms) * 100;
  const mCat = median(mountCat);
  const bCat = median(bareCat);
  const listingRequests = firstStart.length + coldApi.length;
  const sizeTxt = `${fmt(size / MiB, 0)} MiB`;
  const rows: Row[] = [
    { what: `warm ls -l, ${bigFolder} entries: tmpfs`, value: `${fmt(mTmpfs)} ms`, note: `median of ${lsCount} (${tmpfsLs.map((x) => fmt(x, 0)).join(' ')})` },
    { what: 'warm ls -l: bare fuse-native (from memory)', value: `${fmt(mBare)} ms`, note: `${fmt(mBare / mTmpfs, 2)}× tmpfs (the FUSE floor) · runs ${bareLs.map((x) => fmt(x, 0)).join(' ')}` },
    { what: 'warm ls -l: bare fuse-native + xattr answers', value: `${fmt(median(bareXattrLs))} ms`, note: `${fmt(median(bareXattrLs) / mTmpfs, 2)}× tmpfs: getxattr/listxattr answered from memory as the engine does (EOPNOTSUPP outside user.) · runs ${bareXattrLs.map((x) => fmt(x, 0)).join(' ')}` },
    { what: 'warm ls -l: OneMount', value: `${fmt(mMount)} ms`, note: `runs ${mountLs.map((x) => fmt(x, 0)).join(' ')} · ${warmApi.length} Graph requests` },
    { what: '  → OneMount / tmpfs', value: `${fmt(mMount / mTmpfs, 2)}×`, note: 'target ≤ 2×' },
    { what: '  → OneMount / bare fuse-native', value: `${fmt(mMount / mBare, 2)}×` },
    { what: 'first start (delta enumeration, then mount)', value: `${fmt(engine.startMs)} ms`, note: `${firstStart.length} Graph requests: ${describeRequests(firstStart)}` },
    { what: 'cold ls -l (fresh kernel cache)', value: `${fmt(coldLs.ms)} ms`, note: `${coldApi.length} Graph requests${coldApi.length ? `: ${describeRequests(coldApi)}` : ''}; ${fmt(storageBytes(coldEntries) / MiB, 1)} MiB content` },
    { what: 'cold ls -l: bare fuse-native (first listing)', value: `${fmt(coldBareLs.ms)} ms`, note: `OneMount's cold listing is ${fmt(coldLs.ms / coldBareLs.ms, 2)}× this` },
    { what: '  → Graph requests, first start + cold ls', value: `${listingRequests}`, note: 'target ≤ 11' },
    { what: 'dd 4 KiB from tmpfs (process overhead)', value: `${fmt(ddOverhead)} ms` },
    { what: `first byte of uncached ${sizeTxt} (dd bs=4k count=1)`, value: `${fmt(ttfb.ms)} ms`, note: `${describeRequests(apiEntries(afterFirstByte))} + ${afterFirstByte.filter((e) => e.listener === 'storage').length} storage GET, ${fmt(storageBytes(afterFirstByte) / MiB, 1)} MiB fetched within 2 s; then ${fmt(hydrationAfterTtfb / MiB, 1)} MiB more until idle (${fmt(settleAfterTtfb / 1000, 1)} s)` },
    { what: `raw emulator download of ${sizeTxt} (no mount)`, value: `${fmt(mbps(raw.value, raw.ms))} MiB/s`, note: `${fmt(raw.ms)} ms, fetch in the bench process` },
    { what: `full download through the mount (cat)`, value: `${fmt(fullDownload.ms)} ms`, note: `${fmt(mbps(size, fullDownload.ms))} MiB/s = ${fmt(mbps(size, fullDownload.ms) / mbps(raw.value, raw.ms), 2)}× raw; ${fmt(storageBytes(fullEntries) / MiB, 0)} MiB fetched in ${fullEntries.filter((e) => e.listener === 'storage').length} ranged GETs; verified ${fmt(settleAfterFull)} ms after cat` },
    { what: '  → first byte / full download', value: `${fmt(ttfbShare, 2)} %`, note: 'target ≤ 1 %' },
    { what: `cached read, bare passthrough (cat)`, value: `${fmt(mbps(size, bCat))} MiB/s`, note: `median of ${readCount}: ${bareCat.map((x) => fmt(x, 0)).join(' ')} ms` },
    { what: `cached read, OneMount (cat, 2nd+ read)`, value: `${fmt(mbps(size, mCat))} MiB/s`, note: `median of ${readCount}: ${mountCat.map((x) => fmt(x, 0)).join(' ')} ms; ${fmt(storageBytes(cachedEntries) / MiB, 1)} MiB fetched, ${apiEntries(cachedEntries).length} Graph requests` },
    { what: '  → OneMount / bare passthrough', value: `${fmt(bCat / mCat, 2)}×`, note: 'target ≥ 0.7×' },
    { what: 'dd bs=1M: bare passthrough', value: `${fmt(ddMBps(bareDd, size))} MB/s` },
    { what: 'dd bs=1M: OneMount (cached)', value: `${fmt(ddMBps(mountDd, size))} MB/s`, note: `${fmt(bareDd.ms / mountDd.ms, 2)}× bare` },
    { what: 'RSS: idle node + tsx (baseline)', value: `${fmt(rssIdle)} MiB` },
    { what: `RSS: engine A (${bigFolder + 2} items) after the reads`, value: `${fmt(rssA)} MiB` },
    { what: `first start with ${infoB.files + infoB.folders} items`, value: `${fmt(engineB.startMs)} ms`, note: `${firstStartB.length} Graph requests: ${describeRequests(firstStartB)}` },
    { what: `RSS: engine, ${infoB.files + infoB.folders}-item drive, idle`, value: `${fmt(median(rssB))} MiB`, note: `median of ${rssB.length} over ${rssB.length - 1} s (max ${fmt(Math.max(...rssB))}; anon ${fmt(anonB)}, file ${fmt(fileB)}); target ≤ 150 MiB` },
    { what: '  V8 heap in use, idle → after a forced full GC', value: `${fmt(gc.heapUsedBefore / MiB)} → ${fmt(gc.heapUsedAfter / MiB)} MiB`, note: 'through the inspector (diagnostic)' },
    { what: '  RSS after that GC', value: `${fmt(rssAfterGc)} MiB`, note: 'what the idle engine holds once its garbage is collected' },
  ];
  printTable('Mount (issue 3): OneMount vs tmpfs, bare fuse-native and the raw emulator', rows);
  if (cpuProfDir) console.log(`\nEngine CPU profiles: ${cpuProfDir}`);
}
