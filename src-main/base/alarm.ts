/**
 * A background loop's sleep that others can cut short: `wake()` ends the current sleep, and a wake
 * that comes while the loop is busy ends its next sleep at once (nothing asked for is missed).
 */
export class Alarm {
  #ring: (() => void) | undefined;
  #pending = false;

  wake(): void {
    this.#pending = true;
    this.#ring?.();
  }

  /** Resolves after `ms`, on wake(), or when the signal aborts; never rejects. */
  sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted || this.#pending) {
      this.#pending = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        if (this.#ring === done) this.#ring = undefined;
        this.#pending = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.#ring = done;
    });
  }
}
