/**
 * Issue 5's concurrency tests, end to end: many workers at once on a real mount served by the engine
 * (its own process) against the emulator (its own process). The workers run in worker programs
 * (e2e/fs-worker.ts, several workers per program, each with its own libuv pool so the calls really
 * overlap); every op's answer is checked there against the plan made here, which knows what each one
 * must return. Afterwards the server must hold what the mount shows.
 *
 * One drive and one engine serve the file; the tests run in order, and the ones that take the
 * network away or stop the engine come last.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdir, open, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { quickXorHash } from '../src-main/graph/quickxor.ts';
import { comparable, eventually, findTree, logPosition, MountHarness, run, serverTree, settledLog, parseRange, type TreeEntry } from './harness.ts';
import { contentOf, latencyTable, prng, sha256, summarize, type ContentSpec, type FsOp, type OpResult, type ProcessResult, type WorkerPlan } from './fs-ops.ts';

const KiB = 1024;
const MiB = 1024 * KiB;
const WORKER = path.join(import.meta.dirname, 'fs-worker.ts');
const SHARED = Array.from({ length: 5 }, (_, i) => ({ path: `Shared/s-${i}.txt`, text: `shared file ${i}\n`.repeat(50 + i * 40) }));
const LARGE = [0, 1, 2].map((i) => `Large/big-${i}.bin`);
const LARGE_SIZE = 8 * MiB;
const STRESS_FILES = 100;
const stressPath = (i: number) => `Stress/Big/entry-${String(i).padStart(6, '0')}.dat`;
const UPDOWN = [0, 1, 2, 3].map((i) => `UpDown/dl-${i}.bin`);
const UPDOWN_SIZE = 6 * MiB;
const STORM = [0, 1].map((i) => `Storm/seeded-${i}.bin`);
const GATE = [0, 1, 2, 3].map((i) => `Storm/gate-seeded-${i}.bin`);
const NETLOSS_DOWN = 'NetLoss/down.bin';
const NETLOSS_DOWN_SIZE = 24 * MiB;
/** A namespace op racing another may meet these; anything else is a failure. */
const RACY = ['ENOENT', 'EEXIST', 'ENOTEMPTY', 'ENOTDIR', 'EISDIR'];

let h: MountHarness;
/** Server bytes of seeded files, fetched once. */
const seeded = new Map<string, Buffer>();
let planSeq = 0;

/** Runs worker programs at once (one per entry of `processes`) and returns their results. */
async function runWorkers(processes: WorkerPlan[][], opTimeoutMs = 20_000): Promise<ProcessResult[]> {
  const dir = path.join(h.root, 'plans');
  await mkdir(dir, { recursive: true });
  return Promise.all(
    processes.map(async (workers) => {
      const file = path.join(dir, `plan-${++planSeq}.json`);
      await writeFile(file, JSON.stringify({ opTimeoutMs, workers }));
      const ops = workers.reduce((n, w) => n + w.ops.length, 0);
      const env = { ...process.env, UV_THREADPOOL_SIZE: String(Math.min(128, Math.max(4, workers.length * 2))) };
      // Hang guard only: every op has its own timeout inside the worker.
      const r = await run(process.execPath, ['--import', 'tsx', WORKER, file], { env, timeoutMs: opTimeoutMs * 2 + ops * 2000 });
      if (r.code !== 0) throw new Error(`the worker program exited with ${r.code ?? r.signal}: ${r.stderr}`);
      const out = JSON.parse(r.stdout) as ProcessResult;
      expect(out.results.length, `every planned op of ${workers.map((w) => w.name).join(', ')} ran`).toBe(ops);
      return out;
    }),
  );
}

/** Workers dealt round-robin into `n` programs. */
function deal(workers: WorkerPlan[], n: number): WorkerPlan[][] {
  const out: WorkerPlan[][] = Array.from({ length: n }, () => []);
  workers.forEach((w, i) => out[i % n]!.push(w));
  return out.filter((p) => p.length > 0);
}

const all = (runs: ProcessResult[]): OpResult[] => runs.flatMap((r) => r.results);

/** No op failed or hung; allowed errnos are fine. */
function expectNoFailures(results: OpResult[]): void {
  const bad = results.filter((r) => r.outcome === 'failed' || r.outcome === 'timeout');
  expect(bad.map((r) => `${r.worker}#${r.index} ${r.op} ${r.target}: ${r.outcome} ${r.detail ?? ''}`)).toEqual([]);
}

const mnt = (p: string) => h.at(...p.split('/'));

interface ServerFile {
  size: number;
  hash?: string;
}

async function serverFile(p: string): Promise<ServerFile | undefined> {
  try {
    const item = await h.admin.item(p);
    const file = item.file as { hashes?: { quickXorHash?: string } } | undefined;
    return { size: Number(item.size), hash: file?.hashes?.quickXorHash };
  } catch (e) {
    if (/→ 404/.test(String(e))) return undefined;
    throw e;
  }
}

/** Waits until the server holds exactly these bytes at each path (null: nothing there). */
async function serverHolds(files: Map<string, Buffer | null>, timeoutMs = 60_000): Promise<void> {
  const want = new Map([...files].map(([p, b]) => [p, b && { size: b.length, hash: quickXorHash(b) }]));
  await eventually(
    `${files.size} files on the server`,
    async () => {
      const wrong: string[] = [];
      for (const [p, w] of want) {
        const f = await serverFile(p);
        if (w === null ? f !== undefined : f?.size !== w.size || f.hash !== w.hash) wrong.push(`${p} (server ${f ? `${f.size} bytes` : 'missing'}, want ${w ? `${w.size} bytes` : 'missing'})`);
      }
      if (wrong.length) throw new Error(`${wrong.length} differ: ${wrong.slice(0, 8).join('; ')}`);
      return true;
    },
    timeoutMs,
    300,
  );
}

/** The server's tree below `dir`, keyed like findTree(mount/dir). */
async function serverSubtree(dir: string): Promise<Map<string, TreeEntry>> {
  const tree = comparable(await serverTree(h.emulator.info.apiUrl));
  const out = new Map<string, TreeEntry>();
  for (const [p, e] of tree) if (p.startsWith(dir + '/')) out.set(p.slice(dir.length + 1), { ...e, path: p.slice(dir.length + 1) });
  return out;
}

/** Waits until the mount's tree below `dir` and the server's are the same (names, kinds, sizes, file hashes). */
async function treesAgree(dir: string, timeoutMs = 60_000): Promise<Map<string, TreeEntry>> {
  return eventually(
    `${dir}: the mount and the server agree`,
    async () => {
      const local = comparable(await findTree(mnt(dir)));
      const server = await serverSubtree(dir);
      expect(local).toEqual(server);
      for (const [p, e] of local) {
        if (e.kind !== 'file') continue;
        const bytes = await readFile(mnt(`${dir}/${p}`));
        const f = await serverFile(`${dir}/${p}`);
        if (f?.hash !== quickXorHash(bytes)) throw new Error(`${dir}/${p}: the server's bytes differ from the mount's`);
      }
      return local;
    },
    timeoutMs,
    500,
  );
}

function pick<T>(rnd: () => number, xs: readonly T[]): T {
  if (xs.length === 0) throw new Error('pick from nothing');
  return xs[Math.floor(rnd() * xs.length)]!;
}

function printLatencies(title: string, results: OpResult[]): void {
  console.log(`${title}\n${latencyTable(results)}`);
}

/**
 * Waits for `n` delta requests that start from now on (the emulator logs each when its answer
 * closes). Polls run one after another, so the second one began after the first one's changes were
 * applied: a delta poll that saw everything up to now has been applied.
 */
async function deltaPollsFromNow(n: number): Promise<void> {
  const since = await logPosition(h.admin);
  const t0 = Date.now();
  await eventually(`${n} delta polls`, async () => {
    const { entries } = await h.admin.log({ since, listener: 'api', path: 'delta' });
    return entries.filter((e) => e.at >= t0).length >= n ? true : undefined;
  }, 30_000, 100);
}

describe('concurrency on a real mount', () => {
  beforeAll(async () => {
    h = await MountHarness.start({
      seed: async (admin) => {
        for (const dir of ['Shared', 'Large', 'Access', 'Deadlock', 'Deadlock/a', 'Deadlock/b', 'Dirs', 'UpDown', 'Storm', 'NetLoss', 'Shutdown', 'Known']) await admin.remote({ op: 'mkdir', path: dir });
        for (const s of SHARED) await admin.remote({ op: 'write', path: s.path, content: s.text });
        for (const p of LARGE) await admin.remote({ op: 'write', path: p, size: LARGE_SIZE });
        await admin.generate({ under: 'Stress', bigFolder: STRESS_FILES, fileSize: [4 * KiB, 64 * KiB], seed: 5 });
        for (const p of UPDOWN) await admin.remote({ op: 'write', path: p, size: UPDOWN_SIZE });
        for (const p of [...STORM, ...GATE]) await admin.remote({ op: 'write', path: p, size: 1 * MiB });
        await admin.remote({ op: 'write', path: NETLOSS_DOWN, size: NETLOSS_DOWN_SIZE });
        await admin.remote({ op: 'write', path: 'Known/target.txt', content: 'the server version\n' });
      },
      // Delta every 30 s, not every second: the workers' many uploads should not meet a delta poll
      // between a commit and its answer by chance; the lost-answer test below makes that race
      // certain on purpose, with its own engine polling every second. Debug: every Graph request is
      // logged with its duration (the throttle test reads when each began).
      engineArgs: ['--write-back', '200', '--poll-interval', '30', '--log-level', 'debug'],
    });
    const toFetch = [...SHARED.map((s) => s.path), ...LARGE, ...UPDOWN, ...STORM, ...GATE, ...Array.from({ length: STRESS_FILES }, (_, i) => stressPath(i))];
    for (const p of toFetch) seeded.set(p, await h.admin.content(p));
  }, 120_000);

  afterAll(async () => {
    await h?.close();
  }, 90_000);

  it('concurrent file access: 10 workers × 20 mixed ops on their own files and shared ones, then the server equals the mount', async () => {
    const final = new Map<string, Buffer | null>();
    const workers: WorkerPlan[] = [];
    for (let w = 0; w < 10; w++) {
      const rnd = prng(100 + w);
      const mine = new Map<string, Buffer>();
      const ops: FsOp[] = [];
      let n = 0;
      const fresh = () => `Access/w${w}-${n++}.bin`;
      const spec = (i: number, max: number): ContentSpec => ({ seed: w * 1000 + i, size: pick(rnd, [0, 1, 100, 4096, Math.floor(rnd() * max)]) });
      for (let i = 0; i < 20; i++) {
        const r = rnd();
        const own = [...mine.keys()];
        if (own.length === 0 || r < 0.2) {
          const p = fresh();
          const c = spec(i, 200 * KiB);
          ops.push({ op: 'write', path: mnt(p), content: c });
          mine.set(p, contentOf(c));
        } else if (r < 0.32) {
          // Rewriting a file (emptying it too) while its previous upload may still be under way.
          const p = pick(rnd, own);
          const c = spec(i, 8 * KiB);
          ops.push({ op: 'write', path: mnt(p), content: c });
          mine.set(p, contentOf(c));
        } else if (r < 0.45) {
          const p = pick(rnd, own);
          const c = { seed: w * 1000 + i, size: 1 + Math.floor(rnd() * 8 * KiB) };
          ops.push({ op: 'append', path: mnt(p), content: c });
          mine.set(p, Buffer.concat([mine.get(p)!, contentOf(c)]));
        } else if (r < 0.6) {
          const p = pick(rnd, own);
          ops.push({ op: 'read', path: mnt(p), sha256: sha256(mine.get(p)!) });
        } else if (r < 0.67) {
          const p = pick(rnd, own);
          ops.push({ op: 'stat', path: mnt(p), size: mine.get(p)!.length });
        } else if (r < 0.77) {
          const from = pick(rnd, own);
          const to = fresh();
          ops.push({ op: 'rename', from: mnt(from), to: mnt(to) });
          mine.set(to, mine.get(from)!);
          mine.delete(from);
          final.set(from, null);
        } else if (r < 0.85) {
          const p = pick(rnd, own);
          ops.push({ op: 'unlink', path: mnt(p) });
          mine.delete(p);
          final.set(p, null);
        } else {
          const s = pick(rnd, SHARED);
          ops.push({ op: 'read', path: mnt(s.path), sha256: sha256(Buffer.from(s.text)) });
        }
      }
      for (const [p, b] of mine) final.set(p, b);
      workers.push({ name: `access-${w}`, ops });
    }
    const runs = await runWorkers(deal(workers, 5));
    const results = all(runs);
    expectNoFailures(results);
    printLatencies('concurrent file access (10 × 20):', results);
    await serverHolds(final);
    const tree = await treesAgree('Access');
    expect([...tree.keys()].sort()).toEqual([...final].filter(([, b]) => b !== null).map(([p]) => p.slice('Access/'.length)).sort());
  }, 120_000);

  it('concurrent cache operations: 15 workers × 30 reads of overlapping ranges of large files, every byte as on the server', async () => {
    const since = await logPosition(h.admin);
    const workers: WorkerPlan[] = [];
    for (let w = 0; w < 15; w++) {
      const rnd = prng(200 + w);
      const ops: FsOp[] = [];
      for (let i = 0; i < 30; i++) {
        const file = pick(rnd, LARGE);
        const bytes = seeded.get(file)!;
        if (rnd() < 0.04) {
          ops.push({ op: 'read', path: mnt(file), sha256: sha256(bytes) });
          continue;
        }
        // Hot zones make the workers' ranges overlap, inside one chunk and across chunk edges.
        const offset = Math.min(LARGE_SIZE - 1, Math.floor(rnd() * 8) * MiB + Math.floor(rnd() * 3) * (MiB / 2) - (rnd() < 0.3 ? 4096 : 0) + Math.floor(rnd() * 64 * KiB));
        const length = 1 + Math.floor(rnd() * 384 * KiB);
        const end = Math.min(LARGE_SIZE, Math.max(0, offset) + length);
        ops.push({ op: 'readRange', path: mnt(file), offset: Math.max(0, offset), length, sha256: sha256(bytes.subarray(Math.max(0, offset), end)) });
      }
      workers.push({ name: `cache-${w}`, ops });
    }
    const runs = await runWorkers(deal(workers, 5));
    const results = all(runs);
    expectNoFailures(results);
    printLatencies('concurrent cache operations (15 × 30):', results);
    for (const file of LARGE) expect((await readFile(mnt(file))).equals(seeded.get(file)!), file).toBe(true);
    const fetched = (await settledLog(h, 'storage', since)).filter((e) => e.method === 'GET').reduce((n, e) => {
      const r = parseRange(e.range, LARGE_SIZE);
      return n + (r.end - r.start);
    }, 0);
    console.log(`cache operations: ${(fetched / MiB).toFixed(1)} MiB fetched for ${LARGE.length} files of ${LARGE_SIZE / MiB} MiB (${(fetched / (LARGE.length * LARGE_SIZE)).toFixed(2)}× their size)`);
  }, 120_000);

  it('deadlock prevention: 8 workers racing namespace and content ops on shared names, every op answered within its timeout', async () => {
    const names = ['n0', 'n1', 'n2', 'n3'];
    const dirs = ['Deadlock/a', 'Deadlock/b', 'Deadlock/a/s', 'Deadlock/b/s'];
    const workers: WorkerPlan[] = [];
    for (let w = 0; w < 8; w++) {
      const rnd = prng(300 + w);
      const ops: FsOp[] = [];
      const file = () => mnt(`${pick(rnd, dirs)}/${pick(rnd, names)}`);
      for (let i = 0; i < 25; i++) {
        const r = rnd();
        const allow = RACY;
        if (r < 0.2) ops.push({ op: 'write', path: file(), content: { seed: w * 100 + i, size: Math.floor(rnd() * 96 * KiB) }, allow });
        else if (r < 0.3) ops.push({ op: 'append', path: file(), content: { seed: w * 100 + i, size: 1 + Math.floor(rnd() * 4 * KiB) }, allow });
        else if (r < 0.42) ops.push({ op: 'read', path: file(), allow });
        else if (r < 0.5) ops.push({ op: 'stat', path: file(), allow });
        else if (r < 0.65) ops.push({ op: 'rename', from: file(), to: file(), allow });
        else if (r < 0.72) ops.push({ op: 'unlink', path: file(), allow });
        else if (r < 0.79) ops.push({ op: 'mkdir', path: mnt(`${pick(rnd, ['Deadlock/a', 'Deadlock/b'])}/s`), allow });
        else if (r < 0.84) ops.push({ op: 'rmdir', path: mnt(`${pick(rnd, ['Deadlock/a', 'Deadlock/b'])}/s`), allow });
        else if (r < 0.9) ops.push({ op: 'rename', from: mnt(`${pick(rnd, ['Deadlock/a', 'Deadlock/b'])}/s`), to: mnt(`${pick(rnd, ['Deadlock/a', 'Deadlock/b'])}/s`), allow });
        else ops.push({ op: 'readdir', path: mnt(pick(rnd, dirs)), allow });
      }
      workers.push({ name: `deadlock-${w}`, ops });
    }
    const runs = await runWorkers(deal(workers, 2), 15_000);
    const results = all(runs);
    printLatencies('deadlock prevention (8 × 25, 15 s timeout per op):', results);
    const outcomes = new Map<string, number>();
    for (const r of results) outcomes.set(r.outcome, (outcomes.get(r.outcome) ?? 0) + 1);
    console.log(`deadlock prevention outcomes: ${JSON.stringify(Object.fromEntries(outcomes))}`);
    expectNoFailures(results);
    await treesAgree('Deadlock');
  }, 150_000);

  it('high-concurrency stress: 50 workers over 100 files (latency and throughput reported), then the server equals the mount', async () => {
    const final = new Map<string, Buffer | null>();
    const workers: WorkerPlan[] = [];
    const readOnly = Array.from({ length: 50 }, (_, i) => stressPath(50 + i));
    for (let w = 0; w < 50; w++) {
      const rnd = prng(400 + w);
      const own = stressPath(w);
      let mine = seeded.get(own)!;
      const ops: FsOp[] = [];
      for (let i = 0; i < 20; i++) {
        const r = rnd();
        if (r < 0.55) {
          const p = pick(rnd, readOnly);
          ops.push({ op: 'read', path: mnt(p), sha256: sha256(seeded.get(p)!) });
        } else if (r < 0.7) {
          const c = { seed: 50_000 + w * 100 + i, size: 1 + Math.floor(rnd() * 64 * KiB) };
          ops.push({ op: 'write', path: mnt(own), content: c });
          mine = contentOf(c);
        } else if (r < 0.8) {
          const c = { seed: 60_000 + w * 100 + i, size: 1 + Math.floor(rnd() * 4 * KiB) };
          ops.push({ op: 'append', path: mnt(own), content: c });
          mine = Buffer.concat([mine, contentOf(c)]);
        } else if (r < 0.9) {
          ops.push({ op: 'read', path: mnt(own), sha256: sha256(mine) });
        } else {
          ops.push({ op: 'stat', path: mnt(own), size: mine.length });
        }
      }
      final.set(own, mine);
      workers.push({ name: `stress-${w}`, ops });
    }
    for (const p of readOnly) final.set(p, seeded.get(p)!);
    const runs = await runWorkers(deal(workers, 2));
    const results = all(runs);
    expectNoFailures(results);
    const wallMs = Math.max(...runs.map((r) => r.wallMs));
    const s = summarize(results.map((r) => r.ms));
    printLatencies('high-concurrency stress (50 workers × 20 ops, 100 files):', results);
    console.log(`stress: ${results.length} ops in ${wallMs.toFixed(0)} ms = ${((results.length / wallMs) * 1000).toFixed(0)} ops/s; p50 ${s.p50.toFixed(1)} ms, p95 ${s.p95.toFixed(1)} ms, max ${s.max.toFixed(1)} ms`);
    await serverHolds(final);
  }, 150_000);

  it('concurrent directory operations: 12 workers × 8 directories, listings consistent, final tree equals the server tree', async () => {
    const workers: WorkerPlan[] = [];
    const expected = new Map<string, TreeEntry>();
    const folder = (p: string) => expected.set(p, { path: p, kind: 'folder', size: 0 });
    for (let w = 0; w < 12; w++) {
      const base = `Dirs/w${w}`;
      const at = (p: string) => mnt(`${base}/${p}`);
      const ops: FsOp[] = [{ op: 'mkdir', path: mnt(base) }];
      for (let j = 0; j < 8; j++) ops.push({ op: 'mkdir', path: at(`d${j}`) });
      ops.push({ op: 'readdir', path: mnt(base), names: Array.from({ length: 8 }, (_, j) => `d${j}`) });
      ops.push({ op: 'write', path: at('d1/file.txt'), content: { seed: w, size: 1000 + w } });
      ops.push({ op: 'write', path: at('d3/file.txt'), content: { seed: 100 + w, size: 2000 + w } });
      ops.push({ op: 'mkdir', path: at('d2/inner') });
      ops.push({ op: 'mkdir', path: at('d0'), expectError: 'EEXIST' });
      for (const j of [0, 2, 4, 6]) ops.push({ op: 'rename', from: at(`d${j}`), to: at(`e${j}`) });
      ops.push({ op: 'rmdir', path: at('d1'), expectError: 'ENOTEMPTY' });
      ops.push({ op: 'rmdir', path: at('d5') }, { op: 'rmdir', path: at('d7') });
      ops.push({ op: 'readdir', path: mnt(base), names: ['d1', 'd3', 'e0', 'e2', 'e4', 'e6'] });
      ops.push({ op: 'readdir', path: at('e2'), names: ['inner'] });
      ops.push({ op: 'rename', from: at('e4'), to: at('d3/e4') });
      ops.push({ op: 'readdir', path: at('d3'), names: ['e4', 'file.txt'] });
      ops.push({ op: 'stat', path: at('d1/file.txt'), size: 1000 + w });
      ops.push({ op: 'readdir', path: mnt('Dirs'), includes: [`w${w}`] });
      workers.push({ name: `dirs-${w}`, ops });
      for (const p of ['', '/d1', '/d3', '/d3/e4', '/e0', '/e2', '/e2/inner', '/e6']) folder(`w${w}${p}`);
      expected.set(`w${w}/d1/file.txt`, { path: `w${w}/d1/file.txt`, kind: 'file', size: 1000 + w });
      expected.set(`w${w}/d3/file.txt`, { path: `w${w}/d3/file.txt`, kind: 'file', size: 2000 + w });
    }
    const runs = await runWorkers(deal(workers, 4));
    const results = all(runs);
    expectNoFailures(results);
    printLatencies('concurrent directory operations (12 × 8 directories):', results);
    const tree = await treesAgree('Dirs');
    expect(tree).toEqual(expected);
  }, 120_000);

  // Bugs these tests found, outside this folder (see the report); each flips to a pass once fixed.
  it('emptying an uploaded file with open(O_TRUNC) + close reaches the server', async () => {
    await writeFile(mnt('Known/emptied.txt'), 'a hundred bytes? no, but some\n');
    await serverHolds(new Map([['Known/emptied.txt', Buffer.from('a hundred bytes? no, but some\n')]]));
    // writeFile with no bytes: the kernel opens the file, then truncates it by path (FUSE SETATTR
    // without a file handle); the open handle must still count it as its change.
    await writeFile(mnt('Known/emptied.txt'), Buffer.alloc(0));
    expect((await readFile(mnt('Known/emptied.txt'))).length).toBe(0);
    await serverHolds(new Map([['Known/emptied.txt', Buffer.alloc(0)]]), 8_000);
  }, 60_000);

  it('a new file renamed over an existing one while a writer holds it open succeeds, as POSIX says', async () => {
    const fh = await open(mnt('Known/new.txt'), 'w');
    try {
      await fh.write('written by a program that still has the file open\n');
      await rename(mnt('Known/new.txt'), mnt('Known/target.txt'));
    } finally {
      await fh.close();
    }
    expect(await readFile(mnt('Known/target.txt'), 'utf8')).toBe('written by a program that still has the file open\n');
  }, 60_000);

  it('concurrent uploads and downloads at once: new files reach the server, uncached files read whole', async () => {
    const uploads = new Map<string, Buffer | null>();
    const writers: WorkerPlan[] = [];
    for (let w = 0; w < 4; w++) {
      const ops: FsOp[] = [];
      for (let k = 0; k < 2; k++) {
        const p = `UpDown/up-${w}-${k}.bin`;
        const c = { seed: 70_000 + w * 10 + k, size: 3 * MiB + w * 4097 + k };
        ops.push({ op: 'write', path: mnt(p), content: c });
        uploads.set(p, contentOf(c));
      }
      for (const [p, b] of uploads) if (p.startsWith(`UpDown/up-${w}-`)) ops.push({ op: 'read', path: mnt(p), sha256: sha256(b!) });
      writers.push({ name: `up-${w}`, ops });
    }
    const readers: WorkerPlan[] = UPDOWN.map((p, i) => ({ name: `down-${i}`, ops: [{ op: 'read', path: mnt(p), sha256: sha256(seeded.get(p)!) }] }));
    const started = Date.now();
    const runs = await runWorkers([writers, readers], 60_000);
    const clashes = (await h.engineLog()).split('\n').filter((l) => l.includes('took this name'));
    if (clashes.length) console.log(`uploads and downloads: the engine renamed local items away:\n${clashes.join('\n')}`);
    expectNoFailures(all(runs));
    await serverHolds(uploads, 90_000);
    const mib = (uploads.size * 3 + UPDOWN.length * (UPDOWN_SIZE / MiB));
    console.log(`uploads and downloads at once: ${mib.toFixed(0)} MiB moved (both ways) in ${Date.now() - started} ms until the server held every upload`);
  }, 150_000);

  it('a 429 storm with Retry-After during activity: uploads land afterwards, reads end in bounded time, files read whole', async () => {
    const since = await logPosition(h.admin);
    await h.admin.throttle({ status: 429, retryAfterSec: 2, count: 3 });
    try {
      const uploads = new Map<string, Buffer | null>();
      const workers: WorkerPlan[] = [0, 1, 2].map((w) => {
        const p = `Storm/up-${w}.bin`;
        const c = { seed: 80_000 + w, size: 100 * KiB + w };
        uploads.set(p, contentOf(c));
        return { name: `storm-up-${w}`, ops: [{ op: 'write', path: mnt(p), content: c }] };
      });
      // An uncached read waits at most uncachedReadTimeoutMs (10 s) and then fails with ETIMEDOUT
      // instead of hanging; a storm may use that up. The files are read again afterwards.
      for (const [i, p] of STORM.entries()) workers.push({ name: `storm-down-${i}`, ops: [{ op: 'read', path: mnt(p), sha256: sha256(seeded.get(p)!), allow: ['ETIMEDOUT'] }] });
      const results = all(await runWorkers([workers], 60_000));
      expectNoFailures(results);
      console.log(`429 storm: ${results.map((r) => `${r.worker} ${r.outcome} ${r.ms.toFixed(0)} ms`).join(', ')}`);
      await serverHolds(uploads, 120_000);
    } finally {
      await h.admin.resetFaults();
    }
    for (const p of STORM) expect((await readFile(mnt(p))).equals(seeded.get(p)!), p).toBe(true);
    const throttled = (await h.admin.log({ since })).entries.filter((e) => e.status === 429);
    const early = (await h.admin.clientFaults()).filter((f) => f.kind === 'retry-after-ignored' && f.at >= throttled[0]!.at - 60_000);
    console.log(`429 storm: ${throttled.length} answers 429 (${throttled.filter((e) => e.fault === 'retry-after-ignored').length} for coming back early)`);
    expect(throttled.length).toBeGreaterThanOrEqual(1);
    expect(early.length).toBe(throttled.filter((e) => e.fault === 'retry-after-ignored').length);
  }, 200_000);

  it('after a 429, no request is sent before its Retry-After ran out (only those already in flight arrive early)', async () => {
    const startedAt = Date.now();
    const since = await logPosition(h.admin);
    await h.admin.throttle({ status: 429, retryAfterSec: 1, count: 2 });
    try {
      // Several requests wait at the gate together: uncached reads and new uploads.
      const uploads = new Map<string, Buffer | null>();
      const workers: WorkerPlan[] = GATE.map((p, i) => ({ name: `gate-down-${i}`, ops: [{ op: 'read', path: mnt(p), sha256: sha256(seeded.get(p)!), allow: ['ETIMEDOUT'] }] }));
      for (let i = 0; i < 3; i++) {
        const c = { seed: 85_000 + i, size: 10 * KiB + i };
        uploads.set(`Storm/gate-${i}.bin`, contentOf(c));
        workers.push({ name: `gate-up-${i}`, ops: [{ op: 'write', path: mnt(`Storm/gate-${i}.bin`), content: c }] });
      }
      expectNoFailures(all(await runWorkers([workers], 60_000)));
      await serverHolds(uploads, 60_000);
    } finally {
      await h.admin.resetFaults();
    }
    const { entries } = await h.admin.log({ since });
    console.log(`throttle gate: requests after the first 429:\n${entries.map((e) => `  +${e.at - entries[0]!.at} ms ${e.method} ${e.path.slice(0, 70)} → ${e.status} ${e.fault ?? ''}`).join('\n')}`);
    // A request already on the wire when a 429 is answered cannot be called back; the emulator
    // counts it as early. Whether one was sent after the client saw a 429 is told by the client's
    // own clock (the emulator's arrival times lag under load): no request may start between a
    // pause being logged and its end (the engine logs every request with its duration, and each
    // pause with the time it ends).
    const log = (await h.engineLog())
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { time: number; msg: string; ms?: number; until?: number; method?: string; url?: string })
      .filter((line) => line.time >= startedAt);
    const pauses = log.filter((l) => l.msg === 'throttled: pausing every request').map((l) => ({ from: l.time, until: l.until ?? Number.NaN }));
    expect(pauses.length).toBeGreaterThan(0);
    // Each 429 paused the client (a Retry-After of 1 s is far from over when its answer is read).
    for (const p of pauses) expect(p.until).toBeGreaterThan(p.from);
    const sentDuring = log
      .filter((l) => l.msg === 'graph request')
      .map((l) => ({ start: l.time - l.ms!, what: `${l.method} ${l.url}` }))
      .filter((r) => pauses.some((p) => r.start > p.from && r.start < p.until));
    expect(sentDuring).toEqual([]);
  }, 120_000);

  // The race: the server commits a new file, its answer is lost, and a delta poll sees the new
  // server item in the local file's place before the upload manager matched it to the local file.
  it('a new file whose upload answer was lost keeps its name when a delta poll sees it first', async () => {
    // The commit happens, the answer is lost; the next delta (every second here) sees the new server
    // item with the local file's name before the upload manager has matched it to the local file.
    await h.stopEngine();
    await h.startEngine(['--poll-interval', '1']);
    const bytes = contentOf({ seed: 95_000, size: 5 * MiB });
    try {
      await h.admin.setFaults({ dropAfterCommitNext: 1 });
      // The upload asks its session how far it got; answering that with 503 for a while holds the
      // upload in its backoff, so the delta poll surely comes first (a race made certain).
      await h.admin.failNext({ status: 503, code: 'serviceNotAvailable', method: 'GET', pathIncludes: '/up/', listener: 'storage', count: 8 });
      await writeFile(mnt('Known/lost-answer.bin'), bytes);
      await serverHolds(new Map([['Known/lost-answer.bin', bytes]]), 60_000);
      await deltaPollsFromNow(2);
      const names = [...(await findTree(mnt('Known'))).keys()].filter((n) => n.includes('lost-answer'));
      console.log(`lost upload answer: the mount shows ${JSON.stringify(names)}`);
      expect(names).toEqual(['lost-answer.bin']);
      expect((await readFile(mnt('Known/lost-answer.bin'))).equals(bytes)).toBe(true);
    } finally {
      await h.admin.resetFaults();
      await h.stopEngine();
      await h.startEngine();
    }
  }, 120_000);

  it('network loss mid-transfer: the download fails cleanly, the upload resumes after the network is back and its hash matches', async () => {
    const upload = { path: 'NetLoss/up.bin', content: { seed: 90_000, size: 12 * MiB + 123 } };
    const uploadBytes = contentOf(upload.content);
    const since = await logPosition(h.admin);
    // Slow transfers, so both are surely in flight when the network goes.
    await h.admin.setFaults({ bandwidthBytesPerSec: 1 * MiB });
    let offlineAt = 0;
    try {
      expectNoFailures(all(await runWorkers([[{ name: 'netloss-up', ops: [{ op: 'write', path: mnt(upload.path), content: upload.content }] }]])));
      const download = run('dd', [`if=${mnt(NETLOSS_DOWN)}`, 'of=/dev/null', 'bs=1M'], { timeoutMs: 60_000 }).then((r) => ({ ...r, at: Date.now() }));
      await eventually('an upload session', async () => ((await h.admin.log({ since, path: 'createUploadSession' })).entries.length > 0 ? true : undefined), 30_000, 100);
      // Mid-transfer: the download's GET and an upload fragment's PUT are both being served.
      await eventually('the download and the upload in flight at once', async () => {
        const { entries, inflight } = await h.admin.log({ since: Number.MAX_SAFE_INTEGER });
        return entries.length === 0 && inflight >= 2 ? true : undefined;
      }, 30_000, 50);
      await h.admin.setOffline(true);
      offlineAt = Date.now();
      const dd = await download;
      console.log(`network loss: dd exited ${dd.code} ${dd.at - offlineAt} ms after the network went: ${dd.stderr.trim().split('\n')[0]}`);
      expect(dd.code).not.toBe(0);
      expect(dd.stderr).toMatch(/Network is down|Input\/output error|Connection timed out/);
      // The upload has met the outage (it waits for the network or retries) before the network returns.
      await eventually('the upload waiting out the outage', async () => {
        const row = (await h.status()).transfers.find((r) => r.path === `/${upload.path}`);
        return row && (row.state === 'waiting-for-network' || row.state === 'retrying') ? true : undefined;
      }, 60_000, 100);
    } finally {
      await h.admin.setOffline(false);
      await h.admin.resetFaults();
    }
    await serverHolds(new Map([[upload.path, uploadBytes]]), 120_000);
    console.log(`network loss: the upload landed ${Date.now() - offlineAt} ms after the network went`);
    // Back online the file reads whole.
    expect((await readFile(mnt(NETLOSS_DOWN))).equals(await h.admin.content(NETLOSS_DOWN))).toBe(true);
  }, 200_000);

  it('graceful shutdown under load: SIGTERM while uploads run exits within the budget, and after a restart nothing is lost', async () => {
    const files = new Map<string, Buffer | null>();
    const workers: WorkerPlan[] = [];
    for (let w = 0; w < 6; w++) {
      const ops: FsOp[] = [];
      for (let k = 0; k < 7; k++) {
        const p = `Shutdown/f-${w}-${k}.bin`;
        const c = { seed: 100_000 + w * 10 + k, size: k === 0 && w < 2 ? 6 * MiB + w : 64 * KiB + k * 1000 + w };
        ops.push({ op: 'write', path: mnt(p), content: c });
        files.set(p, contentOf(c));
      }
      workers.push({ name: `shutdown-${w}`, ops });
    }
    // Every request waits a little, so uploads are surely running when the signal comes; and the
    // two 6 MiB files go up too slowly to finish within the shutdown's budget (the uploads phase
    // finishes what it can), so they are persisted and resume after the restart.
    await h.admin.setFaults({ latencyMs: 150, bandwidthBytesPerSec: 256 * KiB });
    let exited: { code: number | null; signal: NodeJS.Signals | null };
    let stopMs: number;
    try {
      expectNoFailures(all(await runWorkers([workers])));
      // Past the write-back delay: uploads are being served (each held 150 ms by the latency).
      await eventually('uploads in flight', async () => ((await h.admin.log({ since: Number.MAX_SAFE_INTEGER })).inflight > 0 ? true : undefined), 30_000, 20);
      const t = Date.now();
      exited = await h.stopEngine();
      stopMs = Date.now() - t;
    } finally {
      await h.admin.resetFaults();
    }
    const onServer = (await Promise.all([...files.keys()].map(serverFile))).filter(Boolean).length;
    const log = await h.engineLog();
    const finished = log.split('\n').filter((l) => l.includes('"shutdown finished"')).pop() ?? '(no "shutdown finished" line)';
    console.log(`shutdown under load: exited ${JSON.stringify(exited)} after ${stopMs} ms with ${onServer}/${files.size} files on the server; ${finished}`);
    expect(exited).toEqual({ code: 0, signal: null });
    // The budget is 30 s; the margin covers process exit and the unmount.
    expect(stopMs).toBeLessThan(35_000);
    expect(onServer).toBeLessThan(files.size);
    await h.startEngine();
    await serverHolds(files, 120_000);
    await treesAgree('Shutdown');
  }, 240_000);
});
