/** `onemount status` in words. */
import type { EngineStatus } from '../../../src-shared/ipc/contract.ts';

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'] as const;

/** 434.5 MB, 1.1 TB: decimal units with three significant digits or so, as the panel shows them. */
export function formatSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${UNITS[unit]}`;
}
const mb = formatSize;

export function formatStatus(s: EngineStatus): string {
  const lines = [
    `Account ${s.account} (${s.driveType ?? 'unknown drive type'}) mounted at ${s.mountpoint}: ${s.state}`,
    `  ${s.items} items, ${mb(s.cachedBytes)} cached on this device`,
  ];
  if (s.indexing) lines.push(`  Indexing: ${s.indexing.items} items so far (folders are listed as they are opened)`);
  if (s.quota) lines.push(`  storage: ${mb(s.quota.used)} used of ${mb(s.quota.total)}`);
  if (s.lastSyncAt) lines.push(`  last sync ${new Date(s.lastSyncAt).toLocaleTimeString()}`);
  if (s.lastSyncError) lines.push(`  last sync error: ${s.lastSyncError}`);
  if (s.connectivity?.state === 'offline') {
    lines.push(`  offline since ${new Date(s.connectivity.since).toLocaleTimeString()}${s.connectivity.reason ? ` (${s.connectivity.reason})` : ''} — cached files still open`);
  }
  if (s.pause?.paused) lines.push(s.pause.until ? `  syncing paused until ${new Date(s.pause.until).toLocaleTimeString()}` : '  syncing paused until resumed');
  if (s.conflicts) lines.push(`  ${s.conflicts} conflict${s.conflicts === 1 ? '' : 's'} waiting (both versions are kept)`);
  for (const f of s.failedChanges ?? []) lines.push(`  refused by the server: ${f.change} of ${f.path}: ${f.message}`);
  if (s.recovery) {
    lines.push(`  the database was corrupt and rebuilt: ${s.recovery.restored} unsent change(s) put back` + (s.recovery.folder ? `, ${s.recovery.recovered} file(s) in ${s.recovery.folder}` : ''));
  }
  if (s.sleptWithChanges) {
    const n = s.sleptWithChanges.notUploaded;
    lines.push(`  ${n} change${n === 1 ? '' : 's'} not uploaded yet when the system went to sleep at ${new Date(s.sleptWithChanges.at).toLocaleTimeString()}; uploading now`);
  }
  const indexers = formatIndexers(s.indexers);
  if (indexers) lines.push(`  ${indexers}`);
  if (s.throttledUntil && s.throttledUntil > Date.now()) lines.push(`  OneDrive asked to slow down: resuming in ${Math.ceil((s.throttledUntil - Date.now()) / 1000)} s`);
  if (s.transfers.length === 0) lines.push('  no transfers');
  for (const t of s.transfers) {
    const pct = t.total ? Math.floor((t.bytes / t.total) * 100) : 0;
    lines.push(`  ${t.direction === 'upload' ? '↑' : '↓'} ${t.path}  ${t.state}  ${mb(t.bytes)} of ${mb(t.total)} (${pct}%)${t.error ? ` — ${t.error.message}` : ''}`);
  }
  return lines.join('\n');
}

/** The indexer line of status (also the panel's): what was refused, or why nothing can be. */
export function formatIndexers(i: EngineStatus['indexers']): string | undefined {
  if (!i || !i.refuse) return undefined;
  if (!i.callerKnown) return 'indexers: not told apart (this FUSE module does not say which program reads; `npm run build:fuse-native`), so they read files like anyone';
  if (i.refused === 0) return undefined;
  const top = Object.entries(i.byProgram)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([program, n]) => `${program} ${n}`);
  return `indexers: ${i.refused} read${i.refused === 1 ? '' : 's'} of files not on this device refused (${top.slice(0, 4).join(', ')}${top.length > 4 ? ', …' : ''})`;
}
