import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RangeSet } from './range-set.ts';
import { StoreError } from './store-error.ts';

describe('RangeSet', () => {
  it('merges overlapping and touching ranges and keeps disjoint ones apart', () => {
    const set = new RangeSet();
    set.add(10, 20);
    set.add(30, 40);
    set.add(20, 25);
    expect(set.ranges()).toEqual([[10, 25], [30, 40]]);
    set.add(5, 35);
    expect(set.ranges()).toEqual([[5, 40]]);
    set.add(0, 0);
    expect(set.rangeCount).toBe(1);
    expect(set.totalBytes).toBe(35);
  });

  it('removes holes, splitting ranges', () => {
    const set = new RangeSet([[0, 100]]);
    set.remove(10, 20);
    set.remove(90, 200);
    expect(set.ranges()).toEqual([[0, 10], [20, 90]]);
    set.remove(10, 20);
    expect(set.ranges()).toEqual([[0, 10], [20, 90]]);
    set.truncate(50);
    expect(set.ranges()).toEqual([[0, 10], [20, 50]]);
    set.truncate(0);
    expect(set.isEmpty).toBe(true);
  });

  it('answers covers and missing', () => {
    const set = new RangeSet([[0, 10], [20, 30]]);
    expect(set.covers(0, 10)).toBe(true);
    expect(set.covers(5, 25)).toBe(false);
    expect(set.covers(10, 10)).toBe(true);
    expect(set.covers(10, 11)).toBe(false);
    expect(set.missing(0, 40)).toEqual([[10, 20], [30, 40]]);
    expect(set.missing(22, 28)).toEqual([]);
    expect(set.missing(9, 21)).toEqual([[10, 20]]);
  });

  it('round-trips its serialized form and rejects malformed ones', () => {
    const set = new RangeSet([[0, 5], [7, 9], [1_000_000_000_000, 1_000_000_000_001]]);
    expect(set.serialize()).toBe('0-5,7-9,1000000000000-1000000000001');
    expect(RangeSet.parse(set.serialize()).equals(set)).toBe(true);
    expect(RangeSet.parse('').isEmpty).toBe(true);
    for (const bad of ['1-1', '5-3', '0-5,5-9', '0-5,3-9', 'x', '0-5,', '-1-2']) {
      expect(() => RangeSet.parse(bad), bad).toThrow(StoreError);
    }
    expect(() => new RangeSet().add(5, 2)).toThrow(StoreError);
  });

  it('behaves like a byte map under any sequence of adds and removes', () => {
    const size = 64;
    const op = fc.record({
      remove: fc.boolean(),
      start: fc.integer({ min: 0, max: size }),
      length: fc.integer({ min: 0, max: size }),
    });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const model: boolean[] = new Array<boolean>(size * 2).fill(false);
        const set = new RangeSet();
        for (const { remove, start, length } of ops) {
          const end = start + length;
          if (remove) set.remove(start, end);
          else set.add(start, end);
          for (let i = start; i < end; i++) model[i] = !remove;
        }
        const expected: Array<[number, number]> = [];
        for (let i = 0; i < model.length; i++) {
          if (!model[i]) continue;
          const last = expected[expected.length - 1];
          if (last && last[1] === i) last[1] = i + 1;
          else expected.push([i, i + 1]);
        }
        expect(set.ranges()).toEqual(expected);
        expect(RangeSet.parse(set.serialize()).equals(set)).toBe(true);
        const probeStart = ops[0]?.start ?? 0;
        const probeEnd = probeStart + (ops[0]?.length ?? 0);
        expect(set.covers(probeStart, probeEnd)).toBe(model.slice(probeStart, probeEnd).every(Boolean));
        const missingBytes = set.missing(probeStart, probeEnd).reduce((sum, [s, e]) => sum + e - s, 0);
        expect(missingBytes).toBe(model.slice(probeStart, probeEnd).filter((b) => !b).length);
      }),
    );
  });
});
