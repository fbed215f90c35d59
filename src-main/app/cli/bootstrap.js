#!/usr/bin/env node
// `npm run demo` on a fresh clone: installs the npm dependencies when they are missing (or older
// than package-lock.json), then runs `onemount demo`, which installs FUSE's Debian packages when
// run as root (or names them) and mounts the demo drive. Plain Node, no dependencies.
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '../../..');
const mtime = (p) => {
  try {
    return statSync(path.join(root, p)).mtimeMs;
  } catch {
    return undefined;
  }
};
const installed = mtime('node_modules/.package-lock.json');
if (installed === undefined || installed < (mtime('package-lock.json') ?? 0)) {
  console.log('Installing dependencies (npm ci)…');
  const npm = spawnSync('npm', ['ci'], { cwd: root, stdio: 'inherit' });
  if (npm.status !== 0) process.exit(npm.status ?? 1);
}
const demo = spawnSync(process.execPath, [path.join(root, 'src-main/app/cli/onemount.js'), 'demo', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(demo.status ?? 1);
