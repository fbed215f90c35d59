import { describe, expect, it } from 'vitest';
import { formatBytes, formatDuration, formatSpeed } from './format.ts';

describe('panel formatting', () => {
  it('formats sizes in decimal units', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(999)).toBe('999 B');
    expect(formatBytes(12_345_678)).toBe('12.3 MB');
    expect(formatBytes(100_000_000)).toBe('100 MB');
    expect(formatBytes(-1)).toBe('—');
    expect(formatSpeed(4_200_000)).toBe('4.2 MB/s');
  });
  it('formats durations', () => {
    expect(formatDuration(20)).toBe('20 s');
    expect(formatDuration(125)).toBe('2 min 5 s');
    expect(formatDuration(7260)).toBe('2 h 1 min');
    expect(formatDuration(Number.NaN)).toBe('—');
  });
});
