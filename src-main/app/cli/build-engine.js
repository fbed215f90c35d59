#!/usr/bin/env node
// Compiles the engine to JavaScript once, so nothing runs through tsx at run time: esbuild (it
// comes with tsx) bundles the `onemount` command and the emulator it starts for the demo into
// dist/engine/. Native modules stay outside the bundle and load from node_modules as before.
// Plain Node, so `npm run demo` can run it on a fresh clone before anything else is built.
//
//   node src-main/app/cli/build-engine.js        (npm run build:engine)
import { build } from 'esbuild';
import { readFile, rename, rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { ENGINE_DIR, ROOT } from './engine-bundle.js';

export const ENTRY_POINTS = { onemount: 'src-main/app/cli/main.ts', emulator: 'emulator/src/main.ts' };
/** Loaded by the dynamic loader, or looked up by path at run time: never inlined. */
const EXTERNAL = ['fuse-native', 'better-sqlite3', 'node-gyp-build', 'bindings'];

// Once bundled, every module shares the bundle's import.meta.dirname; a source that finds files
// next to itself (the built panel, the emulator's entry) gets its own folder back, relative to
// wherever the bundle lives (a checkout's dist/engine or the packaged app's).
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

/**
 * Builds into a fresh folder and swaps it in whole: a command starting meanwhile finds the old
 * bundle or the new one (or, between the two renames, none, and runs the sources), never a mix.
 */
export async function buildEngine() {
  const started = performance.now();
  const next = `${ENGINE_DIR}.next-${process.pid}`;
  const old = `${ENGINE_DIR}.old-${process.pid}`;
  await rm(next, { recursive: true, force: true });
  await build({
    entryPoints: ENTRY_POINTS,
    absWorkingDir: ROOT,
    outdir: next,
    bundle: true,
    platform: 'node',
    format: 'esm',
    // Chunks, so that what the code imports lazily (the engine, after the FUSE preflight) stays
    // lazy: one file would hoist better-sqlite3's import to the top and load it for `--help`.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    target: 'node20',
    external: EXTERNAL,
    sourcemap: 'linked',
    logLevel: 'warning',
    plugins: [ownDirname],
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
