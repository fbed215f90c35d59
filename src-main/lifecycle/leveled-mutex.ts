import { AsyncLocalStorage } from 'node:async_hooks';
import { Mutex } from 'async-mutex';
import type { MutexInterface } from 'async-mutex';
import { raceWithSignal } from '../base/abort.ts';
import { OneMountError } from '../base/errors.ts';
import { LockLevels, lockOrder } from './lock-levels.ts';
import type { LockLevel } from './lock-levels.ts';

/** Acquiring a lock whose level is not above every lock already held (a potential deadlock). */
export class LockOrderError extends OneMountError {
  readonly held: string;
  readonly acquiring: string;

  constructor(held: LeveledMutex, acquiring: LeveledMutex) {
    super(
      'LOCK_ORDER',
      `lock order violation: holding ${describe(held)}, acquiring ${describe(acquiring)}; ` +
        `locks must be taken in the order ${lockOrder().join(' < ')} ` +
        `(same-level locks together only through withLocks)`,
    );
    this.held = held.name;
    this.acquiring = acquiring.name;
  }
}

/** Acquiring a lock the same async context already holds: with a plain mutex that waits forever. */
export class LockReentranceError extends OneMountError {
  readonly lock: string;

  constructor(lock: LeveledMutex) {
    super('LOCK_REENTRANCE', `lock re-entered: ${describe(lock)} is already held by this async context`);
    this.lock = lock.name;
  }
}

function describe(lock: LeveledMutex): string {
  return lock.name === lock.level ? `"${lock.name}" (level ${lock.rank})` : `"${lock.name}" (${lock.level}, level ${lock.rank})`;
}

/** One acquisition in one async context; `released` turns true when its critical section ends. */
interface HeldEntry {
  readonly lock: LeveledMutex;
  released: boolean;
}

export interface HeldLockInfo {
  readonly name: string;
  readonly level: LockLevel;
}

export interface LockTrackerOptions {
  /** Check lock order at run time (development and tests). Re-entrance is always refused. */
  checking: boolean;
}

/**
 * Whether lock-order checks run, from the environment: ONEMOUNT_LOCK_CHECKS=1/0 decides when set,
 * otherwise everything but NODE_ENV=production checks.
 */
export function lockChecksFromEnv(env: NodeJS.ProcessEnv): boolean {
  const explicit = env['ONEMOUNT_LOCK_CHECKS'];
  if (explicit === '1' || explicit === 'true') return true;
  if (explicit === '0' || explicit === 'false') return false;
  return env['NODE_ENV'] !== 'production';
}

/**
 * Records which leveled locks each async context holds (AsyncLocalStorage: a FUSE callback, a
 * task and a timer each see only their own) and checks new acquisitions against them. One tracker
 * per engine, created by the composition root; every LeveledMutex belongs to one tracker.
 */
export class LockTracker {
  readonly checking: boolean;
  readonly #storage = new AsyncLocalStorage<readonly HeldEntry[]>();
  #nextId = 0;

  constructor(options: LockTrackerOptions) {
    this.checking = options.checking;
  }

  /** A new lock of `level`; `name` tells instances apart in errors (`inode:42`). */
  mutex(level: LockLevel, name?: string): LeveledMutex {
    return new LeveledMutex(this, level, name);
  }

  /** The locks the current async context holds, in acquisition order. */
  held(): HeldLockInfo[] {
    return this.#live().map(({ lock }) => ({ name: lock.name, level: lock.level }));
  }

  /** True when the current async context holds `lock`. */
  holds(lock: LeveledMutex): boolean {
    return this.#live().some((entry) => entry.lock === lock);
  }

  /**
   * Runs `fn` in a context that holds no locks. For work that outlives the critical section it
   * was started from (a background task spawned under a lock must not inherit that lock).
   */
  runUnlocked<T>(fn: () => T): T {
    return this.#storage.run([], fn);
  }

  /** @internal serial number used to order same-named locks deterministically. */
  nextId(): number {
    return this.#nextId++;
  }

  /** Acquires `locks` (a batch, taken in level-then-name order), runs `fn`, releases. */
  async runExclusive<T>(locks: readonly LeveledMutex[], fn: () => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    const batch = this.#prepare(locks);
    const releasers: MutexInterface.Releaser[] = [];
    const entries: HeldEntry[] = batch.map((lock) => ({ lock, released: false }));
    try {
      for (const lock of batch) releasers.push(await lock.acquireRaw(signal));
      return await this.#storage.run([...this.#live(), ...entries], fn);
    } finally {
      for (const entry of entries) entry.released = true;
      for (const release of releasers.reverse()) release();
    }
  }

  #live(): HeldEntry[] {
    return (this.#storage.getStore() ?? []).filter((entry) => !entry.released);
  }

  #prepare(locks: readonly LeveledMutex[]): LeveledMutex[] {
    if (locks.length === 0) throw new OneMountError('LOCK_EMPTY_BATCH', 'withLocks needs at least one lock');
    const batch = [...new Set(locks)].sort((a, b) => a.rank - b.rank || compareNames(a, b));
    const held = this.#live();
    for (const lock of batch) {
      if (lock.tracker !== this) {
        throw new OneMountError('LOCK_FOREIGN', `lock "${lock.name}" belongs to another lock tracker`);
      }
      if (held.some((entry) => entry.lock === lock)) throw new LockReentranceError(lock);
    }
    if (batch.length !== locks.length) {
      throw new LockReentranceError(locks.find((lock, i) => locks.indexOf(lock) !== i)!);
    }
    if (this.checking) {
      const highest = held.reduce<HeldEntry | undefined>(
        (top, entry) => (top === undefined || entry.lock.rank >= top.lock.rank ? entry : top),
        undefined,
      );
      const first = batch[0]!;
      if (highest && first.rank <= highest.lock.rank) throw new LockOrderError(highest.lock, first);
    }
    return batch;
  }
}

function compareNames(a: LeveledMutex, b: LeveledMutex): number {
  if (a.name !== b.name) return a.name < b.name ? -1 : 1;
  return a.id - b.id;
}

/** An async mutex (async-mutex) with a declared level, checked by its LockTracker. Not re-entrant. */
export class LeveledMutex {
  readonly tracker: LockTracker;
  readonly level: LockLevel;
  readonly name: string;
  readonly rank: number;
  /** @internal */
  readonly id: number;
  readonly #mutex = new Mutex();

  constructor(tracker: LockTracker, level: LockLevel, name: string = level) {
    this.tracker = tracker;
    this.level = level;
    this.name = name;
    this.rank = LockLevels[level];
    this.id = tracker.nextId();
  }

  /** Runs `fn` holding this lock. Waiting stops with the signal's reason when it fires. */
  runExclusive<T>(fn: () => T | Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.tracker.runExclusive([this], fn, signal);
  }

  isLocked(): boolean {
    return this.#mutex.isLocked();
  }

  /** True when the current async context holds this lock. */
  isHeldByCurrentContext(): boolean {
    return this.tracker.holds(this);
  }

  /** @internal acquire without checks; only LockTracker.runExclusive calls this. */
  async acquireRaw(signal?: AbortSignal): Promise<MutexInterface.Releaser> {
    const acquiring = this.#mutex.acquire();
    if (!signal) return acquiring;
    try {
      return await raceWithSignal(acquiring, signal);
    } catch (error) {
      // We stopped waiting, but the mutex will still hand us the lock: give it straight back.
      void acquiring.then((release) => release());
      throw error;
    }
  }
}

/** Runs `fn` holding `lock`. */
export function withLock<T>(lock: LeveledMutex, fn: () => T | Promise<T>, signal?: AbortSignal): Promise<T> {
  return lock.runExclusive(fn, signal);
}

/**
 * Runs `fn` holding all `locks`, taken in level-then-name order so that two batches over the same
 * locks can never deadlock. The only way to hold two locks of one level at once.
 */
export function withLocks<T>(locks: readonly LeveledMutex[], fn: () => T | Promise<T>, signal?: AbortSignal): Promise<T> {
  const tracker = locks[0]?.tracker;
  if (!tracker) return Promise.reject(new OneMountError('LOCK_EMPTY_BATCH', 'withLocks needs at least one lock'));
  return tracker.runExclusive(locks, fn, signal);
}
