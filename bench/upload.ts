/**
 * Issue 4's numbers, as ratios against baselines measured in the same run:
 * - a 1 GiB file copied into the mount (`cp`) until the server holds it whole with the right
 *   quickXorHash, vs the emulator's raw ingest (one upload session, 10 MiB fragments, sent straight
 *   from this process) measured before and after it; the `cp` time alone, and `cp` into a bare
 *   fuse-native passthrough (the FUSE write floor);
 * - the engine's RSS during that upload (VmRSS every 100 ms: baseline, peak, growth);
 * - 1 000 × 4 KiB create+write+close through the mount vs a bare fuse-native passthrough and
 *   tmpfs, and how long until all of them are on the server.
 *
 * Every party runs in its own process: the emulator, the engine (`onemount mount`), the bare FUSE
 * filesystem (bench/bare-fuse.ts), and the workloads (cp, bench/small-files-writer.ts). This process
 * spawns, times, polls the emulator's admin API and reads /proc; it never touches a mount itself.
 *
 * Environment: BENCH_LARGE_FILE (bytes, default 1 GiB), BENCH_SMALL_FILES (default 1 000),
 * BENCH_SMALL_SIZE (bytes, default 4096), BENCH_SMALL_ROUNDS (default 5), BENCH_WRITE_BACK_MS
 * (engine --write-back, default 1000), BENCH_UPLOADS (engine --uploads, default 2),
 * BENCH_CPU_PROF=<dir> (the engine and the emulator run with `--cpu-prof` into that folder).
 */
import { spawn } from 'node:child_process';
import { randomFill } from 'node:crypto';
import { mkdir, open, rm, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { EmulatorProcess } from '../emulator/src/spawn.ts';
import type { LogEntry } from '../emulator/src/request-log.ts';
import { QuickXorHash, quickXorHash } from '../src-main/graph/quickxor.ts';
import type { BareFuseManifest } from './bare-fuse.ts';
import { emulatorDataDir, withBenchRoot, type Cleanup } from './bench-root.ts';
import { envNumber, fmt, GiB, mbps, median, MiB, printTable, put, type Row } from './lib.ts';
import { MountedChild, runProgram } from './mount-processes.ts';
import { RssSampler, statusMiB } from './rss-sampler.ts';

const AUTH = { authorization: 'Bearer bench' };
const FRAGMENT = 10 * MiB;
const KERNEL_CACHE_SEC = 10;
const POLL_MS = 100;
/** Only against hangs: no measurement depends on it. */
const SETTLE_TIMEOUT_MS = 20 * 60_000;
const WRITER = path.join(import.meta.dirname, 'small-files-writer.ts');

interface UploadBenchConfig {
  size: number;
  smallCount: number;
  smallSize: number;
  smallRounds: number;
  writeBackMs: number;
  uploads: number;
  cpuProfDir: string | undefined;
}

interface ServerFile {
  size: number;
  hash: string | undefined;
}

/** What the server holds at `p` (admin API), undefined when nothing is there. */
export async function serverFile(emu: EmulatorProcess, p: string): Promise<ServerFile | undefined> {
  try {
    const item = await emu.admin.item(p);
    const file = item.file as { hashes?: { quickXorHash?: string } } | undefined;
    return { size: Number(item.size), hash: file?.hashes?.quickXorHash };
  } catch (e) {
    if (/→ 404/.test(String(e))) return undefined;
    throw e;
  }
}

/** Polls until `check` answers true; the time from `since` (performance.now()) to that answer. */
export async function until(what: string, since: number, check: () => Promise<boolean>): Promise<number> {
  for (;;) {
    if (await check()) return performance.now() - since;
    if (performance.now() - since > SETTLE_TIMEOUT_MS) throw new Error(`${what}: not done after ${SETTLE_TIMEOUT_MS} ms`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** A local file of `size` random bytes (incompressible, no repeats), and its quickXorHash. */
export async function writeRandomFile(file: string, size: number): Promise<string> {
  const chunk = Buffer.allocUnsafe(8 * MiB);
  const hasher = new QuickXorHash();
  const fh = await open(file, 'w', 0o600);
  try {
    for (let at = 0; at < size; at += chunk.length) {
      const part = chunk.subarray(0, Math.min(chunk.length, size - at));
      await new Promise<void>((resolve, reject) => randomFill(part, (err) => (err ? reject(err) : resolve())));
      hasher.update(part);
      await fh.write(part, 0, part.length, at);
    }
  } finally {
    await fh.close();
  }
  return hasher.digest();
}

/**
 * The emulator's raw ingest: one upload session, the file's bytes in 10 MiB fragments, each read
 * into one reused buffer (from the page cache) and PUT from this process. Returns the time from the
 * session's creation to the final fragment's answer.
 */
async function rawIngest(api: string, name: string, file: string, size: number): Promise<number> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(FRAGMENT);
    const t0 = performance.now();
    const s = await fetch(`${api}/me/drive/root:/${encodeURIComponent(name)}:/createUploadSession`, {
      method: 'POST',
      headers: { ...AUTH, 'content-type': 'application/json' },
      body: JSON.stringify({ item: { '@microsoft.graph.conflictBehavior': 'replace' } }),
    });
    if (!s.ok) throw new Error(`createUploadSession for ${name}: ${s.status} ${await s.text()}`);
    const { uploadUrl } = (await s.json()) as { uploadUrl: string };
    for (let at = 0; at < size; at += FRAGMENT) {
      const end = Math.min(size, at + FRAGMENT);
      const { bytesRead } = await fh.read(buf, 0, end - at, at);
      if (bytesRead !== end - at) throw new Error(`short read of ${file} at ${at}`);
      await put(uploadUrl, buf.subarray(0, end - at), { 'content-range': `bytes ${at}-${end - 1}/${size}` });
    }
    return performance.now() - t0;
  } finally {
    await fh.close();
  }
}

/** Runs bench/small-files-writer.ts in its own process; the loop's own time (no process start-up). */
export function writeSmallFiles(dir: string, count: number, size: number): Promise<number> {
  return runWriter(dir, String(count), String(size));
}

/** How long `count` look-ups of names not in `dir` take, one after another (the writer's `missing` mode). */
export function lookUpMissingNames(dir: string, count: number): Promise<number> {
  return runWriter(dir, String(count), 'missing');
}

async function runWriter(dir: string, ...args: string[]): Promise<number> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, dir, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const line = new Promise<string | undefined>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve).once('close', () => resolve(undefined)));
  const timer = setTimeout(() => child.kill('SIGKILL'), SETTLE_TIMEOUT_MS);
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  }).finally(() => clearTimeout(timer));
  const out = await line;
  if (code !== 0 || out === undefined) throw new Error(`small-files-writer in ${dir} exited with ${code}: ${stderr.trim()}`);
  return (JSON.parse(out) as { ms: number }).ms;
}

/** The small-file content the writer produces for file number `i` (to check the server's hash). */
function smallFileBytes(i: number, size: number): Buffer {
  const body = Buffer.alloc(size);
  for (let k = 0; k < size; k++) body[k] = (k * 31 + 7) & 0xff;
  if (size >= 4) body.writeUInt32LE(i, 0);
  return body;
}

const smallName = (i: number) => `f${String(i).padStart(5, '0')}.bin`;

/** A tmpfs of our own (as root); a folder in /dev/shm otherwise. */
async function makeTmpfs(dir: string, cleanup: Cleanup): Promise<string> {
  await mkdir(dir, { recursive: true });
  const mounted = await runProgram('mount', ['-t', 'tmpfs', '-o', 'size=256m,mode=0700', 'onemount-bench', dir], { allowFailure: true });
  if (mounted.code === 0) {
    cleanup.add(`umount tmpfs ${dir}`, async () => {
      await runProgram('umount', [dir]);
    });
    return dir;
  }
  const shm = path.join('/dev/shm', `onemount-bench-${process.pid}`);
  await mkdir(shm, { recursive: true });
  cleanup.add(`remove ${shm}`, () => rm(shm, { recursive: true, force: true }));
  return shm;
}

/** "12× PUT /up/{id}, 1× POST …/createUploadSession" */
function describeRequests(es: LogEntry[]): string {
  const counts = new Map<string, number>();
  for (const e of es) {
    const route = e.path
      .split('?')[0]!
      .replace(/\/items\/[^/:]+/g, '/items/{id}')
      .replace(/\/up\/[^/]+/g, '/up/{id}')
      .replace(/\/v1\.0/, '')
      .replace(/root:\/[^:]+:/, 'root:/{path}:');
    const key = `${e.method} ${route}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].map(([k, n]) => `${n}× ${k}`).join(', ') || 'none';
}

export async function run(): Promise<void> {
  const cfg: UploadBenchConfig = {
    size: envNumber('BENCH_LARGE_FILE', GiB),
    smallCount: envNumber('BENCH_SMALL_FILES', 1000),
    smallSize: envNumber('BENCH_SMALL_SIZE', 4096),
    smallRounds: envNumber('BENCH_SMALL_ROUNDS', 5),
    writeBackMs: envNumber('BENCH_WRITE_BACK_MS', 1000),
    uploads: envNumber('BENCH_UPLOADS', 2),
    cpuProfDir: process.env.BENCH_CPU_PROF ? path.resolve(process.env.BENCH_CPU_PROF) : undefined,
  };
  await withBenchRoot('onemount-bench-upload-', (root, cleanup) => measure(root, cleanup, cfg));
}

async function measure(root: string, cleanup: Cleanup, cfg: UploadBenchConfig): Promise<void> {
  const { size, smallCount, smallSize, smallRounds, cpuProfDir } = cfg;
  const profArgs = cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', cpuProfDir] : [];

  const localFile = path.join(root, 'local-large.bin');
  const gen = performance.now();
  const localHash = await writeRandomFile(localFile, size);
  const genMs = performance.now() - gen;

  const emu = await EmulatorProcess.start({ dataDir: await emulatorDataDir(root, 'emu', cleanup), nodeArgs: profArgs });
  cleanup.add('stop the emulator', () => emu.stop());
  const api = emu.info.apiUrl;

  // Baselines: tmpfs, and the bare fuse-native filesystem with a passthrough folder on the same
  // disk as the engine's cache files.
  const tmpfs = await makeTmpfs(path.join(root, 'tmpfs'), cleanup);
  const startBare = async (name: string, bigWrites: boolean): Promise<{ dir: string; local: string }> => {
    const local = path.join(root, `${name}-local`);
    await mkdir(local);
    const mountpoint = path.join(root, name);
    const manifest: BareFuseManifest = {
      mountpoint,
      kernelCacheSec: KERNEL_CACHE_SEC,
      folder: { name: 'empty', entries: [] },
      file: { name: 'large.bin', localPath: localFile, size },
      passthrough: { name: 'pt', localDir: local },
      bigWrites,
    };
    await writeFile(`${mountpoint}.json`, JSON.stringify(manifest));
    const bare = await MountedChild.startBare(`${mountpoint}.json`, mountpoint);
    cleanup.add(`stop the bare FUSE filesystem at ${mountpoint}`, () => bare.stop());
    return { dir: path.join(mountpoint, 'pt'), local };
  };
  const bare = await startBare('bare', false);
  const bareBig = await startBare('bare-big-writes', true);
  const barePt = bare.dir;

  const mnt = path.join(root, 'mnt');
  const engine = await MountedChild.startEngine({
    mountpoint: mnt,
    apiUrl: api,
    account: 'bench-upload',
    env: {
      XDG_CONFIG_HOME: path.join(root, 'engine', 'config'),
      XDG_STATE_HOME: path.join(root, 'engine', 'state'),
      XDG_CACHE_HOME: path.join(root, 'engine', 'cache'),
      XDG_RUNTIME_DIR: path.join(root, 'engine', 'run'),
    },
    kernelCacheSec: KERNEL_CACHE_SEC,
    nodeArgs: profArgs,
    engineArgs: ['--write-back', String(cfg.writeBackMs), '--uploads', String(cfg.uploads)],
  });
  cleanup.add('stop the engine', () => engine.stop());

  // ---- 1 GiB: raw ingest, bare passthrough cp, cp through the mount, raw ingest again --------------
  const raw1 = await rawIngest(api, 'raw-1.bin', localFile, size);
  const rawFile = await serverFile(emu, '/raw-1.bin');
  if (rawFile?.size !== size || rawFile.hash !== localHash) throw new Error(`raw ingest stored ${JSON.stringify(rawFile)}, expected ${size} bytes with ${localHash}`);

  const bareCp = await runProgram('cp', [localFile, path.join(bare.dir, 'large.bin')]);
  await rm(path.join(bare.local, 'large.bin'));
  const bareBigCp = await runProgram('cp', [localFile, path.join(bareBig.dir, 'large.bin')]);
  await rm(path.join(bareBig.local, 'large.bin'));

  const since = (await emu.admin.log({ since: Number.MAX_SAFE_INTEGER })).lastSeq;
  const rssBefore: number[] = [];
  for (let i = 0; i < 5; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 100));
    rssBefore.push(await statusMiB(engine.pid));
  }
  const rssBaseline = median(rssBefore);
  const sampler = new RssSampler(engine.pid, POLL_MS);
  const wall0 = Date.now();
  const t0 = performance.now();
  let mountCp: Awaited<ReturnType<typeof runProgram>>;
  let onServerMs: number;
  try {
    mountCp = await runProgram('cp', [localFile, path.join(mnt, 'upload.bin')]);
    onServerMs = await until('the copied file on the server', t0, async () => {
      const f = await serverFile(emu, '/upload.bin');
      return f?.size === size && f.hash === localHash;
    });
  } finally {
    await sampler.stop();
  }
  const samples = sampler.samples;
  const rssPeak = sampler.peak;
  const peakAt = samples.find((s) => s.mib === rssPeak)!.at - t0;
  await new Promise((r) => setTimeout(r, 1000));
  const rssAfter = await statusMiB(engine.pid);
  const uploadLog = (await emu.admin.log({ since })).entries;
  const sessionStart = uploadLog.find((e) => e.method === 'POST' && e.path.includes('createUploadSession'));
  const fragments = uploadLog.filter((e) => e.listener === 'storage' && e.method === 'PUT');
  const lastFragment = fragments[fragments.length - 1];
  const uploadPhaseMs = sessionStart && lastFragment ? lastFragment.at + lastFragment.ms - sessionStart.at : undefined;
  const cpEndToSession = sessionStart ? sessionStart.at - wall0 - mountCp.ms : undefined;

  const raw2 = await rawIngest(api, 'raw-2.bin', localFile, size);
  const rawMean = (raw1 + raw2) / 2;

  // ---- small files: tmpfs, bare passthrough, mount; interleaved round by round ------------------
  const small = { tmpfs: [] as number[], bare: [] as number[], mount: [] as number[] };
  const toServer: Array<{ afterClose: number; afterFirst: number }> = [];
  const smallRss: number[] = [];
  for (let round = 0; round < smallRounds; round++) {
    const folder = `small-${round}`;
    for (const [key, base] of [
      ['tmpfs', tmpfs],
      ['bare', barePt],
      ['mount', mnt],
    ] as const) {
      const dir = path.join(base, folder);
      await runProgram('mkdir', [dir]);
      if (key !== 'mount') {
        small[key].push(await writeSmallFiles(dir, smallCount, smallSize));
        continue;
      }
      const filesBefore = (await emu.admin.info()).files;
      const smallSampler = new RssSampler(engine.pid, POLL_MS);
      try {
        const ms = await writeSmallFiles(dir, smallCount, smallSize);
        const closed = performance.now();
        small.mount.push(ms);
        const afterClose = await until(`${smallCount} small files on the server`, closed, async () => (await emu.admin.info()).files >= filesBefore + smallCount);
        toServer.push({ afterClose, afterFirst: afterClose + ms });
      } finally {
        await smallSampler.stop();
      }
      smallRss.push(smallSampler.peak);
      for (const i of [0, smallCount - 1]) {
        const f = await serverFile(emu, `/${folder}/${smallName(i)}`);
        const want = quickXorHash(smallFileBytes(i, smallSize));
        if (f?.size !== smallSize || f.hash !== want) throw new Error(`/${folder}/${smallName(i)} on the server: ${JSON.stringify(f)}, expected ${smallSize} bytes with ${want}`);
      }
    }
  }

  await cleanup.run();

  // ---- report --------------------------------------------------------------------------------------
  const sizeTxt = size >= GiB ? `${fmt(size / GiB, 2)} GiB` : `${fmt(size / MiB, 0)} MiB`;
  const rawRate = mbps(size, rawMean);
  const endToEnd = mbps(size, onServerMs);
  const rate = (ms: number) => (smallCount / ms) * 1000;
  const mTmpfs = median(small.tmpfs);
  const mBare = median(small.bare);
  const mMount = median(small.mount);
  const runs = (xs: number[]) => xs.map((x) => fmt(x, 0)).join(' ');
  const rows: Row[] = [
    { what: `local random file (${sizeTxt}) written + hashed`, value: `${fmt(genMs / 1000, 2)} s`, note: 'setup, not measured against anything' },
    { what: 'raw ingest: session, 10 MiB fragments (before)', value: `${fmt(mbps(size, raw1))} MiB/s`, note: `${fmt(raw1 / 1000, 2)} s, sent from this process (undici's request, as the engine), fragments read from the page cache` },
    { what: 'raw ingest (after)', value: `${fmt(mbps(size, raw2))} MiB/s`, note: `${fmt(raw2 / 1000, 2)} s; the ratios below use the mean, ${fmt(rawRate)} MiB/s` },
    { what: `cp ${sizeTxt} into bare fuse-native passthrough`, value: `${fmt(mbps(size, bareCp.ms))} MiB/s`, note: `${fmt(bareCp.ms / 1000, 2)} s: the FUSE write floor (same disk as the engine's cache)` },
    { what: '  same, bare passthrough mounted with big_writes', value: `${fmt(mbps(size, bareBigCp.ms))} MiB/s`, note: `${fmt(bareBigCp.ms / 1000, 2)} s: 128 KiB FUSE writes instead of 4 KiB, as the engine mounts` },
    { what: `cp ${sizeTxt} into OneMount (cp alone)`, value: `${fmt(mbps(size, mountCp.ms))} MiB/s`, note: `${fmt(mountCp.ms / 1000, 2)} s = ${fmt(bareCp.ms / mountCp.ms, 2)}× the bare passthrough's speed` },
    {
      what: 'OneMount: cp start → server holds it (hash ok)',
      value: `${fmt(endToEnd)} MiB/s`,
      note: `${fmt(onServerMs / 1000, 2)} s: cp ${fmt(mountCp.ms / 1000, 2)} s` +
        (cpEndToSession !== undefined ? ` + ${fmt(cpEndToSession / 1000, 2)} s to the session (write-back ${cfg.writeBackMs} ms)` : '') +
        (uploadPhaseMs !== undefined ? ` + upload ${fmt(uploadPhaseMs / 1000, 2)} s` : ''),
    },
    { what: '  → end to end / raw ingest', value: `${fmt(endToEnd / rawRate, 2)}×`, note: 'target ≥ 0.8×' },
    {
      what: '  → the most it can be with the upload after the write',
      value: `${fmt(rawMean / (mountCp.ms + cfg.writeBackMs + rawMean), 2)}×`,
      note:
        'raw ÷ (cp + write-back + raw): every fragment of a session states the file\'s final size (docs/graph-api.md §7.3), ' +
        'which a file being written does not have yet, so the upload starts once it is closed and quiet',
    },
    ...(uploadPhaseMs !== undefined
      ? [{ what: '  upload phase alone (session → last fragment)', value: `${fmt(mbps(size, uploadPhaseMs))} MiB/s`, note: `${fmt(mbps(size, uploadPhaseMs) / rawRate, 2)}× raw ingest · ${describeRequests(uploadLog)}` }]
      : []),
    { what: 'engine RSS before the cp (baseline)', value: `${fmt(rssBaseline)} MiB`, note: `median of ${rssBefore.length}` },
    { what: 'engine RSS peak during cp + upload', value: `${fmt(rssPeak)} MiB`, note: `${samples.length} samples every ${POLL_MS} ms; peak ${fmt(peakAt / 1000, 1)} s after cp started` },
    { what: '  → RSS growth', value: `${fmt(rssPeak - rssBaseline)} MiB`, note: `target ≤ 64 MiB; ${fmt(rssAfter)} MiB 1 s after the upload` },
    { what: `${smallCount} × ${smallSize} B create+write+close: tmpfs`, value: `${fmt(rate(mTmpfs), 0)} files/s`, note: `median of ${small.tmpfs.length}: ${runs(small.tmpfs)} ms` },
    { what: '  bare fuse-native passthrough', value: `${fmt(rate(mBare), 0)} files/s`, note: `median of ${small.bare.length}: ${runs(small.bare)} ms = ${fmt(mTmpfs / mBare, 2)}× tmpfs` },
    { what: '  OneMount', value: `${fmt(rate(mMount), 0)} files/s`, note: `median of ${small.mount.length}: ${runs(small.mount)} ms = ${fmt(mTmpfs / mMount, 2)}× tmpfs` },
    { what: '  → OneMount / bare passthrough', value: `${fmt(mBare / mMount, 2)}×`, note: 'target ≥ 0.5×' },
    {
      what: `  all ${smallCount} on the server, after the last close`,
      value: `${fmt(median(toServer.map((t) => t.afterClose)) / 1000, 2)} s`,
      note: `median; rounds ${toServer.map((t) => fmt(t.afterClose / 1000, 1)).join(' ')} s (${toServer.map((t) => fmt(t.afterFirst / 1000, 1)).join(' ')} s after the first create); ${cfg.uploads} uploads at once, write-back ${cfg.writeBackMs} ms`,
    },
    { what: '  engine RSS peak during small files', value: `${fmt(Math.max(...smallRss))} MiB` },
  ];
  printTable('Upload (issue 4): writes through OneMount vs the raw emulator, a bare fuse-native passthrough and tmpfs', rows);
  if (cpuProfDir) console.log(`\nEngine and emulator CPU profiles: ${cpuProfDir}`);
}
