/**
 * The vocabulary of the concurrency tests: file system operations a worker program performs on the
 * mount, the deterministic bytes they write, and latency summaries. Shared by the test (which plans
 * the operations and knows what every one must return) and e2e/fs-worker.ts (which performs them in
 * its own process, so the test process never makes a call on the mount it could block on).
 */
import { createHash } from 'node:crypto';

/** Bytes named by a seed and a size: the plan carries the spec, the worker makes the bytes. */
export interface ContentSpec {
  seed: number;
  size: number;
}

interface Common {
  /** Error codes that count as a legitimate answer (racing namespace ops); any other error fails the op. */
  allow?: string[];
  /** The op must fail with exactly this code (rmdir of a folder that is not empty …). */
  expectError?: string;
}

export type FsOp = Common &
  (
    | { op: 'write'; path: string; content: ContentSpec }
    | { op: 'append'; path: string; content: ContentSpec }
    /** Whole file; `sha256` checks the bytes when given. */
    | { op: 'read'; path: string; sha256?: string }
    | { op: 'readRange'; path: string; offset: number; length: number; sha256: string }
    | { op: 'stat'; path: string; size?: number }
    | { op: 'rename'; from: string; to: string }
    | { op: 'unlink'; path: string }
    | { op: 'mkdir'; path: string }
    | { op: 'rmdir'; path: string }
    /** `names` (sorted) checks the listing exactly; `includes` only that these are present. */
    | { op: 'readdir'; path: string; names?: string[]; includes?: string[] }
  );

export interface WorkerPlan {
  name: string;
  ops: FsOp[];
}

export interface ProcessPlan {
  /** A hung call is reported after this long (the run fails on it); the worker's later ops are skipped. */
  opTimeoutMs: number;
  workers: WorkerPlan[];
}

export interface ProcessResult {
  /** From the first op to the last answer, without the program's own start-up. */
  wallMs: number;
  results: OpResult[];
}

export interface OpResult {
  worker: string;
  index: number;
  op: FsOp['op'];
  /** Where it acted, for messages. */
  target: string;
  ms: number;
  /** 'ok', an allowed errno ('allowed:ENOENT'), or a failure. */
  outcome: 'ok' | `allowed:${string}` | 'failed' | 'timeout';
  detail?: string;
}

/** mulberry32: a small deterministic generator, enough to make test bytes and plans reproducible. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function contentOf(spec: ContentSpec): Buffer {
  const buf = Buffer.alloc(spec.size);
  let a = (spec.seed * 2654435761) >>> 0;
  let i = 0;
  for (; i + 4 <= spec.size; i += 4) {
    a = (a + 0x6d2b79f5) >>> 0;
    buf.writeUInt32LE(Math.imul(a ^ (a >>> 15), a | 1) >>> 0, i);
  }
  for (; i < spec.size; i++) buf[i] = (a >>> (8 * (i % 4))) & 0xff;
  return buf;
}

export const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

export function targetOf(op: FsOp): string {
  return op.op === 'rename' ? `${op.from} → ${op.to}` : op.path;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p95: number;
  max: number;
}

export function summarize(ms: number[]): LatencySummary {
  if (ms.length === 0) return { count: 0, p50: 0, p95: 0, max: 0 };
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { count: s.length, p50: at(0.5), p95: at(0.95), max: s[s.length - 1]! };
}

/** One line per op kind and one for all: count, p50, p95, max (ms). */
export function latencyTable(results: OpResult[]): string {
  const kinds = [...new Set(results.map((r) => r.op))].sort();
  const line = (what: string, rs: OpResult[]) => {
    const s = summarize(rs.map((r) => r.ms));
    return `${what.padEnd(10)} n=${String(s.count).padStart(4)}  p50 ${s.p50.toFixed(1).padStart(7)} ms  p95 ${s.p95.toFixed(1).padStart(7)} ms  max ${s.max.toFixed(1).padStart(7)} ms`;
  };
  return [...kinds.map((k) => line(k, results.filter((r) => r.op === k))), line('all', results)].join('\n');
}
