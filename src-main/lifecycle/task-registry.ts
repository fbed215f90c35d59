import { abortReason, AbortError, isCausedBySignal, linkedController } from '../base/abort.ts';
import type { LinkedController } from '../base/abort.ts';
import { settledWithin } from '../base/deadline.ts';
import { OneMountError } from '../base/errors.ts';
import type { Logger } from '../base/logger.ts';

export type TaskState = 'running' | 'stopping';

export interface TaskInfo {
  readonly id: number;
  readonly name: string;
  /** Epoch milliseconds. */
  readonly startedAt: number;
  readonly state: TaskState;
}

/** How a task ended. `stopped`: it ended because its signal fired (returned or threw the abort). */
export type TaskOutcome =
  | { readonly status: 'completed' }
  | { readonly status: 'stopped'; readonly reason: unknown }
  | { readonly status: 'failed'; readonly error: unknown };

export interface TaskHandle {
  readonly id: number;
  readonly name: string;
  readonly signal: AbortSignal;
  /** Settles when the task has ended; never rejects (failures are reported, see TaskRegistry). */
  readonly done: Promise<TaskOutcome>;
  abort(reason?: unknown): void;
}

export interface StartTaskOptions {
  /** An extra parent signal (e.g. a per-account signal); the registry's own always applies. */
  signal?: AbortSignal;
}

export interface StopResult {
  /** Tasks still running when the deadline passed (they stay listed until they end). */
  readonly unfinished: readonly TaskInfo[];
}

export interface TaskRegistryOptions {
  logger: Logger;
  /** Called for every task failure (after it is logged). */
  onError?: (error: unknown, task: TaskInfo) => void;
  now?: () => number;
}

/** Starting a task after the registry was closed (shutdown has begun). */
export class TaskRegistryClosedError extends OneMountError {
  constructor(name: string) {
    super('TASK_REGISTRY_CLOSED', `cannot start task "${name}": the task registry is closed (shutting down)`);
  }
}

interface TaskEntry {
  readonly id: number;
  readonly name: string;
  readonly startedAt: number;
  readonly controller: LinkedController;
  done?: Promise<TaskOutcome>;
}

/**
 * Every background loop and worker runs through here: named, with its own AbortSignal derived from
 * the registry's, listed while it runs, its failure reported rather than unhandled, and awaited on
 * shutdown. Names are grouped by prefix ("download:01ABC" is in group "download:").
 */
export class TaskRegistry {
  readonly #logger: Logger;
  readonly #onError: ((error: unknown, task: TaskInfo) => void) | undefined;
  readonly #now: () => number;
  readonly #controller = new AbortController();
  readonly #tasks = new Map<number, TaskEntry>();
  #nextId = 1;
  #closed = false;

  constructor(options: TaskRegistryOptions) {
    this.#logger = options.logger;
    this.#onError = options.onError;
    this.#now = options.now ?? Date.now;
  }

  /** Fires when stopAll begins; every task's signal derives from it. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Starts `run` as a named task. Throws TaskRegistryClosedError once the registry is closed. */
  start(name: string, run: (signal: AbortSignal) => Promise<void>, options: StartTaskOptions = {}): TaskHandle {
    if (this.#closed) throw new TaskRegistryClosedError(name);
    return this.#begin(name, run, options);
  }

  /**
   * Lists and awaits, like a task, work that is already running and that its owner does not await
   * itself (a reader's read-ahead, a cancelled download winding down). Allowed after close(): the
   * work runs whether or not it is adopted, and refusing it would only hide it from the count. Its
   * outcome is not reported as a failure: the owner handles it where the work was started.
   */
  adopt(name: string, work: Promise<unknown>): TaskHandle {
    return this.#begin(name, () =>
      work.then(
        () => undefined,
        () => undefined,
      ),
    );
  }

  #begin(name: string, run: (signal: AbortSignal) => Promise<void>, options: StartTaskOptions = {}): TaskHandle {
    if (name.length === 0) throw new OneMountError('TASK_NAME_EMPTY', 'a task needs a name');
    const entry: TaskEntry = {
      id: this.#nextId++,
      name,
      startedAt: this.#now(),
      controller: linkedController(this.#controller.signal, options.signal),
    };
    this.#tasks.set(entry.id, entry);
    const { signal } = entry.controller;
    const running = (async (): Promise<void> => run(signal))();
    const done = running.then(
      () => this.#settle(entry, signal.aborted ? { status: 'stopped', reason: signal.reason } : { status: 'completed' }),
      (error: unknown) =>
        this.#settle(entry, isCausedBySignal(error, signal) ? { status: 'stopped', reason: signal.reason } : { status: 'failed', error }),
    );
    entry.done = done;
    return { id: entry.id, name, signal, done, abort: (reason?: unknown) => entry.controller.abort(reason ?? new AbortError(`task "${name}" aborted`)) };
  }

  /** How many tasks are running (or stopping) now: zero after a complete shutdown. */
  get size(): number {
    return this.#tasks.size;
  }

  /** Resolves once no task whose name starts with `prefix` runs, including ones started meanwhile. */
  async whenIdle(prefix = ''): Promise<void> {
    for (let group = this.#group(prefix); group.length > 0; group = this.#group(prefix)) {
      await Promise.all(group.map((entry) => entry.done));
    }
  }

  /** The tasks running now, oldest first. */
  list(): TaskInfo[] {
    return [...this.#tasks.values()].map(info);
  }

  /** Aborts every task whose name starts with `prefix`; returns the tasks it signalled. */
  abortGroup(prefix: string, reason?: unknown): TaskInfo[] {
    const group = this.#group(prefix);
    for (const entry of group) {
      entry.controller.abort(reason ?? new AbortError(`tasks "${prefix}*" aborted`));
    }
    return group.map(info);
  }

  /** Aborts the group and waits up to `deadlineMs` for its tasks to end. */
  async stopGroup(prefix: string, deadlineMs: number, reason?: unknown): Promise<StopResult> {
    const group = this.#group(prefix);
    this.abortGroup(prefix, reason);
    return this.#await(group, deadlineMs, `group "${prefix}"`);
  }

  /** Refuses new tasks from now on; running tasks continue. */
  close(): void {
    this.#closed = true;
  }

  /** Closes the registry, aborts every task and waits up to `deadlineMs` for them to end. */
  async stopAll(deadlineMs: number, reason?: unknown): Promise<StopResult> {
    this.close();
    if (!this.#controller.signal.aborted) this.#controller.abort(reason ?? new AbortError('shutting down'));
    return this.#await([...this.#tasks.values()], deadlineMs, 'all tasks');
  }

  #group(prefix: string): TaskEntry[] {
    return [...this.#tasks.values()].filter((entry) => entry.name.startsWith(prefix));
  }

  async #await(entries: TaskEntry[], deadlineMs: number, what: string): Promise<StopResult> {
    await settledWithin(Promise.all(entries.map((entry) => entry.done)), deadlineMs);
    const unfinished = entries.filter((entry) => this.#tasks.has(entry.id)).map(info);
    if (unfinished.length > 0) {
      this.#logger.warn(
        { unfinished: unfinished.map((task) => task.name), deadlineMs },
        `stopping ${what}: ${unfinished.length} task(s) did not finish in time`,
      );
    }
    return { unfinished };
  }

  #settle(entry: TaskEntry, outcome: TaskOutcome): TaskOutcome {
    const snapshot = info(entry);
    this.#tasks.delete(entry.id);
    entry.controller.dispose();
    if (outcome.status === 'failed') {
      this.#logger.error({ err: outcome.error, task: entry.name, taskId: entry.id }, `task "${entry.name}" failed`);
      if (this.#onError) {
        try {
          this.#onError(outcome.error, snapshot);
        } catch (hookError) {
          this.#logger.error({ err: hookError, task: entry.name }, 'the task error hook itself failed');
        }
      }
    } else {
      this.#logger.debug({ task: entry.name, taskId: entry.id, status: outcome.status }, `task "${entry.name}" ended`);
    }
    return outcome;
  }
}

function info(entry: TaskEntry): TaskInfo {
  return {
    id: entry.id,
    name: entry.name,
    startedAt: entry.startedAt,
    state: entry.controller.signal.aborted ? 'stopping' : 'running',
  };
}

/**
 * Runs one piece of work as a named task (so shutdown lists and stops it) and hands its outcome
 * back to the caller like a plain call: its error is the caller's to handle (a failed download or
 * upload is not a failed engine task), a stop surfaces as the abort reason.
 */
export async function runAsTask(
  tasks: TaskRegistry,
  name: string,
  signal: AbortSignal,
  work: (signal: AbortSignal) => Promise<void>,
): Promise<void> {
  let failure: { error: unknown } | undefined;
  const handle = tasks.start(
    name,
    async (taskSignal) => {
      try {
        await work(taskSignal);
      } catch (error) {
        failure = { error };
      }
    },
    { signal },
  );
  const outcome = await handle.done;
  if (failure) throw failure.error;
  if (outcome.status === 'stopped') throw abortReason(handle.signal);
}

/** runAsTask for work with a result: the result comes back, the error is the caller's. */
export async function resultAsTask<T>(tasks: TaskRegistry, name: string, signal: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  let result: { value: T } | undefined;
  await runAsTask(tasks, name, signal, async (taskSignal) => {
    result = { value: await work(taskSignal) };
  });
  return result!.value;
}
