import { OneMountError } from './errors.ts';

/** Raised when work stops because its AbortSignal fired without a more specific reason. */
export class AbortError extends OneMountError {
  constructor(message = 'the operation was aborted', options?: { cause?: unknown }) {
    super('ABORTED', message, options);
  }
}

/** Raised (as an abort reason) when a deadline passes. */
export class TimeoutError extends OneMountError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TIMEOUT', message, options);
  }
}

/**
 * True for every flavour of "aborted" the engine meets: ours, DOMException('AbortError') from
 * `AbortController.abort()`, Node's internal AbortError (`code: 'ABORT_ERR'`) from fs/timers/streams
 * and undici's.
 */
export function isAbortError(error: unknown): boolean {
  if (error instanceof AbortError) return true;
  if (typeof error !== 'object' || error === null) return false;
  const { name, code } = error as { name?: unknown; code?: unknown };
  return name === 'AbortError' || code === 'ABORT_ERR';
}

/** True for our TimeoutError and DOMException('TimeoutError') from `AbortSignal.timeout`. */
export function isTimeoutError(error: unknown): boolean {
  if (error instanceof TimeoutError) return true;
  if (typeof error !== 'object' || error === null) return false;
  return (error as { name?: unknown }).name === 'TimeoutError';
}

/**
 * True when `error` is the consequence of `signal` firing: the signal's own reason, or any abort
 * error thrown while the signal is aborted. Used to tell a requested stop from a failure.
 */
export function isCausedBySignal(error: unknown, signal: AbortSignal): boolean {
  return signal.aborted && (error === signal.reason || isAbortError(error) || isTimeoutError(error));
}

/** The error to throw for an aborted signal: its reason, or an AbortError when it has none. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new AbortError();
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortReason(signal);
}

/** The callers waiting on one signal, behind the single 'abort' listener that serves them all. */
interface Hub {
  readonly waiters: Set<() => void>;
  readonly fire: () => void;
}

const hubs = new WeakMap<AbortSignal, Hub>();

/**
 * Calls `listener` when `signal` aborts; returns the function that stops waiting. However many
 * callers wait on one signal at once (every running task on the registry's signal, every read on
 * the offline signal), the signal carries one 'abort' listener, so a busy engine neither trips
 * Node's MaxListenersExceededWarning nor makes the signal's own listener list grow with the load.
 * An aborted signal never fires again: the caller checks `signal.aborted` first (nothing is
 * registered then).
 */
export function onAbort(signal: AbortSignal, listener: () => void): () => void {
  if (signal.aborted) return () => undefined;
  let hub = hubs.get(signal);
  if (!hub) {
    const waiters = new Set<() => void>();
    const fire = (): void => {
      hubs.delete(signal);
      let failure: { error: unknown } | undefined;
      // A waiter that another waiter removed while this runs is not called (as EventTarget does).
      for (const waiter of [...waiters]) {
        if (!waiters.delete(waiter)) continue;
        try {
          waiter();
        } catch (error) {
          failure ??= { error };
        }
      }
      // One throwing waiter must not starve the rest; its error still surfaces, as it would have
      // from an EventTarget listener.
      if (failure) {
        const { error } = failure;
        queueMicrotask(() => {
          throw error;
        });
      }
    };
    hub = { waiters, fire };
    hubs.set(signal, hub);
    signal.addEventListener('abort', fire, { once: true });
  }
  const own = hub;
  // A wrapper per call: the same function may wait twice and must be removed once per wait.
  const waiter = (): void => listener();
  own.waiters.add(waiter);
  return () => {
    if (!own.waiters.delete(waiter) || own.waiters.size > 0 || hubs.get(signal) !== own) return;
    hubs.delete(signal);
    signal.removeEventListener('abort', own.fire);
  };
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it fires. */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortReason(signal));
      return;
    }
    const timer = setTimeout(() => {
      unsubscribe();
      resolve();
    }, Math.max(0, ms));
    const unsubscribe = signal
      ? onAbort(signal, () => {
          clearTimeout(timer);
          reject(abortReason(signal));
        })
      : () => undefined;
  });
}

/**
 * Settles like `promise`, or rejects with the signal's reason when the signal fires first. The
 * promise itself keeps running; use this to stop *waiting* for work that cannot be cancelled.
 */
export function raceWithSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    // The caller stops waiting; the promise's own outcome is still observed so it cannot go unhandled.
    promise.catch(() => undefined);
    return Promise.reject(abortReason(signal));
  }
  return new Promise<T>((resolve, reject) => {
    const unsubscribe = onAbort(signal, () => reject(abortReason(signal)));
    promise.then(
      (value) => {
        unsubscribe();
        resolve(value);
      },
      (error: unknown) => {
        unsubscribe();
        reject(error);
      },
    );
  });
}

/** A derived signal whose links to its sources can be cut once the work it guards is done. */
export interface LinkedSignal {
  readonly signal: AbortSignal;
  /** Removes the listeners on the source signals (the derived signal stays as it is). */
  dispose(): void;
}

/** A controller that also aborts when any parent aborts; `dispose()` unlinks it from the parents. */
export interface LinkedController extends LinkedSignal {
  abort(reason?: unknown): void;
}

/**
 * Why not `AbortSignal.any`: on Node 20 every signal it derives stays referenced by its sources
 * until they abort (measured on 20.20: 1 000 000 dependants kept after GC), so deriving a signal
 * per request from the long-lived shutdown signal leaks. These links are explicit and disposable.
 */
export function linkedController(...parents: Array<AbortSignal | undefined>): LinkedController {
  const controller = new AbortController();
  const sources = parents.filter((s): s is AbortSignal => s !== undefined);
  const unsubscribers: Array<() => void> = [];
  const dispose = (): void => {
    for (const unsubscribe of unsubscribers.splice(0)) unsubscribe();
  };
  const abort = (reason?: unknown): void => {
    dispose();
    controller.abort(reason);
  };
  const alreadyAborted = sources.find((s) => s.aborted);
  if (alreadyAborted) {
    controller.abort(alreadyAborted.reason);
  } else {
    for (const source of sources) unsubscribers.push(onAbort(source, () => abort(source.reason)));
  }
  return { signal: controller.signal, abort, dispose };
}

/** A signal that fires when any of `signals` fires (undefined entries are ignored). */
export function anySignal(...signals: Array<AbortSignal | undefined>): LinkedSignal {
  const { signal, dispose } = linkedController(...signals);
  return { signal, dispose };
}

/**
 * A signal that fires with a TimeoutError after `ms`, or earlier when `parent` fires. `dispose()`
 * clears the timer as well as the parent link.
 */
export function timeoutSignal(ms: number, parent?: AbortSignal, what = 'operation'): LinkedSignal {
  const linked = linkedController(parent);
  if (linked.signal.aborted) return linked;
  const timer = setTimeout(() => linked.abort(new TimeoutError(`${what} timed out after ${ms} ms`)), Math.max(0, ms));
  // A pending timeout must not keep the process alive on its own.
  timer.unref();
  const stopTimer = (): void => clearTimeout(timer);
  linked.signal.addEventListener('abort', stopTimer, { once: true });
  return {
    signal: linked.signal,
    dispose: () => {
      clearTimeout(timer);
      linked.signal.removeEventListener('abort', stopTimer);
      linked.dispose();
    },
  };
}
