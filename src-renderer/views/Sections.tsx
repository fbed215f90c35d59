import { useId, type ReactNode } from 'react';
import type { FileError, TransferItem } from '../../src-shared/model/transfer.ts';
import { folderOf, formatClock, nameOf } from '../format.ts';
import { useActions, useConflicts, useEngine, useTransfers } from '../context.ts';
import { useNow } from '../use-now.ts';
import { ConflictRow } from './ConflictRow.tsx';
import { FinishedRow, TransferRow } from './TransferRow.tsx';
import { VirtualList } from './VirtualList.tsx';
import { formatTotals, totalsOf } from '../totals.ts';

const ROW = 64;
const OPERATION: Record<FileError['operation'], string> = { read: 'Reading', write: 'Writing', create: 'Creating', delete: 'Deleting', rename: 'Renaming' };
const CONFLICT_ROW = 96;

function Section({ title, count, empty, testId, children }: { title: string; count: number; empty: string; testId: string; children: ReactNode }) {
  const id = useId();
  return (
    <section className="section" aria-labelledby={id} data-testid={testId}>
      <h2 id={id}>
        {title} <span className="count" data-testid={`${testId}-count`}>{count}</span>
      </h2>
      {count === 0 ? <p className="empty">{empty}</p> : children}
    </section>
  );
}

function TransferList({ items, label, onRetry }: { items: TransferItem[]; label: string; onRetry?: (id: string) => void }) {
  const now = useNow();
  const throttledUntil = useEngine((s) => s.status?.throttledUntil);
  return <VirtualList items={items} label={label} rowHeight={ROW} maxRows={5} keyOf={(t) => t.id} render={(t) => <TransferRow t={t} now={now} throttledUntil={throttledUntil} {...(onRetry ? { onRetry } : {})} />} />;
}

/** "4 067 files · 1.2 GB · about 12 min" above the queues while there is work. */
function TotalsLine({ uploads, downloads }: { uploads: TransferItem[]; downloads: TransferItem[] }) {
  const totals = totalsOf([uploads, downloads]);
  if (totals.files === 0) return null;
  return (
    <p className="totals" data-testid="totals">
      {formatTotals(totals)}
    </p>
  );
}

export function Sections() {
  const uploads = useTransfers((s) => s.uploads);
  const downloads = useTransfers((s) => s.downloads);
  const recent = useTransfers((s) => s.recent);
  const failed = useTransfers((s) => s.failed);
  const conflicts = useConflicts((s) => s.conflicts);
  const conflictsUnavailable = useConflicts((s) => s.unavailable);
  const resolving = useConflicts((s) => s.resolving);
  const syncError = useEngine((s) => s.status?.lastSyncError);
  const fileErrors = useTransfers((s) => s.fileErrors);
  const { resolveConflict, retryTransfer, openFolder } = useActions();
  const errorCount = failed.length + fileErrors.length + (syncError ? 1 : 0);
  return (
    <main className="sections">
      <TotalsLine uploads={uploads} downloads={downloads} />
      <Section title="Uploading" count={uploads.length} empty="Nothing to upload." testId="uploads">
        <TransferList items={uploads} label="Uploads" />
      </Section>
      <Section title="Downloading" count={downloads.length} empty="Nothing downloading." testId="downloads">
        <TransferList items={downloads} label="Downloads" />
      </Section>
      <Section title="Recent" count={recent.length} empty="Nothing transferred yet." testId="recent">
        <VirtualList items={recent} label="Recently transferred" rowHeight={ROW} maxRows={5} keyOf={(t) => t.id} render={(t) => <FinishedRow t={t} />} />
      </Section>
      <Section title="Conflicts" count={conflicts.length} empty={conflictsUnavailable ? `Conflicts cannot be listed: ${conflictsUnavailable}.` : 'No conflicts.'} testId="conflicts">
        <VirtualList items={conflicts} label="Conflicts" rowHeight={CONFLICT_ROW} maxRows={3} keyOf={(c) => c.id} render={(c) => <ConflictRow c={c} busy={resolving.has(c.id)} onResolve={(id, choice) => void resolveConflict(id, choice)} onShow={(p) => void openFolder(p)} />} />
      </Section>
      <Section title="Errors" count={errorCount} empty="No errors." testId="errors">
        {syncError && (
          <p className="sync-error" role="alert">
            Remote changes could not be fetched: {syncError}
          </p>
        )}
        {fileErrors.length > 0 && (
          <ul className="file-errors" aria-label="Failed reads and writes">
            {fileErrors.map((e) => (
              <li key={`${e.at}-${e.path}-${e.operation}`} data-testid="file-error">
                <span className="name">{nameOf(e.path)}</span> <span className="folder">{folderOf(e.path)}</span>
                <span className="state state-failed">
                  {OPERATION[e.operation]} failed: {e.error.message} ({formatClock(e.at)})
                </span>
              </li>
            ))}
          </ul>
        )}
        {failed.length > 0 && <TransferList items={failed} label="Failed transfers" onRetry={(id) => void retryTransfer(id)} />}
      </Section>
    </main>
  );
}
