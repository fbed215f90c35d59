/**
 * Issue 5's lifecycle targets, measured (never pass/fail):
 * - delta apply: 10 000 remote changes (adds, then updates) applied by DeltaSync into a real store,
 *   against the emulator in its own process; the fetch of the same pages is timed on its own so the
 *   engine's share (plan + apply) shows apart from HTTP and JSON. Target < 2 s.
 * - shutdown: `onemount mount` SIGTERMed idle and while uploads and a download run; time until the
 *   process exits, and whether everything written reached the server after a restart. Targets: idle
 *   < 1 s, under load within the 30 s budget with nothing lost.
 * - idle with a 100 000-item drive: RSS and CPU (utime+stime from /proc/<pid>/stat) over ~10 s
 *   between delta polls (`--poll-interval 30`) after the first enumeration. Targets ≤ 150 MiB, ≈ 0.
 *
 * Sizes for a quick look: BENCH_DELTA_CHANGES, BENCH_IDLE_ITEMS, BENCH_LOAD_FILES.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EmulatorProcess } from '../emulator/src/spawn.ts';
import { createMemoryLogger } from '../src-main/base/logger.ts';
import { GraphClient, StaticTokenProvider } from '../src-main/graph/index.ts';
import { quickXorHash } from '../src-main/graph/quickxor.ts';
import { openTempStore } from '../src-main/store/testing/temp-store.ts';
import { DeltaSync } from '../src-main/sync/delta-sync.ts';
import { DELTA_SELECT } from '../src-main/sync/drive-item-mapping.ts';
import { withBenchRoot, type Cleanup } from './bench-root.ts';
import { envNumber, fmt, MiB, printTable, type Row } from './lib.ts';
import { MountedChild, runProgram } from './mount-processes.ts';
import { cpuTicks, statusMiB } from './rss-sampler.ts';
import { TaskRegistry } from '../src-main/lifecycle/task-registry.ts';

const TOKEN = 'emulator-token-not-a-secret-1234567890';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

// ---- delta apply ---------------------------------------------------------------------------------

interface DeltaRound {
  what: string;
  changes: number;
  syncMs: number;
  fetchMs: number;
}

/** Fetches every page of a delta link (what syncOnce fetches), without applying anything. */
async function fetchOnly(graph: GraphClient, link: string): Promise<{ ms: number; items: number }> {
  const t = performance.now();
  const batch = await graph.delta(link, { top: 1000, select: DELTA_SELECT });
  return { ms: performance.now() - t, items: batch.items.length };
}

async function deltaApply(root: string, cleanup: Cleanup, changes: number): Promise<DeltaRound[]> {
  const emu = await EmulatorProcess.start({ dataDir: path.join(root, 'emu-delta') });
  cleanup.add('delta emulator', () => emu.stop());
  const temp = openTempStore();
  cleanup.add('delta store', async () => temp.dispose());
  const graph = new GraphClient({ baseUrl: emu.info.apiUrl, tokenProvider: new StaticTokenProvider(TOKEN), requestTimeoutMs: 60_000, maxRetries: 2, retryBaseMs: 50, retryMaxMs: 500 });
  cleanup.add('delta graph client', () => graph.close());
  const memory = createMemoryLogger('info', 'bench-delta');
  const sync = new DeltaSync({ graph, store: temp.store, invalidator: { invalidate: () => undefined }, logger: memory.logger, tasks: new TaskRegistry({ logger: memory.logger }) });
  cleanup.add('delta sync', () => sync.stop());

  await emu.admin.generate({ folders: 10, filesPerFolder: 10, seed: 1 });
  await sync.syncOnce();
  const rounds: DeltaRound[] = [];
  const measure = async (what: string, n: number) => {
    const link = temp.store.driveState.get('deltaLink');
    if (!link) throw new Error('no delta link after the first enumeration');
    const fetched = await fetchOnly(graph, link);
    const result = await sync.syncOnce();
    if (result.items < n) throw new Error(`${what}: delta carried ${result.items} items, expected at least ${n}`);
    rounds.push({ what, changes: result.items, syncMs: result.ms, fetchMs: fetched.ms });
  };
  const folders = Math.max(1, Math.round(changes / 100));
  await emu.admin.generate({ under: 'Changes', folders, filesPerFolder: Math.round(changes / folders) - 1, seed: 2 });
  await measure(`${changes} added (${folders} folders)`, changes);
  // Updates: new content for every file generated above (one admin call each, made before timing).
  const paths: string[] = [];
  for (let f = 0; f < folders; f++) for (let i = 0; i < Math.round(changes / folders) - 1; i++) paths.push(`Changes/Folder ${String(f).padStart(4, '0')}/file-${String(i).padStart(5, '0')}.txt`);
  for (const p of paths) await emu.admin.remote({ op: 'write', path: p, size: 2048 });
  await measure(`${paths.length} content updates`, paths.length);
  return rounds;
}

// ---- engine processes ----------------------------------------------------------------------------

interface EngineSetup {
  emu: EmulatorProcess;
  mnt: string;
  env: NodeJS.ProcessEnv;
  account: string;
}

async function engineSetup(root: string, cleanup: Cleanup, name: string): Promise<EngineSetup> {
  const emu = await EmulatorProcess.start({ dataDir: path.join(root, `emu-${name}`) });
  cleanup.add(`${name} emulator`, () => emu.stop());
  const env: NodeJS.ProcessEnv = {
    XDG_CONFIG_HOME: path.join(root, name, 'config'),
    XDG_STATE_HOME: path.join(root, name, 'state'),
    XDG_CACHE_HOME: path.join(root, name, 'cache'),
    XDG_RUNTIME_DIR: path.join(root, name, 'run'),
  };
  const mnt = path.join(root, name, 'mnt');
  await mkdir(mnt, { recursive: true });
  return { emu, mnt, env, account: `bench-${name}` };
}

function startEngine(s: EngineSetup, engineArgs: string[]): Promise<MountedChild> {
  return MountedChild.startEngine({ mountpoint: s.mnt, apiUrl: s.emu.info.apiUrl, account: s.account, env: s.env, kernelCacheSec: 1, nodeArgs: [], engineArgs });
}

/** SIGTERM → exit, in ms (MountedChild.stop throws when the exit was not clean). */
async function timedStop(engine: MountedChild): Promise<number> {
  const t = performance.now();
  await engine.stop(60_000);
  return performance.now() - t;
}

interface ShutdownResult {
  idleMs: number;
  loadMs: number;
  filesWritten: number;
  onServerAtStop: number;
  lostAfterRestart: number;
  restartToAllMs: number;
}

async function serverHash(s: EngineSetup, p: string): Promise<string | undefined> {
  try {
    const item = await s.emu.admin.item(p);
    return (item.file as { hashes?: { quickXorHash?: string } } | undefined)?.hashes?.quickXorHash;
  } catch (e) {
    if (/→ 404/.test(String(e))) return undefined;
    throw e;
  }
}

async function shutdown(root: string, cleanup: Cleanup, files: number): Promise<ShutdownResult> {
  const s = await engineSetup(root, cleanup, 'shutdown');
  await s.emu.admin.remote({ op: 'mkdir', path: 'Load' });
  await s.emu.admin.remote({ op: 'write', path: 'Load/download.bin', size: 256 * MiB });
  const args = ['--poll-interval', '30', '--write-back', '200'];

  let engine = await startEngine(s, args);
  await sleep(1000);
  const idleMs = await timedStop(engine);

  // Under load: files written (each lands locally at once), uploads running slowly, a download in flight.
  engine = await startEngine(s, args);
  const scratch = path.join(root, 'shutdown', 'scratch');
  await mkdir(scratch, { recursive: true });
  const want = new Map<string, string>();
  const writes: Promise<unknown>[] = [];
  for (let i = 0; i < files; i++) {
    const size = i < 2 ? 24 * MiB + i : 256 * 1024 + i;
    const bytes = Buffer.alloc(size, i + 1);
    bytes.writeUInt32LE(i, 0);
    const src = path.join(scratch, `f-${i}.bin`);
    await writeFile(src, bytes);
    want.set(`Load/f-${i}.bin`, quickXorHash(bytes));
    writes.push(runProgram('cp', [src, path.join(s.mnt, 'Load', `f-${i}.bin`)]));
  }
  await s.emu.admin.setFaults({ latencyMs: 100, bandwidthBytesPerSec: 8 * MiB });
  await Promise.all(writes);
  const download = runProgram('dd', [`if=${path.join(s.mnt, 'Load', 'download.bin')}`, 'of=/dev/null', 'bs=1M'], { allowFailure: true });
  await sleep(1500);
  const loadMs = await timedStop(engine);
  const dd = await download;
  await s.emu.admin.resetFaults();
  let onServerAtStop = 0;
  for (const [p, hash] of want) if ((await serverHash(s, p)) === hash) onServerAtStop++;
  if (dd.code === 0) console.log('note: the download finished before the signal');

  const restarted = performance.now();
  engine = await startEngine(s, args);
  cleanup.add('shutdown engine', () => engine.stop(60_000));
  let lost = want.size;
  for (const deadline = performance.now() + 180_000; performance.now() < deadline; await sleep(500)) {
    lost = 0;
    for (const [p, hash] of want) if ((await serverHash(s, p)) !== hash) lost++;
    if (lost === 0) break;
  }
  return { idleMs, loadMs, filesWritten: want.size, onServerAtStop, lostAfterRestart: lost, restartToAllMs: performance.now() - restarted };
}

// ---- idle ----------------------------------------------------------------------------------------

interface IdleResult {
  items: number;
  mountMs: number;
  rssMiB: number;
  cpuMs: number;
  windowMs: number;
}

async function idle(root: string, cleanup: Cleanup, items: number): Promise<IdleResult> {
  const s = await engineSetup(root, cleanup, 'idle');
  const folders = Math.max(1, Math.round(items / 1000));
  await s.emu.admin.generate({ folders, filesPerFolder: Math.round(items / folders) - 1, seed: 3 });
  const engine = await startEngine(s, ['--poll-interval', '30']);
  cleanup.add('idle engine', () => engine.stop(60_000));
  // Let start-up work (the first poll right after mounting, GC) settle before the window.
  await sleep(3000);
  const hz = Number((await runProgramOutput('getconf', ['CLK_TCK'])).trim()) || 100;
  const windowStart = performance.now();
  const before = await cpuTicks(engine.pid);
  await sleep(10_000);
  const after = await cpuTicks(engine.pid);
  const windowMs = performance.now() - windowStart;
  return { items, mountMs: engine.startMs, rssMiB: await statusMiB(engine.pid), cpuMs: ((after - before) * 1000) / hz, windowMs };
}

async function runProgramOutput(cmd: string, args: string[]): Promise<string> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve, reject) => execFile(cmd, args, { timeout: 10_000 }, (e, out) => (e ? reject(e) : resolve(out))));
}

// ---- the table -----------------------------------------------------------------------------------

export async function run(): Promise<void> {
  const changes = envNumber('BENCH_DELTA_CHANGES', 10_000);
  const idleItems = envNumber('BENCH_IDLE_ITEMS', 100_000);
  const loadFiles = envNumber('BENCH_LOAD_FILES', 30);
  await withBenchRoot('onemount-bench-lifecycle-', async (root, cleanup) => {
    const rows: Row[] = [];
    for (const r of await deltaApply(root, cleanup, changes)) {
      const engineMs = r.syncMs - r.fetchMs;
      rows.push({ what: `delta: ${r.what}, whole syncOnce`, value: `${fmt(r.syncMs, 0)} ms`, note: `${fmt((r.changes / r.syncMs) * 1000, 0)} changes/s` });
      rows.push({
        what: `delta: ${r.what}, engine share (syncOnce − fetch)`,
        value: `${fmt(engineMs, 0)} ms`,
        note: `fetch alone ${fmt(r.fetchMs, 0)} ms; ${fmt(engineMs / 2000, 2)}× the 2 s target`,
      });
    }
    const sd = await shutdown(root, cleanup, loadFiles);
    rows.push({ what: 'shutdown idle (SIGTERM → exit)', value: `${fmt(sd.idleMs, 0)} ms`, note: `${fmt(sd.idleMs / 1000, 2)}× the 1 s target` });
    rows.push({
      what: `shutdown under load (${sd.filesWritten} files written, uploads + a download running)`,
      value: `${fmt(sd.loadMs, 0)} ms`,
      note: `${fmt(sd.loadMs / 30_000, 2)}× the 30 s budget; ${sd.onServerAtStop}/${sd.filesWritten} on the server at exit`,
    });
    rows.push({
      what: 'after restart: files lost',
      value: String(sd.lostAfterRestart),
      note: `all ${sd.filesWritten - sd.lostAfterRestart} on the server ${fmt(sd.restartToAllMs / 1000, 1)} s after the restart began`,
    });
    const id = await idle(root, cleanup, idleItems);
    rows.push({ what: `idle, ${id.items} items: first enumeration + mount`, value: `${fmt(id.mountMs / 1000, 1)} s` });
    rows.push({ what: `idle, ${id.items} items: RSS`, value: `${fmt(id.rssMiB, 0)} MiB`, note: `${fmt(id.rssMiB / 150, 2)}× the 150 MiB target` });
    rows.push({
      what: `idle, ${id.items} items: CPU between polls`,
      value: `${fmt(id.cpuMs, 0)} ms in ${fmt(id.windowMs / 1000, 1)} s`,
      note: `${fmt((id.cpuMs / id.windowMs) * 100, 2)} % of one core`,
    });
    printTable('lifecycle: delta apply, shutdown, idle', rows);
  });
}
