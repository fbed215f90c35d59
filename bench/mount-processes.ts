/**
 * The processes bench/mount.ts runs: the engine (`onemount mount`), the bare fuse-native filesystem,
 * an idle Node process (the RSS baseline), and the programs that touch the mounts (ls, dd, cat).
 * Each is a child process, so nothing here ever makes a call on a mount served by this process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import path from 'node:path';

const ONEMOUNT = path.join(import.meta.dirname, '..', 'src-main', 'app', 'cli', 'onemount.js');
const BARE_FUSE = path.join(import.meta.dirname, 'bare-fuse.ts');
/** Only against hangs: no measurement depends on it. */
const HANG_TIMEOUT_MS = 15 * 60_000;
/** How often the mount table is read while waiting for a mount (a start time's resolution). */
const MOUNT_POLL_MS = 5;

export interface ProgramResult {
  code: number;
  ms: number;
  stderr: string;
}

/** Runs a program with stdout to /dev/null, timing it from spawn to exit. Throws on a non-zero exit unless allowed. */
export async function runProgram(cmd: string, args: string[], o: { allowFailure?: boolean } = {}): Promise<ProgramResult> {
  const t0 = performance.now();
  const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  const timer = setTimeout(() => child.kill('SIGKILL'), HANG_TIMEOUT_MS);
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (c, signal) => resolve(c ?? (signal ? 128 : 1)));
  }).finally(() => clearTimeout(timer));
  const ms = performance.now() - t0;
  if (code !== 0 && !o.allowFailure) throw new Error(`${cmd} ${args.join(' ')} exited with ${code}: ${stderr.trim()}`);
  return { code, ms, stderr };
}

export interface MountEntry {
  mountpoint: string;
  fstype: string;
}

/** Mounts at or below `dir` (from /proc/mounts), deepest first. */
export async function mountsUnder(dir: string): Promise<MountEntry[]> {
  const text = await readFile('/proc/mounts', 'utf8');
  return text
    .split('\n')
    .map((line) => line.split(' '))
    .filter((f) => f.length > 2)
    .map((f) => ({ mountpoint: f[1]!.replace(/\\040/g, ' '), fstype: f[2]! }))
    .filter((m) => m.mountpoint === dir || m.mountpoint.startsWith(dir + '/'))
    .sort((a, b) => b.mountpoint.length - a.mountpoint.length);
}

export async function unmountLazy(m: MountEntry): Promise<void> {
  if (m.fstype.startsWith('fuse')) await runProgram('fusermount', ['-u', '-z', m.mountpoint]);
  else await runProgram('umount', ['-l', m.mountpoint]);
}

export interface EngineStartOptions {
  mountpoint: string;
  apiUrl: string;
  account: string;
  /** XDG directories for the engine's state, cache and socket. */
  env: NodeJS.ProcessEnv;
  kernelCacheSec: number;
  /** Extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir', dir]. */
  nodeArgs: string[];
  /** Extra `onemount mount` flags, e.g. ['--write-back', '1000', '--uploads', '2']. */
  engineArgs?: string[];
}

/** How a child shows it is ready: a line on stdout, or its FUSE mount appearing in /proc/mounts. */
type Readiness = { line: (line: string) => boolean } | { mounted: string };

/** rclone's start-up: `rclone mount` prints nothing when it is ready, so the mount table tells. */
export interface RcloneStartOptions {
  remote: string;
  mountpoint: string;
  configFile: string;
  cacheDir: string;
  /** Extra flags, e.g. ['--vfs-cache-mode', 'full', '--ca-cert', file]. */
  flags: string[];
  env: NodeJS.ProcessEnv;
}

/** A long-running child (engine, rclone, bare FUSE, idle node) that announced readiness. */
export class MountedChild {
  private stderrTail: string;

  private constructor(
    private readonly child: ChildProcess,
    readonly what: string,
    readonly mountpoint: string | undefined,
    /** From spawn to the ready line. */
    readonly startMs: number,
    /** What the process wrote to stderr before it was ready (e.g. the inspector's address). */
    readonly startupStderr: string,
  ) {
    this.stderrTail = startupStderr;
  }

  /** The DevTools WebSocket address when the process runs with `--inspect`. */
  get inspectorUrl(): string | undefined {
    return /Debugger listening on (ws:\/\/\S+)/.exec(this.startupStderr)?.[1];
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.what} has no pid`);
    return this.child.pid;
  }

  /** `onemount mount …`: ready once it prints "Mounted …" (a first start: before the drive is listed). */
  static startEngine(o: EngineStartOptions): Promise<MountedChild> {
    const args = [
      ...o.nodeArgs,
      ONEMOUNT,
      'mount',
      o.mountpoint,
      '--emulator-url',
      o.apiUrl,
      '--account',
      o.account,
      '--kernel-cache',
      String(o.kernelCacheSec),
      // No delta poll during the run: the request counts are then the listing's alone.
      '--poll-interval',
      '3600',
      ...(o.engineArgs ?? []),
    ];
    return MountedChild.start(`engine (${o.account})`, args, { ...process.env, ...o.env }, o.mountpoint, { line: (line) => line.startsWith('Mounted ') });
  }

  /** `rclone mount remote: mountpoint …`: ready once the FUSE mount is in the mount table. */
  static startRclone(o: RcloneStartOptions): Promise<MountedChild> {
    const args = ['mount', o.remote, o.mountpoint, '--config', o.configFile, '--cache-dir', o.cacheDir, ...o.flags];
    return MountedChild.start('rclone mount', args, { ...process.env, ...o.env }, o.mountpoint, { mounted: o.mountpoint }, 'rclone');
  }

  static startBare(manifestPath: string, mountpoint: string): Promise<MountedChild> {
    return MountedChild.start('bare fuse-native filesystem', ['--import', 'tsx', BARE_FUSE, manifestPath], process.env, mountpoint, {
      line: (line) => line.startsWith('{"mounted"'),
    });
  }

  /** A Node process with tsx loaded and nothing else: what the engine's RSS starts from. */
  static startIdleNode(): Promise<MountedChild> {
    const script = "process.stdout.write('ready\\n'); setInterval(() => {}, 60_000);";
    return MountedChild.start('idle node', ['--import', 'tsx', '--eval', script], process.env, undefined, { line: (line) => line === 'ready' });
  }

  private static async start(
    what: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    mountpoint: string | undefined,
    ready: Readiness,
    command = process.execPath,
  ): Promise<MountedChild> {
    const t0 = performance.now();
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
    let stderrTail = '';
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (stderrTail = (stderrTail + s).slice(-4000)));
    const lines = createInterface({ input: child.stdout! });
    let onExit: (() => void) | undefined;
    let timer: NodeJS.Timeout | undefined;
    let polling = true;
    try {
      await new Promise<void>((resolve, reject) => {
        if ('line' in ready) {
          lines.on('line', (line) => {
            if (ready.line(line)) resolve();
          });
        } else {
          const poll = async () => {
            while (polling) {
              if ((await mountsUnder(ready.mounted)).some((m) => m.mountpoint === ready.mounted && m.fstype.startsWith('fuse'))) return resolve();
              await new Promise((r) => setTimeout(r, MOUNT_POLL_MS));
            }
          };
          poll().catch(reject);
        }
        onExit = () => reject(new Error(`${what} exited before it was ready (code ${child.exitCode}, signal ${child.signalCode}): ${stderrTail.trim()}`));
        child.once('exit', onExit);
        child.once('error', reject);
        timer = setTimeout(() => reject(new Error(`${what} not ready after ${HANG_TIMEOUT_MS} ms`)), HANG_TIMEOUT_MS);
      });
    } catch (e) {
      child.kill('SIGKILL');
      if (mountpoint) for (const m of await mountsUnder(mountpoint)) await unmountLazy(m);
      throw e;
    } finally {
      polling = false;
      clearTimeout(timer);
      if (onExit) child.off('exit', onExit);
    }
    const started = new MountedChild(child, what, mountpoint, performance.now() - t0, stderrTail);
    child.stderr!.on('data', (s: string) => (started.stderrTail = (started.stderrTail + s).slice(-4000)));
    return started;
  }

  /**
   * SIGTERM (the engine's graceful shutdown unmounts), SIGKILL after `graceMs`, then a lazy unmount
   * if the mount is still there. Throws when the process did not exit cleanly.
   */
  async stop(graceMs = 60_000): Promise<void> {
    let problem: string | undefined;
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => {
        problem = `${this.what} ignored SIGTERM for ${graceMs} ms and was killed`;
        this.child.kill('SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    }
    // rclone unmounts on SIGTERM and then exits with 128 + 15 itself.
    const cleanExit = this.child.exitCode === 0 || this.child.exitCode === 143 || this.child.signalCode === 'SIGTERM';
    if (!problem && !cleanExit) {
      problem = `${this.what} exited with code ${this.child.exitCode} (signal ${this.child.signalCode}): ${this.stderrTail.trim()}`;
    }
    if (this.mountpoint) {
      const left = await mountsUnder(this.mountpoint);
      for (const m of left) await unmountLazy(m);
      if (left.length && !problem) problem = `${this.what} left ${this.mountpoint} mounted (cleared with a lazy unmount)`;
    }
    if (problem) throw new Error(problem);
  }
}
