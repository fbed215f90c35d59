import { onAbort } from './abort.ts';

/**
 * The one wakeable sleep of a background loop: `wake()` ends the current sleep, and a wake that
 * comes while the loop is busy ends its next sleep at once (nothing asked for is missed).
 */
export class Alarm {
  #ring: (() => void) | undefined;
  #pending = false;

  wake(): void {
    this.#pending = true;
    this.#ring?.();
  }

  /** Resolves after `ms` (never, for Infinity, until woken), on wake(), or when the signal aborts; never rejects. */
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted || this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
        if (this.#ring === done) this.#ring = undefined;
        this.#pending = false;
        resolve();
      };
      const timer = Number.isFinite(ms) ? setTimeout(done, Math.max(0, ms)) : undefined;
      const unsubscribe = onAbort(signal, done);
      this.#ring = done;
    });
  }
}
