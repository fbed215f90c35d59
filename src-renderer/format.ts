/** Human-readable sizes, speeds and durations for the transfer panel (docs/ui.md: "12.3 MB of 100 MB · 4.2 MB/s · 20 s left"). */

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'] as const;

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return '—';
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < UNITS.length - 1) {
    value /= 1000;
    unit++;
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1;
  return `${value.toFixed(digits)} ${UNITS[unit]}`;
}

export function formatSpeed(bytesPerSecond: number): string {
  return `${formatBytes(bytesPerSecond)}/s`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** "report.docx" from "/Documents/report.docx". */
export function nameOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i < 0 ? path : path.slice(i + 1) || '/';
}

/** "/Documents" from "/Documents/report.docx"; "/" for the root's children. */
export function folderOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** Wall-clock time as "14:02" (local time; the panel never shows dates for today's events). */
export function formatClock(epochMs: number): string {
  const d = new Date(epochMs);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** Seconds from now until `epochMs`, never negative ("retrying in 0 s" rather than "in -2 s"). */
export function secondsUntil(epochMs: number, now: number): number {
  return Math.max(0, Math.ceil((epochMs - now) / 1000));
}

export interface TransferFigures {
  bytes: number;
  total: number;
  bytesPerSecond?: number;
}

/** "12.3 MB of 100 MB · 4.2 MB/s · 20 s left" (speed and time left only while data moves). */
export function formatTransferLine(t: TransferFigures): string {
  const parts = [`${formatBytes(t.bytes)} of ${formatBytes(t.total)}`];
  if (t.bytesPerSecond !== undefined && t.bytesPerSecond > 0 && t.bytes < t.total) {
    parts.push(formatSpeed(t.bytesPerSecond));
    parts.push(`${formatDuration((t.total - t.bytes) / t.bytesPerSecond)} left`);
  }
  return parts.join(' · ');
}

/** Share done, 0..1 (an empty file is done). */
export function progressOf(t: { bytes: number; total: number }): number {
  return t.total <= 0 ? 1 : Math.min(1, Math.max(0, t.bytes / t.total));
}
