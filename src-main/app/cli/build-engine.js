#!/usr/bin/env node
// Compiles the engine to JavaScript once, so nothing runs through tsx at run time: esbuild (it
// comes with tsx) bundles the `onemount` command (onemount.cjs, run by its loader onemount.js with
// V8's code cache: engine-loader.js) and the emulator it starts for the demo into dist/engine/. Native modules stay outside the bundle and load from node_modules as before.
// Plain Node, so `npm run demo` can run it on a fresh clone before anything else is built.
//
//   node src-main/app/cli/build-engine.js        (npm run build:engine)
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { ENGINE_DIR, ROOT } from './engine-bundle.js';

/** Loaded by the dynamic loader, or looked up by path at run time: never inlined. */
const EXTERNAL = ['fuse-native', 'better-sqlite3', 'node-gyp-build', 'bindings'];
const LOADER = path.join(ROOT, 'src-main', 'app', 'cli', 'engine-loader.js');

// Once bundled, every module shares the bundle's folder; a source that finds files next to itself
// (the built panel, the emulator's entry) gets its own folder back, relative to wherever the
// bundle lives (a checkout's dist/engine or the packaged app's).
const ownDirname = {
  name: 'own-dirname',
  setup(b) {
    b.onLoad({ filter: /\.ts$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8');
      if (!text.includes('import.meta.dirname')) return undefined;
      const rel = path.relative(ENGINE_DIR, path.dirname(args.path));
      return { contents: text.replaceAll('import.meta.dirname', `__onemountDir(${JSON.stringify(rel)})`), loader: 'ts' };
    });
  },
};

// undici loads node:http2 with its HTTP/2 client whether or not a connection ever asks for it
// (~8 ms of a start); the engine never enables allowH2. Its HTTP/2 module catches a failed
// require (Node builds without http2), which is what it gets here.
const HTTP2_ABSENT = 'HTTP/2 is not part of the OneMount engine (undici runs with allowH2 off)';
const noHttp2 = {
  name: 'no-http2',
  setup(b) {
    b.onResolve({ filter: /^(node:)?http2$/ }, (args) =>
      /[\\/]undici[\\/]lib[\\/]dispatcher[\\/]client-h2\.js$/.test(args.importer) ? { path: 'http2', namespace: 'onemount-no-http2' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'onemount-no-http2' }, () => ({ contents: `throw new Error(${JSON.stringify(HTTP2_ABSENT)});`, loader: 'js' }));
  },
};

// zod's namespaces re-export every locale it has (`z.locales`, `z.core.locales`: ~390 KB of the
// bundle, evaluated at every start); the engine speaks English only, which zod sets up itself from
// locales/en.js.
const ZOD_LOCALES = /[\\/]zod[\\/]v4[\\/](classic[\\/]external|core[\\/]index)\.js$/;
const zodEnglishOnly = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      ZOD_LOCALES.test(args.importer) ? { path: path.join(path.dirname(args.importer), '..', 'locales', 'en.js'), namespace: 'onemount-zod-locales' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'onemount-zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      loader: 'js',
      resolveDir: path.dirname(args.path),
    }));
  },
};

const common = {
  absWorkingDir: ROOT,
  bundle: true,
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  sourcemap: 'linked',
  logLevel: 'warning',
  // The loader reads the bundle as Latin-1 (a one-byte string, no UTF-8 decoding): non-ASCII
  // characters are written as escapes (esbuild's default, stated here because the loader needs it).
  charset: 'ascii',
  plugins: [ownDirname, zodEnglishOnly],
};

/**
 * The `onemount` command as one CommonJS script, which engine-loader.js (copied beside it as
 * onemount.js) runs with V8's code cache. What the code imports lazily (the engine, after the FUSE
 * preflight) stays lazy: esbuild evaluates a module reached only through import() when it is first
 * imported.
 */
async function buildCommand(outdir) {
  await build({
    ...common,
    entryPoints: { onemount: 'src-main/app/cli/main.ts' },
    outdir,
    format: 'cjs',
    plugins: [...common.plugins, noHttp2],
    outExtension: { '.js': '.cjs' },
    define: { 'import.meta.url': '__onemountUrl' },
    banner: {
      js: [
        "const __onemountUrl = require('node:url').pathToFileURL(__filename).href;",
        "const __onemountDir = (rel) => require('node:path').join(__dirname, rel);",
      ].join(' '),
    },
  });
  // With charset ascii, esbuild escapes every string, template and identifier; what it leaves is
  // in comments, where a '?' per UTF-16 unit changes nothing (and keeps the source map's columns).
  const file = path.join(outdir, 'onemount.cjs');
  const bundle = (await readFile(file, 'utf8')).replace(/[\u0080-\uffff]/g, '?');
  // esbuild names each module it bundles in a comment: a zod whose layout changed brings them all back.
  if (bundle.includes('node_modules/zod/v4/locales/index.js')) throw new Error("zod's locales are bundled again: zod-english-only no longer matches how zod re-exports them");
  await writeFile(file, bundle, 'latin1');
  const id = createHash('sha256').update(bundle).digest('hex').slice(0, 16);
  const loader = await readFile(LOADER, 'utf8');
  if (!loader.includes("'@@BUNDLE_ID@@'")) throw new Error(`${LOADER} lost its bundle id placeholder`);
  await writeFile(path.join(outdir, 'onemount.js'), `#!/usr/bin/env node\n${loader.replace("'@@BUNDLE_ID@@'", JSON.stringify(id))}`, { mode: 0o755 });
}

/** The emulator `onemount demo` starts: an ES module of its own (it is its own process). */
async function buildEmulator(outdir) {
  await build({
    ...common,
    entryPoints: { emulator: 'emulator/src/main.ts' },
    outdir,
    format: 'esm',
    // CommonJS dependencies inside an ES module bundle still call require and __dirname.
    banner: {
      js: [
        "import { createRequire as __onemountCreateRequire } from 'node:module';",
        "import { join as __onemountJoin } from 'node:path';",
        'const require = __onemountCreateRequire(import.meta.url);',
        'const __onemountDir = (rel) => __onemountJoin(import.meta.dirname, rel);',
      ].join('\n'),
    },
  });
}

/**
 * The code cache a first start uses (engine-loader.js): `onemount --help` evaluates every module a
 * command loads at once, and the loader keeps what that compiled. A start then writes a fuller one.
 */
function makeBuildCodeCache(outdir) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(outdir, 'onemount.js'), '--help'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ONEMOUNT_BUILD_CODE_CACHE: '1' },
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t) => (stderr += t));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`onemount --help exited with ${code} making the code cache: ${stderr.trim()}`))));
  });
}

/**
 * Builds into a fresh folder and swaps it in whole: a command starting meanwhile finds the old
 * bundle or the new one (or, between the two renames, none, and runs the sources), never a mix.
 */
export async function buildEngine() {
  const started = performance.now();
  const next = `${ENGINE_DIR}.next-${process.pid}`;
  const old = `${ENGINE_DIR}.old-${process.pid}`;
  await rm(next, { recursive: true, force: true });
  await Promise.all([buildCommand(next), buildEmulator(next)]);
  // Without it the engine works the same; only its first start compiles everything itself.
  await makeBuildCodeCache(next).catch((e) => console.warn(`build-engine: no code cache for the first start (${e.message})`));
  await rename(ENGINE_DIR, old).catch((e) => {
    if (e.code !== 'ENOENT') throw e;
  });
  await rename(next, ENGINE_DIR);
  await rm(old, { recursive: true, force: true });
  return performance.now() - started;
}

if (process.argv[1] && path.resolve(process.argv[1]) === import.meta.filename) {
  const ms = await buildEngine();
  console.log(`Built ${path.relative(ROOT, ENGINE_DIR)}/onemount.js and emulator.js in ${Math.round(ms)} ms`);
}
