#!/usr/bin/env node
// The Node runtime the packaged app ships for its engine (electron-builder.yml's extraResources):
// the official binary the npm registry carries as the package node-linux-<arch>, fetched with npm's
// own client (`npm pack`: no install scripts, no other download) into dist/node-runtime/bin/node.
// Its version is the Node running this script — the one `npm ci` built the native modules
// (better-sqlite3, fuse-native) for — so their ABI matches.
//
//   node src-main/app/electron/node-runtime.js        (npm run build:node-runtime)
import { execFile } from 'node:child_process';
import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../../..');
const OUT = path.join(ROOT, 'dist', 'node-runtime');
const BINARY = path.join(OUT, 'bin', 'node');
const ARCH = { x64: 'x64', arm64: 'arm64' }[process.arch];
if (!ARCH || process.platform !== 'linux') throw new Error(`no Node runtime package for ${process.platform}-${process.arch}`);
const spec = `node-linux-${ARCH}@${process.versions.node}`;

const current = await run(BINARY, ['--version']).then(
  (r) => r.stdout.trim() === process.version,
  () => false,
);
if (current) {
  console.log(`dist/node-runtime/bin/node is ${process.version} already`);
} else {
  await rm(OUT, { recursive: true, force: true });
  await mkdir(OUT, { recursive: true });
  const { stdout } = await run('npm', ['pack', spec, '--pack-destination', OUT, '--silent'], { cwd: OUT, maxBuffer: 16 << 20 });
  const tarball = path.join(OUT, stdout.trim().split('\n').at(-1));
  await run('tar', ['-xzf', tarball, '-C', OUT, '--strip-components=1', 'package/bin/node', 'package/LICENSE']);
  await rm(tarball);
  const { stdout: version } = await run(BINARY, ['--version']);
  if (version.trim() !== process.version) throw new Error(`${spec} runs as ${version.trim()}, not ${process.version}`);
  const mib = (await stat(BINARY)).size / (1 << 20);
  console.log(`Fetched ${spec} into dist/node-runtime/bin/node (${mib.toFixed(0)} MiB; ${(await readdir(OUT)).join(', ')})`);
}
