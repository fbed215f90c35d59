/**
 * Turns one whole delta batch (every page up to the deltaLink) into what to apply: the last
 * occurrence of each id, parents resolved by id across the whole batch and the store, and the live
 * records ordered parents first, so that any cut of the list into chunks applies cleanly
 * (docs/graph-api.md §5, §15 #6).
 */
import type { DriveItem } from '../graph/index.ts';
import type { ItemRecord } from '../store/index.ts';
import type { LoopYielder } from './loop-yielder.ts';
import { isTombstone, mapDriveItem, type DeltaTombstone, type GoneReason, type MapOptions } from './drive-item-mapping.ts';

export interface PlanOptions extends MapOptions {
  /**
   * A full enumeration: every live item is in the batch, so a parent must be in it too; one found
   * only in the store is stale and its children are orphans.
   */
  full: boolean;
  /** Whether the store holds an item with this id. */
  inStore(id: string): boolean;
  yielder: LoopYielder;
}

export interface DeltaPlan {
  /** Live records, every parent before its children. */
  upserts: ItemRecord[];
  /** Items to remove from the store (those it holds or not), with why. */
  removals: Map<string, GoneReason>;
  /** Ids of every live record in the batch (the seen set of a full enumeration). */
  live: Set<string>;
  /** The root's id, when the batch carried the root. */
  rootId: string | undefined;
}

export async function planBatch(items: readonly DriveItem[], options: PlanOptions): Promise<DeltaPlan> {
  const latest = new Map<string, ItemRecord | DeltaTombstone>();
  let rootId: string | undefined;
  for (let i = 0; i < items.length; i++) {
    if (options.yielder.due) await options.yielder.yield();
    const mapped = mapDriveItem(items[i]!, options);
    // The last occurrence wins (§5); deleting first keeps the insertion order meaningless either way.
    latest.delete(mapped.id);
    latest.set(mapped.id, mapped);
    if (!isTombstone(mapped) && mapped.parentId === null) rootId = mapped.id;
  }

  const removals = new Map<string, GoneReason>();
  const records = new Map<string, ItemRecord>();
  for (const [id, value] of latest) {
    if (isTombstone(value)) removals.set(id, value.reason);
    else records.set(id, value);
  }
  await options.yielder.maybeYield();

  const resolved = resolveParents(records, removals, options);
  await options.yielder.maybeYield();

  const upserts: ItemRecord[] = [];
  const live = new Set<string>();
  const emitted = new Set<string>();
  for (const [id, record] of records) {
    if (options.yielder.due) await options.yielder.yield();
    if (!resolved.get(id)) {
      removals.set(id, 'orphan');
      continue;
    }
    live.add(id);
    if (emitted.has(id)) continue;
    // Walk up to the first ancestor already placed (or outside the batch), then place the chain top-down.
    const chain: ItemRecord[] = [];
    let current: ItemRecord | undefined = record;
    while (current !== undefined && !emitted.has(current.id)) {
      chain.push(current);
      current = current.parentId === null ? undefined : records.get(current.parentId);
    }
    for (let i = chain.length - 1; i >= 0; i--) {
      const link = chain[i]!;
      emitted.add(link.id);
      upserts.push(link);
    }
  }
  return { upserts, removals, live, rootId };
}

/**
 * For each live record: does its parent chain end at the root or at an item the store holds (not
 * one removed by this batch)? Memoised along each chain, so the whole batch costs O(n).
 */
function resolveParents(
  records: ReadonlyMap<string, ItemRecord>,
  removals: ReadonlyMap<string, GoneReason>,
  options: Pick<PlanOptions, 'full' | 'inStore'>,
): Map<string, boolean> {
  const memo = new Map<string, boolean>();
  const onChain = new Set<string>();
  for (const id of records.keys()) {
    if (memo.has(id)) continue;
    const chain: string[] = [];
    let answer: boolean | undefined;
    let currentId = id;
    for (;;) {
      const known = memo.get(currentId);
      if (known !== undefined) {
        answer = known;
        break;
      }
      if (onChain.has(currentId)) {
        // A parent cycle: the batch contradicts itself; none of it can be placed.
        answer = false;
        break;
      }
      const record = records.get(currentId)!;
      chain.push(currentId);
      onChain.add(currentId);
      if (record.parentId === null) {
        answer = true;
        break;
      }
      const parentId = record.parentId;
      if (records.has(parentId)) {
        currentId = parentId;
        continue;
      }
      answer = !removals.has(parentId) && !options.full && options.inStore(parentId);
      break;
    }
    for (const link of chain) {
      memo.set(link, answer);
      onChain.delete(link);
    }
  }
  return memo;
}
