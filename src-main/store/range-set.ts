import { StoreError } from './store-error.ts';

/** A half-open byte range [start, end). */
export type ByteRange = readonly [start: number, end: number];

/**
 * The byte ranges of a file that are present locally: sorted, disjoint, never touching (touching
 * ranges are merged), each half-open [start, end). Kept as one flat array of boundaries so a
 * file with many holes costs two numbers per range and lookups are binary searches.
 *
 * Serialized as `start-end,start-end` in decimal; the empty set is the empty string.
 */
export class RangeSet {
  /** [s0, e0, s1, e1, …] with s0 < e0 < s1 < e1 < … */
  #bounds: number[];

  constructor(ranges: Iterable<ByteRange> = []) {
    this.#bounds = [];
    for (const [start, end] of ranges) this.add(start, end);
  }

  static parse(text: string): RangeSet {
    const set = new RangeSet();
    if (text === '') return set;
    const bounds: number[] = [];
    for (const part of text.split(',')) {
      const match = /^(\d+)-(\d+)$/.exec(part);
      if (!match) throw new StoreError('BAD_RANGES', `malformed byte range "${part}" in "${text}"`);
      const start = Number(match[1]);
      const end = Number(match[2]);
      const previousEnd = bounds.length > 0 ? bounds[bounds.length - 1]! : -1;
      if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start >= end || start <= previousEnd) {
        throw new StoreError('BAD_RANGES', `byte ranges out of order or empty at "${part}" in "${text}"`);
      }
      bounds.push(start, end);
    }
    set.#bounds = bounds;
    return set;
  }

  serialize(): string {
    const parts: string[] = [];
    for (let i = 0; i < this.#bounds.length; i += 2) parts.push(`${this.#bounds[i]}-${this.#bounds[i + 1]}`);
    return parts.join(',');
  }

  /** Number of disjoint ranges. */
  get rangeCount(): number {
    return this.#bounds.length / 2;
  }

  get isEmpty(): boolean {
    return this.#bounds.length === 0;
  }

  /** Sum of the lengths of all ranges. */
  get totalBytes(): number {
    let total = 0;
    for (let i = 0; i < this.#bounds.length; i += 2) total += this.#bounds[i + 1]! - this.#bounds[i]!;
    return total;
  }

  ranges(): ByteRange[] {
    const out: ByteRange[] = [];
    for (let i = 0; i < this.#bounds.length; i += 2) out.push([this.#bounds[i]!, this.#bounds[i + 1]!]);
    return out;
  }

  clone(): RangeSet {
    const copy = new RangeSet();
    copy.#bounds = this.#bounds.slice();
    return copy;
  }

  equals(other: RangeSet): boolean {
    return this.#bounds.length === other.#bounds.length && this.#bounds.every((b, i) => b === other.#bounds[i]);
  }

  add(start: number, end: number): void {
    checkRange(start, end);
    if (start === end) return;
    // First range whose end reaches start (touching counts, so [0,5)+[5,9) merge).
    const first = this.#firstRangeEndingAtOrAfter(start);
    // Ranges first..last-1 overlap or touch [start, end).
    let last = first;
    while (last < this.rangeCount && this.#bounds[2 * last]! <= end) last++;
    if (first === last) {
      this.#bounds.splice(2 * first, 0, start, end);
      return;
    }
    const mergedStart = Math.min(start, this.#bounds[2 * first]!);
    const mergedEnd = Math.max(end, this.#bounds[2 * last - 1]!);
    this.#bounds.splice(2 * first, 2 * (last - first), mergedStart, mergedEnd);
  }

  /** Removes [start, end) from the set, splitting a range when the hole falls inside it. */
  remove(start: number, end: number): void {
    checkRange(start, end);
    if (start === end) return;
    const replacement: number[] = [];
    let first = this.#firstRangeEndingAtOrAfter(start);
    // A range that merely touches `start` is not affected.
    if (first < this.rangeCount && this.#bounds[2 * first + 1] === start) first++;
    let last = first;
    while (last < this.rangeCount && this.#bounds[2 * last]! < end) last++;
    if (first === last) return;
    const firstStart = this.#bounds[2 * first]!;
    const lastEnd = this.#bounds[2 * last - 1]!;
    if (firstStart < start) replacement.push(firstStart, start);
    if (lastEnd > end) replacement.push(end, lastEnd);
    this.#bounds.splice(2 * first, 2 * (last - first), ...replacement);
  }

  /** Drops everything at or beyond `size` (a file was truncated). */
  truncate(size: number): void {
    checkRange(0, size);
    const last = this.#bounds.length > 0 ? this.#bounds[this.#bounds.length - 1]! : 0;
    if (last > size) this.remove(size, last);
  }

  /** True when every byte of [start, end) is present. An empty range is always present. */
  covers(start: number, end: number): boolean {
    checkRange(start, end);
    if (start === end) return true;
    const i = this.#firstRangeEndingAtOrAfter(start + 1);
    return i < this.rangeCount && this.#bounds[2 * i]! <= start && this.#bounds[2 * i + 1]! >= end;
  }

  /** The parts of [start, end) that are not present, in order. */
  missing(start: number, end: number): ByteRange[] {
    checkRange(start, end);
    const gaps: ByteRange[] = [];
    let cursor = start;
    for (let i = this.#firstRangeEndingAtOrAfter(start + 1); i < this.rangeCount && cursor < end; i++) {
      const rangeStart = this.#bounds[2 * i]!;
      const rangeEnd = this.#bounds[2 * i + 1]!;
      if (rangeStart >= end) break;
      if (rangeStart > cursor) gaps.push([cursor, rangeStart]);
      cursor = Math.max(cursor, rangeEnd);
    }
    if (cursor < end) gaps.push([cursor, end]);
    return gaps;
  }

  /** Index of the first range whose end is >= offset (binary search). */
  #firstRangeEndingAtOrAfter(offset: number): number {
    let low = 0;
    let high = this.rangeCount;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#bounds[2 * mid + 1]! < offset) low = mid + 1;
      else high = mid;
    }
    return low;
  }
}

function checkRange(start: number, end: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new StoreError('BAD_RANGES', `invalid byte range [${start}, ${end})`);
  }
}
