/**
 * The fuzzer's own logic, without a mount: schedules are reproducible from their seed, generated
 * schedules obey the epoch rules, and the invariant checks catch what they are meant to catch (a
 * check that cannot fail would make every fuzz run green).
 */
import { describe, expect, it } from 'vitest';
import type { EngineStatus } from '../../src-shared/ipc/contract.ts';
import type { Conflict } from '../../src-shared/ipc/desktop-calls.ts';
import { checkSettled, type Entry, type Snapshot } from './checks.ts';
import { generateSchedule } from './generate.ts';
import { applyRemote, bytesOf, conflictOriginal, Epoch, isLocal, isRemote, Model, sha256, type Content, type LocalOp } from './model.ts';

const status = { transfers: [] } as unknown as EngineStatus;
const c = (seed: number, size = 100, text = false): Content => ({ seed, size, text });

function snapshot(files: Record<string, Buffer>, folders: string[] = [], conflicts: Conflict[] = []): Snapshot {
  const tree = new Map<string, Entry>();
  for (const f of folders) tree.set(f, { kind: 'folder', size: 0 });
  for (const [p, b] of Object.entries(files)) tree.set(p, { kind: 'file', size: b.length, sha: sha256(b) });
  return { server: tree, mount: new Map(tree), status, conflicts, clientFaults: [] };
}

function local(m: Model, e: Epoch, op: LocalOp): void {
  expect(e.allowsLocal(op, m)).toBe(true);
  expect(m.expect(op)).toEqual({ ok: true });
  e.noteLocal(op, m);
  m.applyLocal(op);
  if ('path' in op && m.files.has(op.path)) e.noteLocalContent(op.path, m);
}

const record = (id: number, path: string, localCopyName: string | null): Conflict => ({ id, itemId: `i${id}`, path, reason: 'both-modified', localCopyName, detectedAt: 1 });
const COPY = 'a (conflict 2026-12-04 203555 host).txt';

describe('schedules', () => {
  it('are the same for the same seed and index, different otherwise', () => {
    expect(generateSchedule(5, 3)).toEqual(generateSchedule(5, 3));
    expect(generateSchedule(5, 3).ops).not.toEqual(generateSchedule(5, 4).ops);
    expect(generateSchedule(5, 3).ops).not.toEqual(generateSchedule(6, 3).ops);
  });

  it('run in a shared folder at the rate asked for, with the same ops as without', () => {
    let shared = 0;
    for (let i = 0; i < 200; i++) {
      const s = generateSchedule(9, i, { sharedRate: 0.2 });
      expect(s.ops).toEqual(generateSchedule(9, i).ops);
      if (s.shared) shared++;
    }
    expect(shared).toBeGreaterThan(20);
    expect(shared).toBeLessThan(60);
    expect(generateSchedule(9, 0, { sharedRate: 1 }).shared).toBe(true);
    expect(generateSchedule(9, 0).shared).toBeUndefined();
  });

  it('mix local ops, remote changes, faults and settles, and every remote change obeys the epoch rules', () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 100; i++) {
      const s = generateSchedule(77, i);
      expect(s.ops[s.ops.length - 1]).toEqual({ t: 'settle' });
      const m = new Model();
      let e = new Epoch(true);
      for (const op of s.ops) {
        counts[op.t] = (counts[op.t] ?? 0) + 1;
        if (op.t === 'settle') e = new Epoch();
        else if (isRemote(op)) {
          expect(e.allowsRemote(op, m)).toBe(true);
          applyRemote(op, m, e);
        } else if (isLocal(op)) {
          expect(e.allowsLocal(op, m)).toBe(true);
          if (m.expect(op).ok) {
            e.noteLocal(op, m);
            m.applyLocal(op);
            if ('path' in op && m.files.has(op.path)) e.noteLocalContent(op.path, m);
          }
        }
      }
    }
    for (const t of ['create', 'writeAt', 'append', 'truncate', 'rename', 'unlink', 'mkdir', 'rmdir', 'save', 'badName', 'rEdit', 'rCreate', 'rMove', 'rDelete', 'offline', 'throttle', 'kill', 'restart', 'settle']) {
      expect(counts[t], t).toBeGreaterThan(0);
    }
  });
});

describe('the model', () => {
  it('predicts POSIX errors', () => {
    const m = new Model();
    m.folders.add('F');
    m.files.set('F/a.txt', Buffer.from('x'));
    expect(m.expect({ t: 'rmdir', path: 'F' })).toEqual({ ok: false, errno: 'ENOTEMPTY' });
    expect(m.expect({ t: 'rename', from: 'nope', to: 'b' })).toEqual({ ok: false, errno: 'ENOENT' });
    expect(m.expect({ t: 'mkdir', path: 'F' })).toEqual({ ok: false, errno: 'EEXIST' });
    expect(m.expect({ t: 'create', path: 'G/x', content: c(1) })).toEqual({ ok: false, errno: 'ENOENT' });
    expect(m.expect({ t: 'rename', from: 'F', to: 'F/inside' })).toEqual({ ok: false, errno: 'EINVAL' });
    expect(m.expect({ t: 'unlink', path: 'F' })).toEqual({ ok: false, errno: 'EISDIR' });
  });

  it('applies writes at offsets, truncation and renames over', () => {
    const m = new Model();
    m.files.set('a', Buffer.from('hello'));
    m.applyLocal({ t: 'writeAt', path: 'a', offset: 7, content: c(1, 2) });
    expect(m.files.get('a')!.subarray(0, 7)).toEqual(Buffer.from('hello\0\0'));
    expect(m.files.get('a')!.length).toBe(9);
    m.applyLocal({ t: 'truncate', path: 'a', size: 3 });
    expect(m.files.get('a')).toEqual(Buffer.from('hel'));
    m.files.set('b', Buffer.from('bee'));
    m.applyLocal({ t: 'rename', from: 'a', to: 'b' });
    expect([...m.files]).toEqual([['b', Buffer.from('hel')]]);
  });

  it('a folder renamed here after another device deleted a file in it may still hold that file: no rmdir of it at its new place (fuzz 6000/89)', () => {
    const m = new Model();
    m.folders.add('F');
    m.folders.add('G');
    m.files.set('F/notes.md', Buffer.from('v0'));
    const e = new Epoch();
    applyRemote({ t: 'rDelete', path: 'F/notes.md' }, m, e);
    local(m, e, { t: 'rename', from: 'F', to: 'G/F' });
    // The mount answers ENOTEMPTY until the engine has seen the delete; the model cannot know when.
    expect(e.allowsLocal({ t: 'rmdir', path: 'G/F' }, m)).toBe(false);
    expect(e.allowsLocal({ t: 'mkdir', path: 'G/F/Sub dir' }, m)).toBe(true);
  });

  it('keeps local ops off paths a remote change touched, except a whole overwrite of a remotely edited file', () => {
    const m = new Model();
    m.files.set('a.txt', Buffer.from('v0'));
    m.files.set('b.txt', Buffer.from('v0'));
    const e = new Epoch();
    applyRemote({ t: 'rEdit', path: 'a.txt', content: c(1, 10, true) }, m, e);
    applyRemote({ t: 'rMove', from: 'b.txt', to: 'moved.txt' }, m, e);
    expect(e.allowsLocal({ t: 'create', path: 'a.txt', content: c(2) }, m)).toBe(true);
    expect(e.allowsLocal({ t: 'append', path: 'a.txt', content: c(2) }, m)).toBe(false);
    expect(e.allowsLocal({ t: 'unlink', path: 'a.txt' }, m)).toBe(false);
    expect(e.allowsLocal({ t: 'create', path: 'b.txt', content: c(2) }, m)).toBe(false);
    expect(e.allowsLocal({ t: 'create', path: 'moved.txt', content: c(2) }, m)).toBe(false);
    expect(e.allowsRemote({ t: 'rEdit', path: 'moved.txt', content: c(3, 5, true) }, m)).toBe(true);
    const e2 = new Epoch();
    local(m, e2, { t: 'rename', from: 'a.txt', to: 'c.txt' });
    expect(e2.allowsRemote({ t: 'rEdit', path: 'c.txt', content: c(3, 5, true) }, m)).toBe(false);
    expect(new Epoch(true).allowsRemote({ t: 'rEdit', path: 'c.txt', content: c(3, 5, true) }, m)).toBe(false);
  });
});

describe('the checks', () => {
  function contested(): { m: Model; e: Epoch; mine: Buffer; theirs: Buffer } {
    const m = new Model();
    m.files.set('a.txt', Buffer.from('original'));
    const e = new Epoch();
    local(m, e, { t: 'create', path: 'a.txt', content: c(10) });
    applyRemote({ t: 'rEdit', path: 'a.txt', content: c(11, 50, true) }, m, e, sha256(Buffer.from('original')));
    return { m, e, mine: bytesOf(c(10)), theirs: bytesOf(c(11, 50, true)) };
  }

  it('pass when the drive holds what the model says', () => {
    const m = new Model();
    m.files.set('a.txt', Buffer.from('x'));
    m.folders.add('F');
    expect(checkSettled(m, new Epoch(), snapshot({ 'a.txt': Buffer.from('x') }, ['F']))).toEqual([]);
  });

  it('catch a lost edit, a lost folder, an extra file and a mount that differs from the server', () => {
    const m = new Model();
    m.files.set('a.txt', Buffer.from('new'));
    m.folders.add('F');
    const snap = snapshot({ 'a.txt': Buffer.from('old'), 'a 1.txt': Buffer.from('new') });
    snap.mount.delete('a 1.txt');
    const kinds = checkSettled(m, new Epoch(), snap).map((v) => v.kind);
    expect(kinds).toEqual(expect.arrayContaining(['lost', 'unexpected', 'mount-server']));
    expect(kinds.filter((k) => k === 'lost')).toHaveLength(2);
  });

  it('catch a file read whole whose status attribute does not say cached', () => {
    const m = new Model();
    for (const n of ['a.txt', 'b.txt', 'c.txt']) m.files.set(n, Buffer.from(n));
    const snap = snapshot({ 'a.txt': Buffer.from('a.txt'), 'b.txt': Buffer.from('b.txt'), 'c.txt': Buffer.from('c.txt') });
    snap.mount.set('a.txt', { ...snap.mount.get('a.txt')!, state: 'cached' });
    snap.mount.set('b.txt', { ...snap.mount.get('b.txt')!, state: 'cloud-only' });
    const found = checkSettled(m, new Epoch(), snap);
    expect(found).toEqual([{ kind: 'status', message: 'b.txt was just read whole, but its status attribute says cloud-only' }]);
  });

  it('catch a time set here that the mount or the server lost, unless the file changed again', () => {
    const m = new Model();
    for (const n of ['a.txt', 'b.txt', 'c.txt']) m.files.set(n, Buffer.from(n));
    const e = new Epoch();
    const t = Date.parse('2003-03-03T03:03:03Z');
    for (const n of ['a.txt', 'b.txt', 'c.txt']) local(m, e, { t: 'touch', path: n, mtimeMs: t + 999 });
    local(m, e, { t: 'append', path: 'c.txt', content: c(5, 10) });
    const snap = snapshot({ 'a.txt': Buffer.from('a.txt'), 'b.txt': Buffer.from('b.txt'), 'c.txt': m.files.get('c.txt')! });
    for (const n of ['a.txt', 'b.txt', 'c.txt']) {
      snap.mount.set(n, { ...snap.mount.get(n)!, mtimeMs: n === 'c.txt' ? 5 : t });
      snap.server.set(n, { ...snap.server.get(n)!, mtimeMs: n === 'a.txt' ? t : 7 });
    }
    expect(checkSettled(m, e, snap)).toEqual([{ kind: 'time', message: 'b.txt was given the time 2003-03-03T03:03:03.000Z; the server says 1970-01-01T00:00:00.007Z' }]);
  });

  it('catch a conflict copy and a conflict record for a file only one side changed', () => {
    const m = new Model();
    m.files.set('a.txt', Buffer.from('mine'));
    const e = new Epoch();
    const v = checkSettled(m, e, snapshot({ 'a.txt': Buffer.from('mine'), [COPY]: Buffer.from('mine') }, [], [record(1, '/fz/a.txt', COPY)]));
    expect(v.map((x) => x.kind)).toEqual(expect.arrayContaining(['unexpected', 'conflict-record']));
  });

  it('accept both legitimate ends of a contest: a conflict copy, or the local version when it was written last', () => {
    const { m, e, mine, theirs } = contested();
    expect(conflictOriginal(COPY)).toBe('a.txt');
    expect(checkSettled(m, e, snapshot({ 'a.txt': theirs, [COPY]: mine }, [], [record(1, '/fz/a.txt', COPY)]))).toEqual([]);
    local(m, e, { t: 'create', path: 'a.txt', content: c(12) });
    expect(checkSettled(m, e, snapshot({ 'a.txt': bytesOf(c(12)) }))).toEqual([]);
  });

  it('catch a contest that lost the local edit, overwrote the remote one, or was recorded twice', () => {
    const { m, e, mine, theirs } = contested();
    expect(checkSettled(m, e, snapshot({ 'a.txt': theirs })).map((v) => v.kind)).toContain('contest');
    expect(checkSettled(m, e, snapshot({ 'a.txt': mine })).map((v) => v.message).join()).toMatch(/remote edit .* was overwritten/);
    const twice = checkSettled(m, e, snapshot({ 'a.txt': theirs, [COPY]: mine }, [], [record(1, '/fz/a.txt', null), record(2, '/fz/a.txt', COPY)]));
    expect(twice.map((v) => v.message).join()).toMatch(/2 conflict records for 1 remote change/);
    const unrecorded = checkSettled(m, e, snapshot({ 'a.txt': theirs, [COPY]: mine }));
    expect(unrecorded.map((v) => v.message).join()).toMatch(/has no conflict record/);
  });

  it('accept a remote edit that replaced a local version the server already had', () => {
    const m = new Model();
    m.files.set('a.txt', Buffer.from('original'));
    const e = new Epoch();
    local(m, e, { t: 'create', path: 'a.txt', content: c(10) });
    applyRemote({ t: 'rEdit', path: 'a.txt', content: c(11, 50, true) }, m, e, sha256(bytesOf(c(10))));
    expect(checkSettled(m, e, snapshot({ 'a.txt': bytesOf(c(11, 50, true)) }))).toEqual([]);
  });

  it('accept the local version back where it was edited when the server moved the file away and deleted it; nowhere else', () => {
    const m = new Model();
    m.files.set('a.txt', Buffer.from('original'));
    m.folders.add('F');
    const e = new Epoch();
    local(m, e, { t: 'append', path: 'a.txt', content: c(10) });
    const mine = m.files.get('a.txt')!;
    applyRemote({ t: 'rMove', from: 'a.txt', to: 'F/a.txt' }, m, e, sha256(Buffer.from('original')));
    applyRemote({ t: 'rDelete', path: 'F/a.txt' }, m, e, sha256(Buffer.from('original')));
    const records = [{ ...record(1, '/fz/a.txt', null), reason: 'remote-deleted' as const }];
    expect(checkSettled(m, e, snapshot({ 'a.txt': mine }, ['F'], records))).toEqual([]);
    expect(checkSettled(m, e, snapshot({ 'b.txt': mine }, ['F'], records)).map((v) => v.kind)).toEqual(expect.arrayContaining(['unexpected', 'contest']));
  });

  it('accept the local version back under the new name of the folder it was edited in, renamed here after the server moved the file away and deleted it (fuzz 660000/275)', () => {
    const m = new Model();
    m.folders.add('G');
    m.folders.add('G/F');
    m.files.set('G/F/d', Buffer.from('original'));
    const e = new Epoch();
    local(m, e, { t: 'create', path: 'G/F/d', content: c(10) });
    const mine = m.files.get('G/F/d')!;
    applyRemote({ t: 'rMove', from: 'G/F/d', to: 'G/d' }, m, e, sha256(Buffer.from('original')));
    applyRemote({ t: 'rDelete', path: 'G/d' }, m, e, sha256(Buffer.from('original')));
    local(m, e, { t: 'rename', from: 'G/F', to: 'F' });
    const records = [{ ...record(1, '/fz/F/d', 'd'), reason: 'remote-deleted' as const }];
    expect(checkSettled(m, e, snapshot({ 'F/d': mine }, ['G', 'F'], records))).toEqual([]);
    // Not anywhere else.
    expect(checkSettled(m, e, snapshot({ 'F/e': mine }, ['G', 'F'], records)).map((v) => v.kind)).toEqual(expect.arrayContaining(['unexpected', 'contest']));
  });

  it('accept the local version kept where it was edited and then replaced there by a file another device made (fuzz 303000/267); not without that replacement', () => {
    const m = new Model();
    m.files.set('c.bin', Buffer.from('original'));
    m.folders.add('F');
    const e = new Epoch();
    local(m, e, { t: 'create', path: 'c.bin', content: c(10) });
    const mine = m.files.get('c.bin')!;
    applyRemote({ t: 'rMove', from: 'c.bin', to: 'notes.md' }, m, e, sha256(Buffer.from('original')));
    applyRemote({ t: 'rDelete', path: 'notes.md' }, m, e, sha256(Buffer.from('original')));
    const records = [{ ...record(1, '/fz/c.bin', null), reason: 'remote-deleted' as const }];
    const lost = checkSettled(m, e, snapshot({}, ['F'], records)).map((v) => v.message).join();
    // The engine kept L as c.bin; another device then wrote a c.bin of its own over it.
    applyRemote({ t: 'rCreate', path: 'c.bin', content: c(11, 50, true) }, m, e, sha256(mine));
    expect(checkSettled(m, e, snapshot({ 'c.bin': bytesOf(c(11, 50, true)) }, ['F'], records))).toEqual([]);
    expect(lost).toMatch(/last local version of notes.md .* is lost/);
  });

  it('accept the local version moved aside as `a (conflict 1).txt` when a new server file took the name after a remote delete (fuzz 11000/40)', () => {
    const m = new Model();
    m.files.set('a.txt', Buffer.from('original'));
    const e = new Epoch();
    local(m, e, { t: 'truncate', path: 'a.txt', size: 3 });
    const mine = m.files.get('a.txt')!;
    applyRemote({ t: 'rDelete', path: 'a.txt' }, m, e, sha256(Buffer.from('original')));
    applyRemote({ t: 'rEdit', path: 'a.txt', content: c(11, 50, true) }, m, e);
    const aside = 'a (conflict 1).txt';
    const one = [{ ...record(1, '/fz/a.txt', aside), reason: 'remote-deleted' as const }];
    expect(checkSettled(m, e, snapshot({ 'a.txt': bytesOf(c(11, 50, true)), [aside]: mine }, [], one))).toEqual([]);
    // The same copy recorded twice (the delete, then the clash) is still one conflict too many.
    const two = [...one, { ...record(2, '/fz/a.txt', aside), reason: 'name-clash' as const }];
    expect(checkSettled(m, e, snapshot({ 'a.txt': bytesOf(c(11, 50, true)), [aside]: mine }, [], two)).map((v) => v.message).join()).toMatch(/recorded 2 times/);
  });

  it('accept a conflict copy named after the place the file had here before the server moved and edited it', () => {
    const m = new Model();
    m.files.set('a.txt', Buffer.from('original'));
    const e = new Epoch();
    local(m, e, { t: 'create', path: 'a.txt', content: c(10) });
    applyRemote({ t: 'rMove', from: 'a.txt', to: 'b.txt' }, m, e, sha256(Buffer.from('original')));
    applyRemote({ t: 'rEdit', path: 'b.txt', content: c(11, 50, true) }, m, e, sha256(Buffer.from('original')));
    const copy = COPY; // named after a.txt
    expect(checkSettled(m, e, snapshot({ 'b.txt': bytesOf(c(11, 50, true)), [copy]: bytesOf(c(10)) }, [], [record(1, '/fz/a.txt', copy)]))).toEqual([]);
  });
});
