/**
 * The sparse cache files: one per item, named by a hash of the item id (ids may hold characters a
 * file name cannot, and the name must not reveal what the file is), spread over 256 directories.
 * Directories are 0700 and files 0600: they hold the user's documents.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../base/files.ts';

export function cacheFilePath(cacheDir: string, itemId: string): string {
  const digest = createHash('sha256').update(itemId, 'utf8').digest('hex');
  return join(cacheDir, digest.slice(0, 2), digest);
}

/** The 256 directories cache files are spread over. */
export function cacheFolders(cacheDir: string): string[] {
  return Array.from({ length: 256 }, (_, i) => join(cacheDir, i.toString(16).padStart(2, '0')));
}

/** Opens (creating it if needed; emptied first when `truncate`) a cache file for positional reads and writes. */
export async function openCacheFile(path: string, truncate = false): Promise<FileHandle> {
  const flags = constants.O_RDWR | constants.O_CREAT | (truncate ? constants.O_TRUNC : 0);
  try {
    return await open(path, flags, PRIVATE_FILE_MODE);
  } catch (error) {
    // The first file of its directory: create the directory (0700), then open again.
    if ((error as { code?: unknown }).code !== 'ENOENT') throw error;
    await ensurePrivateDir(dirname(path));
    return open(path, flags, PRIVATE_FILE_MODE);
  }
}

/** Sets the file to `size` bytes, all of them holes: a fresh start for a new version. */
export async function resetCacheFile(path: string, size: number): Promise<void> {
  const handle = await openCacheFile(path, true);
  try {
    if (size > 0) await handle.truncate(size);
  } finally {
    await handle.close();
  }
}

/** The file's length, or undefined when it does not exist. */
export async function cacheFileLength(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined;
    throw error;
  }
}

export async function removeCacheFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** Writes all of `data` at `position` (a positional write may be short). */
async function writeFully(handle: FileHandle, data: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, position + done);
    done += bytesWritten;
  }
}

/** Writes `pieces` (`length` bytes together) back to back at `position`, in as few system calls as the kernel allows. */
export async function writevFully(handle: FileHandle, pieces: Buffer[], position: number, length: number): Promise<void> {
  if (pieces.length === 1) return writeFully(handle, pieces[0]!, position);
  const { bytesWritten } = await handle.writev(pieces, position);
  if (bytesWritten < length) await writeFully(handle, Buffer.concat(pieces, length).subarray(bytesWritten), position + bytesWritten);
}
