/**
 * The sync fuzzer's vocabulary: a seeded PRNG, the operations a schedule is made of, the model of
 * what the drive should hold, and the rules that keep every operation's outcome definable.
 *
 * Paths are relative to the schedule's own folder on the drive ('' is that folder). The model is
 * the local truth: what a program on the mount wrote. Remote changes are applied to it too, except
 * where both sides changed one file since the last quiet point ("contested"): then the outcome is
 * decided at the next settle, against the rules in checks.ts.
 *
 * Why the epoch rules exist: between two quiet points the engine may or may not have seen a remote
 * change when a local program acts on the same path, and each case has a different right answer
 * (a write into a file that was renamed remotely lands in the renamed file, or creates a new one).
 * So a remote change may only touch paths no local operation structurally touched (created,
 * deleted, renamed) in the epoch, and afterwards local operations keep off the paths it touched —
 * except a whole-file overwrite of a file edited remotely, which is the conflict case under test.
 */
import { createHash } from 'node:crypto';

// ---- PRNG ----------------------------------------------------------------------------------------

/** sfc32 seeded through splitmix32: small, fast, and the same sequence on every machine. */
export class Rng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = () => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  u32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  /** 0 ≤ n < max. */
  int(max: number): number {
    return Math.floor((this.u32() / 0x1_0000_0000) * max);
  }

  chance(p: number): boolean {
    return this.u32() / 0x1_0000_0000 < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  weighted<T extends string>(weights: Record<T, number>): T {
    const entries = Object.entries(weights) as Array<[T, number]>;
    const total = entries.reduce((s, [, w]) => s + w, 0);
    let r = (this.u32() / 0x1_0000_0000) * total;
    for (const [k, w] of entries) {
      if ((r -= w) < 0) return k;
    }
    return entries[entries.length - 1]![0];
  }
}

// ---- content -------------------------------------------------------------------------------------

/** Bytes named by a seed and a size, so a schedule (and its replay file) stays small. */
export interface Content {
  seed: number;
  size: number;
  /** Printable ASCII (remote writes go through the admin API as a string). */
  text?: boolean;
}

const contentCache = new Map<string, Buffer>();
let cachedBytes = 0;
const CACHE_LIMIT = 64 << 20;

export function bytesOf(c: Content): Buffer {
  const key = `${c.seed}:${c.size}:${c.text ? 't' : 'b'}`;
  const hit = contentCache.get(key);
  if (hit) return hit;
  const rng = new Rng(c.seed);
  const out = Buffer.allocUnsafe(c.size);
  let i = 0;
  for (; i + 4 <= c.size; i += 4) out.writeUInt32LE(rng.u32(), i);
  for (; i < c.size; i++) out[i] = rng.int(256);
  if (c.text) for (let j = 0; j < c.size; j++) out[j] = j % 64 === 63 ? 10 : 32 + (out[j]! % 95);
  if (cachedBytes + out.length > CACHE_LIMIT) {
    contentCache.clear();
    cachedBytes = 0;
  }
  contentCache.set(key, out);
  cachedBytes += out.length;
  return out;
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').toUpperCase();
}

// ---- operations ----------------------------------------------------------------------------------

export type Op =
  // local, through the mount
  | { t: 'create'; path: string; content: Content }
  | { t: 'writeAt'; path: string; offset: number; content: Content }
  | { t: 'append'; path: string; content: Content }
  | { t: 'truncate'; path: string; size: number }
  /** A new modification time (utimens: `touch -d`, `cp -p`): the bytes stay. */
  | { t: 'touch'; path: string; mtimeMs: number }
  /** Plain rename, or rename over an existing file. */
  | { t: 'rename'; from: string; to: string }
  | { t: 'unlink'; path: string }
  | { t: 'mkdir'; path: string }
  | { t: 'rmdir'; path: string }
  /** Editor-style save: write a temporary file beside it, rename it over the original. */
  | { t: 'save'; path: string; content: Content }
  /** A name OneDrive refuses: the create must fail and leave nothing behind. */
  | { t: 'badName'; dir: string; name: string }
  // remote, through the emulator's admin API ("another device")
  | { t: 'rEdit'; path: string; content: Content }
  | { t: 'rCreate'; path: string; content: Content }
  | { t: 'rMkdir'; path: string }
  | { t: 'rMove'; from: string; to: string }
  | { t: 'rDelete'; path: string }
  // faults
  | { t: 'offline' }
  | { t: 'online' }
  | { t: 'throttle'; count: number; retryAfterSec: number }
  | { t: 'dropBody'; count: number }
  | { t: 'dropAfterCommit' }
  /** Scripted error answers; `pathIncludes`/`method` narrow them (e.g. only uploads: PUT …/content). */
  | { t: 'fail'; status: 500 | 503; count: number; pathIncludes?: string; method?: string }
  | { t: 'slow'; bytesPerSec: number }
  | { t: 'kill' }
  | { t: 'restart' }
  /** Time for write-back to fire and uploads to start, so the next writes meet them in flight. */
  | { t: 'pause'; ms: number }
  /** Faults off, wait until the engine is quiet, check every invariant. */
  | { t: 'settle' };

export type LocalOp = Extract<Op, { t: 'create' | 'writeAt' | 'append' | 'truncate' | 'touch' | 'rename' | 'unlink' | 'mkdir' | 'rmdir' | 'save' | 'badName' }>;
export type RemoteOp = Extract<Op, { t: 'rEdit' | 'rCreate' | 'rMkdir' | 'rMove' | 'rDelete' }>;

const LOCAL_OPS: ReadonlySet<Op['t']> = new Set(['create', 'writeAt', 'append', 'truncate', 'touch', 'rename', 'unlink', 'mkdir', 'rmdir', 'save', 'badName']);
const REMOTE_OPS: ReadonlySet<Op['t']> = new Set(['rEdit', 'rCreate', 'rMkdir', 'rMove', 'rDelete']);

export function isLocal(op: Op): op is LocalOp {
  return LOCAL_OPS.has(op.t);
}
export function isRemote(op: Op): op is RemoteOp {
  return REMOTE_OPS.has(op.t);
}

export const SAVE_SUFFIX = '.fzsave';

/** One line per op, for failure reports. */
export function describeOp(op: Op): string {
  const { t, ...rest } = op;
  const parts = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`);
  return `${t} ${parts.join(' ')}`.trim();
}

// ---- paths ---------------------------------------------------------------------------------------

export function parentOf(p: string): string {
  const cut = p.lastIndexOf('/');
  return cut < 0 ? '' : p.slice(0, cut);
}

export function baseOf(p: string): string {
  return p.slice(p.lastIndexOf('/') + 1);
}

export function join(dir: string, name: string): string {
  return dir ? `${dir}/${name}` : name;
}

/** p and every folder above it, up to (not including) the schedule's root ''. */
export function selfAndAncestors(p: string): string[] {
  const out: string[] = [];
  for (let cur = p; cur !== ''; cur = parentOf(cur)) out.push(cur);
  return out;
}

export function isUnder(p: string, dir: string): boolean {
  return p === dir || p.startsWith(dir + '/');
}

/** `a (conflict 2026-12-04 203005 host).txt` or `… host) 1.txt` → `a.txt`; undefined when not a conflict copy. */
export function conflictOriginal(name: string): string | undefined {
  const m = /^(.*) \(conflict \d{4}-\d\d-\d\d \d{6}[^)]*\)(?: \d+)?(\.[^.]*)?$/.exec(name);
  if (!m) return undefined;
  return `${m[1]}${m[2] ?? ''}`;
}

// ---- the model -----------------------------------------------------------------------------------

export type Errno = 'ENOENT' | 'EEXIST' | 'ENOTDIR' | 'EISDIR' | 'ENOTEMPTY' | 'EINVAL';

/** What a local op must do given the model: succeed, or fail with this error. */
export type Expectation = { ok: true } | { ok: false; errno: Errno | 'any' };

/** A file both sides changed since the last quiet point: decided at the next settle. */
export interface Contest {
  /** Local contents of the file after each local edit in this epoch, oldest first. */
  localVersions: Buffer[];
  remote: Array<{
    kind: 'edit' | 'delete' | 'create';
    content?: Buffer;
    /** The server's hash just before (undefined: absent). */
    prevHash?: string;
    /** How many local versions there were when it happened. */
    afterLocal: number;
  }>;
  last: 'local' | 'remote';
  /**
   * Where the file was locally before remote moves carried it here: the engine may keep L under the
   * name the file had where the local edit was made (its conflict copy named after it, or, when the
   * server deleted the file after moving it, L itself re-uploaded there).
   */
  formerPaths?: string[];
  /**
   * Hashes another device's file replaced at one of those former paths (`rCreate` where the model
   * saw no file): L, re-uploaded there, was replaced on the server by a change made after it.
   */
  replacedThere?: string[];
}

export class Model {
  readonly files = new Map<string, Buffer>();
  readonly folders = new Set<string>();

  clone(): Model {
    const m = new Model();
    for (const [p, b] of this.files) m.files.set(p, b);
    for (const f of this.folders) m.folders.add(f);
    return m;
  }

  kind(p: string): 'file' | 'folder' | undefined {
    if (p === '') return 'folder';
    if (this.files.has(p)) return 'file';
    if (this.folders.has(p)) return 'folder';
    return undefined;
  }

  /** Every path strictly below the folder `dir`. */
  below(dir: string): string[] {
    const prefix = dir === '' ? '' : dir + '/';
    return [...this.files.keys(), ...this.folders].filter((p) => p.startsWith(prefix) && p !== dir);
  }

  /** Moves `from` (and what is below it) to `to`, replacing a file at `to`. */
  move(from: string, to: string): void {
    if (this.files.has(from)) {
      const bytes = this.files.get(from)!;
      this.files.delete(from);
      this.files.set(to, bytes);
      return;
    }
    const inside = this.below(from);
    this.folders.delete(from);
    this.folders.add(to);
    for (const p of inside) {
      const np = to + p.slice(from.length);
      if (this.files.has(p)) {
        this.files.set(np, this.files.get(p)!);
        this.files.delete(p);
      } else {
        this.folders.delete(p);
        this.folders.add(np);
      }
    }
  }

  remove(p: string): void {
    for (const q of this.below(p)) {
      this.files.delete(q);
      this.folders.delete(q);
    }
    this.files.delete(p);
    this.folders.delete(p);
  }

  /** What POSIX says a local op does on this model. */
  expect(op: LocalOp): Expectation {
    const parentMust = (p: string): Expectation | undefined => {
      const k = this.kind(parentOf(p));
      if (k === undefined) return { ok: false, errno: 'ENOENT' };
      if (k === 'file') return { ok: false, errno: 'ENOTDIR' };
      return undefined;
    };
    switch (op.t) {
      case 'create':
      case 'save': {
        const bad = parentMust(op.path);
        if (bad) return bad;
        return this.kind(op.path) === 'folder' ? { ok: false, errno: 'EISDIR' } : { ok: true };
      }
      case 'writeAt':
      case 'append':
      case 'truncate':
      case 'touch': {
        const k = this.kind(op.path);
        if (k === undefined) return parentMust(op.path) ?? { ok: false, errno: 'ENOENT' };
        return k === 'folder' ? { ok: false, errno: 'EISDIR' } : { ok: true };
      }
      case 'rename': {
        const src = this.kind(op.from);
        if (src === undefined) return { ok: false, errno: 'ENOENT' };
        const bad = parentMust(op.to);
        if (bad) return bad;
        if (isUnder(op.to, op.from) && op.to !== op.from) return { ok: false, errno: 'EINVAL' };
        const dst = this.kind(op.to);
        if (dst === undefined || op.to === op.from) return { ok: true };
        if (src === 'file' && dst === 'folder') return { ok: false, errno: 'EISDIR' };
        if (src === 'folder' && dst === 'file') return { ok: false, errno: 'ENOTDIR' };
        if (src === 'folder' && dst === 'folder' && this.below(op.to).length > 0) return { ok: false, errno: 'ENOTEMPTY' };
        return { ok: true };
      }
      case 'unlink': {
        const k = this.kind(op.path);
        if (k === undefined) return { ok: false, errno: 'ENOENT' };
        return k === 'folder' ? { ok: false, errno: 'EISDIR' } : { ok: true };
      }
      case 'mkdir': {
        if (this.kind(op.path) !== undefined) return { ok: false, errno: 'EEXIST' };
        return parentMust(op.path) ?? { ok: true };
      }
      case 'rmdir': {
        const k = this.kind(op.path);
        if (k === undefined) return { ok: false, errno: 'ENOENT' };
        if (k === 'file') return { ok: false, errno: 'ENOTDIR' };
        return this.below(op.path).length > 0 ? { ok: false, errno: 'ENOTEMPTY' } : { ok: true };
      }
      case 'badName':
        return { ok: false, errno: 'any' };
    }
  }

  /** Applies a local op that succeeded. */
  applyLocal(op: LocalOp): void {
    switch (op.t) {
      case 'create':
      case 'save':
        this.files.set(op.path, bytesOf(op.content));
        return;
      case 'writeAt': {
        const old = this.files.get(op.path)!;
        const data = bytesOf(op.content);
        const out = Buffer.alloc(Math.max(old.length, op.offset + data.length));
        old.copy(out);
        data.copy(out, op.offset);
        this.files.set(op.path, out);
        return;
      }
      case 'append':
        this.files.set(op.path, Buffer.concat([this.files.get(op.path)!, bytesOf(op.content)]));
        return;
      case 'truncate': {
        const old = this.files.get(op.path)!;
        const out = Buffer.alloc(op.size);
        old.copy(out, 0, 0, Math.min(old.length, op.size));
        this.files.set(op.path, out);
        return;
      }
      case 'rename':
        if (op.from === op.to) return;
        if (this.folders.has(op.to)) this.folders.delete(op.to);
        this.move(op.from, op.to);
        return;
      case 'unlink':
      case 'rmdir':
        this.remove(op.path);
        return;
      case 'mkdir':
        this.folders.add(op.path);
        return;
      case 'touch':
      case 'badName':
        return;
    }
  }
}

// ---- epochs: what may happen between two quiet points ---------------------------------------------

export class Epoch {
  /** The first epoch of a schedule: its folder may not be on the server yet, so no remote changes. */
  constructor(readonly remoteBlocked = false) {}

  /** Paths a local op created, deleted or renamed (both ends, whole subtrees). */
  readonly localStruct = new Set<string>();
  /** Local contents after each local edit in this epoch, by current path. */
  readonly localVersions = new Map<string, Buffer[]>();
  /** Earlier paths of files with local versions that remote moves carried away (Contest.formerPaths). */
  readonly formerPaths = new Map<string, string[]>();
  /** Paths a remote change touched (whole subtrees for folder moves). */
  readonly remoteTouched = new Set<string>();
  /** Files edited remotely (and nothing else remote happened to them): whole overwrites stay allowed. */
  readonly remoteEditedOnly = new Set<string>();
  readonly contests = new Map<string, Contest>();
  /** Remote edits of files with no local edit before them (yet): a later local overwrite contests them. */
  readonly remoteEdits = new Map<string, Contest['remote']>();
  /** Times set by touch (whole seconds, ms), by path, for files nothing else changed since in this epoch. */
  readonly times = new Map<string, number>();

  /** Paths a local op involves, and whether it is structural (needs the stricter rule). */
  private static localPaths(op: LocalOp, m: Model): { paths: string[]; structural: boolean; content?: 'whole' | 'partial' } {
    switch (op.t) {
      case 'create':
        return m.kind(op.path) === 'file' ? { paths: [op.path], structural: false, content: 'whole' } : { paths: [op.path], structural: true };
      case 'writeAt':
      case 'append':
      case 'truncate':
        return { paths: [op.path], structural: false, content: 'partial' };
      case 'touch':
        return { paths: [op.path], structural: false };
      case 'save':
        return { paths: [op.path, op.path + SAVE_SUFFIX], structural: true };
      case 'rename':
        return { paths: [op.from, ...m.below(op.from), op.to, ...m.below(op.to)], structural: true };
      case 'unlink':
      case 'mkdir':
        return { paths: [op.path], structural: true };
      case 'rmdir':
        return { paths: [op.path, ...m.below(op.path)], structural: true };
      case 'badName':
        return { paths: [join(op.dir, op.name)], structural: true };
    }
  }

  /** May this local op run now, with an outcome the model can predict? */
  allowsLocal(op: LocalOp, m: Model): boolean {
    const { paths, structural, content } = Epoch.localPaths(op, m);
    // A folder that must be empty (rmdir, or the target of a rename over it) and held something
    // another device just deleted (gone from the model already, not yet from the mount, where it
    // still makes ENOTEMPTY) has no outcome the model can predict.
    if (op.t === 'rmdir' || op.t === 'rename') {
      const folder = op.t === 'rmdir' ? op.path : op.to;
      for (const t of this.remoteTouched) if (t.startsWith(folder + '/')) return false;
    }
    for (const p of paths) {
      for (const a of selfAndAncestors(p)) {
        if (!this.remoteTouched.has(a)) continue;
        // The one exception: overwrite a whole file another device edited (the conflict under test).
        if (a === p && !structural && content === 'whole' && this.remoteEditedOnly.has(p)) continue;
        return false;
      }
    }
    return true;
  }

  /** Records a local op that ran (successfully). Call before model.applyLocal. */
  noteLocal(op: LocalOp, m: Model): void {
    const { paths, structural } = Epoch.localPaths(op, m);
    if (op.t === 'touch') this.times.set(op.path, Math.floor(op.mtimeMs / 1000) * 1000);
    else for (const p of paths) this.times.delete(p);
    if (structural) for (const p of paths) this.localStruct.add(p);
    if (op.t === 'rename') {
      // Versions and contests follow the file; targets were structural, so no contest can exist there.
      for (const p of [op.from, ...m.below(op.from)]) {
        const np = op.to + p.slice(op.from.length);
        for (const p2 of [np, ...m.below(np)]) this.localStruct.add(p2);
        const v = this.localVersions.get(p);
        if (v) {
          this.localVersions.delete(p);
          this.localVersions.set(np, v);
        }
      }
      // Renaming into the spot the destination had: the paths below the new name are structural too.
      this.localStruct.add(op.to);
      // What another device changed below the folder (a file deleted or moved away, gone from the
      // model) may still be in it on the mount until the engine sees it: the marks move with it.
      for (const t of [...this.remoteTouched]) if (t.startsWith(op.from + '/')) this.remoteTouched.add(op.to + t.slice(op.from.length));
      // So may a file the server moved away and deleted, edited here at a place below the folder:
      // the engine, which saw only the delete, keeps it there, so it comes back under the new
      // name (fuzz 660000/275). The former places below the folder gain their new names.
      const below = (f: string) => f === op.from || f.startsWith(op.from + '/');
      const withNew = (list: string[]) => [...new Set([...list, ...list.filter(below).map((f) => op.to + f.slice(op.from.length))])];
      for (const c of this.contests.values()) if (c.formerPaths) c.formerPaths = withNew(c.formerPaths);
      for (const [k, list] of this.formerPaths) this.formerPaths.set(k, withNew(list));
    }
    if (op.t === 'unlink' || op.t === 'rmdir') this.localVersions.delete(op.path);
  }

  /** After model.applyLocal: remember the file's new local content. */
  noteLocalContent(p: string, m: Model): void {
    const bytes = m.files.get(p);
    if (!bytes) return;
    const list = this.localVersions.get(p) ?? [];
    list.push(bytes);
    this.localVersions.set(p, list);
    const c = this.contests.get(p);
    if (c) {
      c.localVersions.push(bytes);
      c.last = 'local';
      return;
    }
    // A local overwrite after a remote edit: the engine may not have seen the edit when it was written.
    const edits = this.remoteEdits.get(p);
    if (edits) this.contests.set(p, { localVersions: [bytes], remote: [...edits], last: 'local' });
  }

  private static remotePaths(op: RemoteOp, m: Model): string[] {
    switch (op.t) {
      case 'rEdit':
      case 'rCreate':
      case 'rDelete':
      case 'rMkdir':
        return [op.path];
      case 'rMove':
        return [op.from, ...m.below(op.from), op.to];
    }
  }

  /** May this remote change happen now, on a path the server has where the model says? */
  allowsRemote(op: RemoteOp, m: Model): boolean {
    if (this.remoteBlocked) return false;
    for (const p of Epoch.remotePaths(op, m)) for (const a of selfAndAncestors(p)) if (this.localStruct.has(a)) return false;
    switch (op.t) {
      case 'rEdit':
      case 'rDelete':
        return m.kind(op.path) === 'file' || this.contests.has(op.path);
      case 'rCreate':
      case 'rMkdir':
        return m.kind(op.path) === undefined && !this.contests.has(op.path) && m.kind(parentOf(op.path)) === 'folder';
      case 'rMove': {
        if (m.kind(op.from) === undefined || m.kind(op.to) !== undefined || m.kind(parentOf(op.to)) !== 'folder' || isUnder(op.to, op.from)) return false;
        // A contested file moving would leave its contest behind; a folder holding one too.
        for (const p of [op.from, ...m.below(op.from)]) if (this.contests.has(p)) return false;
        return true;
      }
    }
  }
}

/**
 * Applies a remote change that happened to the model and the epoch. `prevHash`: the server's sha256
 * of the file just before the change (undefined when it had none).
 */
export function applyRemote(op: RemoteOp, m: Model, e: Epoch, prevHash?: string): void {
  const touch = (p: string) => e.remoteTouched.add(p);
  switch (op.t) {
    case 'rEdit': {
      // Local whole-file overwrites stay allowed only while nothing but edits happened remotely.
      const onlyEdits = !e.remoteTouched.has(op.path) || e.remoteEditedOnly.has(op.path);
      touch(op.path);
      const bytes = bytesOf(op.content);
      const versions = e.localVersions.get(op.path);
      const contest = e.contests.get(op.path) ?? (versions?.length ? { localVersions: [...versions], remote: [], last: 'remote' as const } : undefined);
      if (contest) {
        const former = e.formerPaths.get(op.path);
        if (former) contest.formerPaths = [...new Set([...(contest.formerPaths ?? []), ...former])];
        contest.remote.push({ kind: 'edit', content: bytes, prevHash, afterLocal: contest.localVersions.length });
        contest.last = 'remote';
        e.contests.set(op.path, contest);
      } else {
        m.files.set(op.path, bytes);
        e.remoteEdits.set(op.path, [...(e.remoteEdits.get(op.path) ?? []), { kind: 'edit', content: bytes, prevHash, afterLocal: 0 }]);
      }
      if (onlyEdits) e.remoteEditedOnly.add(op.path);
      return;
    }
    case 'rDelete': {
      touch(op.path);
      e.remoteEditedOnly.delete(op.path);
      const versions = e.localVersions.get(op.path);
      const contest = e.contests.get(op.path) ?? (versions?.length ? { localVersions: [...versions], remote: [], last: 'remote' as const } : undefined);
      if (contest) {
        const former = e.formerPaths.get(op.path);
        if (former) contest.formerPaths = [...new Set([...(contest.formerPaths ?? []), ...former])];
        contest.remote.push({ kind: 'delete', prevHash, afterLocal: contest.localVersions.length });
        contest.last = 'remote';
        e.contests.set(op.path, contest);
      } else {
        m.remove(op.path);
      }
      return;
    }
    case 'rCreate':
      touch(op.path);
      e.remoteEditedOnly.delete(op.path);
      // Where the model sees no file the server may hold L: a contested file's local version kept
      // under the name it had here before the server moved and deleted it (fuzz 303000/267).
      if (prevHash !== undefined) for (const c of e.contests.values()) if (c.formerPaths?.includes(op.path)) c.replacedThere = [...(c.replacedThere ?? []), prevHash];
      m.files.set(op.path, bytesOf(op.content));
      return;
    case 'rMkdir':
      touch(op.path);
      m.folders.add(op.path);
      return;
    case 'rMove': {
      const moved = [op.from, ...m.below(op.from)];
      for (const p of moved) {
        const np = op.to + p.slice(op.from.length);
        touch(p);
        touch(np);
        e.remoteEditedOnly.delete(p);
        const v = e.localVersions.get(p);
        if (v) {
          e.localVersions.delete(p);
          e.localVersions.set(np, v);
          e.formerPaths.set(np, [...(e.formerPaths.get(p) ?? []), p]);
          e.formerPaths.delete(p);
        }
      }
      m.move(op.from, op.to);
      return;
    }
  }
}
