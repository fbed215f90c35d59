// The compiled engine's entry (build-engine.js copies this file to dist/engine/onemount.js, next to
// the bundle onemount.cjs). It runs the bundle as a CommonJS script through vm.Script with V8's code
// cache, so a start skips most of the parsing and compiling of ~3 MB of JavaScript: the largest
// share of the time `onemount mount` spends before it has mounted. Node 20 has no
// module.enableCompileCache, and an ES module cannot be given cached data, hence a script.
//
// Where the cache lives, in the order it is tried:
//   1. next to the bundle, onemount-<bundle id>-<tag>.v8cache: written by a start when the folder is the
//      user's own (a checkout, a per-user install): whoever may write it may write the bundle too;
//   2. $XDG_CACHE_HOME/onemount/code-cache/<bundle id>-<tag>.v8cache (0700): a system-wide install;
//   3. next to the bundle, onemount-<bundle id>-<tag>.build.v8cache: made by the build from `--help` (module
//      evaluation only), so that even a first start skips the parse.
// <tag> is v8.cachedDataVersionTag(): V8's version, flags and CPU features, which V8 also checks
// itself (a cache it rejects costs one compile, as without a cache, and is written again). V8 does
// not check the source's content, only its length: the bundle id, a hash of the bundle taken at
// build time, keeps a cache from being used with any other bundle.
//
// A start that found no cache made by a start writes one once it is serving (the engine calls the
// hook registered below), when the functions of the start path are compiled: they are then in it.
// A run that served writes the cache again at a clean exit (status 0) when it has grown: the functions the
// session compiled (its first listing, read, upload…) join the start's, which the engine never
// flushes (--no-flush-bytecode), so the next start runs them compiled from the first call.
import { accessSync, closeSync, constants, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import vm from 'node:vm';

const BUNDLE = path.join(import.meta.dirname, 'onemount.cjs');
const requireFromBundle = createRequire(BUNDLE);

// Before anything else: glibc gives every thread that allocates an arena of its own, and each
// keeps what its thread's bursts left. The cap (mallopt, in the binding the patched fuse-native
// builds: build/Release/fuse.node, where fuse-native loads it from too; not through fuse-native's
// own module, which costs a command that never mounts ~7 ms) holds for the threads that have not
// allocated yet: V8's helpers before their first tasks (the compile and the collections below), the
// thread pool, libfuse's workers. Measured at rest after a 10 000-entry listing: 3 MiB less
// resident (docs/architecture.md, "The C heap keeps two arenas"). A binding that is not there (a
// stock fuse-native) or does not load (no libfuse yet, which the mount's preflight installs and
// reports) leaves glibc's default; anything else is said, and the start goes on.
const MALLOC_ARENAS = 2;
try {
  const fuseNative = path.dirname(requireFromBundle.resolve('fuse-native/package.json'));
  requireFromBundle(path.join(fuseNative, 'build', 'Release', 'fuse.node')).fuse_native_malloc_arena_max?.(MALLOC_ARENAS);
} catch (e) {
  if (e.code !== 'MODULE_NOT_FOUND' && e.code !== 'ERR_DLOPEN_FAILED') warn(`could not cap the C heap's arenas: ${e.message}`);
}

/** Replaced by build-engine.js with a hash of the bundle. */
const BUNDLE_ID = '@@BUNDLE_ID@@';
/** Set by the build: write the cache of this run at exit (the `--help` run that makes the build's cache). */
const BUILD_CACHE_RUN = process.env.ONEMOUNT_BUILD_CODE_CACHE === '1';
/** The hook the engine calls once it serves (src-main/app/cli/code-cache-hook.ts). */
const HOOK = Symbol.for('onemount.codeCache.started');

// The flags the engine sets while it runs (src-main/base/v8-flags.ts, ENGINE_V8_FLAGS: keep the two
// lists the same), set before anything is compiled: V8 accepts a cache only under the flags it was
// made with, so an engine setting one after the start could never write a cache the next start uses.
for (const flag of ['--semi-space-growth-factor=1', '--heap-growing-percent=30', '--expose-gc', '--no-flush-bytecode']) v8.setFlagsFromString(flag);
const tag = v8.cachedDataVersionTag();
const localCache = path.join(import.meta.dirname, `onemount-${BUNDLE_ID}-${tag}.v8cache`);
const buildCache = path.join(import.meta.dirname, `onemount-${BUNDLE_ID}-${tag}.build.v8cache`);
const userDir = path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'onemount', 'code-cache');
const userCache = path.join(userDir, `${BUNDLE_ID}-${tag}.v8cache`);

/** A cache file this user may trust: their own, or root's, and writable by nobody else. */
function readTrusted(file) {
  let fd;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    // No cache costs this start its compile, nothing else. One this user may not read (another
    // user's run of a checkout) is not theirs to use.
    if (e.code !== 'ENOENT' && e.code !== 'EACCES' && e.code !== 'ENOTDIR') warn(`could not read the code cache ${file}: ${e.message}`);
    return undefined;
  }
  try {
    const st = fstatSync(fd);
    const uid = process.getuid?.() ?? 0;
    if (!st.isFile() || (st.uid !== uid && st.uid !== 0) || (st.mode & 0o022) !== 0) return undefined;
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

// One line, so that the bundle's line numbers (and its source map) stay as they are. The build
// writes ASCII only, read as Latin-1: a one-byte string and no UTF-8 decoding. Only the script
// keeps the text (a module-level copy would hold another 3 MB for the life of the process).
const wrapped = `(function (exports, require, module, __filename, __dirname) {${readFileSync(BUNDLE, 'latin1')}\n})`;
const compile = (cachedData) =>
  new vm.Script(wrapped, { filename: BUNDLE, cachedData, importModuleDynamically: vm.constants?.USE_MAIN_CONTEXT_DEFAULT_LOADER });

let script;
/** Which cache this run was compiled from: 'start' (made by a run), 'build', or undefined (none). */
let found;
/** The size of the cache this run has read or written: a cache made at exit must be larger to be worth writing. */
let cachedBytes = 0;
for (const [file, kind] of BUILD_CACHE_RUN ? [] : [[localCache, 'start'], [userCache, 'start'], [buildCache, 'build']]) {
  const data = readTrusted(file);
  if (!data) continue;
  const candidate = compile(data);
  if (candidate.cachedDataRejected) continue;
  script = candidate;
  found = kind;
  cachedBytes = data.length;
  break;
}
script ??= compile(undefined);

/** Where this user may write a cache: beside the bundle when the folder is theirs, else their cache folder. */
function cacheTarget() {
  try {
    const st = statSync(import.meta.dirname);
    if (st.uid === (process.getuid?.() ?? 0) && (st.mode & 0o022) === 0) {
      accessSync(import.meta.dirname, constants.W_OK);
      return localCache;
    }
  } catch (e) {
    if (e.code !== 'EACCES' && e.code !== 'EROFS' && e.code !== 'EPERM') throw e;
  }
  mkdirSync(userDir, { recursive: true, mode: 0o700 });
  return userCache;
}

/** Written whole under a temporary name, then renamed: a start reading meanwhile sees the old file or the new one. */
function writeCache(file, data) {
  // A flag set since the start (other than the engine's own, set above) changes the tag: V8 would
  // reject this cache under the name it is looked up by.
  if (v8.cachedDataVersionTag() !== tag) return;
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    // Beside the bundle it is as readable as the bundle (other users of a checkout use it too).
    writeFileSync(tmp, data, { mode: file === userCache ? 0o600 : 0o644 });
    renameSync(tmp, file);
    cachedBytes = data.length;
    // The user's folder outlives updates: the caches of other bundles (or other Nodes) go.
    if (file === userCache) {
      for (const name of readdirSync(userDir)) if (name.endsWith('.v8cache') && name !== path.basename(userCache)) rmSync(path.join(userDir, name), { force: true });
    }
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // Nothing was written.
    }
    // A cache that cannot be written costs the next start its compile, nothing else.
    warn(`could not write the code cache ${file}: ${e.message}`);
  }
}

/**
 * The functions compiled so far, into the cache the next start reads; when `grown`, only if it
 * holds more than this run's and than the file there now (another engine of this bundle, say for
 * another account, may have written a fuller one meanwhile).
 */
function saveCache(grown) {
  try {
    const data = script.createCachedData();
    if (grown && data.length <= cachedBytes) return;
    const target = cacheTarget();
    if (grown && (statSync(target, { throwIfNoEntry: false })?.size ?? 0) >= data.length) return;
    writeCache(target, data);
  } catch (e) {
    warn(`could not write the code cache: ${e.message}`);
  }
}

/** Written at once (process.emitWarning waits for a tick, which an exit handler never gets). */
function warn(message) {
  process.stderr.write(`onemount: warning: ${message}\n`);
}

if (BUILD_CACHE_RUN) {
  process.once('exit', () => writeCache(buildCache, script.createCachedData()));
} else {
  const started = () => {
    delete globalThis[HOOK];
    // Once per build: the start's functions, even if this run does not end cleanly.
    if (found !== 'start') saveCache(false);
    // A run that ends in an error leaves the cache as it is.
    process.once('exit', (code) => {
      if (code === 0) saveCache(true);
    });
  };
  started.found = found;
  globalThis[HOOK] = started;
}

const module = { exports: {} };
script.runInThisContext()(module.exports, requireFromBundle, module, BUNDLE, import.meta.dirname);
