import { raceWithSignal } from '../base/abort.ts';

/**
 * One item's pre-authenticated download URL, reused for all its ranges: fetched once for however
 * many concurrent callers, fetched again after its time to live or when the storage host refused it.
 */
export class DownloadUrlCache {
  readonly #fetchUrl: (signal: AbortSignal) => Promise<string>;
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #lifetime: AbortSignal;
  #url: string | undefined;
  #fetchedAt = 0;
  #pending: Promise<string> | undefined;

  /**
   * `lifetime` bounds the shared fetch (the item's downloads being cancelled); each caller's own
   * signal only stops its wait.
   */
  constructor(fetchUrl: (signal: AbortSignal) => Promise<string>, ttlMs: number, now: () => number, lifetime: AbortSignal) {
    this.#fetchUrl = fetchUrl;
    this.#ttlMs = ttlMs;
    this.#now = now;
    this.#lifetime = lifetime;
  }

  /** Starts from a URL fetched earlier for the same version (a file read again soon), kept until its time to live runs out. */
  seed(url: string, fetchedAt: number): void {
    if (this.#url === undefined && this.#now() - fetchedAt < this.#ttlMs) {
      this.#url = url;
      this.#fetchedAt = fetchedAt;
    }
  }

  get(signal: AbortSignal): Promise<string> {
    if (this.#url !== undefined && this.#now() - this.#fetchedAt < this.#ttlMs) return Promise.resolve(this.#url);
    this.#pending ??= this.#fetch();
    return raceWithSignal(this.#pending, signal);
  }

  /** Forgets `url` after the storage host refused it (unless a newer one replaced it already). */
  expire(url: string): void {
    if (this.#url === url) this.#url = undefined;
  }

  #fetch(): Promise<string> {
    const startedAt = this.#now();
    return this.#fetchUrl(this.#lifetime)
      .then((url) => {
        this.#url = url;
        this.#fetchedAt = startedAt;
        return url;
      })
      .finally(() => {
        this.#pending = undefined;
      });
  }
}
