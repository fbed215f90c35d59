/**
 * The engine run through tsx (its TypeScript sources, transformed at run time) vs compiled once by
 * esbuild (dist/engine, what `npm run demo` and the packaged app run): how long `onemount mount`
 * takes until it has mounted — on a first start (enumerating the whole drive) and on a restart
 * (state on disk) — how long `onemount --help` takes (pure start-up), and the idle RSS with a
 * 100 000-item drive after the first start (issue 3's target: ≤ 150 MiB).
 *
 * Both variants run in alternation, against one emulator, each with fresh XDG folders per round.
 * Environment: BENCH_ITEMS (default 100 000), BENCH_STARTUP_ROUNDS (default 3).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { EmulatorProcess } from '../emulator/src/spawn.ts';
import { withBenchRoot } from './bench-root.ts';
import { envNumber, fmt, median, printTable, type Row } from './lib.ts';
import { MountedChild, runProgram } from './mount-processes.ts';
import { statusMiB } from './rss-sampler.ts';

const ONEMOUNT = path.join(import.meta.dirname, '..', 'src-main', 'app', 'cli', 'onemount.js');
const BUILD = path.join(import.meta.dirname, '..', 'src-main', 'app', 'cli', 'build-engine.js');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

type Variant = 'tsx' | 'compiled';
const VARIANT_ENV: Record<Variant, NodeJS.ProcessEnv> = { tsx: { ONEMOUNT_ENGINE: 'source' }, compiled: { ONEMOUNT_ENGINE: 'compiled' } };

interface Round {
  firstMs: number;
  restartMs: number;
  helpMs: number;
  idleRss: number;
}

export async function run(): Promise<void> {
  const items = envNumber('BENCH_ITEMS', 100_000);
  const rounds = envNumber('BENCH_STARTUP_ROUNDS', 3);
  // The compiled variant must be what the sources are now.
  const buildMs = (await runProgram(process.execPath, [BUILD])).ms;

  await withBenchRoot('onemount-bench-startup-', async (root, cleanup) => {
    const emu = await EmulatorProcess.start({ dataDir: path.join(root, 'emu') });
    cleanup.add('stop the emulator', () => emu.stop());
    await emu.admin.generate({ under: 'many', folders: 100, filesPerFolder: Math.max(1, Math.round(items / 100) - 1), fileSize: 100 });
    const info = await emu.admin.info();
    const results: Record<Variant, Round[]> = { tsx: [], compiled: [] };
    // A stop that goes wrong is a finding of its own, reported under the table, not a lost run.
    const problems: string[] = [];
    const stop = async (child: MountedChild, what: string) => {
      await child.stop().catch((e: unknown) => problems.push(`${what}: ${e instanceof Error ? e.message : String(e)}`));
    };

    for (let i = 0; i < rounds; i++) {
      for (const variant of ['tsx', 'compiled'] as const) {
        const name = `${variant}-${i}`;
        const env: NodeJS.ProcessEnv = {
          ...VARIANT_ENV[variant],
          XDG_CONFIG_HOME: path.join(root, name, 'config'),
          XDG_STATE_HOME: path.join(root, name, 'state'),
          XDG_CACHE_HOME: path.join(root, name, 'cache'),
          XDG_RUNTIME_DIR: path.join(root, name, 'run'),
        };
        const start = () =>
          MountedChild.startEngine({ mountpoint: path.join(root, name, 'mnt'), apiUrl: emu.info.apiUrl, account: 'bench', env, kernelCacheSec: 1, nodeArgs: [] });
        const first = await start();
        await sleep(1000);
        const rss: number[] = [];
        for (let s = 0; s < 5; s++) {
          if (s > 0) await sleep(1000);
          rss.push(await statusMiB(first.pid, 'VmRSS'));
        }
        await stop(first, `${name} first start`);
        const again = await start();
        await stop(again, `${name} restart`);
        const help = await timedHelp(env);
        results[variant].push({ firstMs: first.startMs, restartMs: again.startMs, helpMs: help, idleRss: median(rss) });
      }
    }

    const m = (v: Variant, k: keyof Round) => median(results[v].map((r) => r[k]));
    const runs = (v: Variant, k: keyof Round, digits = 0) => results[v].map((r) => fmt(r[k], digits)).join(' ');
    const rows: Row[] = [];
    const line = (what: string, k: keyof Round, unit: string, digits: number) => {
      rows.push({ what: `${what}: tsx`, value: `${fmt(m('tsx', k), digits)} ${unit}`, note: `runs ${runs('tsx', k, digits)}` });
      rows.push({ what: `${what}: compiled`, value: `${fmt(m('compiled', k), digits)} ${unit}`, note: `runs ${runs('compiled', k, digits)}` });
      const saved = m('tsx', k) - m('compiled', k);
      rows.push({ what: '  → compiled / tsx', value: `${fmt(m('compiled', k) / m('tsx', k), 2)}×`, note: `${fmt(Math.abs(saved), digits)} ${unit} ${saved >= 0 ? 'less' : 'more'}` });
    };
    line('`onemount --help`', 'helpMs', 'ms', 0);
    line(`mounted, restart (${info.files + info.folders} items on disk)`, 'restartMs', 'ms', 0);
    line(`mounted, first start (enumerates ${info.files + info.folders} items)`, 'firstMs', 'ms', 0);
    line('idle RSS after the first start', 'idleRss', 'MiB', 1);
    rows.push({ what: 'esbuild build of dist/engine', value: `${fmt(buildMs, 0)} ms`, note: 'what `npm run demo` adds once to a fresh clone' });
    printTable(`Start-up (issue 12): the engine through tsx vs compiled, ${rounds} rounds, median`, rows);
    for (const p of problems) console.log(`problem: ${p}`);
  });
}

/** Spawn to exit of `onemount --help`. */
async function timedHelp(env: NodeJS.ProcessEnv): Promise<number> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [ONEMOUNT, '--help'], { stdio: 'ignore', env: { ...process.env, ...env } });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  if (code !== 0) throw new Error(`onemount --help exited with ${code}`);
  return performance.now() - t0;
}
