/**
 * Bandwidth limits: one token bucket per direction, shared by every transfer of that direction, so
 * `--bwlimit-down 1M` means one megabyte a second for all downloads together, not per file.
 *
 * The bucket is kept as a "theoretical arrival time" (the moment the next byte may pass): a piece
 * passes when that moment has come and pushes it forward by its own length at the limit. An idle
 * link banks at most `burstMs` of credit, so the long-run rate stays within the limit plus one burst.
 * Waiters are served first come, first served, so a large file cannot starve a small one. A new
 * limit applies at once: the waiters are looked at again under it, and the debt run up under the old
 * limit is forgiven (at most one piece per transfer).
 *
 * The limiters plug in where bytes flow, as wrappers of the Graph client the transfer managers use
 * (paceDownloads, paceUploads): a download's body is read through the limiter, an upload's request
 * body is produced through it. Nothing else about a transfer changes.
 */
import { Readable, Transform, pipeline } from 'node:stream';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';
import { abortReason } from '../base/abort.ts';
import type { BodySource } from '../graph/graph-transport.ts';
import type { GraphClient } from '../graph/client.ts';
import { FRAGMENT_UNIT } from '../graph/upload-limits.ts';
import { MIN_BANDWIDTH_LIMIT } from '../../src-shared/ipc/desktop-calls.ts';

/** Bytes passed per take: small enough that a slow limit still moves data several times a second. */
const PIECE_BYTES = 64 * 1024;

/** Credit an idle link may bank, in milliseconds at the limit. */
const DEFAULT_BURST_MS = DEFAULT_TIMEOUTS.bandwidthBurstMs;

/**
 * How long one request body may take at the limit. The transport gives a request 30 s to send its
 * body and get its answer; a third of that leaves room for a slow server.
 */
export const REQUEST_BODY_BUDGET_MS = DEFAULT_TIMEOUTS.requestBodyBudgetMs;

/** The smallest limit accepted: the smallest upload fragment (320 KiB) must pass within the request budget. */
export const MIN_LIMIT_BYTES_PER_SECOND = MIN_BANDWIDTH_LIMIT;

interface Waiter {
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
  readonly detach: () => void;
}

export interface BandwidthLimiterOptions {
  /** Bytes per second; 0 or absent: no limit. */
  bytesPerSecond?: number;
  burstMs?: number;
  now?: () => number;
}

export class BandwidthLimiter {
  #rate: number;
  readonly #burstMs: number;
  readonly #now: () => number;
  /** When the next byte may pass (ms on #now's clock). */
  #nextAt: number;
  readonly #queue: Waiter[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** Bytes that went through, for status and tests. */
  #passed = 0;

  constructor(options: BandwidthLimiterOptions = {}) {
    this.#rate = checkedLimit(options.bytesPerSecond ?? 0);
    this.#burstMs = options.burstMs ?? DEFAULT_BURST_MS;
    this.#now = options.now ?? Date.now;
    this.#nextAt = this.#now();
  }

  /** Bytes per second, 0 when unlimited. */
  get bytesPerSecond(): number {
    return this.#rate;
  }

  get bytesPassed(): number {
    return this.#passed;
  }

  /** Transfers waiting for their turn. */
  get waiting(): number {
    return this.#queue.length;
  }

  /** Changes the limit; transfers already running follow it from their next piece. */
  setLimit(bytesPerSecond: number): void {
    this.#rate = checkedLimit(bytesPerSecond);
    this.#nextAt = Math.min(this.#nextAt, this.#now());
    this.#pump();
  }

  /** Resolves when `bytes` may pass; rejects with the signal's reason if it fires first. */
  take(bytes: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    if (this.#queue.length === 0 && this.#admit(bytes)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const at = this.#queue.indexOf(waiter);
        if (at >= 0) this.#queue.splice(at, 1);
        reject(abortReason(signal!));
        // The one that left may have been first in line.
        this.#pump();
      };
      const waiter: Waiter = {
        bytes,
        resolve,
        reject,
        detach: () => signal?.removeEventListener('abort', onAbort),
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#queue.push(waiter);
      this.#pump();
    });
  }

  /**
   * `source` read through the limiter. Destroying the result destroys the source and ends a wait
   * in progress; an error of the source reaches the reader of the result.
   */
  throttle(source: Readable): Readable {
    const stop = new AbortController();
    const paced: Transform = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        // Unlimited (and nobody waiting): the chunk passes whole, at once, without a promise per
        // piece, which were a tenth of the engine's time in a fast download.
        if (this.#queue.length === 0 && this.#rate === 0 && this.#admit(chunk.length)) return done(null, chunk);
        void this.#pass(chunk, (piece) => paced.push(piece), stop.signal).then(() => done(), done);
      },
      destroy(error, done) {
        stop.abort(error ?? new Error('the stream was closed'));
        done(error);
      },
    });
    // pipeline ties the two lifetimes together; its error is the one `paced` is destroyed with, which
    // its reader sees, so the callback has nothing left to report.
    pipeline(source, paced, () => undefined);
    return paced;
  }

  async #pass(chunk: Buffer, push: (piece: Buffer) => void, signal: AbortSignal): Promise<void> {
    for (let at = 0; at < chunk.length; at += PIECE_BYTES) {
      const piece = chunk.subarray(at, Math.min(chunk.length, at + PIECE_BYTES));
      await this.take(piece.length, signal);
      push(piece);
    }
  }

  /** Lets `bytes` pass now if the bucket allows it (always when unlimited). */
  #admit(bytes: number): boolean {
    if (this.#rate === 0) {
      this.#passed += bytes;
      return true;
    }
    const now = this.#now();
    this.#nextAt = Math.max(this.#nextAt, now - this.#burstMs);
    if (this.#nextAt > now) return false;
    this.#nextAt += (bytes * 1000) / this.#rate;
    this.#passed += bytes;
    return true;
  }

  #pump(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    while (this.#queue.length > 0) {
      const head = this.#queue[0]!;
      if (!this.#admit(head.bytes)) {
        this.#timer = setTimeout(() => this.#pump(), Math.max(1, Math.ceil(this.#nextAt - this.#now())));
        return;
      }
      this.#queue.shift();
      head.detach();
      head.resolve();
    }
  }
}

function checkedLimit(bytesPerSecond: number): number {
  if (!Number.isFinite(bytesPerSecond) || bytesPerSecond < 0) throw new RangeError(`a bandwidth limit must be 0 (none) or a positive number of bytes per second, not ${bytesPerSecond}`);
  if (bytesPerSecond > 0 && bytesPerSecond < MIN_LIMIT_BYTES_PER_SECOND) {
    throw new RangeError(`a bandwidth limit must be at least ${MIN_LIMIT_BYTES_PER_SECOND} bytes per second (32 KiB/s), not ${bytesPerSecond}`);
  }
  return bytesPerSecond;
}

/** The two limiters of an engine. */
export interface BandwidthLimits {
  readonly up: BandwidthLimiter;
  readonly down: BandwidthLimiter;
}

/**
 * The largest request body the upload limit lets through within REQUEST_BODY_BUDGET_MS, in whole
 * upload units (Infinity when unlimited): the upload worker sends smaller fragments, and a file
 * bigger than this through a session rather than in one request, so a slow limit never makes a
 * request outlast its timeout.
 */
export function requestBytesWithin(limiter: BandwidthLimiter): number {
  const rate = limiter.bytesPerSecond;
  if (rate === 0) return Infinity;
  const bytes = Math.floor((rate * REQUEST_BODY_BUDGET_MS) / 1000 / FRAGMENT_UNIT) * FRAGMENT_UNIT;
  return Math.max(FRAGMENT_UNIT, bytes);
}

type Method<K extends keyof GraphClient> = GraphClient[K] extends (...args: infer A) => infer R ? (...args: A) => R : never;

/** `graph` with every download body read through `limiter`. */
export function paceDownloads<T extends Pick<GraphClient, 'downloadRange'>>(graph: T, limiter: BandwidthLimiter): T {
  const downloadRange: Method<'downloadRange'> = async (url, start, end, signal) => {
    const range = await graph.downloadRange(url, start, end, signal);
    return { ...range, stream: limiter.throttle(range.stream) };
  };
  return override(graph, { downloadRange });
}

/** `graph` with every upload request body produced through `limiter`. */
export function paceUploads<T extends Pick<GraphClient, 'uploadSmall' | 'uploadSmallById' | 'uploadFragment'>>(graph: T, limiter: BandwidthLimiter): T {
  // A stream is read through the limiter each time it is sent; a buffer (small, and sent as one
  // write) waits for its bytes' turn before the request instead.
  const paced = async (body: BodySource, signal: AbortSignal | undefined): Promise<BodySource> => {
    if (typeof body === 'function') return () => limiter.throttle(body());
    if (body instanceof Readable) return limiter.throttle(body);
    const bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
    if (bytes > 0) await limiter.take(bytes, signal);
    return body;
  };
  const uploadSmall: Method<'uploadSmall'> = async (parentId, name, body, options) => graph.uploadSmall(parentId, name, await paced(body, options?.signal), options);
  const uploadSmallById: Method<'uploadSmallById'> = async (id, body, options) => graph.uploadSmallById(id, await paced(body, options?.signal), options);
  // Whatever follows the body is passed on as it came (fuzz 51000/2: a new argument was dropped here).
  const uploadFragment: Method<'uploadFragment'> = async (url, start, end, total, body, signal, ...rest) =>
    graph.uploadFragment(url, start, end, total, await paced(body, signal), signal, ...rest);
  return override(graph, { uploadSmall, uploadSmallById, uploadFragment });
}

/**
 * `target` with some methods replaced. The others are called on `target` itself, because the
 * Graph client keeps its state in private fields, which a prototype-derived copy cannot reach.
 */
function override<T extends object>(target: T, methods: Record<string, unknown>): T {
  return new Proxy(target, {
    get(object, key) {
      if (typeof key === 'string' && Object.hasOwn(methods, key)) return methods[key];
      const value: unknown = Reflect.get(object, key, object);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(object) : value;
    },
  });
}
