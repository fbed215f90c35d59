import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { RangeSet, RangeSetError, type ByteRange } from './range-set.ts';

/** The naive model: one boolean per byte of a small file. */
class BitmapModel {
  readonly bits: boolean[];
  constructor(size: number) {
    this.bits = new Array<boolean>(size).fill(false);
  }
  set(start: number, end: number, value: boolean): void {
    for (let i = start; i < end; i++) this.bits[i] = value;
  }
  has(start: number, end: number): boolean {
    for (let i = start; i < end; i++) if (!this.bits[i]) return false;
    return true;
  }
  runs(value: boolean, start = 0, end = this.bits.length): ByteRange[] {
    const out: ByteRange[] = [];
    let runStart = -1;
    for (let i = start; i <= end; i++) {
      const inRun = i < end && this.bits[i] === value;
      if (inRun && runStart < 0) runStart = i;
      if (!inRun && runStart >= 0) {
        out.push({ start: runStart, end: i });
        runStart = -1;
      }
    }
    return out;
  }
  count(): number {
    return this.bits.filter(Boolean).length;
  }
}

const SIZE = 96;

function expectSameAsModel(set: RangeSet, model: BitmapModel): void {
  const ranges = set.toArray();
  expect(ranges).toEqual(model.runs(true));
  expect(set.coveredBytes).toBe(model.count());
  expect(set.rangeCount).toBe(ranges.length);
  expect(set.isEmpty).toBe(ranges.length === 0);
  for (let i = 0; i + 1 < ranges.length; i++) expect(ranges[i]!.end).toBeLessThan(ranges[i + 1]!.start);
  const restored = RangeSet.deserialize(set.serialize());
  expect(restored.equals(set)).toBe(true);
  expect(restored.coveredBytes).toBe(set.coveredBytes);
}

const rangeArb = fc
  .tuple(fc.nat({ max: SIZE }), fc.nat({ max: SIZE }))
  .map(([a, b]): [number, number] => (a <= b ? [a, b] : [b, a]));

type Real = { set: RangeSet };

class AddCommand implements fc.Command<BitmapModel, Real> {
  constructor(readonly range: [number, number]) {}
  check = () => true;
  run(model: BitmapModel, real: Real): void {
    model.set(...this.range, true);
    real.set.add(...this.range);
    expectSameAsModel(real.set, model);
  }
  toString = () => `add(${this.range.join(', ')})`;
}

class RemoveCommand implements fc.Command<BitmapModel, Real> {
  constructor(readonly range: [number, number]) {}
  check = () => true;
  run(model: BitmapModel, real: Real): void {
    model.set(...this.range, false);
    real.set.remove(...this.range);
    expectSameAsModel(real.set, model);
  }
  toString = () => `remove(${this.range.join(', ')})`;
}

class TruncateCommand implements fc.Command<BitmapModel, Real> {
  constructor(readonly size: number) {}
  check = () => true;
  run(model: BitmapModel, real: Real): void {
    model.set(this.size, SIZE, false);
    real.set.truncate(this.size);
    expectSameAsModel(real.set, model);
  }
  toString = () => `truncate(${this.size})`;
}

class QueryCommand implements fc.Command<BitmapModel, Real> {
  constructor(readonly range: [number, number]) {}
  check = () => true;
  run(model: BitmapModel, real: Real): void {
    const [start, end] = this.range;
    expect(real.set.has(start, end)).toBe(model.has(start, end));
    expect(real.set.missing(start, end)).toEqual(model.runs(false, start, end));
    expect(real.set.isComplete(end)).toBe(model.has(0, end));
    let firstMissing = start;
    while (firstMissing < SIZE && model.bits[firstMissing]) firstMissing++;
    expect(real.set.firstMissingFrom(start)).toBe(firstMissing);
    let firstPresent: number | undefined = start;
    while (firstPresent < SIZE && !model.bits[firstPresent]) firstPresent++;
    if (firstPresent === SIZE) firstPresent = undefined;
    expect(real.set.firstPresentFrom(start)).toBe(firstPresent);
  }
  toString = () => `query(${this.range.join(', ')})`;
}

describe('RangeSet against a bitmap model', () => {
  it('whole(size) covers a file of that size, nothing for an empty one', () => {
    expect([...RangeSet.whole(10)]).toEqual([{ start: 0, end: 10 }]);
    expect(RangeSet.whole(10).isComplete(10)).toBe(true);
    expect([...RangeSet.whole(0)]).toEqual([]);
  });

  it('agrees on every operation (model-based)', () => {
    const commands = [
      rangeArb.map((r) => new AddCommand(r)),
      rangeArb.map((r) => new RemoveCommand(r)),
      fc.nat({ max: SIZE }).map((n) => new TruncateCommand(n)),
      rangeArb.map((r) => new QueryCommand(r)),
    ];
    fc.assert(
      fc.property(fc.commands(commands, { maxCommands: 60 }), (cmds) => {
        fc.modelRun(() => ({ model: new BitmapModel(SIZE), real: { set: new RangeSet() } }), cmds);
      }),
      { numRuns: 1000 },
    );
  });

  it('gives the same set whatever the order of adds (property)', () => {
    fc.assert(
      fc.property(fc.array(rangeArb, { maxLength: 30 }), fc.nat(), (ranges, seed) => {
        const forward = RangeSet.from(ranges.map(([start, end]) => ({ start, end })));
        const shuffled = [...ranges].sort((a, b) => ((a[0] * 31 + a[1] + seed) % 97) - ((b[0] * 31 + b[1] + seed) % 97));
        const other = RangeSet.from(shuffled.map(([start, end]) => ({ start, end })));
        expect(other.equals(forward)).toBe(true);
      }),
    );
  });
});

describe('RangeSet', () => {
  it('coalesces adjacent and overlapping ranges', () => {
    const set = new RangeSet();
    set.add(0, 10);
    set.add(10, 20);
    expect(set.toArray()).toEqual([{ start: 0, end: 20 }]);
    set.add(30, 40);
    set.add(50, 60);
    set.add(15, 55);
    expect(set.toArray()).toEqual([{ start: 0, end: 60 }]);
    expect(set.coveredBytes).toBe(60);
  });

  it('splits a range on remove and ignores empty ranges', () => {
    const set = RangeSet.from([{ start: 0, end: 100 }]);
    set.remove(40, 60);
    set.add(5, 5);
    set.remove(70, 70);
    expect(set.toString()).toBe('0-40,60-100');
    expect(set.coveredBytes).toBe(80);
    expect(set.missing(30, 70)).toEqual([{ start: 40, end: 60 }]);
    expect(set.firstMissingFrom(10)).toBe(40);
    expect(set.firstMissingFrom(40)).toBe(40);
    expect(set.firstPresentFrom(45)).toBe(60);
    expect(set.firstPresentFrom(100)).toBeUndefined();
  });

  it('answers completeness and truncation', () => {
    const set = RangeSet.from([{ start: 0, end: 4096 }, { start: 8192, end: 9000 }]);
    expect(set.isComplete(4096)).toBe(true);
    expect(set.isComplete(4097)).toBe(false);
    expect(set.isComplete(0)).toBe(true);
    set.truncate(8500);
    expect(set.toString()).toBe('0-4096,8192-8500');
    set.truncate(100_000);
    expect(set.toString()).toBe('0-4096,8192-8500');
    set.truncate(0);
    expect(set.isEmpty).toBe(true);
    expect(set.coveredBytes).toBe(0);
  });

  it('handles offsets beyond 4 GiB exactly', () => {
    const big = 2 ** 40;
    const set = RangeSet.from([{ start: big, end: big + 10 }, { start: 0, end: 1 }]);
    expect(set.coveredBytes).toBe(11);
    const restored = RangeSet.deserialize(set.serialize());
    expect(restored.toArray()).toEqual([{ start: 0, end: 1 }, { start: big, end: big + 10 }]);
    const max = Number.MAX_SAFE_INTEGER;
    const edge = RangeSet.from([{ start: max - 1, end: max }]);
    expect(RangeSet.deserialize(edge.serialize()).equals(edge)).toBe(true);
  });

  it('refuses invalid ranges with a coded error', () => {
    const set = new RangeSet();
    const attempts: Array<() => unknown> = [
      () => set.add(5, 4),
      () => set.add(-1, 4),
      () => set.add(0, 1.5),
      () => set.remove(0, Number.NaN),
      () => set.has(0, Number.POSITIVE_INFINITY),
      () => set.truncate(-3),
      () => set.firstMissingFrom(2 ** 53),
    ];
    for (const attempt of attempts) {
      expect(attempt).toThrow(RangeSetError);
      try {
        attempt();
      } catch (error) {
        expect((error as RangeSetError).code).toBe('invalidRange');
      }
    }
  });

  it('serializes compactly', () => {
    expect(new RangeSet().serialize()).toEqual(Uint8Array.of(1));
    const whole = RangeSet.from([{ start: 0, end: 10 * 1024 ** 3 }]);
    expect(whole.serialize().length).toBeLessThanOrEqual(7);
    const sparse = new RangeSet();
    for (let i = 0; i < 1000; i++) sparse.add(i * 2 * 131072, i * 2 * 131072 + 131072);
    // a gap and a length of 128 KiB take 3 bytes each; the first range's gap of 0 takes 1
    expect(sparse.serialize().length).toBe(1 + 1 + 3 + 999 * 6);
  });

  it('rejects corrupt encodings with a coded error', () => {
    const bad = [
      Uint8Array.of(),
      Uint8Array.of(2, 0, 1),
      Uint8Array.of(1, 0),
      Uint8Array.of(1, 0, 0),
      Uint8Array.of(1, 0, 5, 0, 5),
      Uint8Array.of(1, 0x80),
      Uint8Array.of(1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1),
      Uint8Array.of(1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1),
    ];
    for (const bytes of bad) {
      expect(() => RangeSet.deserialize(bytes), String(bytes)).toThrow(
        expect.objectContaining({ code: 'corruptEncoding' }),
      );
    }
  });

  it('never accepts arbitrary bytes without either throwing a coded error or yielding a valid set (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        let set: RangeSet;
        try {
          set = RangeSet.deserialize(Uint8Array.of(1, ...bytes));
        } catch (error) {
          expect(error).toBeInstanceOf(RangeSetError);
          return;
        }
        const ranges = set.toArray();
        for (const r of ranges) expect(r.end).toBeGreaterThan(r.start);
        for (let i = 0; i + 1 < ranges.length; i++) expect(ranges[i]!.end).toBeLessThan(ranges[i + 1]!.start);
        expect(RangeSet.deserialize(set.serialize()).equals(set)).toBe(true);
      }),
    );
  });

  it('clone is independent and equals compares contents', () => {
    const a = RangeSet.from([{ start: 1, end: 3 }]);
    const b = a.clone();
    b.add(3, 4);
    expect(a.equals(b)).toBe(false);
    expect(a.toString()).toBe('1-3');
    a.add(3, 4);
    expect(a.equals(b)).toBe(true);
    a.clear();
    expect(a.isEmpty).toBe(true);
    expect(a.coveredBytes).toBe(0);
  });

  it('stays consistent with many thousands of ranges', () => {
    const set = new RangeSet();
    const chunk = 4096;
    // every other chunk, in a scrambled order
    const count = 20_000;
    for (let k = 0; k < count; k++) {
      const i = (k * 7919) % count;
      set.add(i * 2 * chunk, i * 2 * chunk + chunk);
    }
    expect(set.rangeCount).toBe(count);
    expect(set.coveredBytes).toBe(count * chunk);
    expect(set.missing(0, 4 * chunk)).toEqual([
      { start: chunk, end: 2 * chunk },
      { start: 3 * chunk, end: 4 * chunk },
    ]);
    // filling the gaps merges everything into one range
    for (let i = 0; i < count; i++) set.add(i * 2 * chunk + chunk, (i + 1) * 2 * chunk);
    expect(set.rangeCount).toBe(1);
    expect(set.isComplete(2 * count * chunk)).toBe(true);
  });
});
