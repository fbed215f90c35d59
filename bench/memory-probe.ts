/**
 * Where the engine's memory goes after the peers bench's listing (a first start on a drive with a
 * 10 000-entry folder, one cold and six warm `ls -l` of it): VmRSS split into anonymous and file
 * pages, the V8 heap before and after a forced full collection, and RSS after it. Diagnostic only.
 *
 *   node --import tsx bench/memory-probe.ts          (BENCH_BIG_FOLDER, default 10 000)
 */
import path from 'node:path';
import { EmulatorProcess } from '../emulator/src/spawn.ts';
import { Cleanup, emulatorDataDir, withBenchRoot } from './bench-root.ts';
import { collectGarbage } from './inspector-gc.ts';
import { envNumber, fmt } from './lib.ts';
import { MountedChild, runProgram } from './mount-processes.ts';
import { statusMiB } from './rss-sampler.ts';

const MiB = 1024 * 1024;

async function probe(root: string, cleanup: Cleanup): Promise<void> {
  const bigFolder = envNumber('BENCH_BIG_FOLDER', 10_000);
  const emu = await EmulatorProcess.start({ dataDir: await emulatorDataDir(root, 'mem', cleanup) });
  cleanup.add('stop emulator', () => emu.stop());
  await emu.admin.generate({ bigFolder });
  const env = {
    XDG_CONFIG_HOME: path.join(root, 'config'),
    XDG_STATE_HOME: path.join(root, 'state'),
    XDG_CACHE_HOME: path.join(root, 'cache'),
    XDG_RUNTIME_DIR: path.join(root, 'run'),
  };
  const mnt = path.join(root, 'mnt');
  const child = await MountedChild.startEngine({ mountpoint: mnt, apiUrl: emu.info.apiUrl, account: 'mem', env, kernelCacheSec: 10, nodeArgs: ['--inspect=127.0.0.1:0', ...(process.env.PROBE_NODE_ARGS ?? '').split(' ').filter(Boolean)] });
  cleanup.add('stop engine', () => child.stop());
  const show = async (what: string) => {
    const [rss, anon, file] = await Promise.all([statusMiB(child.pid), statusMiB(child.pid, 'RssAnon'), statusMiB(child.pid, 'RssFile')]);
    console.log(`${what}: VmRSS ${fmt(rss)} MiB (anon ${fmt(anon)}, file ${fmt(file)})`);
  };
  await show('mounted');
  const times: string[] = [];
  for (let i = 0; i < 7; i++) times.push(fmt((await runProgram('ls', ['-l', '--color=never', path.join(mnt, 'Big')])).ms, 0));
  console.log(`start ${fmt(child.startMs, 0)} ms; ls -l of Big/: ${times.join(' ')} ms`);
  await show('after the listing');
  const url = child.inspectorUrl;
  if (!url) throw new Error('the engine did not print its inspector address');
  const heap = await collectGarbage(url);
  console.log(`V8 heap used: ${fmt(heap.heapUsedBefore / MiB)} MiB before a full GC, ${fmt(heap.heapUsedAfter / MiB)} MiB after`);
  await show('after a full GC');
  if (process.env.PROBE_KEEP) {
    console.log(`engine pid ${child.pid}, state in ${root}; Enter ends the probe`);
    await new Promise((resolve) => process.stdin.once('data', resolve));
  }
}

await withBenchRoot('onemount-memory-probe-', (root, cleanup) => probe(root, cleanup));
