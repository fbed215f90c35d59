/**
 * The fuzz loop: runs schedules, and on a failure prints the seed, the schedule index, the op list
 * and the violations, writes a replay file, shrinks it (drops ops while it still fails, within a
 * budget) and prints the command that replays the minimal schedule.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { generateSchedule, type Schedule } from './generate.ts';
import { describeOp, type Op } from './model.ts';
import { FuzzRig, type ScheduleResult } from './runner.ts';

export const REPLAY_DIR = path.join(os.tmpdir(), 'onemount-fuzz');

/** The fraction of generated schedules that run in a shared folder, unless told otherwise. */
export const SHARED_RATE = 0.2;

export interface FuzzOptions {
  seed: number;
  runs: number;
  /** Shrink a failing schedule (re-runs it with ops dropped) within this many attempts; 0: no shrinking. */
  shrinkAttempts?: number;
  /** Stop at the first failure. */
  stopOnFailure?: boolean;
  /** A fresh engine + emulator after this many schedules (keeps one engine's history bounded). */
  rigEvery?: number;
  /** The fraction of generated schedules that run in a shared folder (generate.ts). */
  sharedRate?: number;
  log?: (line: string) => void;
}

export interface Failure {
  schedule: Schedule;
  result: ScheduleResult;
  replayFile: string;
  minimal?: { schedule: Schedule; result: ScheduleResult; replayFile: string };
}

export interface FuzzSummary {
  runs: number;
  failures: Failure[];
  ops: number;
  settles: number;
  ms: number;
}

let rootCounter = 0;
function rootName(s: Schedule, tag = ''): string {
  return `fz-${s.seed}-${s.index}${tag}-${process.pid}-${++rootCounter}`;
}

export function formatSchedule(s: Schedule): string {
  return s.ops.map((op, i) => `  ${String(i).padStart(3)} ${describeOp(op)}`).join('\n');
}

export async function writeReplay(s: Schedule, tag: string): Promise<string> {
  await mkdir(REPLAY_DIR, { recursive: true });
  const file = path.join(REPLAY_DIR, `replay-${s.seed}-${s.index}${tag}.json`);
  await writeFile(file, JSON.stringify(s, null, 1) + '\n');
  return file;
}

export async function readReplay(file: string): Promise<Schedule> {
  const s = JSON.parse(await readFile(file, 'utf8')) as Schedule;
  if (!Array.isArray(s.ops) || typeof s.seed !== 'number') throw new Error(`${file} is not a replay file`);
  return s;
}

export function replayCommand(file: string): string {
  return `npm run fuzz -- --replay ${file}`;
}

/** Runs one schedule on the rig; a rig that broke (engine would not start …) is reported as a failure, not a crash. */
export async function runOne(rig: FuzzRig, s: Schedule, tag: string, log: (line: string) => void): Promise<ScheduleResult> {
  const root = rootName(s, tag);
  try {
    const r = await rig.run(s, root, log);
    if (r.violations.length === 0) await rig.discard(root);
    return r;
  } catch (e) {
    return { schedule: s, root, violations: [{ kind: 'never-quiet', message: `the schedule could not run: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}` }], stoppedAt: -1, skipped: 0, settles: 0, ms: 0 };
  }
}

/**
 * Delta debugging, bounded: try dropping chunks of ops (halves, quarters, … single ops); keep a
 * drop when the schedule still fails with a violation of the same kind. The trailing settle always
 * stays. Failures that depend on timing may not reproduce on every run, so a minimal replay can
 * need --repeat.
 */
export async function shrink(rig: FuzzRig, s: Schedule, kind: string, attempts: number, log: (line: string) => void): Promise<{ schedule: Schedule; result?: ScheduleResult }> {
  let best = s;
  let bestResult: ScheduleResult | undefined;
  let left = attempts;
  const body = (ops: Op[]) => ops.slice(0, -1);
  for (let chunk = Math.max(1, Math.floor(body(best.ops).length / 2)); chunk >= 1 && left > 0; chunk = Math.floor(chunk / 2)) {
    for (let start = 0; start < body(best.ops).length && left > 0; ) {
      const ops = [...best.ops.slice(0, start), ...best.ops.slice(start + chunk)];
      if (ops.length === best.ops.length || ops.length < 1) break;
      const candidate: Schedule = { ...best, ops };
      left--;
      const r = await runOne(rig, candidate, '-shrink', log);
      // Only the same kind of failure counts: shrinking must not drift to another bug.
      if (r.violations.some((v) => v.kind === kind)) {
        log(`  shrink: ${best.ops.length} → ${ops.length} ops still fails (${r.violations[0]!.kind})`);
        best = candidate;
        bestResult = r;
      } else {
        start += chunk;
      }
    }
    if (chunk === 1) break;
  }
  return { schedule: best, result: bestResult };
}

export function describeFailure(f: Failure): string {
  const s = f.schedule;
  const lines = [
    `FAILED: seed ${s.seed}, schedule ${s.index} (${s.shared ? 'shared ' : ''}folder ${f.result.root}), stopped at op ${f.result.stoppedAt} of ${s.ops.length}`,
    ...f.result.violations.map((v) => `  [${v.kind}] ${v.message}`),
    'ops:',
    formatSchedule(s),
    `replay: ${replayCommand(f.replayFile)}`,
  ];
  if (f.minimal) {
    lines.push(`minimal replay (${f.minimal.schedule.ops.length} ops): ${replayCommand(f.minimal.replayFile)}`, formatSchedule(f.minimal.schedule), ...f.minimal.result.violations.map((v) => `  [${v.kind}] ${v.message}`));
  }
  return lines.join('\n');
}

/** Runs schedules on a rig, shrinks failures, returns what happened. */
export async function fuzz(o: FuzzOptions, schedules?: Iterable<Schedule>): Promise<FuzzSummary> {
  const log = o.log ?? ((line: string) => console.log(line));
  // Generated one at a time: a long run's schedules never all sit in memory.
  const list = schedules ?? (function* () {
    for (let i = 0; i < o.runs; i++) yield generateSchedule(o.seed, i, { sharedRate: o.sharedRate ?? SHARED_RATE });
  })();
  const summary: FuzzSummary = { runs: 0, failures: [], ops: 0, settles: 0, ms: 0 };
  const started = Date.now();
  let rig: FuzzRig | undefined;
  let onRig = 0;
  // Ctrl-C or kill during a long run: stop the engine and the emulator and unmount before exiting,
  // or they outlive this process.
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    stopping = true;
    log(`fuzz: ${signal}, closing the mount after ${summary.runs} schedule(s)`);
    void (rig?.close() ?? Promise.resolve()).finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for (const s of list) {
      if (!rig || (o.rigEvery && onRig >= o.rigEvery)) {
        await rig?.close();
        rig = await FuzzRig.start();
        onRig = 0;
      }
      onRig++;
      const r = await runOne(rig, s, '', log);
      // The schedule the signal interrupted broke on the closing rig, not on the engine.
      if (stopping) {
        log(`schedule seed=${s.seed} index=${s.index}: interrupted by the shutdown, not counted`);
        break;
      }
      summary.runs++;
      summary.ops += r.stoppedAt < 0 ? 0 : Math.min(r.stoppedAt + 1, s.ops.length);
      summary.settles += r.settles;
      const head = `schedule seed=${s.seed} index=${s.index}: ${s.ops.length} ops, ${r.settles} settles, ${r.skipped} skipped, ${(r.ms / 1000).toFixed(1)} s`;
      if (r.violations.length === 0) {
        log(`${head} ok`);
        continue;
      }
      log(`${head} FAILED`);
      const failure: Failure = { schedule: s, result: r, replayFile: await writeReplay(s, '') };
      if ((o.shrinkAttempts ?? 0) > 0) {
        // A broken rig cannot shrink anything: start a fresh one.
        await rig.close();
        rig = await FuzzRig.start();
        onRig = 0;
        const small = await shrink(rig, s, r.violations[0]!.kind, o.shrinkAttempts!, log);
        if (small.result) failure.minimal = { schedule: small.schedule, result: small.result, replayFile: await writeReplay(small.schedule, '-min') };
      }
      summary.failures.push(failure);
      log(describeFailure(failure));
      if (o.stopOnFailure) break;
      // Whatever state the failure left behind stays out of the next schedule.
      await rig.close();
      rig = undefined;
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await rig?.close();
    summary.ms = Date.now() - started;
  }
  return summary;
}
