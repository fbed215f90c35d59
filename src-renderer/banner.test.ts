import { describe, expect, it } from 'vitest';
import type { EngineStatus } from '../src-shared/ipc/contract.ts';
import { connectivityChip, pickBanner } from './banner.ts';

const base: EngineStatus = { account: 'me', mountpoint: '/m', state: 'ready', items: 1, cachedBytes: 0, transfers: [], pid: 1, connectivity: { state: 'online', since: 0 } };
const connected = { state: 'connected' } as const;

describe('pickBanner', () => {
  it('shows nothing when all is well', () => {
    expect(pickBanner(connected, base, 0)).toBeUndefined();
    expect(connectivityChip(connected, base)).toEqual({ label: 'Online', tone: 'ok' });
  });

  it('says what had to wait through a sleep, below every other banner', () => {
    const at = new Date(2026, 10, 27, 23, 40).getTime();
    const slept: EngineStatus = { ...base, sleptWithChanges: { notUploaded: 3, at } };
    expect(pickBanner(connected, slept, at)).toMatchObject({ kind: 'slept', severity: 'info', title: '3 changes not uploaded yet', detail: 'The computer went to sleep at 23:40 before they were uploaded; uploading now.' });
    expect(pickBanner(connected, { ...slept, sleptWithChanges: { notUploaded: 1, at } }, at)?.title).toBe('1 change not uploaded yet');
    expect(pickBanner(connected, { ...slept, pause: { paused: true } }, at)?.kind).toBe('paused');
  });

  it('shows one banner, the most severe', () => {
    const now = new Date(2026, 10, 27, 14, 10).getTime();
    const offline: EngineStatus = {
      ...base,
      state: 'offline',
      connectivity: { state: 'offline', since: new Date(2026, 10, 27, 14, 2).getTime(), nextRetryAt: now + 12_000 },
      pause: { paused: true },
    };
    const b = pickBanner(connected, offline, now);
    expect(b).toMatchObject({ kind: 'offline', title: 'Offline since 14:02', action: { id: 'retry-now' } });
    expect(b?.detail).toContain('Retrying in 12 s');
    expect(pickBanner(connected, { ...offline, auth: { state: 'signed-out' } }, now)?.kind).toBe('signed-out');
    expect(connectivityChip(connected, { ...offline, auth: { state: 'signed-out' } }).label).toBe('Signed out');
    expect(pickBanner({ state: 'disconnected', reason: 'connection refused' }, offline, now)?.kind).toBe('unreachable');
    expect(connectivityChip(connected, offline).label).toBe('Offline');
  });

  it('counts down throttling and a timed pause, and names an open-ended one', () => {
    const now = 1_000_000;
    expect(pickBanner(connected, { ...base, throttledUntil: now + 45_000 }, now)).toMatchObject({ kind: 'throttled', detail: 'Resuming in 45 s.' });
    expect(pickBanner(connected, { ...base, throttledUntil: now - 1 }, now)).toBeUndefined();
    expect(pickBanner(connected, { ...base, pause: { paused: true } }, now)).toMatchObject({ kind: 'paused', title: 'Syncing is paused until you resume', action: { id: 'resume' } });
    expect(pickBanner(connected, { ...base, pause: { paused: true, until: now + 7200_000 } }, now)?.detail).toMatch(/^2 h 0 min left/);
    expect(connectivityChip(connected, { ...base, pause: { paused: true } }).label).toBe('Paused');
  });
});
