import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, statSync, type Stats } from 'node:fs';
import { chmod, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { OneMountError } from './errors.ts';

/** Files holding anything private (tokens, the database, logs): owner read/write only. */
export const PRIVATE_FILE_MODE = 0o600;
/** Directories holding private files: owner only. */
export const PRIVATE_DIR_MODE = 0o700;

export interface WriteFileAtomicOptions {
  /** Mode of the final file, applied exactly (not masked by the umask). Default PRIVATE_FILE_MODE. */
  mode?: number;
}

/**
 * Replaces `path` with `data` so that a reader (or a crash) sees either the old or the new
 * content, never a mix: write a temp file in the same directory, fsync it, rename it over the
 * target, then fsync the directory so the rename itself survives power loss.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: WriteFileAtomicOptions = {},
): Promise<void> {
  const mode = options.mode ?? PRIVATE_FILE_MODE;
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let renamed = false;
  try {
    const handle = await open(temp, 'wx', mode);
    try {
      await handle.chmod(mode);
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    renamed = true;
    await syncDirectory(dir);
  } catch (error) {
    if (!renamed) await rm(temp, { force: true });
    throw new OneMountError('ATOMIC_WRITE_FAILED', `could not write ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Creates `path` (and missing parents) as a private directory, and tightens its mode to 0700 when
 * it already exists with looser permissions. Parents that already exist are left alone.
 */
export async function ensurePrivateDir(path: string): Promise<void> {
  await mkdir(path, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (needsTightening(path, await stat(path))) await chmod(path, PRIVATE_DIR_MODE);
}

/**
 * ensurePrivateDir without awaits, for the engine's own folders at its start, before it mounts
 * anything. Node's recursive mkdir takes an event-loop turn per folder level it creates, and at
 * that moment the loop is busy with the start's first Graph requests: on a first start the three
 * folders took 20-odd ms that way, against well under one here.
 */
export function ensurePrivateDirSync(path: string): void {
  mkdirSync(path, { recursive: true, mode: PRIVATE_DIR_MODE });
  if (needsTightening(path, statSync(path))) chmodSync(path, PRIVATE_DIR_MODE);
}

function needsTightening(path: string, info: Stats): boolean {
  if (!info.isDirectory()) throw new OneMountError('NOT_A_DIRECTORY', `${path} exists and is not a directory`);
  return (info.mode & 0o777) !== PRIVATE_DIR_MODE;
}

/** The names in a folder; none when the folder does not exist (any other error is thrown). */
export async function readdirIfExists(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}
