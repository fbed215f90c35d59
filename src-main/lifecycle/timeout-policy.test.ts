import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { TimeoutError } from '../base/abort.ts';
import { SHUTDOWN_PHASES } from '../../src-shared/model/transfer.ts';
import { DEFAULT_TIMEOUTS, TimeoutPolicy } from './timeout-policy.ts';
import type { ShutdownPhaseBudget, TimeoutConfig } from './timeout-policy.ts';

describe('TimeoutPolicy configuration', () => {
  it('defaults to a 30 s budget over all six phases in order', () => {
    const policy = new TimeoutPolicy();
    expect(policy.config.shutdownBudgetMs).toBe(30_000);
    expect(policy.shutdownPhases.map((p) => p.name)).toEqual([...SHUTDOWN_PHASES]);
    expect(policy.ms('requestTimeoutMs')).toBe(DEFAULT_TIMEOUTS.requestTimeoutMs);
  });

  it('takes overrides from one object and freezes the result', () => {
    const policy = new TimeoutPolicy({ shutdownBudgetMs: 10_000, probeTimeoutMs: 1_500 });
    expect([policy.config.shutdownBudgetMs, policy.ms('probeTimeoutMs')]).toEqual([10_000, 1_500]);
    expect(Object.isFrozen(policy.config)).toBe(true);
    expect(Object.isFrozen(policy.config.phases)).toBe(true);
  });

  it('accepts a headless phase list without unmount', () => {
    const phases = DEFAULT_TIMEOUTS.phases.filter((p) => p.name !== 'unmount');
    expect(new TimeoutPolicy({ phases }).shutdownPhases.map((p) => p.name)).not.toContain('unmount');
  });

  it.each<[string, Partial<TimeoutConfig>]>([
    ['negative budget', { shutdownBudgetMs: -1 }],
    ['zero request timeout', { requestTimeoutMs: 0 }],
    ['no phases', { phases: [] }],
    ['zero weight', { phases: [{ name: 'uploads', weight: 0 }] }],
    ['unknown phase', { phases: [{ name: 'nap' as never, weight: 1 }] }],
    [
      'phases out of order',
      {
        phases: [
          { name: 'uploads', weight: 1 },
          { name: 'stop-sync', weight: 1 },
        ],
      },
    ],
    [
      'phase twice',
      {
        phases: [
          { name: 'uploads', weight: 1 },
          { name: 'uploads', weight: 1 },
        ],
      },
    ],
  ])('rejects %s with a coded error', (_label, overrides) => {
    expect(() => new TimeoutPolicy(overrides)).toThrow(expect.objectContaining({ code: 'INVALID_TIMEOUT_CONFIG' }));
  });
});

describe('TimeoutPolicy.signal', () => {
  it('fires with a TimeoutError naming the timeout', async () => {
    const policy = new TimeoutPolicy({ probeTimeoutMs: 5 });
    const { signal } = policy.signal('probeTimeoutMs');
    await new Promise((resolve) => signal.addEventListener('abort', resolve));
    expect(signal.reason).toBeInstanceOf(TimeoutError);
    expect((signal.reason as Error).message).toBe('probe timed out after 5 ms');
  });
});

describe('shutdown budget split', () => {
  const phasesArb = fc
    .subarray([...SHUTDOWN_PHASES], { minLength: 1 })
    .chain((names) =>
      fc.tuple(...names.map((name) => fc.integer({ min: 1, max: 20 }).map((weight): ShutdownPhaseBudget => ({ name, weight })))),
    );

  it('shares follow the weights when every phase uses its whole share', () => {
    const policy = new TimeoutPolicy({
      shutdownBudgetMs: 1_000,
      phases: [
        { name: 'stop-new-work', weight: 1 },
        { name: 'uploads', weight: 3 },
        { name: 'unmount', weight: 1 },
      ],
    });
    const first = policy.phaseShareMs(0, 1_000);
    const second = policy.phaseShareMs(1, 1_000 - first);
    const third = policy.phaseShareMs(2, 1_000 - first - second);
    expect([first, second, third]).toEqual([200, 600, 200]);
  });

  it('never hands out more than what is left, and the last phase gets all of it', () => {
    fc.assert(
      fc.property(phasesArb, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 6, maxLength: 6 }), fc.integer({ min: 1, max: 600_000 }), (phases, usedFractions, budget) => {
        const policy = new TimeoutPolicy({ shutdownBudgetMs: budget, phases });
        let remaining = budget;
        phases.forEach((_, i) => {
          const share = policy.phaseShareMs(i, remaining);
          expect(share).toBeGreaterThanOrEqual(0);
          expect(share).toBeLessThanOrEqual(remaining);
          if (i === phases.length - 1) expect(share).toBe(remaining);
          remaining -= Math.floor(share * usedFractions[i]!);
        });
      }),
    );
  });

  it('time an early phase leaves unused flows to later phases', () => {
    fc.assert(
      fc.property(phasesArb.filter((p) => p.length >= 2), fc.integer({ min: 100, max: 600_000 }), (phases, budget) => {
        const policy = new TimeoutPolicy({ shutdownBudgetMs: budget, phases });
        const fullShare = policy.phaseShareMs(0, budget);
        // Phase 0 finishes at once: phase 1 gets at least what it would have had otherwise.
        expect(policy.phaseShareMs(1, budget)).toBeGreaterThanOrEqual(policy.phaseShareMs(1, budget - fullShare));
      }),
    );
  });

  it('reserves at most half the budget for abort graces', () => {
    const policy = new TimeoutPolicy({ shutdownBudgetMs: 30_000, phaseAbortGraceMs: 1_000 });
    expect(policy.phaseGraceMs()).toBe(1_000);
    expect(policy.phaseGraceMs(1_200)).toBe(100);
    expect(new TimeoutPolicy({ phaseAbortGraceMs: 0 }).phaseGraceMs()).toBe(0);
  });
});
