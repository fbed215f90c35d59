import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AbortError, isCausedBySignal, TimeoutError } from '../base/abort.ts';
import { createMemoryLogger } from '../base/logger.ts';
import { SHUTDOWN_PHASES, ShutdownProgressSchema } from '../../src-shared/model/transfer.ts';
import type { ShutdownPhase, ShutdownProgress } from '../../src-shared/model/transfer.ts';
import { ShutdownCoordinator, ShutdownForcedError } from './shutdown-coordinator.ts';
import type { ShutdownContext } from './shutdown-coordinator.ts';
import { TaskRegistry } from './task-registry.ts';
import { TimeoutPolicy } from './timeout-policy.ts';
import type { TimeoutConfig } from './timeout-policy.ts';

const untilAborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));

function setup(config: Partial<TimeoutConfig> = {}) {
  const memory = createMemoryLogger('debug');
  const policy = new TimeoutPolicy(config);
  const coordinator = new ShutdownCoordinator({ policy, logger: memory.logger });
  const progress: ShutdownProgress[] = [];
  const progressAt: number[] = [];
  coordinator.onProgress((p) => {
    progress.push(p);
    progressAt.push(Date.now());
  });
  return { coordinator, progress, progressAt, policy, ...memory };
}

describe('ShutdownCoordinator phases', () => {
  it('runs every phase in order, participants of a phase together, and emits valid progress', async () => {
    const { coordinator, progress } = setup();
    const log: string[] = [];
    for (const phase of SHUTDOWN_PHASES) {
      for (const who of ['a', 'b']) {
        coordinator.register(phase, `${phase}/${who}`, async () => {
          log.push(`start ${phase}/${who}`);
          await new Promise((resolve) => setImmediate(resolve));
          log.push(`end ${phase}/${who}`);
        });
      }
    }
    const report = await coordinator.shutdown('test');
    expect(log).toEqual(
      SHUTDOWN_PHASES.flatMap((phase) => [`start ${phase}/a`, `start ${phase}/b`, `end ${phase}/a`, `end ${phase}/b`]),
    );
    expect(report.phases.map((p) => p.phase)).toEqual([...SHUTDOWN_PHASES]);
    expect(report.phases.every((p) => !p.overran && p.unfinished.length === 0 && p.failed.length === 0)).toBe(true);
    expect(report).toMatchObject({ reason: 'test', forced: false });
    for (const event of progress) expect(ShutdownProgressSchema.safeParse(event).success).toBe(true);
    expect(progress.map((p) => [p.phase, p.done])).toEqual([
      ...SHUTDOWN_PHASES.map((phase) => [phase, false]),
      ['unmount', true],
    ]);
    expect(coordinator.state).toBe('done');
  });

  it('sums items left across a phase’s participants in its progress events', async () => {
    const { coordinator, progress } = setup();
    coordinator.register('uploads', 'queue', async (ctx) => {
      ctx.report(3);
      ctx.report(1);
      ctx.report(0);
    });
    coordinator.register('uploads', 'sessions', async (ctx) => ctx.report(2));
    await coordinator.shutdown();
    const uploads = progress.filter((p) => p.phase === 'uploads').map((p) => p.itemsLeft);
    expect(uploads).toEqual([0, 3, 1, 0, 2]);
  });

  it('is idempotent: a second shutdown() returns the same promise and runs nothing twice', async () => {
    const { coordinator } = setup();
    let runs = 0;
    coordinator.register('save-state', 'store', async () => void runs++);
    expect(coordinator.state).toBe('idle');
    const first = coordinator.shutdown('one');
    expect(coordinator.requested.aborted).toBe(true);
    expect(coordinator.state).toBe('running');
    expect(coordinator.shutdown('two')).toBe(first);
    expect((await first).reason).toBe('one');
    expect(runs).toBe(1);
    expect(coordinator.shutdown()).toBe(first);
  });

  it('refuses unknown phases and late registrations', () => {
    const headless = new TimeoutPolicy({ phases: new TimeoutPolicy().shutdownPhases.filter((p) => p.name !== 'unmount') });
    const coordinator = new ShutdownCoordinator({ policy: headless, logger: createMemoryLogger().logger });
    expect(() => coordinator.register('unmount', 'fuse', async () => undefined)).toThrow(
      expect.objectContaining({ code: 'UNKNOWN_PHASE' }),
    );
    void coordinator.shutdown();
    expect(() => coordinator.register('uploads', 'late', async () => undefined)).toThrow(
      expect.objectContaining({ code: 'SHUTDOWN_STARTED' }),
    );
    return coordinator.shutdown();
  });

  it('unregister removes a participant', async () => {
    const { coordinator } = setup();
    let ran = false;
    const off = coordinator.register('downloads', 'pool', async () => void (ran = true));
    off();
    await coordinator.shutdown();
    expect(ran).toBe(false);
  });

  it('reports a failing participant and carries on; a stop on its own signal is not a failure', async () => {
    const { coordinator, records } = setup({ shutdownBudgetMs: 2_000, phaseAbortGraceMs: 50 });
    const boom = new Error('flush failed');
    coordinator.register('save-state', 'journal', async () => {
      throw boom;
    });
    coordinator.register('downloads', 'pool', (ctx) => untilAborted(ctx.signal).then(() => Promise.reject(ctx.signal.reason)));
    let unmounted = false;
    coordinator.register('unmount', 'fuse', async () => void (unmounted = true));
    // Downloads waits for its signal, so it overruns its share; that is a stop, not a failure.
    const report = await coordinator.shutdown();
    const byPhase = Object.fromEntries(report.phases.map((p) => [p.phase, p]));
    expect(byPhase['save-state']!.failed).toEqual([{ participant: 'journal', error: boom }]);
    expect(byPhase['downloads']).toMatchObject({ overran: true, failed: [], unfinished: [] });
    expect(unmounted).toBe(true);
    expect(records()).toContainEqual(expect.objectContaining({ level: 50, participant: 'journal', msg: 'shutdown participant failed' }));
  });

  it('a listener that throws is logged and does not disturb the shutdown', async () => {
    const { coordinator, records } = setup();
    coordinator.onProgress(() => {
      throw new Error('ui gone');
    });
    await expect(coordinator.shutdown()).resolves.toMatchObject({ forced: false });
    expect(records().filter((r) => r['msg'] === 'a shutdown progress listener failed').length).toBe(SHUTDOWN_PHASES.length + 1);
  });
});

describe('ShutdownCoordinator budget', () => {
  it('fires an overrunning phase’s signal, lets it persist, then moves on and names stragglers', async () => {
    const { coordinator } = setup({ shutdownBudgetMs: 600, phaseAbortGraceMs: 30 });
    const persisted: string[] = [];
    let uploadReason: unknown;
    coordinator.register('uploads', 'queue', async (ctx) => {
      await untilAborted(ctx.signal);
      uploadReason = ctx.signal.reason;
      persisted.push('upload offsets');
    });
    let releaseStuck!: () => void;
    coordinator.register('downloads', 'stuck', () => new Promise<void>((resolve) => (releaseStuck = resolve)));
    const later: ShutdownPhase[] = [];
    coordinator.register('save-state', 'store', async () => void later.push('save-state'));
    coordinator.register('unmount', 'fuse', async () => void later.push('unmount'));
    const report = await coordinator.shutdown();
    expect(uploadReason).toBeInstanceOf(TimeoutError);
    expect(persisted).toEqual(['upload offsets']);
    const byPhase = Object.fromEntries(report.phases.map((p) => [p.phase, p]));
    expect(byPhase['uploads']).toMatchObject({ overran: true, unfinished: [] });
    expect(byPhase['downloads']).toMatchObject({ overran: true, unfinished: ['stuck'] });
    expect(later).toEqual(['save-state', 'unmount']);
    releaseStuck();
  });

  it('gives the time an early phase did not use to the phases after it', async () => {
    const { coordinator, policy } = setup({ shutdownBudgetMs: 60_000, phaseAbortGraceMs: 1_000 });
    const report = await coordinator.shutdown();
    const workBudget = 60_000 - policy.phaseGraceMs() * SHUTDOWN_PHASES.length;
    const weights = policy.shutdownPhases.map((p) => p.weight);
    const total = weights.reduce((a, b) => a + b, 0);
    const nominalLast = (workBudget * weights.at(-1)!) / total;
    // Every phase finished at once, so the last one inherits nearly the whole work budget.
    expect(report.phases.at(-1)!.shareMs).toBeGreaterThan(nominalLast * 2);
  });

  it('force() fires the current phase’s signal and runs every later phase with a fired signal', async () => {
    const { coordinator, progress, policy } = setup({ shutdownBudgetMs: 60_000, fastExitBudgetMs: 2_000 });
    const seen: Array<[ShutdownPhase, boolean, unknown]> = [];
    const watch = (phase: ShutdownPhase) => async (ctx: ShutdownContext) => {
      seen.push([phase, ctx.signal.aborted, ctx.signal.reason]);
    };
    let uploadsContext!: ShutdownContext;
    coordinator.register('stop-sync', 'delta', watch('stop-sync'));
    coordinator.register('uploads', 'queue', async (ctx) => {
      uploadsContext = ctx;
      const before = ctx.deadline;
      void coordinator.force('second signal');
      expect(ctx.signal.aborted).toBe(true);
      expect(ctx.signal.reason).toBeInstanceOf(ShutdownForcedError);
      expect(ctx.forced).toBe(true);
      expect(ctx.deadline).toBeLessThan(before);
    });
    for (const phase of ['downloads', 'save-state', 'unmount'] as const) coordinator.register(phase, phase, watch(phase));
    const report = await coordinator.shutdown();
    expect(uploadsContext.forced).toBe(true);
    expect(report.forced).toBe(true);
    expect(seen.map(([phase, aborted]) => [phase, aborted])).toEqual([
      ['stop-sync', false],
      ['downloads', true],
      ['save-state', true],
      ['unmount', true],
    ]);
    expect(seen.slice(1).every(([, , reason]) => reason instanceof ShutdownForcedError && isCausedBySignal(reason, AbortSignal.abort(reason)))).toBe(true);
    const afterForce = progress.slice(progress.findIndex((p) => p.phase === 'downloads'));
    expect(afterForce.every((p) => p.budgetLeftMs <= policy.config.fastExitBudgetMs)).toBe(true);
  });

  it('force() before shutdown starts a forced shutdown', async () => {
    const { coordinator } = setup();
    const aborted: boolean[] = [];
    coordinator.register('uploads', 'queue', async (ctx) => void aborted.push(ctx.signal.aborted));
    const report = await coordinator.force();
    expect(report.forced).toBe(true);
    expect(aborted).toEqual([true]);
    await expect(coordinator.force()).resolves.toBe(report);
  });
});

describe('ShutdownCoordinator under any interleaving', () => {
  type Kind = 'quick' | 'reporting' | 'persist-on-abort' | 'failing';

  it('runs each participant once, phases strictly in order, with consistent progress, forced or not', async () => {
    const kind = fc.constantFrom<Kind>('quick', 'reporting', 'persist-on-abort', 'failing');
    const participants = fc.array(fc.tuple(fc.constantFrom(...SHUTDOWN_PHASES), kind, fc.integer({ min: 0, max: 3 })), {
      maxLength: 10,
    });
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), participants, fc.option(fc.nat({ max: 12 })), async (s, specs, forceAfter) => {
        const { coordinator, progress, progressAt } = setup({ shutdownBudgetMs: 300, fastExitBudgetMs: 60, phaseAbortGraceMs: 10 });
        const contexts = new Map<string, ShutdownContext>();
        const step = (label: string) => s.schedule(Promise.resolve(), label);
        const starts: Array<{ name: string; phaseIndex: number; abortedAtStart: boolean; forcedAtStart: boolean }> = [];
        const settled = new Set<string>();
        const violations: string[] = [];
        let steps = 0;
        const tick = async (label: string) => {
          await step(label);
          if (forceAfter !== null && ++steps === forceAfter) void coordinator.force();
        };
        specs.forEach(([phase, k, n], i) => {
          const name = `${phase}/${k}/${i}`;
          const phaseIndex = SHUTDOWN_PHASES.indexOf(phase);
          coordinator.register(phase, name, async (ctx) => {
            contexts.set(name, ctx);
            starts.push({ name, phaseIndex, abortedAtStart: ctx.signal.aborted, forcedAtStart: coordinator.forced });
            try {
              switch (k) {
                case 'quick':
                  for (let j = 0; j < n; j++) await tick(`${name} ${j}`);
                  return;
                case 'reporting':
                  for (let j = n; j >= 0; j--) {
                    ctx.report(j);
                    await tick(`${name} ${j}`);
                  }
                  return;
                case 'persist-on-abort':
                  await untilAborted(ctx.signal);
                  for (let j = 0; j < n; j++) await tick(`${name} persist ${j}`);
                  return;
                case 'failing':
                  await tick(`${name} fail`);
                  throw new Error(`${name} failed`);
              }
            } finally {
              settled.add(name);
            }
          });
        });
        const report = await s.waitFor(coordinator.shutdown());

        // Each participant started exactly once.
        expect(starts.map((x) => x.name).sort()).toEqual(specs.map(([p, k], i) => `${p}/${k}/${i}`).sort());
        // Phases in order: no participant starts before one of an earlier phase has started.
        starts.forEach((x, i) => {
          if (i > 0 && x.phaseIndex < starts[i - 1]!.phaseIndex) violations.push(`${x.name} started after a later phase`);
        });
        // A phase starts only after earlier phases' participants settled or were left behind.
        const leftBehind = new Set(report.phases.flatMap((p) => p.unfinished));
        for (const x of starts) {
          for (const earlier of starts.filter((y) => y.phaseIndex < x.phaseIndex)) {
            if (!settled.has(earlier.name) && !leftBehind.has(earlier.name)) violations.push(`${x.name} overlapped ${earlier.name}`);
          }
        }
        // Left behind only once the phase's deadline had passed (1 ms slack for clock rounding).
        report.phases.forEach((phase, index) => {
          const movedOnAt = progressAt[progress.findIndex((p) => p.phaseIndex > index || p.done)]!;
          for (const name of phase.unfinished) {
            if (movedOnAt < contexts.get(name)!.deadline - 1) violations.push(`${name} left behind before its deadline`);
          }
        });
        // After a force, every phase starts with its signal fired.
        for (const x of starts) if (x.forcedAtStart && !x.abortedAtStart) violations.push(`${x.name} started forced with a live signal`);
        expect(violations).toEqual([]);
        expect(report.phases.map((p) => p.phase)).toEqual([...SHUTDOWN_PHASES]);
        expect(report.forced).toBe(coordinator.forced);
        // Failures are reported unless the phase had already left the participant behind.
        const failing = specs.flatMap(([p, k], i) => (k === 'failing' ? [`${p}/${k}/${i}`] : []));
        const failed = report.phases.flatMap((p) => p.failed.map((f) => f.participant));
        expect(failed.every((name) => failing.includes(name))).toBe(true);
        expect(failing.filter((name) => !leftBehind.has(name)).every((name) => failed.includes(name))).toBe(true);
        // Progress: valid, phase index never goes back, exactly one final event.
        for (const p of progress) expect(ShutdownProgressSchema.safeParse(p).success).toBe(true);
        progress.forEach((p, i) => {
          if (i > 0) expect(p.phaseIndex).toBeGreaterThanOrEqual(progress[i - 1]!.phaseIndex);
        });
        expect(progress.filter((p) => p.done)).toHaveLength(1);
        expect(progress.at(-1)!.done).toBe(true);
        // Let stragglers end so nothing leaks into the next run.
        await s.waitIdle();
      }),
      { numRuns: 60 },
    );
  });

  it('whatever the interleaving, no task is left running after a shutdown that stops the registry', async () => {
    type TaskKind = 'loop' | 'download' | 'upload' | 'failing';
    const taskKind = fc.constantFrom<TaskKind>('loop', 'download', 'upload', 'failing');
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.tuple(taskKind, fc.nat({ max: 3 })), { maxLength: 8 }), fc.boolean(), async (s, specs, forced) => {
        const { coordinator, logger } = setup({ shutdownBudgetMs: 5_000, fastExitBudgetMs: 1_000, phaseAbortGraceMs: 50 });
        const tasks = new TaskRegistry({ logger });
        const persisted: string[] = [];
        const step = (label: string) => s.schedule(Promise.resolve(), label);
        specs.forEach(([kind, n], i) => {
          const prefix = kind === 'loop' ? 'sync:' : kind === 'download' ? 'download:' : kind === 'upload' ? 'upload:' : 'cleaner:';
          const name = `${prefix}${i}`;
          tasks.start(name, async (signal) => {
            if (kind === 'failing') {
              await step(`${name} fail`);
              throw new Error('cleaner broke');
            }
            while (!signal.aborted) await step(`${name} work`);
            if (kind === 'upload') {
              for (let j = 0; j < n; j++) await step(`${name} persist ${j}`);
              persisted.push(name);
            }
          });
        });
        const remaining = (ctx: ShutdownContext) => Math.max(0, ctx.deadline - Date.now());
        coordinator.register('stop-new-work', 'tasks', async () => tasks.close());
        coordinator.register('stop-sync', 'delta', async (ctx) => void (await tasks.stopGroup('sync:', remaining(ctx))));
        coordinator.register('uploads', 'queue', async (ctx) => {
          ctx.report(tasks.list().filter((t) => t.name.startsWith('upload:')).length);
          await tasks.stopGroup('upload:', remaining(ctx), new AbortError('persist'));
          ctx.report(tasks.list().filter((t) => t.name.startsWith('upload:')).length);
        });
        coordinator.register('downloads', 'pool', async (ctx) => void (await tasks.stopGroup('download:', remaining(ctx))));
        coordinator.register('save-state', 'all-tasks', async (ctx) => void (await tasks.stopAll(remaining(ctx))));
        const shutdown = s.schedule(Promise.resolve(), 'signal').then(() => (forced ? coordinator.force() : coordinator.shutdown()));
        const report = await s.waitFor(shutdown);
        expect(tasks.list()).toEqual([]);
        expect(tasks.closed).toBe(true);
        expect(report.phases.flatMap((p) => p.unfinished)).toEqual([]);
        expect(persisted.sort()).toEqual(specs.flatMap(([k], i) => (k === 'upload' ? [`upload:${i}`] : [])).sort());
      }),
      { numRuns: 60 },
    );
  });
});
