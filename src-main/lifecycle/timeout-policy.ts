import { z } from 'zod';
import { timeoutSignal } from '../base/abort.ts';
import type { LinkedSignal } from '../base/abort.ts';
import { OneMountError } from '../base/errors.ts';
import { SHUTDOWN_PHASES } from '../../src-shared/model/transfer.ts';
import type { ShutdownPhase } from '../../src-shared/model/transfer.ts';

// A process parses each schema a handful of times: building zod's compiled fast path on the first
// parse costs more (several ms of the engine's start, this configuration being parsed first) than
// it ever saves.
z.config({ jitless: true });

const ms = z.number().int().nonnegative();
const positiveMs = z.number().int().positive();
/** A number of repeats, not a duration. */
const count = z.number().int().nonnegative();

const PhaseBudgetSchema = z.object({
  name: z.enum(SHUTDOWN_PHASES),
  /** Relative share of the shutdown budget; shares are recomputed at each phase start. */
  weight: z.number().positive(),
});
export type ShutdownPhaseBudget = z.infer<typeof PhaseBudgetSchema>;

/**
 * Every timeout, retry delay and period the engine (and the processes that talk to it) uses, in
 * one configuration, documented in docs/concurrency.md §5. A component that needs a new one adds a
 * field here (with its default) instead of a constant of its own; only a fact of a protocol or a
 * file format stays where it applies, commented `protocol:` (lifecycle/timeout-literals.test.ts
 * fails on any other duration literal in src-main).
 */
export const TimeoutConfigSchema = z.object({
  /** The whole graceful shutdown, all phases together. */
  shutdownBudgetMs: positiveMs,
  /** What is left of the budget after a second signal: a fast, still lossless exit. */
  fastExitBudgetMs: positiveMs,
  /**
   * Time a phase's participants get, after the phase's signal fires, to persist what they could
   * not finish. Reserved out of the budget up front (at most half of it), one grace per phase.
   */
  phaseAbortGraceMs: ms,
  /** The shutdown phases to run, in order (a subsequence of SHUTDOWN_PHASES), with weights. */
  phases: z
    .array(PhaseBudgetSchema)
    .min(1)
    .refine((list) => isOrderedSubsequence(list.map((p) => p.name)), {
      error: `phases must appear at most once each, in the order ${SHUTDOWN_PHASES.join(' → ')}`,
    }),
  /** Waiting for the background tasks still listed once every phase ran (the last step of shutdown). */
  taskStopTimeoutMs: ms,

  // ── Graph requests ──
  /** One Graph API request, until the response headers arrive (and its body, for JSON answers). */
  requestTimeoutMs: positiveMs,
  /** Establishing a connection to the service. */
  connectTimeoutMs: positiveMs,
  /** A connection to the service left idle is kept this long for the next request, unless the server says less. */
  idleConnectionMs: positiveMs,
  /** A transfer whose body moves no bytes for this long fails (and is retried, resuming). */
  transferStallTimeoutMs: positiveMs,
  /** Repeats of one request after transient failures (a count, not a duration). */
  requestRetries: count,
  /** Repeats of one request the service throttled, each after the wait it asked for (a count; obeying is not failing). */
  requestThrottleRetries: count,
  /** First wait before repeating a request (full jitter), doubling up to requestRetryMaxMs. */
  requestRetryBaseMs: positiveMs,
  requestRetryMaxMs: positiveMs,

  // ── Connectivity ──
  /** One connectivity probe. */
  probeTimeoutMs: positiveMs,
  /** Wait after the first failed probe, doubling per failure up to probeRetryMaxMs. */
  probeRetryBaseMs: positiveMs,
  probeRetryMaxMs: positiveMs,

  // ── Transfers ──
  /** Quiet time after the last write to a file before it uploads (`--write-back`'s default). */
  uploadWriteBackDelayMs: ms,
  /** Tries of one upload before it is shown as failed (a count; permanent refusals fail at once). */
  uploadAttempts: z.number().int().positive(),
  /** Samples of an upload's progress closer together than this do not update its speed. */
  uploadRateSampleMs: positiveMs,
  /** A download URL is reused this long, then asked for again (Graph's pre-authenticated URLs expire). */
  downloadUrlTtlMs: positiveMs,
  /** A download reports its progress at most this often. */
  downloadProgressIntervalMs: ms,
  /** Times one download range is resumed after its connection broke without progress (a count). */
  downloadInterruptionRetries: count,
  /** The buffers downloads are gathered in are kept this long after the last download ends, for the next. */
  downloadBuffersKeepMs: ms,
  /** After a failed making of spare cache files (a full disk), the next is tried no sooner than this. */
  spareFilesRetryMs: ms,
  /** Writes whose record failed (the database refused it) are tried again this often. */
  unrecordedWritesRetryMs: positiveMs,
  /** Transfer progress goes out to the UI at most this often. */
  transferFeedFlushMs: positiveMs,
  /** Credit an idle link may bank under a bandwidth limit, in milliseconds at the limit. */
  bandwidthBurstMs: ms,
  /** Under an upload limit, one request body is cut to what the limit passes in this long. */
  requestBodyBudgetMs: positiveMs,

  // ── Reads ──
  /** An uncached read while offline (or stuck) fails with an errno after this long, never hangs. */
  uncachedReadTimeoutMs: positiveMs,
  /** Fetching the part of a file a first change keeps (a truncate or a write into it). */
  prepareForChangeTimeoutMs: positiveMs,
  /** A failed read of one file is logged once in this long, however many FUSE reads fail. */
  readErrorLogQuietMs: positiveMs,
  /**
   * How long a file libfuse hid (deleted or replaced while open) waits for the rename of a save over
   * it before it is deleted: libfuse sends that rename within a millisecond of the hiding one.
   */
  hiddenFileGraceMs: positiveMs,
  /** How long the kernel may cache names and attributes (FUSE's entry and attribute timeouts; `--kernel-cache`'s default). */
  kernelCacheTimeoutMs: ms,

  // ── Retries of background work ──
  /** First wait before an upload is tried again, doubling up to uploadRetryMaxMs (also a full drive's wait). */
  uploadRetryBaseMs: positiveMs,
  uploadRetryMaxMs: positiveMs,
  /** How often a new file whose folder has no server id yet looks again. */
  parentWaitMs: positiveMs,
  /** First wait of the delta loop after a failed run, doubling up to deltaRetryMaxMs. */
  deltaRetryBaseMs: positiveMs,
  deltaRetryMaxMs: positiveMs,
  /** First wait before offline changes are replayed again, doubling up to replayRetryMaxMs. */
  replayRetryBaseMs: positiveMs,
  replayRetryMaxMs: positiveMs,

  // ── Periodic work ──
  /** The first quota fetch when none is known yet. */
  quotaFirstRefreshMs: positiveMs,
  /** How often the drive quota is refreshed. */
  quotaRefreshMs: positiveMs,
  /** How often last-access times (the cache cleaner's LRU) are written. */
  accessTimesFlushMs: positiveMs,
  /** How often the memory V8 holds is looked at for garbage left by a burst (base/gc.ts). */
  gcCheckMs: positiveMs,
  /** How often the cache cleaner looks at the cache size, and its least gap between two runs. */
  cacheCleanIntervalMs: positiveMs,
  cacheCleanMinGapMs: ms,
  /** How often pinned folders are walked for files that lost their bytes. */
  pinsRescanMs: positiveMs,
  /** How often the mount table is read to notice an unmount from outside. */
  mountWatchIntervalMs: positiveMs,
  /**
   * How long the attributes getattr and readdir answered are kept to answer later getattrs in the
   * FUSE thread (kept attributes, docs/architecture.md; 0: none are). Every change to an item drops
   * them first: this bounds only how long a path not asked for again holds memory.
   */
  keptAttrsMs: ms,
  /** A status push after indexer refusals waits this long, so a burst of refused opens makes one push. */
  indexerStatusPushMs: positiveMs,
  /** How often `onemount status --watch` asks again (transfers move between the state events). */
  statusWatchRefreshMs: positiveMs,
  /** How often remote changes are fetched while nothing else asks (`--poll-interval`'s default). */
  deltaPollIntervalMs: positiveMs,
  /** How often a shared folder's access (read-only or read-write) is asked again: its owner may change it. */
  sharedAccessRecheckMs: positiveMs,

  // ── Keeping the event loop free (work in slices) ──
  /** Applying a delta page yields to the event loop after this long. */
  deltaApplySliceMs: positiveMs,
  /** A delta commit that held the event loop longer than this is logged (its chunk is too big for this machine). */
  deltaSlowCommitMs: positiveMs,
  /** Walking a pinned folder yields to the event loop after this long. */
  pinsSliceMs: positiveMs,

  // ── The store ──
  /** SQLite waits this long for a lock another connection holds before it fails with SQLITE_BUSY. */
  storeBusyTimeoutMs: ms,
  /** A deleted new file's sent versions are watched for in delta this long (an upload that landed after all). */
  deletedUploadWatchMs: positiveMs,

  // ── Sign-in and tokens ──
  /** One request to the identity provider, or one call to the keyring, while getting a token. */
  tokenRefreshTimeoutMs: positiveMs,
  /** A token is refreshed this long before it expires. */
  tokenRefreshMarginMs: positiveMs,
  /** After a failed silent refresh, the wait before a request tries again. */
  tokenRecheckMs: positiveMs,
  /** An interactive sign-in in the browser. */
  signInTimeoutMs: positiveMs,
  /** `xdg-open` starting the browser for a sign-in (it returns once the browser started; a cold start takes seconds). */
  browserStartTimeoutMs: positiveMs,
  /** The lifetime assumed for a token the identity provider gave without an expiry. */
  tokenAssumedLifetimeMs: positiveMs,

  // ── Sleep and shutdown of the system (app/suspend-guard.ts) ──
  /** How often the engine looks whether changes wait to upload (to take or release logind's delay lock). */
  suspendRecheckMs: positiveMs,
  /** Kept back from logind's delay for saving state and releasing the lock after uploads had their time. */
  suspendReleaseMarginMs: ms,
  /** logind's delay when its InhibitDelayMaxUSec cannot be read (its own default). */
  suspendAssumedDelayMs: positiveMs,

  // ── The first enumeration (sync/children-listing.ts) ──
  /** The background enumeration asks for its next page only after the filesystem was quiet this long. */
  enumerationQuietMs: ms,

  // ── Calls between processes ──
  /** One contract call from the UI or `onemount` to the engine. */
  ipcCallTimeoutMs: positiveMs,
  /** A contract call that walks a folder (pin, unpin, free) or waits for a person (sign-in, sign-out). */
  ipcLongCallTimeoutMs: positiveMs,
  /** A question to a local process that answers at once or not at all (a lock holder, the keyring, a sign-in listener, the system bus). */
  localCallTimeoutMs: positiveMs,
  /** After closing, the control socket lets clients read their last answers this long before it cuts them off. */
  ipcCloseGraceMs: ms,

  // ── The desktop app's engine supervisor ──
  /** First wait before restarting an engine that died, doubling up to engineRestartMaxMs. */
  engineRestartBaseMs: positiveMs,
  engineRestartMaxMs: positiveMs,
  /** An engine that ran this long had no crash streak: the next restart waits the base delay again. */
  engineStablePeriodMs: positiveMs,
  /** Between attempts to connect to a starting engine's socket. */
  engineConnectRetryMs: positiveMs,
  /** A stopping engine is killed after this long (more than its own shutdown budget). */
  engineStopTimeoutMs: positiveMs,
  /** Time-dependent words in the tray ("resuming in 45 s") are refreshed this often. */
  trayRefreshMs: positiveMs,
});
export type TimeoutConfig = Omit<z.infer<typeof TimeoutConfigSchema>, 'phases'> & {
  readonly phases: readonly ShutdownPhaseBudget[];
};

/** The timeouts whose value is a single duration, usable with TimeoutPolicy.signal(). */
export type TimeoutName = {
  [K in keyof TimeoutConfig]: TimeoutConfig[K] extends number ? K : never;
}[keyof TimeoutConfig];

export const DEFAULT_TIMEOUTS: Readonly<TimeoutConfig> = Object.freeze<TimeoutConfig>({
  shutdownBudgetMs: 30_000,
  fastExitBudgetMs: 5_000,
  phaseAbortGraceMs: 1_000,
  // Uploads get the lion's share: that is where unfinished work costs the user the most.
  phases: [
    { name: 'stop-new-work', weight: 1 },
    { name: 'stop-sync', weight: 2 },
    { name: 'uploads', weight: 12 },
    { name: 'downloads', weight: 2 },
    { name: 'save-state', weight: 2 },
    { name: 'unmount', weight: 3 },
  ],
  taskStopTimeoutMs: 2_000,
  requestTimeoutMs: 30_000,
  connectTimeoutMs: 30_000,
  // undici's own default is 4 s: a request after a pause paid a new TLS handshake with Graph.
  idleConnectionMs: 60_000,
  transferStallTimeoutMs: 30_000,
  requestRetries: 4,
  requestThrottleRetries: 10,
  requestRetryBaseMs: 500,
  requestRetryMaxMs: 30_000,
  probeTimeoutMs: 5_000,
  probeRetryBaseMs: 1_000,
  probeRetryMaxMs: 60_000,
  uploadWriteBackDelayMs: 1_000,
  uploadAttempts: 8,
  uploadRateSampleMs: 500,
  downloadUrlTtlMs: 900_000,
  downloadProgressIntervalMs: 250,
  downloadInterruptionRetries: 3,
  downloadBuffersKeepMs: 2_000,
  spareFilesRetryMs: 60_000,
  unrecordedWritesRetryMs: 5_000,
  transferFeedFlushMs: 250,
  bandwidthBurstMs: 250,
  requestBodyBudgetMs: 10_000,
  uncachedReadTimeoutMs: 10_000,
  kernelCacheTimeoutMs: 10_000,
  prepareForChangeTimeoutMs: 300_000,
  uploadRetryBaseMs: 5_000,
  uploadRetryMaxMs: 300_000,
  parentWaitMs: 2_000,
  deltaRetryBaseMs: 5_000,
  deltaRetryMaxMs: 300_000,
  replayRetryBaseMs: 2_000,
  replayRetryMaxMs: 60_000,
  quotaFirstRefreshMs: 5_000,
  quotaRefreshMs: 600_000,
  accessTimesFlushMs: 5_000,
  gcCheckMs: 1_000,
  cacheCleanIntervalMs: 60_000,
  cacheCleanMinGapMs: 1_000,
  pinsRescanMs: 300_000,
  mountWatchIntervalMs: 2_000,
  keptAttrsMs: 60_000,
  indexerStatusPushMs: 1_000,
  statusWatchRefreshMs: 1_000,
  deltaPollIntervalMs: 30_000,
  sharedAccessRecheckMs: 600_000,
  deltaApplySliceMs: 20,
  deltaSlowCommitMs: 100,
  pinsSliceMs: 10,
  storeBusyTimeoutMs: 5_000,
  deletedUploadWatchMs: 86_400_000,
  readErrorLogQuietMs: 10_000,
  hiddenFileGraceMs: 500,
  tokenRefreshTimeoutMs: 30_000,
  tokenRefreshMarginMs: 300_000,
  tokenRecheckMs: 2_000,
  signInTimeoutMs: 600_000,
  browserStartTimeoutMs: 15_000,
  tokenAssumedLifetimeMs: 60_000,
  ipcCallTimeoutMs: 10_000,
  ipcLongCallTimeoutMs: 300_000,
  localCallTimeoutMs: 5_000,
  ipcCloseGraceMs: 500,
  suspendRecheckMs: 2_000,
  suspendReleaseMarginMs: 1_000,
  suspendAssumedDelayMs: 5_000,
  enumerationQuietMs: 100,
  engineRestartBaseMs: 1_000,
  engineRestartMaxMs: 60_000,
  engineStablePeriodMs: 60_000,
  engineConnectRetryMs: 500,
  engineStopTimeoutMs: 60_000,
  trayRefreshMs: 5_000,
});

function isOrderedSubsequence(names: readonly ShutdownPhase[]): boolean {
  const positions = names.map((name) => SHUTDOWN_PHASES.indexOf(name));
  return positions.every((position, i) => i === 0 || position > positions[i - 1]!);
}

/**
 * The one source of timeouts: built from one configuration (defaults + overrides, validated), it
 * hands out every duration the engine waits for and splits the shutdown budget across phases.
 */
export class TimeoutPolicy {
  readonly config: Readonly<TimeoutConfig>;

  constructor(overrides: Partial<TimeoutConfig> = {}) {
    const parsed = TimeoutConfigSchema.safeParse({ ...DEFAULT_TIMEOUTS, ...overrides });
    if (!parsed.success) {
      const detail = parsed.error.issues.map((i) => `${i.path.join('.') || 'config'}: ${i.message}`).join('; ');
      throw new OneMountError('INVALID_TIMEOUT_CONFIG', `invalid timeout configuration: ${detail}`);
    }
    this.config = Object.freeze({ ...parsed.data, phases: Object.freeze(parsed.data.phases.map((p) => ({ ...p }))) });
  }

  /** The duration configured for `name`. */
  ms(name: TimeoutName): number {
    return this.config[name];
  }

  /** A signal that fires with a TimeoutError after timeout `name`, or earlier with `parent`. */
  signal(name: TimeoutName, parent?: AbortSignal): LinkedSignal {
    return timeoutSignal(this.config[name], parent, name.replace(/TimeoutMs$|Ms$/, ''));
  }

  /** The phases a shutdown runs, in order, with their weights. */
  get shutdownPhases(): readonly ShutdownPhaseBudget[] {
    return this.config.phases;
  }

  /**
   * The grace each phase gets after its signal fires, reserved out of `budgetMs`: the configured
   * grace, scaled down so that all graces together take at most half the budget.
   */
  phaseGraceMs(budgetMs: number = this.config.shutdownBudgetMs): number {
    const count = this.config.phases.length;
    return Math.floor(Math.min(this.config.phaseAbortGraceMs, budgetMs / 2 / count));
  }

  /**
   * The share of `remainingMs` that phase number `phaseIndex` gets when it starts: its weight over
   * the weights of itself and every later phase. Computed at each phase start from what is left,
   * so time an early phase did not use flows to the phases after it.
   */
  phaseShareMs(phaseIndex: number, remainingMs: number): number {
    const phases = this.config.phases;
    const phase = phases[phaseIndex];
    if (!phase) throw new OneMountError('UNKNOWN_PHASE', `no shutdown phase number ${phaseIndex}`);
    const weightLeft = phases.slice(phaseIndex).reduce((sum, p) => sum + p.weight, 0);
    return Math.max(0, Math.floor((remainingMs * phase.weight) / weightLeft));
  }
}
