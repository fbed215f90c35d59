// Which bytes of a file are present in the sparse content cache: a set of half-open byte ranges
// [start, end), kept sorted, disjoint and coalesced (no two ranges touch), in one flat array of
// bounds so that thousands of ranges cost a few numbers each and every lookup is a binary search.

export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

export type RangeSetErrorCode = 'invalidRange' | 'corruptEncoding';

export class RangeSetError extends Error {
  override readonly name = 'RangeSetError';
  constructor(
    readonly code: RangeSetErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** First byte of serialize()'s output; bump it when the layout changes. */
const ENCODING_VERSION = 1;

export class RangeSet implements Iterable<ByteRange> {
  /** [start0, end0, start1, end1, …]: sorted, every range non-empty, end_i < start_(i+1). */
  private bounds: number[] = [];
  private covered = 0;

  /** The whole of a file of `size` bytes: [0, size), or nothing for an empty file. */
  static whole(size: number): RangeSet {
    const set = new RangeSet();
    if (size > 0) set.add(0, size);
    return set;
  }

  static from(ranges: Iterable<ByteRange>): RangeSet {
    const set = new RangeSet();
    for (const range of ranges) set.add(range.start, range.end);
    return set;
  }

  /** Number of disjoint ranges. */
  get rangeCount(): number {
    return this.bounds.length / 2;
  }

  /** Total bytes covered. */
  get coveredBytes(): number {
    return this.covered;
  }

  get isEmpty(): boolean {
    return this.bounds.length === 0;
  }

  /** Marks [start, end) as present, merging with overlapping and adjacent ranges. */
  add(start: number, end: number): void {
    checkRange(start, end);
    if (start === end) return;
    // Ranges [first, last) overlap or touch the new one: end >= start and begin <= end.
    const first = this.firstEndingAtOrAfter(start);
    const last = this.firstStartingAfter(end);
    let mergedStart = start;
    let mergedEnd = end;
    let removedBytes = 0;
    if (first < last) {
      mergedStart = Math.min(start, this.startAt(first));
      mergedEnd = Math.max(end, this.endAt(last - 1));
      for (let i = first; i < last; i++) removedBytes += this.endAt(i) - this.startAt(i);
    }
    this.bounds.splice(2 * first, 2 * (last - first), mergedStart, mergedEnd);
    this.covered += mergedEnd - mergedStart - removedBytes;
  }

  /** Marks [start, end) as absent, splitting a range that straddles either edge. */
  remove(start: number, end: number): void {
    checkRange(start, end);
    if (start === end) return;
    const first = this.firstEndingAfter(start);
    const last = this.firstStartingAtOrAfter(end);
    if (first >= last) return;
    const kept: number[] = [];
    const firstStart = this.startAt(first);
    const lastEnd = this.endAt(last - 1);
    if (firstStart < start) kept.push(firstStart, start);
    if (lastEnd > end) kept.push(end, lastEnd);
    let removedBytes = 0;
    for (let i = first; i < last; i++) removedBytes += this.endAt(i) - this.startAt(i);
    this.bounds.splice(2 * first, 2 * (last - first), ...kept);
    this.covered -= removedBytes - (kept.length === 0 ? 0 : sumLengths(kept));
  }

  /** Forgets everything at or after `size` (the file was truncated or shrank remotely). */
  truncate(size: number): void {
    checkOffset(size, 'size');
    const count = this.rangeCount;
    if (count === 0 || this.endAt(count - 1) <= size) return;
    this.remove(size, this.endAt(count - 1));
  }

  clear(): void {
    this.bounds = [];
    this.covered = 0;
  }

  /** Whether every byte of [start, end) is present (an empty range always is). */
  has(start: number, end: number): boolean {
    checkRange(start, end);
    if (start === end) return true;
    const i = this.firstEndingAfter(start);
    return i < this.rangeCount && this.startAt(i) <= start && this.endAt(i) >= end;
  }

  /** Whether the bytes [0, size) are all present. */
  isComplete(size: number): boolean {
    checkOffset(size, 'size');
    return this.has(0, size);
  }

  /** The parts of [start, end) that are absent, in order; empty when has(start, end). */
  missing(start: number, end: number): ByteRange[] {
    checkRange(start, end);
    const gaps: ByteRange[] = [];
    let cursor = start;
    for (let i = this.firstEndingAfter(start); i < this.rangeCount && cursor < end; i++) {
      const rangeStart = this.startAt(i);
      if (rangeStart >= end) break;
      if (rangeStart > cursor) gaps.push({ start: cursor, end: rangeStart });
      cursor = Math.max(cursor, this.endAt(i));
    }
    if (cursor < end) gaps.push({ start: cursor, end });
    return gaps;
  }

  /**
   * The first absent byte at or after `offset`: `offset` itself when it is absent, otherwise the
   * end of the range holding it. So [offset, firstMissingFrom(offset)) is what can be read now.
   */
  firstMissingFrom(offset: number): number {
    checkOffset(offset, 'offset');
    const i = this.firstEndingAfter(offset);
    if (i < this.rangeCount && this.startAt(i) <= offset) return this.endAt(i);
    return offset;
  }

  /** The first present byte at or after `offset`, or undefined when none is. */
  firstPresentFrom(offset: number): number | undefined {
    checkOffset(offset, 'offset');
    const i = this.firstEndingAfter(offset);
    if (i >= this.rangeCount) return undefined;
    return Math.max(offset, this.startAt(i));
  }

  equals(other: RangeSet): boolean {
    if (this.bounds.length !== other.bounds.length) return false;
    for (let i = 0; i < this.bounds.length; i++) if (this.bounds[i] !== other.bounds[i]) return false;
    return true;
  }

  clone(): RangeSet {
    const copy = new RangeSet();
    copy.bounds = this.bounds.slice();
    copy.covered = this.covered;
    return copy;
  }

  *[Symbol.iterator](): Iterator<ByteRange> {
    for (let i = 0; i < this.bounds.length; i += 2) yield { start: this.bounds[i]!, end: this.bounds[i + 1]! };
  }

  toArray(): ByteRange[] {
    return [...this];
  }

  /** For logs: `0-4096,8192-12288`. */
  toString(): string {
    const parts: string[] = [];
    for (const { start, end } of this) parts.push(`${start}-${end}`);
    return parts.join(',');
  }

  /**
   * A compact binary form for a SQLite BLOB: a version byte, then per range the gap since the
   * previous end and the length, each as an unsigned LEB128 varint. A fully cached file is 2–10
   * bytes; a typical sparse one a few bytes per range.
   */
  serialize(): Uint8Array {
    const out: number[] = [ENCODING_VERSION];
    let previousEnd = 0;
    for (let i = 0; i < this.bounds.length; i += 2) {
      const start = this.bounds[i]!;
      const end = this.bounds[i + 1]!;
      writeVarint(out, start - previousEnd);
      writeVarint(out, end - start);
      previousEnd = end;
    }
    return Uint8Array.from(out);
  }

  /** Reads serialize()'s output; throws RangeSetError('corruptEncoding') on anything else. */
  static deserialize(bytes: Uint8Array): RangeSet {
    if (bytes.length === 0) throw corrupt('it is empty');
    if (bytes[0] !== ENCODING_VERSION) throw corrupt(`unknown version ${bytes[0]}`);
    const set = new RangeSet();
    const reader = { bytes, position: 1 };
    let previousEnd = 0;
    while (reader.position < bytes.length) {
      const gap = readVarint(reader);
      if (gap === 0 && set.bounds.length > 0) throw corrupt('two ranges touch');
      const length = readVarint(reader);
      if (length === 0) throw corrupt('a range is empty');
      const start = previousEnd + gap;
      const end = start + length;
      if (!Number.isSafeInteger(end)) throw corrupt('a range ends beyond 2^53');
      set.bounds.push(start, end);
      set.covered += length;
      previousEnd = end;
    }
    return set;
  }

  private startAt(index: number): number {
    return this.bounds[2 * index]!;
  }

  private endAt(index: number): number {
    return this.bounds[2 * index + 1]!;
  }

  /** Index of the first range whose end is >= offset (it overlaps or touches [offset, …)). */
  private firstEndingAtOrAfter(offset: number): number {
    return this.search((i) => this.endAt(i) >= offset);
  }

  /** Index of the first range whose end is > offset (it holds offset, or lies wholly after it). */
  private firstEndingAfter(offset: number): number {
    return this.search((i) => this.endAt(i) > offset);
  }

  /** Index of the first range starting at or after offset. */
  private firstStartingAtOrAfter(offset: number): number {
    return this.search((i) => this.startAt(i) >= offset);
  }

  /** Index of the first range starting after offset. */
  private firstStartingAfter(offset: number): number {
    return this.search((i) => this.startAt(i) > offset);
  }

  /** The first index for which the monotone predicate holds, or rangeCount when none does. */
  private search(holds: (index: number) => boolean): number {
    let low = 0;
    let high = this.rangeCount;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (holds(middle)) high = middle;
      else low = middle + 1;
    }
    return low;
  }
}

function checkOffset(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new RangeSetError('invalidRange', `The ${what} ${value} is not a non-negative safe integer.`);
  }
}

function checkRange(start: number, end: number): void {
  checkOffset(start, 'range start');
  checkOffset(end, 'range end');
  if (end < start) throw new RangeSetError('invalidRange', `The range [${start}, ${end}) ends before it starts.`);
}

function sumLengths(bounds: readonly number[]): number {
  let total = 0;
  for (let i = 0; i < bounds.length; i += 2) total += bounds[i + 1]! - bounds[i]!;
  return total;
}

function corrupt(why: string): RangeSetError {
  return new RangeSetError('corruptEncoding', `The stored range set is unreadable: ${why}.`);
}

// Arithmetic rather than bit operators: JavaScript's bitwise operators truncate to 32 bits, and
// byte offsets go up to 2^53.
function writeVarint(out: number[], value: number): void {
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) + 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
}

/** 8 groups of 7 bits hold any safe integer (53 bits). */
const MAX_VARINT_BYTES = 8;

function readVarint(reader: { bytes: Uint8Array; position: number }): number {
  let value = 0;
  let scale = 1;
  for (let count = 0; count < MAX_VARINT_BYTES; count++) {
    if (reader.position >= reader.bytes.length) throw corrupt('a number is cut short');
    const byte = reader.bytes[reader.position++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) {
      if (!Number.isSafeInteger(value)) throw corrupt('a number exceeds 2^53');
      return value;
    }
    scale *= 0x80;
  }
  throw corrupt('a number is longer than 8 bytes');
}
