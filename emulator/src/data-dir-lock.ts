/**
 * One emulator process per data folder: two would write the same SQLite database and content
 * files. The lock is a file holding the owner's pid, linked into place whole (never seen empty);
 * a lock whose pid is no longer alive (a killed emulator) is taken over.
 */
import { link, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const LOCK_FILE = 'emulator.lock';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A pid can be reused after a crash: only an emulator's command line holds the lock. */
async function isEmulator(pid: number): Promise<boolean> {
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => undefined);
  // Without /proc the pid's liveness is all there is to go by.
  return cmdline === undefined || /emulator/.test(cmdline);
}

export async function lockDataDir(dataDir: string): Promise<{ release(): Promise<void> }> {
  const file = path.join(dataDir, LOCK_FILE);
  const mine = `${file}.${process.pid}`;
  await writeFile(mine, `${process.pid}\n`, { mode: 0o600 });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(mine, file);
        return { release: () => rm(file, { force: true }) };
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const text = await readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined;
        throw e;
      });
      if (text === undefined) continue; // released meanwhile
      const owner = Number.parseInt(text, 10);
      if (owner !== process.pid && alive(owner) && (await isEmulator(owner))) {
        throw new Error(`another emulator (pid ${owner}) already serves ${dataDir}; stop it first (kill ${owner})`);
      }
      // The owner is gone: take the lock over.
      await rm(file, { force: true });
    }
    throw new Error(`could not take the lock ${file}`);
  } finally {
    await rm(mine, { force: true });
  }
}
