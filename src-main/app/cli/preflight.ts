/**
 * What the mount needs from the system: /dev/fuse and Debian's `fuse` (fusermount) and `libfuse2`.
 * As root the missing packages are installed with apt-get; otherwise the exact command is printed.
 */
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';

const FUSERMOUNT = ['/usr/bin/fusermount', '/bin/fusermount'];
const LIBFUSE2 = ['/usr/lib/x86_64-linux-gnu/libfuse.so.2', '/lib/x86_64-linux-gnu/libfuse.so.2', '/usr/lib/aarch64-linux-gnu/libfuse.so.2', '/lib/aarch64-linux-gnu/libfuse.so.2'];

async function anyExists(paths: string[]): Promise<boolean> {
  for (const p of paths) {
    if (await access(p, constants.F_OK).then(() => true, () => false)) return true;
  }
  return false;
}

export async function missingFusePackages(): Promise<string[]> {
  const missing: string[] = [];
  if (!(await anyExists(FUSERMOUNT))) missing.push('fuse');
  if (!(await anyExists(LIBFUSE2))) missing.push('libfuse2');
  return missing;
}

function run(cmd: string, args: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  });
}

/** Makes sure FUSE can be used, installing Debian packages when running as root. Throws with the fix otherwise. */
export async function ensureFuse(print: (line: string) => void): Promise<void> {
  const missing = await missingFusePackages();
  if (missing.length > 0) {
    if (process.getuid?.() === 0) {
      print(`Installing ${missing.join(' ')} (needed to mount the drive)…`);
      await run('apt-get', ['update', '-y']).catch(() => 1);
      const code = await run('apt-get', ['install', '-y', ...missing]);
      if (code !== 0) throw new Error(`apt-get install -y ${missing.join(' ')} failed (exit ${code})`);
    } else {
      throw new Error(`FUSE is not installed. Install it with:\n  sudo apt-get install -y ${missing.join(' ')}`);
    }
  }
  if (!(await access('/dev/fuse', constants.R_OK | constants.W_OK).then(() => true, () => false))) {
    throw new Error('/dev/fuse is missing or not accessible: load the fuse module (sudo modprobe fuse) or run where FUSE is available');
  }
}
