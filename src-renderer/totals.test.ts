import { describe, expect, it } from 'vitest';
import type { TransferItem } from '../src-shared/model/transfer.ts';
import { formatTotals, totalsOf, windowTitle } from './totals.ts';

const t = (o: Partial<TransferItem>): TransferItem => ({ id: 'x', itemId: 'x', path: '/x', direction: 'upload', state: 'queued', bytes: 0, total: 1000, updatedAt: 0, ...o });

describe('totals while busy', () => {
  it('counts what is left of pending transfers and estimates the time from the running ones', () => {
    const uploads = [t({ state: 'active', bytes: 200_000_000, total: 400_000_000, bytesPerSecond: 1_000_000 }), t({ total: 500_000_000 }), t({ state: 'failed', total: 9e9, error: { code: 'E', message: 'no' } })];
    const downloads = [t({ direction: 'download', state: 'active', bytes: 0, total: 300_000_000, bytesPerSecond: 1_000_000 })];
    const totals = totalsOf([uploads, downloads]);
    expect(totals).toEqual({ files: 3, bytesLeft: 1_000_000_000, secondsLeft: 500 });
    expect(formatTotals(totals)).toBe('3 files · 1.0 GB · about 8 min');
    expect(formatTotals(totalsOf([Array.from({ length: 4067 }, () => t({}))]))).toBe('4\u202f067 files · 4.1 MB');
  });
  it('titles the window after the chip, with the count while syncing', () => {
    expect(windowTitle('Syncing', 4067)).toBe('OneMount — Syncing 4\u202f067 files');
    expect(windowTitle('Syncing', 0)).toBe('OneMount — Syncing');
    expect(windowTitle('Offline', 3)).toBe('OneMount — Offline');
  });
});
