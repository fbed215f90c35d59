/**
 * What the mount needs from the system: /dev/fuse and Debian's `fuse` (fusermount) and `libfuse2`.
 * As root the missing packages are installed with apt-get; otherwise the exact command is printed.
 *
 * libfuse2 counts as present when fuse-native actually loads (the dynamic loader finds a usable
 * libfuse.so.2), not when a file of that name exists: that is the check that matters, and this is
 * the first place any command loads it.
 */
import { spawn } from 'node:child_process';
import { access, constants } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../base/errors.ts';
import { loadFuseNative } from '../../fuse/fuse-mount.ts';

const FUSERMOUNT_DIRS = ['/usr/bin', '/bin', '/usr/local/bin'];

async function exists(p: string): Promise<boolean> {
  return access(p, constants.X_OK).then(
    () => true,
    () => false,
  );
}

async function hasFusermount(): Promise<boolean> {
  const dirs = [...FUSERMOUNT_DIRS, ...(process.env.PATH ?? '').split(':').filter(Boolean)];
  for (const dir of new Set(dirs)) if (await exists(path.join(dir, 'fusermount'))) return true;
  return false;
}

/** Why libfuse.so.2 cannot be loaded, or undefined when it can. Other load failures are bugs and throw. */
function libfuseLoadError(): string | undefined {
  try {
    loadFuseNative();
    return undefined;
  } catch (e) {
    const message = errorMessage(e);
    if (/libfuse\.so\.2/.test(message)) return message;
    throw e;
  }
}

export async function missingFusePackages(): Promise<string[]> {
  const missing: string[] = [];
  if (!(await hasFusermount())) missing.push('fuse');
  if (libfuseLoadError() !== undefined) missing.push('libfuse2');
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
    const install = `apt-get install -y ${missing.join(' ')}`;
    if (process.getuid?.() !== 0) throw new Error(`FUSE is not installed. Install it with:\n  sudo ${install}`);
    print(`Installing ${missing.join(' ')} (needed to mount the drive)…`);
    const updated = await run('apt-get', ['update', '-y']).catch((e: unknown) => {
      throw new Error(`could not run apt-get (${errorMessage(e)}); install FUSE with: ${install}`, { cause: e });
    });
    if (updated !== 0) print(`  apt-get update failed (exit ${updated}); trying the install with the package lists at hand`);
    const code = await run('apt-get', ['install', '-y', ...missing]);
    if (code !== 0) throw new Error(`${install} failed (exit ${code})`);
    const still = libfuseLoadError();
    if (still !== undefined) throw new Error(`libfuse2 is installed but cannot be loaded: ${still}`);
    if (!(await hasFusermount())) throw new Error('fuse is installed but fusermount is still not found');
  }
  if (!(await access('/dev/fuse', constants.R_OK | constants.W_OK).then(() => true, () => false))) {
    throw new Error('/dev/fuse is missing or not accessible: load the fuse module (sudo modprobe fuse) or run where FUSE is available');
  }
}
