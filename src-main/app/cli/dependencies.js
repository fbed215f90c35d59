#!/usr/bin/env node
// The npm dependencies a fresh clone lacks, installed before anything else runs: `npm run demo`
// (bootstrap.js) and `npm test` (its pretest step) both start here. Plain Node: nothing but Node
// itself is needed before `npm ci` has run.
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ROOT } from './engine-bundle.js';

/** Runs a command to completion with the terminal attached; a failure ends this process with its status. */
export function run(what, command, args, env = process.env) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: 'inherit', env });
    child.once('error', (e) => {
      console.error(`${what} could not start: ${e.message}`);
      process.exit(1);
    });
    child.once('exit', (code, signal) => {
      if (code === 0) return resolve();
      console.error(`${what} failed (${signal ?? `exit ${code}`})`);
      process.exit(code ?? 1);
    });
  });
}

/**
 * Whether node_modules holds what package-lock.json asks for: npm's own record of what it installed
 * (node_modules/.package-lock.json) names the same version of every package. By content, not by
 * date: a checkout's files are newer than an install that matches them.
 */
async function dependenciesInstalled() {
  const wanted = JSON.parse(await readFile(path.join(ROOT, 'package-lock.json'), 'utf8')).packages;
  const record = await readFile(path.join(ROOT, 'node_modules', '.package-lock.json'), 'utf8').catch((e) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (record === undefined) return false;
  const installed = JSON.parse(record).packages;
  // Optional packages for other platforms are never installed.
  return Object.entries(wanted).every(([key, entry]) => key === '' || entry.optional === true || installed[key]?.version === entry.version);
}

/**
 * The native modules (better-sqlite3, fuse-native) build against the running Node's own headers
 * when it was installed with them (`<prefix>/include/node`), as distribution and nodejs.org builds
 * are: node-gyp would otherwise download them, which fails offline. A nodedir set in the
 * environment stays.
 */
async function buildEnv() {
  if (process.env.npm_config_nodedir) return process.env;
  const prefix = path.dirname(path.dirname(process.execPath));
  const headers = await stat(path.join(prefix, 'include', 'node', 'node.h')).catch((e) => {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return undefined;
    throw e;
  });
  return headers ? { ...process.env, npm_config_nodedir: prefix } : process.env;
}

/** `npm ci` when the dependencies are missing or differ from package-lock.json. */
export async function ensureDependencies() {
  if (await dependenciesInstalled()) return;
  console.log('Installing dependencies (npm ci)…');
  await run('npm ci', 'npm', ['ci'], await buildEnv());
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) await ensureDependencies();
