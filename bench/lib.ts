/** Shared bench helpers: temp dirs, timing, tables. Benchmarks print numbers and ratios; they never pass or fail on time. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t };
}

export function mbps(bytes: number, ms: number): number {
  return bytes / MiB / (ms / 1000);
}

export interface Row {
  what: string;
  value: string;
  note?: string;
}

export function printTable(title: string, rows: Row[]): void {
  const w1 = Math.max(...rows.map((r) => r.what.length), 4);
  const w2 = Math.max(...rows.map((r) => r.value.length), 5);
  console.log(`\n## ${title}\n`);
  console.log(`| ${'what'.padEnd(w1)} | ${'value'.padEnd(w2)} | note |`);
  console.log(`|${'-'.repeat(w1 + 2)}|${'-'.repeat(w2 + 2)}|------|`);
  for (const r of rows) console.log(`| ${r.what.padEnd(w1)} | ${r.value.padEnd(w2)} | ${r.note ?? ''} |`);
}

export const fmt = (n: number, digits = 1) => n.toFixed(digits);

export const median = (xs: number[]): number => {
  if (xs.length === 0) throw new Error('median of nothing');
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};

/** A positive number from the environment (a quick run's smaller sizes), else `fallback`. */
export const envNumber = (name: string, fallback: number): number => {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a positive number, got '${raw}'`);
  return n;
};

/** A table with any columns (the first left-aligned, the rest as given). */
export function printGrid(title: string, headers: string[], rows: string[][]): void {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(`\n## ${title}\n`);
  console.log(line(headers));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of rows) console.log(line(headers.map((_, i) => r[i] ?? '')));
}

/**
 * One upload request through undici's request API, the engine's own HTTP path (graph-transport.ts):
 * fetch spends 2–3 s of CPU per GiB sent, which on two cores took a core from the server measured.
 */
export async function put(url: string, body: Buffer, headers: Record<string, string> = {}): Promise<string> {
  const r = await request(url, { method: 'PUT', headers: { 'content-length': String(body.length), ...headers }, body });
  const text = await r.body.text();
  if (r.statusCode >= 300) throw new Error(`PUT ${url}: ${r.statusCode} ${text}`);
  return text;
}
