/**
 * Bundles the Electron entry points into dist/electron with Vite (already a dependency for the
 * renderer): main.js (ESM; node_modules stay external, the packaged app ships them) and
 * preload.cjs (CommonJS, everything inlined: a sandboxed preload can require only 'electron').
 *
 *   node --import tsx src-main/app/electron/build.ts
 */
import { builtinModules } from 'node:module';
import path from 'node:path';
import { build } from 'vite';

const root = path.resolve(import.meta.dirname, '..', '..', '..');
const outDir = path.join(root, 'dist', 'electron');
const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

async function bundle(entry: string, o: { format: 'es' | 'cjs'; fileName: string; inlineDependencies: boolean; emptyOutDir: boolean }): Promise<void> {
  await build({
    root,
    configFile: false,
    logLevel: 'warn',
    publicDir: false,
    ssr: { target: 'node', ...(o.inlineDependencies ? { noExternal: true } : {}) },
    build: {
      ssr: path.join(root, entry),
      outDir,
      emptyOutDir: o.emptyOutDir,
      target: 'node20',
      minify: false,
      sourcemap: true,
      rolldownOptions: {
        external: ['electron', ...nodeBuiltins],
        output: { format: o.format, entryFileNames: o.fileName, codeSplitting: false },
      },
    },
  });
}

await bundle('src-main/app/electron/main.ts', { format: 'es', fileName: 'main.js', inlineDependencies: false, emptyOutDir: true });
await bundle('src-main/app/electron/preload.ts', { format: 'cjs', fileName: 'preload.cjs', inlineDependencies: true, emptyOutDir: false });
process.stdout.write(`Built ${path.relative(root, outDir)}/main.js and preload.cjs\n`);
