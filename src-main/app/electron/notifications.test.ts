import { describe, expect, it } from 'vitest';
import type { EngineStatus } from '../../../src-shared/ipc/contract.ts';
import type { TransferItem } from '../../../src-shared/model/transfer.ts';
import { notificationsFor } from './notifications.ts';

const base: EngineStatus = {
  account: 'default',
  mountpoint: '/m',
  state: 'ready',
  items: 1,
  cachedBytes: 0,
  transfers: [],
  pid: 1,
  conflicts: 0,
  auth: { state: 'signed-in', user: 'u@example.com' },
};
const failed = (id: string, path: string, direction: TransferItem['direction'] = 'upload'): TransferItem => ({
  id,
  itemId: id,
  path,
  direction,
  state: 'failed',
  bytes: 0,
  total: 1,
  updatedAt: 1,
  error: { code: 'TOO_LARGE', message: 'The file is larger than OneDrive allows.' },
});

describe('notificationsFor', () => {
  it('says once, on waking, how many changes had to wait through a sleep', () => {
    const slept = { ...base, sleptWithChanges: { notUploaded: 2, at: 1000 } };
    expect(notificationsFor(base, slept)).toEqual([{ title: '2 changes not uploaded yet', body: 'The computer went to sleep before they were uploaded. They upload now.', opens: 'panel' }]);
    expect(notificationsFor(slept, slept)).toEqual([]);
    expect(notificationsFor(slept, { ...slept, sleptWithChanges: { notUploaded: 1, at: 5000 } })[0]?.title).toBe('1 change not uploaded yet');
  });

  it('notifies once per new conflict count', () => {
    expect(notificationsFor(base, { ...base, conflicts: 1 })).toEqual([
      { title: 'A file changed here and on another device', body: 'Both versions are kept. Choose which one to keep in OneMount.', opens: 'panel' },
    ]);
    expect(notificationsFor({ ...base, conflicts: 1 }, { ...base, conflicts: 3 })[0]?.title).toBe('2 files changed here and on another device');
    expect(notificationsFor({ ...base, conflicts: 3 }, { ...base, conflicts: 3 })).toEqual([]);
    expect(notificationsFor({ ...base, conflicts: 3 }, { ...base, conflicts: 2 })).toEqual([]);
  });

  it('notifies about transfers that newly failed, with the reason for a single one', () => {
    const one = { ...base, transfers: [failed('t1', '/Docs/big.iso')] };
    expect(notificationsFor(base, one)).toEqual([{ title: 'Could not upload big.iso', body: 'The file is larger than OneDrive allows.', opens: 'panel' }]);
    expect(notificationsFor(one, one)).toEqual([]);
    const three = { ...base, transfers: [failed('t1', '/a'), failed('t2', '/b', 'download'), failed('t3', '/c')] };
    expect(notificationsFor(one, three)).toEqual([{ title: '2 transfers failed', body: 'Open OneMount to see why and retry.', opens: 'panel' }]);
  });

  it('notifies when signed out, also on the first status, and not again while it stays so', () => {
    const out = { ...base, auth: { state: 'signed-out' as const } };
    expect(notificationsFor(base, out)).toEqual([{ title: 'Signed out of OneDrive', body: 'Files on this device still open; nothing syncs until you sign in.', opens: 'sign-in' }]);
    expect(notificationsFor(undefined, out)).toHaveLength(1);
    expect(notificationsFor(out, out)).toEqual([]);
  });

  it('stays quiet about old conflicts and failures on the first status', () => {
    expect(notificationsFor(undefined, { ...base, conflicts: 4, transfers: [failed('t1', '/a')] })).toEqual([]);
  });
});
