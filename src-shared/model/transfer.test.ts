// The layer rule keeps src-shared to zod but does not yet exempt its tests from that (reported).
import { describe, expect, it } from 'vitest';
import {
  ConnectivitySchema,
  ItemStateSchema,
  SHUTDOWN_PHASES,
  ShutdownProgressSchema,
  TransferItemSchema,
  type TransferItem,
} from './transfer.ts';

const now = Date.UTC(2026, 10, 27, 14, 30, 5);

const activeUpload: TransferItem = {
  id: 't1',
  itemId: 'D4648F06C91D9D3D!54927',
  path: '/Documents/report.docx',
  direction: 'upload',
  state: 'active',
  bytes: 12_300_000,
  total: 100_000_000,
  bytesPerSecond: 4_200_000,
  startedAt: now - 3000,
  updatedAt: now,
};

describe('TransferItemSchema', () => {
  it('accepts valid transfers, and survives a JSON round trip', () => {
    expect(TransferItemSchema.parse(JSON.parse(JSON.stringify(activeUpload)))).toEqual(activeUpload);
    const retrying = { ...activeUpload, state: 'retrying', retryAt: now + 30_000, error: { code: 'EIO', message: 'Connection reset' } };
    expect(TransferItemSchema.safeParse(retrying).success).toBe(true);
    const failed = { ...activeUpload, state: 'failed', error: { code: 'quotaLimitReached', message: 'Your OneDrive is full.' } };
    expect(TransferItemSchema.safeParse(failed).success).toBe(true);
    const queued = { id: 'q', itemId: 'i', path: '/a', direction: 'download', state: 'queued', bytes: 0, total: 0, updatedAt: now };
    expect(TransferItemSchema.safeParse(queued).success).toBe(true);
  });

  it('rejects malformed transfers and says where', () => {
    const cases: Array<[object, string]> = [
      [{ ...activeUpload, direction: 'sideways' }, 'direction'],
      [{ ...activeUpload, state: 'stuck' }, 'state'],
      [{ ...activeUpload, bytes: -1 }, 'bytes'],
      [{ ...activeUpload, bytes: 1.5 }, 'bytes'],
      [{ ...activeUpload, bytes: activeUpload.total + 1 }, 'bytes'],
      [{ ...activeUpload, path: 'relative/path' }, 'path'],
      [{ ...activeUpload, id: '' }, 'id'],
      [{ ...activeUpload, updatedAt: undefined }, 'updatedAt'],
      [{ ...activeUpload, state: 'retrying' }, 'retryAt'],
      [{ ...activeUpload, state: 'failed' }, 'error'],
      [{ ...activeUpload, state: 'failed', error: { code: 'x' } }, 'error'],
    ];
    for (const [value, field] of cases) {
      const result = TransferItemSchema.safeParse(value);
      expect(result.success, field).toBe(false);
      expect(result.error?.issues.map((issue) => issue.path[0]), field).toContain(field);
    }
  });
});

describe('ItemStateSchema', () => {
  it('knows the file states and nothing else', () => {
    for (const state of ['cloud-only', 'partial', 'cached', 'pinned', 'modified', 'syncing', 'conflict', 'error']) {
      expect(ItemStateSchema.parse(state)).toBe(state);
    }
    expect(ItemStateSchema.safeParse('downloaded').success).toBe(false);
  });
});

describe('ConnectivitySchema', () => {
  it('accepts each state with its fields', () => {
    expect(ConnectivitySchema.parse({ state: 'online', since: now })).toEqual({ state: 'online', since: now });
    expect(ConnectivitySchema.safeParse({ state: 'checking', since: now }).success).toBe(true);
    const offline = { state: 'offline', since: now, nextRetryAt: now + 12_000, reason: 'DNS lookup failed' };
    expect(ConnectivitySchema.parse(offline)).toEqual(offline);
  });

  it('rejects an offline state without its next retry, and unknown states', () => {
    expect(ConnectivitySchema.safeParse({ state: 'offline', since: now }).success).toBe(false);
    expect(ConnectivitySchema.safeParse({ state: 'degraded', since: now }).success).toBe(false);
    expect(ConnectivitySchema.safeParse({ state: 'online', since: -5 }).success).toBe(false);
    expect(ConnectivitySchema.safeParse({ state: 'online' }).success).toBe(false);
  });
});

describe('ShutdownProgressSchema', () => {
  const uploading = {
    phase: 'uploads',
    phaseIndex: 2,
    phases: [...SHUTDOWN_PHASES],
    itemsLeft: 3,
    budgetLeftMs: 21_500,
    done: false,
  };

  it('accepts progress whose index points at its phase', () => {
    expect(ShutdownProgressSchema.parse(uploading)).toEqual(uploading);
    const headless = { ...uploading, phases: SHUTDOWN_PHASES.filter((p) => p !== 'unmount'), phase: 'save-state', phaseIndex: 4, itemsLeft: 0, done: true };
    expect(ShutdownProgressSchema.safeParse(headless).success).toBe(true);
  });

  it('rejects inconsistent progress', () => {
    expect(ShutdownProgressSchema.safeParse({ ...uploading, phaseIndex: 3 }).success).toBe(false);
    expect(ShutdownProgressSchema.safeParse({ ...uploading, phaseIndex: 9 }).success).toBe(false);
    expect(ShutdownProgressSchema.safeParse({ ...uploading, phases: ['uploads', 'uploads', 'uploads'] }).success).toBe(false);
    expect(ShutdownProgressSchema.safeParse({ ...uploading, phase: 'nap' }).success).toBe(false);
    expect(ShutdownProgressSchema.safeParse({ ...uploading, itemsLeft: -1 }).success).toBe(false);
    expect(ShutdownProgressSchema.safeParse({ ...uploading, budgetLeftMs: -1 }).success).toBe(false);
    expect(ShutdownProgressSchema.safeParse({ ...uploading, done: 'yes' }).success).toBe(false);
  });
});
