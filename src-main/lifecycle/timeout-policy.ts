import { z } from 'zod';
import { timeoutSignal } from '../base/abort.ts';
import type { LinkedSignal } from '../base/abort.ts';
import { OneMountError } from '../base/errors.ts';
import { SHUTDOWN_PHASES } from '../../src-shared/model/transfer.ts';
import type { ShutdownPhase } from '../../src-shared/model/transfer.ts';

const ms = z.number().int().nonnegative();
const positiveMs = z.number().int().positive();

const PhaseBudgetSchema = z.object({
  name: z.enum(SHUTDOWN_PHASES),
  /** Relative share of the shutdown budget; shares are recomputed at each phase start. */
  weight: z.number().positive(),
});
export type ShutdownPhaseBudget = z.infer<typeof PhaseBudgetSchema>;

/**
 * Every timeout the engine uses, in one configuration. A component that needs a new timeout adds
 * a field here (with its default) instead of a constant of its own.
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
  /** One Graph API request, until the response headers arrive. */
  requestTimeoutMs: positiveMs,
  /** A transfer that moves no bytes for this long is aborted and retried. */
  transferStallTimeoutMs: positiveMs,
  /** One upload-session chunk PUT (large bodies on slow links take a while). */
  uploadChunkTimeoutMs: positiveMs,
  /** One connectivity probe. */
  probeTimeoutMs: positiveMs,
  /** An uncached read while offline (or stuck) fails with an errno after this long, never hangs. */
  uncachedReadTimeoutMs: positiveMs,
  /** A token acquisition or refresh at the identity provider. */
  tokenRefreshTimeoutMs: positiveMs,
  /** One contract call from the UI or `onemount` to the engine. */
  ipcCallTimeoutMs: positiveMs,
  /** Waiting for the FUSE mount to appear, and for an unmount to complete. */
  mountTimeoutMs: positiveMs,
  /** Stopping a group of background tasks outside shutdown (pause, sign-out). */
  taskStopTimeoutMs: positiveMs,
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
  requestTimeoutMs: 30_000,
  transferStallTimeoutMs: 60_000,
  uploadChunkTimeoutMs: 120_000,
  probeTimeoutMs: 5_000,
  uncachedReadTimeoutMs: 10_000,
  tokenRefreshTimeoutMs: 30_000,
  ipcCallTimeoutMs: 10_000,
  mountTimeoutMs: 10_000,
  taskStopTimeoutMs: 10_000,
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
