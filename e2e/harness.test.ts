/**
 * The harness's global guard: a run whose test process died leaves an engine, an emulator and a
 * mount behind; the next run stops those processes, clears the mount and removes the folder, and
 * leaves live runs alone.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { EmulatorProcess } from '../emulator/src/spawn.ts';
import { clearStaleRuns, E2E_ROOT, EngineProcess, isMounted, lazyUnmount } from './harness.ts';

// Its own root: the mount tests running in parallel clear stale runs under E2E_ROOT.
const root = `${E2E_ROOT}-guard-${process.pid}`;

/** A pid no process has: above the kernel's pid_max. */
async function deadPid(): Promise<number> {
  return Number((await readFile('/proc/sys/kernel/pid_max', 'utf8')).trim()) + 1;
}

describe('clearStaleRuns', () => {
  afterAll(async () => {
    await lazyUnmount(path.join(root, `run-${await deadPid()}-crashed`, 'mnt')).catch(() => undefined);
    await rm(root, { recursive: true, force: true });
  });

  it('stops the processes of a dead run, clears its mount and removes it; a live run stays', async () => {
    const dead = path.join(root, `run-${await deadPid()}-crashed`);
    const live = path.join(root, `run-${process.pid}-live`);
    await mkdir(live, { recursive: true });
    await mkdir(dead, { recursive: true });
    const emulator = await EmulatorProcess.start({ dataDir: path.join(dead, 'emulator') });
    let engine: EngineProcess | undefined;
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, HOME: dead };
      for (const v of ['XDG_CONFIG_HOME', 'XDG_STATE_HOME', 'XDG_CACHE_HOME', 'XDG_DATA_HOME', 'XDG_RUNTIME_DIR']) env[v] = path.join(dead, v.toLowerCase());
      engine = await EngineProcess.start({ mountpoint: path.join(dead, 'mnt'), apiUrl: emulator.info.apiUrl, env });
      await writeFile(path.join(dead, 'pids'), `emulator ${emulator.child.pid}\nengine ${engine.pid}\n`);

      expect(await clearStaleRuns(root)).toEqual([dead]);

      // The processes were ended by the guard (SIGKILL), so these only collect their exit.
      expect((await engine.stop()).signal).toBe('SIGKILL');
      await emulator.stop();
      expect(emulator.child.signalCode).toBe('SIGKILL');
      expect(await isMounted(path.join(dead, 'mnt'))).toBe(false);
      expect(await stat(dead).catch((e: NodeJS.ErrnoException) => e.code)).toBe('ENOENT');
      expect((await stat(live)).isDirectory()).toBe(true);
    } finally {
      await engine?.stop();
      await emulator.stop();
    }
  }, 60_000);
});
