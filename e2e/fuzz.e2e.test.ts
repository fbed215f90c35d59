/**
 * The sync fuzzer in `npm test`: a fixed set of schedules (seed, index) on one real mount, with
 * local operations, remote changes, faults, kill -9 and clean restarts, each checked against the
 * model at every quiet point (e2e/fuzz/checks.ts). A longer run: `npm run fuzz -- --seed N --runs K`
 * (docs/testing.md). A failure prints its seed, its ops and a replay command.
 *
 * Bugs the fuzzer found and that are not fixed yet stay visible below as `it.fails`, each with its
 * minimal schedule; when the engine is fixed they start passing, and vitest says so.
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { describeFailure, fuzz, readReplay } from './fuzz/fuzz.ts';
import { generateSchedule, type Schedule } from './fuzz/generate.ts';

/**
 * Schedules that passed in the long run and between them cover every local op, remote edits, moves
 * and deletes, every fault, kill -9 and clean restarts. None has a file both sides changed: those
 * still hit the open conflict bugs below at random, which would make this test flaky, not useful.
 * (1000/24 was here and failed once with the name-clash bug below, so it went: any schedule that
 * rewrites a new file during its first upload can hit it until that is fixed.)
 */
const PASSING: Array<[seed: number, index: number]> = [0, 14, 20, 26, 34, 43, 49, 52, 54, 58, 87].map((i) => [1000, i]);

async function expectNoFailure(schedules: Schedule[]): Promise<void> {
  const lines: string[] = [];
  const summary = await fuzz({ seed: 0, runs: schedules.length, shrinkAttempts: 0, log: (l) => lines.push(l) }, schedules);
  expect(summary.failures.map(describeFailure).join('\n\n')).toBe('');
  expect(summary.runs).toBe(schedules.length);
}

/**
 * A known bug's minimal schedule (e2e/fuzz/known-bugs/), run up to `tries` times and stopping at the
 * first failure: timing-dependent bugs do not show on every run. It throws (as it.fails wants)
 * once the bug shows; with the bug fixed, every try passes and vitest reports the it.fails.
 */
async function reproduce(file: string, tries: number): Promise<void> {
  const s = await readReplay(path.join(import.meta.dirname, 'fuzz', 'known-bugs', file));
  for (let i = 0; i < tries; i++) await expectNoFailure([s]);
}

describe('sync fuzzer, fixed seeds', () => {
  it('schedules of local ops, remote changes, faults and restarts keep every invariant', async () => {
    await expectNoFailure(PASSING.map(([seed, index]) => generateSchedule(seed, index)));
  }, 300_000);
});

describe('sync fuzzer, bugs it found (open)', () => {
  // A new file renamed (into another folder) while its first upload waits out a 429 Retry-After:
  // the rename is undone — the file ends at its old name on the mount and on the server, and
  // F/b.txt never exists. Every run. Replay: npm run fuzz -- --replay e2e/fuzz/known-bugs/rename-while-retry-after.json
  it.fails('a rename during a Retry-After wait is kept', async () => {
    await reproduce('rename-while-retry-after.json', 2);
  }, 180_000);

  // The same with a delete: a new file deleted while the engine waits out a 429 (a mkdir queued
  // meanwhile) comes back with its content, on the mount and the server. Shrunk from seed 1000,
  // schedule 83 (nine shrink steps in a row reproduced it).
  // Replay: npm run fuzz -- --replay e2e/fuzz/known-bugs/delete-while-retry-after.json
  it.fails('a delete during a Retry-After wait is kept', async () => {
    await reproduce('delete-while-retry-after.json', 3);
  }, 180_000);

  // Files created, kill -9 while their first uploads run, then deleted after the restart: a
  // deleted file comes back (first version) on the mount and the server. About two runs in three.
  // Replay: npm run fuzz -- --replay e2e/fuzz/known-bugs/delete-after-kill-resurrects.json --repeat 3
  it.fails('a delete after kill -9 during the first upload stays deleted', async () => {
    await reproduce('delete-after-kill-resurrects.json', 6);
  }, 300_000);

  // Not an it.fails (it shows in about one run in three, all files of a run or none, and not at
  // all in 10 runs under load — an it.fails on it would fail at random): a local overwrite racing
  // a remote edit of the same file records the conflict twice, one record without a copy name and
  // one with, so the user sees two conflicts for one; also seen as a remote-deleted conflict
  // recorded twice. Found by seeds 1000/13, 41, 51, 53, 98, 126. Replay:
  // npm run fuzz -- --replay e2e/fuzz/known-bugs/conflict-recorded-twice.json --repeat 10

  // A clean restart while new files' first uploads run, then an append to one of them: the edit
  // goes to a "name-clash" conflict copy and the name keeps the first version — only this device
  // changed anything. Also seen without a restart (a 429 and a dropped body during the first
  // upload, then a truncate). About three runs in four.
  // Replay: npm run fuzz -- --replay e2e/fuzz/known-bugs/restart-then-name-clash.json --repeat 3
  it.fails('no name-clash conflict for files only this device changed, across a clean restart', async () => {
    await reproduce('restart-then-name-clash.json', 6);
  }, 300_000);

  // Reproduced 2 of 2 but not an it.fails (each run costs the 120 s quiet timeout): after an
  // offline stretch with editor saves and 500s, the engine repeats PUT …/a.txt:/content with
  // conflictBehavior=fail for minutes and never fetches delta again — the drive stops syncing.
  // Replay: npm run fuzz -- --replay e2e/fuzz/known-bugs/upload-409-loop-blocks-delta.json (seed 1000, schedule 173)
  // Seen twice (the long run and 1 of 1 replays; 0 of 2 with the ops after the failure cut off):
  // b.txt renamed over d, an append, a clean restart, a write at an offset, a folder rename — then
  // creating d (open with O_CREAT) fails with ENOENT. Replay (--repeat 3):
  // e2e/fuzz/known-bugs/rename-over-then-restart-enoent.json (seed 1000, schedule 531).
  // Seen once, not reproduced in 2 replays since: files deleted right after they were created
  // (first uploads in flight, then offline and 500s) came back with their first content. Replay:
  // e2e/fuzz/known-bugs/seen-once-deletes-resurrected-offline.json (seed 1000, schedule 90).
  // Seen once, not reproduced in 3 replays since (so not an it.fails: it would fail at random): an
  // editor-style save of a file whose first upload was in flight recorded a both-modified conflict
  // for it, with no copy and no remote change. Replay (--repeat 10): e2e/fuzz/known-bugs/false-conflict-on-save.json
});
