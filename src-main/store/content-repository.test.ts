import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RangeSet } from '../base/range-set.ts';
import { StoreError } from './store-error.ts';
import { file, folder, openTempStore, reopenStore, ROOT, type TempStore } from './testing/temp-store.ts';

let temp: TempStore;
beforeEach(() => {
  temp = openTempStore();
  temp.store.items.upsertMany([
    ROOT,
    folder('D', 'ROOT', 'docs'),
    folder('P', 'ROOT', 'pinned'),
    folder('PP', 'P', 'deeper'),
    file('A', 'D', 'a', { size: 100 }),
    file('B', 'D', 'b', { size: 100 }),
    file('C', 'PP', 'c', { size: 100 }),
    file('E', 'ROOT', 'e', { size: 100 }),
  ]);
});
afterEach(() => temp.dispose());

describe('ContentRepository', () => {
  it('moves its generation at every change of a status, version or range map, but not as downloaded ranges land', () => {
    const { content } = temp.store;
    const moves = (change: () => unknown) => {
      const before = content.generation;
      change();
      return content.generation !== before;
    };
    expect(moves(() => content.setContent('A', { status: 'partial', etag: 'e1', ctag: 'c1', ranges: new RangeSet() }))).toBe(true);
    expect(moves(() => content.addRange('A', 0, 100, 100))).toBe(false);
    expect(moves(() => content.setChanged('A', { status: 'dirty', etag: 'e1', ctag: 'c1', ranges: RangeSet.whole(100) }))).toBe(true);
    expect(moves(() => content.setStatus('A', 'complete'))).toBe(true);
    expect(moves(() => content.invalidate('A'))).toBe(true);
    expect(moves(() => content.remove('A'))).toBe(true);
    expect(moves(() => content.get('B'))).toBe(false);
  });

  it('has no state for an item never cached', () => {
    expect(temp.store.content.get('A')).toBeUndefined();
  });

  it('records a download version, then ranges until complete, and persists them', () => {
    const { content } = temp.store;
    content.setContent('A', { status: 'partial', etag: 'e1', ctag: 'c1', ranges: new RangeSet() });
    expect(content.addRange('A', 0, 40, 100)).toMatchObject({ status: 'partial', cachedBytes: 40, etag: 'e1', ctag: 'c1' });
    expect(content.addRange('A', 60, 100, 100).ranges.toArray()).toEqual([{ start: 0, end: 40 }, { start: 60, end: 100 }]);
    const done = content.addRange('A', 40, 60, 100);
    expect(done.status).toBe('complete');
    expect(done.ranges.toString()).toBe('0-100');
    temp.store.close();
    const reopened = reopenStore(temp.dbPath);
    try {
      expect(reopened.content.get('A')).toMatchObject({ status: 'complete', cachedBytes: 100, etag: 'e1' });
    } finally {
      reopened.close();
    }
  });

  it('keeps a dirty file dirty while ranges are added, and refuses to invalidate it unless forced', () => {
    const { content } = temp.store;
    content.setContent('A', { status: 'dirty', etag: 'e1', ctag: null, ranges: RangeSet.from([{ start: 0, end: 10 }]) });
    expect(content.addRange('A', 0, 100, 100).status).toBe('dirty');
    expect(() => content.invalidate('A')).toThrow(StoreError);
    expect(content.invalidate('A', { force: true })?.status).toBe('dirty');
    expect(content.get('A')).toMatchObject({ status: 'none', cachedBytes: 0, etag: null });
  });

  it('invalidates clean content and returns what it had, keeping the pin', () => {
    const { content } = temp.store;
    content.addRange('A', 0, 100, 100);
    content.setPinned('A', true);
    content.setError('A', 'EIO', 'hash mismatch');
    expect(content.invalidate('A')?.cachedBytes).toBe(100);
    expect(content.get('A')).toMatchObject({ status: 'none', pinned: true, errorCode: null, ranges: new RangeSet() });
    expect(content.invalidate('B')).toBeUndefined();
  });

  it('records and clears errors and sets status', () => {
    const { content } = temp.store;
    content.setError('A', 'UPLOAD_FAILED', 'server said no');
    expect(content.get('A')).toMatchObject({ status: 'none', errorCode: 'UPLOAD_FAILED', errorMessage: 'server said no' });
    content.clearError('A');
    expect(content.get('A')?.errorCode).toBeNull();
    content.setStatus('A', 'dirty');
    expect(content.listByStatus('dirty')).toEqual(['A']);
    expect(() => content.setStatus('A', 'weird' as never)).toThrow(StoreError);
    content.remove('A');
    expect(content.get('A')).toBeUndefined();
  });

  it('refuses content state for an unknown item', () => {
    expect(() => temp.store.content.addRange('NOPE', 0, 1, 1)).toThrow(/FOREIGN KEY/);
  });

  it('totals cached bytes over partial, complete and dirty content', () => {
    const { content } = temp.store;
    content.addRange('A', 0, 30, 100);
    content.addRange('B', 0, 100, 100);
    content.setContent('E', { status: 'dirty', etag: null, ctag: null, ranges: RangeSet.from([{ start: 0, end: 7 }]) });
    content.setPinned('C', true);
    expect(content.totalCachedBytes()).toBe(137);
  });

  it('lists eviction candidates by last access, skipping dirty, pinned and pinned-folder content', () => {
    const { content } = temp.store;
    for (const id of ['A', 'B', 'C', 'E']) content.addRange(id, 0, 100, 100);
    content.touchMany([
      { itemId: 'A', atMs: 300 },
      { itemId: 'B', atMs: 100 },
      { itemId: 'C', atMs: 50 },
      { itemId: 'E', atMs: 200 },
    ]);
    content.touch('B', 50); // never moves backwards
    content.setPinned('P', true); // covers C, two levels down
    expect(content.listEvictionCandidates(10).map((c) => c.itemId)).toEqual(['B', 'E', 'A']);
    expect(content.isEffectivelyPinned('C')).toBe(true);
    expect(content.pinnedAncestorOf('C')).toBe('P');
    expect(content.isEffectivelyPinned('A')).toBe(false);
    expect(content.listPinned()).toEqual(['P']);

    content.setPinned('E', true);
    content.setStatus('A', 'dirty');
    expect(content.listEvictionCandidates(10)).toEqual([
      { itemId: 'B', inode: temp.store.items.get('B')!.inode, status: 'complete', cachedBytes: 100, lastAccessMs: 100 },
    ]);
    content.setPinned('P', false);
    content.setPinned('E', false);
    const first = content.listEvictionCandidates(2);
    expect(first.map((c) => c.itemId)).toEqual(['C', 'B']);
    const last = first[first.length - 1]!;
    expect(content.listEvictionCandidates(2, last).map((c) => c.itemId)).toEqual(['E']);
  });

  it('fills a page past many candidates under a pinned folder', () => {
    const { items, content } = temp.store;
    items.upsertMany(Array.from({ length: 30 }, (_, i) => file(`P${i}`, 'PP', `p${i}`)));
    for (let i = 0; i < 30; i++) {
      content.addRange(`P${i}`, 0, 10, 10);
      content.touch(`P${i}`, i);
    }
    content.addRange('A', 0, 10, 100);
    content.touch('A', 1_000);
    content.setPinned('P', true);
    expect(content.listEvictionCandidates(5).map((c) => c.itemId)).toEqual(['A']);
  });
});
