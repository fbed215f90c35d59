#!/usr/bin/env node
// fuse-native with the caller of each FUSE request (docs/indexers.md), getxattr outside user.*
// answered without a trip to JavaScript, and utimens given the modification time: applies
// fuse-native-2.2.6-onemount.patch to the installed fuse-native and builds it from source
// with node-gyp, offline, against the headers of the Node running this script. node-gyp-build then
// loads build/Release/fuse.node before the package's prebuild. Runs as the root package's
// postinstall (npm install, npm ci); by hand: `npm run build:fuse-native`.
//
// Idempotent: a patched and built module (the stamp in build/ names this patch's hash) is left as
// it is. A failure (no compiler on a fresh machine, another fuse-native version) says what to do
// and leaves the stock prebuilt module, which mounts and serves as before but cannot tell an
// indexer from a person: the engine logs that at every mount, and the indexer tests fail on it.
// ONEMOUNT_REQUIRE_PATCHED_FUSE=1 (.ci/run) makes a failure fail the install.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const PATCHED_VERSION = '2.2.6';
const PATCH = path.join(import.meta.dirname, `fuse-native-${PATCHED_VERSION}-onemount.patch`);
/** A line only this patch's index.js has, and one only its fuse-native.c has. */
const MARKERS = { 'index.js': 'return binding.fuse_native_open_keep_cache === 1', 'fuse-native.c': 'static const uint32_t fuse_native_open_keep_cache = 1;' };
/** What every version of the patch changed in fuse-native.c: a file with it but not the markers carries an older one. */
const ANY_PATCH = 'fuse_native_save_caller(l);';

const strict = process.env.ONEMOUNT_REQUIRE_PATCHED_FUSE === '1';
const STOCK =
  'using the stock fuse-native; OneMount works, but desktop indexers are not told apart from people (docs/indexers.md). Install gcc, make, python3 and patch, then run `npm run build:fuse-native`.';
/** Stops here; `inUse` says what the engine runs with instead (unless ONEMOUNT_REQUIRE_PATCHED_FUSE makes it fail). */
const fail = (message, inUse = STOCK) => {
  process.stderr.write(`build-fuse-native: ${message}\n`);
  if (strict) process.exit(1);
  process.stderr.write(`build-fuse-native: WARNING: ${inUse}\n`);
  process.exit(0);
};

if (process.platform !== 'linux') {
  console.log(`build-fuse-native: nothing to do on ${process.platform} (the patch is for Linux)`);
  process.exit(0);
}

const require = createRequire(import.meta.url);
const dir = path.dirname(require.resolve('fuse-native/package.json'));
const { version } = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8'));
if (version !== PATCHED_VERSION) {
  fail(`the OneMount patch is for fuse-native ${PATCHED_VERSION}, installed is ${version}: port the patch to it (docs/indexers.md, "Updating the fuse-native patch")`);
}

const patchText = readFileSync(PATCH);
const stampFile = path.join(dir, 'build', 'onemount-patch.stamp');
const stamp = `${createHash('sha256').update(patchText).digest('hex')} node-abi ${process.versions.modules}\n`;
const marked = Object.entries(MARKERS).filter(([file, marker]) => readFileSync(path.join(dir, file), 'utf8').includes(marker)).length;
const older = marked === 0 && readFileSync(path.join(dir, 'fuse-native.c'), 'utf8').includes(ANY_PATCH);
if ((marked > 0 && marked < Object.keys(MARKERS).length) || older) {
  const rel = path.relative(process.cwd(), dir);
  fail(`${rel} carries an older OneMount patch: reinstall it (rm -rf ${rel} && npm ci)`, 'using the fuse-native built with the older patch until then; it works, without what the newer one adds.');
}
const patched = marked > 0;
const built = existsSync(path.join(dir, 'build', 'Release', 'fuse.node')) && existsSync(stampFile) && readFileSync(stampFile, 'utf8') === stamp;
if (patched && built) {
  console.log(`build-fuse-native: ${path.relative(process.cwd(), dir)} is patched and built already`);
  process.exit(0);
}

const run = (cmd, args, what) => {
  const r = spawnSync(cmd, args, { cwd: dir, stdio: 'inherit', env: process.env });
  if (r.error) fail(`${what}: ${r.error.message}${r.error.code === 'ENOENT' ? ` (is ${cmd} installed?)` : ''}`);
  if (r.status !== 0) fail(`${what} failed (exit ${r.status ?? r.signal})`);
};

if (!patched) {
  // --forward: a half-applied tree is refused rather than reverted.
  run('patch', ['-p1', '--forward', '--batch', '--no-backup-if-mismatch', '-i', PATCH], `applying ${path.basename(PATCH)}`);
}

// node-gyp: npm's own when run by npm (npm_config_node_gyp), else one installed next to us.
const nodeGyp = process.env.npm_config_node_gyp || resolveOr('node-gyp/bin/node-gyp.js');
if (!nodeGyp) fail('node-gyp not found: run this through npm (`npm run build:fuse-native`) or install node-gyp');
// Offline: the headers of the Node running this (<prefix>/include/node, as Debian's and the official
// builds ship them) instead of node-gyp's download, unless npm's nodedir says otherwise.
const args = [nodeGyp, 'rebuild', '--release'];
const prefix = path.resolve(path.dirname(process.execPath), '..');
if (!process.env.npm_config_nodedir && existsSync(path.join(prefix, 'include', 'node', 'node_api.h'))) args.push(`--nodedir=${prefix}`);
run(process.execPath, args, 'node-gyp rebuild of fuse-native');
writeFileSync(stampFile, stamp);
console.log(`build-fuse-native: built ${path.relative(process.cwd(), path.join(dir, 'build', 'Release', 'fuse.node'))} with the OneMount patch`);

function resolveOr(id) {
  try {
    return require.resolve(id);
  } catch {
    return undefined;
  }
}
