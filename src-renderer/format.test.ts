import { describe, expect, it } from 'vitest';
import { folderOf, formatBytes, formatClock, formatDuration, formatSpeed, formatTransferLine, nameOf, progressOf, secondsUntil } from './format.ts';

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

describe('transfer rows', () => {
  it('says how far a transfer is, how fast and how long is left', () => {
    expect(formatTransferLine({ bytes: 12_300_000, total: 100_000_000, bytesPerSecond: 4_200_000 })).toBe('12.3 MB of 100 MB · 4.2 MB/s · 21 s left');
    expect(formatTransferLine({ bytes: 0, total: 2_000, bytesPerSecond: 0 })).toBe('0 B of 2.0 kB');
    expect(formatTransferLine({ bytes: 5, total: 5, bytesPerSecond: 100 })).toBe('5 B of 5 B');
  });
  it('splits paths into name and folder', () => {
    expect(nameOf('/Documents/report.docx')).toBe('report.docx');
    expect(folderOf('/Documents/report.docx')).toBe('/Documents');
    expect(folderOf('/a.txt')).toBe('/');
    expect(nameOf('/')).toBe('/');
  });
  it('counts down without going negative and clamps progress', () => {
    expect(secondsUntil(10_500, 0)).toBe(11);
    expect(secondsUntil(0, 5000)).toBe(0);
    expect(progressOf({ bytes: 50, total: 200 })).toBe(0.25);
    expect(progressOf({ bytes: 0, total: 0 })).toBe(1);
  });
  it('shows wall-clock times as hours and minutes', () => {
    const t = new Date(2026, 10, 27, 14, 2, 30).getTime();
    expect(formatClock(t)).toBe('14:02');
  });
});
