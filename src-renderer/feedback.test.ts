import { describe, expect, it } from 'vitest';
import type { EngineStatus } from '../src-shared/ipc/contract.ts';
import { retryOutcome, syncNowBlocked } from './feedback.ts';
import { connectivityChip, pickBanner } from './banner.ts';
import { createShutdownStore } from './state/shutdown-store.ts';

const base: EngineStatus = { account: 'me', mountpoint: '/m', state: 'ready', items: 1, cachedBytes: 0, transfers: [], pid: 1, connectivity: { state: 'online', since: 0 } };

describe('actions that cannot do what they say answer why', () => {
  it('"Sync now" while paused or signed out says why instead of doing nothing', () => {
    expect(syncNowBlocked(base)).toBeUndefined();
    expect(syncNowBlocked({ ...base, pause: { paused: true } })).toBe('Syncing is paused until you resume, so “Sync now” waits: resume syncing to sync now.');
    expect(syncNowBlocked({ ...base, pause: { paused: true, until: new Date(2026, 0, 1, 16, 30).getTime() } })).toContain('until 16:30');
    expect(syncNowBlocked({ ...base, auth: { state: 'signed-out' } })).toMatch(/signed out/);
  });

  it('"Retry now" waits for the check, then says still offline and when the next try is', () => {
    const offline = (nextRetryAt: number, reason?: string): EngineStatus => ({ ...base, connectivity: { state: 'offline', since: 0, nextRetryAt, ...(reason ? { reason } : {}) } });
    expect(retryOutcome(16_000, { ...base, connectivity: { state: 'checking', since: 0 } }, 0)).toEqual({ done: false });
    expect(retryOutcome(16_000, offline(16_000), 0)).toEqual({ done: false });
    expect(retryOutcome(16_000, offline(31_000, 'connection refused'), 0)).toEqual({ done: true, text: 'Still offline (connection refused). Trying again in 31 s.' });
    expect(retryOutcome(16_000, base, 0)).toEqual({ done: true });
  });

  it('throttling shows in the chip; pending transfers make it say Syncing', () => {
    const connected = { state: 'connected' } as const;
    expect(connectivityChip(connected, { ...base, throttledUntil: 50_000 }, 10_000)).toEqual({ label: 'Slowed down', tone: 'warn' });
    expect(connectivityChip(connected, { ...base, throttledUntil: 5_000 }, 10_000).label).toBe('Online');
    const queued = { id: 'a', itemId: 'a', path: '/a', direction: 'upload', state: 'queued', bytes: 0, total: 1, updatedAt: 0 } as const;
    expect(connectivityChip(connected, { ...base, transfers: [queued] }, 0).label).toBe('Syncing');
  });

  it('a tab whose address expired says how to open the panel again', () => {
    const link = { state: 'disconnected', reason: 'gone', expired: true } as const;
    expect(pickBanner(link, base, 0)).toMatchObject({ kind: 'expired', detail: expect.stringContaining('onemount ui') });
    expect(connectivityChip(link, base).label).toBe('Panel expired');
  });
});

describe('shutdown store', () => {
  const progress = (phase: 'uploads' | 'downloads', itemsLeft = 0) => ({
    phase,
    phaseIndex: phase === 'uploads' ? 2 : 3,
    phases: ['stop-new-work', 'stop-sync', 'uploads', 'downloads', 'save-state', 'unmount'] as const,
    itemsLeft,
    budgetLeftMs: 20_000,
    done: false,
  });
  it('counts uploads from statuses during the shutdown, settling on the first one after the uploads phase', () => {
    const s = createShutdownStore();
    s.getState().noteUploads(9);
    expect(s.getState().uploadsLeft).toBeUndefined(); // not shutting down: nothing to count
    s.getState().request();
    s.getState().apply({ ...progress('uploads', 4374), phases: [...progress('uploads').phases] }, 1000);
    s.getState().noteUploads(4374);
    expect(s.getState()).toMatchObject({ uploadsLeft: 4374, uploadsSettled: false, receivedAt: 1000, budgetMs: 20_000 });
    s.getState().apply({ ...progress('downloads'), phases: [...progress('downloads').phases] }, 2000);
    // After the phase the engine no longer lists the uploads its deadline interrupted: the count from within the phase stands.
    s.getState().noteUploads(4370);
    s.getState().noteUploads(0); // a later status (store closing) does not undo the count
    expect(s.getState()).toMatchObject({ uploadsLeft: 4374, uploadsSettled: true });
  });
});
