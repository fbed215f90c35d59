/**
 * Runs schedules against a real mount (black box): local ops are async fs calls on the mount,
 * remote changes and faults go through the emulator's admin API, the engine is a process we kill or
 * restart, and "quiet" is read from `status` over the engine's socket plus the emulator's request
 * log. After each settle every invariant is checked (checks.ts) and the model takes the server's
 * state, conflict copies included.
 */
import { constants } from 'node:fs';
import { appendFile, mkdir, open, readFile, rename, rmdir, stat, truncate, unlink, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { SocketClient } from '../../src-main/ipc/socket-client.ts';
import type { EngineStatus } from '../../src-shared/ipc/contract.ts';
import type { Conflict } from '../../src-shared/ipc/desktop-calls.ts';
import type { ClientFault } from '../../emulator/src/request-log.ts';
import { findTree, MountHarness, run, sleep } from '../harness.ts';
import { checkSettled, type Snapshot, type Violation } from './checks.ts';
import type { Schedule } from './generate.ts';
import { applyRemote, bytesOf, describeOp, Epoch, isLocal, isRemote, Model, SAVE_SUFFIX, sha256, type LocalOp, type Op, type RemoteOp } from './model.ts';

export const WRITE_BACK_MS = 150;
/** A hang guard for one settle: an engine that never goes quiet is a finding, not a reason to wait forever. */
const QUIET_TIMEOUT_MS = 120_000;
/** A request within this long of a throttled answer was sent before the client could have read it. */
const IN_FLIGHT_MS = 300;
/** How often, and how long apart, the status attributes are read again while a file is still 'syncing'. */
const STATE_SETTLE_TRIES = 50;
const STATE_SETTLE_STEP_MS = 200;

export interface ScheduleResult {
  schedule: Schedule;
  root: string;
  violations: Violation[];
  /** Index of the op that was running when the schedule stopped (ops.length when it finished). */
  stoppedAt: number;
  skipped: number;
  settles: number;
  ms: number;
}

/** One emulator + one engine, reused across schedules (each works in its own folder). */
export class FuzzRig {
  private constructor(readonly h: MountHarness) {}
  private clientFaultsSeen = 0;
  /** The request log's position when the current schedule began. */
  private scheduleSeq = 0;
  private conflictIdsSeen = new Set<number>();
  private offline = false;
  /** The current schedule's shared folder: the drive it is in. */
  private share: { driveId: string; itemId: string } | undefined;

  static async start(): Promise<FuzzRig> {
    // ONEMOUNT_FUZZ_LOG_LEVEL=debug makes a kept run's engine log detailed enough for a post-mortem.
    const logLevel = process.env.ONEMOUNT_FUZZ_LOG_LEVEL;
    const h = await MountHarness.start({
      engineArgs: ['--write-back', String(WRITE_BACK_MS), ...(logLevel ? ['--log-level', logLevel] : [])],
    });
    const rig = new FuzzRig(h);
    rig.clientFaultsSeen = (await h.admin.clientFaults()).length;
    return rig;
  }

  async close(): Promise<void> {
    await this.h.close();
  }

  private get socketPath(): string {
    return path.join(this.h.env.XDG_RUNTIME_DIR!, 'onemount', 'e2e.sock');
  }

  private async call<T>(fn: (c: SocketClient) => Promise<T>): Promise<T> {
    const client = await SocketClient.connect(this.socketPath);
    try {
      return await fn(client);
    } finally {
      client.close();
    }
  }

  status(): Promise<EngineStatus> {
    return this.call((c) => c.call('status', {}));
  }

  async conflicts(): Promise<Conflict[]> {
    return (await this.call((c) => c.call('conflicts', {}))).conflicts;
  }

  /** Make sure nothing from an earlier schedule (a fault, offline) leaks into the next one. */
  private async calm(): Promise<void> {
    await this.h.admin.resetFaults();
    if (this.offline) await this.h.admin.setOffline(false);
    this.offline = false;
    if (!this.h.engine || this.h.engine.exitStatus) await this.h.startEngine();
  }

  async run(schedule: Schedule, rootName: string, log: (line: string) => void = () => undefined): Promise<ScheduleResult> {
    const started = Date.now();
    const result: ScheduleResult = { schedule, root: rootName, violations: [], stoppedAt: schedule.ops.length, skipped: 0, settles: 0, ms: 0 };
    await this.calm();
    // An earlier schedule that failed left its client faults and conflicts unread: not this one's.
    this.clientFaultsSeen = (await this.h.admin.clientFaults()).length;
    this.scheduleSeq = (await this.h.admin.log({ since: Number.MAX_SAFE_INTEGER })).lastSeq;
    const model = new Model();
    let epoch = new Epoch(true);
    const at = (p: string) => (p ? this.h.at(rootName, p) : this.h.at(rootName));
    this.share = undefined;
    if (schedule.shared) await this.openShare(rootName);
    else await mkdir(at(''));
    try {
      for (let i = 0; i < schedule.ops.length; i++) {
        const op = schedule.ops[i]!;
        result.stoppedAt = i;
        if (op.t === 'settle') {
          result.settles++;
          const outcome = await this.settle(rootName, model, epoch, i === schedule.ops.length - 1);
          if (outcome.violations.length) {
            result.violations.push(...outcome.violations.map((v) => ({ ...v, message: `at op ${i} (settle): ${v.message}` })));
            return result;
          }
          epoch = new Epoch();
          continue;
        }
        if (isLocal(op)) {
          if (!epoch.allowsLocal(op, model)) {
            result.skipped++;
            continue;
          }
          const v = await this.local(op, at, model, epoch, log);
          if (v) {
            result.violations.push({ kind: 'op-result', message: `at op ${i} (${describeOp(op)}): ${v}` });
            return result;
          }
        } else if (isRemote(op)) {
          if (!epoch.allowsRemote(op, model)) {
            result.skipped++;
            continue;
          }
          await this.remote(op, rootName, model, epoch);
        } else {
          await this.fault(op, log);
        }
      }
      result.stoppedAt = schedule.ops.length;
      return result;
    } finally {
      result.ms = Date.now() - started;
    }
  }

  /**
   * The schedule's folder is the other user's, shared read-write and added to this user's drive
   * under the same name: it is ready once the mount lists it (the engine found the shortcut and
   * listed the share through its own delta).
   */
  private async openShare(rootName: string): Promise<void> {
    const info = await this.h.admin.share(rootName, 'write');
    this.share = { driveId: info.driveId, itemId: info.itemId };
    const deadline = Date.now() + QUIET_TIMEOUT_MS;
    for (;;) {
      try {
        if ((await stat(this.h.at(rootName))).isDirectory()) return;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
      if (Date.now() > deadline) throw new QuietTimeout(`the shared folder ${rootName} did not appear on the mount within ${QUIET_TIMEOUT_MS} ms`);
      await sleep(100);
    }
  }

  /** Where the schedule's folder lives on the server: the other user's drive for a shared one. */
  private get drive(): 'other' | undefined {
    return this.share ? 'other' : undefined;
  }

  /** Runs a local op; returns a description of the mismatch when its result was not the model's. */
  private async local(op: LocalOp, at: (p: string) => string, model: Model, epoch: Epoch, log: (line: string) => void): Promise<string | undefined> {
    const expected = model.expect(op);
    const held = expected.ok ? await holdOpen(op, model, at, log) : undefined;
    try {
      const mismatch = await this.runLocal(op, at, model, epoch, expected);
      if (mismatch || !held) return mismatch;
      // POSIX: the program holding the file it replaced or removed reads on what it had read.
      const after = Buffer.alloc(held.bytes.length + 1);
      let read: number;
      try {
        read = (await held.fh.read(after, 0, after.length, 0)).bytesRead;
      } catch (e) {
        return `a program holding ${held.path} open across the op could not read it again: ${(e as Error).message}`;
      }
      if (!after.subarray(0, read).equals(held.bytes)) {
        return `a program holding ${held.path} open across the op read ${read} bytes (sha256 ${sha256(after.subarray(0, read))}) instead of the ${held.bytes.length} it had read (${sha256(held.bytes)})`;
      }
      return undefined;
    } finally {
      await held?.fh.close();
    }
  }

  private async runLocal(op: LocalOp, at: (p: string) => string, model: Model, epoch: Epoch, expected: ReturnType<Model['expect']>): Promise<string | undefined> {
    let error: NodeJS.ErrnoException | undefined;
    try {
      switch (op.t) {
        case 'create':
          await writeFile(at(op.path), bytesOf(op.content));
          break;
        case 'writeAt': {
          const fh = await open(at(op.path), constants.O_WRONLY);
          try {
            const data = bytesOf(op.content);
            await fh.write(data, 0, data.length, op.offset);
          } finally {
            await fh.close();
          }
          break;
        }
        case 'append': {
          const fh = await open(at(op.path), constants.O_WRONLY | constants.O_APPEND);
          try {
            await fh.write(bytesOf(op.content));
          } finally {
            await fh.close();
          }
          break;
        }
        case 'truncate':
          await truncate(at(op.path), op.size);
          break;
        case 'touch':
          await utimes(at(op.path), new Date(op.mtimeMs), new Date(op.mtimeMs));
          break;
        case 'rename':
          await rename(at(op.from), at(op.to));
          break;
        case 'unlink':
          await unlink(at(op.path));
          break;
        case 'mkdir':
          await mkdir(at(op.path));
          break;
        case 'rmdir':
          await rmdir(at(op.path));
          break;
        case 'save': {
          const tmp = at(op.path + SAVE_SUFFIX);
          await writeFile(tmp, bytesOf(op.content));
          await rename(tmp, at(op.path));
          break;
        }
        case 'badName':
          await appendFile(at(`${op.dir ? op.dir + '/' : ''}${op.name}`), 'never here');
          break;
      }
    } catch (e) {
      error = e as NodeJS.ErrnoException;
      if (typeof error.code !== 'string') throw e;
    }
    if (expected.ok) {
      if (error) return `expected success, got ${error.code}: ${error.message}`;
      epoch.noteLocal(op, model);
      model.applyLocal(op);
      if (op.t === 'create' || op.t === 'writeAt' || op.t === 'append' || op.t === 'truncate' || op.t === 'save') epoch.noteLocalContent(op.path, model);
      return undefined;
    }
    if (!error) return `expected ${expected.errno}, but it succeeded`;
    if (expected.errno !== 'any' && error.code !== expected.errno) return `expected ${expected.errno}, got ${error.code}: ${error.message}`;
    return undefined;
  }

  private async remote(op: RemoteOp, root: string, model: Model, epoch: Epoch): Promise<void> {
    const full = (p: string) => `${root}/${p}`;
    // The emulator says what the change replaced, in the tick it made it: an upload landing between
    // a separate look and the change would otherwise pass for a version the other device saw.
    let prevHash: string | undefined;
    const replaced = (answer: { previousSha256: string | null }) => void (prevHash = answer.previousSha256 ?? undefined);
    switch (op.t) {
      case 'rEdit':
      case 'rCreate':
        replaced(await this.h.admin.remote({ op: 'write', path: full(op.path), content: bytesOf(op.content).toString('latin1') }, this.drive));
        break;
      case 'rMkdir':
        await this.h.admin.remote({ op: 'mkdir', path: full(op.path) }, this.drive);
        break;
      case 'rMove':
        await this.h.admin.remote({ op: 'move', path: full(op.from), newPath: full(op.to) }, this.drive);
        break;
      case 'rDelete':
        // A contested file whose server copy is already gone (deleted by an earlier remote op) has nothing to delete.
        try {
          replaced(await this.h.admin.remote({ op: 'delete', path: full(op.path) }, this.drive));
        } catch (e) {
          if (!/→ 404/.test(String(e))) throw e;
        }
        break;
    }
    applyRemote(op, model, epoch, prevHash);
  }

  private async fault(op: Op, log: (line: string) => void): Promise<void> {
    const admin = this.h.admin;
    switch (op.t) {
      case 'offline':
        await admin.setOffline(true);
        this.offline = true;
        return;
      case 'online':
        await admin.setOffline(false);
        this.offline = false;
        return;
      case 'throttle':
        await admin.throttle({ status: 429, retryAfterSec: op.retryAfterSec, count: op.count });
        return;
      case 'dropBody':
        await admin.setFaults({ dropNextBodies: op.count });
        return;
      case 'dropAfterCommit':
        await admin.setFaults({ dropAfterCommitNext: 1 });
        return;
      case 'fail':
        await admin.failNext({ status: op.status, code: op.status === 500 ? 'generalException' : 'serviceNotAvailable', count: op.count, pathIncludes: op.pathIncludes, method: op.method });
        return;
      case 'slow':
        await admin.setFaults({ bandwidthBytesPerSec: op.bytesPerSec });
        return;
      case 'kill':
        await this.h.engine!.kill();
        await this.h.startEngine();
        log(`  kill -9 and restart: engine pid ${this.h.engine!.pid}`);
        return;
      case 'restart': {
        const exit = await this.h.stopEngine();
        if (exit.code !== 0) log(`  clean restart: the engine exited with ${exit.code ?? exit.signal}`);
        await this.h.startEngine();
        return;
      }
      case 'pause':
        // Deliberate: lets write-back fire and uploads start, so the next ops meet them in flight.
        await sleep(op.ms);
        return;
      default:
        throw new Error(`not a fault: ${describeOp(op)}`);
    }
  }

  /**
   * Quiet: the engine reports no transfer in progress and is online and ready, it fetched delta
   * after this wait began (so it saw every remote change), and neither it nor the server moved a
   * byte or changed anything for `quietMs`.
   */
  async waitQuiet(quietMs: number): Promise<void> {
    const admin = this.h.admin;
    const startedAt = Date.now();
    let seq = (await admin.log({ since: Number.MAX_SAFE_INTEGER })).lastSeq;
    let sawDelta = false;
    let sawShareDelta = !this.share;
    // When the newest delta request seen began (the log's `at`): its batch counts once the engine
    // applied one after that (runs are serial, so an earlier run's apply ended before it began).
    let lastDeltaAt = 0;
    let lastBusy = Date.now();
    let why = 'nothing yet';
    // The last requests, for the report of an engine that never goes quiet.
    const recent: string[] = [];
    for (;;) {
      const { entries, lastSeq } = await admin.log({ since: seq });
      seq = lastSeq;
      for (const e of entries) {
        recent.push(`${e.method} ${e.path} → ${e.status}`);
        if (recent.length > 12) recent.shift();
        if (e.listener === 'api' && e.method === 'GET' && e.path.includes('delta') && e.status === 200 && e.at - e.ms >= startedAt) {
          // A shared folder's changes come through its own delta, on its owner's drive (Personal:
          // the folder's; Business: that drive's root, trimmed to what is shared).
          if (this.share && (e.path.includes(`/items/${this.share.itemId}/delta`) || e.path.includes(`${this.share.driveId}/root/delta`))) sawShareDelta = true;
          else {
            sawDelta = true;
            lastDeltaAt = Math.max(lastDeltaAt, e.at);
          }
        }
        const activity = e.listener === 'storage' || (e.listener === 'api' && (e.method !== 'GET' || e.path.includes('/content')));
        if (activity) {
          lastBusy = Date.now();
          why = `${e.method} ${e.path}`;
        }
      }
      let status: EngineStatus | undefined;
      try {
        status = await this.status();
      } catch (e) {
        why = `status: ${String(e)}`;
      }
      const running = status?.transfers.filter((t) => !['done', 'failed'].includes(t.state)) ?? [];
      if (!status || status.state !== 'ready' || (status.connectivity && status.connectivity.state !== 'online') || running.length) {
        lastBusy = Date.now();
        if (status) why = `state ${status.state}, connectivity ${status.connectivity?.state}, ${running.length} transfers (${running.map((t) => `${t.direction} ${t.path} ${t.state}`).join(', ')})`;
      }
      // A fetched page may still be being applied (a slow apply): the check would race with it.
      if (status && sawDelta && (status.lastSyncAt ?? 0) <= lastDeltaAt) {
        lastBusy = Date.now();
        why = 'a delta page fetched but not applied yet';
      }
      if (sawDelta && sawShareDelta && Date.now() - lastBusy >= quietMs) return;
      if (Date.now() - startedAt > QUIET_TIMEOUT_MS) throw new QuietTimeout(`the engine did not go quiet within ${QUIET_TIMEOUT_MS} ms (last activity: ${why}${sawDelta ? '' : '; no delta fetched'}${sawShareDelta ? '' : "; no delta of the shared folder's drive fetched"}); last requests:\n      ${recent.join('\n      ')}`);
      await sleep(100);
    }
  }

  /** The schedule's folder on the server and on the mount: hashes and files' times (both), contents and status attributes (mount). */
  private async snapshot(root: string): Promise<Snapshot> {
    const server: Snapshot['server'] = new Map();
    for (const it of await this.h.admin.tree(root, this.drive)) server.set(it.path, { kind: it.kind, size: it.size, sha: it.sha256Hash, mtimeMs: it.modifiedMs });
    const mount: Snapshot['mount'] = new Map();
    const tree = await findTree(this.h.at(root));
    const files = [...tree.values()].filter((e) => e.kind === 'file');
    for (const e of tree.values()) if (e.kind === 'folder') mount.set(e.path, { kind: 'folder', size: 0 });
    // A few reads at a time: each may download.
    for (let i = 0; i < files.length; i += 4) {
      await Promise.all(
        files.slice(i, i + 4).map(async (e) => {
          const bytes = await readFile(this.h.at(root, e.path));
          mount.set(e.path, { kind: 'file', size: bytes.length, sha: sha256(bytes), bytes });
        }),
      );
    }
    const states = await this.fileStates(files.map((e) => this.h.at(root, e.path)));
    files.forEach((e, i) => Object.assign(mount.get(e.path)!, states[i]));
    const status = await this.status();
    const conflicts = (await this.conflicts()).filter((c) => c.path.startsWith(`/${root}/`) && !this.conflictIdsSeen.has(c.id));
    const clientFaults = await this.retryAfterIgnored();
    return { server, mount, status, conflicts, clientFaults };
  }

  /**
   * The status attribute (user.onemount.status) and the modification time of each file, read by a
   * separate program (Node has no getxattr), once no file is 'syncing' any more: a read's download
   * is verified after it answered, and the file is 'syncing' until then. An errno name where the
   * call failed.
   */
  private async fileStates(paths: string[]): Promise<Array<{ state: string; mtimeMs: number }>> {
    if (paths.length === 0) return [];
    const py = [
      'import errno, json, os, sys',
      'def state(p):',
      '  try: return os.getxattr(p, "user.onemount.status").decode()',
      '  except OSError as e: return errno.errorcode.get(e.errno, str(e.errno))',
      'print(json.dumps([{"state": state(p), "mtimeMs": os.stat(p).st_mtime_ns // 1000000} for p in sys.argv[1:]]))',
    ].join('\n');
    for (let attempt = 0; ; attempt++) {
      const r = await run('/usr/bin/python3', ['-c', py, ...paths], { timeoutMs: 30_000 });
      if (r.code !== 0) throw new Error(`reading the status attributes failed (${r.code ?? r.signal}): ${r.stderr.trim()}`);
      const states = JSON.parse(r.stdout) as Array<{ state: string; mtimeMs: number }>;
      if (!states.some((s) => s.state === 'syncing') || attempt === STATE_SETTLE_TRIES) return states;
      await sleep(STATE_SETTLE_STEP_MS);
    }
  }

  /**
   * Client faults since this schedule began, minus requests that were already on their way when
   * the 429 went out: the emulator counts any request inside the Retry-After window, but a request
   * sent in parallel with the throttled one, before its answer arrived, is not a client ignoring it.
   */
  private async retryAfterIgnored(): Promise<ClientFault[]> {
    const faults = (await this.h.admin.clientFaults()).slice(this.clientFaultsSeen);
    if (faults.length === 0) return faults;
    const throttled = (await this.h.admin.log({ since: this.scheduleSeq })).entries.filter((e) => e.status === 429 || e.status === 503);
    return faults.filter((f) => f.kind !== 'retry-after-ignored' || !throttled.some((t) => f.at >= t.at - IN_FLIGHT_MS && f.at - t.at < IN_FLIGHT_MS));
  }

  /** Faults off, wait for quiet, check; a mismatch gets two more (longer) quiet periods before it counts. */
  private async settle(root: string, model: Model, epoch: Epoch, last: boolean): Promise<{ violations: Violation[] }> {
    await this.calm();
    let violations: Violation[] = [];
    let snap: Snapshot | undefined;
    for (let round = 0; round < 3; round++) {
      try {
        await this.waitQuiet((WRITE_BACK_MS + 600) * 2 ** round);
      } catch (e) {
        if (e instanceof QuietTimeout) return { violations: [{ kind: 'never-quiet', message: e.message }] };
        throw e;
      }
      snap = await this.snapshot(root);
      violations = checkSettled(model, epoch, snap);
      if (violations.length === 0) break;
    }
    if (last) violations.push(...(await this.storeCheck()));
    if (violations.length || !snap) return { violations };
    for (const c of snap.conflicts) this.conflictIdsSeen.add(c.id);
    this.clientFaultsSeen += snap.clientFaults.length;
    // The model takes what the drive holds now: contested files resolved, conflict copies included.
    model.files.clear();
    model.folders.clear();
    for (const [p, e] of snap.mount) {
      if (e.kind === 'folder') model.folders.add(p);
      else model.files.set(p, e.bytes!);
    }
    return { violations };
  }

  /**
   * The store's own consistency: SQLite's integrity and foreign-key checks on the live database,
   * through the sqlite3 program (this harness stays outside the engine's code).
   */
  async storeCheck(): Promise<Violation[]> {
    const r = await run('sqlite3', ['-readonly', '-cmd', '.timeout 10000', this.h.storeFile, 'PRAGMA integrity_check; PRAGMA foreign_key_check;'], { timeoutMs: 60_000 });
    if (r.code !== 0) return [{ kind: 'store', message: `sqlite3 ${this.h.storeFile} exited with ${r.code ?? r.signal}: ${r.stderr.trim()}` }];
    const lines = r.stdout.trim().split('\n');
    if (lines[0] !== 'ok' || lines.length > 1) return [{ kind: 'store', message: `integrity / foreign-key check: ${lines.slice(0, 6).join(' | ')}` }];
    return [];
  }

  /** Drop a passed schedule's folder from the drive ("another device" deletes it), so the drive stays small. */
  async discard(root: string): Promise<void> {
    if (this.share) {
      // Unshared, its shortcut leaves this user's drive; then its owner deletes the folder.
      await this.h.admin.unshare(root);
      await this.h.admin.remote({ op: 'delete', path: root }, 'other');
      this.share = undefined;
      return;
    }
    await this.h.admin.remote({ op: 'delete', path: root });
  }
}

export class QuietTimeout extends Error {}

/**
 * For one in three unlinks, saves and renames over a file (chosen by a hash of the op, so a
 * schedule keeps its choices when it shrinks), the file they remove or replace, opened and read
 * whole first: libfuse hides such a file, and the program holding it must read on what it read
 * (docs/architecture.md, "Files deleted or replaced while open"). Not held when it cannot be read
 * now (offline, a fault, the bytes not on this device: said in the log, the op runs unheld).
 */
async function holdOpen(op: LocalOp, model: Model, at: (p: string) => string, log: (line: string) => void): Promise<{ path: string; fh: FileHandle; bytes: Buffer } | undefined> {
  const target = op.t === 'unlink' || op.t === 'save' ? op.path : op.t === 'rename' && op.from !== op.to ? op.to : undefined;
  if (target === undefined || model.kind(target) !== 'file') return undefined;
  if (parseInt(sha256(Buffer.from(JSON.stringify(op))).slice(0, 2), 16) % 3 !== 0) return undefined;
  let fh: FileHandle | undefined;
  try {
    fh = await open(at(target), 'r');
    return { path: target, fh, bytes: await fh.readFile() };
  } catch (e) {
    await fh?.close();
    log(`  not held open across the op: ${target} could not be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
    return undefined;
  }
}
