/**
 * The one banner the panel shows (docs/ui.md: one at a time, by severity): the engine out of reach,
 * signed out, offline, throttled, paused, changes that had to wait through a sleep. Pure, so the order and the words are tested.
 */
import type { EngineLink } from '../src-shared/ipc/api.ts';
import type { EngineStatus } from '../src-shared/ipc/contract.ts';
import { formatClock, formatDuration, secondsUntil } from './format.ts';

export type BannerAction = 'sign-in' | 'retry-now' | 'resume';

export interface Banner {
  kind: 'expired' | 'unreachable' | 'signed-out' | 'offline' | 'throttled' | 'paused' | 'slept';
  severity: 'error' | 'warning' | 'info';
  title: string;
  detail?: string;
  action?: { id: BannerAction; label: string };
}

export function pickBanner(link: EngineLink, status: EngineStatus | undefined, now: number): Banner | undefined {
  if (link.state === 'disconnected' && link.expired) {
    return {
      kind: 'expired',
      severity: 'error',
      title: 'This panel belongs to an earlier run of OneMount',
      detail:
        'Each run serves the panel at a new secret address, so this tab cannot reconnect. Open the panel again: run `onemount ui` and open the address it prints, or choose “Show transfers…” in the OneMount tray menu.',
    };
  }
  if (link.state === 'disconnected') {
    const retry = link.retryAt !== undefined ? ` Trying again in ${formatDuration(secondsUntil(link.retryAt, now))}.` : '';
    return { kind: 'unreachable', severity: 'error', title: 'The OneMount engine is not reachable', detail: `${link.reason}.${retry}` };
  }
  if (!status) return undefined;
  if (status.auth?.state === 'signed-out') {
    return { kind: 'signed-out', severity: 'error', title: 'Signed out of OneDrive', detail: 'Files on this device still open; nothing syncs until you sign in.', action: { id: 'sign-in', label: 'Sign in' } };
  }
  const c = status.connectivity;
  if (c?.state === 'offline') {
    return {
      kind: 'offline',
      severity: 'warning',
      title: `Offline since ${formatClock(c.since)}`,
      detail: `Cached files open normally; changes upload when you reconnect. Retrying in ${formatDuration(secondsUntil(c.nextRetryAt, now))}.${c.reason ? ` (${c.reason})` : ''}`,
      action: { id: 'retry-now', label: 'Retry now' },
    };
  }
  if (status.throttledUntil !== undefined && status.throttledUntil > now) {
    return { kind: 'throttled', severity: 'warning', title: 'OneDrive asked to slow down', detail: `Resuming in ${formatDuration(secondsUntil(status.throttledUntil, now))}.` };
  }
  if (status.pause?.paused) {
    const until = status.pause.until;
    return {
      kind: 'paused',
      severity: 'info',
      title: until === undefined ? 'Syncing is paused until you resume' : `Syncing is paused until ${formatClock(until)}`,
      detail: until === undefined ? 'Files still open; changes upload when you resume.' : `${formatDuration(secondsUntil(until, now))} left. Files still open; changes upload when syncing resumes.`,
      action: { id: 'resume', label: 'Resume' },
    };
  }
  if (status.sleptWithChanges) {
    const n = status.sleptWithChanges.notUploaded;
    return {
      kind: 'slept',
      severity: 'info',
      title: `${n} change${n === 1 ? '' : 's'} not uploaded yet`,
      detail: `The computer went to sleep at ${formatClock(status.sleptWithChanges.at)} before ${n === 1 ? 'it was' : 'they were'} uploaded; uploading now.`,
    };
  }
  return undefined;
}

/** Transfers still to do (not failed, not finished). */
export function pendingTransfers(status: EngineStatus): number {
  let n = 0;
  for (const t of status.transfers) if (t.state !== 'failed' && t.state !== 'done') n++;
  return n;
}

/** The header's connectivity chip (`now` decides whether a throttle is still on). */
export function connectivityChip(link: EngineLink, status: EngineStatus | undefined, now = Date.now()): { label: string; tone: 'ok' | 'busy' | 'warn' | 'bad' } {
  if (link.state === 'disconnected') return link.expired ? { label: 'Panel expired', tone: 'bad' } : { label: 'Engine not running', tone: 'bad' };
  if (link.state === 'connecting' || !status) return { label: 'Connecting…', tone: 'busy' };
  if (status.state === 'stopping') return { label: 'Stopping', tone: 'busy' };
  if (status.auth?.state === 'signed-out') return { label: 'Signed out', tone: 'bad' };
  switch (status.connectivity?.state) {
    case 'offline':
      return { label: 'Offline', tone: 'warn' };
    case 'checking':
      return { label: 'Checking…', tone: 'busy' };
    default:
      if (status.pause?.paused) return { label: 'Paused', tone: 'warn' };
      if (status.throttledUntil !== undefined && status.throttledUntil > now) return { label: 'Slowed down', tone: 'warn' };
      return status.state === 'syncing' || pendingTransfers(status) > 0 ? { label: 'Syncing', tone: 'busy' } : { label: 'Online', tone: 'ok' };
  }
}
