/**
 * engine-loader.js (the compiled engine's entry) with a stand-in bundle: when it writes V8's code
 * cache, where, and that a cache it must not trust or that V8 refuses is never what runs; and that
 * it caps the C heap's arenas before the bundle runs.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { promisify } from 'node:util';
import { ENGINE_V8_FLAGS } from '../../base/v8-flags.ts';
import { ARENA_PROBE } from '../../fuse/testing/malloc-arenas.ts';

const LOADER = path.join(import.meta.dirname, 'engine-loader.js');

/**
 * The stand-in: prints which cache its start was compiled from (the hook's `found`), sets the
 * engine's own V8 flags (as runMount and collectGarbage do) and, when asked, one the engine never
 * sets, finishes its start and, when asked, then runs a function nothing ran before (a session's
 * first listing or read: compiled only now), plays another engine writing a fuller cache, or ends
 * in an error.
 */
const BUNDLE = `
const HOOK = Symbol.for('onemount.codeCache.started');
const hook = globalThis[HOOK];
for (const flag of JSON.parse(process.env.ENGINE_V8_FLAGS)) require('node:v8').setFlagsFromString(flag);
if (process.env.SET_FLAG) require('node:v8').setFlagsFromString('--no-lazy-feedback-allocation');
const square = (n) => n * n;
function later(n) {
  let s = n;
  ${'s = (s * 31 + 7) % 1000003; s ^= s >>> 3;'.repeat(300)}
  return s;
}
process.stdout.write(JSON.stringify({ found: typeof hook === 'function' ? (hook.found ?? 'none') : undefined, value: square(7), file: __filename }) + '\\n');
if (hook) hook();
if (process.env.SESSION) later(3);
// Another engine of this bundle wrote a fuller cache meanwhile.
if (process.env.OTHER_WROTE) require('node:fs').appendFileSync(process.env.OTHER_WROTE, Buffer.alloc(200000));
if (process.env.FAIL) process.exitCode = 1;
`;

let dir: string;
let engineDir: string;
let cacheHome: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'onemount-loader-'));
  engineDir = path.join(dir, 'engine');
  cacheHome = path.join(dir, 'cache');
  await mkdir(engineDir, { mode: 0o755 });
  await chmod(engineDir, 0o755);
  await writeFile(path.join(engineDir, 'onemount.cjs'), BUNDLE);
  const loader = await readFile(LOADER, 'utf8');
  await writeFile(path.join(engineDir, 'onemount.js'), loader.replace("'@@BUNDLE_ID@@'", JSON.stringify('testbundle')));
  // The loader is an ES module wherever it is copied (the repository's package.json says so).
  await writeFile(path.join(engineDir, 'package.json'), '{"type":"module"}');
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function start(env: NodeJS.ProcessEnv = {}): Promise<{ found: string | undefined; value: number; file: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(engineDir, 'onemount.js')], { env: { ...process.env, XDG_CACHE_HOME: cacheHome, ENGINE_V8_FLAGS: JSON.stringify(ENGINE_V8_FLAGS), ...env }, timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`${err.message}: ${stderr}`));
      resolve({ ...(JSON.parse(stdout) as { found: string | undefined; value: number; file: string }), stderr });
    });
  });
}

const cachesIn = async (d: string) => (await readdir(d).catch(() => [] as string[])).filter((n) => n.endsWith('.v8cache'));

describe('engine-loader', () => {
  it('runs the bundle, writes a cache beside it once the start is done (the engine\'s own V8 flags set meanwhile), and the next start uses it', { timeout: 30_000 }, async () => {
    const first = await start();
    expect(first).toMatchObject({ found: 'none', value: 49, file: path.join(engineDir, 'onemount.cjs') });
    const written = await cachesIn(engineDir);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^onemount-testbundle-\d+\.v8cache$/);
    const cache = await readFile(path.join(engineDir, written[0]!));

    const second = await start();
    expect(second).toMatchObject({ found: 'start', value: 49 });
    // Nothing new was compiled: the cache is left as it was.
    expect((await readFile(path.join(engineDir, written[0]!))).equals(cache)).toBe(true);
    expect(await cachesIn(cacheHome)).toEqual([]);
  });

  it('a run that compiled more after its start writes the cache again at exit, holding both; one that compiled nothing new leaves it', { timeout: 30_000 }, async () => {
    await start();
    const [name] = await cachesIn(engineDir);
    const file = path.join(engineDir, name!);
    const atStart = await readFile(file);
    expect(await start({ SESSION: '1' })).toMatchObject({ found: 'start' });
    const afterSession = await readFile(file);
    expect(afterSession.length).toBeGreaterThan(atStart.length);
    // The next run found the session's functions compiled: nothing grew, nothing was written.
    expect(await start({ SESSION: '1' })).toMatchObject({ found: 'start', value: 49 });
    expect((await readFile(file)).equals(afterSession)).toBe(true);
    expect(await cachesIn(engineDir)).toEqual([name]);
  });

  it('at exit, leaves the cache alone when the run ends in an error or another engine wrote a fuller one meanwhile', { timeout: 30_000 }, async () => {
    await start();
    const [name] = await cachesIn(engineDir);
    const file = path.join(engineDir, name!);
    const atStart = await readFile(file);
    await expect(start({ SESSION: '1', FAIL: '1' })).rejects.toThrow();
    expect((await readFile(file)).equals(atStart)).toBe(true);
    expect(await start({ SESSION: '1', OTHER_WROTE: file })).toMatchObject({ found: 'start' });
    expect((await readFile(file)).length).toBe(atStart.length + 200_000);
  });

  it('a cache V8 refuses (garbage) is not used: the bundle runs compiled afresh and the cache is written again', { timeout: 30_000 }, async () => {
    await start();
    const [name] = await cachesIn(engineDir);
    const file = path.join(engineDir, name!);
    await writeFile(file, Buffer.alloc(4096, 7), { mode: 0o600 });
    const again = await start();
    expect(again).toMatchObject({ found: 'none', value: 49 });
    expect((await readFile(file)).equals(Buffer.alloc(4096, 7))).toBe(false);
    expect(await start()).toMatchObject({ found: 'start' });
  });

  it('a cache others could have written is ignored', { timeout: 30_000 }, async () => {
    await start();
    const [name] = await cachesIn(engineDir);
    await chmod(path.join(engineDir, name!), 0o666);
    expect(await start()).toMatchObject({ found: 'none', value: 49 });
  });

  it('beside a bundle in a folder that is not the user\'s own, the cache goes to $XDG_CACHE_HOME/onemount/code-cache, named by bundle', { timeout: 30_000 }, async () => {
    await chmod(engineDir, 0o775);
    expect(await start()).toMatchObject({ found: 'none' });
    expect(await cachesIn(engineDir)).toEqual([]);
    const userDir = path.join(cacheHome, 'onemount', 'code-cache');
    const written = await cachesIn(userDir);
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^testbundle-\d+\.v8cache$/);
    expect(await start()).toMatchObject({ found: 'start', value: 49 });
  });

  it("writing to $XDG_CACHE_HOME removes the caches of other bundles there (an update's leftovers)", { timeout: 30_000 }, async () => {
    await chmod(engineDir, 0o775);
    const userDir = path.join(cacheHome, 'onemount', 'code-cache');
    await mkdir(userDir, { recursive: true });
    await writeFile(path.join(userDir, 'oldbundle-123.v8cache'), 'old');
    await writeFile(path.join(userDir, 'unrelated.txt'), 'kept');
    await start();
    const left = (await readdir(userDir)).sort();
    expect(left).toHaveLength(2);
    expect(left[0]).toMatch(/^testbundle-\d+\.v8cache$/);
    expect(left[1]).toBe('unrelated.txt');
  });

  it('no cache is written once a V8 flag changed since the start (V8 would refuse it under its name)', { timeout: 30_000 }, async () => {
    expect(await start({ SET_FLAG: '1', SESSION: '1' })).toMatchObject({ found: 'none' });
    expect(await cachesIn(engineDir)).toEqual([]);
  });

  it("the build's cache (made at exit of the build's run) is used by a first start, which still writes a start's cache", { timeout: 30_000 }, async () => {
    await start({ ONEMOUNT_BUILD_CODE_CACHE: '1' });
    const built = await cachesIn(engineDir);
    expect(built).toHaveLength(1);
    expect(built[0]).toMatch(/\.build\.v8cache$/);
    expect(await start()).toMatchObject({ found: 'build', value: 49 });
    expect(await cachesIn(engineDir)).toHaveLength(2);
    expect(await start()).toMatchObject({ found: 'start' });
  });

  it('keeps working when the cache cannot be written', { timeout: 30_000 }, async () => {
    await chmod(engineDir, 0o775);
    // The cache folder's parent is a file: mkdir fails, the start goes on with a warning.
    await writeFile(cacheHome, 'not a folder');
    const r = await start();
    expect(r).toMatchObject({ found: 'none', value: 49 });
    expect(r.stderr).toMatch(/could not write the code cache/);
  });

  it("caps the C heap's arenas through the patched fuse-native's binding before the bundle runs; without that binding, the bundle runs all the same", { timeout: 30_000 }, async () => {
    // A bundle that counts the arenas before and after four threads allocated.
    await writeFile(path.join(engineDir, 'onemount.cjs'), `${ARENA_PROBE}\nconst before = arenaCount(); allocateInThreads(4).then(() => process.stdout.write(JSON.stringify({ before, after: arenaCount() }) + '\\n'));`);
    // glibc's own default, whatever this environment sets.
    const env = { ...process.env, MALLOC_ARENA_MAX: undefined };
    const counts = async () => JSON.parse((await promisify(execFile)(process.execPath, [path.join(engineDir, 'onemount.js')], { env })).stdout) as { before: number; after: number };
    // A fuse-native without a built binding (the stock package's prebuilds only): each thread made
    // an arena of its own.
    await mkdir(path.join(dir, 'node_modules', 'fuse-native'), { recursive: true });
    await writeFile(path.join(dir, 'node_modules', 'fuse-native', 'package.json'), '{"name":"fuse-native","main":"index.js"}');
    const stock = await counts();
    expect(stock.after).toBeGreaterThan(stock.before);
    // The one this checkout built: the threads shared the arenas there were.
    await rm(path.join(dir, 'node_modules', 'fuse-native'), { recursive: true });
    await symlink(path.dirname(createRequire(import.meta.url).resolve('fuse-native/package.json')), path.join(dir, 'node_modules', 'fuse-native'));
    const capped = await counts();
    expect(capped.after).toBe(capped.before);
  });
});
