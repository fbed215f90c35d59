import { anySignal, isAbortError } from '../base/abort.ts';
import type { Logger } from '../base/logger.ts';
import { DownloadCancelledError } from './download-errors.ts';
import type { ReadAheadRange, ReadAheadWindow } from './read-ahead.ts';
import type { DownloadItem, DownloadPriority } from './download-types.ts';

/** An open file's view of the download manager: wait for bytes, with read-ahead for sequential reads. */
export interface ContentReader {
  /**
   * Resolves when [offset, offset + length) of the file (clipped to its size) is in the cache
   * file. Rejects with a typed error (network, version changed, cancelled …) or the signal's reason.
   */
  waitFor(offset: number, length: number, signal?: AbortSignal): Promise<void>;
  /**
   * The read of [offset, offset + length) when its bytes are in the cache file already: records it
   * as waitFor would (it may start read-ahead) and returns true, without a promise, a timer or a
   * signal (the cost of a cold read whose bytes the read-ahead fetched). False: nothing is
   * recorded, and the caller waits with waitFor.
   */
  ready(offset: number, length: number): boolean;
  /** Whether every byte of the file is in the cache file (the download is complete). */
  complete(): boolean;
  /** Idempotent. The last reader of a file to close cancels that file's read and read-ahead downloads. */
  close(): void;
}

/** What a reader needs from the manager (kept narrow so the reader stays a small idea). */
export interface ReaderHost {
  /**
   * Fetches [start, end) on behalf of the file's readers (their downloads end when the last one
   * closes), in requests of about `requestBytes` when given.
   */
  fetch(item: DownloadItem, start: number, end: number, priority: DownloadPriority, signal: AbortSignal, requestBytes?: number): Promise<void>;
  /** Whether [start, end) of this version is in the cache file now (no I/O). */
  cached(item: DownloadItem, start: number, end: number): boolean;
  /** A read of this reader reached the last byte of the file. */
  readEnd(): void;
  /** Registers background work the manager's close() must wait for. */
  track(work: Promise<void>): void;
  /** Called once, when this reader closes. */
  readerClosed(): void;
}

export class ManagedContentReader implements ContentReader {
  readonly #item: DownloadItem;
  readonly #host: ReaderHost;
  readonly #logger: Logger;
  readonly #window: ReadAheadWindow;
  readonly #closed = new AbortController();

  constructor(item: DownloadItem, host: ReaderHost, window: ReadAheadWindow, logger: Logger) {
    this.#item = item;
    this.#host = host;
    this.#window = window;
    this.#logger = logger;
  }

  async waitFor(offset: number, length: number, signal?: AbortSignal): Promise<void> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new RangeError(`bad read ${offset}+${length}`);
    }
    this.#closed.signal.throwIfAborted();
    const end = Math.min(offset + length, this.#item.size);
    if (offset >= end) return;
    const ahead = this.#window.onRead(offset, end, this.#item.size);
    // Read-ahead first: its range starts in the read's own chunk, so when its requests span several
    // chunks that chunk comes with the first of them (the read joins it) instead of in a request
    // of its own followed by one for the rest.
    if (ahead) this.#readAhead(ahead);
    const linked = anySignal(signal, this.#closed.signal);
    try {
      await this.#host.fetch(this.#item, offset, end, 'read', linked.signal);
    } finally {
      linked.dispose();
    }
    if (end === this.#item.size) this.#host.readEnd();
  }

  ready(offset: number, length: number): boolean {
    if (this.#closed.signal.aborted) return false;
    const end = Math.min(offset + length, this.#item.size);
    if (offset < end && !this.#host.cached(this.#item, offset, end)) return false;
    if (offset < end) {
      const ahead = this.#window.onRead(offset, end, this.#item.size);
      if (ahead) this.#readAhead(ahead);
      if (end === this.#item.size) this.#host.readEnd();
    }
    return true;
  }

  complete(): boolean {
    return this.#item.size === 0 || this.#host.cached(this.#item, 0, this.#item.size);
  }

  close(): void {
    if (this.#closed.signal.aborted) return;
    this.#closed.abort(new DownloadCancelledError(this.#item.id, 'the reader was closed'));
    this.#host.readerClosed();
  }

  #readAhead(range: ReadAheadRange): void {
    const work = this.#host.fetch(this.#item, range.start, range.end, 'readahead', this.#closed.signal, range.requestBytes).catch((error: unknown) => {
      this.#window.forget(range);
      // A read-ahead is a guess: its failure is logged and reported through the manager's
      // `failed` event by the chunk that failed; a later read asks again.
      if (!this.#closed.signal.aborted && !isAbortError(error)) {
        this.#logger.debug({ err: error, itemId: this.#item.id, range }, 'read-ahead did not complete');
      }
    });
    this.#host.track(work);
  }
}
