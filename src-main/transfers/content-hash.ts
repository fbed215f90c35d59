import { open } from 'node:fs/promises';
import { throwIfAborted } from '../base/abort.ts';
import { QuickXorHash } from '../graph/quickxor.ts';

const READ_BYTES = 1024 * 1024;

/**
 * The quickXorHash of the first `size` bytes of a cache file, read 1 MiB at a time with async
 * reads, so hashing a large file hands the event loop back between blocks (about a millisecond of
 * hashing each) instead of holding it for seconds.
 */
export async function hashCacheFile(path: string, size: number, signal: AbortSignal): Promise<string> {
  const hash = new QuickXorHash();
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(Math.min(READ_BYTES, Math.max(1, size)));
    let position = 0;
    while (position < size) {
      throwIfAborted(signal);
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - position), position);
      if (bytesRead === 0) break;
      hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
  } finally {
    await handle.close();
  }
  return hash.digest();
}
