import { describe, expect, it } from 'vitest';
import { EventEmitter } from 'node:events';
import { createMemoryLogger } from '../base/logger.ts';
import { ShutdownCoordinator } from './shutdown-coordinator.ts';
import { installShutdownSignals } from './shutdown-signals.ts';
import { TimeoutPolicy } from './timeout-policy.ts';

function setup() {
  const { logger, records } = createMemoryLogger();
  const coordinator = new ShutdownCoordinator({ policy: new TimeoutPolicy({ shutdownBudgetMs: 60_000 }), logger });
  const source = new EventEmitter();
  const uninstall = installShutdownSignals(coordinator, { logger, source });
  return { coordinator, source, uninstall, records };
}

describe('installShutdownSignals', () => {
  it('first signal shuts down, second forces, later ones are only logged', async () => {
    const { coordinator, source, uninstall, records } = setup();
    let started!: () => void;
    const uploadsStarted = new Promise<void>((resolve) => (started = resolve));
    const forcedSeen: boolean[] = [];
    coordinator.register('uploads', 'queue', (ctx) => {
      started();
      // Stays busy until the second signal forces the exit, then "persists" and returns.
      return new Promise<void>((resolve) =>
        ctx.signal.addEventListener('abort', () => {
          forcedSeen.push(ctx.forced);
          resolve();
        }),
      );
    });
    source.emit('SIGTERM', 'SIGTERM');
    expect(coordinator.state).toBe('running');
    await uploadsStarted;
    expect(coordinator.forced).toBe(false);
    source.emit('SIGINT', 'SIGINT');
    expect(coordinator.forced).toBe(true);
    source.emit('SIGHUP', 'SIGHUP');
    const report = await coordinator.shutdown();
    expect(report).toMatchObject({ reason: 'received SIGTERM', forced: true });
    expect(forcedSeen).toEqual([true]);
    expect(records().map((r) => r['msg'])).toEqual(
      expect.arrayContaining([
        'received SIGTERM: shutting down',
        'received SIGINT again: forcing a fast exit',
        'received SIGHUP: fast exit already under way, persisting unfinished work',
      ]),
    );
    uninstall();
  });

  it('uninstall removes every handler', () => {
    const { coordinator, source, uninstall } = setup();
    expect(['SIGTERM', 'SIGINT', 'SIGHUP'].map((s) => source.listenerCount(s))).toEqual([1, 1, 1]);
    uninstall();
    expect(['SIGTERM', 'SIGINT', 'SIGHUP'].map((s) => source.listenerCount(s))).toEqual([0, 0, 0]);
    source.emit('SIGTERM', 'SIGTERM');
    expect(coordinator.state).toBe('idle');
  });

  it('works with the real process object', async () => {
    const { logger } = createMemoryLogger();
    const coordinator = new ShutdownCoordinator({ policy: new TimeoutPolicy(), logger });
    const before = process.listenerCount('SIGHUP');
    const uninstall = installShutdownSignals(coordinator, { logger, signals: ['SIGHUP'] });
    try {
      expect(process.listenerCount('SIGHUP')).toBe(before + 1);
      const delivered = new Promise((resolve) => process.once('SIGHUP', resolve));
      process.kill(process.pid, 'SIGHUP');
      await delivered;
      expect(coordinator.state).not.toBe('idle');
      await expect(coordinator.shutdown()).resolves.toMatchObject({ reason: 'received SIGHUP' });
    } finally {
      uninstall();
    }
    expect(process.listenerCount('SIGHUP')).toBe(before);
  });
});
