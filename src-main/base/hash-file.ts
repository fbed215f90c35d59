import { open } from 'node:fs/promises';
import { throwIfAborted } from './abort.ts';

/** Anything that takes bytes in order (a quickXorHash, a node:crypto Hash). */
export interface ByteSink {
  update(chunk: Uint8Array): unknown;
}

const READ_BYTES = 1024 * 1024;

/**
 * The one hashing loop: feeds the first `size` bytes of a file (all of it when `size` is absent)
 * to `sink`, read 1 MiB at a time with async reads, so hashing a large file hands the event loop
 * back between blocks (about a millisecond of hashing each) instead of holding it for seconds.
 * The signal is checked between blocks.
 */
export async function feedFile(sink: ByteSink, path: string, options: { size?: number; signal?: AbortSignal } = {}): Promise<void> {
  const handle = await open(path, 'r');
  try {
    const size = options.size ?? (await handle.stat()).size;
    const buffer = Buffer.allocUnsafe(Math.min(READ_BYTES, Math.max(1, size)));
    let position = 0;
    while (position < size) {
      throwIfAborted(options.signal);
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, size - position), position);
      if (bytesRead === 0) break;
      sink.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
  } finally {
    await handle.close();
  }
}
