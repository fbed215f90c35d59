/**
 * The totals above the queues while busy (docs/ui.md: "4 067 files · 1.2 GB · about 12 min") and the
 * window title that follows the chip. Pure, so the words are tested without a page.
 */
import type { TransferItem } from '../src-shared/model/transfer.ts';
import { formatBytes, formatDuration } from './format.ts';

export interface Totals {
  files: number;
  bytesLeft: number;
  /** Seconds left at the current speed; undefined while nothing moves. */
  secondsLeft: number | undefined;
}

export function totalsOf(lists: ReadonlyArray<readonly TransferItem[]>): Totals {
  let files = 0;
  let bytesLeft = 0;
  let speed = 0;
  for (const list of lists) {
    for (const t of list) {
      if (t.state === 'failed' || t.state === 'done') continue;
      files++;
      bytesLeft += Math.max(0, t.total - t.bytes);
      if (t.state === 'active' && t.bytesPerSecond) speed += t.bytesPerSecond;
    }
  }
  return { files, bytesLeft, secondsLeft: speed > 0 ? bytesLeft / speed : undefined };
}

/** "4 067 files" with a thin space between thousands, as the rest of the panel counts. */
export function formatCount(n: number): string {
  return n.toLocaleString('en-US').replace(/,/g, '\u202f');
}

export function formatTotals(t: Totals): string {
  const parts = [`${formatCount(t.files)} ${t.files === 1 ? 'file' : 'files'}`, formatBytes(t.bytesLeft)];
  if (t.secondsLeft !== undefined) parts.push(`about ${roughMinutes(t.secondsLeft)}`);
  return parts.join(' · ');
}

/** A total's time is an estimate: whole minutes beyond one, seconds below. */
function roughMinutes(seconds: number): string {
  if (seconds < 60) return formatDuration(seconds);
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  return formatDuration(Math.round(seconds / 60) * 60);
}

/** The page's (and so the window's) title: the chip's word, and the count while syncing. */
export function windowTitle(chip: string, pendingFiles: number): string {
  if (chip === 'Syncing' && pendingFiles > 0) return `OneMount — Syncing ${formatCount(pendingFiles)} ${pendingFiles === 1 ? 'file' : 'files'}`;
  return `OneMount — ${chip}`;
}
