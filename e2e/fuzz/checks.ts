/**
 * The invariants checked at every quiet point, on the schedule's folder:
 *
 * - mount = server: the same paths, kinds and contents (sha256) on both sides;
 * - no local edit lost: every file the model holds is on the server with the model's bytes, and
 *   every folder is there;
 * - nothing duplicated: the server holds nothing the model does not, except conflict copies of
 *   contested files (a stray temp file, a second upload under `name 1.ext`, a resurrected delete all
 *   fail here);
 * - no false conflict: a conflict copy or a conflict record only for a file both sides changed;
 *   copies hold one of the local versions; at most one copy per remote change; each copy has one
 *   record (never two);
 * - Retry-After obeyed: the emulator saw no request inside a Retry-After window;
 * - the status attribute tells the truth: every file was just read whole, so its bytes are on this
 *   device and it says `cached` (a rename or a new time once made it say `cloud-only`);
 * - a time set here (touch) holds, on the mount and on the server, unless the file changed again
 *   after it (here or on another device).
 *
 * A contested file (a local edit and a remote change since the last quiet point) may end in any of
 * these, and nothing else. L = the last local version, R = the last remote version.
 * - Last change remote, an edit: R at the name; L kept as a conflict copy, unless the server held L
 *   already when a remote change after it replaced it (L was uploaded first, then legitimately
 *   overwritten).
 * - Last change remote, a delete: L back at the name (re-uploaded), or nothing at the name with L
 *   in a conflict copy, or nothing at all if the server held L when it was deleted. A file the
 *   server moved before deleting it may also come back at a place it had here before the move
 *   (also when a new file took the name after the delete: that is another item). A conflict copy
 *   may be named after the place the file had here before the server moved it.
 * - Last change local (a whole-file overwrite after the remote edit): L at the name ("local wins":
 *   the write may have come after the engine saw R), or R at the name with L in a conflict copy.
 */
import type { EngineStatus } from '../../src-shared/ipc/contract.ts';
import type { Conflict } from '../../src-shared/ipc/desktop-calls.ts';
import type { ClientFault } from '../../emulator/src/request-log.ts';
import { baseOf, conflictOriginal, join, parentOf, selfAndAncestors, sha256, type Epoch, type Model } from './model.ts';

export interface Violation {
  kind: 'op-result' | 'mount-server' | 'lost' | 'unexpected' | 'contest' | 'conflict-record' | 'retry-after' | 'never-quiet' | 'store' | 'status' | 'time';
  message: string;
}

export interface Entry {
  kind: 'file' | 'folder';
  size: number;
  sha?: string;
  /** A file's modification time, ms (when read). */
  mtimeMs?: number;
}

export interface Snapshot {
  server: Map<string, Entry>;
  /** With each file's bytes as read, and its status attribute and time read after that (when read). */
  mount: Map<string, Entry & { bytes?: Buffer; state?: string }>;
  status: EngineStatus;
  /** Conflict records under this schedule's folder not seen at an earlier settle. */
  conflicts: Conflict[];
  clientFaults: ClientFault[];
}

const short = (sha: string | undefined) => (sha ? sha.slice(0, 10) : 'none');

export function checkSettled(model: Model, epoch: Epoch, snap: Snapshot): Violation[] {
  const out: Violation[] = [];
  const { server, mount } = snap;

  for (const p of new Set([...server.keys(), ...mount.keys()])) {
    const s = server.get(p);
    const m = mount.get(p);
    if (!s || !m) out.push({ kind: 'mount-server', message: `${p} is only on the ${s ? 'server' : 'mount'}` });
    else if (s.kind !== m.kind) out.push({ kind: 'mount-server', message: `${p} is a ${s.kind} on the server, a ${m.kind} on the mount` });
    else if (s.kind === 'file' && (s.size !== m.size || s.sha !== m.sha)) out.push({ kind: 'mount-server', message: `${p}: server ${s.size} B ${short(s.sha)}, mount ${m.size} B ${short(m.sha)}` });
  }

  for (const [p, m] of mount) if (m.kind === 'file' && m.state !== undefined && m.state !== 'cached') out.push({ kind: 'status', message: `${p} was just read whole, but its status attribute says ${m.state}` });
  for (const [p, want] of epoch.times) {
    // Another device's change of the file, or of a folder above it, may set its own time.
    if (selfAndAncestors(p).some((a) => epoch.remoteTouched.has(a))) continue;
    const seen = { mount: mount.get(p)?.mtimeMs, server: server.get(p)?.mtimeMs };
    for (const [side, t] of Object.entries(seen)) {
      if (t !== undefined && t !== want) out.push({ kind: 'time', message: `${p} was given the time ${new Date(want).toISOString()}; the ${side} says ${new Date(t).toISOString()}` });
    }
  }

  const contested = epoch.contests;
  for (const dir of model.folders) if (server.get(dir)?.kind !== 'folder') out.push({ kind: 'lost', message: `folder ${dir} is not on the server` });
  for (const [p, bytes] of model.files) {
    if (contested.has(p)) continue;
    const s = server.get(p);
    const want = sha256(bytes);
    if (!s) out.push({ kind: 'lost', message: `${p} (${bytes.length} B ${short(want)}) is not on the server` });
    else if (s.kind !== 'file') out.push({ kind: 'lost', message: `${p} should be a file, the server has a folder` });
    else if (s.sha !== want) out.push({ kind: 'lost', message: `${p}: the server has ${s.size} B ${short(s.sha)}, the model ${bytes.length} B ${short(want)}` });
  }

  // Conflict copies, by the contested file they belong to.
  const copies = new Map<string, Array<{ path: string; sha?: string }>>();
  // A file moved away and then deleted by the server may come back where it was edited here.
  const formerPlaces = new Map<string, string>();
  for (const [p, c] of contested) if (c.remote.some((r) => r.kind === 'delete')) for (const f of c.formerPaths ?? []) formerPlaces.set(f, p);
  for (const [p, s] of server) {
    if (model.files.has(p) || model.folders.has(p) || contested.has(p)) continue;
    const movedAway = formerPlaces.get(p);
    if (movedAway !== undefined && s.kind === 'file') {
      copies.set(movedAway, [...(copies.get(movedAway) ?? []), { path: p, sha: s.sha }]);
      continue;
    }
    let original = conflictOriginal(baseOf(p));
    // After a remote delete, another device may have put a new file at the name: the re-uploaded
    // local version then takes OneDrive's free name (`a 1.txt`), or the engine moves it aside
    // when delta brings the new file first (`a (conflict 1).txt`); either counts as its copy.
    const numbered = /^(.*) (?:\d+|\(conflict \d+\))(\.[^.]*)?$/.exec(baseOf(p));
    if (original === undefined && numbered) {
      const cand = `${numbered[1]}${numbered[2] ?? ''}`;
      if (contested.get(join(parentOf(p), cand))?.remote.some((r) => r.kind === 'delete')) original = cand;
    }
    let of = original === undefined ? undefined : join(parentOf(p), original);
    // A copy named after the place the file had here before the server moved it.
    if (of !== undefined && !contested.has(of)) of = [...contested].find(([, c]) => c.formerPaths?.includes(of!))?.[0] ?? of;
    if (of === undefined || !contested.has(of) || s.kind !== 'file') {
      out.push({ kind: 'unexpected', message: `${p} (${s.kind}, ${s.size} B) is on the server but no operation made it${original ? ' (a conflict copy of a file only one side changed)' : ''}` });
      continue;
    }
    copies.set(of, [...(copies.get(of) ?? []), { path: p, sha: s.sha }]);
  }

  for (const [p, c] of contested) {
    const versions = new Set(c.localVersions.map(sha256));
    const lf = sha256(c.localVersions[c.localVersions.length - 1]!);
    const lastRemote = c.remote[c.remote.length - 1]!;
    const lastRemoteEdit = [...c.remote].reverse().find((r) => r.kind === 'edit');
    const name = server.get(p);
    const mine = copies.get(p) ?? [];
    const what = `${p} (local ${c.localVersions.length} version(s), last ${short(lf)}; remote ${c.remote.map((r) => `${r.kind}${r.content ? ' ' + short(sha256(r.content)) : ''}`).join(', ')}; last change ${c.last})`;
    for (const copy of mine) if (!copy.sha || !versions.has(copy.sha)) out.push({ kind: 'contest', message: `conflict copy ${copy.path} holds ${short(copy.sha)}, none of the local versions of ${what}` });
    if (mine.length > c.remote.length) out.push({ kind: 'contest', message: `${mine.length} conflict copies for ${c.remote.length} remote change(s) of ${what}: ${mine.map((m) => m.path).join(', ')}` });
    const preserved = name?.sha === lf || mine.some((m) => m.sha === lf);
    // L reached the server and a later remote change replaced it: legitimate, nothing lost.
    const overwrittenAfterUpload = (c.last === 'remote' && c.remote.some((r) => r.afterLocal === c.localVersions.length && r.prevHash === lf)) || (c.replacedThere?.includes(lf) ?? false);
    if (!preserved && !overwrittenAfterUpload) out.push({ kind: 'contest', message: `the last local version of ${what} is lost: the name holds ${name ? short(name.sha) : 'nothing'}, copies hold ${mine.map((m) => short(m.sha)).join(', ') || 'nothing'}` });
    if (c.last === 'remote' && lastRemote.kind === 'edit') {
      const r = sha256(lastRemote.content!);
      if (name?.sha !== r && r !== lf) out.push({ kind: 'contest', message: `the remote edit of ${what} was overwritten: the name holds ${name ? short(name.sha) : 'nothing'}, not ${short(r)}` });
    } else if (c.last === 'remote') {
      if (name && name.sha !== lf) out.push({ kind: 'contest', message: `after the remote delete of ${what} the name holds ${short(name.sha)}, neither nothing nor the local version` });
    } else {
      const allowed = new Set([lf, ...(lastRemoteEdit ? [sha256(lastRemoteEdit.content!)] : [])]);
      if (!name || !name.sha || !allowed.has(name.sha)) out.push({ kind: 'contest', message: `${what}: the name holds ${name ? short(name.sha) : 'nothing'}, neither the local nor the remote version` });
    }
  }

  // Conflict records: only for contested files, one per copy, never two for the same copy.
  const byCopy = new Map<string, number>();
  let budget = 0;
  for (const c of contested.values()) budget += c.remote.length;
  for (const rec of snap.conflicts) {
    const rel = rec.path.split('/').slice(2).join('/');
    const recordedFor = contested.has(rel) || [...copies.values()].some((list) => list.some((m) => m.path === rel)) || [...contested.values()].some((c) => c.formerPaths?.includes(rel));
    if (!recordedFor) out.push({ kind: 'conflict-record', message: `conflict #${rec.id} (${rec.reason}) recorded for ${rec.path}, which only one side changed` });
    if (rec.localCopyName) {
      const key = join(parentOf(rel), rec.localCopyName);
      byCopy.set(key, (byCopy.get(key) ?? 0) + 1);
    }
  }
  for (const [copy, n] of byCopy) if (n > 1) out.push({ kind: 'conflict-record', message: `the conflict behind ${copy} was recorded ${n} times` });
  if (snap.conflicts.length > budget) out.push({ kind: 'conflict-record', message: `${snap.conflicts.length} conflict records for ${budget} remote change(s) of contested files: ${snap.conflicts.map((c) => `#${c.id} ${c.path} ${c.reason} ${c.localCopyName ?? ''}`).join('; ')}` });
  for (const list of copies.values()) {
    for (const copy of list) {
      const recorded = snap.conflicts.some((rec) => rec.localCopyName === baseOf(copy.path) || rec.path.split('/').slice(2).join('/') === copy.path);
      if (!recorded) out.push({ kind: 'conflict-record', message: `conflict copy ${copy.path} has no conflict record (the user is never told)` });
    }
  }

  for (const f of snap.clientFaults) out.push({ kind: 'retry-after', message: `${f.kind}: ${f.method} ${f.path} (${f.detail})` });
  return out;
}
