/**
 * The one backoff of the engine: every retry loop (Graph requests, uploads, delta polls, the
 * connectivity probe, the supervisor's restarts) asks here how long to wait, so "doubling from
 * base up to max" means the same everywhere and is tested once.
 */

export interface Backoff {
  /** The wait before the first retry. */
  readonly baseMs: number;
  /** The longest wait. */
  readonly maxMs: number;
}

export interface BackoffOptions {
  /**
   * 'full': a random wait in [0, ceiling) (spreads many clients retrying the same server);
   * 'none': the ceiling itself (one loop retrying, where a predictable wait is worth more).
   */
  jitter?: 'full' | 'none';
  /** A number in [0, 1); injected so tests are exact. */
  random?: () => number;
}

/**
 * The wait before retry number `retry` (0 for the first): min(maxMs, baseMs · 2^retry), or with
 * full jitter a random wait below that.
 */
export function backoffDelay(retry: number, backoff: Backoff, options: BackoffOptions = {}): number {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(Math.max(0, retry), 30));
  if ((options.jitter ?? 'none') === 'none') return ceiling;
  return Math.floor((options.random ?? Math.random)() * ceiling);
}

/** Throws a RangeError unless `baseMs` is positive and `maxMs` at least `baseMs`. */
export function checkBackoff(backoff: Backoff, what: string): Backoff {
  if (!(Number.isFinite(backoff.baseMs) && backoff.baseMs > 0) || !(backoff.maxMs >= backoff.baseMs)) {
    throw new RangeError(`bad ${what} backoff ${backoff.baseMs} … ${backoff.maxMs} ms`);
  }
  return backoff;
}
