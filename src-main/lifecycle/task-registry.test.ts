import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AbortError, abortableSleep } from '../base/abort.ts';
import { resultAsTask, TaskRegistry, TaskRegistryClosedError } from './task-registry.ts';
import type { TaskHandle, TaskInfo } from './task-registry.ts';
import { createMemoryLogger as memoryLogger } from '../base/logger.ts';

/** A task body that runs until its signal fires, then ends the polite way (by returning). */
const untilAborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));

function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function registry(extra: Partial<ConstructorParameters<typeof TaskRegistry>[0]> = {}) {
  const { logger, records } = memoryLogger();
  const errors: Array<[unknown, TaskInfo]> = [];
  let clock = 1_000;
  const tasks = new TaskRegistry({ logger, onError: (error, task) => errors.push([error, task]), now: () => clock++, ...extra });
  return { tasks, errors, records };
}

describe('TaskRegistry', () => {
  it('lists running tasks with name, start time and state, and forgets them when they end', async () => {
    const { tasks } = registry();
    const gate = deferred();
    const handle = tasks.start('delta-loop', () => gate.promise);
    tasks.start('cleaner', untilAborted);
    expect(tasks.list()).toEqual([
      { id: handle.id, name: 'delta-loop', startedAt: 1_000, state: 'running' },
      { id: handle.id + 1, name: 'cleaner', startedAt: 1_001, state: 'running' },
    ]);
    gate.resolve();
    await expect(handle.done).resolves.toEqual({ status: 'completed' });
    expect(tasks.list().map((t) => t.name)).toEqual(['cleaner']);
    await tasks.stopAll(10_000);
  });

  it('reports a failing task through the logger and onError, never as an unhandled rejection', async () => {
    const { tasks, errors, records } = registry();
    const boom = new Error('disk on fire');
    const handle = tasks.start('upload:01X', async () => {
      await Promise.resolve();
      throw boom;
    });
    await expect(handle.done).resolves.toEqual({ status: 'failed', error: boom });
    expect(errors).toEqual([[boom, expect.objectContaining({ name: 'upload:01X', state: 'running' })]]);
    expect(records()).toContainEqual(
      expect.objectContaining({ level: 50, task: 'upload:01X', msg: 'task "upload:01X" failed', err: expect.objectContaining({ message: 'disk on fire' }) }),
    );
  });

  it('treats a synchronous throw in the task body as a failure of the task, not of start()', async () => {
    const { tasks, errors } = registry();
    const handle = tasks.start('sync-thrower', () => {
      throw new Error('sync');
    });
    await expect(handle.done).resolves.toMatchObject({ status: 'failed' });
    expect(errors).toHaveLength(1);
  });

  it('an abort that surfaces as an error is a stop, not a failure', async () => {
    const { tasks, errors } = registry();
    const handle = tasks.start('probe', (signal) => abortableSleep(60_000, signal));
    const reason = new AbortError('user paused');
    handle.abort(reason);
    await expect(handle.done).resolves.toEqual({ status: 'stopped', reason });
    expect(errors).toEqual([]);
  });

  it('logs a failing onError hook instead of losing either error', async () => {
    const { logger, records } = memoryLogger();
    const tasks = new TaskRegistry({
      logger,
      onError: () => {
        throw new Error('hook broke');
      },
    });
    await tasks.start('t', () => Promise.reject(new Error('task broke'))).done;
    const messages = records().map((r) => r['msg']);
    expect(messages).toEqual(expect.arrayContaining(['task "t" failed', 'the task error hook itself failed']));
  });

  it('aborts a group by name prefix only', async () => {
    const { tasks } = registry();
    const a = tasks.start('download:1', untilAborted);
    const b = tasks.start('download:2', untilAborted);
    const c = tasks.start('upload:1', untilAborted);
    const aborted = tasks.abortGroup('download:');
    expect(aborted.map((t) => [t.name, t.state])).toEqual([
      ['download:1', 'stopping'],
      ['download:2', 'stopping'],
    ]);
    await expect(Promise.all([a.done, b.done])).resolves.toEqual([
      expect.objectContaining({ status: 'stopped' }),
      expect.objectContaining({ status: 'stopped' }),
    ]);
    expect(c.signal.aborted).toBe(false);
    expect(tasks.list().map((t) => t.name)).toEqual(['upload:1']);
    await tasks.stopAll(10_000);
  });

  it('stopGroup waits for the group and reports stragglers', async () => {
    const { tasks } = registry();
    tasks.start('download:polite', untilAborted);
    const stubborn = deferred();
    tasks.start('download:stubborn', () => stubborn.promise);
    const result = await tasks.stopGroup('download:', 20);
    expect(result.unfinished.map((t) => [t.name, t.state])).toEqual([['download:stubborn', 'stopping']]);
    expect(tasks.closed).toBe(false);
    stubborn.resolve();
    await tasks.stopAll(10_000);
    expect(tasks.list()).toEqual([]);
  });

  it('stopAll aborts everything, waits within the deadline, and names what did not finish', async () => {
    const { tasks, records } = registry();
    const polite = tasks.start('delta-loop', untilAborted);
    const stubborn = deferred();
    const ignoring = tasks.start('legacy-worker', () => stubborn.promise);
    const result = await tasks.stopAll(30);
    expect(polite.signal.aborted && ignoring.signal.aborted).toBe(true);
    await expect(polite.done).resolves.toMatchObject({ status: 'stopped' });
    expect(result.unfinished.map((t) => t.name)).toEqual(['legacy-worker']);
    expect(tasks.list()).toEqual([expect.objectContaining({ name: 'legacy-worker', state: 'stopping' })]);
    expect(records()).toContainEqual(expect.objectContaining({ level: 40, unfinished: ['legacy-worker'] }));
    stubborn.resolve();
    await expect(ignoring.done).resolves.toMatchObject({ status: 'stopped' });
    expect(tasks.list()).toEqual([]);
  });

  it('refuses new tasks once closed, with a clear error', async () => {
    const { tasks } = registry();
    await tasks.stopAll(1_000);
    expect(() => tasks.start('late', untilAborted)).toThrow(TaskRegistryClosedError);
    expect(() => tasks.start('late', untilAborted)).toThrow('cannot start task "late": the task registry is closed (shutting down)');
  });

  it('aborts a task when its extra parent signal fires', async () => {
    const { tasks } = registry();
    const account = new AbortController();
    const handle = tasks.start('delta-loop:account-a', untilAborted, { signal: account.signal });
    account.abort(new AbortError('signed out'));
    await expect(handle.done).resolves.toMatchObject({ status: 'stopped' });
    expect(tasks.signal.aborted).toBe(false);
  });
});

describe('TaskRegistry under any interleaving', () => {
  type Kind = 'loop' | 'finite' | 'failing' | 'spawner' | 'rejects-on-abort';

  it('after stopAll no task is left running, every outcome is accounted for, and nothing starts after close', async () => {
    const kinds = fc.constantFrom<Kind>('loop', 'finite', 'failing', 'spawner', 'rejects-on-abort');
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.tuple(kinds, fc.integer({ min: 0, max: 4 })), { minLength: 1, maxLength: 8 }), async (s, specs) => {
        const { tasks, errors } = registry();
        const handles: Array<[Kind, TaskHandle]> = [];
        const refusedAfterClose: string[] = [];
        const step = (label: string) => s.schedule(Promise.resolve(), label);

        const body = (kind: Kind, steps: number, name: string) => async (signal: AbortSignal) => {
          switch (kind) {
            case 'loop':
              while (!signal.aborted) await step(`${name} tick`);
              return;
            case 'finite':
              for (let i = 0; i < steps && !signal.aborted; i++) await step(`${name} step ${i}`);
              return;
            case 'failing':
              for (let i = 0; i < steps; i++) await step(`${name} step ${i}`);
              throw new Error(`${name} failed`);
            case 'spawner':
              for (let i = 0; i < steps; i++) {
                await step(`${name} spawn ${i}`);
                try {
                  handles.push(['finite', tasks.start(`${name}/child${i}`, body('finite', 2, `${name}/child${i}`))]);
                } catch (error) {
                  if (!(error instanceof TaskRegistryClosedError)) throw error;
                  if (!tasks.closed) throw new Error('refused while open');
                  refusedAfterClose.push(name);
                  return;
                }
              }
              return;
            case 'rejects-on-abort':
              await step(`${name} wait`);
              await abortableSleep(60_000, signal);
              return;
          }
        };

        specs.forEach(([kind, steps], i) => {
          const name = `${kind}:${i}`;
          handles.push([kind, tasks.start(name, body(kind, steps, name))]);
        });
        const stopped = s.schedule(Promise.resolve(), 'stopAll').then(() => tasks.stopAll(60_000));
        const result = await s.waitFor(stopped);

        expect(result.unfinished).toEqual([]);
        expect(tasks.list()).toEqual([]);
        const outcomes = await Promise.all(handles.map(([, handle]) => handle.done));
        handles.forEach(([kind], i) => {
          const status = outcomes[i]!.status;
          if (kind === 'failing') expect(status).toBe('failed');
          else if (kind === 'loop' || kind === 'rejects-on-abort') expect(status).toBe('stopped');
          else expect(['completed', 'stopped']).toContain(status);
        });
        expect(errors.map(([, task]) => task.name).sort()).toEqual(
          handles.filter(([kind]) => kind === 'failing').map(([, h]) => h.name).sort(),
        );
        expect(() => tasks.start('after', async () => undefined)).toThrow(TaskRegistryClosedError);
      }),
      { numRuns: 100 },
    );
  });
});

describe('adopted work and idle groups', () => {
  it('lists adopted work until it settles, even after close, and never reports its failure', async () => {
    const { logger } = memoryLogger();
    const errors: unknown[] = [];
    const tasks = new TaskRegistry({ logger, onError: (e) => errors.push(e) });
    const work = deferred();
    tasks.adopt('download-readahead:A', work.promise);
    expect(tasks.size).toBe(1);
    tasks.close();
    const late = deferred();
    tasks.adopt('download-cancel:A', late.promise);
    expect(tasks.list().map((t) => t.name)).toEqual(['download-readahead:A', 'download-cancel:A']);
    work.reject(new Error('a read-ahead that failed is its owner\'s business'));
    late.resolve();
    await tasks.whenIdle();
    expect(tasks.size).toBe(0);
    expect(errors).toEqual([]);
  }, 10_000);

  it('whenIdle(prefix) waits for the group, including tasks started while it waits', async () => {
    const { logger } = memoryLogger();
    const tasks = new TaskRegistry({ logger });
    const first = deferred();
    const second = deferred();
    const other = deferred();
    tasks.start('download:1', () => first.promise);
    tasks.start('upload:1', () => other.promise);
    let idle = false;
    const waiting = tasks.whenIdle('download').then(() => (idle = true));
    tasks.start('download:2', () => second.promise);
    first.resolve();
    await new Promise((r) => setImmediate(r));
    expect(idle).toBe(false);
    second.resolve();
    await waiting;
    expect(tasks.list().map((t) => t.name)).toEqual(['upload:1']);
    other.resolve();
    await tasks.whenIdle();
    expect(tasks.size).toBe(0);
  }, 10_000);
});

describe('resultAsTask', () => {
  it('runs the work as a listed task and hands back its result or its error', async () => {
    const { logger } = memoryLogger();
    const errors: unknown[] = [];
    const tasks = new TaskRegistry({ logger, onError: (e) => errors.push(e) });
    const gate = deferred();
    const answer = resultAsTask(tasks, 'ipc:pin', tasks.signal, async () => {
      await gate.promise;
      return 42;
    });
    expect(tasks.list().map((t) => t.name)).toEqual(['ipc:pin']);
    gate.resolve();
    await expect(answer).resolves.toBe(42);
    await expect(
      resultAsTask(tasks, 'ipc:free', tasks.signal, async () => {
        throw new Error('no such folder');
      }),
    ).rejects.toThrow('no such folder');
    // The caller's error is not an engine task failure.
    expect(errors).toEqual([]);
    expect(tasks.size).toBe(0);
  }, 10_000);
});
