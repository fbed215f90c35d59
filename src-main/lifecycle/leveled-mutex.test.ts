import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { AbortError } from '../base/abort.ts';
import { LockLevels, lockOrder } from './lock-levels.ts';
import type { LockLevel } from './lock-levels.ts';
import {
  LeveledMutex,
  LockOrderError,
  LockReentranceError,
  LockTracker,
  lockChecksFromEnv,
  withLock,
  withLocks,
} from './leveled-mutex.ts';

const tick = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('LockLevels', () => {
  it('declares distinct levels in one order', () => {
    const ranks = Object.values(LockLevels);
    expect(new Set(ranks).size).toBe(ranks.length);
    expect(lockOrder()).toEqual(['sync.delta', 'vfs.tree', 'vfs.inode', 'vfs.content', 'transfers.queue', 'auth.token', 'store']);
  });
});

describe('LeveledMutex order checking', () => {
  it('allows nesting in increasing level order and reports what is held', async () => {
    const tracker = new LockTracker({ checking: true });
    const tree = tracker.mutex('vfs.tree');
    const inode = tracker.mutex('vfs.inode', 'inode:42');
    const store = tracker.mutex('store');
    const seen = await withLock(tree, () =>
      withLock(inode, async () => {
        await tick();
        return withLock(store, () => tracker.held().map((h) => h.name));
      }),
    );
    expect(seen).toEqual(['vfs.tree', 'inode:42', 'store']);
    expect(tracker.held()).toEqual([]);
    expect([tree.isLocked(), inode.isLocked(), store.isLocked()]).toEqual([false, false, false]);
  });

  it('catches a deliberate inversion and names both locks', async () => {
    const tracker = new LockTracker({ checking: true });
    const tree = tracker.mutex('vfs.tree');
    const content = tracker.mutex('vfs.content', 'content:01ABC');
    const error = await withLock(content, () => withLock(tree, () => 'unreachable')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockOrderError);
    const orderError = error as LockOrderError;
    expect(orderError.code).toBe('LOCK_ORDER');
    expect(orderError.held).toBe('content:01ABC');
    expect(orderError.acquiring).toBe('vfs.tree');
    expect(orderError.message).toContain('holding "content:01ABC" (vfs.content, level 40), acquiring "vfs.tree" (level 20)');
    // The failed acquisition left nothing locked.
    expect([tree.isLocked(), content.isLocked()]).toEqual([false, false]);
  });

  it('names the highest held lock when several are held', async () => {
    const tracker = new LockTracker({ checking: true });
    const [tree, inode, queue] = [tracker.mutex('vfs.tree'), tracker.mutex('vfs.inode', 'inode:7'), tracker.mutex('transfers.queue')];
    const error = await withLock(tree, () => withLock(queue, () => withLock(inode, () => 0))).catch((e: unknown) => e);
    expect(error).toMatchObject({ held: 'transfers.queue', acquiring: 'inode:7' });
  });

  it('refuses two locks of one level taken one inside the other', async () => {
    const tracker = new LockTracker({ checking: true });
    const a = tracker.mutex('vfs.inode', 'inode:1');
    const b = tracker.mutex('vfs.inode', 'inode:2');
    await expect(withLock(a, () => withLock(b, () => 0))).rejects.toMatchObject({ code: 'LOCK_ORDER', held: 'inode:1', acquiring: 'inode:2' });
  });

  it('withLocks takes same-level locks as a batch; opposite batches do not deadlock', async () => {
    const tracker = new LockTracker({ checking: true });
    const tree = tracker.mutex('vfs.tree');
    const a = tracker.mutex('vfs.inode', 'inode:1');
    const b = tracker.mutex('vfs.inode', 'inode:2');
    const order: string[] = [];
    const run = (locks: LeveledMutex[], label: string) =>
      withLocks(locks, async () => {
        order.push(`${label}:in:${tracker.held().map((h) => h.name).join(',')}`);
        await tick();
        order.push(`${label}:out`);
      });
    await withLock(tree, () => Promise.all([run([a, b], 'x'), run([b, a], 'y')]));
    expect(order).toEqual(['x:in:vfs.tree,inode:1,inode:2', 'x:out', 'y:in:vfs.tree,inode:1,inode:2', 'y:out']);
    // A batch is still checked against what is held.
    await expect(withLock(tracker.mutex('store'), () => withLocks([a, b], () => 0))).rejects.toBeInstanceOf(LockOrderError);
  });

  it('does not check order when checking is off (production), but still refuses re-entrance', async () => {
    const tracker = new LockTracker({ checking: false });
    const tree = tracker.mutex('vfs.tree');
    const content = tracker.mutex('vfs.content');
    await expect(withLock(content, () => withLock(tree, () => 'ok'))).resolves.toBe('ok');
    await expect(withLock(tree, () => withLock(tree, () => 'never'))).rejects.toBeInstanceOf(LockReentranceError);
  });
});

describe('re-entrance', () => {
  it('is rejected clearly instead of deadlocking', async () => {
    const tracker = new LockTracker({ checking: true });
    const inode = tracker.mutex('vfs.inode', 'inode:9');
    const error = await withLock(inode, async () => {
      await tick();
      return withLock(inode, () => 'never');
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockReentranceError);
    expect((error as LockReentranceError).message).toBe(
      'lock re-entered: "inode:9" (vfs.inode, level 30) is already held by this async context',
    );
    expect(inode.isLocked()).toBe(false);
  });

  it('rejects the same lock twice in one batch', async () => {
    const tracker = new LockTracker({ checking: true });
    const inode = tracker.mutex('vfs.inode');
    await expect(withLocks([inode, inode], () => 0)).rejects.toBeInstanceOf(LockReentranceError);
  });
});

describe('async context isolation', () => {
  it('concurrent contexts do not see each other’s locks', async () => {
    const tracker = new LockTracker({ checking: true });
    const tree = tracker.mutex('vfs.tree');
    const content = tracker.mutex('vfs.content', 'content:1');
    let releaseFirst!: () => void;
    const gate = new Promise<void>((resolve) => (releaseFirst = resolve));
    // Context A holds the high-level content lock for a while…
    const a = withLock(content, () => gate);
    await tick();
    expect(content.isLocked()).toBe(true);
    // …while context B (a second FUSE callback) takes the low-level tree lock: not an inversion.
    const b = withLock(tree, () => tracker.held().map((h) => h.name));
    await expect(b).resolves.toEqual(['vfs.tree']);
    expect(tracker.held()).toEqual([]);
    releaseFirst();
    await a;
  });

  it('work that outlives its critical section does not keep the lock in its context', async () => {
    const tracker = new LockTracker({ checking: true });
    const content = tracker.mutex('vfs.content');
    const tree = tracker.mutex('vfs.tree');
    let escaped!: Promise<string[]>;
    await withLock(content, () => {
      escaped = (async () => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        // The critical section is over by now: taking the tree lock is fine here.
        return withLock(tree, () => tracker.held().map((h) => h.name));
      })();
    });
    await expect(escaped).resolves.toEqual(['vfs.tree']);
  });

  it('runUnlocked starts work with a clean slate from inside a critical section', async () => {
    const tracker = new LockTracker({ checking: true });
    const content = tracker.mutex('vfs.content');
    const tree = tracker.mutex('vfs.tree');
    const inner = await withLock(content, () =>
      tracker.runUnlocked(() => withLock(tree, () => tracker.held().map((h) => h.name))),
    );
    expect(inner).toEqual(['vfs.tree']);
  });

  it('any interleaving of correctly ordered contexts: no false positives, mutual exclusion holds', async () => {
    const levels = lockOrder();
    // Each operation takes an increasing chain of locks; instances are shared between operations.
    const lockChoice = fc.record({ level: fc.constantFrom(...levels), instance: fc.integer({ min: 0, max: 1 }) });
    const operation = fc.uniqueArray(lockChoice, { minLength: 1, maxLength: 4, selector: (c) => c.level });
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(operation, { minLength: 2, maxLength: 6 }), async (s, operations) => {
        const tracker = new LockTracker({ checking: true });
        const locks = new Map<string, LeveledMutex>();
        const lockFor = (level: LockLevel, instance: number) => {
          const key = `${level}#${instance}`;
          if (!locks.has(key)) locks.set(key, tracker.mutex(level, key));
          return locks.get(key)!;
        };
        const inside = new Map<LeveledMutex, number>();
        const violations: string[] = [];
        const nest = async (chain: LeveledMutex[], index: number): Promise<void> => {
          const lock = chain[index];
          if (!lock) return;
          await withLock(lock, async () => {
            inside.set(lock, (inside.get(lock) ?? 0) + 1);
            if (inside.get(lock)! > 1) violations.push(`two holders of ${lock.name}`);
            const expected = chain.slice(0, index + 1).map((l) => l.name);
            if (tracker.held().map((h) => h.name).join() !== expected.join()) violations.push(`held mismatch at ${lock.name}`);
            await s.schedule(Promise.resolve(), `in ${lock.name}`);
            await nest(chain, index + 1);
            inside.set(lock, inside.get(lock)! - 1);
          });
        };
        const runs = operations.map((op) => {
          const chain = [...op]
            .sort((x, y) => LockLevels[x.level] - LockLevels[y.level])
            .map((c) => lockFor(c.level, c.instance));
          return s.schedule(Promise.resolve(), 'start').then(() => nest(chain, 0));
        });
        await s.waitFor(Promise.all(runs));
        expect(violations).toEqual([]);
        expect([...locks.values()].some((l) => l.isLocked())).toBe(false);
      }),
      { numRuns: 150 },
    );
  });
});

describe('waiting with a signal', () => {
  it('stops waiting when aborted and does not leak the lock', async () => {
    const tracker = new LockTracker({ checking: true });
    const inode = tracker.mutex('vfs.inode');
    let release!: () => void;
    const holder = withLock(inode, () => new Promise<void>((resolve) => (release = resolve)));
    await tick();
    const controller = new AbortController();
    let ran = false;
    const waiter = withLock(inode, () => void (ran = true), controller.signal);
    controller.abort(new AbortError('gave up'));
    await expect(waiter).rejects.toThrow('gave up');
    release();
    await holder;
    await expect(withLock(inode, () => 'free again')).resolves.toBe('free again');
    expect(ran).toBe(false);
  });
});

describe('lockChecksFromEnv', () => {
  it('defaults to on outside production and honours the override', () => {
    expect(lockChecksFromEnv({})).toBe(true);
    expect(lockChecksFromEnv({ NODE_ENV: 'test' })).toBe(true);
    expect(lockChecksFromEnv({ NODE_ENV: 'production' })).toBe(false);
    expect(lockChecksFromEnv({ NODE_ENV: 'production', ONEMOUNT_LOCK_CHECKS: '1' })).toBe(true);
    expect(lockChecksFromEnv({ ONEMOUNT_LOCK_CHECKS: '0' })).toBe(false);
  });
});

describe('foreign locks', () => {
  it('refuses a lock from another tracker in a batch', async () => {
    const one = new LockTracker({ checking: true });
    const other = new LockTracker({ checking: true });
    await expect(withLocks([one.mutex('vfs.inode', 'a'), other.mutex('vfs.inode', 'b')], () => 0)).rejects.toMatchObject({
      code: 'LOCK_FOREIGN',
    });
  });
});

describe('isHeldByCurrentContext', () => {
  it('is true only inside this lock’s critical section, in this context', async () => {
    const tracker = new LockTracker({ checking: true });
    const a = tracker.mutex('vfs.inode', 'same-name');
    const b = tracker.mutex('vfs.inode', 'same-name');
    expect(a.isHeldByCurrentContext()).toBe(false);
    const inside = await withLock(a, () => [a.isHeldByCurrentContext(), b.isHeldByCurrentContext()]);
    expect(inside).toEqual([true, false]);
  });
});
