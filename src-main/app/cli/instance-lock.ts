/**
 * One engine per account: two engines on one store and cache would each take the control socket
 * and race each other's uploads. The lock is a Unix socket in Linux's abstract namespace, named
 * after the account's state folder: binding it is atomic, and the kernel frees the name when the
 * process ends however it ends (kill -9 included), so there is no stale lock file to judge. The
 * holder answers whoever connects with its pid and mount point, which is how a second start can
 * say who holds the account.
 *
 * An abstract name is visible to every user of the machine's network namespace; the uid in the name
 * keeps users apart, and what a holder answers is only used for the message.
 */
import { createHash } from 'node:crypto';
import { realpath } from 'node:fs/promises';
import { connect, createServer, type Server } from 'node:net';
import path from 'node:path';
import { OneMountError } from '../../base/errors.ts';
import { ensurePrivateDir } from '../../base/files.ts';
import type { Logger } from '../../base/logger.ts';
import { DEFAULT_TIMEOUTS } from '../../lifecycle/timeout-policy.ts';

export interface LockHolder {
  pid: number;
  account: string;
  mountpoint: string;
}

/**
 * The exit code of a start refused because another process serves the account: a supervisor (the
 * desktop app) can tell it from a crash and connect to the running engine instead of restarting.
 */
export const EXIT_ALREADY_RUNNING = 3;

export class InstanceLockedError extends OneMountError {
  constructor(
    readonly account: string,
    readonly holder: LockHolder | undefined,
  ) {
    super(
      'ENGINE_ALREADY_RUNNING',
      holder
        ? `account '${account}' is already served by process ${holder.pid} (mounted at ${holder.mountpoint}); stop it first with \`onemount unmount ${holder.mountpoint}\``
        : `account '${account}' is already served by another OneMount process`,
    );
  }
}

/** The abstract socket name for an account's state folder (a leading NUL puts it outside the filesystem). */
export function lockName(stateDir: string, uid: number = process.getuid?.() ?? 0): string {
  const key = createHash('sha256').update(path.resolve(stateDir)).digest('hex').slice(0, 32);
  return `\0onemount-engine-${uid}-${key}`;
}

/** Locks this process holds, by name: asking again for one of them returns it. */
const held = new Map<string, InstanceLock>();

/** Held for the life of the process; release() exists for tests. */
export class InstanceLock {
  private constructor(
    private readonly server: Server,
    private readonly name: string,
  ) {}

  /**
   * Takes the account's lock, or throws InstanceLockedError naming the process that holds it.
   * Call it before anything touches the account's socket, store, cache or mount point. The process
   * that holds it gets the same lock again (`onemount demo` takes it before it starts the demo's
   * emulator, then mounts like `onemount mount`).
   */
  static async acquire(o: { stateDir: string; holder: LockHolder; logger?: Logger }): Promise<InstanceLock> {
    // The real path: the same store reached through a symlinked XDG folder is the same account.
    await ensurePrivateDir(o.stateDir);
    const name = lockName(await realpath(o.stateDir));
    const own = held.get(name);
    if (own) return own;
    const server = createServer((socket) => {
      socket.on('error', (e) => o.logger?.debug({ err: e }, 'instance lock: a caller went away'));
      socket.end(JSON.stringify(o.holder) + '\n');
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(name, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      throw new InstanceLockedError(o.holder.account, await askHolder(name));
    }
    server.on('error', (e) => o.logger?.warn({ err: e }, 'instance lock: accepting a caller failed'));
    // The lock must not keep an otherwise finished process alive.
    server.unref();
    const lock = new InstanceLock(server, name);
    held.set(name, lock);
    return lock;
  }

  release(): Promise<void> {
    held.delete(this.name);
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** What the holder says about itself, or undefined when it does not answer in time or makes no sense. */
function askHolder(name: string, timeoutMs = DEFAULT_TIMEOUTS.localCallTimeoutMs): Promise<LockHolder | undefined> {
  return new Promise((resolve) => {
    const socket = connect(name);
    let text = '';
    const finish = (holder: LockHolder | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(holder);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      text += d;
      if (text.length > 4096) finish(undefined);
    });
    socket.on('end', () => finish(parseHolder(text)));
    socket.on('error', () => finish(undefined));
  });
}

function parseHolder(text: string): LockHolder | undefined {
  try {
    const v = JSON.parse(text) as Partial<LockHolder>;
    if (typeof v.pid === 'number' && typeof v.account === 'string' && typeof v.mountpoint === 'string') {
      return { pid: v.pid, account: v.account, mountpoint: v.mountpoint };
    }
  } catch {
    // Not a OneMount engine's answer: the message then says only that the account is taken.
  }
  return undefined;
}
