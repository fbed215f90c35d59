/**
 * The sync fuzzer in `npm test`: a fixed set of schedules (seed, index) on one real mount, with
 * local operations, remote changes, faults, kill -9 and clean restarts, each checked against the
 * model at every quiet point (e2e/fuzz/checks.ts). A longer run: `npm run fuzz -- --seed N --runs K`
 * (docs/testing.md). A failure prints its seed, its ops and a replay command.
 *
 * Bugs the fuzzer found keep their minimal schedules below (e2e/fuzz/known-bugs/): fixed ones as
 * ordinary tests, open ones as `it.fails` or, where they show only now and then, as a comment with
 * the replay command.
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
 * rewrites a new file during its first upload can hit it until that is fixed. 1000/0 went too: it
 * passed in one full run and failed in the next with a false conflict, fixed since: it is back.)
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

/** Schedules in a folder another user shares (generate.ts `shared`) that passed when they were added. */
const PASSING_SHARED: Array<[seed: number, index: number]> = [0, 1, 2, 5, 6].map((i) => [302, i]);

describe('sync fuzzer, fixed seeds', () => {
  it('schedules of local ops, remote changes, faults and restarts keep every invariant', async () => {
    await expectNoFailure(PASSING.map(([seed, index]) => generateSchedule(seed, index)));
  }, 300_000);

  it('the same in a folder shared by another user', async () => {
    await expectNoFailure(PASSING_SHARED.map(([seed, index]) => generateSchedule(seed, index, { sharedRate: 1 })));
  }, 300_000);
});


describe('sync fuzzer, bugs it found (fixed)', () => {
  // A write is answered before its record (vfs.ts recordAfterReply): `kill -9` right after a
  // 250 904-byte file's last write was answered left its cache file whole and its recorded size at
  // the first write's 131 072 bytes, which were all that reached the server (seed 910000, schedule
  // 33; 2 of 3 replays). Fixed: at start, a dirty file longer than its recorded size takes its
  // length (ContentOwner.recordAnsweredWrites). 8 of 8 replays pass.
  it('a file written just before the engine is killed reaches the server whole', async () => {
    await reproduce('write-answered-then-kill.json', 3);
  }, 180_000);

  // `mv c.bin a.txt` over an a.txt appended to a moment before (libfuse hid it: the append's
  // release was still on its way), while requests were throttled: the delete of the old a.txt and a
  // delta poll went out together once the pause ended, the batch (computed after the delete)
  // arrived before the rows were gone here, and the file's unsent edit made it look deleted by
  // someone else: a remote-deleted conflict for a file only this device changed (seed 710000,
  // schedule 216; 1 to 4 replays in 12 on 2026-12-07's engine). Fixed (sync/delta-apply.test.ts):
  // delta leaves the removal of an item this device is deleting to that delete, which asks the
  // server when it fails (vfs/vfs-namespace.test.ts). 20 of 20 replays pass.
  it('a file replaced here while its delete and a delta poll cross is no conflict', async () => {
    await reproduce('rename-over-edited-file-while-throttled.json', 3);
  }, 180_000);

  // A file edited here while another device moved it and then edited it ended with the local
  // version at its name and the remote edit gone (seed 262000, schedule 277; once in three
  // replays). The emulator's fault, not the engine's: a simple upload's If-Match was checked when
  // the request began, not when its content was committed, so a version written while the body
  // was arriving was overwritten. Fixed in the emulator (conformance-transfers test).
  it('a remote edit made while a conditional upload is on its way is not overwritten', async () => {
    await reproduce('remote-edit-after-move-overwritten.json', 2);
  }, 180_000);

  // In a shared folder: a new b.txt renamed to c.bin while its first upload was on its way, then
  // written and renamed back. The landed copy had followed to c.bin when the write stopped the
  // upload before its commit; the next attempt made a new b.txt and the copy stayed at c.bin, on
  // the server and then on the mount, made by no operation (seed 272000, schedule 24; the shrink
  // did not reproduce it in 6 tries: the exact case is in transfers/upload-manager.test.ts).
  // Fixed: a copy that follows its file is watched where it went.
  it('the landed copy of a stopped first upload does not stay where it followed its file', async () => {
    await reproduce('landed-copy-followed-then-stopped.json', 2);
  }, 180_000);

  // A new file `d` renamed over G/b.txt while its first upload was on its way; the upload landed
  // as `d`, its move to G/b.txt failed (offline) and only a warning said so; after a kill, the
  // restart's delta took the file back to `d` and G/b.txt was gone (seed 334000, schedule 9; 3 of
  // 15 replays; the exact case is in transfers/upload-manager.test.ts). Fixed: the move is journaled.
  it('a new file whose server copy could not follow a rename keeps its place across a restart', async () => {
    await reproduce('new-file-move-lost-offline-restart.json', 2);
  }, 180_000);

  // In a shared folder, while requests were throttled, a new file a.txt renamed over another new
  // file G/notes.md (neither uploaded yet) ended back as a.txt, here and on the server (seed 373000,
  // schedule 33; 2–3 of 8 replays, older than 2026-12-06's engine). In the shared folder's root the
  // move after a first upload was sent on every try (the answer names the folder by its id in its
  // owner's drive), and its last try, sent with the place read before the rename here, undid that
  // rename on the server, then its answer undid it here. Fixed (transfers/upload-manager.test.ts):
  // the shortcut's target counts as the parent, the answer no longer moves the item here, and a
  // server copy still elsewhere after the last try is journaled. 16 of 16 replays pass.
  it('a new file renamed over another new file in a shared folder while throttled keeps its new name', async () => {
    await reproduce('shared-rename-over-new-file-undone.json', 3);
  }, 180_000);

  // In a shared folder, `mv c.bin b.txt` answered EEXIST while the server still held `b.txt` as a
  // new file of ours whose first upload had landed there and was on its way to where it is here
  // (`mv b.txt G/c.bin` a moment before; seed 263000, schedule 176, once in seven replays: the
  // exact case is in src-main/vfs/vfs-namespace.test.ts). Fixed: the rename waits for that move.
  it('a rename onto a name a new file of ours is leaving on the server succeeds', async () => {
    await reproduce('shared-rename-onto-name-of-landed-upload-moving-away.json', 2);
  }, 180_000);

  // Offline, in a shared folder (and the same without): `mv "Sub dir" G/F` (over a new empty
  // G/F), `mkdir "Sub dir"`, `mv G/F "Sub dir/Sub dir"`. The replayed mkdir met the old folder,
  // still at its name on the server (its rename waited for the new folder), took it for a folder
  // made elsewhere and merged with it: the old folder never moved (seed 260000, schedule 123,
  // minimal replay of 33 ops; every replay). Fixed: the mkdir parks while one of ours holds the name.
  it('a folder moved offline into a new folder of its own old name ends there', async () => {
    await reproduce('folder-moved-into-new-folder-of-its-name.json', 1);
  }, 180_000);

  // Shared folders (the fuzzer's first shared schedules, seed 300): after a restart, an offline
  // `rmdir G` of a shared folder's subfolder asked the user's own drive whether G was empty (404:
  // taken as already gone), and G stayed on the server; a keep-both copy sent beside a file in the
  // share's root went to the user's own drive (404) for ever. Fixed: an offline delete's entry
  // names the item's drive, and the shared folder's own id is routed by its shortcut.
  it('an offline rmdir in a shared folder reaches its drive after a restart', async () => {
    await reproduce('shared-offline-rmdir-after-restart.json', 2);
  }, 180_000);
  it('a keep-both copy in a shared folder\'s root reaches its drive', async () => {
    await reproduce('shared-keep-both-copy-in-share-root.json', 1);
  }, 300_000);

  // A kept-both conflict copy `a (conflict …).txt` without a record of its own: an old record
  // left open (delta saw a remote edit, the upload then met a remote delete) was completed by a
  // later conflict (seed 241000, schedule 311, minimal replay of 27 ops; failed 4 replays in 4).
  // Fixed: the first report that places the local edit completes the open record.
  it('a conflict copy always comes with its conflict record', async () => {
    await reproduce('conflict-copy-without-record.json', 2);
  }, 180_000);

  // Offline `mv d c.bin` over a new c.bin whose upload landed without an answer: the replayed
  // rename met that copy and took a conflict name, and the server kept only `c (conflict …).bin`
  // (seed 243000, schedule 301, minimal replay of 20 ops; failed 2 replays in 4). Fixed: the
  // replay deletes a landed copy of a file deleted here that holds the name, then takes it.
  it('a file renamed offline over a new file whose upload landed keeps the name', async () => {
    await reproduce('renamed-offline-over-landed-copy.json', 4);
  }, 300_000);

  // Offline `mkdir G; mv "Sub dir" G/F; mv G "Sub dir"`: the engine never went quiet, its replay
  // asking for G under "Sub dir" (409) and the move of the old "Sub dir" into G waiting for G,
  // round after round (seed 233000, schedule 496, minimal replay of 22 ops; the shrink reproduced
  // it, one replay in four). Fixed: the new folder is made under a name of its own meanwhile.
  it('a folder made offline that takes the name of a folder moved into it reaches the server', async () => {
    await reproduce('mkdir-takes-name-of-folder-moved-into-it.json', 2);
  }, 180_000);

  // A file deleted while the outage began was back on the server afterwards: its new version's
  // upload, cut off by the outage, had landed after all, so the replayed delete's If-Match failed
  // and the file was kept as changed elsewhere (seed 212000, schedule 41; 1 failure in 3 runs).
  // Fixed: the delete carries the versions this engine sent, and one of them on the server goes.
  it('a file deleted offline whose cut-off upload landed after all is deleted', async () => {
    await reproduce('deleted-offline-own-upload-landed.json', 2);
  }, 180_000);

  // A large new file's commit was answered by a dropped connection; the file was renamed here, and
  // the next attempt met its own landed copy under the old name, took it for the file and stayed
  // there: the server kept `b.txt`, `Sub dir/c.bin` never reached it (seed 202000, schedule 84,
  // 2 failures in 3 runs). Fixed: that copy follows the file's place before it becomes the file.
  it('a new file renamed after its commit answer was lost ends under its new name', async () => {
    await reproduce('renamed-after-lost-commit-answer.json', 2);
  }, 180_000);

  // Offline: `mv F G; mv G/G F; rmdir G` (a folder's subfolder takes the folder's old name, and the
  // folder goes) ended with F on the server as `F (conflict …)` and a name-clash record: the
  // folder's rename went with its delete, whose entry named its last local place (G), so the move of
  // the subfolder to F did not know a later entry freed F. Fixed: a delete names the server's place.
  it('a folder flattened offline into its parent\'s old name keeps that name', async () => {
    await reproduce('folder-renamed-out-and-back-offline.json', 2);
  }, 180_000);

  // A rename online onto a name an offline delete not replayed yet still held on the server was
  // refused with EEXIST (the delete was waiting out a 500). Fixed: it is journaled behind it.
  it('a rename onto a name an offline delete frees waits for that delete', async () => {
    await reproduce('rename-onto-name-freed-by-offline-delete.json', 2);
  }, 180_000);

  // A folder made offline never reached the server, or reached it as `Sub dir (conflict 1)` with a
  // name-clash record: a kill cut its replay off mid-request, and the next start's replayer looked
  // at the journal before the entry was back to pending (and delta, not held for it, met the folder
  // the lost answer had made). Fixed: the engine requeues interrupted entries before either starts.
  it('a folder made offline whose replay a kill cut off reaches the server under its name', async () => {
    await reproduce('offline-mkdir-lost-after-renames.json', 2);
  }, 300_000);

  // A new file renamed (into another folder) while its first upload waited out a 429 Retry-After
  // was undone on both sides. Fixed by one key per item and the upload following the file's local
  // place before it commits.
  it('a rename during a Retry-After wait is kept', async () => {
    await reproduce('rename-while-retry-after.json', 2);
  }, 180_000);

  // A file given a time (touch) while its upload waited out a 429 Retry-After took the time the
  // upload began with when it committed, here and on the server (seed 1250000, schedule 76; found by
  // the time invariant, 1 of 1 on the engine before). Fixed: the commit keeps the local time and
  // journals a setattr after the bytes.
  it('a time set while the upload waits is kept', async () => {
    await reproduce('touch-during-upload-time-lost.json', 1);
  }, 180_000);

  // Files created, kill -9 while their first uploads ran, then deleted after the restart: a deleted
  // file came back (its first version). Fixed: deleting a new file whose upload may have landed
  // deletes the server copy holding a version we sent.
  it('a delete after kill -9 during the first upload stays deleted', async () => {
    await reproduce('delete-after-kill-resurrects.json', 4);
  }, 300_000);

  // A clean restart while new files' first uploads ran, then an append: the edit went to a
  // "name-clash" conflict copy. Fixed by one key per item and the persisted versions we sent.
  it('no name-clash conflict for files only this device changed, across a clean restart', async () => {
    await reproduce('restart-then-name-clash.json', 4);
  }, 300_000);

  // A local overwrite racing a remote edit of the same file recorded the conflict twice. Fixed:
  // one record per conflict (ConflictsRepository.record).
  it('a conflict is recorded once', async () => {
    await reproduce('conflict-recorded-twice.json', 3);
  }, 300_000);

  // After an offline stretch in which a folder was made and removed again (its two journal entries
  // cancelled, never replayed), delta stayed paused for ever: the journal's pause was lifted only
  // by an entry's replay event. Seen as uploads repeating and no delta fetched. Fixed: the replayer
  // says when a pass leaves nothing pending, and that lifts the pause.
  it('a folder made and removed while offline does not stop remote sync', async () => {
    await reproduce('offline-folder-made-and-removed-stops-delta.json', 1);
  }, 300_000);

  // A new file deleted while the engine waited out a 429 stayed on the server in about one run in
  // four: its upload's request was on its way when the delete came, and the server committed it
  // after every look-up. Fixed: the delete is remembered with the versions sent, and delta deletes
  // such a copy when it shows up (store/deleted-uploads.ts). Shrunk from seed 1000, schedule 83.
  it('a new file deleted while its upload waits out a 429 stays deleted', async () => {
    await reproduce('delete-while-retry-after.json', 4);
  }, 300_000);

  // A both-modified conflict for a file only this device changed (1 run in 4 of seed 2000,
  // schedules 72 and 84; seed 1000, schedule 0): delta saw our own upload land on the server
  // before the upload's answer reached the worker, while the file was still dirty. Fixed: delta
  // records the conflict only for a version that is not one we sent.
  it('our own upload seen by delta before its answer is no conflict', async () => {
    await reproduce('own-upload-seen-by-delta-false-conflict.json', 2);
  }, 300_000);

  // A new file renamed into another folder while its first upload ran, and written again: the
  // write stopped the upload after its bytes had left, the server committed them at the old place,
  // and the next attempt uploaded at the new one — the drive held a stray copy (seed 3000,
  // schedule 87). Fixed: the old place is watched and delta deletes the copy that lands there.
  // The same schedule also made a second conflict copy of one file take over the first one's
  // record (fixed: each copy has its own record).
  it('a new file moved while its upload is stopped by a write leaves no stray copy', async () => {
    await reproduce('moved-during-superseded-upload.json', 2);
  }, 300_000);

  // The same, with delta seeing the stopped attempt's copy at the old place before the next attempt
  // began (seed 9800, schedule 107; 0 of 3 replays before the fix): the old place was watched only
  // from that attempt on, and delta kept the copy as someone else's file. Fixed: the place is
  // watched from before the last byte leaves (sync/landed-upload.emulator.test.ts makes the race
  // happen every time); this replay only now and then reaches it.
  it('a new file moved after its stopped upload landed, before the next attempt, leaves no stray copy', async () => {
    await reproduce('moved-during-first-upload-stray-copy.json', 2);
  }, 300_000);

  // kill -9 while the upload kept both versions of a file: the copy landed but its answer did not,
  // and the next engine uploaded a second copy; the first had no conflict record (seed 3000,
  // schedule 109, 1 run in 2). Fixed: the copy's name is kept until its commit and the next
  // attempt sends it over the same name.
  it('a kill while both versions are kept leaves one copy, with its record', async () => {
    await reproduce('kill-during-keep-both.json', 2);
  }, 300_000);

  // A file deleted offline and a new file given its name, also offline: back online, the new file's
  // upload reached the server before the delete's replay, found the name taken and went to a
  // name-clash conflict copy (seed 4000, schedule 220, every run). Fixed: a new file whose name is
  // held by something an offline change removes waits for that change's replay.
  it('a new file taking the name of one deleted offline gets the name, not a conflict copy', async () => {
    await reproduce('offline-delete-then-new-file-same-name.json', 1);
  }, 300_000);

  // Offline: b.txt renamed over c.bin, then over d. Replayed in journal order, the rename (folded
  // into the file's latest name, d) reached the server before the delete of the old d and went to
  // a name-clash copy (seed 5000, schedule 90, every run). Fixed: a rename whose name a later
  // offline change frees waits for that change.
  it('renames over files made offline replay without a name clash', async () => {
    await reproduce('offline-rename-over-then-rename-over.json', 1);
  }, 300_000);

  // Offline, folders made and renamed over one another (Sub dir over the empty F/G, then F/Sub dir
  // over F/G again): back online F/G was missing on the server (seed 7000, schedule 41, every run).
  // The folder's mkdir, replayed before the delete of the old F/G, found the name taken and merged
  // with the old folder, which the delete then removed. Fixed: a mkdir whose name a later offline
  // change frees waits for that change (unit test: sync/journal-replayer.emulator.test.ts).
  it('folders renamed over one another offline all reach the server', async () => {
    await reproduce('offline-folder-renames-lose-a-folder.json', 1);
  }, 300_000);

  // An editor-style save (a temp file renamed over the original) of files whose first uploads
  // waited (offline, 429s) left the temp file on the server and the original without the saved
  // bytes (seed 6000, schedule 127, 1 run in 6; seed 7000, schedule 207): the rename waited for the
  // original's removal while the temp file's upload committed, then moved it locally only. Fixed
  // in vfs rename and the upload's commit (unit tests: vfs/vfs-namespace.test.ts,
  // transfers/upload-manager.test.ts); this replay only now and then reaches the race.
  it("an editor's save of files not uploaded yet leaves no temp file", async () => {
    await reproduce('editor-save-leaves-temp-file.json', 2);
  }, 300_000);
});

// Seen before, not reproduced since (each replayed 3 times on the current core, all passing);
// kept with their replays in case they come back:
// - b.txt renamed over d, an append, a clean restart, a write at an offset, a folder rename, then
//   creating d (open with O_CREAT) failed with ENOENT (seen twice before one key per item).
//   Replay: e2e/fuzz/known-bugs/rename-over-then-restart-enoent.json (seed 1000, schedule 531).
// - Files deleted right after they were created (first uploads in flight, then offline and 500s)
//   came back with their first content (seen once; the deleted-uploads watch covers this case).
//   Replay: e2e/fuzz/known-bugs/seen-once-deletes-resurrected-offline.json (seed 1000, schedule 90).
// - An editor-style save of a file whose first upload was in flight recorded a both-modified
//   conflict for it, with no copy and no remote change (seen once; most likely the delta race fixed
//   above). Replay (--repeat 10): e2e/fuzz/known-bugs/false-conflict-on-save.json

//
// Fixed, kept to replay (--repeat 3; docs/testing.md, "Fuzz findings"): a file ending only as a
// name-clash copy (seed 12000, schedule 63): e2e/fuzz/known-bugs/save-lands-as-name-clash-copy.json;
// an editor save's temp file left on the server after a kill (seed 12000, schedule 52):
// e2e/fuzz/known-bugs/editor-save-leaves-temp-file-2.json
// Also fixed and kept: rename-during-offline-rename-replay.json (15000/178),
// keep-both-then-remote-edit-eio.json (22000/70), stopped-keep-both-leaves-copy.json (23000/169),
// folder-flattened-offline.json (31000/64), mkdir-after-moved-then-removed-folder.json (35000/50),
// remote-edit-during-session-upload.json (43000/50), folder-emptied-by-later-delete.json (63000/64),
// remote-delete-reupload-two-records.json (71000/3), conflict-copy-answer-lost.json (82000/57).
//
// Fixed (seen once, 2026-12-06, four fuzzers on 18db815; not in 16 replays): a file made here, moved by
// another device (rMove F/notes.md F/d) and edited here; a delta page fetched while this device's
// upload of the edit was on its way was applied after that upload committed and gave the item back
// the older eTag; a read then took the cached bytes (the upload's version) for another version,
// discarded them, and failed with EIO because the server held the newer one (seed 331000, schedule
// 72). Uploads now note their commits as changes made here (the batch reads such items afresh):
// src-main/sync/delta-stale-batch.emulator.test.ts, transfers/upload-manager.test.ts.
// Replay: e2e/fuzz/known-bugs/own-upload-then-older-delta-eio.json
//
// Fixed (seen once, 2026-12-06, on 53a33e8; not in 5 replays): in a shared folder, `create d`
// (O_TRUNC and 359 bytes) over a file another device edited while this one was offline, right
// after going online; the delta batch's record of the remote edit (1 532 bytes), prepared while the
// file was clean, was written over the row after the local change made it dirty, and the upload
// failed for good (the cache file held 359 bytes). The batch now reads its rows again in its commit
// (seed 515000, schedule 13): src-main/sync/delta-sync.test.ts, "rows read before the invalidations
// are awaited are read again". Replay: e2e/fuzz/known-bugs/recreated-file-size-of-remote-edit.json
//
// Fixed (seen once, 2026-12-06 night, on 7e09567; 0 of 3 replays): b.txt rewritten here (6 MB, an
// upload session) while another device moved it into F/Sub dir and edited it twice; the upload kept
// both versions and sent the copy into the original's server folder, but stored it in the
// original's local folder (delta had not brought the move yet): mount and server disagreed on where
// the copy was (seed 580000, schedule 15). The copy is stored where the server put it:
// src-main/transfers/upload-manager.test.ts. Replay: e2e/fuzz/known-bugs/conflict-copy-placed-where-original-was.json
//
// Fixed (older than 2026-12-06; seed 580000, schedule 156, in a shared folder; 1 of 8 replays on
// b5a113d, 0 of 12 since): a file edited here, deleted and made again by another device; a kill
// came while the edit was being sent again, which the server had named `d 1`; after the restart it
// was sent again as `d 2`, and no conflict record named `d 1`. The re-upload now takes its name
// only if free and watches its places as a new file's first upload does:
// src-main/transfers/upload-manager.test.ts, src-main/sync/delta-apply.test.ts.
// Replay: e2e/fuzz/known-bugs/remote-deleted-reupload-copy-without-record.json
//
// Seen once under load, not in 14 replays: creating a file right after an editor-style save of it
// failed with ENOENT (seed 21000, schedule 17); a stale kernel entry is one way to it, now
// answered with ESTALE (e2e/errnos.e2e.test.ts). Replay: e2e/fuzz/known-bugs/create-over-saved-file-enoent.json
