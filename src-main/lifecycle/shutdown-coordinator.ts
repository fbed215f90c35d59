import { AbortError, TimeoutError, isCausedBySignal } from '../base/abort.ts';
import { OneMountError } from '../base/errors.ts';
import type { Logger } from '../base/logger.ts';
import { TypedEmitter } from '../base/typed-emitter.ts';
import type { ShutdownPhase, ShutdownProgress } from '../../src-shared/model/transfer.ts';
import type { TimeoutPolicy } from './timeout-policy.ts';

/** What a participant gets: when to stop finishing and persist instead, and how to report. */
export interface ShutdownContext {
  /**
   * Fires when the participant must stop finishing work and persist what is left instead: its
   * phase overran its share of the budget, or a fast exit was forced (then it fires at once).
   * It may already be aborted when the participant starts: check `signal.aborted` before
   * waiting for an 'abort' event.
   */
  readonly signal: AbortSignal;
  /** Epoch ms at which the coordinator moves on without this phase; may move earlier on force(). */
  readonly deadline: number;
  /** True once a fast exit has been forced. */
  readonly forced: boolean;
  /** Work this participant still has (uploads left …), shown as the phase's progress. */
  report(itemsLeft: number): void;
}

export type ShutdownParticipant = (context: ShutdownContext) => Promise<void>;

export interface PhaseResult {
  readonly phase: ShutdownPhase;
  /** The share of the budget the phase got when it started (before its abort grace). */
  readonly shareMs: number;
  readonly durationMs: number;
  /** The phase's signal fired because it used up its share. */
  readonly overran: boolean;
  readonly failed: ReadonlyArray<{ readonly participant: string; readonly error: unknown }>;
  /** Participants still running when the coordinator moved on. */
  readonly unfinished: readonly string[];
}

export interface ShutdownReport {
  readonly reason: string;
  readonly forced: boolean;
  readonly durationMs: number;
  readonly phases: readonly PhaseResult[];
}

export interface ShutdownCoordinatorOptions {
  policy: TimeoutPolicy;
  logger: Logger;
  now?: () => number;
}

/** The reason a forced (fast) exit gives participants' signals. */
export class ShutdownForcedError extends AbortError {
  constructor() {
    super('fast exit forced: persist unfinished work and stop');
  }
}

interface Registration {
  readonly name: string;
  readonly participant: ShutdownParticipant;
}

type Events = { progress: ShutdownProgress };

/**
 * Runs the graceful shutdown: ordered phases (from the TimeoutPolicy), each a set of registered
 * participants run concurrently, within one budget split across the phases as they go. A phase
 * that overruns gets its signal fired, a short grace to persist, and is then left behind (its
 * participants are reported, still observed). force() shrinks what is left to the fast-exit
 * budget but still runs every phase, with signals already fired, so the exit stays lossless.
 */
export class ShutdownCoordinator {
  readonly #policy: TimeoutPolicy;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #phases: readonly ShutdownPhase[];
  readonly #participants = new Map<ShutdownPhase, Registration[]>();
  readonly #emitter: TypedEmitter<Events>;
  readonly #requested = new AbortController();
  #result: Promise<ShutdownReport> | undefined;
  #forced = false;
  #forcedEnd = Number.POSITIVE_INFINITY;
  #onForce: (() => void) | undefined;
  #done = false;

  constructor(options: ShutdownCoordinatorOptions) {
    this.#policy = options.policy;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#phases = options.policy.shutdownPhases.map((p) => p.name);
    this.#emitter = new TypedEmitter<Events>((error) =>
      this.#logger.error({ err: error }, 'a shutdown progress listener failed'),
    );
  }

  /** The phases this coordinator runs, in order. */
  get phases(): readonly ShutdownPhase[] {
    return this.#phases;
  }

  /** Fires as soon as shutdown begins: the cue to stop accepting new work. */
  get requested(): AbortSignal {
    return this.#requested.signal;
  }

  get state(): 'idle' | 'running' | 'done' {
    if (!this.#result) return 'idle';
    return this.#done ? 'done' : 'running';
  }

  get forced(): boolean {
    return this.#forced;
  }

  /** Adds a participant to `phase`; the returned function removes it. Refused once shutdown began. */
  register(phase: ShutdownPhase, name: string, participant: ShutdownParticipant): () => void {
    if (!this.#phases.includes(phase)) {
      throw new OneMountError('UNKNOWN_PHASE', `shutdown phase "${phase}" is not configured (phases: ${this.#phases.join(', ')})`);
    }
    if (this.#result) {
      throw new OneMountError('SHUTDOWN_STARTED', `cannot register "${name}" for "${phase}": shutdown has already begun`);
    }
    const registration: Registration = { name, participant };
    const list = this.#participants.get(phase) ?? [];
    list.push(registration);
    this.#participants.set(phase, list);
    return () => {
      const current = this.#participants.get(phase);
      if (current) this.#participants.set(phase, current.filter((r) => r !== registration));
    };
  }

  /** Subscribes to progress events (phase changes, item counts, the final `done`). */
  onProgress(listener: (progress: ShutdownProgress) => void): () => void {
    return this.#emitter.on('progress', listener);
  }

  /** Starts the shutdown, or returns the one already under way. Never rejects. */
  shutdown(reason = 'requested'): Promise<ShutdownReport> {
    if (!this.#result) {
      this.#requested.abort(new AbortError(`shutting down: ${reason}`));
      this.#result = this.#run(reason).finally(() => {
        this.#done = true;
      });
    }
    return this.#result;
  }

  /**
   * A second signal: shrink what is left of the budget to the fast-exit budget and fire every
   * phase signal from now on. Starts the shutdown if it has not begun.
   */
  force(reason = 'forced'): Promise<ShutdownReport> {
    if (!this.#forced && !this.#done) {
      this.#forced = true;
      this.#forcedEnd = this.#now() + this.#policy.config.fastExitBudgetMs;
      this.#logger.warn({ fastExitBudgetMs: this.#policy.config.fastExitBudgetMs }, 'shutdown forced: fast lossless exit');
      this.#onForce?.();
    }
    return this.shutdown(reason);
  }

  async #run(reason: string): Promise<ShutdownReport> {
    const started = this.#now();
    const budget = this.#policy.config.shutdownBudgetMs;
    const grace = this.#policy.phaseGraceMs(budget);
    const overallEnd = started + budget;
    const workEnd = overallEnd - grace * this.#phases.length;
    this.#logger.info({ reason, budgetMs: budget, phases: this.#phases }, 'shutdown started');
    const results: PhaseResult[] = [];
    let lastItemsLeft = 0;
    for (let index = 0; index < this.#phases.length; index++) {
      const outcome = await this.#runPhase(index, { workEnd, overallEnd, grace });
      results.push(outcome.result);
      lastItemsLeft = outcome.itemsLeft;
    }
    const lastIndex = this.#phases.length - 1;
    this.#emit(lastIndex, lastItemsLeft, overallEnd, true);
    const report: ShutdownReport = { reason, forced: this.#forced, durationMs: this.#now() - started, phases: results };
    this.#logger.info(
      {
        durationMs: report.durationMs,
        forced: report.forced,
        overran: results.filter((r) => r.overran).map((r) => r.phase),
        unfinished: results.flatMap((r) => r.unfinished),
      },
      'shutdown finished',
    );
    return report;
  }

  async #runPhase(
    index: number,
    budget: { workEnd: number; overallEnd: number; grace: number },
  ): Promise<{ result: PhaseResult; itemsLeft: number }> {
    const phase = this.#phases[index]!;
    const registrations = [...(this.#participants.get(phase) ?? [])];
    const start = this.#now();
    const controller = new AbortController();
    const itemsLeft = new Map<string, number>();
    const totalLeft = () => [...itemsLeft.values()].reduce((sum, n) => sum + n, 0);
    let overran = false;
    let phaseOver = false;

    // Soft deadline: the signal fires. Hard deadline: the coordinator moves on.
    let shareMs: number;
    let softDeadline: number;
    let hardDeadline: number;
    const fastShare = () => this.#policy.phaseShareMs(index, Math.max(0, this.#forcedEnd - this.#now()));
    if (this.#forced) {
      shareMs = fastShare();
      softDeadline = start;
      hardDeadline = start + shareMs;
      controller.abort(new ShutdownForcedError());
    } else {
      shareMs = this.#policy.phaseShareMs(index, Math.max(0, budget.workEnd - start));
      softDeadline = start + shareMs;
      hardDeadline = softDeadline + budget.grace;
    }

    const isForced = () => this.#forced;
    const context = (name: string): ShutdownContext => ({
      signal: controller.signal,
      get deadline() {
        return hardDeadline;
      },
      get forced(): boolean {
        return isForced();
      },
      report: (left: number) => {
        if (phaseOver) return;
        itemsLeft.set(name, Math.max(0, Math.floor(left)));
        this.#emit(index, totalLeft(), budget.overallEnd, false);
      },
    });

    this.#emit(index, 0, budget.overallEnd, false);
    this.#logger.debug({ phase, shareMs, participants: registrations.map((r) => r.name) }, 'shutdown phase started');

    const failed: Array<{ participant: string; error: unknown }> = [];
    const pending = new Set(registrations.map((r) => r.name));
    const settledAll = Promise.all(
      registrations.map(async ({ name, participant }) => {
        try {
          await participant(context(name));
        } catch (error) {
          if (isCausedBySignal(error, controller.signal)) {
            this.#logger.debug({ phase, participant: name }, 'shutdown participant stopped on its signal');
          } else if (phaseOver) {
            this.#logger.error({ err: error, phase, participant: name }, 'shutdown participant failed after its phase ended');
          } else {
            failed.push({ participant: name, error });
            this.#logger.error({ err: error, phase, participant: name }, 'shutdown participant failed');
          }
        } finally {
          pending.delete(name);
          if (phaseOver) this.#logger.info({ phase, participant: name }, 'late shutdown participant finished');
        }
      }),
    );

    // Wait for the participants, the deadlines, or a force() — whichever comes first, repeatedly.
    let wake: () => void = () => undefined;
    this.#onForce = () => {
      if (!controller.signal.aborted) controller.abort(new ShutdownForcedError());
      hardDeadline = Math.min(hardDeadline, this.#now() + fastShare());
      wake();
    };
    try {
      for (;;) {
        const now = this.#now();
        if (pending.size === 0 || now >= hardDeadline) break;
        if (now >= softDeadline && !controller.signal.aborted) {
          overran = true;
          controller.abort(new TimeoutError(`shutdown phase "${phase}" used its share of ${shareMs} ms`));
        }
        const nextWake = controller.signal.aborted ? hardDeadline : softDeadline;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          settledAll,
          new Promise<void>((resolve) => {
            wake = resolve;
            timer = setTimeout(resolve, Math.max(0, nextWake - now));
          }),
        ]);
        clearTimeout(timer);
      }
    } finally {
      this.#onForce = undefined;
      phaseOver = true;
    }

    const unfinished = registrations.map((r) => r.name).filter((name) => pending.has(name));
    if (unfinished.length > 0) {
      if (!controller.signal.aborted) controller.abort(new TimeoutError(`shutdown phase "${phase}" ran out of time`));
      this.#logger.warn({ phase, unfinished, shareMs }, `shutdown phase "${phase}" left ${unfinished.length} participant(s) running`);
    }
    const result: PhaseResult = { phase, shareMs, durationMs: this.#now() - start, overran, failed, unfinished };
    return { result, itemsLeft: totalLeft() };
  }

  #emit(index: number, itemsLeft: number, overallEnd: number, done: boolean): void {
    const end = Math.min(overallEnd, this.#forcedEnd);
    this.#emitter.emit('progress', {
      phase: this.#phases[index]!,
      phaseIndex: index,
      phases: [...this.#phases],
      itemsLeft,
      budgetLeftMs: Math.max(0, end - this.#now()),
      done,
    });
  }
}
