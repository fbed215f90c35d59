/**
 * The README's first command as a newcomer meets it (issue #12): a machine whose libfuse cannot be
 * loaded, and a fresh copy of the repository with nothing built.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, cp, mkdir, readdir, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isMounted, lazyUnmount, newRun, run, runOk, type RunResult } from './harness.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const LIBFUSE = '/usr/lib/x86_64-linux-gnu/libfuse.so.2';
const NOBODY = 65_534;
const isRoot = process.getuid?.() === 0;

/** A stack trace's frame line: what a newcomer must never see for a missing package. */
const STACK_FRAME = /^\s+at .+\(.+:\d+:\d+\)$/m;

/**
 * Runs `argv` in a private mount namespace where libfuse.so.2 is an empty file (bind-mounted
 * /dev/null): the dynamic loader finds it and cannot load it, as on a machine without libfuse2.
 * Nothing outside the namespace sees the change.
 */
async function withoutLibfuse(argv: string[], env: NodeJS.ProcessEnv): Promise<RunResult<string>> {
  const lib = await realpath(LIBFUSE);
  return run('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind /dev/null "$1" && shift && exec "$@"', 'sh', lib, ...argv], { env, timeoutMs: 60_000 });
}

describe('with libfuse.so.2 unloadable (a machine without FUSE packages)', () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  const onemount = path.join(REPO, 'src-main', 'app', 'cli', 'onemount.js');

  beforeAll(async () => {
    // A private mount namespace (unshare --mount) and a second user (setpriv) need root, as the
    // e2e tests' own mounts do: without it these tests fail rather than pass unrun.
    if (!isRoot) throw new Error('the first-run tests need root: unshare --mount and setpriv');
    ({ root, env } = await newRun());
    // The unprivileged user needs a home of its own (the run's folders are root's, 0700).
    await chmod(root, 0o755);
    await mkdir(path.join(root, 'nobody', 'run'), { recursive: true });
    await runOk('chown', ['-R', `${NOBODY}:${NOBODY}`, path.join(root, 'nobody')]);
  });
  afterAll(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  it('the loader really cannot load it there (the premise of the tests below)', { timeout: 60_000 }, async () => {
    const r = await withoutLibfuse([process.execPath, '-e', "require('fuse-native')"], { ...env, NODE_PATH: path.join(REPO, 'node_modules') });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/libfuse\.so\.2: file too short/);
  });

  it('as a user: `demo` prints the apt-get line and exits 1, no stack trace; --help, status and sign-in work', { timeout: 120_000 }, async () => {
    const home = path.join(root, 'nobody');
    const userEnv = { ...env, ONEMOUNT_CLIENT_ID: '', HOME: home, XDG_RUNTIME_DIR: path.join(home, 'run'), XDG_CONFIG_HOME: '', XDG_STATE_HOME: '', XDG_CACHE_HOME: '', XDG_DATA_HOME: '' };
    const asNobody = (args: string[]) => withoutLibfuse(['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--', process.execPath, onemount, ...args], userEnv);

    const demo = await asNobody(['demo', path.join(home, 'OneMount-demo'), '--data-dir', path.join(home, 'drive')]);
    expect(demo.code).toBe(1);
    expect(demo.stderr).toBe('onemount: FUSE is not installed. Install it with:\n  sudo apt-get install -y libfuse2\n');
    expect(demo.stdout).not.toMatch(STACK_FRAME);

    const help = await asNobody(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: onemount');

    const status = await asNobody(['status']);
    expect(status.code).toBe(1);
    expect(status.stderr).toMatch(/^onemount: no engine is running \(no account's socket answers in .*\); start one with/);

    // Sign-in runs up to what it lacks here — an app registration — and says how to get one.
    const signIn = await asNobody(['sign-in', '--no-browser']);
    expect(signIn.code).toBe(1);
    expect(signIn.stderr).toBe(
      'onemount: OneMount has no app registration built in: register one with Microsoft (README, "Your own OneDrive: register the app") and sign in with `onemount sign-in --client-id <application id>` (or set ONEMOUNT_CLIENT_ID)\n',
    );
  });

  it('as root: installs the missing package with apt-get (a stand-in here) and reports its failure in one line', { timeout: 120_000 }, async () => {
    // apt-get is found on PATH; this one records how it was called and fails the install.
    const bin = path.join(root, 'bin');
    await mkdir(bin);
    const calls = path.join(root, 'apt-calls');
    await writeFile(path.join(bin, 'apt-get'), `#!/bin/sh\necho "$*" >> ${calls}\n[ "$1" = update ] && exit 0\nexit 100\n`, { mode: 0o755 });
    const r = await withoutLibfuse([process.execPath, onemount, 'demo', path.join(root, 'mnt'), '--data-dir', path.join(root, 'drive')], { ...env, PATH: `${bin}:${env.PATH}` });
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('Installing libfuse2 (needed to mount the drive)…');
    expect(r.stderr).toBe('onemount: apt-get install -y libfuse2 failed (exit 100)\n');
    expect(await readFile(calls, 'utf8')).toBe('update -y\ninstall -y libfuse2\n');
    // The preflight comes first: no emulator was started, nothing was mounted.
    expect(r.stdout).not.toContain('Starting the OneDrive emulator');
  });
});

/** Lines of a child's stdout, with a way to wait for the first one matching. */
class Lines {
  readonly all: string[] = [];
  private waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  constructor(child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.all.push(line);
      for (const w of [...this.waiters]) {
        const m = w.re.exec(line);
        if (m) {
          this.waiters.splice(this.waiters.indexOf(w), 1);
          w.resolve(m);
        }
      }
    });
  }
  /** The first line matching `re`; fails with everything printed so far if the program exits or `timeoutMs` passes. */
  next(re: RegExp, exited: Promise<unknown>, timeoutMs: number): Promise<RegExpExecArray> {
    const seen = this.all.map((l) => re.exec(l)).find((m) => m);
    if (seen) return Promise.resolve(seen);
    let timer: NodeJS.Timeout | undefined;
    return Promise.race([
      new Promise<RegExpExecArray>((resolve) => this.waiters.push({ re, resolve })),
      exited.then(() => {
        throw new Error(`exited before printing ${re}:\n${this.all.join('\n')}`);
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`nothing matched ${re} within ${timeoutMs} ms:\n${this.all.join('\n')}`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
  }
}

async function processesUnder(dir: string): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const cmd = await readFile(`/proc/${name}/cmdline`, 'utf8').catch(() => '');
    if (cmd.includes(dir)) pids.push(Number(name));
  }
  return pids;
}

describe('`npm run demo` in a fresh copy of the repository (nothing built)', () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  let copy: string;

  beforeAll(async () => {
    ({ root, env } = await newRun());
    copy = path.join(root, 'onemount');
    // What a clone holds: the tracked files (and new ones not yet committed), no dist/.
    const files = (await runOk('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO })).split('\0').filter(Boolean);
    await Promise.all(files.map((f) => cp(path.join(REPO, f), path.join(copy, f), { preserveTimestamps: true }).catch((e: NodeJS.ErrnoException) => {
      // A tracked file deleted in the working tree is not part of the copy.
      if (e.code !== 'ENOENT') throw e;
    })));
    // The dependencies as `npm ci` installs them (shared, not reinstalled: the same lockfile).
    await symlink(await realpath(path.join(REPO, 'node_modules')), path.join(copy, 'node_modules'));
  }, 120_000);

  afterAll(async () => {
    // Whatever a failed test left running from the copy is stopped by pid, then unmounted.
    for (const pid of await processesUnder(copy)) process.kill(pid, 'SIGKILL');
    await lazyUnmount(path.join(root, 'mnt'));
    await rm(root, { recursive: true, force: true });
  }, 60_000);

  it('builds what it runs, prints the panel address, `status` finds the demo engine, and SIGINT returns after the unmount with the engine\'s status', { timeout: 420_000 }, async () => {
    const mnt = path.join(root, 'mnt');
    const npm = spawn('npm', ['run', 'demo', '--', mnt, '--data-dir', path.join(root, 'drive')], { cwd: copy, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stderr = '';
    npm.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; mounted: boolean }>((resolve) =>
      npm.once('exit', (code, signal) => {
        // Checked the moment npm returns: the unmount must already be done.
        void isMounted(mnt).then((mounted) => resolve({ code, signal, mounted }));
      }),
    );
    const out = new Lines(npm);
    const failed = exited.then(() => undefined);

    const [, panelUrl] = await out.next(/^\s*Transfer panel: (http:\/\/127\.0\.0\.1:\d+\/\S+)$/, failed, 180_000);
    await out.next(/^Mounted (\d+ items? )?at /, failed, 120_000);
    expect(out.all.join('\n')).toContain('Building the transfer panel');
    expect(out.all.join('\n')).toContain('Building the engine (first run');
    expect(out.all.join('\n')).not.toContain('No transfer panel');

    // The page and its icon load (no /favicon.ico asked outside the panel's path).
    const page = await fetch(panelUrl!);
    expect(page.status).toBe(200);
    const html = await page.text();
    const icon = /<link rel="icon"[^>]* href="([^"]+)"/.exec(html)?.[1];
    expect(icon).toBeDefined();
    const iconRes = await fetch(new URL(icon!, panelUrl));
    expect(iconRes.status).toBe(200);
    expect(iconRes.headers.get('content-type')).toBe('image/svg+xml');

    // The README's next command, typed as it is there: no --account.
    const status = await run(process.execPath, [path.join(copy, 'src-main/app/cli/onemount.js'), 'status'], { env, timeoutMs: 30_000 });
    expect(status.stderr).toBe('');
    expect(status.stdout).toMatch(new RegExp(`^Account demo \\(personal\\) mounted at ${mnt}: `));
    // The engine runs compiled: from dist/engine, not through tsx.
    const enginePids = (await processesUnder(copy)).filter((pid) => pid !== npm.pid);
    const cmdlines = await Promise.all(enginePids.map((pid) => readFile(`/proc/${pid}/cmdline`, 'utf8')));
    expect(cmdlines.some((c) => c.includes(path.join(copy, 'dist/engine/onemount.js')) && c.includes('\0demo\0'))).toBe(true);
    expect(cmdlines.filter((c) => c.includes('tsx'))).toEqual([]);

    process.kill(npm.pid!, 'SIGINT');
    const end = await exited;
    expect({ code: end.code, signal: end.signal, mounted: end.mounted }).toEqual({ code: 0, signal: null, mounted: false });
    expect(out.all.some((l) => l.startsWith('  shutting down: '))).toBe(true);
    // (A shutdown during the first sync leaves it unfinished, and says so.)
    expect(out.all.at(-2)).toMatch(new RegExp(`^Unmounted ${mnt}( \\(unfinished, resumed next start: [^)]+\\))?\\.$`));
    expect(out.all.at(-1)).toBe('Background tasks left: 0.');
    // Nothing of the demo is left running: engine and emulator are gone when npm returns.
    expect(await processesUnder(copy)).toEqual([]);
    expect(stderr).not.toMatch(STACK_FRAME);
  });

  it('Ctrl-C in a terminal (SIGINT to the whole foreground group) reaches the engine once: a graceful shutdown, not the forced one', { timeout: 300_000 }, async () => {
    const mnt = path.join(root, 'mnt');
    const logFile = path.join(env.XDG_STATE_HOME!, 'onemount', 'demo', 'engine.log');
    // The log goes on from earlier runs of the demo in this folder: this run's part is after this.
    const before = (await readFile(logFile, 'utf8').catch(() => '')).length;
    // detached: npm leads its own process group, as a shell's foreground job does.
    const npm = spawn('npm', ['run', 'demo', '--', mnt, '--data-dir', path.join(root, 'drive')], { cwd: copy, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const exited = new Promise<{ code: number | null; mounted: boolean }>((resolve) =>
      npm.once('exit', (code) => void isMounted(mnt).then((mounted) => resolve({ code, mounted }))),
    );
    const out = new Lines(npm);
    await out.next(/^Mounted (\d+ items? )?at /, exited, 180_000);
    // The terminal's Ctrl-C: every process in the group gets it (npm, which forwards it too, and
    // the demo's bootstrap); the engine and the emulator run in groups of their own.
    process.kill(-npm.pid!, 'SIGINT');
    expect(await exited).toEqual({ code: 0, mounted: false });
    const log = (await readFile(logFile, 'utf8')).slice(before);
    // installShutdownSignals' words: the first signal starts the graceful shutdown, a second forces.
    expect(log.split('\n').filter((l) => l.includes('"received SIGINT: shutting down"'))).toHaveLength(1);
    expect(log).not.toContain('again: forcing a fast exit');
    expect(await processesUnder(copy)).toEqual([]);
  });
});
