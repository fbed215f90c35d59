import type { ByteRange } from '../base/range-set.ts';

export interface ReadAheadOptions {
  /** The window after the first sequential read. */
  initialBytes: number;
  /** The window never grows beyond this. */
  maxBytes: number;
  /** The largest single request a read-ahead is cut into. Default: a quarter of maxBytes. */
  maxRequestBytes?: number;
  /** A read starting this close to where the previous one ended still counts as sequential. */
  toleranceBytes?: number;
}

/** A range to fetch ahead of the reader, and the size of the requests to fetch it with. */
export interface ReadAheadRange extends ByteRange {
  /** Requests for this range should be about this large (they grow with the sequential run). */
  requestBytes: number;
}

/**
 * The kernel sends the reads of one read(2) (and its own read-ahead) as several FUSE requests at
 * once, answered by several threads: they reach us out of order by up to about a MiB. A smaller
 * tolerance took that for a jump and started the window over in the middle of a `cat`.
 */
const DEFAULT_TOLERANCE = 1024 * 1024;

/**
 * Decides read-ahead for one reader: a read that continues where the last one ended is sequential
 * and grows the window to twice what the run has read so far (from the initial window up to the
 * maximum); any other read resets it and asks for nothing, so a random reader fetches only what it
 * reads. A first read at offset 0 counts as sequential (cat, cp). Each range is asked for once:
 * what was already requested is not requested again.
 *
 * The window follows the bytes read, not the number of reads: doubling it at every read (128 KiB
 * each through FUSE) asked for the whole maximum window after the first MiB, and those requests
 * streaming in at once held the event loop, so the reader that started them waited behind them.
 *
 * The requests a range is cut into grow with the window (a quarter of it, up to maxRequestBytes),
 * so a long sequential read is fetched in a few large requests while a short one stays small; and
 * more is asked for only once a whole request's worth of the window is missing, so the ranges
 * come one request at a time rather than one read's worth at a time. Topping the window up a
 * request at a time (not waiting until half of it is used, as before) keeps three quarters of it
 * requested ahead of the reader and the downloads streaming steadily: in batches of half a window,
 * a fast reader caught up with a batch still arriving, and the batch's bytes arrived all at once,
 * holding the event loop (and the reads) while they were written.
 */
export class ReadAheadWindow {
  readonly #initial: number;
  readonly #max: number;
  readonly #maxRequest: number;
  readonly #tolerance: number;
  #nextOffset: number | undefined;
  #window = 0;
  #requestedUntil = 0;
  /** Where the current sequential run started. */
  #runStart = 0;

  constructor(options: ReadAheadOptions) {
    if (!(options.initialBytes > 0) || options.maxBytes < options.initialBytes) {
      throw new RangeError(`bad read-ahead window ${options.initialBytes}..${options.maxBytes}`);
    }
    this.#initial = options.initialBytes;
    this.#max = options.maxBytes;
    this.#maxRequest = Math.max(1, options.maxRequestBytes ?? Math.floor(options.maxBytes / 4));
    this.#tolerance = options.toleranceBytes ?? DEFAULT_TOLERANCE;
  }

  /** The current window (0 before the first sequential read). */
  get windowBytes(): number {
    return this.#window;
  }

  /** How large the requests of a read-ahead are now. */
  get requestBytes(): number {
    return Math.max(1, Math.min(this.#maxRequest, Math.floor(this.#window / 4)));
  }

  /** Records a read of [offset, end) of a file of `size` bytes; returns the range to read ahead, if any. */
  onRead(offset: number, end: number, size: number): ReadAheadRange | undefined {
    const expected = this.#nextOffset;
    const sequential = expected === undefined ? offset === 0 : Math.abs(offset - expected) <= this.#tolerance;
    if (!sequential) {
      this.#window = 0;
      this.#requestedUntil = end;
      this.#nextOffset = end;
      this.#runStart = offset;
      return undefined;
    }
    this.#nextOffset = Math.max(end, expected ?? 0);
    this.#window = Math.min(this.#max, Math.max(this.#initial, 2 * (this.#nextOffset - this.#runStart)));
    // Enough is on its way: wait until a request's worth of the window is missing.
    if (this.#requestedUntil - end > this.#window - this.requestBytes) return undefined;
    const from = Math.max(end, this.#requestedUntil);
    const to = Math.min(size, end + this.#window);
    if (to <= from) return undefined;
    this.#requestedUntil = to;
    return { start: from, end: to, requestBytes: this.requestBytes };
  }

  /** A read-ahead failed or was dropped: ask for its range again next time. */
  forget(range: ByteRange): void {
    if (this.#requestedUntil > range.start) this.#requestedUntil = range.start;
  }
}
