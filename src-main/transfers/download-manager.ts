/**
 * The download manager: fills one sparse cache file per item with the byte ranges callers need,
 * and records them in the store's range map.
 *
 * - Work is cut into aligned chunks; one job per (item, run of chunks) fetches their missing bytes,
 *   so concurrent callers needing the same chunk share one request. Blocked reads and hydration
 *   take one chunk per job; read-ahead of a long sequential read takes runs of chunks as large as
 *   its reader's window says (see read-ahead.ts), so it is fetched in a few large requests.
 * - Jobs run in one p-queue: a blocked read before read-ahead before hydration. A caller waits only
 *   until its own bytes have landed, not for the rest of the chunk.
 * - A job is held by its callers (a call, a hydration, or the readers of a file as a group); when
 *   the last holder gives up, a queued job leaves the queue and a running one is aborted.
 * - A file that becomes complete is checked against the server's quickXorHash off the hot path.
 *
 * Bookkeeping (maps, range sets, holders) is changed only in synchronous stretches on the event
 * loop, so it needs no lock; the awaits are I/O, and every one honours an AbortSignal.
 */
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';
import { addAbortSignal, type Readable } from 'node:stream';
import PQueue from 'p-queue';
import { abortReason, anySignal, isAbortError, linkedController, raceWithSignal, throwIfAborted } from '../base/abort.ts';
import { errorMessage, isOneMountError, toError } from '../base/errors.ts';
import type { Logger } from '../base/logger.ts';
import { RangeSet } from '../base/range-set.ts';
import { TypedEmitter } from '../base/typed-emitter.ts';
import type { GraphClient } from '../graph/client.ts';
import { DownloadUrlExpiredError, NetworkError } from '../graph/errors.ts';
import { quickXorHashFile, sameQuickXorHash } from '../graph/quickxor.ts';
import type { TaskRegistry } from '../lifecycle/task-registry.ts';
import { Admission, type ShutdownStep } from '../lifecycle/participation.ts';
import { runAsTask } from '../lifecycle/task-registry.ts';
import type { Store } from '../store/store.ts';
import type { TransferItem } from '../../src-shared/model/transfer.ts';
import { cacheFileLength, cacheFilePath, cacheFolders } from './cache-files.ts';
import { ContentOwner, ContentTransitionError } from './content-owner.ts';
import { ManagedContentReader, type ContentReader } from './content-reader.ts';
import { DownloadUrlCache } from './download-url-cache.ts';
import {
  CacheWriteError,
  ContentChangingError,
  ContentDirtyError,
  ContentHashMismatchError,
  ContentIncompleteError,
  ContentVersionChangedError,
  DownloadCancelledError,
  DownloadManagerClosedError,
  DownloadShortError,
} from './download-errors.ts';
import { ReadAheadWindow } from './read-ahead.ts';
import { Gather, GatherPool } from './write-gather.ts';
import { SpareCacheFiles } from './spare-cache-files.ts';
import { droppedBuffers } from '../base/gc.ts';
import { sameContent } from './content-version.ts';
import { PRIORITY_RANK, type DownloadEvents, type DownloadItem, type DownloadPriority } from './download-types.ts';

/**
 * A response's bytes go to the cache file once this many have gathered (or sooner for a reader
 * waiting among them, or at the response's end); also the size of the pooled buffers they gather in.
 */
const WRITE_GATHER_BYTES = 1024 * 1024;
/** Cache writes one download keeps running at once. */
const WRITES_IN_FLIGHT = 4;
/**
 * Gather buffers kept for reuse while downloads go on: a response keeps one to three in use while
 * the disk keeps up (up to nine when it does not); more are made when needed and not kept.
 */
const GATHER_BUFFERS_KEPT = 8;

/** Items whose last download URL is kept for the next time they are read (see #recentUrls). */
const RECENT_URLS = 256;

const KiB = 1024;
const MiB = 1024 * KiB;

/** What the manager needs from the Graph client. */
export type DownloadSource = Pick<GraphClient, 'getItem' | 'downloadUrl' | 'downloadRange'>;

export interface DownloadManagerOptions {
  graph: DownloadSource;
  store: Store;
  /** Root of the cache files (created 0700). */
  cacheDir: string;
  /** The owner of the items' content; one over `store` and `cacheDir` when absent. */
  content?: ContentOwner;
  /**
   * Empty cache files the owner made here keeps ready for new local files (spare-cache-files.ts),
   * in `<cacheDir>/spare`. Default 0: none (each is created when its file is). Not with `content`.
   */
  spareFiles?: number;
  /** After spares could not be made, the next try waits this long. Default: the timeout policy's spareFilesRetryMs. */
  spareFilesRetryMs?: number;
  /** Chunk downloads, hash checks and read-ahead run here as named tasks (`download:…`, `download-verify:…`). */
  tasks: TaskRegistry;
  logger: Logger;
  /** Parallel range requests. Default 4. */
  concurrency?: number;
  /** Chunk size and alignment of range requests. Default 1 MiB. */
  chunkBytes?: number;
  /**
   * First read-ahead window of a sequential reader (it then grows to twice what was read). Default
   * 1 MiB: the first read asks for the next chunk too. 4 MiB (four requests racing the one the
   * first read waits for) made the first byte slower and the whole read no faster.
   */
  initialReadAheadBytes?: number;
  /** Largest read-ahead window. Default 64 MiB. */
  maxReadAheadBytes?: number;
  /** Largest single read-ahead request. Default 16 MiB. */
  maxReadAheadRequestBytes?: number;
  /**
   * Queued chunks beyond which read-ahead and hydration wait for room before queueing more. Blocked
   * reads are always queued (their number is bounded by the callers). Default 64.
   */
  queueLimit?: number;
  /** Chunks one caller keeps queued or running at a time (a hydration walks the file this way). Default 2 × concurrency. */
  chunksInFlightPerCall?: number;
  /** A download URL is fetched again after this long, before the host refuses it. Default 15 min. */
  downloadUrlTtlMs?: number;
  /** Progress events per item at most this often. Default 250 ms. */
  progressIntervalMs?: number;
  /** Times one range is resumed after its connection broke mid-body without progress. Default 3. */
  maxInterruptions?: number;
  /** The gather buffers (write-gather.ts) are let go this long after the last download ends. Default 2 s. */
  buffersKeepMs?: number;
  now?: () => number;
}

/** Who keeps a job alive: one call, one hydration, or the readers of one file together. */
class Holder {
  readonly jobs = new Set<ChunkJob>();
}

type JobOutcome = { ok: true } | { ok: false; error: Error };

/** A download of the chunks first..last of an item. */
class ChunkJob {
  readonly holders = new Map<Holder, number>();
  /** Aborts the download (queued or running). */
  readonly controller = new AbortController();
  /** Aborted only while queued: p-queue drops the job; never aborted once it runs (see #startJob). */
  readonly dequeue = new AbortController();
  state: 'queued' | 'running' | 'settled' = 'queued';
  done!: Promise<JobOutcome>;

  constructor(
    readonly id: string,
    readonly first: number,
    readonly last: number,
    readonly start: number,
    readonly end: number,
  ) {}

  get priority(): number {
    let best = -1;
    for (const rank of this.holders.values()) best = Math.max(best, rank);
    return best;
  }
}

interface RangeWaiter {
  readonly start: number;
  readonly end: number;
  resolve(): void;
  reject(error: unknown): void;
}

/** One version of one item while anything is happening to it. */
class ItemEntry {
  readonly controller = new AbortController();
  /** The job covering each chunk index (a job over several chunks is listed under each of them). */
  readonly jobs = new Map<number, ChunkJob>();
  readonly waiters = new Set<RangeWaiter>();
  available = new RangeSet();
  ready!: Promise<void>;
  /** Set once `ready` has resolved: later calls need not wait for it. */
  prepared = false;
  urls!: DownloadUrlCache;
  verification: Promise<Error | undefined> | undefined;
  /** Complete while the file's readers were still reading: hashed once one reaches the end or they close (or someone waits for the check). */
  verificationDue = false;
  verifying = false;
  /** The server's hash of this version; it may arrive after the version itself (B omits it for a while). */
  expectedHash: string | undefined;
  /** Set by invalidate(): bytes landing after it are not recorded. */
  discarded = false;
  /** Calls currently using the entry (it is forgotten when idle, and reloaded from the store). */
  users = 0;
  bytesDownloaded = 0;
  lastProgressAt = Number.NEGATIVE_INFINITY;
  cancelled: Error | undefined;

  constructor(
    readonly item: DownloadItem,
    readonly path: string,
    readonly drivePath: string,
    readonly transferId: string,
    readonly startedAt: number,
  ) {
    this.expectedHash = item.quickXorHash ?? undefined;
  }

  get id(): string {
    return this.item.id;
  }

  get size(): number {
    return this.item.size;
  }

  /** Resolves when [start, end) is available; rejects when the entry is cancelled. */
  waitFor(start: number, end: number): { promise: Promise<void>; dispose(): void } {
    let waiter!: RangeWaiter;
    const promise = new Promise<void>((resolve, reject) => {
      waiter = { start, end, resolve, reject };
    });
    if (this.cancelled) waiter.reject(this.cancelled);
    else if (this.available.has(start, end)) waiter.resolve();
    else this.waiters.add(waiter);
    return { promise, dispose: () => this.waiters.delete(waiter) };
  }

  /** Whether a waiter would be satisfied by [start, end) landing now (a read is blocked on those bytes). */
  awaits(start: number, end: number): boolean {
    for (const waiter of this.waiters) if (waiter.end > start && waiter.end <= end) return true;
    return false;
  }

  landed(start: number, end: number): void {
    this.available.add(start, end);
    for (const waiter of this.waiters) {
      if (this.available.has(waiter.start, waiter.end)) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
    }
  }

  failWaiters(error: Error): void {
    for (const waiter of this.waiters) waiter.reject(error);
    this.waiters.clear();
  }
}

interface ReaderGroup {
  readers: number;
  readonly holder: Holder;
}

/** Every task of the download manager is named `download…` (whenIdle and close wait for the group). */
const TASK_PREFIX = 'download';

export class DownloadManager {
  /** progress, done, failed: see DownloadEvents. */
  readonly events: TypedEmitter<DownloadEvents>;
  readonly #graph: DownloadSource;
  readonly #store: Store;
  readonly #cacheDir: string;
  readonly #spares: SpareCacheFiles | undefined;
  /** The one writer of content rows and cache files (docs/concurrency.md §3): this manager asks it. */
  readonly content: ContentOwner;
  readonly #tasks: TaskRegistry;
  readonly #logger: Logger;
  readonly #queue: PQueue;
  readonly #chunkBytes: number;
  readonly #initialReadAhead: number;
  readonly #maxReadAhead: number;
  readonly #maxReadAheadRequest: number;
  readonly #queueLimit: number;
  readonly #chunksPerCall: number;
  readonly #urlTtlMs: number;
  readonly #progressIntervalMs: number;
  readonly #maxInterruptions: number;
  readonly #now: () => number;
  readonly #entries = new Map<string, ItemEntry>();
  /**
   * The download URL last fetched for each item (and the version it was checked against), for the
   * next entry of the same version: a file opened again within the URL's time to live starts its
   * first request without a round trip to the API. Bounded: the oldest are dropped.
   */
  readonly #recentUrls = new Map<string, { etag: string | null; ctag: string | null; size: number; url: string; fetchedAt: number }>();
  readonly #groups = new Map<string, ReaderGroup>();
  /** Items being changed here (stopped()): no download of them starts until the change has begun. */
  readonly #stopped = new Map<string, number>();
  /** Every job not settled yet, by item: those of retired and cancelled entries write to the same file. */
  readonly #running = new Map<string, Set<ChunkJob>>();
  /** The buffers responses are gathered in (write-gather.ts); let go when nothing is left to download. */
  readonly #gathers = new GatherPool(WRITE_GATHER_BYTES, GATHER_BUFFERS_KEPT);
  #gathersRelease: NodeJS.Timeout | undefined;
  #transferSeq = 0;
  readonly #detach: () => void;
  readonly #admission = new Admission();
  #closing: Promise<void> | undefined;

  constructor(options: DownloadManagerOptions) {
    this.#graph = options.graph;
    this.#store = options.store;
    this.#cacheDir = options.cacheDir;
    if (options.content && options.spareFiles) throw new RangeError('spareFiles belong to the content owner the manager makes; give them to the one passed as `content` instead');
    if (!options.content && options.spareFiles) {
      this.#spares = new SpareCacheFiles({
        dir: path.join(options.cacheDir, 'spare'),
        keep: options.spareFiles,
        retryMs: options.spareFilesRetryMs ?? DEFAULT_TIMEOUTS.spareFilesRetryMs,
        onError: (err) => this.#logger.warn({ err }, 'could not make spare cache files; new files make their own'),
        folders: cacheFolders(options.cacheDir),
      });
    }
    this.content = options.content ?? new ContentOwner({ store: options.store, cachePath: (id) => cacheFilePath(options.cacheDir, id), spares: this.#spares });
    this.#tasks = options.tasks;
    this.#logger = options.logger;
    this.#chunkBytes = positive(options.chunkBytes ?? MiB, 'chunkBytes');
    this.#initialReadAhead = positive(options.initialReadAheadBytes ?? MiB, 'initialReadAheadBytes');
    this.#maxReadAhead = Math.max(this.#initialReadAhead, positive(options.maxReadAheadBytes ?? 64 * MiB, 'maxReadAheadBytes'));
    this.#maxReadAheadRequest = positive(options.maxReadAheadRequestBytes ?? 16 * MiB, 'maxReadAheadRequestBytes');
    this.#queueLimit = positive(options.queueLimit ?? 64, 'queueLimit');
    const concurrency = positive(options.concurrency ?? 4, 'concurrency');
    this.#chunksPerCall = positive(options.chunksInFlightPerCall ?? 2 * concurrency, 'chunksInFlightPerCall');
    this.#urlTtlMs = positive(options.downloadUrlTtlMs ?? DEFAULT_TIMEOUTS.downloadUrlTtlMs, 'downloadUrlTtlMs');
    this.#progressIntervalMs = options.progressIntervalMs ?? DEFAULT_TIMEOUTS.downloadProgressIntervalMs;
    this.#maxInterruptions = options.maxInterruptions ?? DEFAULT_TIMEOUTS.downloadInterruptionRetries;
    this.#now = options.now ?? Date.now;
    this.#queue = new PQueue({ concurrency });
    // Kept while a read goes on (its read-ahead requests leave the queue empty for moments
    // between them: buffers made anew then outlive the young generation, which is what the pool is
    // for), let go once nothing has been downloaded for a while.
    const keepMs = options.buffersKeepMs ?? DEFAULT_TIMEOUTS.downloadBuffersKeepMs;
    this.#queue.on('active', () => clearTimeout(this.#gathersRelease));
    this.#queue.on('idle', () => {
      clearTimeout(this.#gathersRelease);
      this.#gathersRelease = setTimeout(() => this.#gathers.clear(), keepMs).unref();
    });
    this.events = new TypedEmitter<DownloadEvents>((error, event) =>
      this.#logger.error({ err: error, event }, `a download "${event}" listener failed`),
    );
    this.#detach = this.content.attachDownloads(this);
  }

  /** Gather buffers waiting for the next download (for tests). */
  get idleGatherBuffers(): number {
    return this.#gathers.idle;
  }

  /** The sparse cache file holding the item's bytes at their offsets. */
  cachePath(itemId: string): string {
    return cacheFilePath(this.#cacheDir, itemId);
  }

  /**
   * Resolves when [start, end) (clipped to the size) of this version of the item is in its cache
   * file; at once, without a request, when it is already there. Only missing chunks are fetched.
   * When the signal fires, the wait ends with its reason and downloads nobody else wants stop.
   */
  async ensure(
    item: DownloadItem,
    start: number,
    end: number,
    options: { priority: DownloadPriority; signal?: AbortSignal },
  ): Promise<void> {
    checkRange(start, end);
    const holder = new Holder();
    let satisfied = false;
    try {
      await this.#fetchFor(holder, item, start, end, options.priority, options.signal);
      satisfied = true;
    } finally {
      // Jobs a satisfied caller started run on (the next read likely wants them); a caller that
      // gave up or failed cancels those nobody else holds.
      this.#release(holder, !satisfied);
    }
  }

  /** A reader for an open file: waits for ranges and reads ahead when it is read sequentially. */
  openReader(item: DownloadItem): ContentReader {
    this.#checkOpen();
    let group = this.#groups.get(item.id);
    if (!group) {
      group = { readers: 0, holder: new Holder() };
      this.#groups.set(item.id, group);
    }
    group.readers++;
    const owner = group;
    const window = new ReadAheadWindow({ initialBytes: this.#initialReadAhead, maxBytes: this.#maxReadAhead, maxRequestBytes: this.#maxReadAheadRequest });
    return new ManagedContentReader(
      item,
      {
        fetch: (target, start, end, priority, signal, requestBytes) => this.#fetchFor(owner.holder, target, start, end, priority, signal, requestBytes),
        cached: (target, start, end) => this.#cached(target, start, end),
        readEnd: () => {
          const entry = this.#entries.get(item.id);
          if (entry) this.#startDueVerification(entry);
        },
        track: (work) => this.#track(`download-readahead:${item.id}`, work),
        readerClosed: () => {
          owner.readers--;
          if (owner.readers > 0) return;
          if (this.#groups.get(item.id) === owner) this.#groups.delete(item.id);
          this.#release(owner.holder, true);
          const entry = this.#entries.get(item.id);
          if (entry) {
            this.#startDueVerification(entry);
            this.#forgetIfIdle(entry);
          }
        },
      },
      window,
      this.#logger,
    );
  }

  /**
   * Downloads the whole file at background priority (pins), then checks its hash. Rejects with
   * ContentHashMismatchError when the check fails (the bytes are discarded and the error recorded).
   */
  async hydrate(item: DownloadItem, options: { signal?: AbortSignal } = {}): Promise<void> {
    const holder = new Holder();
    let satisfied = false;
    const entry = await this.#entryFor(item, options.signal);
    entry.users++;
    try {
      if (item.size === 0) {
        if (this.#store.content.get(item.id)?.status !== 'complete') {
          await this.content.emptyVersionStored(item.id, { etag: item.etag ?? null, ctag: item.ctag ?? null });
        }
      } else {
        await this.#fill(entry, holder, 0, item.size, 'hydrate', options.signal);
        // The last bytes can land before their job has recorded them and started the hash check.
        while (entry.jobs.size > 0) {
          await raceWithSignal(Promise.all([...entry.jobs.values()].map((job) => job.done)), options.signal ?? entry.controller.signal);
        }
      }
      this.#startDueVerification(entry);
      const failure = entry.verification ? await raceWithSignal(entry.verification, options.signal ?? entry.controller.signal) : undefined;
      if (failure) throw failure;
      satisfied = true;
    } finally {
      this.#release(holder, !satisfied);
      entry.users--;
      this.#forgetIfIdle(entry);
    }
  }

  /**
   * Hashes the cached file now and compares it with `item.quickXorHash`. 'no-hash' when the item
   * has none. Throws ContentIncompleteError when not all bytes are cached, and
   * ContentHashMismatchError (after discarding the bytes) when they do not match.
   */
  async verify(item: DownloadItem, options: { signal?: AbortSignal } = {}): Promise<'verified' | 'no-hash'> {
    const entry = await this.#entryFor(item, options.signal);
    entry.users++;
    try {
      if (!entry.available.isComplete(item.size)) throw new ContentIncompleteError(item.id);
      const verification = entry.verifying && entry.verification ? entry.verification : this.#startVerification(entry);
      entry.verification = verification;
      const failure = await raceWithSignal(verification, options.signal ?? entry.controller.signal);
      if (failure) throw failure;
      return entry.expectedHash ? 'verified' : 'no-hash';
    } finally {
      entry.users--;
      this.#forgetIfIdle(entry);
    }
  }

  /** Parallel range requests from now on (the settings view changes it while running). */
  setConcurrency(n: number): void {
    this.#queue.concurrency = positive(n, 'concurrency');
  }

  /** Aborts everything for the item (its remote version changed or it was deleted); the cached ranges stay. */
  async cancel(itemId: string): Promise<void> {
    const entry = this.#entries.get(itemId);
    if (entry) await this.#cancelEntry(entry, new DownloadCancelledError(itemId, 'cancelled'));
  }

  /**
   * For a local change of the item (ContentOwner calls it, under the item's lock): stops its
   * downloads, waits until none of their cache writes can still land, and runs `work` (the change's
   * file and row steps) while no download of the item may start. Waiting on the network and on
   * the hash check is not needed: a write lands only from a running job, and a job runs only for
   * an entry, which this cancels (a hash check that fails finds the content dirty and keeps it).
   * Readers waiting for bytes fail with ContentChangingError and read again after the change.
   */
  async stopped<T>(itemId: string, work: () => Promise<T>): Promise<T> {
    this.#stopped.set(itemId, (this.#stopped.get(itemId) ?? 0) + 1);
    try {
      const entry = this.#entries.get(itemId);
      if (entry) this.#abortEntry(entry, new ContentChangingError(itemId));
      // The current entry's jobs, and those of entries retired for a newer version or cancelled,
      // which may still be writing their last bytes.
      await Promise.all([...(this.#running.get(itemId) ?? [])].map((job) => job.done));
      return await work();
    } finally {
      const count = this.#stopped.get(itemId)! - 1;
      if (count > 0) this.#stopped.set(itemId, count);
      else this.#stopped.delete(itemId);
    }
  }

  /**
   * cancel() and then forget the cached bytes: the store's ranges are cleared and the cache file is
   * deleted. Refuses (CONTENT_DIRTY, from the store) when the content has local changes.
   */
  async invalidate(itemId: string): Promise<void> {
    const entry = this.#entries.get(itemId);
    let settled: Promise<void> | undefined;
    if (entry) {
      entry.discarded = true;
      settled = this.#cancelEntry(entry, new DownloadCancelledError(itemId, 'its cached content is being discarded'));
    }
    await this.content.evict(itemId);
    await settled;
  }

  /** Transfers running or queued now, as the UI and `onemount status` show them. */
  snapshot(only?: ReadonlySet<string>): TransferItem[] {
    const now = this.#now();
    const rows: TransferItem[] = [];
    for (const entry of this.#entries.values()) {
      if (only && !only.has(entry.id)) continue;
      if (entry.jobs.size === 0) continue;
      const running = [...entry.jobs.values()].some((job) => job.state === 'running');
      const elapsedMs = now - entry.startedAt;
      rows.push({
        id: entry.transferId,
        itemId: entry.id,
        path: entry.drivePath,
        direction: 'download',
        state: running ? 'active' : 'queued',
        bytes: Math.min(entry.available.coveredBytes, entry.size),
        total: entry.size,
        ...(elapsedMs > 0 ? { bytesPerSecond: (entry.bytesDownloaded * 1000) / elapsedMs } : {}),
        startedAt: entry.startedAt,
        updatedAt: now,
      });
    }
    return rows;
  }

  /**
   * Shutdown: refuses new work, aborts everything and waits until every write has landed and its
   * range is recorded, so the range map stays true for the next start.
   */
  /**
   * Shutdown: from stop-new-work no new chunk is fetched (bytes already cached keep being read;
   * a read that needs new bytes fails with a ShuttingDownError); in the downloads phase, close().
   */
  shutdownSteps(): readonly ShutdownStep[] {
    return [
      { phase: 'stop-new-work', name: 'downloads: start nothing new', run: async () => this.#admission.close() },
      { phase: 'downloads', name: 'download-manager', run: () => this.close() },
    ];
  }

  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    const reason = new DownloadManagerClosedError();
    for (const group of this.#groups.values()) this.#release(group.holder, true);
    this.#groups.clear();
    await Promise.all([...this.#entries.values()].map((entry) => this.#cancelEntry(entry, reason)));
    await this.#tasks.whenIdle(TASK_PREFIX);
    await this.#queue.onIdle();
    clearTimeout(this.#gathersRelease);
    this.#gathers.clear();
    await this.#spares?.close();
    this.#detach();
  }

  /** Resolves when nothing is queued or running (read-ahead included); for tests and status. */
  async whenIdle(): Promise<void> {
    while (this.#tasks.list().some((task) => task.name.startsWith(TASK_PREFIX)) || this.#queue.size > 0 || this.#queue.pending > 0) {
      await this.#tasks.whenIdle(TASK_PREFIX);
      await this.#queue.onIdle();
    }
  }

  // ── fetching ──────────────────────────────────────────────────────────────

  /** Whether [start, end) of this version of the item has landed (bookkeeping only, no I/O). */
  #cached(item: DownloadItem, start: number, end: number): boolean {
    if (this.#closing) return false;
    const known = this.#entries.get(item.id);
    const to = Math.min(end, item.size);
    return !!known && !known.cancelled && sameContent(known.item, item) && (start >= to || known.available.has(start, to));
  }

  async #fetchFor(
    holder: Holder,
    item: DownloadItem,
    start: number,
    end: number,
    priority: DownloadPriority,
    signal: AbortSignal | undefined,
    requestBytes?: number,
  ): Promise<void> {
    checkRange(start, end);
    const to = Math.min(end, item.size);
    // The hot path of cached reads: no await, no store query.
    if (this.#cached(item, start, to)) {
      throwIfAborted(signal);
      return;
    }
    const entry = await this.#entryFor(item, signal, { start, end: to });
    if (start >= to || entry.available.has(start, to)) return;
    entry.users++;
    try {
      await this.#fill(entry, holder, start, to, priority, signal, this.#chunksFor(requestBytes));
    } finally {
      entry.users--;
      this.#forgetIfIdle(entry);
    }
  }

  /**
   * Waits until [start, end) has landed: queues the chunks that miss bytes (a few at a time, so a
   * whole-file request does not flood the queue) and returns as soon as the caller's own bytes are
   * there, even while the rest of a chunk is still arriving.
   */
  async #fill(
    entry: ItemEntry,
    holder: Holder,
    start: number,
    end: number,
    priority: DownloadPriority,
    signal: AbortSignal | undefined,
    chunksPerJob = 1,
  ): Promise<void> {
    if (entry.available.has(start, end)) return;
    const waiting = anySignal(signal, entry.controller.signal);
    const stop = linkedController(waiting.signal);
    const waiter = entry.waitFor(start, end);
    const filling = this.#queueChunks(entry, holder, start, end, priority, stop.signal, chunksPerJob).then(() => {
      if (!entry.available.has(start, end)) {
        throw new DownloadShortError(entry.id, end, entry.available.firstMissingFrom(start));
      }
    });
    try {
      await raceWithSignal(Promise.race([waiter.promise, filling]), waiting.signal);
    } finally {
      stop.abort(new DownloadCancelledError(entry.id, 'the caller has its bytes or gave up'));
      waiter.dispose();
      waiting.dispose();
      // The queueing loop ends at its next wait; what it found was delivered above or is moot now.
      await filling.catch(() => undefined);
    }
  }

  /** Chunks per job for a caller that asks for requests of about `requestBytes` (one when it names none). */
  #chunksFor(requestBytes: number | undefined): number {
    if (requestBytes === undefined) return 1;
    return Math.max(1, Math.round(requestBytes / this.#chunkBytes));
  }

  async #queueChunks(
    entry: ItemEntry,
    holder: Holder,
    start: number,
    end: number,
    priority: DownloadPriority,
    signal: AbortSignal,
    chunksPerJob: number,
  ): Promise<void> {
    const outstanding = new Set<ChunkJob>();
    const first = Math.floor(start / this.#chunkBytes);
    const last = Math.floor((end - 1) / this.#chunkBytes);
    const missing = (index: number) => !entry.available.has(Math.max(start, index * this.#chunkBytes), Math.min(end, (index + 1) * this.#chunkBytes));
    for (let index = first; index <= last; index++) {
      if (!missing(index)) continue;
      while (outstanding.size >= this.#chunksPerCall) await this.#nextSettled(outstanding, signal);
      if (priority !== 'read') {
        while (this.#queue.size >= this.#queueLimit) await raceWithSignal(this.#queue.onSizeLessThan(this.#queueLimit), signal);
      }
      // A job being cancelled cannot be joined: let it finish, then start a fresh one.
      let current = entry.jobs.get(index);
      while (current && current.controller.signal.aborted) {
        await raceWithSignal(current.done, signal);
        current = entry.jobs.get(index);
      }
      throwIfAborted(signal);
      if (entry.cancelled) throw entry.cancelled;
      if (!missing(index)) continue;
      if (current) {
        outstanding.add(this.#join(current, holder, priority));
        continue;
      }
      // One request for the following chunks too, while they are missing and nobody fetches them.
      let to = index;
      while (to < last && to + 1 - index < chunksPerJob && !entry.jobs.has(to + 1) && missing(to + 1)) to++;
      outstanding.add(this.#startJob(entry, index, to, holder, priority));
      index = to;
    }
    while (outstanding.size > 0) await this.#nextSettled(outstanding, signal);
  }

  async #nextSettled(jobs: Set<ChunkJob>, signal: AbortSignal): Promise<void> {
    const [job, outcome] = await raceWithSignal(
      Promise.race([...jobs].map((j) => j.done.then((result) => [j, result] as const))),
      signal,
    );
    jobs.delete(job);
    if (!outcome.ok) throw outcome.error;
  }

  #join(job: ChunkJob, holder: Holder, priority: DownloadPriority): ChunkJob {
    const before = job.priority;
    job.holders.set(holder, Math.max(job.holders.get(holder) ?? -1, PRIORITY_RANK[priority]));
    holder.jobs.add(job);
    if (job.state === 'queued' && job.priority !== before) this.#queue.setPriority(job.id, job.priority);
    return job;
  }

  #startJob(entry: ItemEntry, first: number, last: number, holder: Holder, priority: DownloadPriority): ChunkJob {
    this.#admission.check(`a new download of ${entry.drivePath}`);
    const start = first * this.#chunkBytes;
    const job = new ChunkJob(`${entry.transferId}#${first}`, first, last, start, Math.min(entry.size, (last + 1) * this.#chunkBytes));
    for (let index = first; index <= last; index++) entry.jobs.set(index, job);
    let running = this.#running.get(entry.id);
    if (!running) this.#running.set(entry.id, (running = new Set()));
    running.add(job);
    job.holders.set(holder, PRIORITY_RANK[priority]);
    holder.jobs.add(job);
    const queued = this.#queue.add(
      async () => {
        job.state = 'running';
        await this.#asTask(`download:${entry.id}#${first}`, job.controller.signal, (signal) => this.#runJob(entry, job, signal));
      },
      // Only `dequeue` goes to p-queue: aborting a running job through p-queue would free its
      // slot while its writes are still landing.
      { priority: job.priority, id: job.id, signal: job.dequeue.signal },
    );
    job.done = queued.then(
      (): JobOutcome => ({ ok: true }),
      (error: unknown): JobOutcome => ({ ok: false, error: toError(job.controller.signal.aborted ? abortReason(job.controller.signal) : error) }),
    ).then((outcome) => this.#settleJob(entry, job, outcome));
    return job;
  }

  #settleJob(entry: ItemEntry, job: ChunkJob, outcome: JobOutcome): JobOutcome {
    job.state = 'settled';
    const running = this.#running.get(entry.id);
    running?.delete(job);
    if (running?.size === 0) this.#running.delete(entry.id);
    for (let index = job.first; index <= job.last; index++) if (entry.jobs.get(index) === job) entry.jobs.delete(index);
    for (const holder of job.holders.keys()) holder.jobs.delete(job);
    job.holders.clear();
    if (!outcome.ok && !isCancellation(outcome.error)) {
      this.#logger.warn({ err: outcome.error, itemId: entry.id, chunks: [job.first, job.last], range: [job.start, job.end] }, 'download of a chunk failed');
      this.events.emit('failed', { itemId: entry.id, path: entry.drivePath, error: outcome.error });
    }
    this.#emitProgress(entry, true);
    this.#forgetIfIdle(entry);
    return outcome;
  }

  /** Gives up a holder's claims; jobs left without holders are cancelled when `cancel` is set. */
  #release(holder: Holder, cancel: boolean): void {
    for (const job of holder.jobs) {
      job.holders.delete(holder);
      if (job.state === 'settled') continue;
      if (job.holders.size === 0) {
        if (cancel) this.#abortJob(job, new DownloadCancelledError(job.id, 'nobody waits for it any more'));
      } else if (job.state === 'queued') {
        this.#queue.setPriority(job.id, job.priority);
      }
    }
    holder.jobs.clear();
  }

  #abortJob(job: ChunkJob, reason: Error): void {
    job.controller.abort(reason);
    if (job.state === 'queued') job.dequeue.abort(reason);
  }

  async #runJob(entry: ItemEntry, job: ChunkJob, signal: AbortSignal): Promise<void> {
    for (const gap of entry.available.missing(job.start, job.end)) {
      await this.#fetchRange(entry, gap.start, gap.end, signal);
    }
  }

  /** Downloads [start, end) into the cache file, resuming after broken connections and refreshing an expired URL. */
  async #fetchRange(entry: ItemEntry, start: number, end: number, signal: AbortSignal): Promise<void> {
    let position = start;
    let refreshes = 0;
    let interruptions = 0;
    while (position < end) {
      throwIfAborted(signal);
      const url = await entry.urls.get(signal);
      let body: Readable;
      try {
        body = (await this.#graph.downloadRange(url, position, end, signal)).stream;
      } catch (error) {
        if (error instanceof DownloadUrlExpiredError && refreshes < 2) {
          refreshes++;
          this.#logger.debug({ itemId: entry.id, status: error.status }, 'the download URL was refused; fetching a fresh one');
          entry.urls.expire(url);
          if (this.#recentUrls.get(entry.id)?.url === url) this.#recentUrls.delete(entry.id);
          continue;
        }
        throw error;
      }
      const cursor = { position };
      let broken: unknown;
      try {
        await this.#writeBody(entry, body, cursor, end, signal);
      } catch (error) {
        if (signal.aborted) throw abortReason(signal);
        if (error instanceof CacheWriteError) throw error;
        broken = error;
      } finally {
        this.#persist(entry, position, cursor.position);
      }
      if (broken !== undefined) {
        interruptions = cursor.position > position ? 1 : interruptions + 1;
        if (interruptions > this.#maxInterruptions) {
          const causeCode = (broken as { code?: unknown }).code;
          throw new NetworkError(`the download of item ${entry.id} broke off at byte ${cursor.position}: ${errorMessage(broken)}`, {
            cause: broken,
            ...(typeof causeCode === 'string' ? { causeCode } : {}),
          });
        }
        this.#logger.debug({ err: broken, itemId: entry.id, at: cursor.position }, 'a download connection broke; resuming');
      } else if (cursor.position < end) {
        throw new DownloadShortError(entry.id, end, cursor.position);
      }
      position = cursor.position;
    }
  }

  /**
   * Writes the body at its offsets, never past `end`; each write is announced once it has landed,
   * and `cursor` follows the bytes landed without a gap from its start.
   *
   * Network chunks are small (16–64 KiB): they are copied into pooled buffers (write-gather.ts
   * says why a copy), and what has gathered is written once it reaches WRITE_GATHER_BYTES, at the
   * end, or at once when a reader waits for bytes among it. Up to WRITES_IN_FLIGHT writes run side
   * by side: one at a time held a fast download to the latency of the thread pool. The body is
   * consumed through events, not an async iterator: a promise per chunk was a large share of the
   * engine's time.
   */
  async #writeBody(entry: ItemEntry, body: Readable, cursor: { position: number }, end: number, signal: AbortSignal): Promise<void> {
    let handle: FileHandle;
    try {
      handle = await this.content.openFile(entry.id);
    } catch (error) {
      body.destroy();
      throw new CacheWriteError(entry.id, entry.path, error);
    }
    const file = handle;
    // Tied to the signal only now, with the listeners attached in the same tick: a stream destroyed
    // while nobody listened (an abort during the open above) emits nothing afterwards, and the
    // download waited for it for ever.
    const stream = addAbortSignal(signal, body);
    try {
      await new Promise<void>((resolve, reject) => {
        const gather = new Gather(this.#gathers);
        /** Where the gathered bytes start: everything before was handed to a write. */
        let handedUntil = cursor.position;
        /** Writes running or landed out of order, by start; the first one is at `cursor`. */
        const writes: Array<{ from: number; to: number; landed: boolean }> = [];
        let running = 0;
        let ended = false;
        let settled = false;
        let failure: unknown;
        const finish = () => {
          if (settled) return;
          settled = true;
          gather.close();
          stream.off('data', onData);
          stream.off('end', onEnd);
          stream.off('error', onError);
          stream.off('close', onClose);
          // Late errors of a stream we stopped listening to must not go unhandled.
          stream.on('error', () => undefined);
          if (failure === undefined) resolve();
          else reject(failure);
        };
        const pump = () => {
          if (failure !== undefined) {
            if (running === 0) finish();
            return;
          }
          while (running < WRITES_IN_FLIGHT && gather.pending > 0) {
            const from = handedUntil;
            const to = from + gather.pending;
            if (!ended && gather.pending < WRITE_GATHER_BYTES && !entry.awaits(from, to)) break;
            const gathered = gather.take()!;
            handedUntil = to;
            const write = { from, to, landed: false };
            writes.push(write);
            running++;
            this.content.writevAt(file, gathered.pieces, from, gathered.length).then(
              () => {
                gathered.done();
                running--;
                write.landed = true;
                entry.landed(from, to);
                entry.bytesDownloaded += to - from;
                while (writes[0]?.landed) cursor.position = writes.shift()!.to;
                this.#emitProgress(entry, false);
                pump();
              },
              (error: unknown) => {
                gathered.done();
                running--;
                failure ??= new CacheWriteError(entry.id, entry.path, error);
                stream.destroy();
                pump();
              },
            );
          }
          if (running === 0 && gather.pending === 0 && ended) return finish();
          // Reading resumes once the disk has caught up with the network.
          if (stream.isPaused() && gather.pending < WRITES_IN_FLIGHT * WRITE_GATHER_BYTES) stream.resume();
        };
        const onData = (chunk: Buffer) => {
          const room = end - (handedUntil + gather.pending);
          gather.add(chunk.length > room ? chunk.subarray(0, Math.max(0, room)) : chunk);
          // Copied: the chunk is garbage now (base/gc.ts).
          droppedBuffers(chunk.length);
          if (chunk.length > room) {
            // More than was asked for: the rest is not ours to write.
            ended = true;
            stream.off('data', onData);
            stream.destroy();
          } else if (gather.pending >= WRITES_IN_FLIGHT * WRITE_GATHER_BYTES) {
            // Every write slot is busy and a backlog has built up: stop reading until it drains.
            stream.pause();
          }
          pump();
        };
        const onEnd = () => {
          ended = true;
          pump();
        };
        const onError = (error: unknown) => {
          // What arrived but was not written is dropped: the caller resumes from cursor.position.
          gather.close();
          failure ??= error;
          pump();
        };
        // A stream that closes without 'end' or 'error' (destroyed before these listeners, or
        // without a reason) ends the write with an error instead of never ending it.
        const onClose = () => {
          if (!ended) onError(stream.errored ?? (signal.aborted ? abortReason(signal) : new Error('the download body closed before its end')));
        };
        stream.on('data', onData);
        stream.on('end', onEnd);
        stream.on('error', onError);
        stream.on('close', onClose);
        if (stream.destroyed) onClose();
      });
    } finally {
      await file.close();
    }
  }

  /** Records a landed range in the store; a file that became complete gets its hash checked. */
  #persist(entry: ItemEntry, start: number, end: number): void {
    if (end <= start || entry.discarded) return;
    let status: string;
    try {
      status = this.content.bytesArrived(entry.id, start, end, entry.size).status;
    } catch (error) {
      // The item may be gone from the store already (deleted remotely, then cancelled).
      if (entry.cancelled) {
        this.#logger.warn({ err: error, itemId: entry.id }, 'could not record downloaded bytes of a cancelled item');
        return;
      }
      throw error;
    }
    if (status === 'complete' && !entry.verification && !entry.cancelled) {
      // Hashing rereads the whole file on the event loop and the thread pool: while the file is
      // being read, the reads (a cold `cp` reaching the bytes the read-ahead fetched) would compete
      // with it. It waits until a reader has read the last byte or the last reader closes, or until
      // a hydration or verify() asks for it.
      if (this.#groups.has(entry.id)) entry.verificationDue = true;
      else entry.verification = this.#startVerification(entry);
    }
  }

  // ── entries and versions ─────────────────────────────────────────────────

  /** The entry for this version of the item, created (and prepared from the store) when needed. */
  async #entryFor(item: DownloadItem, signal: AbortSignal | undefined, wanted?: { start: number; end: number }): Promise<ItemEntry> {
    this.#checkOpen();
    throwIfAborted(signal);
    if (this.#stopped.has(item.id)) throw new ContentChangingError(item.id);
    const existing = this.#entries.get(item.id);
    if (existing && !existing.cancelled && sameContent(existing.item, item)) {
      if (item.quickXorHash && !existing.expectedHash) existing.expectedHash = item.quickXorHash;
      await this.#whenReady(existing, signal);
      return existing;
    }
    const stored = this.#store.items.get(item.id);
    if (!stored) throw new ContentVersionChangedError(item.id, 'it is no longer in the store');
    if (!sameContent(stored, item)) {
      throw new ContentVersionChangedError(item.id, `asked for ${describeVersion(item)}, the store holds ${describeVersion(stored)}`);
    }
    const entry = new ItemEntry(
      item,
      this.cachePath(item.id),
      item.path ?? this.#store.items.pathOf(item.id) ?? `/${stored.name}`,
      `download:${item.id}:${++this.#transferSeq}`,
      this.#now(),
    );
    entry.urls = new DownloadUrlCache((s) => this.#freshUrl(entry, s), this.#urlTtlMs, this.#now, entry.controller.signal);
    const recent = this.#recentUrls.get(item.id);
    if (recent && sameContent(recent, item)) entry.urls.seed(recent.url, recent.fetchedAt);
    this.#entries.set(item.id, entry);
    const retiring = existing ? this.#cancelEntry(existing, new ContentVersionChangedError(item.id, 'a newer version is wanted')) : undefined;
    entry.ready = this.#prepare(entry, retiring);
    if (wanted && !retiring) this.#prefetchUrl(entry, wanted);
    entry.ready.then(
      () => {
        entry.prepared = true;
      },
      () => {
        if (this.#entries.get(item.id) === entry) this.#entries.delete(item.id);
      },
    );
    await this.#whenReady(entry, signal);
    return entry;
  }

  /** Waits for the entry's preparation; ends with the caller's reason, or the entry's when it is cancelled meanwhile. */
  async #whenReady(entry: ItemEntry, signal: AbortSignal | undefined): Promise<void> {
    if (entry.prepared) {
      // The common case (every read-ahead step and waiting read of an open file): no linked signal.
      throwIfAborted(signal);
      throwIfAborted(entry.controller.signal);
      return;
    }
    const either = anySignal(signal, entry.controller.signal);
    try {
      await raceWithSignal(entry.ready, either.signal);
    } finally {
      either.dispose();
    }
  }

  /**
   * A caller wants bytes of a new entry: when the store does not hold them, the download URL is
   * asked for now, while the entry is being prepared (cache file, store), instead of after it: the
   * first read of an uncached file waits for the slower of the two, not for both.
   */
  #prefetchUrl(entry: ItemEntry, wanted: { start: number; end: number }): void {
    const content = this.#store.content.get(entry.id);
    if (content?.status === 'dirty') return;
    if (content && content.status !== 'none' && sameContent(content, entry.item) && content.ranges.has(wanted.start, wanted.end)) return;
    const fetching = entry.urls.get(entry.controller.signal).then(
      () => undefined,
      (error: unknown) => {
        // The download's own request for the URL fetches it again and fails with this cause.
        if (!isCancellation(error)) this.#logger.debug({ err: error, itemId: entry.id }, 'could not fetch the download URL ahead of the first request');
      },
    );
    this.#track(`download-url:${entry.id}`, fetching);
  }

  /** Loads the ranges of this version from the store, or starts the file afresh for a new version. */
  async #prepare(entry: ItemEntry, retiring: Promise<void> | undefined): Promise<void> {
    if (retiring) await retiring;
    const { item } = entry;
    const content = this.#store.content.get(item.id);
    if (content && content.status !== 'none' && sameContent(content, item)) {
      const ranges = content.ranges.clone();
      ranges.truncate(item.size);
      const last = [...ranges].pop();
      const length = await cacheFileLength(entry.path);
      if (last === undefined || (length !== undefined && length >= last.end)) {
        entry.available = ranges;
        return;
      }
      this.#logger.warn({ itemId: item.id, path: entry.path, length }, 'the cache file lost bytes the range map lists; starting the file again');
    } else if (content?.status === 'dirty') {
      throw new ContentDirtyError(item.id);
    } else if (content && content.status !== 'none') {
      this.#logger.info({ itemId: item.id, cached: describeVersion(content), wanted: describeVersion(item) }, 'cached bytes belong to another version; discarding them');
    }
    await this.content.versionStarted(item.id, { etag: item.etag ?? null, ctag: item.ctag ?? null }, item.size);
  }

  /**
   * A download URL and, from the same answer, the server's version: bytes of another version must
   * never land in a file tagged with this one.
   */
  async #freshUrl(entry: ItemEntry, signal: AbortSignal): Promise<string> {
    // Requests name the item by the server's id; the entry (cache file, content row) by its key.
    const startedAt = this.#now();
    const remoteId = this.#store.items.get(entry.id)?.remoteId;
    if (!remoteId) throw new ContentVersionChangedError(entry.id, 'the server does not know the item (yet)');
    const remote = await this.#graph.getItem(remoteId, { select: ['id', 'size', 'eTag', 'cTag', '@microsoft.graph.downloadUrl'], signal });
    const version = { etag: remote.eTag ?? null, ctag: remote.cTag ?? null };
    if (!sameContent({ ...version, size: remote.size ?? null }, entry.item)) {
      throw new ContentVersionChangedError(entry.id, `the server holds ${describeVersion({ ...version, size: remote.size })}, not ${describeVersion(entry.item)}`);
    }
    const url = remote.downloadUrl ?? (await this.#graph.downloadUrl(remoteId, { signal }));
    this.#recentUrls.delete(entry.id);
    this.#recentUrls.set(entry.id, { ...version, size: entry.size, url, fetchedAt: startedAt });
    if (this.#recentUrls.size > RECENT_URLS) this.#recentUrls.delete(this.#recentUrls.keys().next().value!);
    return url;
  }

  /** Aborts the entry's work (once) and forgets it: its waiters fail with `reason`. */
  #abortEntry(entry: ItemEntry, reason: Error): void {
    if (entry.cancelled) return;
    entry.cancelled = reason;
    entry.controller.abort(reason);
    for (const job of entry.jobs.values()) this.#abortJob(job, reason);
    entry.failWaiters(reason);
    if (this.#entries.get(entry.id) === entry) this.#entries.delete(entry.id);
  }

  /** Aborts the entry's work and resolves once its jobs and hash check have settled. */
  #cancelEntry(entry: ItemEntry, reason: Error): Promise<void> {
    this.#abortEntry(entry, reason);
    const settled = Promise.all([
      ...[...entry.jobs.values()].map((job) => job.done),
      entry.verification,
      entry.ready?.catch(() => undefined),
    ]).then(() => undefined);
    this.#track(`download-cancel:${entry.id}`, settled);
    return settled;
  }

  #forgetIfIdle(entry: ItemEntry): void {
    if (entry.users > 0 || entry.jobs.size > 0 || entry.waiters.size > 0 || entry.verifying || this.#groups.has(entry.id)) return;
    if (this.#entries.get(entry.id) === entry) this.#entries.delete(entry.id);
  }

  // ── completion ────────────────────────────────────────────────────────────

  /** Starts the hash check that waited for the file's readers to close. */
  #startDueVerification(entry: ItemEntry): void {
    if (!entry.verificationDue) return;
    entry.verificationDue = false;
    if (!entry.verification && !entry.cancelled) entry.verification = this.#startVerification(entry);
  }

  /** Runs the hash check in the background; its promise never rejects (it resolves to the failure). */
  #startVerification(entry: ItemEntry): Promise<Error | undefined> {
    entry.verificationDue = false;
    entry.verifying = true;
    const running = this.#verify(entry).finally(() => {
      entry.verifying = false;
      this.#forgetIfIdle(entry);
    });
    this.#track(`download-check:${entry.id}`, running);
    return running;
  }

  async #verify(entry: ItemEntry): Promise<Error | undefined> {
    const expected = entry.expectedHash;
    if (!expected) {
      this.#logger.debug({ itemId: entry.id }, 'no quickXorHash for this version yet; skipping the completion check');
      this.events.emit('done', { itemId: entry.id, path: entry.drivePath, total: entry.size, verified: false });
      return undefined;
    }
    if (this.#store.content.get(entry.id)?.status === 'dirty') {
      this.#logger.debug({ itemId: entry.id }, 'the content has local changes; the server hash does not apply');
      return undefined;
    }
    let actual: string;
    try {
      let digest = '';
      await this.#asTask(`download-verify:${entry.id}`, entry.controller.signal, async (signal) => {
        digest = await quickXorHashFile(entry.path, { size: entry.size, signal });
      });
      actual = digest;
    } catch (error) {
      if (!isCancellation(error)) this.#logger.warn({ err: error, itemId: entry.id }, 'could not hash the downloaded file');
      return toError(error);
    }
    if (sameQuickXorHash(actual, expected)) {
      this.#store.content.clearError(entry.id);
      this.#logger.debug({ itemId: entry.id, size: entry.size }, 'download complete and verified');
      this.events.emit('done', { itemId: entry.id, path: entry.drivePath, total: entry.size, verified: true });
      return undefined;
    }
    const error = new ContentHashMismatchError(entry.id, expected, actual);
    this.#logger.error(
      { itemId: entry.id, path: entry.drivePath, cacheFile: entry.path, expected, actual },
      'the downloaded file does not match the server hash; discarding the cached bytes',
    );
    entry.available = new RangeSet();
    entry.failWaiters(error);
    // The next completion (a new download) gets a check of its own.
    entry.verification = undefined;
    try {
      await this.content.badBytesDiscarded(entry.id, { etag: entry.item.etag ?? null, ctag: entry.item.ctag ?? null }, error);
    } catch (refused) {
      // Local changes landed while the file was hashed: they are the truth now, not the server's hash.
      if (!(refused instanceof ContentTransitionError)) throw refused;
      this.#logger.warn({ itemId: entry.id, err: refused }, 'the content became dirty during its hash check; keeping the local changes');
    }
    this.events.emit('failed', { itemId: entry.id, path: entry.drivePath, error });
    return error;
  }

  // ── helpers ───────────────────────────────────────────────────────────────

  #emitProgress(entry: ItemEntry, force: boolean): void {
    const now = this.#now();
    if (!force && now - entry.lastProgressAt < this.#progressIntervalMs) return;
    entry.lastProgressAt = now;
    this.events.emit('progress', {
      itemId: entry.id,
      path: entry.drivePath,
      bytes: Math.min(entry.available.coveredBytes, entry.size),
      total: entry.size,
      direction: 'download',
    });
  }

  /** Runs `work` as a named task (listed, stopped on shutdown). */
  #asTask(name: string, signal: AbortSignal, work: (signal: AbortSignal) => Promise<void>): Promise<void> {
    return runAsTask(this.#tasks, name, signal, work);
  }

  /** Work no caller necessarily awaits: listed in the registry, awaited by close() and whenIdle(). */
  #track(name: string, work: Promise<unknown>): void {
    this.#tasks.adopt(name, work);
  }

  #checkOpen(): void {
    if (this.#closing) throw new DownloadManagerClosedError();
  }
}

function isCancellation(error: unknown): boolean {
  return (
    isAbortError(error) ||
    isOneMountError(error, 'DOWNLOAD_CANCELLED') ||
    isOneMountError(error, 'DOWNLOAD_MANAGER_CLOSED') ||
    isOneMountError(error, 'CONTENT_VERSION_CHANGED') ||
    isOneMountError(error, 'CONTENT_CHANGING')
  );
}


function describeVersion(v: { etag?: string | null; ctag?: string | null; size?: number | undefined }): string {
  return `eTag ${v.etag ?? '-'} cTag ${v.ctag ?? '-'}${v.size === undefined ? '' : ` size ${v.size}`}`;
}

function checkRange(start: number, end: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new RangeError(`bad byte range [${start}, ${end})`);
  }
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}
