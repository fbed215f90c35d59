/**
 * Schedules from a seed: the generator simulates the model as it goes, so most operations are valid
 * where they land (some are deliberately not: rmdir of a full folder, rename of a missing file, a
 * name OneDrive refuses) and every remote change obeys the epoch rules. The runner re-checks the
 * rules against the real outcome, so a schedule stays meaningful after shrinking drops ops from it.
 */
import { applyRemote, baseOf, Epoch, isUnder, join, Model, parentOf, Rng, type Content, type LocalOp, type Op, type RemoteOp } from './model.ts';

export interface Schedule {
  seed: number;
  index: number;
  /**
   * The schedule's folder is another user's folder shared read-write with the signed-in user and
   * added to their drive (a shortcut): local ops go through the shortcut on the mount, remote
   * changes and the server's side are in the other user's drive.
   */
  shared?: true;
  ops: Op[];
}

export interface GenerateOptions {
  /** The fraction of schedules (0–1) that run in a shared folder; chosen per (seed, index). */
  sharedRate?: number;
}

const FILE_NAMES = ['a.txt', 'b.txt', 'c.bin', 'd', 'notes.md'];
const FOLDER_NAMES = ['F', 'G', 'Sub dir'];
const BAD_NAMES = ['bad:name.txt', 'what?.txt', 'con.txt', 'trailing.', 'a|b'];
const MAX_DEPTH = 2;
/** The chance of a time change (touch) after each op. */
const TOUCH_RATE = 0.08;

const KiB = 1024;
const MiB = 1024 * KiB;

/** The seed of schedule `index` of run `seed`: schedules are independent of each other. */
export function scheduleSeed(seed: number, index: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(index + 1, 0x85ebca77)) >>> 0;
}

function contentFor(rng: Rng, text = false): Content {
  const r = rng.u32() / 0x1_0000_0000;
  // Mostly bytes to a few KiB; sometimes hundreds of KiB; rarely past 4 MiB (an upload session).
  const size = text ? rng.int(r < 0.8 ? 2 * KiB : 40 * KiB) : r < 0.05 ? 0 : r < 0.75 ? rng.int(4 * KiB) : r < 0.985 ? rng.int(300 * KiB) : 4 * MiB + rng.int(2 * MiB);
  return { seed: rng.u32(), size, ...(text ? { text: true } : {}) };
}

export function generateSchedule(seed: number, index: number, options: GenerateOptions = {}): Schedule {
  // Drawn apart from the ops' generator, so a seed's ops do not depend on the rate.
  const shared = (options.sharedRate ?? 0) > 0 && scheduleSeed(seed ^ 0x5ca1ab1e, index) / 0x1_0000_0000 < options.sharedRate!;
  const rng = new Rng(scheduleSeed(seed, index));
  const m = new Model();
  let e = new Epoch(true);
  const ops: Op[] = [];
  let offline = false;

  const folders = () => ['', ...m.folders];
  const files = () => [...m.files.keys()];
  const depth = (p: string) => (p === '' ? 0 : p.split('/').length);
  const freshPathIn = (dir: string, names: readonly string[]) => join(dir, rng.pick(names));
  const anyPath = () => {
    const all = [...files(), ...m.folders];
    return all.length && rng.chance(0.85) ? rng.pick(all) : freshPathIn(rng.pick(folders()), rng.chance(0.5) ? FILE_NAMES : FOLDER_NAMES);
  };
  const someFile = () => (files().length && rng.chance(0.9) ? rng.pick(files()) : freshPathIn(rng.pick(folders()), FILE_NAMES));

  const local = (): LocalOp | undefined => {
    const kind = rng.weighted({ create: 14, writeAt: 10, append: 8, truncate: 5, rename: 9, unlink: 5, mkdir: 7, rmdir: 3, save: 5, badName: 1 });
    switch (kind) {
      case 'create': {
        const dir = rng.pick(folders());
        return { t: 'create', path: rng.chance(0.4) && files().length ? rng.pick(files()) : freshPathIn(dir, FILE_NAMES), content: contentFor(rng) };
      }
      case 'writeAt': {
        const p = someFile();
        const size = m.files.get(p)?.length ?? 0;
        return { t: 'writeAt', path: p, offset: rng.int(size + 2 * KiB), content: { ...contentFor(rng), size: 1 + rng.int(rng.chance(0.9) ? 4 * KiB : 200 * KiB) } };
      }
      case 'append':
        return { t: 'append', path: someFile(), content: { ...contentFor(rng), size: 1 + rng.int(3 * KiB) } };
      case 'truncate': {
        const p = someFile();
        const size = m.files.get(p)?.length ?? 0;
        return { t: 'truncate', path: p, size: rng.int(size + KiB) };
      }
      case 'rename': {
        const from = anyPath();
        const fromKind = m.kind(from);
        const dir = rng.pick(folders().filter((f) => !isUnder(f, from) && (fromKind !== 'folder' || depth(f) < MAX_DEPTH)));
        // Half the file renames go over an existing file (rename over).
        const over = fromKind === 'file' && rng.chance(0.5) ? files().filter((f) => f !== from) : [];
        const to = over.length ? rng.pick(over) : freshPathIn(dir ?? '', fromKind === 'folder' ? FOLDER_NAMES : FILE_NAMES);
        return { t: 'rename', from, to };
      }
      case 'unlink':
        return { t: 'unlink', path: someFile() };
      case 'mkdir': {
        const dir = rng.pick(folders().filter((f) => depth(f) < MAX_DEPTH));
        return { t: 'mkdir', path: freshPathIn(dir, FOLDER_NAMES) };
      }
      case 'rmdir': {
        const all = [...m.folders];
        return { t: 'rmdir', path: all.length ? rng.pick(all) : freshPathIn('', FOLDER_NAMES) };
      }
      case 'save':
        return { t: 'save', path: someFile(), content: contentFor(rng) };
      case 'badName':
        return { t: 'badName', dir: rng.pick(folders()), name: rng.pick(BAD_NAMES) };
    }
  };

  const remote = (): RemoteOp | undefined => {
    const kind = rng.weighted({ rEdit: 10, rCreate: 4, rMkdir: 2, rMove: 4, rDelete: 3 });
    switch (kind) {
      case 'rEdit':
        return files().length ? { t: 'rEdit', path: rng.pick(files()), content: contentFor(rng, true) } : undefined;
      case 'rCreate':
        return { t: 'rCreate', path: freshPathIn(rng.pick(folders()), FILE_NAMES), content: contentFor(rng, true) };
      case 'rMkdir':
        return { t: 'rMkdir', path: freshPathIn(rng.pick(folders().filter((f) => depth(f) < MAX_DEPTH)), FOLDER_NAMES) };
      case 'rMove': {
        const from = anyPath();
        const kind = m.kind(from);
        const dir = rng.pick(folders().filter((f) => !isUnder(f, from) && (kind !== 'folder' || depth(f) < MAX_DEPTH)));
        return { t: 'rMove', from, to: rng.chance(0.5) ? freshPathIn(parentOf(from), kind === 'folder' ? FOLDER_NAMES : FILE_NAMES) : join(dir ?? '', baseOf(from)) };
      }
      case 'rDelete':
        return files().length ? { t: 'rDelete', path: rng.pick(files()) } : undefined;
    }
  };

  const fault = (): Op => {
    const kind = rng.weighted({ offline: 3, throttle: 2, dropBody: 2, dropAfterCommit: 1, fail: 2, slow: 1, kill: 2, restart: 1 });
    switch (kind) {
      case 'offline':
        offline = !offline;
        return offline ? { t: 'offline' } : { t: 'online' };
      case 'throttle':
        return { t: 'throttle', count: 1 + rng.int(3), retryAfterSec: 1 + rng.int(2) };
      case 'dropBody':
        return { t: 'dropBody', count: 1 + rng.int(2) };
      case 'dropAfterCommit':
        return { t: 'dropAfterCommit' };
      case 'fail':
        return { t: 'fail', status: rng.pick([500, 503] as const), count: 1 + rng.int(2) };
      case 'slow':
        return { t: 'slow', bytesPerSec: (64 + rng.int(512)) * KiB };
      case 'kill':
        return { t: 'kill' };
      case 'restart':
        return { t: 'restart' };
    }
  };

  // A first few local creates, so the schedule has something to work on.
  for (let i = 0, n = 2 + rng.int(4); i < n; i++) {
    const op: LocalOp = rng.chance(0.3) ? { t: 'mkdir', path: freshPathIn(rng.pick(folders().filter((f) => depth(f) < MAX_DEPTH)), FOLDER_NAMES) } : { t: 'create', path: freshPathIn(rng.pick(folders()), FILE_NAMES), content: contentFor(rng) };
    if (m.expect(op).ok) {
      e.noteLocal(op, m);
      m.applyLocal(op);
      if (op.t === 'create') e.noteLocalContent(op.path, m);
      ops.push(op);
    }
  }

  // Time changes after some ops, drawn by a generator of their own: every other op of a seed's
  // schedule is what it was before they were added.
  const touchRng = new Rng(scheduleSeed(seed ^ 0x70c4ed, index));
  let touches = 0;
  const maybeTouch = () => {
    if (m.files.size === 0 || !touchRng.chance(TOUCH_RATE)) return;
    const op: LocalOp = { t: 'touch', path: touchRng.pick(files()), mtimeMs: Date.UTC(2001, 0, 1) + touchRng.int(20 * 365 * 86_400) * 1000 };
    if (!e.allowsLocal(op, m)) return;
    e.noteLocal(op, m);
    ops.push(op);
    touches++;
  };

  const length = 10 + rng.int(30);
  while (ops.length - touches < length) {
    const before = ops.length;
    const what = rng.weighted({ local: 55, remote: e.remoteBlocked ? 0 : 20, fault: 8, pause: 7, settle: 4 });
    if (what === 'local') {
      const op = local();
      if (!op || !e.allowsLocal(op, m)) continue;
      const expectation = m.expect(op);
      // Keep deliberate failures rare: most ops should change something.
      if (!expectation.ok && op.t !== 'badName' && !rng.chance(0.15)) continue;
      if (expectation.ok) {
        e.noteLocal(op, m);
        m.applyLocal(op);
        if (op.t === 'create' || op.t === 'writeAt' || op.t === 'append' || op.t === 'truncate' || op.t === 'save') e.noteLocalContent(op.path, m);
      }
      ops.push(op);
    } else if (what === 'remote') {
      const op = remote();
      if (!op || !e.allowsRemote(op, m)) continue;
      applyRemote(op, m, e);
      ops.push(op);
    } else if (what === 'fault') {
      ops.push(fault());
    } else if (what === 'pause') {
      ops.push({ t: 'pause', ms: rng.int(1500) });
    } else {
      ops.push({ t: 'settle' });
      offline = false;
      // The generator assumes "local wins" for contested files; the runner checks what really happened.
      e = new Epoch();
    }
    if (ops.length > before) maybeTouch();
  }
  ops.push({ t: 'settle' });
  return shared ? { seed, index, shared, ops } : { seed, index, ops };
}
