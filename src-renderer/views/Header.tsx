import { useEffect } from 'react';
import { connectivityChip } from '../banner.ts';
import { useActions, useEngine, useTransfers } from '../context.ts';
import { formatBytes } from '../format.ts';
import { windowTitle } from '../totals.ts';
import { useNow } from '../use-now.ts';

export function Header() {
  const link = useEngine((s) => s.link);
  const status = useEngine((s) => s.status);
  const pending = useTransfers((s) => s.uploads.length + s.downloads.length);
  const now = useNow();
  const { openInWindow } = useActions();
  // The desktop app loads its tray popover with ?popover.
  const inPopover = new URLSearchParams(location.search).has('popover');
  const chip = connectivityChip(link, status, now);
  const quota = status?.quota;
  const used = quota && quota.total > 0 ? Math.min(1, quota.used / quota.total) : 0;
  const account = status?.auth?.user ?? status?.account;
  const title = windowTitle(chip.label, pending);
  // The Electron window and the browser tab take their title from the page.
  useEffect(() => {
    document.title = title;
  }, [title]);
  return (
    <header className="header">
      <div className="header-top">
        <div className="account">
          <span className="app-name">OneMount</span>
          {account !== undefined && (
            <span className="account-name" data-testid="account">
              {account}
            </span>
          )}
        </div>
        <div className="header-end">
          <span className={`chip chip-${chip.tone}`} role="status" data-testid="connectivity">
            {chip.label}
          </span>
          {inPopover && (
            <button type="button" className="plain" onClick={() => void openInWindow()} title="Open in a window" aria-label="Open in a window">
              <svg viewBox="0 0 16 16" width="16" height="16" aria-hidden="true">
                <path d="M9 2.5h4.5V7M13.5 2.5 8 8M6.5 3.5h-4v10h10v-4" fill="none" stroke="currentColor" strokeWidth="1.5" strokeLinecap="round" strokeLinejoin="round" />
              </svg>
            </button>
          )}
        </div>
      </div>
      {quota && (
        <div className="storage">
          <div className="bar storage-bar" role="meter" aria-label="Storage used" aria-valuemin={0} aria-valuemax={quota.total} aria-valuenow={quota.used}>
            <div className="bar-fill" style={{ width: `${Math.round(used * 100)}%` }} />
          </div>
          <span className="storage-text">
            {formatBytes(quota.used)} of {formatBytes(quota.total)} used
          </span>
        </div>
      )}
    </header>
  );
}
