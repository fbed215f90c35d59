/**
 * Which content the kernel's cached pages of each file are of, so that an open can let the kernel
 * keep them (FOPEN_KEEP_CACHE) instead of dropping them: a file read again is then read from
 * memory, without a request to the engine. docs/architecture.md, "Kept pages", says why this is
 * safe; in short:
 *
 * - The kernel's pages belong to libfuse's node of a path (a rename moves them along), so what is
 *   recorded is per path: the item and the content identity the last open of that path found.
 * - An open keeps the pages only when it finds the same identity, and only for content without
 *   local changes (`identity` undefined otherwise: the pages are dropped, and the record). The
 *   identity names the item's server version, its size and its local change counter, so a new
 *   version, a local write or truncate, or a save over the file each give another one.
 * - Pages filled between two opens come from the content the first open found (downloaded for
 *   that version), or from a newer one, whose identity the next open sees as different.
 * - Bytes that go from this device (evicted: a new version, the cleaner, "free up space"; or
 *   failing their hash check once the file is whole) take their item's records with them
 *   (forgetItem): the next read of the file reads it from the engine again, as its state says.
 */
export class KernelPages {
  /** Path → the item and content identity its last open found; oldest first (a Map keeps insertion order). */
  readonly #byPath = new Map<string, { itemId: string; identity: string }>();
  /** Item → the paths recorded with it (an item's bytes going drop them without a scan). */
  readonly #byItem = new Map<string, Set<string>>();
  readonly #max: number;

  /** `max`: paths remembered at most; an open of a forgotten path drops its pages (as without this). */
  constructor(max = 4096) {
    this.#max = max;
  }

  /**
   * An open of `path`, the item `itemId`, whose content has `identity` (undefined: not to be
   * kept). Returns whether the kernel may keep the pages it holds of the file.
   */
  opened(path: string, itemId: string, identity: string | undefined): boolean {
    const before = this.#byPath.get(path);
    this.#delete(path);
    if (identity === undefined) return false;
    this.#byPath.set(path, { itemId, identity });
    let paths = this.#byItem.get(itemId);
    if (!paths) this.#byItem.set(itemId, (paths = new Set()));
    paths.add(path);
    if (this.#byPath.size > this.#max) this.#delete(this.#byPath.keys().next().value!);
    return before?.itemId === itemId && before.identity === identity;
  }

  /**
   * A read or write through a handle of `itemId` opened at `path` with `identity` (its bytes land
   * in the pages of that node): a record of other content there is dropped.
   */
  touched(path: string, itemId: string, identity: string | undefined): void {
    const recorded = this.#byPath.get(path);
    if (recorded !== undefined && (recorded.itemId !== itemId || recorded.identity !== identity)) this.#delete(path);
  }

  /**
   * A rename from `from` to `to` was answered: what was recorded at either goes, and below either
   * when a folder moved (`folder`: the only case that looks through every record).
   */
  moved(from: string, to: string, folder: boolean): void {
    this.#delete(from);
    this.#delete(to);
    if (!folder) return;
    for (const path of this.#byPath.keys()) {
      if (path.startsWith(`${from}/`) || path.startsWith(`${to}/`)) this.#delete(path);
    }
  }

  /** The item's bytes on this device went (evicted, or failed their hash check): no open keeps what was read of them. */
  forgetItem(itemId: string): void {
    for (const path of this.#byItem.get(itemId) ?? []) this.#delete(path);
  }

  #delete(path: string): void {
    const record = this.#byPath.get(path);
    if (!record) return;
    this.#byPath.delete(path);
    const paths = this.#byItem.get(record.itemId)!;
    paths.delete(path);
    if (paths.size === 0) this.#byItem.delete(record.itemId);
  }
}
