/**
 * Empty cache files made ahead of need, for new local files. Creating a file is a journaled
 * metadata change of the cache's file system: ~300 µs per file on the ext4 of this project's
 * machines, where a rename costs ~30 µs. A new file's create (open(O_CREAT) on the mount) made its
 * cache file on the event loop, in the path of the program waiting for the create and of every
 * other FUSE request; it now renames a spare into place, and the spares are made again on the
 * thread pool, off that path (docs/architecture.md, "A new file's cache file").
 *
 * The spares live in a folder of their own under the cache folder (recovery and the cache cleaner
 * look only at `xx/<sha256>` files). They are never written: a spare left by an earlier run is empty
 * and is used as it is; anything else found there is removed.
 */
import { randomUUID } from 'node:crypto';
import { close, constants, existsSync, open, openSync, renameSync, rmSync } from 'node:fs';
import { lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ensurePrivateDir, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE, readdirIfExists } from '../base/files.ts';

// A spare is opened only to be made: plain descriptors cost the event loop less than FileHandles.
const openFd = promisify(open);
const closeFd = promisify(close);

export class SpareCacheFiles {
  readonly #dir: string;
  readonly #keep: number;
  readonly #retryMs: number;
  readonly #onError: (error: unknown) => void;
  /** Spares ready to be renamed into place. */
  readonly #ready: string[] = [];
  /** Whether the folder's contents were looked at since the list was last (re)started. */
  #listed = false;
  /** The folders spares are moved into, to be made ahead once (#makeFolders; empty once tried). */
  #folders: readonly string[];
  #filling: Promise<void> | undefined;
  #closed = false;
  /** The last fill failed: no more are tried before #retryAt, and the next failure is not told. */
  #failing = false;
  #retryAt = Number.NEGATIVE_INFINITY;
  readonly #now: () => number;

  /**
   * Keeps up to `keep` spares in `dir` (made 0700), made once the first is asked for; after a fill
   * failed, the next is tried `retryMs` later. The `folders` new files go into are made (0700)
   * after the first spares, where missing: a move into a missing folder fails, and the caller then
   * makes the folder and the file itself, in the way of the program waiting for the create.
   */
  constructor(o: { dir: string; keep: number; retryMs: number; onError: (error: unknown) => void; now?: () => number; folders?: readonly string[] }) {
    if (!Number.isInteger(o.keep) || o.keep < 1) throw new RangeError(`bad number of spare files ${o.keep}`);
    this.#dir = o.dir;
    this.#keep = o.keep;
    this.#retryMs = o.retryMs;
    this.#onError = o.onError;
    this.#now = o.now ?? Date.now;
    this.#folders = o.folders ?? [];
  }

  /**
   * Moves a spare to `path` (replacing nothing the caller has: a new item's cache file does not
   * exist yet) and opens it for reading and writing. Undefined when none is ready, or the move
   * failed (the first file of its folder: the folder is missing): the caller makes the file itself.
   */
  take(path: string): number | undefined {
    const spare = this.#ready.pop();
    try {
      return spare === undefined ? undefined : this.#place(spare, path);
    } finally {
      // After the outcome: a spare the move left ready is not made again.
      this.#fill();
    }
  }

  #place(spare: string, path: string): number | undefined {
    try {
      renameSync(spare, path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        // Told as a failed fill is (once, then a pause): new files make their own meanwhile.
        this.#failed(error);
        return undefined;
      }
      // The target's folder is missing (the first file of its folder): the spare stays ready.
      // Or the spares were taken away: the next fill lists their folder again.
      if (existsSync(spare)) this.#ready.push(spare);
      else this.#reset();
      return undefined;
    }
    try {
      return openSync(path, constants.O_RDWR);
    } catch (error) {
      // (Out of descriptors, say.) The caller's own create fails the same way; nothing is left
      // behind at a path no row names.
      try {
        renameSync(path, spare);
        this.#ready.push(spare);
      } catch {
        rmSync(path, { force: true });
      }
      throw error;
    }
  }

  /** Resolves once the spares being made are made (for tests and close). */
  async filled(): Promise<void> {
    while (this.#filling) await this.#filling;
  }

  /** Makes no more spares; those made stay for the next run. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.filled();
  }

  #reset(): void {
    this.#ready.length = 0;
    this.#listed = false;
  }

  #fill(): void {
    if (this.#filling || this.#closed || this.#ready.length >= this.#keep || this.#now() < this.#retryAt) return;
    this.#filling = this.#make()
      .then(() => {
        this.#failing = false;
      })
      .catch((error: unknown) => this.#failed(error))
      .finally(() => (this.#filling = undefined));
  }

  /**
   * (A full disk, a folder not ours.) Told once until spares are made again; tried again after a
   * while from what the folder holds, new files making their own meanwhile.
   */
  #failed(error: unknown): void {
    if (!this.#failing) this.#onError(error);
    this.#failing = true;
    this.#retryAt = this.#now() + this.#retryMs;
    this.#reset();
  }

  async #make(): Promise<void> {
    if (!this.#listed) {
      await ensurePrivateDir(this.#dir);
      this.#listed = true;
      const known = new Set(this.#ready);
      for (const name of await readdir(this.#dir)) {
        const spare = join(this.#dir, name);
        if (known.has(spare)) continue;
        const info = await lstat(spare).catch(() => undefined);
        if (info?.isFile() && info.size === 0 && this.#ready.length < this.#keep) this.#ready.push(spare);
        else if (info) await rm(spare, { recursive: true, force: true });
      }
    }
    while (!this.#closed && this.#ready.length < this.#keep) {
      const spare = join(this.#dir, randomUUID());
      await closeFd(await openFd(spare, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL, PRIVATE_FILE_MODE));
      this.#ready.push(spare);
    }
    if (this.#folders.length > 0 && !this.#closed) await this.#makeFolders();
  }

  /**
   * The folders new files go into, where missing; tried once. A failure (a file where a folder
   * should be, a folder not ours) is told and leaves the spares as they are: a new file into a
   * missing folder makes that folder itself.
   */
  async #makeFolders(): Promise<void> {
    const folders = this.#folders;
    this.#folders = [];
    try {
      const present = new Set<string>();
      for (const parent of new Set(folders.map((f) => dirname(f)))) for (const name of await readdirIfExists(parent)) present.add(join(parent, name));
      for (const folder of folders) {
        if (this.#closed) return;
        if (!present.has(folder)) await mkdir(folder, { recursive: true, mode: PRIVATE_DIR_MODE });
      }
    } catch (error) {
      this.#onError(error);
    }
  }
}
