import { performance } from 'node:perf_hooks';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

/**
 * Long loops on the engine's event loop (which FUSE callbacks and SQLite share) call `maybeYield`
 * often; it lets other work run once `sliceMs` of uninterrupted work has passed. Cheaper than a
 * yield per item and, unlike a yield every N items, independent of how costly an item is.
 */
export class LoopYielder {
  readonly #sliceMs: number;
  readonly #signal: AbortSignal | undefined;
  #since = performance.now();

  constructor(sliceMs: number, signal?: AbortSignal) {
    this.#sliceMs = sliceMs;
    this.#signal = signal;
  }

  /** What stops the loop (yield() rethrows it); for its other waits. */
  get signal(): AbortSignal | undefined {
    return this.#signal;
  }

  /** True once the current slice is used up; hot loops test this and await yield() only then. */
  get due(): boolean {
    return performance.now() - this.#since >= this.#sliceMs;
  }

  /** Yields (and rethrows an abort) when the current slice is used up. */
  async maybeYield(): Promise<void> {
    if (this.due) await this.yield();
  }

  async yield(): Promise<void> {
    await yieldToLoop(undefined, { signal: this.#signal });
    this.#since = performance.now();
  }
}
