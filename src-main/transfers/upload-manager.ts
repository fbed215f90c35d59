/**
 * The upload manager: uploads local edits (journaled by the vfs) after a short write-back delay,
 * in two priority queues, a few at a time, and keeps retrying until the server has them.
 *
 * - An item has at most one task. schedule() (a released or fsynced file) and touch() (a write)
 *   restart its write-back delay; either one on an item whose upload is running stops that upload
 *   and queues it again. The stopped upload's session is cancelled, not reused: the new write may
 *   have changed bytes the session already holds, and the vfs does not say which.
 * - While other files are still being written (a folder copied in, an archive unpacked), a task
 *   whose delay is over waits one more delay whenever other files changed during the last one, at
 *   most BURST_HOLD_DELAYS times: the uploads of the first files would otherwise take the event
 *   loop and the CPU from the writes of the next (an upload costs several times a small file's
 *   create). Counted in changes and timer rounds, not clock readings, so it follows the timers.
 * - Ready tasks start high priority first, then low, oldest first within a priority.
 * - Failures: the network being away (NetworkError, timeouts) is a state, not a failure: the task
 *   waits with a backoff and never gives up; retryNow() wakes it when connectivity returns. Server
 *   trouble (5xx, throttling that outlasted the client's own waits, 401, locks) retries with capped
 *   exponential backoff up to maxAttempts; requests that can never succeed (400, 403, 413, quota,
 *   a lost cache file) fail at once. A failed upload is failed in the journal, shows as the item's
 *   content error, and is tried again when the file is scheduled again.
 * - finish() stops starting uploads, lets the running ones continue until the deadline, then stops
 *   them; their session URL and confirmed offset are already persisted, and start() on the next
 *   run resumes them from the server's next expected offset.
 *
 * Task bookkeeping is changed only in synchronous stretches on the event loop, so it needs no lock.
 */
import { isAbortError } from '../base/abort.ts';
import { backoffDelay } from '../base/backoff.ts';
import { settledWithin } from '../base/deadline.ts';
import { SignedOutError } from '../auth/auth-errors.ts';
import { errorMessage, isOneMountError, toError } from '../base/errors.ts';
import type { Logger } from '../base/logger.ts';
import { TypedEmitter } from '../base/typed-emitter.ts';
import type { DriveItem } from '../graph/drive-item.ts';
import { GraphApiError, GraphProtocolError, NetworkError, TimeoutError, isQuota, isThrottled } from '../graph/errors.ts';
import { DEFAULT_FRAGMENT, FRAGMENT_UNIT, MAX_FRAGMENT } from '../graph/upload-limits.ts';
import type { ShutdownStep } from '../lifecycle/participation.ts';
import type { TaskRegistry } from '../lifecycle/task-registry.ts';
import { runAsTask } from '../lifecycle/task-registry.ts';
import type { Store } from '../store/store.ts';
import type { ItemRecord } from '../store/types.ts';
import type { TransferItem } from '../../src-shared/model/transfer.ts';
import { NameFreedByReplayError, ParentNotUploadedError, QuotaExceededError, UploadStoppedError } from './upload-errors.ts';
import type { ContentInvalidator, UploadEvents, UploadPriority, UploadSource } from './upload-types.ts';
import type { ContentOwner } from './content-owner.ts';
import { uploadEntries, UploadWorker, type UploadJob, type UploadOutcome } from './upload-worker.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';

export interface UploadManagerOptions {
  graph: UploadSource;
  store: Store;
  /** The cache file holding an item's bytes (the download manager's cachePath). */
  cachePath: (itemId: string) => string;
  /** Maps a server answer to a store record (the mapping delta uses). */
  toRecord: (item: DriveItem) => ItemRecord;
  /** Drops the cached bytes of an item whose server version won (the download manager). Without it the cache file is deleted. */
  contentInvalidator?: ContentInvalidator;
  /** The owner of the items' content (the download manager's); one over `store` and `cachePath` when absent. */
  content?: ContentOwner;
  /** Every upload attempt runs here as a named task (`upload:<itemId>`), listed and stopped on shutdown. */
  tasks: TaskRegistry;
  logger: Logger;
  /** Uploads at once. Default 2. */
  concurrency?: number;
  /** Quiet time after the last schedule()/touch() before an upload starts. Default 1000 ms. */
  writeBackDelayMs?: number;
  /** Upload session fragment size: a multiple of 320 KiB below 60 MiB. Default 10 MiB. */
  fragmentBytes?: number;
  /** This machine's name, for conflict copies (`name (conflict 2026-11-27 143005 host).ext`). */
  hostName: string;
  /** First retry delay after a failed attempt, doubled each time. Default 5 s. */
  retryBaseMs?: number;
  /** Longest retry delay. Default 5 min. */
  retryMaxMs?: number;
  /** Attempts that failed for a retryable reason before the upload fails for good (network loss never counts). Default 8. */
  maxAttempts?: number;
  /** How often a new file whose folder has no server id yet looks again. Default 2 s. */
  parentWaitMs?: number;
  /**
   * Whether the service answers (the connectivity state: false during an outage). An upload whose
   * session URL keeps refusing connections while the service answers starts a new session.
   */
  serviceReachable?: () => boolean;
  now?: () => number;
  /** The largest body one request may carry now, a multiple of 320 KiB (bandwidth.ts: requestBytesWithin); absent: no bound. */
  maxRequestBytes?: () => number;
}

/** Attempts in a row refused at their session URL (the service answering) before a new session starts. */
const SESSION_REFUSALS_BEFORE_RESTART = 3;

/** How many write-back delays more, at most, writes to other files hold a due upload back. */
const BURST_HOLD_DELAYS = 5;

/** Progress samples closer together than this say little about the speed. */
const RATE_SAMPLE_MS = DEFAULT_TIMEOUTS.uploadRateSampleMs;

/** waiting: write-back delay or parent wait; retrying / offline: backoff after a failure. */
type TaskPhase = 'waiting' | 'ready' | 'active' | 'retrying' | 'offline' | 'failed';

interface RunningUpload {
  readonly controller: AbortController;
  done: Promise<void>;
  /** The session the attempt uses, kept here because the journal entry may be gone when it must be cancelled. */
  sessionUrl: string | undefined;
  /** schedule()/touch() arrived while it ran: upload again afterwards. */
  again: boolean;
}

class UploadTask {
  phase: TaskPhase = 'waiting';
  timer: NodeJS.Timeout | undefined;
  retryAt: number | undefined;
  failures = 0;
  offlineFailures = 0;
  /** Attempts in a row whose session URL refused the connection while the service answered. */
  sessionRefusals = 0;
  lastError: Error | undefined;
  path: string | undefined;
  bytes = 0;
  total = 0;
  startedAt: number | undefined;
  /** #localChanges when the task was last armed to wait (see #heldByWrites). */
  armedAtChange = 0;
  /** Delays it has been held back by writes to other files since its own last change. */
  holds = 0;
  run: RunningUpload | undefined;
  /** Bytes per second, smoothed over samples at least RATE_SAMPLE_MS apart. */
  bytesPerSecond: number | undefined;
  rateSample: { at: number; bytes: number } | undefined;

  constructor(
    readonly itemId: string,
    public priority: UploadPriority,
    readonly transferId: string,
  ) {}
}

export interface FinishResult {
  /** Uploads that finished (or failed) before the deadline. */
  completed: number;
  /** Uploads stopped at the deadline; their sessions are persisted and resume on the next start. */
  interrupted: number;
}

type Settled = { ok: true; outcome: UploadOutcome } | { ok: false; error: Error };

export class UploadManager {
  /** progress, done, failed, conflict, warning, journaled: see UploadEvents. */
  readonly events: TypedEmitter<UploadEvents>;
  readonly #graph: UploadSource;
  readonly #store: Store;
  readonly #tasks: TaskRegistry;
  readonly #logger: Logger;
  readonly #worker: UploadWorker;
  #concurrency: number;
  readonly #writeBackDelayMs: number;
  readonly #retryBaseMs: number;
  readonly #retryMaxMs: number;
  readonly #maxAttempts: number;
  readonly #parentWaitMs: number;
  readonly #serviceReachable: (() => boolean) | undefined;
  readonly #now: () => number;
  readonly #items = new Map<string, UploadTask>();
  readonly #high: UploadTask[] = [];
  readonly #low: UploadTask[] = [];
  readonly #idleWaiters: Array<() => void> = [];
  #running = 0;
  #transferSeq = 0;
  /** How many times schedule() or touch() told of a local change, to any file. */
  #localChanges = 0;
  #stopping = false;
  /** The shutdown's uploads phase: what waited for its write-back delay starts although stopping. */
  #draining = false;
  /** Paused by the user: nothing new starts; running uploads stopped with their sessions kept. */
  #paused = false;
  #closing: Promise<void> | undefined;

  constructor(options: UploadManagerOptions) {
    this.#graph = options.graph;
    this.#store = options.store;
    this.#tasks = options.tasks;
    this.#logger = options.logger;
    this.#concurrency = positive(options.concurrency ?? 2, 'concurrency');
    this.#writeBackDelayMs = nonNegative(options.writeBackDelayMs ?? DEFAULT_TIMEOUTS.uploadWriteBackDelayMs, 'writeBackDelayMs');
    this.#retryBaseMs = positive(options.retryBaseMs ?? DEFAULT_TIMEOUTS.uploadRetryBaseMs, 'retryBaseMs');
    this.#retryMaxMs = Math.max(this.#retryBaseMs, positive(options.retryMaxMs ?? DEFAULT_TIMEOUTS.uploadRetryMaxMs, 'retryMaxMs'));
    this.#maxAttempts = positive(options.maxAttempts ?? DEFAULT_TIMEOUTS.uploadAttempts, 'maxAttempts');
    this.#serviceReachable = options.serviceReachable;
    this.#parentWaitMs = positive(options.parentWaitMs ?? DEFAULT_TIMEOUTS.parentWaitMs, 'parentWaitMs');
    this.#now = options.now ?? Date.now;
    const fragmentBytes = options.fragmentBytes ?? DEFAULT_FRAGMENT;
    if (!Number.isSafeInteger(fragmentBytes) || fragmentBytes <= 0 || fragmentBytes % FRAGMENT_UNIT !== 0 || fragmentBytes > MAX_FRAGMENT) {
      throw new RangeError(`fragmentBytes must be a positive multiple of ${FRAGMENT_UNIT} below 60 MiB, got ${fragmentBytes}`);
    }
    if (options.hostName.trim().length === 0) throw new RangeError('hostName must not be empty');
    this.events = new TypedEmitter<UploadEvents>((error, event) => this.#logger.error({ err: error, event }, `an upload "${event}" listener failed`));
    this.#worker = new UploadWorker({
      graph: options.graph,
      store: options.store,
      cachePath: options.cachePath,
      toRecord: options.toRecord,
      contentInvalidator: options.contentInvalidator,
      events: this.events,
      logger: options.logger,
      fragmentBytes,
      hostName: options.hostName,
      now: this.#now,
      ...(options.maxRequestBytes ? { maxRequestBytes: options.maxRequestBytes } : {}),
      ...(options.content ? { content: options.content } : {}),
    });
  }

  /**
   * Picks up what a previous run left: every pending write or create is queued at low priority,
   * due now (the engine has put entries a previous run left mid-upload back to pending first).
   * Returns how many items were queued.
   */
  start(): number {
    this.#checkOpen();
    const ids = new Set<string>();
    for (const entry of this.#store.journal.list({ states: ['pending'] })) {
      if (entry.kind === 'write' || entry.kind === 'create') ids.add(entry.itemId);
    }
    for (const id of ids) {
      const task = this.#taskFor(id, 'low');
      if (!task.run && task.phase !== 'ready') this.#arm(task, 0, 'waiting');
    }
    this.#logger.info({ queued: ids.size }, 'upload manager started');
    return ids.size;
  }

  /**
   * Uploads the item after the write-back delay (a released — last close — or fsynced file), or at once
   * (`immediately`: a user's explicit choice, no more writes to wait for). A running
   * upload of it stops and starts again later. A failed one is tried again. After finish() the
   * journal keeps the entry for the next start.
   */
  schedule(itemId: string, options: { priority: UploadPriority; immediately?: boolean }): void {
    if (this.#stopping) {
      this.#logger.debug({ itemId }, 'upload not scheduled: shutting down; the journal keeps it for the next start');
      return;
    }
    const task = this.#taskFor(itemId, options.priority);
    if (options.priority === 'high') task.priority = 'high';
    task.holds = 0;
    if (!options.immediately) this.#localChanges++;
    if (task.phase === 'failed') {
      task.failures = 0;
      for (const entry of uploadEntries(this.#store, task.itemId)) {
        if (entry.state === 'failed') this.#store.journal.markPending(entry.seq);
      }
    }
    if (task.run) this.#supersede(task);
    else this.#arm(task, options.immediately ? 0 : this.#writeBackDelayMs, 'waiting');
  }

  /** The file changed (again): a running upload stops; a waiting one waits the full delay again. */
  touch(itemId: string): void {
    this.#localChanges++;
    const task = this.#items.get(itemId);
    if (!task) return;
    task.holds = 0;
    if (task.run) this.#supersede(task);
    else if (task.phase === 'waiting' || task.phase === 'ready') {
      if (!this.#stopping) this.#arm(task, this.#writeBackDelayMs, 'waiting');
    }
    // A task backing off (offline, retrying) keeps its later due time: writes must not hurry a retry.
  }

  /** The item is gone locally: its upload stops and is forgotten (its session cancelled). */
  async cancel(itemId: string): Promise<void> {
    const task = this.#items.get(itemId);
    if (!task) return;
    this.#forget(task);
    if (task.run) {
      task.run.controller.abort(new UploadStoppedError(task.itemId, 'cancelled'));
      await task.run.done;
    }
    this.#checkIdle();
  }

  /** UploadWorker#leaving: a committed new file's server copy on its way from this place. */
  leaving(parentKey: string, name: string): Promise<void> | undefined {
    return this.#worker.leaving(parentKey, name);
  }

  /** True while an upload of the item waits, runs or retries. */
  isActive(itemId: string): boolean {
    const task = this.#items.get(itemId);
    return task !== undefined && task.phase !== 'failed';
  }

  /**
   * Pause (the user's "pause syncing"): nothing new starts, and running uploads stop at once with
   * their sessions and offsets kept, so resume() continues them where they were.
   */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    for (const task of this.#items.values()) {
      if (task.run && !task.run.controller.signal.aborted) task.run.controller.abort(new UploadStoppedError(task.itemId, 'paused'));
    }
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.#pump();
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Uploads at once from now on (the settings view changes it while running). */
  setConcurrency(n: number): void {
    this.#concurrency = positive(n, 'concurrency');
    this.#pump();
  }

  /** Connectivity is back: uploads waiting out a backoff try now. */
  retryNow(): void {
    if (this.#stopping) return;
    for (const task of this.#items.values()) {
      if (task.phase === 'offline' || task.phase === 'retrying') this.#arm(task, 0, task.phase);
    }
  }

  /** Uploads waiting, running, retrying or failed, as the UI and `onemount status` show them. */
  snapshot(only?: ReadonlySet<string>): TransferItem[] {
    const now = this.#now();
    const rows: TransferItem[] = [];
    for (const task of this.#items.values()) {
      if (only && !only.has(task.itemId)) continue;
      const path = task.path ?? this.#store.items.pathOf(task.itemId) ?? '/';
      const total = task.total || (this.#store.items.get(task.itemId)?.size ?? 0);
      const row: TransferItem = {
        id: task.transferId,
        itemId: task.itemId,
        path,
        direction: 'upload',
        state: 'queued',
        bytes: Math.min(task.bytes, total),
        total,
        updatedAt: now,
        ...(task.startedAt === undefined ? {} : { startedAt: task.startedAt }),
        ...(task.phase === 'active' && task.bytesPerSecond !== undefined ? { bytesPerSecond: task.bytesPerSecond } : {}),
        ...(task.lastError ? { error: errorInfo(task.lastError) } : {}),
      };
      // A file still in its write-back delay is queued: 'paused' means the pause is what holds it now.
      if (this.#paused && task.phase !== 'failed' && task.phase !== 'waiting') row.state = 'paused';
      else if (task.phase === 'active') row.state = 'active';
      else if (task.phase === 'failed') row.state = 'failed';
      else if (task.phase === 'offline') row.state = 'waiting-for-network';
      else if (task.phase === 'retrying') row.state = 'retrying';
      if (task.retryAt !== undefined && (task.phase === 'retrying' || task.phase === 'offline')) row.retryAt = task.retryAt;
      if (row.state === 'retrying' && row.retryAt === undefined) row.retryAt = now;
      if (row.state === 'failed' && !row.error) row.error = { code: 'UPLOAD_FAILED', message: 'the upload failed' };
      rows.push(row);
    }
    return rows;
  }

  /** Resolves when nothing is waiting, running or retrying (failed uploads do not count). */
  whenIdle(): Promise<void> {
    return new Promise((resolve) => {
      this.#idleWaiters.push(resolve);
      this.#checkIdle();
    });
  }

  /**
   * Shutdown: starts nothing new, lets running uploads continue until `deadlineMs`, then stops the
   * rest (their sessions and offsets are persisted; the journal keeps them pending).
   */
  async finish(deadlineMs: number, until?: AbortSignal): Promise<FinishResult> {
    this.#startNothingNew();
    const runs = [...this.#items.values()].map((task) => task.run).filter((run): run is RunningUpload => run !== undefined);
    const allDone = Promise.all(runs.map((run) => run.done));
    const inTime = runs.length === 0 || (await settledWithin(allDone, deadlineMs, until));
    // A run still attached to its task has not settled (#settle detaches it first thing).
    const left = inTime ? [] : [...this.#items.values()].filter((task) => task.run !== undefined && runs.includes(task.run));
    for (const task of left) task.run!.controller.abort(new UploadStoppedError(task.itemId, 'shutdown'));
    await allDone;
    if (left.length > 0) this.#logger.info({ interrupted: left.length }, 'uploads stopped for shutdown; they resume on the next start');
    this.#checkIdle();
    return { completed: runs.length - left.length, interrupted: left.length };
  }

  /**
   * Shutdown: from stop-new-work no new edit is scheduled (a write's schedule() leaves its edit in
   * the journal for the next start). The uploads phase finishes what was already due: files still
   * in their write-back delay start at once (unless the user paused uploads), and every upload runs
   * until done or the phase's signal fires, then stops with its session offset saved.
   */
  shutdownSteps(): readonly ShutdownStep[] {
    return [
      { phase: 'stop-new-work', name: 'uploads: start nothing new', run: async () => this.#startNothingNew() },
      {
        phase: 'uploads',
        name: 'upload-manager',
        run: async (ctx) => {
          ctx.report(this.snapshot().length);
          await this.#drain(ctx.signal);
          await this.finish(Number.POSITIVE_INFINITY, ctx.signal);
          await this.close();
        },
      },
    ];
  }

  /** Starts every upload waiting for its write-back delay and waits for all to settle, or for `until`. */
  async #drain(until: AbortSignal): Promise<void> {
    if (this.#paused) return;
    for (const task of this.#items.values()) {
      if (task.run || (task.phase !== 'waiting' && task.phase !== 'ready')) continue;
      clearTimeout(task.timer);
      task.timer = undefined;
      this.#unqueue(task);
      task.phase = 'ready';
      (task.priority === 'high' ? this.#high : this.#low).push(task);
    }
    this.#draining = true;
    try {
      for (;;) {
        this.#pump();
        const runs = [...this.#items.values()].flatMap((task) => (task.run ? [task.run.done] : []));
        if (runs.length === 0 || until.aborted) return;
        await settledWithin(Promise.race(runs), Number.POSITIVE_INFINITY, until);
      }
    } finally {
      this.#draining = false;
      this.#high.length = 0;
      this.#low.length = 0;
    }
  }

  #startNothingNew(): void {
    this.#stopping = true;
    for (const task of this.#items.values()) {
      clearTimeout(task.timer);
      task.timer = undefined;
    }
    this.#high.length = 0;
    this.#low.length = 0;
  }

  /** finish(0), then refuses start(). Safe to call twice. */
  close(): Promise<void> {
    this.#closing ??= this.finish(0).then(() => {
      for (const waiter of this.#idleWaiters.splice(0)) waiter();
    });
    return this.#closing;
  }

  // ── scheduling ────────────────────────────────────────────────────────────

  #taskFor(itemId: string, priority: UploadPriority): UploadTask {
    let task = this.#items.get(itemId);
    if (!task) {
      task = new UploadTask(itemId, priority, `upload:${itemId}:${++this.#transferSeq}`);
      this.#items.set(itemId, task);
    }
    return task;
  }

  /** Makes the task due in `delayMs`, in `phase` until then. */
  #arm(task: UploadTask, delayMs: number, phase: 'waiting' | 'retrying' | 'offline'): void {
    clearTimeout(task.timer);
    this.#unqueue(task);
    task.phase = phase;
    task.retryAt = phase === 'waiting' ? undefined : this.#now() + delayMs;
    task.armedAtChange = this.#localChanges;
    if (this.#stopping) return;
    task.timer = setTimeout(() => {
      task.timer = undefined;
      if (this.#items.get(task.itemId) !== task || this.#stopping || task.run) return;
      // A delay of 0 is a start-up requeue or a user's explicit choice: nothing to wait for.
      if (phase === 'waiting' && delayMs > 0 && this.#heldByWrites(task)) return;
      task.holds = 0;
      task.phase = 'ready';
      (task.priority === 'high' ? this.#high : this.#low).push(task);
      this.#pump();
    }, delayMs);
  }

  /** Other files changed while the task waited: it waits one more delay (re-armed), within its bound. */
  #heldByWrites(task: UploadTask): boolean {
    if (this.#localChanges === task.armedAtChange || task.holds >= BURST_HOLD_DELAYS) return false;
    task.holds++;
    this.#arm(task, this.#writeBackDelayMs, 'waiting');
    return true;
  }

  #unqueue(task: UploadTask): void {
    for (const queue of [this.#high, this.#low]) {
      const at = queue.indexOf(task);
      if (at >= 0) queue.splice(at, 1);
    }
  }

  #forget(task: UploadTask): void {
    clearTimeout(task.timer);
    task.timer = undefined;
    this.#unqueue(task);
    if (this.#items.get(task.itemId) === task) this.#items.delete(task.itemId);
  }

  #pump(): void {
    while ((!this.#stopping || this.#draining) && !this.#paused && this.#running < this.#concurrency) {
      const task = this.#high.shift() ?? this.#low.shift();
      if (!task) break;
      this.#launch(task);
    }
  }

  #supersede(task: UploadTask): void {
    const run = task.run!;
    run.again = true;
    if (!run.controller.signal.aborted) {
      this.#logger.debug({ itemId: task.itemId }, 'the file changed during its upload; stopping it to upload again');
      run.controller.abort(new UploadStoppedError(task.itemId, 'superseded'));
    }
  }

  // ── running ───────────────────────────────────────────────────────────────

  #launch(task: UploadTask): void {
    const run: RunningUpload = { controller: new AbortController(), done: Promise.resolve(), sessionUrl: undefined, again: false };
    task.run = run;
    task.phase = 'active';
    task.retryAt = undefined;
    task.startedAt ??= this.#now();
    this.#running++;
    const itemId = task.itemId;
    const job = (signal: AbortSignal): UploadJob => ({
      itemId,
      signal,
      progress: (path, bytes, total) => {
        task.path = path;
        this.#sampleRate(task, bytes);
        task.bytes = bytes;
        task.total = total;
        this.events.emit('progress', { itemId: task.itemId, path, bytes, total, direction: 'upload' });
      },
      session: (url) => {
        run.sessionUrl = url;
      },
    });
    run.done = this.#attempt(run, itemId, job).then((settled) => this.#settle(task, run, settled));
  }

  #sampleRate(task: UploadTask, bytes: number): void {
    const now = this.#now();
    const sample = task.rateSample;
    if (!sample || bytes < sample.bytes) {
      task.rateSample = { at: now, bytes };
      return;
    }
    const elapsed = now - sample.at;
    if (elapsed < RATE_SAMPLE_MS) return;
    const rate = ((bytes - sample.bytes) * 1000) / elapsed;
    task.bytesPerSecond = task.bytesPerSecond === undefined ? rate : task.bytesPerSecond * 0.5 + rate * 0.5;
    task.rateSample = { at: now, bytes };
  }

  async #attempt(run: RunningUpload, itemId: string, job: (signal: AbortSignal) => UploadJob): Promise<Settled> {
    try {
      let outcome: UploadOutcome = { kind: 'nothing', why: 'not run' };
      await this.#asTask(`upload:${itemId}`, run.controller.signal, async (signal) => {
        outcome = await this.#worker.run(job(signal));
      });
      return { ok: true, outcome };
    } catch (error) {
      return { ok: false, error: toError(error) };
    }
  }

  async #settle(task: UploadTask, run: RunningUpload, settled: Settled): Promise<void> {
    this.#running--;
    task.run = undefined;
    const current = this.#items.get(task.itemId) === task;
    try {
      if (settled.ok) {
        task.failures = 0;
        task.offlineFailures = 0;
        task.lastError = undefined;
        if (current && run.again && !this.#stopping) this.#arm(task, this.#writeBackDelayMs, 'waiting');
        else this.#forget(task);
        return;
      }
      await this.#handleFailure(task, run, settled.error, current);
    } catch (error) {
      // Bookkeeping itself failed (the store closed under us?): say so, and keep the entry for the next start.
      this.#logger.error({ err: error, itemId: task.itemId }, 'could not record the outcome of an upload');
      this.#forget(task);
    } finally {
      this.#pump();
      this.#checkIdle();
    }
  }

  async #handleFailure(task: UploadTask, run: RunningUpload, error: Error, current: boolean): Promise<void> {
    const stop = stopReasonOf(error, run.controller.signal);
    if (stop === 'cancelled' || !current) {
      await this.#discardSession(task.itemId, run.sessionUrl);
      this.#forget(task);
      return;
    }
    this.#requeueEntries(task.itemId, stop === undefined ? errorMessage(error) : null);
    if (stop === 'shutdown') {
      // The session and its offset stay in the journal; the next start resumes them.
      this.#forget(task);
      return;
    }
    if (stop === 'paused') {
      // The session and its offset stay in the journal; resume() picks the upload up from there.
      this.#arm(task, 0, 'waiting');
      return;
    }
    if (stop === 'superseded') {
      await this.#discardSession(task.itemId, run.sessionUrl);
      if (this.#stopping) this.#forget(task);
      else this.#arm(task, this.#writeBackDelayMs, 'waiting');
      return;
    }
    if (error instanceof ParentNotUploadedError || error instanceof NameFreedByReplayError) {
      const why = error instanceof ParentNotUploadedError ? 'waiting for the folder to exist on the server' : 'waiting for an offline change to free the name on the server';
      this.#logger.debug({ itemId: task.itemId, err: error }, why);
      this.#arm(task, this.#parentWaitMs, 'waiting');
      return;
    }
    const kind = failureKind(error);
    if (kind === 'quota') {
      // The drive is full: not a failure of this file. It waits (retried at the longest delay),
      // and says why.
      task.lastError = new QuotaExceededError(error);
      this.#logger.warn({ itemId: task.itemId, err: error }, 'the drive is full; the upload waits for space');
      this.#arm(task, this.#retryMaxMs, 'retrying');
      this.events.emit('failed', { itemId: task.itemId, path: this.#pathOf(task), error: task.lastError, willRetry: true, retryAt: task.retryAt! });
      return;
    }
    task.lastError = error;
    if (kind === 'offline') {
      task.offlineFailures++;
      this.#restartRefusedSession(task, run, error);
      const delay = this.#backoff(task.offlineFailures);
      this.#logger.info({ itemId: task.itemId, err: error, retryInMs: delay }, 'upload waits for the network');
      this.#arm(task, delay, 'offline');
      return;
    }
    task.failures++;
    if (kind === 'permanent' || task.failures >= this.#maxAttempts) {
      this.#fail(task, error);
      return;
    }
    const retryAfter = error instanceof GraphApiError ? (error.retryAfterMs ?? 0) : 0;
    const delay = Math.max(this.#backoff(task.failures), retryAfter);
    this.#logger.warn({ itemId: task.itemId, err: error, attempt: task.failures, retryInMs: delay }, 'upload failed; retrying later');
    this.#arm(task, delay, 'retrying');
    this.events.emit('failed', { itemId: task.itemId, path: this.#pathOf(task), error, willRetry: true, retryAt: task.retryAt! });
  }

  #fail(task: UploadTask, error: Error): void {
    const store = this.#store;
    const code = isOneMountError(error) ? error.code : 'UPLOAD_FAILED';
    const message = errorMessage(error);
    store.transaction(() => {
      for (const entry of uploadEntries(store, task.itemId)) store.journal.markFailed(entry.seq, message);
      if (store.items.get(task.itemId)) store.content.setError(task.itemId, code, message);
    });
    clearTimeout(task.timer);
    task.timer = undefined;
    this.#unqueue(task);
    task.phase = 'failed';
    task.retryAt = undefined;
    this.#logger.error({ itemId: task.itemId, err: error, attempts: task.failures }, 'upload failed for good');
    this.events.emit('failed', { itemId: task.itemId, path: this.#pathOf(task), error, willRetry: false });
  }

  /** Back to pending: the attempt is over but the edit still waits for upload. */
  #requeueEntries(itemId: string, error: string | null): void {
    for (const entry of uploadEntries(this.#store, itemId)) {
      if (entry.state === 'uploading') this.#store.journal.markPending(entry.seq, error);
    }
  }

  /** Cancels a session whose bytes must not be committed (the file changed, or the item is gone). */
  async #discardSession(itemId: string, url: string | undefined): Promise<void> {
    if (!url) return;
    for (const entry of this.#store.journal.list({ itemId })) {
      if (entry.sessionUrl === url) this.#store.journal.clearSession(entry.seq);
    }
    try {
      await this.#graph.cancelUploadSession(url);
    } catch (error) {
      this.#logger.info({ err: error, itemId }, 'could not cancel an upload session; it expires by itself');
    }
  }

  /**
   * A session URL that keeps refusing connections while the service itself answers is dead (its
   * address changed, its host is gone): the next attempt starts a new session instead of waiting
   * for it "for the network" for ever. During an outage nothing is dropped (the offset is worth
   * keeping until the network is back).
   */
  #restartRefusedSession(task: UploadTask, run: RunningUpload, error: Error): void {
    const refused = error instanceof NetworkError && run.sessionUrl !== undefined && (this.#serviceReachable?.() ?? false);
    task.sessionRefusals = refused ? task.sessionRefusals + 1 : 0;
    if (task.sessionRefusals < SESSION_REFUSALS_BEFORE_RESTART) return;
    task.sessionRefusals = 0;
    let dropped = 0;
    for (const entry of this.#store.journal.list({ itemId: task.itemId })) {
      if (entry.sessionUrl === run.sessionUrl) {
        this.#store.journal.clearSession(entry.seq);
        dropped++;
      }
    }
    if (dropped > 0) this.#logger.warn({ itemId: task.itemId, err: error }, 'the upload session keeps refusing connections while OneDrive answers: starting a new session');
  }

  #backoff(failures: number): number {
    return backoffDelay(failures - 1, { baseMs: this.#retryBaseMs, maxMs: this.#retryMaxMs });
  }

  #pathOf(task: UploadTask): string {
    return task.path ?? this.#store.items.pathOf(task.itemId) ?? '/';
  }

  #checkIdle(): void {
    if (this.#idleWaiters.length === 0) return;
    for (const task of this.#items.values()) {
      if (task.phase !== 'failed' && !(this.#stopping && !task.run)) return;
    }
    for (const waiter of this.#idleWaiters.splice(0)) waiter();
  }

  /** Runs `work` as a named task (listed, stopped on shutdown). */
  #asTask(name: string, signal: AbortSignal, work: (signal: AbortSignal) => Promise<void>): Promise<void> {
    return runAsTask(this.#tasks, name, signal, work);
  }

  #checkOpen(): void {
    if (this.#closing || this.#stopping) throw new UploadStoppedError('*', 'shutdown');
  }
}

/** Why the manager itself stopped the attempt, if it did (a registry shutdown counts as shutdown). */
function stopReasonOf(error: Error, signal: AbortSignal): UploadStoppedError['reason'] | undefined {
  const reason: unknown = signal.aborted ? signal.reason : undefined;
  if (reason instanceof UploadStoppedError) return reason.reason;
  if (error instanceof UploadStoppedError) return error.reason;
  if (isAbortError(error)) return 'shutdown';
  return undefined;
}

/**
 * offline: wait for the network (or for a signed-out account to sign in again), never give up.
 * transient: retry with backoff. permanent: fail now.
 */
function failureKind(error: Error): 'offline' | 'quota' | 'transient' | 'permanent' {
  if (error instanceof NetworkError || error instanceof TimeoutError || error instanceof SignedOutError) return 'offline';
  if (isQuota(error)) return 'quota';
  if (error instanceof GraphApiError) {
    if (isThrottled(error) || error.status >= 500 || [401, 404, 408, 409, 412, 416, 423].includes(error.status)) return 'transient';
    return 'permanent';
  }
  if (error instanceof GraphProtocolError) return 'transient';
  if (isOneMountError(error, 'UPLOAD_SESSION_STUCK')) return 'transient';
  return 'permanent';
}

function errorInfo(error: Error): { code: string; message: string } {
  return { code: isOneMountError(error) ? error.code : 'UPLOAD_FAILED', message: errorMessage(error) || 'the upload failed' };
}

function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) throw new RangeError(`${name} must be a positive integer, got ${value}`);
  return value;
}

function nonNegative(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  return value;
}
