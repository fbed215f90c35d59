/**
 * Desktop notifications (issue 7): new conflicts, transfers that failed for good, changes the
 * system went to sleep or shut down before uploading, and being signed out — decided from two consecutive engine statuses, so a status repeated every second notifies once.
 * The first status after connecting notifies only about being signed out: older conflicts and
 * failures are already in the tray's "needs attention" state.
 */
import type { EngineStatus } from '../../../src-shared/ipc/contract.ts';

export interface DesktopNotification {
  title: string;
  body: string;
  /** What clicking it opens. */
  opens: 'panel' | 'sign-in';
}

function nameOf(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1) || p;
}

export function notificationsFor(previous: EngineStatus | undefined, next: EngineStatus): DesktopNotification[] {
  const out: DesktopNotification[] = [];
  if (next.auth?.state === 'signed-out' && previous?.auth?.state !== 'signed-out') {
    out.push({ title: 'Signed out of OneDrive', body: 'Files on this device still open; nothing syncs until you sign in.', opens: 'sign-in' });
  }
  if (!previous) return out;

  const conflictsBefore = previous.conflicts ?? 0;
  const conflictsNow = next.conflicts ?? 0;
  if (conflictsNow > conflictsBefore) {
    const added = conflictsNow - conflictsBefore;
    out.push({
      title: added === 1 ? 'A file changed here and on another device' : `${added} files changed here and on another device`,
      body: 'Both versions are kept. Choose which one to keep in OneMount.',
      opens: 'panel',
    });
  }

  const slept = next.sleptWithChanges;
  if (slept && previous.sleptWithChanges?.at !== slept.at) {
    out.push({
      title: `${slept.notUploaded} change${slept.notUploaded === 1 ? '' : 's'} not uploaded yet`,
      body: 'The computer went to sleep before they were uploaded. They upload now.',
      opens: 'panel',
    });
  }

  const failedBefore = new Set(previous.transfers.filter((t) => t.state === 'failed').map((t) => t.id));
  const newlyFailed = next.transfers.filter((t) => t.state === 'failed' && !failedBefore.has(t.id));
  const [first] = newlyFailed;
  if (newlyFailed.length === 1 && first) {
    out.push({
      title: `Could not ${first.direction} ${nameOf(first.path)}`,
      body: first.error?.message ?? 'The transfer failed.',
      opens: 'panel',
    });
  } else if (newlyFailed.length > 1) {
    out.push({ title: `${newlyFailed.length} transfers failed`, body: 'Open OneMount to see why and retry.', opens: 'panel' });
  }
  return out;
}
