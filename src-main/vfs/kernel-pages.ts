/**
 * Which content the kernel's cached pages of each file are of, so that an open can let the kernel
 * keep them (FOPEN_KEEP_CACHE) instead of dropping them: a file read again is then read from
 * memory, without a request to the engine. docs/architecture.md, "Kept pages", says why this is
 * safe; in short:
 *
 * - The kernel's pages belong to libfuse's node of a path (a rename moves them along), so what is
 *   recorded is per path: the content identity the last open of that path found.
 * - An open keeps the pages only when it finds the same identity, and only for content without
 *   local changes (`identity` undefined otherwise: the pages are dropped, and the record). The
 *   identity names the item, its server version, its size and its local change counter, so a new
 *   version, a local write or truncate, or a save over the file each give another one.
 * - Pages filled between two opens come from the content the first open found (downloaded for
 *   that version), or from a newer one, whose identity the next open sees as different.
 * - Bytes that go from this device (evicted: a new version, the cleaner, "free up space"; or
 *   failing their hash check once the file is whole) take their item's records with them
 *   (forgetItem): the next read of the file reads it from the engine again, as its state says.
 */
export class KernelPages {
  /** Path → the content identity its last open found; oldest first (a Map keeps insertion order). */
  readonly #byPath = new Map<string, string>();
  readonly #max: number;

  /** `max`: paths remembered at most; an open of a forgotten path drops its pages (as without this). */
  constructor(max = 4096) {
    this.#max = max;
  }

  /**
   * An open of `path`, whose content has `identity` (undefined: not to be kept). Returns whether
   * the kernel may keep the pages it holds of the file.
   */
  opened(path: string, identity: string | undefined): boolean {
    const before = this.#byPath.get(path);
    this.#byPath.delete(path);
    if (identity === undefined) return false;
    this.#byPath.set(path, identity);
    if (this.#byPath.size > this.#max) this.#byPath.delete(this.#byPath.keys().next().value!);
    return before === identity;
  }

  /**
   * A read or write through a handle opened at `path` with `identity` (its bytes land in the pages
   * of that node): a record of other content there is dropped.
   */
  touched(path: string, identity: string | undefined): void {
    const recorded = this.#byPath.get(path);
    if (recorded !== undefined && recorded !== identity) this.#byPath.delete(path);
  }

  /** A rename from `from` to `to` was answered: what was recorded at either, or below either, goes. */
  moved(from: string, to: string): void {
    for (const path of this.#byPath.keys()) {
      if (within(path, from) || within(path, to)) this.#byPath.delete(path);
    }
  }

  /** The item's bytes on this device went (evicted, or failed their hash check): no open keeps what was read of them. */
  forgetItem(itemId: string): void {
    const prefix = `${itemId}|`;
    for (const [path, identity] of this.#byPath) {
      if (identity.startsWith(prefix)) this.#byPath.delete(path);
    }
  }
}

const within = (path: string, top: string): boolean => path === top || path.startsWith(top === '/' ? '/' : `${top}/`);
