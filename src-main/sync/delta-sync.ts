/**
 * Keeps the store in step with the server through delta (docs/graph-api.md §5, docs/architecture.md "Delta is the
 * source of truth for remote changes"):
 *
 * - No deltaLink stored (first start, or a database rebuilt after corruption): a full enumeration.
 * - Otherwise: resume from the stored link, so changes made while the engine was stopped arrive.
 *   Never `token=latest` on start: that would skip them.
 * - `410 resyncRequired` (or an expired token): follow `Location` (or start without a token), enumerate
 *   everything and diff: what the enumeration does not list is removed, local edits excepted.
 * - Every batch is collected whole (all pages) before anything is applied; the deltaLink is saved in
 *   the transaction that applies the batch's last chunk, never earlier.
 *
 * A poll loop runs this every `pollIntervalMs` as the task "delta-poll"; `syncNow` runs it at once,
 * and concurrent requests share one run.
 *
 * A first enumeration may run after the drive is mounted, while folders are listed on demand
 * (children-listing.ts): the `listing` observer hears its pages, and the batch is merged with what
 * the listings stored by the rule written there. The round after it follows at once, so changes
 * made while it ran (which its deltaLink reports again) land without waiting a poll interval.
 */
import { linkedController, isAbortError, type LinkedController } from '../base/abort.ts';
import { OneMountError, errorMessage } from '../base/errors.ts';
import { Alarm } from '../base/alarm.ts';
import { backoffDelay, checkBackoff, type Backoff } from '../base/backoff.ts';
import type { Logger } from '../base/logger.ts';
import { TypedEmitter } from '../base/typed-emitter.ts';
import { isResyncRequired, type DeltaBatch, type DriveItem, type GraphApiError, type GraphClient } from '../graph/index.ts';
import { Admission, ShuttingDownError, type ShutdownStep } from '../lifecycle/participation.ts';
import type { TaskHandle, TaskRegistry } from '../lifecycle/task-registry.ts';
import type { Store } from '../store/index.ts';
import type { EnumerationObserver } from './children-listing.ts';
import { applyAsTheyAreNow, BatchApplier, readCurrent, type ApplyCounts, type ChangeSet, type ContentInvalidator } from './delta-apply.ts';
import { planBatch, type DeltaPlan } from './delta-plan.ts';
import { DELTA_SELECT } from './drive-item-mapping.ts';
import { LoopYielder } from './loop-yielder.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';

export type { ChangeSet, ContentInvalidator } from './delta-apply.ts';

/** What DeltaSync needs from the Graph client. */
/** `getItem` reads files whose delta record may predate our own upload (the engine's graph has it). */
export type DeltaSource = Pick<GraphClient, 'delta' | 'getItemByPath'> & Partial<Pick<GraphClient, 'getItem'>>;

export interface DeltaSyncOptions {
  graph: DeltaSource;
  store: Store;
  /** Told about every file whose server content changed or which goes away (the download manager). */
  invalidator: ContentInvalidator;
  logger: Logger;
  /** Needed by start(); syncOnce/syncNow work without it. */
  tasks: TaskRegistry;
  /** Between two polls. Default 30 s. */
  pollIntervalMs?: number;
  /** Delta page size asked for (`$top`) on enumerations. Default 1000. */
  pageSize?: number;
  /** Records per store transaction while applying. Default 2000. */
  applyChunk?: number;
  /** Longest stretch of applying work between two yields to the event loop. Default 20 ms. */
  sliceMs?: number;
  /** After a failed run the loop waits baseMs, doubling per failure up to maxMs. Default 5 s … 5 min. */
  errorBackoff?: { baseMs: number; maxMs: number };
  /** This drive's id, to tell items moved to another drive; default the stored one, else the root's. */
  driveId?: string;
  /** Told about a first enumeration that runs while folders are listed on demand. */
  listing?: EnumerationObserver;
  now?: () => number;
}

export interface AppliedEvent {
  added: number;
  updated: number;
  removed: number;
  invalidated: number;
  conflicts: number;
  kept: number;
  /** Landed uploads of files deleted here, queued for deletion on the server. */
  deletedHere: number;
  /** A full enumeration (first start, rebuilt store, or a resync). */
  full: boolean;
  ms: number;
}

export interface SyncResult extends AppliedEvent {
  /** Delta pages fetched and items they carried. */
  pages: number;
  items: number;
}

export interface DeltaSyncEvents {
  /** A batch was applied and its deltaLink saved. */
  applied: AppliedEvent;
  /** The stored token was refused; a full enumeration with a diff follows. */
  resync: { reason: string };
  /** A run failed (it is retried with backoff), or an invalidation failed within a run that went on. */
  error: { error: unknown; itemId?: string };
  /** Items and folders one committed chunk changed (for kernel cache invalidation). */
  changed: ChangeSet;
  /** The poll loop is paused: it waits for resume() or stop() and fetches nothing until then. */
  parked: Record<string, never>;
}

/** syncNow while paused. */
export class SyncPausedError extends OneMountError {
  constructor() {
    super('SYNC_PAUSED', 'remote sync is paused');
  }
}

/** syncNow or start after stop. */
export class SyncStoppedError extends OneMountError {
  constructor() {
    super('SYNC_STOPPED', 'remote sync has been stopped');
  }
}

const DEFAULTS = {
  pollIntervalMs: DEFAULT_TIMEOUTS.deltaPollIntervalMs,
  pageSize: 1000,
  applyChunk: 2000,
  sliceMs: DEFAULT_TIMEOUTS.deltaApplySliceMs,
  errorBackoff: { baseMs: DEFAULT_TIMEOUTS.deltaRetryBaseMs, maxMs: DEFAULT_TIMEOUTS.deltaRetryMaxMs },
} as const;

export class DeltaSync {
  readonly events: TypedEmitter<DeltaSyncEvents>;
  readonly #graph: DeltaSource;
  readonly #store: Store;
  readonly #invalidator: ContentInvalidator;
  readonly #logger: Logger;
  readonly #tasks: TaskRegistry;
  readonly #pollIntervalMs: number;
  readonly #pageSize: number;
  readonly #applyChunk: number;
  readonly #sliceMs: number;
  readonly #backoff: Backoff;
  readonly #driveId: string | undefined;
  readonly #listing: EnumerationObserver | undefined;
  /** The next poll runs at once (the round after an enumeration that ran beside listings). */
  #catchUp = false;
  readonly #now: () => number;
  /** Aborted by stop(); every run's signal derives from it. */
  readonly #lifetime = new AbortController();
  #task: TaskHandle | undefined;
  #loopSignal: AbortSignal | undefined;
  #run: { promise: Promise<SyncResult>; controller: LinkedController } | undefined;
  #queued: Promise<SyncResult> | undefined;
  /** The poll loop's sleep, cut short by resume() and stop(). */
  readonly #alarm = new Alarm();
  readonly #admission = new Admission();
  /** Why sync is paused (the user, an outage, offline changes waiting to replay): it runs when none is left. */
  readonly #pauses = new Set<string>();
  #stopped = false;

  constructor(options: DeltaSyncOptions) {
    this.#graph = options.graph;
    this.#store = options.store;
    this.#invalidator = options.invalidator;
    this.#logger = options.logger;
    this.#tasks = options.tasks;
    this.#pollIntervalMs = positive(options.pollIntervalMs ?? DEFAULTS.pollIntervalMs, 'pollIntervalMs');
    this.#pageSize = positive(options.pageSize ?? DEFAULTS.pageSize, 'pageSize');
    this.#applyChunk = positive(options.applyChunk ?? DEFAULTS.applyChunk, 'applyChunk');
    this.#sliceMs = positive(options.sliceMs ?? DEFAULTS.sliceMs, 'sliceMs');
    this.#backoff = checkBackoff(options.errorBackoff ?? DEFAULTS.errorBackoff, 'delta error');
    this.#driveId = options.driveId;
    this.#listing = options.listing;
    this.#now = options.now ?? Date.now;
    this.events = new TypedEmitter<DeltaSyncEvents>((error, event) =>
      this.#logger.error({ err: error, event }, `a delta-sync "${event}" listener failed`),
    );
  }

  get paused(): boolean {
    return this.#pauses.size > 0;
  }

  /** True while a run (fetching or applying) is in progress. */
  get running(): boolean {
    return this.#run !== undefined;
  }

  /**
   * One sync: fetch a whole batch, apply it, save its deltaLink. Serialized: while a run is in
   * progress, callers share one run that starts after it (so changes made after the running one
   * began are seen). Rejects with SyncPausedError while paused.
   */
  syncOnce(): Promise<SyncResult> {
    if (!this.#admission.open) return Promise.reject(new ShuttingDownError('a new sync'));
    if (this.#stopped) return Promise.reject(new SyncStoppedError());
    if (this.paused) return Promise.reject(new SyncPausedError());
    if (this.#run === undefined) return this.#startRun();
    this.#queued ??= this.#run.promise
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() => {
        this.#queued = undefined;
        if (this.#stopped) throw new SyncStoppedError();
        if (this.paused) throw new SyncPausedError();
        return this.#run?.promise ?? this.#startRun();
      });
    return this.#queued;
  }

  /** The "sync now" button: a run at once, shared with any requested meanwhile. */
  syncNow(): Promise<SyncResult> {
    return this.syncOnce();
  }

  /** Starts the poll loop (task "delta-poll"); the first run starts at once. */
  /**
   * The poll loop. Its first run starts at once, unless `afterInterval` (the drive was just
   * enumerated: asking again straight away would only cost a request).
   */
  start(options: { afterInterval?: boolean } = {}): void {
    if (this.#stopped) throw new SyncStoppedError();
    if (this.#task) return;
    this.#task = this.#tasks.start('delta-poll', (signal) => this.#pollLoop(signal, options.afterInterval ?? false));
  }

  /**
   * Stops remote sync until resume() with the same reason: aborts a run in progress (its batch is
   * fetched again later). Reasons are independent: sync runs again only when every one is lifted.
   */
  pause(reason = 'requested'): void {
    const wasPaused = this.paused;
    this.#pauses.add(reason);
    if (wasPaused) return;
    this.#run?.controller.abort(new SyncPausedError());
    this.#logger.info({ reason }, 'remote sync paused');
  }

  resume(reason = 'requested'): void {
    if (!this.#pauses.delete(reason) || this.paused) return;
    this.#logger.info({ reason }, 'remote sync resumed');
    this.#alarm.wake();
  }

  /** Aborts any run, ends the poll loop and waits for both. Final. */
  /** Shutdown: no new run starts once shutdown began (a run under way goes on); then the loop stops. */
  shutdownSteps(): readonly ShutdownStep[] {
    return [
      { phase: 'stop-new-work', name: 'delta: refuse new syncs', run: async () => this.#admission.close() },
      { phase: 'stop-sync', name: 'delta', run: () => this.stop() },
    ];
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#lifetime.abort(new SyncStoppedError());
    this.#alarm.wake();
    const waits: Array<Promise<unknown>> = [];
    if (this.#task) waits.push(this.#task.done);
    if (this.#run) waits.push(this.#run.promise.catch(() => undefined));
    if (this.#queued) waits.push(this.#queued.catch(() => undefined));
    await Promise.all(waits);
  }

  async #pollLoop(signal: AbortSignal, afterInterval: boolean): Promise<void> {
    this.#loopSignal = signal;
    let failures = 0;
    try {
      if (afterInterval) await this.#alarm.sleep(this.#pollIntervalMs, signal);
      while (!signal.aborted && !this.#stopped) {
        if (!this.paused) {
          try {
            this.#catchUp = false;
            await this.syncOnce();
            failures = 0;
          } catch (error) {
            // Pause and stop end a run on purpose; anything else was already logged and reported.
            if (!(error instanceof SyncPausedError) && !(error instanceof SyncStoppedError) && !(error instanceof ShuttingDownError) && !signal.aborted) failures++;
          }
        }
        const delay = this.#catchUp ? 0 : failures === 0 ? this.#pollIntervalMs : backoffDelay(failures - 1, this.#backoff);
        if (this.paused) this.events.emit('parked', {});
        await this.#alarm.sleep(this.paused ? Number.POSITIVE_INFINITY : delay, signal);
      }
    } finally {
      this.#loopSignal = undefined;
    }
  }

  #startRun(): Promise<SyncResult> {
    const controller = linkedController(this.#lifetime.signal, this.#loopSignal);
    const promise = (async () => {
      try {
        return await this.#runOnce(controller.signal);
      } catch (error) {
        const reason: unknown = controller.signal.aborted ? controller.signal.reason : undefined;
        if (reason instanceof SyncPausedError || reason instanceof SyncStoppedError) throw reason;
        if (!(controller.signal.aborted && isAbortError(error))) {
          this.#logger.error({ err: error }, 'delta sync failed; retrying later');
          this.events.emit('error', { error });
        }
        throw error;
      } finally {
        controller.dispose();
        this.#run = undefined;
      }
    })();
    this.#run = { promise, controller };
    return promise;
  }

  async #runOnce(signal: AbortSignal): Promise<SyncResult> {
    // Changes made here from now on are newer than what this batch may say of their items.
    const mark = this.#store.items.openChangeWindow();
    try {
      return await this.#runBatch(signal, mark);
    } finally {
      this.#store.items.closeChangeWindow();
    }
  }

  async #runBatch(signal: AbortSignal, mark: number): Promise<SyncResult> {
    const started = this.#now();
    const store = this.#store;
    const stored = store.driveState.get('deltaLink');
    let full = stored === undefined;
    // Only the first enumeration runs beside listings; a resync's store is complete already.
    const listing = full && this.#listing && !this.#listing.complete ? this.#listing : undefined;
    // A program opening the new mount lists what it needs before the enumeration's first page
    // competes with it for the service.
    if (listing) await listing.idle();
    listing?.enumerationStarted();
    let batch: DeltaBatch;
    try {
      batch = await this.#fetch(stored, signal, listing);
    } catch (error) {
      if (full || !isResyncRequired(error)) throw error;
      const location = (error as GraphApiError).location;
      const reason = `the server refused the stored delta token (${errorMessage(error)})`;
      this.#logger.warn({ err: error, followLocation: location !== undefined }, 'delta token refused; enumerating the whole drive and diffing');
      this.events.emit('resync', { reason });
      full = true;
      batch = await this.#fetch(location, signal, undefined);
    }
    if (full && !batch.items.some((item) => item.root !== undefined)) {
      // The enumeration normally lists the root; without it nothing could be placed.
      batch.items.unshift(await this.#graph.getItemByPath('', { select: DELTA_SELECT, signal }));
    }

    const yielder = new LoopYielder(this.#sliceMs, signal);
    const plan = await planBatch(batch.items, {
      full,
      // The plan speaks server ids (delta-apply maps them to item keys).
      rootId: store.items.getRoot()?.remoteId ?? store.items.getRoot()?.id,
      driveId: this.#driveId ?? store.driveState.get('driveId') ?? (full ? rootDriveId(batch.items) : undefined),
      inStore: (id) => store.items.get(store.items.keyOf(id)) !== undefined,
      yielder,
    });
    // `since`: the change clock when the records were asked for (what changed here after is left alone).
    const applierFor = (current: boolean, since: number) =>
      new BatchApplier({
        store,
        invalidator: this.#invalidator,
        logger: this.#logger,
        chunkSize: this.#applyChunk,
        pageSize: this.#pageSize,
        yielder,
        current,
        changedHere: (id: string) => store.items.changedHereSince(id, since),
        deletes: store.items,
        onChanged: (change) => this.events.emit('changed', change),
        onInvalidateError: (error, itemId) => {
          this.#logger.error({ err: error, itemId }, 'could not drop the cached content of a changed item');
          this.events.emit('error', { error, itemId });
        },
      });
    const applier = applierFor(false, mark);
    let counts: ApplyCounts;
    let landed = false;
    // No await between the last listing landing and the seal: none can start in between.
    if (listing) await listing.idle();
    try {
      if (listing) mergeListings(plan, listing, store);
      counts = await applier.apply(plan, full, () => {
        store.driveState.set('deltaLink', batch.deltaLink);
        if (full) {
          store.driveState.set('lastFullSyncMs', this.#now());
          // The root's parentReference names the drive: a first start needs no separate request for it.
          const drive = batch.items.find((item) => item.root !== undefined)?.parentReference;
          if (drive?.driveId && !store.driveState.get('driveId')) store.driveState.set('driveId', drive.driveId);
          if (drive?.driveType) store.driveState.set('driveType', drive.driveType);
        }
      });
      landed = true;
    } finally {
      // Applied: every folder is complete. Failed: listings go on until the next run.
      listing?.finished(landed);
    }
    if (listing) this.#catchUp = true;
    if (applier.staleRecords.length) await this.#applyCurrent(applier.staleRecords, (since) => applierFor(true, since), yielder, signal);
    const result: SyncResult = { ...counts, full, ms: this.#now() - started, pages: batch.pages, items: batch.items.length };
    this.#logger.info(result, full ? 'drive enumerated and applied' : 'remote changes applied');
    const { pages: _pages, items: _items, ...applied } = result;
    this.events.emit('applied', applied);
    return result;
  }

  /** Items whose delta record may be older than the store (BatchApplier staleRecords): the server's current state decides. */
  async #applyCurrent(ids: readonly string[], applierFor: (since: number) => BatchApplier, yielder: LoopYielder, signal: AbortSignal): Promise<void> {
    const store = this.#store;
    const graph = this.#graph;
    if (!graph.getItem) {
      // Without a way to read them now, the next delta (at once) brings their current state.
      this.#catchUp = true;
      return;
    }
    const getItem = graph.getItem.bind(graph);
    const left = await applyAsTheyAreNow(
      store,
      ids,
      async (stale) => {
        const items = await readCurrent({ getItem }, stale, signal);
        this.#logger.debug({ ids: stale, read: items.length }, 'delta held older versions of our uploads; applied the server items as they are now');
        if (!items.length) return undefined;
        return planBatch(items, {
          full: false,
          rootId: store.items.getRoot()?.remoteId ?? store.items.getRoot()?.id,
          driveId: this.#driveId ?? store.driveState.get('driveId'),
          inStore: (id) => store.items.get(store.items.keyOf(id)) !== undefined,
          yielder,
        });
      },
      applierFor,
    );
    // Changed here again at every read: the next delta, at once, brings them as they are.
    if (left.length) this.#catchUp = true;
  }

  #fetch(link: string | undefined, signal: AbortSignal, listing: EnumerationObserver | undefined): Promise<DeltaBatch> {
    return this.#graph.delta(link, { top: this.#pageSize, select: DELTA_SELECT, signal, ...(listing ? { onPage: (items) => listing.pageReceived(items), beforeNextPage: () => listing.idle() } : {}) });
  }
}

/**
 * The rule of children-listing.ts, applied to the plan: a record a newer listing stored, or an
 * item deleted here after its page, is not written again, and what listings stored (or the store gained) since the enumeration began is not "unseen". Tombstones
 * (plan.removals) are untouched: a delete seen by delta always wins.
 */
function mergeListings(plan: DeltaPlan, listing: EnumerationObserver, store: Store): void {
  const merge = listing.seal();
  // Parents come first: what lies below a record left out is left out too (deleted with it here).
  const left = new Set<string>();
  plan.upserts = plan.upserts.filter((record) => {
    if (record.parentId === null) return true;
    if (!left.has(record.parentId) && !merge.storeIsNewer(record.remoteId ?? record.id)) return true;
    left.add(record.id);
    return false;
  });
  for (const id of merge.storedSinceStart()) {
    if (!plan.removals.has(id) && store.items.getByRemoteId(id) !== undefined) plan.live.add(id);
  }
}

function rootDriveId(items: readonly DriveItem[]): string | undefined {
  return items.find((item) => item.root !== undefined)?.parentReference?.driveId;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new OneMountError('INVALID_ARGUMENT', `${name} must be a positive number, got ${value}`);
  return value;
}
