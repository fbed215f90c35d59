/**
 * Thumbnails of images, fetched from Graph in the background and kept as small files under the
 * account's cache folder (`<cacheDir>/thumbnails/<hash of the id>/<hash of the version>-<size>`), for
 * the desktop app to show. Nothing here ever runs inside a FUSE call: the UI asks over IPC, and
 * images that delta brings in are prefetched by a background task.
 *
 * A new version of an image gets new thumbnails (the version is in the file name); the old ones are
 * removed when the new ones land. Concurrent requests for the same picture share one fetch.
 */
import { createHash } from 'node:crypto';
import { readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isAbortError } from '../base/abort.ts';
import { OneMountError } from '../base/errors.ts';
import { ensurePrivateDir, PRIVATE_FILE_MODE } from '../base/files.ts';
import type { Logger } from '../base/logger.ts';
import type { GraphClient } from '../graph/client.ts';
import type { ThumbnailSize } from '../graph/thumbnails.ts';
import type { TaskHandle, TaskRegistry } from '../lifecycle/task-registry.ts';
import type { StoredItem } from '../store/index.ts';

export type ThumbnailSource = Pick<GraphClient, 'listThumbnails' | 'downloadRange'>;

/** File names the service makes thumbnails for that are worth prefetching (pictures). */
const IMAGE_NAME = /\.(jpe?g|png|gif|webp|bmp|tiff?|heic|heif|avif)$/i;
/** A thumbnail larger than this is not a thumbnail: refuse it rather than fill the disk. */
const MAX_THUMBNAIL_BYTES = 8 * 1024 * 1024;
/** Prefetch only the sizes a file list shows. */
const PREFETCH_SIZES: readonly ThumbnailSize[] = ['small', 'medium'];

export class ThumbnailTooLargeError extends OneMountError {
  constructor(itemId: string) {
    super('THUMBNAIL_TOO_LARGE', `the thumbnail of item ${itemId} is larger than ${MAX_THUMBNAIL_BYTES} bytes; not keeping it`);
  }
}

export interface ThumbnailCacheOptions {
  graph: ThumbnailSource;
  /** The account's cache folder; thumbnails go below it in `thumbnails/`. */
  cacheDir: string;
  tasks: TaskRegistry;
  logger: Logger;
  /** Most images queued for prefetch; more are dropped (the UI still fetches them on demand). Default 10 000. */
  maxQueued?: number;
}

export function isImageName(name: string): boolean {
  return IMAGE_NAME.test(name);
}

export class ThumbnailCache {
  readonly #o: ThumbnailCacheOptions;
  readonly #dir: string;
  readonly #inFlight = new Map<string, Promise<string | undefined>>();
  readonly #queue = new Map<string, StoredItem>();
  #task: TaskHandle | undefined;
  #wake: (() => void) | undefined;

  constructor(options: ThumbnailCacheOptions) {
    this.#o = options;
    this.#dir = join(options.cacheDir, 'thumbnails');
  }

  /**
   * The local file holding the item's thumbnail of this size, fetched first when missing; undefined
   * when the service has none for it (not a picture).
   */
  async get(item: StoredItem, size: ThumbnailSize, signal?: AbortSignal): Promise<string | undefined> {
    const file = this.fileOf(item, size);
    if (await exists(file)) return file;
    let running = this.#inFlight.get(file);
    if (!running) {
      running = this.#fetch(item, size, file, signal).finally(() => this.#inFlight.delete(file));
      this.#inFlight.set(file, running);
    }
    return running;
  }

  /** Where the thumbnail of this version of the item lives (whether or not it is there yet). */
  fileOf(item: StoredItem, size: ThumbnailSize): string {
    return join(this.#dir, digest(item.id), `${digest(`${item.ctag ?? ''}|${item.etag ?? ''}`)}-${size}`);
  }

  /** Queues pictures for a background fetch (delta brought them in or changed them). */
  prefetch(items: Iterable<StoredItem>): void {
    const max = this.#o.maxQueued ?? 10_000;
    for (const item of items) {
      if (item.kind !== 'file' || !isImageName(item.name) || this.#queue.size >= max) continue;
      this.#queue.set(item.id, item);
    }
    if (this.#queue.size > 0) this.#wake?.();
  }

  /** Images waiting for their prefetch. */
  get queued(): number {
    return this.#queue.size;
  }

  start(): void {
    this.#task ??= this.#o.tasks.start('thumbnails', (signal) => this.#loop(signal));
  }

  async stop(): Promise<void> {
    const task = this.#task;
    if (!task) return;
    task.abort();
    await task.done;
  }

  async #loop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const next = this.#queue.values().next();
      if (next.done) {
        await new Promise<void>((resolve) => {
          const done = () => {
            signal.removeEventListener('abort', done);
            this.#wake = undefined;
            resolve();
          };
          this.#wake = done;
          signal.addEventListener('abort', done, { once: true });
        });
        continue;
      }
      const item = next.value;
      this.#queue.delete(item.id);
      for (const size of PREFETCH_SIZES) {
        try {
          await this.get(item, size, signal);
        } catch (error) {
          if (signal.aborted && isAbortError(error)) return;
          // A picture without a thumbnail yet (just uploaded), offline, throttled: the UI asks again later.
          this.#o.logger.debug({ err: error, itemId: item.id, size }, 'could not prefetch a thumbnail');
          break;
        }
      }
    }
  }

  async #fetch(item: StoredItem, size: ThumbnailSize, file: string, signal: AbortSignal | undefined): Promise<string | undefined> {
    let result: string | undefined;
    let failure: { error: unknown } | undefined;
    const handle = this.#o.tasks.start(
      `thumbnail:${item.id}:${size}`,
      async (taskSignal) => {
        try {
          result = await this.#download(item, size, file, taskSignal);
        } catch (error) {
          // Delivered to the caller below; a missing thumbnail is not a failed engine task.
          failure = { error };
        }
      },
      signal ? { signal } : {},
    );
    const outcome = await handle.done;
    if (failure) throw failure.error;
    if (outcome.status === 'stopped') throw handle.signal.reason;
    return result;
  }

  async #download(item: StoredItem, size: ThumbnailSize, file: string, signal: AbortSignal): Promise<string | undefined> {
    // Not on the server yet: no thumbnail to fetch.
    if (item.remoteId === null) return undefined;
    const sets = await this.#o.graph.listThumbnails(item.remoteId, { signal });
    const url = sets.find((s) => s[size])?.[size]?.url;
    if (!url) return undefined;
    const { stream } = await this.#o.graph.downloadRange(url, 0, undefined, signal);
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > MAX_THUMBNAIL_BYTES) {
        stream.destroy();
        throw new ThumbnailTooLargeError(item.id);
      }
      chunks.push(chunk);
    }
    const folder = join(file, '..');
    await ensurePrivateDir(folder);
    // Written aside and renamed, so a reader never sees half a picture.
    const temp = `${file}.${process.pid}.part`;
    await writeFile(temp, Buffer.concat(chunks), { mode: PRIVATE_FILE_MODE });
    await rename(temp, file);
    await this.#removeOtherVersions(folder, file);
    return file;
  }

  async #removeOtherVersions(folder: string, keep: string): Promise<void> {
    const version = keep.slice(folder.length + 1).split('-')[0]!;
    for (const name of await readdir(folder)) {
      if (!name.startsWith(`${version}-`)) await rm(join(folder, name), { force: true });
    }
  }
}

function digest(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 32);
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return false;
    throw error;
  }
}
