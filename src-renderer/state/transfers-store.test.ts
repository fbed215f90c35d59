import { describe, expect, it } from 'vitest';
import type { TransferItem } from '../../src-shared/model/transfer.ts';
import { createTransfersStore, RECENT_LIMIT } from './transfers-store.ts';

const t = (id: string, o: Partial<TransferItem> = {}): TransferItem => ({
  id,
  itemId: `item-${id}`,
  path: `/Docs/${id}.bin`,
  direction: 'upload',
  state: 'queued',
  bytes: 0,
  total: 100,
  updatedAt: 0,
  ...o,
});

describe('transfers store', () => {
  it('splits a snapshot into uploads, downloads and failures, running first', () => {
    const s = createTransfersStore();
    s.getState().applySnapshot(
      [t('a'), t('b', { state: 'active', bytes: 10 }), t('c', { direction: 'download' }), t('d', { state: 'failed', error: { code: 'X', message: 'too big' } })],
      1,
    );
    const { uploads, downloads, failed } = s.getState();
    expect(uploads.map((u) => u.id)).toEqual(['b', 'a']);
    expect(downloads.map((d) => d.id)).toEqual(['c']);
    expect(failed.map((f) => f.id)).toEqual(['d']);
  });

  it('moves transfers that left the snapshot to Recent, newest first', () => {
    const s = createTransfersStore();
    s.getState().applySnapshot([t('a'), t('b', { direction: 'download' })], 1);
    s.getState().applySnapshot([t('b', { direction: 'download', bytes: 50 })], 2);
    s.getState().applySnapshot([], 3);
    expect(s.getState().recent.map((r) => [r.id, r.finishedAt])).toEqual([
      ['b', 3],
      ['a', 2],
    ]);
    expect(s.getState().uploads).toEqual([]);
  });

  it('keeps failures out of Recent and applies single-transfer events', () => {
    const s = createTransfersStore();
    s.getState().applySnapshot([t('a'), t('b')], 1);
    s.getState().applyTransfer(t('a', { state: 'active', bytes: 40 }), 2);
    expect(s.getState().uploads.map((u) => [u.id, u.bytes])).toEqual([
      ['a', 40],
      ['b', 0],
    ]);
    s.getState().applyTransfer(t('b', { state: 'failed', error: { code: 'E', message: 'no' } }), 3);
    s.getState().applyTransfer(t('a', { state: 'done', bytes: 100 }), 4);
    expect(s.getState().uploads).toEqual([]);
    expect(s.getState().failed.map((f) => f.id)).toEqual(['b']);
    expect(s.getState().recent.map((r) => r.id)).toEqual(['a']);
    // The failed one is no longer listed: it left without finishing, so it is not in Recent.
    s.getState().applySnapshot([], 5);
    expect(s.getState().recent.map((r) => r.id)).toEqual(['a']);
    expect(s.getState().failed).toEqual([]);
  });

  it('caps Recent and handles 10 000 queued items', () => {
    const s = createTransfersStore();
    const many = Array.from({ length: 10_000 }, (_, i) => t(`q${i}`));
    s.getState().applySnapshot(many, 1);
    expect(s.getState().uploads).toHaveLength(10_000);
    s.getState().applySnapshot([], 2);
    expect(s.getState().recent).toHaveLength(RECENT_LIMIT);
  });

  it('keeps the same list objects when nothing failed, so unchanged sections do not re-render', () => {
    const s = createTransfersStore();
    const before = s.getState().failed;
    s.getState().applySnapshot([t('a')], 1);
    expect(s.getState().failed).toBe(before);
  });

  it('applies a pushed progress batch in one update: moved, finished and failed transfers', () => {
    const s = createTransfersStore();
    s.getState().applySnapshot([t('a'), t('b'), t('c', { direction: 'download' })], 1);
    let renders = 0;
    const off = s.subscribe(() => renders++);
    s.getState().applyProgress(
      [t('a', { state: 'active', bytes: 30, bytesPerSecond: 10 }), t('b', { state: 'done', bytes: 100 }), t('c', { direction: 'download', state: 'failed', error: { code: 'E', message: 'gone' } }), t('n', { state: 'active', bytes: 1 })],
      2,
    );
    off();
    expect(renders).toBe(1);
    expect(s.getState().uploads.map((u) => [u.id, u.bytes])).toEqual([
      ['a', 30],
      ['n', 1],
    ]);
    expect(s.getState().downloads).toEqual([]);
    expect(s.getState().failed.map((f) => f.id)).toEqual(['c']);
    expect(s.getState().recent.map((r) => [r.id, r.finishedAt])).toEqual([['b', 2]]);
  });

  it('merges the engine’s history into Recent, newest first, without doubles', () => {
    const s = createTransfersStore();
    s.getState().applySnapshot([t('a')], 1);
    s.getState().applySnapshot([], 50);
    s.getState().setRecent([
      { id: 'old', path: '/o', direction: 'download', total: 1, finishedAt: 10 },
      { id: 'a', path: '/Docs/a.bin', direction: 'upload', total: 100, finishedAt: 49 },
    ]);
    expect(s.getState().recent.map((r) => [r.id, r.finishedAt])).toEqual([
      ['a', 50],
      ['old', 10],
    ]);
  });
});
