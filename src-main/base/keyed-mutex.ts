/**
 * One-at-a-time per key: `run(key, work)` starts `work` once every earlier `run` of the same key has
 * settled; different keys do not wait for each other. A failed `work` does not block the next one.
 * Keys with nothing queued hold no memory. Not reentrant: a `work` that runs the same key again
 * waits for itself for ever. On a free key the work starts synchronously, within the call.
 */
export class KeyedMutex<K = string> {
  readonly #tails = new Map<K, Promise<void>>();

  run<T>(key: K, work: () => Promise<T> | T): Promise<T> {
    const before = this.#tails.get(key);
    // A free key starts the work at once, in the caller's tick (as a plain call would).
    const result = before ? before.then(() => work()) : (async () => work())();
    // Forgotten in the first reaction to the work's end, before its caller resumes: a caller that
    // awaited the work finds the key free again.
    const forget = (): void => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    };
    const tail: Promise<void> = result.then(forget, forget);
    this.#tails.set(key, tail);
    return result;
  }

  /**
   * Holds several keys at once, taken in one sorted order so that two callers holding overlapping
   * sets cannot wait for each other.
   */
  runAll<T>(keys: readonly K[], work: () => Promise<T> | T): Promise<T> {
    const sorted = [...new Set(keys)].sort();
    const step = (i: number): Promise<T> => (i === sorted.length ? (async () => work())() : this.run(sorted[i]!, () => step(i + 1)));
    return step(0);
  }

  /** True while a `run` of the key is queued or running. */
  isBusy(key: K): boolean {
    return this.#tails.has(key);
  }
}
