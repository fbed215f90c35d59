/**
 * The packaged app ships what it runs (issue #12): the unpacked Linux app folder, built by
 * electron-builder as for the AppImage (a stand-in replaces Electron's binary, which cannot be
 * downloaded here), runs its engine with its own Node — on a PATH that has no `node` — against the
 * emulator it carries: it mounts the demo drive and serves a file.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AdminClient } from '../emulator/src/spawn.ts';
import { isMounted, lazyUnmount, newRun, run, runOk } from './harness.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const BIN = path.join(REPO, 'node_modules', '.bin');

async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

describe('the unpacked app folder (electron-builder --linux dir)', () => {
  let root: string;
  let env: NodeJS.ProcessEnv;
  let resources: string;

  beforeAll(async () => {
    ({ root, env } = await newRun());
    // What `npm run package` builds first; the engine and the panel only when not current.
    const engine = await runOk(process.execPath, ['--input-type=module', '-e', "const m = await import('./src-main/app/cli/engine-bundle.js'); console.log(await m.engineBundleState() ?? 'current')"], { cwd: REPO });
    if (engine.trim() !== 'current') await runOk(process.execPath, ['src-main/app/cli/build-engine.js'], { cwd: REPO, timeoutMs: 120_000 });
    if (!(await readFile(path.join(REPO, 'dist/renderer/index.html')).then(() => true, () => false))) await runOk(path.join(BIN, 'vite'), ['build', 'src-renderer'], { cwd: REPO, timeoutMs: 120_000 });
    await runOk(process.execPath, ['--import', 'tsx', 'src-main/app/electron/build.ts'], { cwd: REPO, timeoutMs: 120_000 });
    // The Node runtime: fetched from the registry once (npm's cache serves it after that).
    await runOk(process.execPath, ['src-main/app/electron/node-runtime.js'], { cwd: REPO, timeoutMs: 300_000 });
    // Electron's place: the builder copies this folder and renames `electron` to the app's executable.
    const electronDist = path.join(root, 'electron-stand-in');
    await mkdir(electronDist);
    await writeFile(path.join(electronDist, 'electron'), '#!/bin/sh\necho "a stand-in for the Electron binary" >&2\nexit 1\n', { mode: 0o755 });
    const out = path.join(root, 'packages');
    await runOk(path.join(BIN, 'electron-builder'), ['--linux', 'dir', `-c.electronDist=${electronDist}`, `-c.directories.output=${out}`], { cwd: REPO, env: { ...process.env, CI: '1' }, timeoutMs: 240_000 });
    resources = path.join(out, 'linux-unpacked', 'resources');
  }, 600_000);

  afterAll(async () => {
    await lazyUnmount(path.join(root, 'mnt'));
    await rm(root, { recursive: true, force: true });
  }, 60_000);

  it('holds the compiled engine and its own Node: no TypeScript, no tsx', { timeout: 60_000 }, async () => {
    const files = await filesUnder(path.join(resources, 'app'));
    expect(files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts') && !f.includes('/node_modules/'))).toEqual([]);
    expect(files.some((f) => f.includes('/node_modules/tsx/'))).toBe(false);
    expect(files).toContain(path.join(resources, 'app', 'dist', 'engine', 'onemount.js'));
    expect(files).toContain(path.join(resources, 'app', 'dist', 'engine', 'emulator.js'));
    // The native modules are built for the Node the tree runs on: the shipped one is that Node.
    const abi = await runOk(path.join(resources, 'node', 'bin', 'node'), ['-p', 'process.versions.modules']);
    expect(abi.trim()).toBe(process.versions.modules);
    // fuse-native as npm ci built it, with the caller of each request (docs/indexers.md).
    const fuseNative = path.join(resources, 'app', 'node_modules', 'fuse-native');
    expect(files).toContain(path.join(fuseNative, 'build', 'Release', 'fuse.node'));
    const callerKnown = await runOk(path.join(resources, 'node', 'bin', 'node'), ['-p', 'require(process.argv[1]).hasCallerContext', fuseNative]);
    expect(callerKnown.trim()).toBe('true');
  });

  it('runs the demo from the folder with no `node` on PATH: mounts, serves a file, and stops cleanly', { timeout: 180_000 }, async () => {
    // PATH holds fusermount and nothing else: the engine finds no node there, only its own.
    const bin = path.join(root, 'bin');
    await mkdir(bin);
    await symlink('/usr/bin/fusermount', path.join(bin, 'fusermount'));
    await chmod(bin, 0o755);
    const appEnv: NodeJS.ProcessEnv = { HOME: env.HOME, XDG_CONFIG_HOME: env.XDG_CONFIG_HOME, XDG_STATE_HOME: env.XDG_STATE_HOME, XDG_CACHE_HOME: env.XDG_CACHE_HOME, XDG_RUNTIME_DIR: env.XDG_RUNTIME_DIR, PATH: bin };
    expect((await run('/bin/sh', ['-c', 'command -v node'], { env: appEnv })).code).not.toBe(0);

    const mnt = path.join(root, 'mnt');
    const node = path.join(resources, 'node', 'bin', 'node');
    const child = spawn(node, [path.join(resources, 'app', 'dist', 'engine', 'onemount.js'), 'demo', mnt, '--data-dir', path.join(root, 'drive')], { env: appEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    const lines: string[] = [];
    const mounted = new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        lines.push(line);
        if (line.startsWith('Mounted ')) resolve();
      });
      void exited.then((code) => reject(new Error(`exited (${code}) before mounting:\n${lines.join('\n')}\n${stderr}`)));
    });
    try {
      await mounted;
      expect(lines.join('\n')).toMatch(/Transfer panel: http:\/\/127\.0\.0\.1:\d+\//);
      const adminUrl = /admin (http:\/\/\S+)\/info/.exec(lines.join('\n'))?.[1];
      expect(adminUrl).toBeDefined();
      const expected = await new AdminClient(adminUrl!).content('/Documents/Welcome.md');
      // Read by another program, as a user would (never a sync call from the test process).
      const seen = await runOk('/bin/cat', [path.join(mnt, 'Documents', 'Welcome.md')]);
      expect(Buffer.from(seen)).toEqual(expected);
      // Both processes run the folder's Node.
      const pids = (await run('/usr/bin/pgrep', ['-f', path.join(resources, 'app', 'dist', 'engine')])).stdout.split('\n').filter(Boolean);
      const exes = await Promise.all(pids.map((pid) => run('/usr/bin/readlink', [`/proc/${pid}/exe`]).then((r) => r.stdout.trim())));
      expect(exes.length).toBe(2);
      expect(new Set(exes)).toEqual(new Set([node]));
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
    expect(await isMounted(mnt)).toBe(false);
    expect(lines.at(-2)).toMatch(/^Unmounted /);
    expect(lines.at(-1)).toBe('Background tasks left: 0.');
  });
});
