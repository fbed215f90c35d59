// Where the compiled engine lives (dist/engine, made by build-engine.js) and whether it can be
// run: present, and not older than any source it was built from — a checkout being edited runs its
// sources through tsx until the next build. The packaged app ships no sources, so its bundle is
// always current. Plain Node with no dependencies: the `onemount` command's first step.
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';

export const ROOT = path.resolve(import.meta.dirname, '../../..');
export const ENGINE_DIR = path.join(ROOT, 'dist', 'engine');
export const ENGINE_MAIN = path.join(ENGINE_DIR, 'onemount.js');
/** The sources a bundle is made of. */
export const SOURCE_DIRS = ['src-main', 'src-shared', 'emulator/src'];
/** The compiled engine's entry (copied to ENGINE_MAIN by the build): a source of the bundle too. */
const LOADER_NAME = 'engine-loader.js';

const mtime = (p) =>
  stat(p).then(
    (s) => s.mtimeMs,
    (e) => {
      if (e.code === 'ENOENT') return undefined;
      throw e;
    },
  );

async function newestSource(dir) {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true }).catch((e) => {
    if (e.code === 'ENOENT') return [];
    throw e;
  });
  const times = await Promise.all(
    entries.filter((e) => e.isFile() && ((e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) || e.name === LOADER_NAME)).map((e) => mtime(path.join(e.parentPath, e.name))),
  );
  return Math.max(0, ...times.map((t) => t ?? 0));
}

/** Why dist/engine cannot be run as it is ('missing', 'stale'), or undefined when it can. */
export async function engineBundleState() {
  const built = await mtime(ENGINE_MAIN);
  if (built === undefined) return 'missing';
  const newest = await Promise.all(SOURCE_DIRS.map((d) => newestSource(path.join(ROOT, d))));
  return Math.max(...newest) > built ? 'stale' : undefined;
}
