/**
 * Desktop indexers and thumbnailers open every file they find. On a mount with files on demand that
 * downloads the whole drive, so a read-only open of a file whose bytes are not all on this device is
 * refused when the process asking is one of them (docs/indexers.md). The FUSE request names the
 * calling thread (fuse-native patched to pass fuse_get_context(), see native/); its process is
 * looked up in /proc: the process name (`comm`), the program file (`exe`) and, for rules that need
 * it, the arguments.
 *
 * Errno: EACCES. It is what every indexer already meets on an unreadable file and handles as "skip
 * this one" (GLib maps it to G_IO_ERROR_PERMISSION_DENIED; tracker and baloo record the file as
 * failed and do not retry it until it changes), and it says nothing false about the device — EIO
 * reads as a failing disk in logs and file managers, and ENODATA is not an errno open(2) can
 * return, so libraries turn it into a generic failure.
 *
 * Anything unknown is a person's program: no caller (an unpatched fuse-native, or a request the
 * kernel makes itself: pid 0), a process gone before it could be looked up, an unreadable /proc
 * entry. A cached file is read by anyone.
 */
import { close, open, read } from 'node:fs';
import { readFile, readlink } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../base/logger.ts';
import { IndexerProgramSchema } from '../../src-shared/ipc/desktop-calls.ts';
import { DEFAULT_INDEXER_PROGRAMS } from '../../src-shared/model/indexer-programs.ts';

export { DEFAULT_INDEXER_PROGRAMS };

/** /proc/pid/comm holds at most this many characters (TASK_COMM_LEN - 1). */
const COMM_LENGTH = 15;

/** What /proc says about the process that made a FUSE request. */
export interface ProcessIdentity {
  pid: number;
  /** The process name (its main thread's comm), at most 15 characters. */
  comm: string;
  /** The program file, when /proc/pid/exe could be read (another user's process: not). */
  exe?: string;
  /** The arguments, argv[0] first; empty when unreadable. */
  argv: string[];
}

interface Rule {
  text: string;
  name: string;
  glob?: RegExp;
  arg?: string;
}

/** Parsed rules by their text: the list is matched on every guarded open, and changes rarely. */
const parsedRules = new Map<string, Rule | null>();

function ruleOf(text: string): Rule | undefined {
  let rule = parsedRules.get(text);
  if (rule === undefined) {
    rule = parseRule(text) ?? null;
    // Bounded: a list holds at most MAX_INDEXER_PROGRAMS rules; many edits in one run start over.
    if (parsedRules.size > 10_000) parsedRules.clear();
    parsedRules.set(text, rule);
  }
  return rule ?? undefined;
}

function parseRule(text: string): Rule | undefined {
  // Settings are validated on arrival; a rule that is not one (a hand-edited file) matches nothing.
  if (!IndexerProgramSchema.safeParse(text).success) return undefined;
  const [name = '', arg] = text.split('/');
  const glob = name.includes('*') ? new RegExp(`^${name.split('*').map(escapeRegExp).join('.*')}$`) : undefined;
  return { text, name, ...(glob ? { glob } : {}), ...(arg !== undefined ? { arg } : {}) };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The program file's name without the " (deleted)" /proc adds once it was replaced (an upgrade). */
function exeName(exe: string | undefined): string | undefined {
  if (!exe) return undefined;
  return path.basename(exe.endsWith(' (deleted)') ? exe.slice(0, -' (deleted)'.length) : exe);
}

function names(rule: Rule, p: ProcessIdentity): boolean {
  const exe = exeName(p.exe);
  return rule.glob ? rule.glob.test(p.comm) || (exe !== undefined && rule.glob.test(exe)) : exe === rule.name || p.comm === rule.name.slice(0, COMM_LENGTH);
}

function ruleMatches(rule: Rule, p: ProcessIdentity): boolean {
  if (!names(rule, p)) return false;
  if (rule.arg === undefined) return true;
  // `thumbnail` is the argument itself or the plugin file named after it (…/kio/thumbnail.so).
  return p.argv.slice(1).some((a) => a === rule.arg || path.basename(a).replace(/\.so$/, '') === rule.arg);
}

/** The first rule the process matches (its text, as the settings list it), or undefined. */
export function matchProgram(rules: readonly string[], p: ProcessIdentity): string | undefined {
  for (const text of rules) {
    const rule = ruleOf(text);
    if (rule && ruleMatches(rule, p)) return text;
  }
  return undefined;
}

/** Whether a rule with an argument names the process: only then are its arguments needed. */
export function needsArguments(rules: readonly string[], p: ProcessIdentity): boolean {
  return rules.some((text) => {
    const rule = ruleOf(text);
    return rule?.arg !== undefined && names(rule, p);
  });
}

/**
 * A small /proc file in one read (status: a couple of KiB): open, read, close, without readFile's
 * size query and read to the end (every guarded open waits for this).
 */
function readSmall(file: string): Promise<string | undefined> {
  return new Promise((resolve) =>
    open(file, 'r', (openError, fd) => {
      if (openError) return resolve(undefined);
      const buffer = Buffer.allocUnsafe(16 * 1024);
      read(fd, buffer, 0, buffer.length, 0, (readError, n) => {
        close(fd, () => undefined);
        resolve(readError ? undefined : buffer.toString('utf8', 0, n));
      });
    }),
  );
}

/** The process's arguments, argv[0] first; empty when unreadable. */
export async function readArguments(tid: number, procRoot = '/proc'): Promise<string[]> {
  const argv = (await readFile(path.join(procRoot, String(tid), 'cmdline'), 'utf8').catch(() => '')).split('\0');
  if (argv.at(-1) === '') argv.pop();
  return argv;
}

/**
 * The process of the thread `tid` (FUSE names the calling thread), from `/proc`. Undefined when it
 * is gone; fields that cannot be read (exe of another user's process) are left out. `argv: false`:
 * the arguments are not read (argv is empty; readArguments when a rule needs them).
 */
export async function identifyProcess(tid: number, procRoot = '/proc', options: { argv?: boolean } = {}): Promise<ProcessIdentity | undefined> {
  // A thread shares its process's program file and arguments: those are read at once with the
  // thread's status; only the process name needs the thread group's own entry.
  const dir = path.join(procRoot, String(tid));
  const [status, exe, argv] = await Promise.all([
    readSmall(path.join(dir, 'status')),
    readlink(path.join(dir, 'exe')).catch(() => undefined),
    options.argv === false ? [] : readArguments(tid, procRoot),
  ]);
  // Exited (or never visible to us): nothing to tell, so it is treated as a person's program.
  if (status === undefined) return undefined;
  const tgid = Number(/^Tgid:\s*(\d+)$/m.exec(status)?.[1] ?? tid);
  const name = /^Name:\s*(.*)$/m.exec(status)?.[1] ?? '';
  const comm =
    tgid === tid
      ? name
      : await readFile(path.join(procRoot, String(tgid), 'comm'), 'utf8').then(
          (s) => s.replace(/\n$/, ''),
          () => name,
        );
  return { pid: tgid, comm, ...(exe !== undefined ? { exe } : {}), argv };
}

export interface IndexerGuardSettings {
  /** Refuse the listed programs' reads of files not on this device. */
  refuse: boolean;
  programs: readonly string[];
}

export interface IndexerGuardOptions extends IndexerGuardSettings {
  logger: Logger;
  /** Told after each refusal (the engine pushes its status, at most once a second). */
  onRefused?: () => void;
  /** For tests: a stand-in /proc. */
  procRoot?: string;
}

/** What status reports: the refusals since the engine started, by the rule that matched. */
export interface IndexerGuardSnapshot {
  refuse: boolean;
  /** False when the FUSE module does not pass the caller (nothing can be refused then). */
  callerKnown: boolean;
  refused: number;
  byProgram: Record<string, number>;
}

export class IndexerGuard {
  #settings: IndexerGuardSettings;
  #callerKnown = false;
  #refused = 0;
  readonly #byProgram = new Map<string, number>();
  readonly #o: IndexerGuardOptions;

  constructor(options: IndexerGuardOptions) {
    this.#o = options;
    this.#settings = { refuse: options.refuse, programs: [...options.programs] };
  }

  get settings(): IndexerGuardSettings {
    return { refuse: this.#settings.refuse, programs: [...this.#settings.programs] };
  }

  /** Applied to the next open. */
  update(change: Partial<IndexerGuardSettings>): void {
    this.#settings = { refuse: change.refuse ?? this.#settings.refuse, programs: [...(change.programs ?? this.#settings.programs)] };
  }

  /** Set by the mount: whether its FUSE module reports callers. */
  setCallerKnown(known: boolean): void {
    this.#callerKnown = known;
  }

  /** Whether a caller lookup can matter at all (saves the /proc reads when it cannot). */
  get active(): boolean {
    return this.#settings.refuse && this.#settings.programs.length > 0;
  }

  /**
   * Whether the read-only open of `file` (a mount path not on this device) by thread `tid` is refused;
   * counts and logs it when it is.
   */
  async refuses(tid: number, file: string): Promise<boolean> {
    if (!this.active || tid <= 0) return false;
    let proc = await identifyProcess(tid, this.#o.procRoot, { argv: false });
    if (!proc) return false;
    // The arguments (a read of the process's memory) only for a program a rule with one names.
    if (needsArguments(this.#settings.programs, proc)) proc = { ...proc, argv: await readArguments(tid, this.#o.procRoot) };
    // The settings may have changed while /proc was read: the newest apply.
    if (!this.active) return false;
    const program = matchProgram(this.#settings.programs, proc);
    if (program === undefined) return false;
    this.#refused++;
    const before = this.#byProgram.get(program) ?? 0;
    this.#byProgram.set(program, before + 1);
    const fields = { pid: proc.pid, comm: proc.comm, exe: proc.exe, program, path: file };
    // The first refusal of each program is worth a line in the log; the rest are counted in status.
    if (before === 0) this.#o.logger.info(fields, `${proc.comm} (an indexer or thumbnailer: "${program}") opened ${file}, which is not on this device: refused with EACCES so it does not download the drive; later refusals are counted in status`);
    else this.#o.logger.debug(fields, 'indexer read of a file not on this device refused');
    this.#o.onRefused?.();
    return true;
  }

  snapshot(): IndexerGuardSnapshot {
    return { refuse: this.#settings.refuse, callerKnown: this.#callerKnown, refused: this.#refused, byProgram: Object.fromEntries(this.#byProgram) };
  }
}
