/**
 * `npm run fuzz -- --seed N --runs K`: K random schedules from seed N against a real mount.
 * `npm run fuzz -- --replay FILE`: one schedule from a replay file (printed by a failure).
 * Exits 1 when any schedule violated an invariant.
 */
import { Command, InvalidArgumentError } from 'commander';
import { fuzz, readReplay, SHARED_RATE } from './fuzz.ts';
import { generateSchedule, type Schedule } from './generate.ts';

function fraction(value: string): number {
  const n = Number(value);
  if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('a number from 0 to 1');
  return n;
}

function int(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('a whole number ≥ 0');
  return n;
}

const program = new Command()
  .name('fuzz')
  .description('randomized, model-checked sync testing against a real mount and the emulator')
  .option('--seed <n>', 'run seed (default: from the clock, printed)', int)
  .option('--runs <k>', 'schedules to run', int, 20)
  .option('--from <i>', 'first schedule index', int, 0)
  .option('--index <i>', 'run only this schedule of the seed', int)
  .option('--replay <file>', 'run the schedule in this replay file')
  .option('--repeat <n>', 'with --replay: run it this many times', int, 1)
  .option('--shrink <attempts>', 'shrink a failing schedule within this many re-runs (0: off)', int, 40)
  .option('--stop', 'stop at the first failure')
  .option('--rig-every <n>', 'fresh engine and emulator after this many schedules', int, 200)
  .option('--shared <fraction>', 'fraction of schedules that run in a folder shared by another user', fraction, SHARED_RATE)
  .parse();

const o = program.opts<{ seed?: number; runs: number; from: number; index?: number; replay?: string; repeat: number; shrink: number; stop?: boolean; rigEvery: number; shared: number }>();

const seed = o.seed ?? Date.now() % 1_000_000;
let schedules: Iterable<Schedule>;
let count: number;
if (o.replay) {
  const s = await readReplay(o.replay);
  schedules = Array.from({ length: o.repeat }, () => s);
  count = o.repeat;
} else if (o.index !== undefined) {
  schedules = [generateSchedule(seed, o.index, { sharedRate: o.shared })];
  count = 1;
} else {
  const { from, runs } = o;
  schedules = (function* () {
    for (let i = 0; i < runs; i++) yield generateSchedule(seed, from + i, { sharedRate: o.shared });
  })();
  count = runs;
}
console.log(o.replay ? `replaying ${o.replay} ×${o.repeat}` : `fuzz: seed ${seed}, ${count} schedule(s) from index ${o.index ?? o.from}`);
const summary = await fuzz({ seed, runs: count, shrinkAttempts: o.shrink, stopOnFailure: o.stop, rigEvery: o.rigEvery }, schedules);
console.log(
  `fuzz: ${summary.runs} schedule(s), ${summary.ops} ops, ${summary.settles} settles, ${summary.failures.length} failed, ${(summary.ms / 1000).toFixed(0)} s` +
    (summary.failures.length ? `\nfailed: ${summary.failures.map((f) => `seed ${f.schedule.seed} index ${f.schedule.index}${f.minimal ? ` (minimal: ${f.minimal.replayFile})` : ` (${f.replayFile})`}`).join('; ')}` : ''),
);
process.exitCode = summary.failures.length ? 1 : 0;
