#!/usr/bin/env node
// `npm run demo` on a fresh clone: installs the npm dependencies when they are missing (or differ
// from package-lock.json), builds what the demo runs when it is missing or older than its sources
// (the panel into dist/renderer, the compiled engine into dist/engine), then runs `onemount demo`,
// which installs FUSE's Debian packages when run as root (or names them) and mounts the demo drive.
// Plain Node: nothing but Node itself is needed before `npm ci` has run.
//
// Ctrl-C and SIGTERM go to the engine, and this process waits for its shutdown and exits with its
// status — npm returns only once the drive is unmounted.
import { spawn } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { ensureDependencies, run } from './dependencies.js';
import { ENGINE_MAIN, ROOT, engineBundleState } from './engine-bundle.js';

const mtime = (p) =>
  stat(path.join(ROOT, p)).then(
    (s) => s.mtimeMs,
    () => undefined,
  );

async function newest(dir) {
  const entries = await readdir(path.join(ROOT, dir), { withFileTypes: true, recursive: true });
  const times = await Promise.all(entries.filter((e) => e.isFile()).map((e) => stat(path.join(e.parentPath, e.name)).then((s) => s.mtimeMs)));
  return Math.max(0, ...times);
}

await ensureDependencies();

const panel = await mtime('dist/renderer/index.html');
// The page is built from src-renderer and the contract it shares with the engine.
if (panel === undefined || panel < Math.max(await newest('src-renderer'), await newest('src-shared'))) {
  console.log('Building the transfer panel (vite build src-renderer)…');
  await run('vite build', process.execPath, [path.join(ROOT, 'node_modules/vite/bin/vite.js'), 'build', 'src-renderer', '--logLevel', 'warn']);
}

const engine = await engineBundleState();
if (engine !== undefined) {
  console.log(`Building the engine (${engine === 'missing' ? 'first run' : 'sources changed'}: esbuild → dist/engine)…`);
  await run('the engine build', process.execPath, [path.join(ROOT, 'src-main/app/cli/build-engine.js')]);
}

// Its own process group: a terminal's Ctrl-C reaches this process and npm (which forwards it here
// too), and the engine gets exactly one signal from here. A second one, later, is the user
// insisting: the engine then takes its fast (still lossless) exit.
const demo = spawn(process.execPath, [ENGINE_MAIN, 'demo', ...process.argv.slice(2)], { stdio: 'inherit', detached: true });
const DUPLICATE_WINDOW_MS = 1000;
let lastForwarded = 0;
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    const now = Date.now();
    if (now - lastForwarded < DUPLICATE_WINDOW_MS) return;
    lastForwarded = now;
    demo.kill(signal);
  });
}
demo.once('error', (e) => {
  console.error(`onemount demo could not start: ${e.message}`);
  process.exit(1);
});
demo.once('exit', (code, signal) => {
  process.exit(code ?? (signal ? 128 + ({ SIGINT: 2, SIGHUP: 1, SIGKILL: 9, SIGTERM: 15 }[signal] ?? 1) : 1));
});
