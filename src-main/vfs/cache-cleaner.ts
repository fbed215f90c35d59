/**
 * Keeps the content cache within its size limit and the disk under it from filling up.
 *
 * The limit is on by default: 10 GiB or 10 % of the filesystem holding the cache, whichever is
 * smaller (a laptop's small SSD gets a proportionate cache; a big disk does not fill with copies of
 * the cloud). When the cache grows past it, the least recently used content goes first until the
 * cache is back to 90 % of the limit (the slack keeps one more download from starting another round).
 *
 * The disk counts as nearly full when its free space drops below 5 % of its size or 1 GiB, whichever
 * is smaller; the cleaner then evicts further, until twice that much is free or nothing evictable is
 * left. Writes never wait for this: a full disk fails them with ENOSPC, as any local folder would.
 *
 * Never evicted: open files (the vfs is asked), dirty files and pinned files or files below a pinned
 * folder (the store's eviction candidates leave those out), and files being downloaded right now.
 * Eviction always goes through the download manager's invalidate, which cancels a download in
 * flight and removes the cache file together with the range map.
 *
 * Runs as the task 'cache-cleaner': periodically, when a download completes or makes progress and the
 * cache is over the limit, and when kicked.
 */
import { statfs as statfsPromise } from 'node:fs/promises';
import { abortableSleep, abortReason, isAbortError } from '../base/abort.ts';
import { Alarm } from '../base/alarm.ts';
import type { Logger } from '../base/logger.ts';
import type { TaskHandle, TaskRegistry } from '../lifecycle/task-registry.ts';
import { StoreError, type EvictionCandidate, type Store } from '../store/index.ts';
import type { DownloadEvents } from '../transfers/index.ts';
import type { TypedEmitter } from '../base/typed-emitter.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

export const DEFAULT_CACHE_LIMIT_BYTES = 10 * GiB;
export const DEFAULT_CACHE_LIMIT_FRACTION = 0.1;
/** After exceeding the limit, clean down to this share of it. */
export const LOW_WATER_FRACTION = 0.9;
export const MIN_FREE_BYTES = 1 * GiB;
export const MIN_FREE_FRACTION = 0.05;

/** What the cleaner needs to know about the disk (the subset of fs.statfs it reads). */
export interface DiskSpace {
  bsize: number;
  blocks: number;
  bavail: number;
}

export type StatFsFn = (dir: string) => Promise<DiskSpace>;

/** What the cleaner needs from the download manager. */
export interface EvictionPort {
  invalidate(itemId: string): Promise<void> | void;
  isActive?(itemId: string): boolean;
  readonly events?: Pick<TypedEmitter<DownloadEvents>, 'on'>;
}

export interface CacheCleanerOptions {
  store: Store;
  downloads: EvictionPort;
  /** True while the item is open through the mount. */
  isOpen: (itemId: string) => boolean;
  /** The directory holding the cache files (its filesystem is watched for free space). */
  cacheDir: string;
  tasks: TaskRegistry;
  logger: Logger;
  /** Cache size limit in bytes; by default the smaller of 10 GiB and 10 % of the cache filesystem. */
  limitBytes?: number;
  /** How often the cleaner looks even when nothing asked it to. Default 60 s. */
  intervalMs?: number;
  /** Least time between two rounds that events asked for. Default 1 s. */
  minGapMs?: number;
  /** fs.statfs by default (injected in tests). */
  statfs?: StatFsFn;
}

export type CleanReason = 'interval' | 'over-limit' | 'disk-nearly-full' | 'requested';

export interface CleanReport {
  /** Why this round ran (the more urgent of the two when both apply). */
  reason: CleanReason | 'none';
  limitBytes: number;
  cachedBefore: number;
  cachedAfter: number;
  /** What the round aimed for (the cache size it wanted to get under). */
  targetBytes: number;
  evictedFiles: number;
  evictedBytes: number;
  /** Candidates passed over because they are open, downloading, or turned dirty meanwhile. */
  skipped: number;
  diskNearlyFull: boolean;
}

const PAGE = 200;

export class CacheCleaner {
  readonly #o: CacheCleanerOptions;
  readonly #statfs: StatFsFn;
  #limit: number | undefined;
  #task: TaskHandle | undefined;
  readonly #alarm = new Alarm();
  #unsubscribe: Array<() => void> = [];
  /** One round at a time: the loop and direct callers share it. */
  #running: Promise<CleanReport> | undefined;

  constructor(options: CacheCleanerOptions) {
    this.#o = options;
    this.#statfs = options.statfs ?? ((dir) => statfsPromise(dir));
    if (options.limitBytes !== undefined) this.#limit = checkedLimit(options.limitBytes);
  }

  /** The limit in force (the default is known once start() or clean() has looked at the disk). */
  get limitBytes(): number | undefined {
    return this.#limit;
  }

  /** Starts the background task; downloads that finish or progress past the limit wake it. */
  start(): void {
    if (this.#task) return;
    const events = this.#o.downloads.events;
    if (events) {
      const onGrowth = () => {
        if (this.#limit !== undefined && this.#o.store.content.totalCachedBytes() > this.#limit) this.kick();
      };
      this.#unsubscribe.push(events.on('done', onGrowth));
      // A big file read in part never completes; its progress still grows the cache.
      this.#unsubscribe.push(events.on('progress', onGrowth));
    }
    this.#task = this.#o.tasks.start('cache-cleaner', (signal) => this.#loop(signal));
  }

  /** A new limit from now on (the settings view); a smaller one is cleaned down to at once. */
  setLimit(bytes: number): void {
    this.#limit = checkedLimit(bytes);
    this.kick();
  }

  /** Asks for a round soon (coalesced with any already asked for). */
  kick(): void {
    this.#alarm.wake();
  }

  async stop(): Promise<void> {
    for (const off of this.#unsubscribe.splice(0)) off();
    const task = this.#task;
    if (!task) return;
    task.abort();
    await task.done;
  }

  /** One cleaning round now (or joins the one running). */
  clean(signal?: AbortSignal): Promise<CleanReport> {
    this.#running ??= this.#clean(signal).finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #loop(signal: AbortSignal): Promise<void> {
    const intervalMs = this.#o.intervalMs ?? DEFAULT_TIMEOUTS.cacheCleanIntervalMs;
    const minGapMs = this.#o.minGapMs ?? DEFAULT_TIMEOUTS.cacheCleanMinGapMs;
    while (!signal.aborted) {
      try {
        const report = await this.clean(signal);
        if (report.evictedFiles > 0) this.#o.logger.info(report, `cache cleaner freed ${report.evictedBytes} bytes (${report.evictedFiles} files)`);
      } catch (error) {
        if (signal.aborted && isAbortError(error)) return;
        // The next round tries again; a broken disk or store shows in the log, not as a dead loop.
        this.#o.logger.error({ err: error }, 'cache cleaning failed');
      }
      // At most one round per minGapMs however often it is kicked; kicks meanwhile are kept.
      await abortableSleep(minGapMs, signal).catch(() => undefined);
      await this.#alarm.sleep(Math.max(0, intervalMs - minGapMs), signal);
    }
  }

  async #resolveLimit(): Promise<number> {
    if (this.#limit !== undefined) return this.#limit;
    const disk = await this.#statfs(this.#o.cacheDir);
    const size = disk.blocks * disk.bsize;
    this.#limit = Math.max(MiB, Math.min(DEFAULT_CACHE_LIMIT_BYTES, Math.floor(size * DEFAULT_CACHE_LIMIT_FRACTION)));
    this.#o.logger.info({ limitBytes: this.#limit, filesystemBytes: size }, 'cache size limit (the default: 10 GiB or 10 % of the cache filesystem)');
    return this.#limit;
  }

  async #clean(signal: AbortSignal | undefined): Promise<CleanReport> {
    const limit = await this.#resolveLimit();
    const { store } = this.#o;
    const cachedBefore = store.content.totalCachedBytes();
    let target = cachedBefore;
    let reason: CleanReport['reason'] = 'none';
    if (cachedBefore > limit) {
      target = Math.floor(limit * LOW_WATER_FRACTION);
      reason = 'over-limit';
    }
    const disk = await this.#statfs(this.#o.cacheDir);
    const diskSize = disk.blocks * disk.bsize;
    const free = disk.bavail * disk.bsize;
    const minFree = Math.min(MIN_FREE_BYTES, Math.floor(diskSize * MIN_FREE_FRACTION));
    const diskNearlyFull = free < minFree;
    if (diskNearlyFull) {
      // Free up to twice the threshold, so the next few downloads do not trigger it again at once.
      target = Math.min(target, Math.max(0, cachedBefore - (2 * minFree - free)));
      reason = 'disk-nearly-full';
      this.#o.logger.warn({ freeBytes: free, thresholdBytes: minFree }, 'the disk holding the cache is nearly full; evicting cached content');
    }
    const report: CleanReport = {
      reason,
      limitBytes: limit,
      cachedBefore,
      cachedAfter: cachedBefore,
      targetBytes: target,
      evictedFiles: 0,
      evictedBytes: 0,
      skipped: 0,
      diskNearlyFull,
    };
    if (cachedBefore <= target) return report;
    let cached = cachedBefore;
    let after: EvictionCandidate | undefined;
    while (cached > target) {
      const page = store.content.listEvictionCandidates(PAGE, after);
      for (const candidate of page) {
        if (cached <= target) break;
        if (signal?.aborted) throw abortReason(signal);
        if (!(await this.#evict(candidate))) {
          report.skipped++;
          continue;
        }
        cached -= candidate.cachedBytes;
        report.evictedFiles++;
        report.evictedBytes += candidate.cachedBytes;
      }
      after = page[page.length - 1];
      if (page.length < PAGE) break;
    }
    report.cachedAfter = store.content.totalCachedBytes();
    if (report.cachedAfter > target) {
      this.#o.logger.warn(
        { cachedBytes: report.cachedAfter, targetBytes: target, skipped: report.skipped },
        'the cache stays above its target: the rest is open, dirty, pinned or downloading',
      );
    }
    return report;
  }

  /** Evicts one candidate unless it is open or busy now; false when it was left alone. */
  async #evict(candidate: EvictionCandidate): Promise<boolean> {
    const { itemId } = candidate;
    if (this.#o.isOpen(itemId) || this.#o.downloads.isActive?.(itemId)) return false;
    // Between the listing and now a page of evictions has awaited: look at the row again.
    const now = this.#o.store.content.get(itemId);
    if (!now || (now.status !== 'partial' && now.status !== 'complete') || this.#o.store.content.isEffectivelyPinned(itemId)) return false;
    try {
      await this.#o.downloads.invalidate(itemId);
    } catch (error) {
      // A write made it dirty after the check: its bytes are the only copy; leave them.
      if (error instanceof StoreError && error.code === 'CONTENT_DIRTY') return false;
      throw error;
    }
    this.#o.logger.debug({ itemId, bytes: candidate.cachedBytes, lastAccessMs: candidate.lastAccessMs }, 'evicted cached content');
    return true;
  }
}

function checkedLimit(bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new RangeError(`the cache limit must be a whole number of bytes, got ${bytes}`);
  return bytes;
}

/** Parses `64M`, `10G`, `512K`, `1.5G` or a plain byte count (binary units). */
export function parseByteSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  if (!m) throw new RangeError(`not a size: '${text}' (use e.g. 512M or 10G)`);
  const unit = { '': 1, k: 1024, m: MiB, g: GiB, t: 1024 * GiB }[m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  return Math.floor(Number(m[1]) * unit);
}
