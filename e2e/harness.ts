/**
 * End-to-end harness: the emulator in one process, the engine (`onemount mount`) in another, and the
 * test process touching the mount only through ordinary programs and asynchronous `fs` calls. A sync
 * call on the mount from a process that also serves it would deadlock; keeping the engine in its own
 * process means a stuck test can never freeze the filesystem it is testing.
 *
 * Everything lives under one temp root (`$TMPDIR/onemount-e2e/run-<pid>-…`), with its own XDG
 * directories and HOME, so nothing touches the real home. Cleanup always runs: SIGTERM the engine
 * (it unmounts gracefully), `fusermount -u -z` if the mount is still there, stop the emulator, remove
 * the run directory. Runs whose test process died are cleared by the next run (clearStaleRuns).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdir, mkdtemp, readdir, readFile, rename as renameDir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { EmulatorProcess, type AdminClient, type SpawnOptions } from '../emulator/src/spawn.ts';
import type { LogEntry } from '../emulator/src/request-log.ts';
import type { EngineStatus } from '../src-shared/ipc/contract.ts';

export const E2E_ROOT = path.join(os.tmpdir(), 'onemount-e2e');
const REPO = path.resolve(import.meta.dirname, '..');
const ONEMOUNT = path.join(REPO, 'src-main', 'app', 'cli', 'onemount.js');
export const ACCOUNT = 'e2e';
const RUN_PREFIX = 'run-';

// ---- programs ------------------------------------------------------------------------------------

export interface RunResult<T extends string | Buffer> {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: T;
  stderr: string;
}

export interface RunOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** A hang guard, not a speed check: the program is killed after this long. */
  timeoutMs?: number;
}

function execute(file: string, args: readonly string[], o: RunOptions, encoding: 'buffer' | 'utf8'): Promise<RunResult<string | Buffer>> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { env: o.env ?? process.env, cwd: o.cwd, timeout: o.timeoutMs ?? 60_000, killSignal: 'SIGKILL', maxBuffer: 256 << 20, encoding },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number' && !error.killed && error.signal == null) {
          reject(error);
          return;
        }
        if (error?.killed) {
          reject(new Error(`${file} ${args.join(' ')} did not finish within ${o.timeoutMs ?? 60_000} ms (killed)\n${String(stderr)}`));
          return;
        }
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
          signal: (error?.signal as NodeJS.Signals | undefined) ?? null,
          stdout,
          stderr: String(stderr),
        });
      },
    );
  });
}

/** Runs a program; never throws for a non-zero exit (the caller asserts on it). */
export function run(file: string, args: readonly string[], o: RunOptions = {}): Promise<RunResult<string>> {
  return execute(file, args, o, 'utf8') as Promise<RunResult<string>>;
}

export function runBuffer(file: string, args: readonly string[], o: RunOptions = {}): Promise<RunResult<Buffer>> {
  return execute(file, args, o, 'buffer') as Promise<RunResult<Buffer>>;
}

/** Runs a program and throws with its stderr if it fails. */
export async function runOk(file: string, args: readonly string[], o: RunOptions = {}): Promise<string> {
  const r = await run(file, args, o);
  if (r.code !== 0) throw new Error(`${file} ${args.join(' ')} exited with ${r.code ?? r.signal}: ${r.stderr.trim()}`);
  return r.stdout;
}

// ---- mounts --------------------------------------------------------------------------------------

/** Mount points in /proc/mounts (read asynchronously), with `\040`-style escapes decoded. */
export async function mountPoints(): Promise<string[]> {
  const text = await readFile('/proc/mounts', 'utf8');
  return text
    .split('\n')
    .map((line) => line.split(' ')[1])
    .filter((p): p is string => !!p)
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))));
}

export async function isMounted(dir: string): Promise<boolean> {
  return (await mountPoints()).includes(dir);
}

export async function lazyUnmount(dir: string): Promise<void> {
  if (!(await isMounted(dir))) return;
  const r = await run('fusermount', ['-u', '-z', dir], { timeoutMs: 15_000 });
  if (r.code !== 0 && (await isMounted(dir))) throw new Error(`fusermount -u -z ${dir} failed: ${r.stderr.trim()}`);
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a value other than undefined (or throws on timeout with the last failure). */
export async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000, everyMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(everyMs);
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function commandLine(pid: number): Promise<string> {
  try {
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
  } catch {
    return '';
  }
}

/**
 * The global guard: runs left behind by a test process that died (its pid is in the run folder's
 * name) get their engine and emulator stopped (checked by command line, so a reused pid is never
 * hit), their mounts lazily unmounted and their folder removed. Live runs of parallel test files are
 * left alone.
 */
export async function clearStaleRuns(root = E2E_ROOT): Promise<string[]> {
  await mkdir(root, { recursive: true });
  const cleared: string[] = [];
  for (const name of await readdir(root)) {
    const owner = Number(/^run-(\d+)-/.exec(name)?.[1]);
    if (!Number.isInteger(owner) || pidAlive(owner)) continue;
    const dir = path.join(root, name);
    const pids = await readFile(path.join(dir, 'pids'), 'utf8').catch(() => '');
    for (const line of pids.split('\n').filter(Boolean)) {
      const [kind, pidText] = line.split(' ');
      const pid = Number(pidText);
      const cmd = await commandLine(pid);
      const ours = kind === 'engine' ? cmd.includes(ONEMOUNT) && cmd.includes(dir) : cmd.includes('emulator') && cmd.includes(dir);
      if (ours) process.kill(pid, 'SIGKILL');
    }
    for (const mp of await mountPoints()) if (mp === dir || mp.startsWith(dir + '/')) await lazyUnmount(mp);
    await rm(dir, { recursive: true, force: true });
    cleared.push(dir);
  }
  return cleared;
}

// ---- the engine process --------------------------------------------------------------------------

export interface EngineStartOptions {
  mountpoint: string;
  apiUrl: string;
  env: NodeJS.ProcessEnv;
  account?: string;
  extraArgs?: string[];
  /** How long to wait for "Mounted …". */
  readyTimeoutMs?: number;
  /**
   * Also wait until the first enumeration of the drive is applied (a first start mounts before it,
   * docs/concurrency.md §3a), so that what a test does next does not race it. Default true.
   */
  untilIndexed?: boolean;
}

/** `onemount mount` running as its own process. */
export class EngineProcess {
  private out = '';
  private err = '';
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  exitStatus: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  /** The item count the engine printed when it mounted (0 on a first start, which lists the drive after mounting). */
  mountedItems = -1;

  private constructor(
    readonly child: ChildProcess,
    readonly mountpoint: string,
  ) {
    child.stdout!.setEncoding('utf8');
    child.stderr!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => (this.out += d));
    child.stderr!.on('data', (d: string) => (this.err += d));
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitStatus = { code, signal };
        resolve(this.exitStatus);
      }),
    );
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }
  get stdout(): string {
    return this.out;
  }
  get stderr(): string {
    return this.err;
  }

  static async start(o: EngineStartOptions): Promise<EngineProcess> {
    const args = [ONEMOUNT, 'mount', o.mountpoint, '--emulator-url', o.apiUrl, '--account', o.account ?? ACCOUNT, '--poll-interval', '1', '--kernel-cache', '1', ...(o.extraArgs ?? [])];
    const child = spawn(process.execPath, args, { env: o.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const engine = new EngineProcess(child, o.mountpoint);
    try {
      await engine.waitUntilMounted(o.readyTimeoutMs ?? 60_000);
      if (o.untilIndexed ?? true) await engine.waitUntilIndexed(o.account ?? ACCOUNT, o.env, o.readyTimeoutMs ?? 60_000);
    } catch (e) {
      await engine.stop();
      throw e;
    }
    return engine;
  }

  private async waitUntilMounted(timeoutMs: number): Promise<void> {
    const printed = new Promise<number>((resolve, reject) => {
      const lines = createInterface({ input: this.child.stdout! });
      lines.on('line', (line) => {
        // "Mounted N items at P." or, on a first start, "Mounted at P; the drive is listed in the background."
        const m = /^Mounted (?:(\d+) items? )?at (.*?)(?:; [^.]*)?\. Ctrl-C/.exec(line);
        if (m && m[2] === this.mountpoint) resolve(m[1] === undefined ? 0 : Number(m[1]));
      });
      void this.exited.then((s) => reject(new Error(`the engine exited before mounting (code ${s.code}, signal ${s.signal}):\n${this.out}\n${this.err}`)));
    });
    const timeout = sleep(timeoutMs).then(() => {
      throw new Error(`the engine did not mount within ${timeoutMs} ms:\n${this.out}\n${this.err}`);
    });
    this.mountedItems = await Promise.race([printed, timeout]);
    await eventually('the mount in /proc/mounts', async () => ((await isMounted(this.mountpoint)) ? true : undefined), 10_000, 50);
  }

  private async waitUntilIndexed(account: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<void> {
    await eventually(
      'the first enumeration of the drive to be applied',
      async () => {
        if (this.exitStatus) throw new Error(`the engine exited while indexing (code ${this.exitStatus.code}):\n${this.out}\n${this.err}`);
        const r = await run(process.execPath, [ONEMOUNT, 'status', '--json', '--account', account], { env, timeoutMs: 30_000 });
        if (r.code !== 0) return undefined;
        return (JSON.parse(r.stdout) as EngineStatus).indexing === undefined ? true : undefined;
      },
      timeoutMs,
      100,
    );
  }

  /**
   * SIGTERM (a graceful unmount), SIGKILL after `graceMs`; then clears the mount if it is still
   * there. An engine that ended its shutdown must have left no background task running: it
   * prints the count last, and a count above zero fails the stop.
   */
  async stop(graceMs = 30_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let killed = false;
    if (!this.exitStatus) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => {
        killed = true;
        this.child.kill('SIGKILL');
      }, graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    await lazyUnmount(this.mountpoint);
    if (!killed) this.checkTasksLeft();
    return this.exitStatus!;
  }

  /** Background tasks the engine reported left at the end of its shutdown, if it finished one. */
  get tasksLeft(): number | undefined {
    const m = /^Background tasks left: (\d+)\.$/m.exec(this.out);
    return m ? Number(m[1]) : undefined;
  }

  private checkTasksLeft(): void {
    const left = this.tasksLeft;
    // Exit code 0 after mounting means runMount's shutdown ran to its end, which prints the count.
    if (left === undefined && this.exitStatus?.code === 0 && this.mountedItems >= 0) {
      throw new Error(`the engine (pid ${this.pid}) exited after a shutdown without reporting its background tasks:\n${this.out}`);
    }
    if (left !== undefined && left > 0) {
      throw new Error(`the engine (pid ${this.pid}) ended its shutdown with ${left} background task(s) still running (see its log):\n${this.out}`);
    }
  }

  /** kill -9: leaves a stale mount behind, as a crash would. */
  async kill(): Promise<void> {
    if (!this.exitStatus) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

// ---- the whole setup -----------------------------------------------------------------------------

export interface HarnessOptions {
  emulator?: Omit<SpawnOptions, 'dataDir'>;
  /** Seeds the drive before the engine first starts. */
  seed?: (admin: AdminClient) => Promise<void>;
  engineArgs?: string[];
  /** See EngineStartOptions.untilIndexed. */
  untilIndexed?: boolean;
}

/**
 * A fresh run folder (stale runs cleared first) and an environment whose HOME and XDG folders all
 * live in it, so nothing a test starts touches the real home.
 */
export async function newRun(extraEnv: NodeJS.ProcessEnv = {}): Promise<{ root: string; env: NodeJS.ProcessEnv }> {
  await clearStaleRuns();
  const root = await mkdtemp(path.join(E2E_ROOT, `${RUN_PREFIX}${process.pid}-`));
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv };
  for (const [name, sub] of [
    ['HOME', 'home'],
    ['XDG_CONFIG_HOME', 'config'],
    ['XDG_STATE_HOME', 'state'],
    ['XDG_CACHE_HOME', 'cache'],
    ['XDG_DATA_HOME', 'data'],
    ['XDG_RUNTIME_DIR', 'runtime'],
  ] as const) {
    env[name] = path.join(root, sub);
    await mkdir(env[name]!, { recursive: true, mode: 0o700 });
  }
  return { root, env };
}

/** One emulator, one engine, one mount point, one set of XDG folders. */
export class MountHarness {
  engine: EngineProcess | undefined;
  private closing = false;

  private constructor(
    readonly root: string,
    readonly emulator: EmulatorProcess,
    readonly env: NodeJS.ProcessEnv,
    private readonly engineArgs: string[],
    private readonly untilIndexed: boolean,
  ) {
    // Every later failure would only say "connection refused"; say why once, where it happened.
    emulator.child.once('exit', (code, signal) => {
      if (!this.closing) console.error(`e2e: the emulator (pid ${emulator.child.pid}) exited unexpectedly (code ${code}, signal ${signal})`);
    });
  }

  get admin(): AdminClient {
    return this.emulator.admin;
  }
  get mountpoint(): string {
    return path.join(this.root, 'mnt');
  }
  get stateDir(): string {
    return path.join(this.env.XDG_STATE_HOME!, 'onemount', ACCOUNT);
  }
  get storeFile(): string {
    return path.join(this.stateDir, 'onemount.sqlite');
  }
  get logFile(): string {
    return path.join(this.stateDir, 'engine.log');
  }

  /** A path on the mount. */
  at(...parts: string[]): string {
    return path.join(this.mountpoint, ...parts);
  }

  static async start(o: HarnessOptions = {}): Promise<MountHarness> {
    const { root, env } = await newRun();
    let emulator: EmulatorProcess;
    try {
      emulator = await EmulatorProcess.start({ ...o.emulator, dataDir: path.join(root, 'emulator') });
    } catch (e) {
      await rm(root, { recursive: true, force: true });
      throw e;
    }
    const h = new MountHarness(root, emulator, env, o.engineArgs ?? [], o.untilIndexed ?? true);
    try {
      await h.recordPids();
      await o.seed?.(emulator.admin);
      await h.startEngine();
    } catch (e) {
      await h.close();
      throw e;
    }
    return h;
  }

  private async recordPids(): Promise<void> {
    const lines = [`emulator ${this.emulator.child.pid}`];
    if (this.engine) lines.push(`engine ${this.engine.pid}`);
    await writeFile(path.join(this.root, 'pids'), lines.join('\n') + '\n');
  }

  async startEngine(extraArgs: string[] = []): Promise<EngineProcess> {
    if (this.engine && !this.engine.exitStatus) throw new Error('the engine is already running');
    this.engine = await EngineProcess.start({
      mountpoint: this.mountpoint,
      apiUrl: this.emulator.info.apiUrl,
      env: this.env,
      extraArgs: [...this.engineArgs, ...extraArgs],
      untilIndexed: this.untilIndexed,
    });
    await this.recordPids();
    return this.engine;
  }

  async stopEngine(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (!this.engine) throw new Error('no engine was started');
    return this.engine.stop();
  }

  /** `onemount <args>` with this run's environment (e.g. `status --json`). */
  onemount(args: string[]): Promise<RunResult<string>> {
    return run(process.execPath, [ONEMOUNT, ...args], { env: this.env, timeoutMs: 30_000 });
  }

  /** `onemount status --json` of this run's engine. */
  async status(): Promise<EngineStatus> {
    const r = await this.onemount(['status', '--json', '--account', ACCOUNT]);
    if (r.code !== 0) throw new Error(`onemount status --json exited with ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as EngineStatus;
  }

  /** A file's bytes on the server as text, undefined when the server has no such file. */
  async serverText(p: string): Promise<string | undefined> {
    try {
      return (await this.admin.content(p)).toString();
    } catch (e) {
      if (/→ 404/.test(String(e))) return undefined;
      throw e;
    }
  }

  /** The engine's log (pino JSON lines), for assertions and for diagnosing a failure. */
  async engineLog(): Promise<string> {
    return readFile(this.logFile, 'utf8').catch(() => '');
  }

  /** Always safe to call: every step runs even when an earlier one failed; the first error is rethrown. */
  async close(): Promise<void> {
    this.closing = true;
    const errors: unknown[] = [];
    const step = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (e) {
        errors.push(e);
      }
    };
    if (this.engine) await step(() => this.engine!.stop());
    await step(() => lazyUnmount(this.mountpoint));
    await step(() => this.emulator.stop());
    // ONEMOUNT_E2E_KEEP=1 keeps the run's folder (engine log, store, emulator data) for a
    // post-mortem, under a name clearStaleRuns leaves alone.
    if (process.env.ONEMOUNT_E2E_KEEP === '1') {
      const kept = path.join(path.dirname(this.root), `kept-${path.basename(this.root)}`);
      await step(() => renameDir(this.root, kept));
      console.error(`e2e: kept ${kept}`);
    } else if (!(await isMounted(this.mountpoint).catch(() => true))) await step(() => rm(this.root, { recursive: true, force: true }));
    else errors.push(new Error(`${this.mountpoint} is still mounted; ${this.root} was left for the next run to clear`));
    if (errors.length) throw errors[0];
  }
}

// ---- the server's view ---------------------------------------------------------------------------

export interface TreeEntry {
  path: string;
  kind: 'file' | 'folder';
  size: number;
}

interface DeltaPage {
  value: Array<{ id: string; name?: string; size?: number; folder?: unknown; file?: unknown; deleted?: unknown; root?: unknown; parentReference?: { id?: string } }>;
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
}

/**
 * The drive's tree as the server has it (a full delta through the API, as any other client would
 * read it), keyed by path below the root.
 */
export async function serverTree(apiUrl: string): Promise<Map<string, TreeEntry>> {
  const byId = new Map<string, { name: string; parent: string | undefined; kind: 'file' | 'folder'; size: number; root: boolean }>();
  let url: string | undefined = `${apiUrl}/me/drive/root/delta?$top=1000`;
  while (url) {
    const res = await fetch(url, { headers: { authorization: 'Bearer e2e' } });
    if (!res.ok) throw new Error(`delta → ${res.status}: ${await res.text()}`);
    const page = (await res.json()) as DeltaPage;
    for (const it of page.value) {
      if (it.deleted) {
        byId.delete(it.id);
        continue;
      }
      byId.set(it.id, { name: it.name ?? '', parent: it.parentReference?.id, kind: it.folder ? 'folder' : 'file', size: it.size ?? 0, root: !!it.root });
    }
    url = page['@odata.nextLink'];
  }
  const pathOf = (id: string): string | undefined => {
    const parts: string[] = [];
    for (let cur = byId.get(id); cur && !cur.root; cur = cur.parent ? byId.get(cur.parent) : undefined) parts.unshift(cur.name);
    return parts.join('/');
  };
  const tree = new Map<string, TreeEntry>();
  for (const [id, it] of byId) {
    if (it.root) continue;
    const p = pathOf(id);
    if (p) tree.set(p, { path: p, kind: it.kind, size: it.size });
  }
  return tree;
}

/** The mount's tree from `find -printf` (type, size, path), keyed like serverTree. */
export async function findTree(dir: string): Promise<Map<string, TreeEntry>> {
  const out = await runOk('find', [dir, '-mindepth', '1', '-printf', '%y %s %P\\0'], { timeoutMs: 60_000 });
  const tree = new Map<string, TreeEntry>();
  for (const rec of out.split('\0').filter(Boolean)) {
    const m = /^(\S) (\d+) (.*)$/s.exec(rec);
    if (!m) throw new Error(`unexpected find output: ${rec}`);
    const kind = m[1] === 'd' ? 'folder' : 'file';
    tree.set(m[3]!, { path: m[3]!, kind, size: kind === 'folder' ? 0 : Number(m[2]) });
  }
  return tree;
}

/** The mount's tree from `ls -lRA` output: every file's size and every folder, keyed like serverTree. */
export function parseLsLR(out: string, dir: string): Map<string, TreeEntry> {
  const tree = new Map<string, TreeEntry>();
  let current: string | undefined;
  for (const line of out.split('\n')) {
    if (line.endsWith(':') && (line.startsWith(dir + '/') || line === dir + ':')) {
      current = line.slice(0, -1) === dir ? '' : line.slice(dir.length + 1, -1);
      continue;
    }
    const m = /^([-dl])\S*\s+\d+\s+\S+\s+\S+\s+(\d+)\s+\d+\s(.*)$/.exec(line);
    if (!m || current === undefined) continue;
    const p = current ? `${current}/${m[3]}` : m[3]!;
    const kind = m[1] === 'd' ? 'folder' : 'file';
    tree.set(p, { path: p, kind, size: kind === 'folder' ? 0 : Number(m[2]) });
  }
  return tree;
}

/** Server tree with folder sizes zeroed (a folder's size on the mount is its block size). */
export function comparable(tree: Map<string, TreeEntry>): Map<string, TreeEntry> {
  return new Map([...tree].map(([p, e]) => [p, e.kind === 'folder' ? { ...e, size: 0 } : e]));
}

// ---- request log ---------------------------------------------------------------------------------

export interface ByteRange {
  start: number;
  /** Exclusive. */
  end: number;
}

/** `bytes=a-b` → [a, b+1); open-ended or missing ranges mean the rest of a file of `size` bytes. */
export function parseRange(header: string | undefined, size: number): ByteRange {
  if (!header) return { start: 0, end: size };
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) throw new Error(`unexpected Range header ${header}`);
  if (m[1] === '') return { start: size - Number(m[2]), end: size };
  return { start: Number(m[1]), end: m[2] === '' ? size : Math.min(size, Number(m[2]) + 1) };
}

/**
 * The `listener` entries logged after `since`, once nothing is left to log: the engine reports no
 * transfer running or queued (read-ahead that outlives the reader included) and the emulator is
 * serving no request (it logs each one as its response closes).
 */
export async function settledLog(h: MountHarness, listener: 'api' | 'storage', since: number, timeoutMs = 20_000): Promise<LogEntry[]> {
  await eventually('no transfer running and no request being served', async () => {
    const status = await h.status();
    if (status.transfers.some((t) => t.state === 'active' || t.state === 'queued')) return undefined;
    return (await h.admin.log({ since: Number.MAX_SAFE_INTEGER })).inflight === 0 ? true : undefined;
  }, timeoutMs, 50);
  return (await h.admin.log({ listener, since })).entries;
}

/** The request log's current position: entries logged later have a larger seq. */
export async function logPosition(admin: AdminClient): Promise<number> {
  return (await admin.log({ since: Number.MAX_SAFE_INTEGER })).lastSeq;
}

/** A path for a file the test writes outside the mount. */
export async function scratchFile(h: MountHarness, name: string): Promise<string> {
  const dir = path.join(h.root, 'scratch');
  await mkdir(dir, { recursive: true });
  return path.join(dir, name);
}
