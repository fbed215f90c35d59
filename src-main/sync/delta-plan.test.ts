import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { DriveItem } from '../graph/index.ts';
import { planBatch, type PlanOptions } from './delta-plan.ts';
import { LoopYielder } from './loop-yielder.ts';

const root: DriveItem = { id: 'R', name: 'root', root: {}, folder: {} };
const folder = (id: string, parent: string, name = id): DriveItem => ({ id, name, folder: {}, parentReference: { id: parent } });
const file = (id: string, parent: string, name = id): DriveItem => ({ id, name, file: {}, size: 1, parentReference: { id: parent } });
const gone = (id: string): DriveItem => ({ id, deleted: {} });

function options(store: readonly string[] = [], extra: Partial<PlanOptions> = {}): PlanOptions {
  const known = new Set(store);
  return { full: false, inStore: (id) => known.has(id), yielder: new LoopYielder(5), ...extra };
}

describe('planBatch', () => {
  it('keeps the last occurrence of an item', async () => {
    const plan = await planBatch([file('A', 'R', 'first'), gone('B'), file('A', 'R', 'second'), file('B', 'R')], options(['R']));
    expect(plan.upserts.map((r) => r.name)).toEqual(['second', 'B']);
    expect(plan.removals.size).toBe(0);
    const dropped = await planBatch([file('A', 'R'), gone('A')], options(['R']));
    expect(dropped.upserts).toEqual([]);
    expect([...dropped.removals]).toEqual([['A', 'deleted']]);
  });

  it('orders parents before children when the batch lists children first', async () => {
    const plan = await planBatch([file('f', 'B'), folder('B', 'A'), folder('A', 'R'), root], options());
    expect(plan.upserts.map((r) => r.id)).toEqual(['R', 'A', 'B', 'f']);
    expect(plan.rootId).toBe('R');
  });

  it('treats items whose parent is in neither the batch nor the store, or removed, as orphans', async () => {
    const plan = await planBatch([file('a', 'nowhere'), folder('D', 'R'), gone('X'), file('b', 'X'), file('c', 'D')], options(['R', 'X']));
    expect(plan.upserts.map((r) => r.id)).toEqual(['D', 'c']);
    expect(Object.fromEntries(plan.removals)).toEqual({ a: 'orphan', X: 'deleted', b: 'orphan' });
  });

  it('refuses a parent cycle instead of looping', async () => {
    const plan = await planBatch([folder('A', 'B'), folder('B', 'A'), file('c', 'A')], options(['R']));
    expect(plan.upserts).toEqual([]);
    expect(Object.fromEntries(plan.removals)).toEqual({ A: 'orphan', B: 'orphan', c: 'orphan' });
  });

  it('in a full enumeration places only items whose parents are listed too', async () => {
    const plan = await planBatch([root, file('a', 'R'), file('b', 'stale')], options(['R', 'stale'], { full: true }));
    expect(plan.upserts.map((r) => r.id)).toEqual(['R', 'a']);
    expect([...plan.live].sort()).toEqual(['R', 'a']);
    expect(plan.removals.get('b')).toBe('orphan');
  });

  it('places every item of any shuffled tree, each after its parent', async () => {
    // A random tree: node i > 0 hangs below a folder with a smaller index (node 0 is the root).
    const tree = fc.integer({ min: 1, max: 60 }).chain((n) =>
      fc
        .tuple(fc.array(fc.nat(), { minLength: n, maxLength: n }), fc.boolean(), fc.array(fc.nat(), { minLength: n + 2, maxLength: n + 2 }))
        .map(([picks, dup, shuffle]) => ({ picks, dup, shuffle })),
    );
    await fc.assert(
      fc.asyncProperty(tree, async ({ picks, dup, shuffle }) => {
        const items: DriveItem[] = [root];
        picks.forEach((pick, i) => items.push(folder(`n${i + 1}`, i === 0 ? 'R' : pick % (i + 1) === 0 ? 'R' : `n${pick % (i + 1)}`)));
        if (dup) items.push({ ...items[items.length - 1]!, name: 'renamed' });
        const shuffled = items.map((item, i) => ({ item, key: shuffle[i]! })).sort((a, b) => a.key - b.key).map((x) => x.item);
        // Duplicates keep their relative order: the later one stays last.
        if (dup) {
          const last = shuffled.filter((i) => i.name === 'renamed')[0]!;
          shuffled.splice(shuffled.indexOf(last), 1);
          shuffled.push(last);
        }
        const plan = await planBatch(shuffled, options());
        expect(plan.upserts).toHaveLength(picks.length + 1);
        const position = new Map(plan.upserts.map((r, i) => [r.id, i]));
        for (const record of plan.upserts) {
          if (record.parentId !== null) expect(position.get(record.parentId)!).toBeLessThan(position.get(record.id)!);
        }
        if (dup) expect(plan.upserts.find((r) => r.id === `n${picks.length}`)?.name).toBe('renamed');
      }),
      { numRuns: 200 },
    );
  });
});
