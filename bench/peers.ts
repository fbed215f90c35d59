/**
 * Issue 13's numbers: OneMount against `rclone mount` (Debian's rclone, `--vfs-cache-mode full
 * --dir-cache-time 1h --vfs-write-back 1s`) on the same emulated drive in the same run, every row
 * printed as a ratio. Each round starts both clients afresh (empty caches, new mount points), one
 * after the other, the order alternating from round to round, and ends by stopping it and starting
 * it again on what the round left (its state, its cache: a login's start); the table shows medians.
 *
 * rclone's OneDrive backend only talks to https://graph.microsoft.com. It reaches the emulator
 * through bench/graph-proxy.ts (HTTPS_PROXY, a self-signed certificate made with openssl and
 * passed as --ca-cert) and a config whose token expires far in the future; the emulator runs with
 * that public address so every link it hands rclone comes back through the proxy. OneMount talks
 * to the emulator's listener directly, so rclone pays for TLS and a proxy hop that OneMount does
 * not: the "raw download" rows measure that difference on their own. One of them reads the raw
 * download through a bare fuse-native filesystem: what FUSE alone lets a cold read reach here.
 *
 * Every party runs in its own process (emulator, proxy, engine, rclone, and the programs that touch
 * the mounts); this process spawns, times and asks the emulator's admin API.
 *
 * The engine's V8 code cache (src-main/app/cli/engine-loader.js) lives beside the bundle, not in the
 * round's XDG folders: the run's first OneMount start finds the one the build made (`--help`), and
 * writes the fuller one later rounds find (extended at its stop with what the round ran), as an
 * installed engine's starts after its first do. The start rows say which each round found.
 *
 * Environment (smaller for a quick run): BENCH_LARGE_FILE (bytes, default 1 GiB), BENCH_BIG_FOLDER
 * (default 10 000), BENCH_ITEMS (the large drive, default 100 000), BENCH_CP_SIZE (default 256 MiB),
 * BENCH_SMALL_FILES (default 1 000), BENCH_SMALL_SIZE (default 4096), BENCH_STAT_FILES (default
 * 1 000), BENCH_PEER_ROUNDS (default 3), BENCH_PEER_ROUNDS_LARGE_DRIVE (default 2);
 * BENCH_PEER_ROWS=listing keeps only the start-up, listing and RSS rows (no content transfers);
 * BENCH_PEER_ROWS=cp, =creates or =cp,creates keeps only those write rows (no large drive, no large
 * files, no listing or read rows: a quick before/after of the write path). BENCH_CPU_PROF=<dir>: the
 * engine runs with `--cpu-prof` into that folder (one profile per OneMount round). BENCH_ENGINE_ARGS:
 * extra `onemount mount` flags for experiments (space-separated, e.g. `--write-back 30000`).
 * rclone missing: `apt-get install rclone` (Debian 12 ships 1.60).
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmulatorProcess } from '../emulator/src/spawn.ts';
import { accountPaths } from '../src-main/app/paths.ts';
import { Cleanup, emulatorDataDir, withBenchRoot } from './bench-root.ts';
import { envNumber, fmt, GiB, mbps, median, MiB, printGrid } from './lib.ts';
import type { BareFuseManifest } from './bare-fuse.ts';
import { apiEntries, describeRequests, listFolder, RequestWindow, storageBytes, transfersSettled } from './mount.ts';
import { MountedChild, runProgram } from './mount-processes.ts';
import { cpuTicks, statusMiB } from './rss-sampler.ts';
import { lookUpMissingNames, serverFile, until, writeRandomFile, writeSmallFiles } from './upload.ts';

const PUBLIC_API = 'https://graph.microsoft.com';
const PUBLIC_STORAGE = 'https://storage.emulator.onemount.test';
const RCLONE_FLAGS = ['--vfs-cache-mode', 'full', '--dir-cache-time', '1h', '--vfs-write-back', '1s'];
/** The engine's kernel cache (its default); rclone keeps its own default (--attr-timeout 1s). */
const KERNEL_CACHE_SEC = 10;
const PROXY = path.join(import.meta.dirname, 'graph-proxy.ts');
const BUILD = path.join(import.meta.dirname, '..', 'src-main', 'app', 'cli', 'build-engine.js');
const ENGINE_DIR = path.join(import.meta.dirname, '..', 'dist', 'engine');
const QUIET_MS = 1500;
const SETTLE_TIMEOUT_MS = 10 * 60_000;
const WARM_LS_RUNS = 3;
/** The wait before the at-rest RSS sample. */
const REST_MS = 3000;
/** /proc's clock ticks (USER_HZ, 100 on Linux). */
const TICK_MS = 10;

type PeerName = 'OneMount' | 'rclone';
const PEERS: PeerName[] = ['OneMount', 'rclone'];

interface Config {
  size: number;
  bigFolder: number;
  items: number;
  cpSize: number;
  smallCount: number;
  smallSize: number;
  statCount: number;
  rounds: number;
  roundsLarge: number;
  /** Only the start-up, listing and RSS rows. */
  listingOnly: boolean;
  /** Only the named write rows (BENCH_PEER_ROWS=cp,creates): drive A without its large content, no drive B. */
  writesOnly: ReadonlySet<WriteRow> | undefined;
  /** The engine's `--cpu-prof` folder. */
  cpuProfDir: string | undefined;
  /** Extra `onemount mount` flags (BENCH_ENGINE_ARGS). */
  engineArgs: string[];
}

type WriteRow = 'cp' | 'creates';
const WRITE_ROWS: readonly WriteRow[] = ['cp', 'creates'];

/** BENCH_PEER_ROWS: unset (every row), `listing`, or a comma list of write rows. */
function parseRows(value: string | undefined): { listingOnly: boolean; writesOnly: ReadonlySet<WriteRow> | undefined } {
  if (value === undefined || value === '') return { listingOnly: false, writesOnly: undefined };
  if (value === 'listing') return { listingOnly: true, writesOnly: undefined };
  const names = value.split(',').map((n) => n.trim());
  const bad = names.filter((n) => !(WRITE_ROWS as readonly string[]).includes(n));
  if (bad.length) throw new Error(`BENCH_PEER_ROWS: unknown ${bad.join(', ')}; use listing, or a comma list of ${WRITE_ROWS.join(', ')}`);
  return { listingOnly: false, writesOnly: new Set(names as WriteRow[]) };
}

/** One client mounted on one drive, and how to wait until it is idle. */
interface Running {
  child: MountedChild;
  mnt: string;
  settle: () => Promise<void>;
  /** OneMount: which V8 code cache the start found (engine-loader.js); '' for rclone. */
  codeCache: string;
}

/** What one client did in one round (times in ms). */
interface RoundA {
  start: number;
  /** CPU time (user + system) the client used until it was mounted: steadier than wall time on a busy machine. */
  startCpu: number;
  startRequests: number;
  startDetail: string;
  codeCache: string;
  /** Stopped at the end of the round and started again on the state it left, as at a login: until mounted. */
  laterStart: number;
  /** Graph requests the emulator had answered by the time the later start was mounted. */
  laterStartDetail: string;
  coldLs: number;
  coldLsRequests: number;
  coldLsDetail: string;
  warmLs: number;
  /** Right after the last warm listing, and at rest a few seconds later (the engine collects a burst's garbage once it settles). */
  rss: number;
  rssAtRest: number;
  /** The part of rssAtRest that is the process's own memory (RssAnon: heaps, stacks), not pages of its program files. */
  anonAtRest: number;
  stat: number;
  statRequests: number;
  firstByte: number;
  firstByteFetched: number;
  read128: number;
  read128Fetched: number;
  coldSeq: number;
  coldSeqDetail: string;
  warmSeq: number;
  cp: number;
  cpOnServer: number;
  smallCreate: number;
  smallOnServer: number;
  /** µs per look-up of a name that is not there (one FUSE round trip), in the creates' folder before them. */
  missingLookup: number;
}

interface RoundB {
  codeCache: string;
  firstLs: number;
  mounted: number;
  requests: number;
  detail: string;
}

/** Waits until the emulator has served nothing for QUIET_MS and has no request in flight. */
async function quiet(emu: EmulatorProcess): Promise<void> {
  const t0 = performance.now();
  let last = await emu.admin.log({ since: Number.MAX_SAFE_INTEGER });
  let since = performance.now();
  for (;;) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await emu.admin.log({ since: Number.MAX_SAFE_INTEGER });
    if (now.lastSeq !== last.lastSeq || now.inflight > 0) {
      last = now;
      since = performance.now();
    } else if (performance.now() - since >= QUIET_MS) {
      return;
    }
    if (performance.now() - t0 > SETTLE_TIMEOUT_MS) throw new Error(`the emulator still busy after ${SETTLE_TIMEOUT_MS} ms`);
  }
}

/** bench/graph-proxy.ts in its own process; its port. */
async function startProxy(root: string, name: string, cert: { cert: string; key: string }, emu: EmulatorProcess, cleanup: Cleanup): Promise<number> {
  const config = path.join(root, `${name}.json`);
  const routes = { [new URL(PUBLIC_API).host]: Number(new URL(emu.info.apiUrl).port), [new URL(PUBLIC_STORAGE).host]: Number(new URL(emu.info.storageUrl).port) };
  await writeFile(config, JSON.stringify({ ...cert, routes }));
  const child = spawn(process.execPath, ['--import', 'tsx', PROXY, config], { stdio: ['ignore', 'pipe', 'inherit'] });
  cleanup.add(`stop ${name}`, async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill('SIGTERM');
    await exited;
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`${name} exited before listening (code ${code})`)));
  });
  return (JSON.parse(line) as { port: number }).port;
}

/** A self-signed certificate for the public API and storage hosts (rclone trusts it via --ca-cert). */
async function makeCert(root: string): Promise<{ cert: string; key: string }> {
  const cert = path.join(root, 'graph-cert.pem');
  const key = path.join(root, 'graph-key.pem');
  const names = [PUBLIC_API, PUBLIC_STORAGE].map((u) => `DNS:${new URL(u).host}`).join(',');
  await runProgram('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${new URL(PUBLIC_API).host}`, '-addext', `subjectAltName=${names}`]);
  return { cert, key };
}

/** An rclone config for the emulator's drive: a token that never needs refreshing, the drive id and type. */
async function writeRcloneConfig(file: string, emu: EmulatorProcess): Promise<void> {
  const token = JSON.stringify({ access_token: 'bench', token_type: 'Bearer', refresh_token: 'bench-refresh', expiry: '2099-01-01T00:00:00Z' });
  const text = `[emu]\ntype = onedrive\ntoken = ${token}\ndrive_id = ${emu.info.driveId}\ndrive_type = ${emu.info.mode}\n`;
  await writeFile(file, text, { mode: 0o600 });
}

interface Drive {
  emu: EmulatorProcess;
  proxyPort: number;
  rcloneConfig: string;
}

async function startPeer(peer: PeerName, id: string, root: string, drive: Drive, cert: { cert: string }, cleanup: Cleanup, cfg?: Pick<Config, 'cpuProfDir' | 'engineArgs'>): Promise<Running> {
  const mnt = path.join(root, `mnt-${id}`);
  if (peer === 'OneMount') {
    const env = {
      XDG_CONFIG_HOME: path.join(root, id, 'config'),
      XDG_STATE_HOME: path.join(root, id, 'state'),
      XDG_CACHE_HOME: path.join(root, id, 'cache'),
      XDG_RUNTIME_DIR: path.join(root, id, 'run'),
      // Built once at the start of the run: what an installed engine runs, without the check that
      // compares a checkout's sources with the bundle.
      ONEMOUNT_ENGINE: 'compiled',
    };
    const codeCache = await codeCacheFound();
    const child = await MountedChild.startEngine({ mountpoint: mnt, apiUrl: drive.emu.info.apiUrl, account: id, env, kernelCacheSec: KERNEL_CACHE_SEC,
      nodeArgs: cfg?.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cfg.cpuProfDir] : [],
      engineArgs: cfg?.engineArgs ?? [],
    });
    cleanup.add(`stop ${id}`, () => child.stop());
    const socket = accountPaths(id, { ...process.env, ...env }).socketPath;
    return {
      child,
      mnt,
      codeCache,
      settle: async () => {
        await transfersSettled(socket);
        await quiet(drive.emu);
      },
    };
  }
  await mkdir(mnt, { recursive: true });
  const child = await MountedChild.startRclone({
    remote: 'emu:',
    mountpoint: mnt,
    configFile: drive.rcloneConfig,
    cacheDir: path.join(root, id, 'cache'),
    flags: [...RCLONE_FLAGS, '--ca-cert', cert.cert],
    env: { HTTPS_PROXY: `http://127.0.0.1:${drive.proxyPort}`, NO_PROXY: '', no_proxy: '' },
  });
  cleanup.add(`stop ${id}`, () => child.stop());
  return { child, mnt, codeCache: '', settle: () => quiet(drive.emu) };
}

/**
 * The V8 code cache the engine's next start will find beside the bundle: the build's (made by
 * `--help`: module evaluation only) until a start has written its own (the start path compiled
 * too; engine-loader.js), which each clean stop extends with what its session compiled (the
 * round's listings, reads and writes). The bench's XDG folders are fresh each round, so only these
 * count.
 */
async function codeCacheFound(): Promise<string> {
  const names = await readdir(ENGINE_DIR).catch(() => [] as string[]);
  if (names.some((n) => /^onemount-.+-\d+\.v8cache$/.test(n))) return 'start';
  if (names.some((n) => n.endsWith('.build.v8cache'))) return 'build';
  return 'none';
}

const dd = (args: string[]) => runProgram('dd', [...args, 'of=/dev/null', 'status=none']);

/** Look-ups of missing names behind the round-trip row. */
const MISSING_LOOKUPS = 2000;

/** Runs of `node -e 0` behind the Node start row. */
const NODE_START_RUNS = 9;
/** Reads of the raw download through a bare fuse-native filesystem (bareServedRate). */
const BARE_READ_RUNS = 3;

/** How long `node -e 0` takes from spawn to exit (median of NODE_START_RUNS), as the environment has it or without NODE_EXTRA_CA_CERTS. */
async function nodeStart(withoutExtraCerts = false): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < NODE_START_RUNS; i++) {
    const r = withoutExtraCerts ? await runProgram('env', ['-u', 'NODE_EXTRA_CA_CERTS', process.execPath, '-e', '0']) : await runProgram(process.execPath, ['-e', '0']);
    times.push(r.ms);
  }
  return median(times);
}

async function roundA(peer: PeerName, round: number, root: string, drive: Drive, cert: { cert: string }, cfg: Config, files: { statNames: string[]; cpSource: string; cpHash: string }): Promise<RoundA> {
  const { emu } = drive;
  const id = `${peer === 'OneMount' ? 'om' : 'rc'}-a${round}`;
  const cleanup = new Cleanup();
  const skipped = Number.NaN;
  try {
    const log = await RequestWindow.open(emu);
    const running = await startPeer(peer, id, root, drive, cert, cleanup, cfg);
    const { mnt, child } = running;
    /** The round's last row: the peer stopped and started again on what it kept (its XDG folders, its cache folder). */
    const withLaterStart = async (r: RoundA) => {
      await cleanup.run();
      await log.take();
      r.laterStart = (await startPeer(peer, id, root, drive, cert, cleanup, cfg)).child.startMs;
      const answered = apiEntries(await log.take());
      r.laterStartDetail = `${answered.length} Graph requests answered by then${answered.length ? ` (${describeRequests(answered)})` : ''}`;
      return r;
    };
    const startCpu = (await cpuTicks(child.pid)) * TICK_MS;
    const startLog = apiEntries(await log.take());
    const r: RoundA = {
      start: child.startMs,
      startCpu,
      startRequests: startLog.length,
      startDetail: describeRequests(startLog),
      codeCache: running.codeCache,
      laterStart: skipped,
      laterStartDetail: '',
      coldLs: skipped,
      coldLsRequests: 0,
      coldLsDetail: '',
      warmLs: skipped,
      rss: skipped,
      rssAtRest: skipped,
      anonAtRest: skipped,
      stat: skipped,
      statRequests: 0,
      firstByte: skipped,
      firstByteFetched: 0,
      read128: skipped,
      read128Fetched: 0,
      coldSeq: skipped,
      coldSeqDetail: '',
      warmSeq: skipped,
      cp: skipped,
      cpOnServer: skipped,
      smallCreate: skipped,
      smallOnServer: skipped,
      missingLookup: skipped,
    };

    if (!cfg.writesOnly) {
      const big = path.join(mnt, 'Big');
      const coldLs = await runProgram('ls', ['-l', '--color=never', big]);
      const coldLog = apiEntries(await log.take());
      const warm: number[] = [];
      for (let i = 0; i < WARM_LS_RUNS; i++) {
        await runProgram('ls', ['-l', '--color=never', big]);
        warm.push((await runProgram('ls', ['-l', '--color=never', big])).ms);
      }
      r.coldLs = coldLs.ms;
      r.coldLsRequests = coldLog.length;
      r.coldLsDetail = describeRequests(coldLog);
      r.warmLs = median(warm);
      r.rss = await statusMiB(child.pid);
      await sleep(REST_MS);
      r.rssAtRest = await statusMiB(child.pid);
      r.anonAtRest = await statusMiB(child.pid, 'RssAnon');
      if (cfg.listingOnly) return await withLaterStart(r);

      // Past both kernel caches (the engine's 10 s, rclone's 1 s attr timeout).
      await sleep((KERNEL_CACHE_SEC + 1) * 1000 - REST_MS);
      await log.take();
      r.stat = (await runProgram('stat', ['--printf=%s\n', ...files.statNames.map((n) => path.join(big, n))])).ms;
      r.statRequests = apiEntries(await log.take()).length;

      await running.settle();
      await log.take();
      r.firstByte = (await dd([`if=${path.join(mnt, 'large.bin')}`, 'bs=4k', 'count=1'])).ms;
      await running.settle();
      r.firstByteFetched = storageBytes(await log.take());

      const block = 128 * 1024;
      const skip = Math.floor((cfg.size * (900 / 1024)) / block);
      r.read128 = (await dd([`if=${path.join(mnt, 'large-2.bin')}`, `bs=${block}`, `skip=${skip}`, 'count=1'])).ms;
      await running.settle();
      r.read128Fetched = storageBytes(await log.take());

      r.coldSeq = (await dd([`if=${path.join(mnt, 'large-3.bin')}`, 'bs=1M'])).ms;
      await running.settle();
      const seqLog = await log.take();
      const gets = seqLog.filter((e) => e.listener === 'storage' && e.method === 'GET');
      r.coldSeqDetail = `${gets.length} storage GETs, ${fmt(storageBytes(seqLog) / MiB, 0)} MiB`;
      r.warmSeq = (await dd([`if=${path.join(mnt, 'large-3.bin')}`, 'bs=1M'])).ms;
    }
    await running.settle();

    if (!cfg.writesOnly || cfg.writesOnly.has('cp')) {
      const cpName = `cp-${id}.bin`;
      // Both peers start their write rows with no dirty pages of earlier rows (the cold read's
      // cache file, the other peer's) for the kernel to write back in the middle of them.
      await runProgram('sync', []);
      const cpStart = performance.now();
      r.cp = (await runProgram('cp', [files.cpSource, path.join(mnt, cpName)])).ms;
      r.cpOnServer = await until(`${cpName} on the server`, cpStart, async () => {
        const f = await serverFile(emu, `/${cpName}`);
        return f?.size === cfg.cpSize && f.hash === files.cpHash;
      });
      await running.settle();
    }

    if (!cfg.writesOnly || cfg.writesOnly.has('creates')) {
      const smallDir = path.join(mnt, `small-${id}`);
      await runProgram('mkdir', [smallDir]);
      await until(`small-${id}/ on the server`, performance.now(), async () => (await serverFile(emu, `/small-${id}`)) !== undefined);
      const filesBefore = (await emu.admin.info()).files;
      r.missingLookup = ((await lookUpMissingNames(smallDir, MISSING_LOOKUPS)) * 1000) / MISSING_LOOKUPS;
      await runProgram('sync', []);
      const smallStart = performance.now();
      r.smallCreate = await writeSmallFiles(smallDir, cfg.smallCount, cfg.smallSize);
      r.smallOnServer = await until(`${cfg.smallCount} small files on the server`, smallStart, async () => (await emu.admin.info()).files >= filesBefore + cfg.smallCount);
      await running.settle();
    }
    return await withLaterStart(r);
  } finally {
    await cleanup.run();
  }
}

async function roundB(peer: PeerName, round: number, root: string, drive: Drive, cert: { cert: string }): Promise<RoundB> {
  const id = `${peer === 'OneMount' ? 'om' : 'rc'}-b${round}`;
  const cleanup = new Cleanup();
  try {
    const log = await RequestWindow.open(drive.emu);
    const t0 = performance.now();
    const running = await startPeer(peer, id, root, drive, cert, cleanup);
    const mounted = performance.now() - t0;
    await runProgram('ls', ['-l', '--color=never', running.mnt]);
    const firstLs = performance.now() - t0;
    const entries = apiEntries(await log.take());
    return { codeCache: running.codeCache, firstLs, mounted, requests: entries.length, detail: describeRequests(entries) };
  } finally {
    await cleanup.run();
  }
}

/** Runs `fn` for both peers per round, the order alternating. */
async function alternate<T>(rounds: number, fn: (peer: PeerName, round: number) => Promise<T>): Promise<Record<PeerName, T[]>> {
  const out: Record<PeerName, T[]> = { OneMount: [], rclone: [] };
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? PEERS : [...PEERS].reverse();
    for (const peer of order) out[peer].push(await fn(peer, round));
  }
  return out;
}

/** curl through a URL, bytes discarded; MiB/s. */
async function curlRate(args: string[], bytes: number, out = '/dev/null'): Promise<number> {
  return mbps(bytes, (await runProgram('curl', ['-sS', '-f', '-L', '-o', out, ...args])).ms);
}

/** Drops the kernel's cached pages of a file (of a mount: its next read goes to the filesystem). */
const dropPages = (file: string) => runProgram('python3', ['-c', 'import os,sys;os.posix_fadvise(os.open(sys.argv[1],os.O_RDONLY),0,0,os.POSIX_FADV_DONTNEED)', file]);

/**
 * A local file read through a bare fuse-native filesystem (bench/bare-fuse.ts: each FUSE read one
 * fs.read of it), the mount's pages dropped before each read; median MiB/s of `runs`. What any
 * fuse-native filesystem can serve here, whatever it does besides.
 */
async function bareServedRate(localPath: string, bytes: number, root: string, runs: number): Promise<number> {
  const mountpoint = path.join(root, 'bare');
  await mkdir(mountpoint, { recursive: true });
  const manifest: BareFuseManifest = { mountpoint, kernelCacheSec: KERNEL_CACHE_SEC, folder: { name: 'Empty', entries: [] }, file: { name: 'large.bin', localPath, size: bytes } };
  await writeFile(`${mountpoint}.json`, JSON.stringify(manifest));
  const bare = await MountedChild.startBare(`${mountpoint}.json`, mountpoint);
  try {
    const rates: number[] = [];
    for (let i = 0; i < runs; i++) {
      await dropPages(path.join(mountpoint, 'large.bin'));
      rates.push(mbps(bytes, (await dd([`if=${path.join(mountpoint, 'large.bin')}`, 'bs=1M'])).ms));
    }
    return median(rates);
  } finally {
    await bare.stop();
  }
}

export async function run(): Promise<void> {
  const cfg: Config = {
    size: envNumber('BENCH_LARGE_FILE', GiB),
    bigFolder: envNumber('BENCH_BIG_FOLDER', 10_000),
    items: envNumber('BENCH_ITEMS', 100_000),
    cpSize: envNumber('BENCH_CP_SIZE', 256 * MiB),
    smallCount: envNumber('BENCH_SMALL_FILES', 1000),
    smallSize: envNumber('BENCH_SMALL_SIZE', 4096),
    statCount: envNumber('BENCH_STAT_FILES', 1000),
    rounds: envNumber('BENCH_PEER_ROUNDS', 3),
    roundsLarge: envNumber('BENCH_PEER_ROUNDS_LARGE_DRIVE', 2),
    ...parseRows(process.env.BENCH_PEER_ROWS),
    cpuProfDir: process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : undefined,
    engineArgs: (process.env.BENCH_ENGINE_ARGS ?? '').split(' ').filter((a) => a !== ''),
  };
  if (cfg.cpuProfDir) await mkdir(cfg.cpuProfDir, { recursive: true });
  const version = await runProgram('rclone', ['version'], { allowFailure: true }).catch(() => undefined);
  if (!version || version.code !== 0) {
    console.log('\n## Peers (issue 13): skipped — rclone is not installed. Install it with `apt-get install rclone` (Debian 12 ships 1.60) and run `npm run bench peers`.');
    return;
  }
  await runProgram(process.execPath, [BUILD]);
  await withBenchRoot('onemount-bench-peers-', (root, cleanup) => measure(root, cleanup, cfg));
}

async function measure(root: string, cleanup: Cleanup, cfg: Config): Promise<void> {
  const cert = await makeCert(root);
  const startDrive = async (name: string): Promise<Drive> => {
    const emu = await EmulatorProcess.start({ dataDir: await emulatorDataDir(root, name, cleanup), publicApiBase: PUBLIC_API, publicStorageBase: PUBLIC_STORAGE });
    cleanup.add(`stop emulator ${name}`, () => emu.stop());
    const proxyPort = await startProxy(root, `proxy-${name}`, cert, emu, cleanup);
    const rcloneConfig = path.join(root, `rclone-${name}.conf`);
    await writeRcloneConfig(rcloneConfig, emu);
    return { emu, proxyPort, rcloneConfig };
  };

  // ---- drive A: a 10 000-entry folder, three large files (an empty drive for the write rows alone) --
  const a = await startDrive('a');
  let statNames: string[] = [];
  let raw: { direct: number; stored: number; bareServed: number; proxied: number } | undefined;
  if (!cfg.writesOnly) {
    await a.emu.admin.generate({ bigFolder: cfg.bigFolder, largeFile: cfg.size });
    for (const name of ['large-2.bin', 'large-3.bin']) await a.emu.admin.remote({ op: 'write', path: `/${name}`, size: cfg.size });
    const bigEntries = await listFolder(a.emu.info.apiUrl, 'Big');
    if (bigEntries.length !== cfg.bigFolder) throw new Error(`Big/ holds ${bigEntries.length} entries, expected ${cfg.bigFolder}`);
    statNames = bigEntries.slice(0, cfg.statCount).map((e) => e.name);

    // What TLS and the proxy hop cost on their own: the same download, straight and through the proxy.
    const contentPath = '/v1.0/me/drive/root:/large.bin:/content';
    const auth = ['-H', 'authorization: Bearer bench'];
    const kept = path.join(root, 'raw-download.bin');
    raw = {
      direct: await curlRate([...auth, `${new URL(a.emu.info.apiUrl).origin}${contentPath}`], cfg.size),
      stored: await curlRate([...auth, `${new URL(a.emu.info.apiUrl).origin}${contentPath}`], cfg.size, kept),
      bareServed: await bareServedRate(kept, cfg.size, root, BARE_READ_RUNS),
      proxied: await curlRate([...auth, '--proxy', `http://127.0.0.1:${a.proxyPort}`, '--cacert', cert.cert, `${PUBLIC_API}${contentPath}`], cfg.size),
    };
    await rm(kept);
  }
  const cpSource = path.join(root, 'cp-source.bin');
  const cpHash = await writeRandomFile(cpSource, cfg.cpSize);

  const resultsA = await alternate(cfg.rounds, (peer, round) => roundA(peer, round, root, a, cert, cfg, { statNames, cpSource, cpHash }));
  await cleanup.run();

  // ---- drive B: 100 000 items, the first ls -l of the root after a first start ---------------------
  let driveB: { items: number; results: Record<PeerName, RoundB[]> } | undefined;
  if (!cfg.writesOnly) {
    const b = await startDrive('b');
    await b.emu.admin.generate({ folders: 100, filesPerFolder: Math.max(1, Math.round(cfg.items / 100) - 1), fileSize: 100 });
    const infoB = await b.emu.admin.info();
    driveB = { items: infoB.files + infoB.folders, results: await alternate(cfg.roundsLarge, (peer, round) => roundB(peer, round, root, b, cert)) };
    await cleanup.run();
  }

  // Part of every start row: what Node itself takes to start and exit here. An environment that
  // sets NODE_EXTRA_CA_CERTS (this project's machines do) makes Node parse the whole root
  // certificate store before it runs anything; without it, the engine pays that at its first TLS
  // connection to Graph (plain HTTP to the emulator here: not at all).
  const nodeFloor = cfg.writesOnly ? undefined : { asIs: await nodeStart(), withoutExtraCerts: process.env.NODE_EXTRA_CA_CERTS ? await nodeStart(true) : undefined };

  // ---- report ------------------------------------------------------------------------------------
  const m = (peer: PeerName, k: keyof RoundA) => median(resultsA[peer].map((r) => r[k] as number));
  const runs = (peer: PeerName, k: keyof RoundA) => resultsA[peer].map((r) => fmt(r[k] as number, 0)).join(' ');
  const ms = (x: number) => (x >= 10_000 ? `${fmt(x / 1000, 1)} s` : `${fmt(x, x < 10 ? 1 : 0)} ms`);
  const sizeTxt = cfg.size >= GiB ? `${fmt(cfg.size / GiB, 2)} GiB` : `${fmt(cfg.size / MiB, 0)} MiB`;
  const cpTxt = `${fmt(cfg.cpSize / MiB, 0)} MiB`;
  const rows: string[][] = [];
  /** A time row: OneMount, rclone, OneMount ÷ rclone (below 1: OneMount is faster). */
  const timeRow = (what: string, k: keyof RoundA, note = (_p: PeerName) => '', unit: 'ms' | 'µs' = 'ms') => {
    const om = m('OneMount', k);
    const rc = m('rclone', k);
    if (Number.isNaN(om) || Number.isNaN(rc)) return;
    const show = unit === 'ms' ? ms : (x: number) => `${fmt(x, 0)} µs`;
    rows.push([what, show(om), show(rc), `${fmt(om / rc, 2)}×`, om < rc ? 'OneMount' : 'rclone', `runs ${runs('OneMount', k)} / ${runs('rclone', k)} ${unit}${note('OneMount') ? ` · OneMount: ${note('OneMount')}` : ''}${note('rclone') ? ` · rclone: ${note('rclone')}` : ''}`]);
  };
  const first = (peer: PeerName) => resultsA[peer][0]!;
  const caches = (rounds: { codeCache: string }[]) => rounds.map((r) => r.codeCache).join(', ');
  if (!cfg.writesOnly) {
    timeRow(
      `start until mounted (${cfg.bigFolder + 3} items)`,
      'start',
      (p) => `${first(p).startRequests} Graph requests (${first(p).startDetail})${p === 'OneMount' ? `; V8 code cache per round: ${caches(resultsA.OneMount)}` : ''}`,
    );
    timeRow('  CPU time used until mounted', 'startCpu');
    timeRow('later start until mounted (on what the round kept: a login)', 'laterStart', (p) => `${first(p).laterStartDetail}${p === 'OneMount' ? ', none waited for' : ''}`);
    if (nodeFloor) {
      const note = nodeFloor.withoutExtraCerts === undefined ? 'NODE_EXTRA_CA_CERTS is not set' : `NODE_EXTRA_CA_CERTS is set here: ${ms(nodeFloor.withoutExtraCerts)} without it`;
      rows.push([`  of the start: Node itself (node -e 0, median of ${NODE_START_RUNS})`, ms(nodeFloor.asIs), '', '', '', note]);
    }
  }
  timeRow(`cold ls -l of Big/ (${cfg.bigFolder} entries)`, 'coldLs', (p) => `${first(p).coldLsRequests} Graph requests (${first(p).coldLsDetail})`);
  timeRow('warm ls -l of Big/', 'warmLs', () => `median of ${WARM_LS_RUNS} per round`);
  timeRow(`stat of ${cfg.statCount} files, kernel caches expired`, 'stat', (p) => `${first(p).statRequests} Graph requests`);
  timeRow(`first byte of an uncached ${sizeTxt} file`, 'firstByte', (p) => `${fmt(first(p).firstByteFetched / MiB, 1)} MiB fetched until idle`);
  timeRow(`read 128 KiB at ${fmt((cfg.size * 900) / 1024 / MiB, 0)} MiB, uncached`, 'read128', (p) => `${fmt(first(p).read128Fetched / MiB, 1)} MiB fetched until idle`);
  timeRow(`cold sequential read of ${sizeTxt} (dd bs=1M)`, 'coldSeq', (p) => `${fmt(mbps(cfg.size, m(p, 'coldSeq')), 0)} MiB/s, ${first(p).coldSeqDetail}`);
  timeRow('warm sequential read (dd bs=1M)', 'warmSeq', (p) => `${fmt(mbps(cfg.size, m(p, 'warmSeq')), 0)} MiB/s`);
  timeRow(`cp ${cpTxt} into the mount`, 'cp', (p) => `${fmt(mbps(cfg.cpSize, m(p, 'cp')), 0)} MiB/s`);
  timeRow(`${cpTxt} on the server (from the start of cp, hash checked)`, 'cpOnServer', (p) => `${fmt(mbps(cfg.cpSize, m(p, 'cpOnServer')), 0)} MiB/s`);
  timeRow(`${cfg.smallCount} × ${cfg.smallSize} B creates`, 'smallCreate');
  timeRow(`  those ${cfg.smallCount} on the server (from the first create)`, 'smallOnServer');
  timeRow(`  a look-up of a missing name (one FUSE round trip; each create starts with one)`, 'missingLookup', () => `mean of ${MISSING_LOOKUPS} per round`, 'µs');
  if (!cfg.writesOnly) {
    for (const [what, k] of [[`RSS right after the ${cfg.bigFolder}-entry listing`, 'rss'], [`RSS at rest, ${REST_MS / 1000} s after it`, 'rssAtRest'], ['  of it: anonymous memory (heaps; not the program\'s file pages)', 'anonAtRest']] as const) {
      const om = m('OneMount', k);
      const rc = m('rclone', k);
      rows.push([what, `${fmt(om)} MiB`, `${fmt(rc)} MiB`, `${fmt(om / rc, 2)}×`, om < rc ? 'OneMount' : 'rclone', `runs ${runs('OneMount', k)} / ${runs('rclone', k)} MiB`]);
    }
  }
  if (driveB) {
    const resultsB = driveB.results;
    const mb = (peer: PeerName, k: keyof RoundB) => median(resultsB[peer].map((r) => r[k] as number));
    const om = mb('OneMount', 'firstLs');
    const rc = mb('rclone', 'firstLs');
    const detail = (p: PeerName) =>
      `${p}: mounted after ${ms(mb(p, 'mounted'))}, ${resultsB[p][0]!.requests} Graph requests (${resultsB[p][0]!.detail})${p === 'OneMount' ? `, V8 code cache per round: ${caches(resultsB.OneMount)}` : ''}`;
    rows.push([
      `first complete ls -l of / on a ${driveB.items}-item drive, from a first start`,
      ms(om),
      ms(rc),
      `${fmt(om / rc, 2)}×`,
      om < rc ? 'OneMount' : 'rclone',
      `runs ${resultsB.OneMount.map((r) => fmt(r.firstLs, 0)).join(' ')} / ${resultsB.rclone.map((r) => fmt(r.firstLs, 0)).join(' ')} ms · ${detail('OneMount')} · ${detail('rclone')}`,
    ]);
  }
  if (raw) {
    rows.push(['raw download of the large file (curl), straight to the emulator', `${fmt(raw.direct, 0)} MiB/s`, '', '', '', 'the path OneMount takes']);
    rows.push([
      '  same, kept in a file beside the caches (curl -o)',
      `${fmt(raw.stored, 0)} MiB/s`,
      '',
      '',
      '',
      "a cold read keeps the bytes twice (the cache file, the mount's page cache); new memory is dear on this machine (bench emulator's last row)",
    ]);
    rows.push([
      '  that file read through a bare fuse-native filesystem',
      `${fmt(raw.bareServed, 0)} MiB/s`,
      '',
      '',
      '',
      `median of ${BARE_READ_RUNS}, the mount's pages dropped before each: the most a fuse-native filesystem serves here (128 KiB a request), ${fmt(raw.bareServed / raw.direct, 2)}× the raw download`,
    ]);
    rows.push(['  same through the proxy (TLS + one hop)', '', `${fmt(raw.proxied, 0)} MiB/s`, `${fmt(raw.direct / raw.proxied, 2)}×`, '', 'the path rclone takes: its transfer rows are bounded by this']);
  }
  printGrid(
    `Peers (issue 13): OneMount vs rclone mount ${RCLONE_FLAGS.join(' ')} — medians of ${cfg.rounds} alternating rounds (${cfg.roundsLarge} for the large drive)`,
    ['what', 'OneMount', 'rclone', 'OneMount ÷ rclone', 'faster', 'note'],
    rows,
  );
  if (cfg.cpuProfDir) console.log(`\nEngine CPU profiles (one per OneMount round): ${cfg.cpuProfDir}`);
}
