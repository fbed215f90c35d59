/**
 * A benchmark's scratch folder and its undo steps: mounts, processes and temp dirs are cleared even
 * when the measurement fails, and the folder is removed only once nothing is mounted below it.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { mountsUnder, unmountLazy } from './mount-processes.ts';

/** Undo steps, run last-in first-out; every step runs even when an earlier one fails. */
export class Cleanup {
  private readonly steps: Array<{ what: string; undo: () => Promise<void> }> = [];

  add(what: string, undo: () => Promise<void>): void {
    this.steps.push({ what, undo });
  }

  async run(): Promise<void> {
    const failures: Error[] = [];
    while (this.steps.length) {
      const step = this.steps.pop()!;
      try {
        await step.undo();
      } catch (e) {
        failures.push(new Error(`cleanup '${step.what}' failed: ${e instanceof Error ? e.message : String(e)}`, { cause: e }));
      }
    }
    if (failures.length === 1) throw failures[0]!;
    if (failures.length > 1) throw new AggregateError(failures, failures.map((f) => f.message).join('; '));
  }
}

/**
 * Runs `fn` with a fresh temp folder and a Cleanup; afterwards runs the cleanup, lazily unmounts
 * anything still mounted below the folder and removes it. The measurement's error wins over a
 * cleanup error (which is then printed).
 */
export async function withBenchRoot(prefix: string, fn: (root: string, cleanup: Cleanup) => Promise<void>): Promise<void> {
  const root = await mkdtemp(path.join(os.tmpdir(), prefix));
  const cleanup = new Cleanup();
  let outcome: { ok: true } | { ok: false; error: unknown };
  try {
    await fn(root, cleanup);
    outcome = { ok: true };
  } catch (e) {
    outcome = { ok: false, error: e };
  }
  let cleanupError: unknown;
  try {
    await cleanup.run();
    // Never recurse into a mount that is still there.
    for (const m of await mountsUnder(root)) await unmountLazy(m);
    const left = await mountsUnder(root);
    if (left.length === 0) await rm(root, { recursive: true, force: true });
    else throw new Error(`left ${root} in place, mounts remain under it: ${left.map((m) => m.mountpoint).join(', ')}`);
  } catch (e) {
    cleanupError = e;
  }
  if (!outcome.ok) {
    if (cleanupError) console.error(`${prefix} cleanup after a failure: ${cleanupError instanceof Error ? cleanupError.message : String(cleanupError)}`);
    throw outcome.error;
  }
  if (cleanupError) throw cleanupError;
}

/**
 * A folder for an emulator's drive in memory (/dev/shm), removed by `cleanup`: on this machine's
 * disk, writes alone top out near 360 MiB/s, below the loopback, and upload figures would measure
 * the disk instead of the client. Falls back to `fallbackParent` where /dev/shm is missing.
 */
export async function emulatorDataDir(fallbackParent: string, name: string, cleanup: Cleanup): Promise<string> {
  const shm = '/dev/shm';
  const inMemory = await stat(shm).then(
    (s) => s.isDirectory(),
    () => false,
  );
  const dir = await mkdtemp(path.join(inMemory ? shm : fallbackParent, `onemount-bench-${name}-`));
  cleanup.add(`remove ${dir}`, () => rm(dir, { recursive: true, force: true }));
  return dir;
}
