import { memo } from 'react';
import type { TransferItem } from '../../src-shared/model/transfer.ts';
import { folderOf, formatDuration, formatTransferLine, nameOf, progressOf, secondsUntil } from '../format.ts';
import type { FinishedTransfer } from '../state/transfers-store.ts';
import { formatClock, formatBytes } from '../format.ts';

/**
 * The row's state in words. While OneDrive throttles (`throttledUntil` ahead of `now`) every request
 * waits, so a running transfer says it waits and for how long instead of "Uploading".
 */
export function transferStateText(t: TransferItem, now: number, throttledUntil?: number): string {
  switch (t.state) {
    case 'queued':
      return 'Queued';
    case 'active':
      if (throttledUntil !== undefined && throttledUntil > now) return `Waiting: OneDrive asked to slow down (${formatDuration(secondsUntil(throttledUntil, now))})`;
      return t.direction === 'upload' ? 'Uploading' : 'Downloading';
    case 'waiting-for-network':
      return 'Waiting for network';
    case 'paused':
      return 'Paused';
    case 'retrying':
      return `Retrying in ${formatDuration(secondsUntil(t.retryAt ?? now, now))}`;
    case 'failed':
      return `Failed: ${t.error?.message ?? 'unknown error'}`;
    case 'done':
      return 'Done';
  }
}

export function FileIcon({ direction }: { direction: 'upload' | 'download' }) {
  return (
    <svg className="file-icon" viewBox="0 0 24 24" aria-hidden="true" width="24" height="24">
      <path d="M6 2h8l4 4v16H6z" fill="none" stroke="currentColor" strokeWidth="1.5" />
      <path d={direction === 'upload' ? 'M12 18v-7m-3 3 3-3 3 3' : 'M12 11v7m-3-3 3 3 3-3'} fill="none" stroke="currentColor" strokeWidth="1.5" />
    </svg>
  );
}

export const TransferRow = memo(function TransferRow({ t, now, throttledUntil, onRetry }: { t: TransferItem; now: number; throttledUntil?: number | undefined; onRetry?: (id: string) => void }) {
  const name = nameOf(t.path);
  const state = transferStateText(t, now, throttledUntil);
  const throttled = t.state === 'active' && throttledUntil !== undefined && throttledUntil > now;
  const percent = Math.round(progressOf(t) * 100);
  return (
    <div className="row transfer" data-state={t.state} data-throttled={throttled || undefined} data-testid="transfer-row" aria-label={`${name} in ${folderOf(t.path)}: ${state}, ${percent} percent`}>
      <FileIcon direction={t.direction} />
      <div className="row-main">
        <div className="row-title">
          <span className="name" title={t.path}>
            {name}
          </span>
          <span className="folder">{folderOf(t.path)}</span>
        </div>
        <div className="bar" role="progressbar" aria-label={`${name} progress`} aria-valuemin={0} aria-valuemax={100} aria-valuenow={percent}>
          <div className="bar-fill" style={{ width: `${percent}%` }} />
        </div>
        <div className="row-figures">
          <span className="figures">{formatTransferLine(throttled ? { bytes: t.bytes, total: t.total } : t)}</span>
          <span className={`state state-${throttled ? 'throttled' : t.state}`} title={state}>
            {state}
          </span>
          {t.state === 'failed' && onRetry && (
            <button type="button" className="retry" onClick={() => onRetry(t.id)} aria-label={`Retry ${name}`}>
              Retry
            </button>
          )}
        </div>
      </div>
    </div>
  );
});

export const FinishedRow = memo(function FinishedRow({ t }: { t: FinishedTransfer }) {
  const name = nameOf(t.path);
  const verb = t.direction === 'upload' ? 'Uploaded' : 'Downloaded';
  return (
    <div className="row finished" data-testid="recent-row" aria-label={`${name}: ${verb.toLowerCase()} at ${formatClock(t.finishedAt)}`}>
      <FileIcon direction={t.direction} />
      <div className="row-main">
        <div className="row-title">
          <span className="name" title={t.path}>
            {name}
          </span>
          <span className="folder">{folderOf(t.path)}</span>
        </div>
        <div className="row-figures">
          <span className="figures">{formatBytes(t.total)}</span>
          <span className="state state-done">
            {verb} {formatClock(t.finishedAt)}
          </span>
        </div>
      </div>
    </div>
  );
});
