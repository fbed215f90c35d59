/**
 * What the panel answers when an action cannot do what its name says (docs/ui.md: every action answers).
 * Pure, so the words and the cases are tested without an engine.
 */
import type { EngineStatus } from '../src-shared/ipc/contract.ts';
import { formatClock, formatDuration, secondsUntil } from './format.ts';

/** Why "Sync now" would do nothing, or undefined when it can run. */
export function syncNowBlocked(status: EngineStatus | undefined): string | undefined {
  if (status?.auth?.state === 'signed-out') return 'Nothing syncs while you are signed out: sign in first.';
  if (status?.pause?.paused) {
    const until = status.pause.until === undefined ? 'until you resume' : `until ${formatClock(status.pause.until)}`;
    return `Syncing is paused ${until}, so “Sync now” waits: resume syncing to sync now.`;
  }
  return undefined;
}

/**
 * After "Retry now" (or "Sync now" while offline) asked the engine to check the connection: the
 * notice once the check has an outcome, or undefined while it is still running. `before` is the
 * offline state's next retry time when the person clicked.
 */
export function retryOutcome(beforeNextRetryAt: number | undefined, status: EngineStatus, now: number): { done: boolean; text?: string } {
  const c = status.connectivity;
  if (!c || c.state === 'online') return { done: true };
  if (c.state === 'checking') return { done: false };
  if (c.nextRetryAt === beforeNextRetryAt) return { done: false };
  const why = c.reason ? ` (${c.reason})` : '';
  return { done: true, text: `Still offline${why}. Trying again in ${formatDuration(secondsUntil(c.nextRetryAt, now))}.` };
}
