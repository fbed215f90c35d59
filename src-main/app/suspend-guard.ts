/**
 * Safe suspend and shutdown. While changes wait to upload, the engine holds a logind "delay"
 * inhibitor for sleep and shutdown (what `systemd-inhibit --list` shows), so the system waits a few
 * seconds before it sleeps. When logind announces PrepareForSleep / PrepareForShutdown, the engine
 * lets the uploads under way finish for as long as the delay allows, stops the rest with their
 * upload sessions and offsets saved (they continue from there), saves its state, and releases the
 * lock so the system sleeps at once. What had to wait is announced ("N changes not uploaded yet").
 * On waking, connectivity is checked at once instead of at the next poll.
 *
 * The lock itself is a file descriptor that logind hands out and that must stay open; Node's sockets
 * cannot receive one, so `systemd-inhibit` (part of systemd, wherever logind is) holds it for us, as
 * a child process that lives exactly as long as its standard input: closing it, or this process
 * dying in any way, releases the lock. The signals come through a small D-Bus client (dbus-wire.ts).
 * Without a system bus or systemd-inhibit the engine runs as before, and says so once in its log.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Logger } from '../base/logger.ts';
import { errorMessage } from '../base/errors.ts';
import { DBusConnection, systemBusAddress, type DBusMessage } from './dbus-wire.ts';

const LOGIN1 = { destination: 'org.freedesktop.login1', path: '/org/freedesktop/login1', interface: 'org.freedesktop.login1.Manager' } as const;


export interface SuspendHooks {
  /** Changes waiting to upload (queued, running or retrying uploads, unsent namespace changes). */
  pendingChanges(): number;
  /** Lets uploads under way finish within `budgetMs`, then stops the rest with their offsets saved; returns how many changes still wait. */
  prepare(budgetMs: number): Promise<number>;
  /** The system woke (or the shutdown was cancelled): continue the uploads, check connectivity now. */
  resumed(): void;
  /** Something had to wait: `notUploaded` changes, for the status, panel and notification. */
  announce(notUploaded: number): void;
}

export interface SuspendGuardOptions {
  hooks: SuspendHooks;
  logger: Logger;
  /** The system bus; default $DBUS_SYSTEM_BUS_ADDRESS, else the standard socket. */
  busAddress?: string;
  /** The program that holds the lock. Default `systemd-inhibit`. */
  inhibitCommand?: string;
  /** From the timeout policy (suspendRecheckMs, suspendReleaseMarginMs, suspendAssumedDelayMs, localCallTimeoutMs). */
  timing: { recheckMs: number; releaseMarginMs: number; assumedDelayMs: number; connectTimeoutMs: number };
}

type LockState = { kind: 'free' } | { kind: 'taking' | 'held'; child: ChildProcess; released: Promise<void> } | { kind: 'unavailable' };

export class SuspendGuard {
  readonly #o: SuspendGuardOptions;
  readonly #address: string;
  #bus: DBusConnection | undefined;
  #lock: LockState = { kind: 'free' };
  #timer: NodeJS.Timeout | undefined;
  /** Between PrepareFor…(true) and (false): no new lock is taken. */
  #preparing = false;
  #stopped = false;
  #delayMs: number;

  constructor(options: SuspendGuardOptions) {
    this.#o = options;
    this.#delayMs = options.timing.assumedDelayMs;
    this.#address = options.busAddress ?? systemBusAddress();
  }

  /** Whether the lock is held now (for status and tests). */
  get holding(): boolean {
    return this.#lock.kind === 'held';
  }

  async start(): Promise<void> {
    const { logger } = this.#o;
    try {
      const bus = await DBusConnection.open(this.#address, this.#o.timing.connectTimeoutMs);
      this.#bus = bus;
      for (const member of ['PrepareForSleep', 'PrepareForShutdown']) {
        await bus.addMatch(`type='signal',interface='${LOGIN1.interface}',member='${member}',path='${LOGIN1.path}'`);
      }
      bus.on('signal', (m) => void this.#onSignal(m));
      bus.on('close', () => {
        if (!this.#stopped) logger.warn('the system bus closed the connection; suspend and shutdown no longer wait for uploads');
      });
      this.#delayMs = await this.#readDelay(bus);
      logger.info({ bus: this.#address, delayMs: this.#delayMs }, 'watching for suspend and shutdown: changes waiting to upload delay them');
    } catch (e) {
      logger.info({ bus: this.#address, err: errorMessage(e) }, 'no system bus (or no logind on it): suspend and shutdown do not wait for uploads');
      this.#lock = { kind: 'unavailable' };
      return;
    }
    this.#timer = setInterval(() => this.changed(), this.#o.timing.recheckMs);
    this.changed();
  }

  /** The number of waiting changes may have changed: take or release the lock to match. */
  changed(): void {
    if (this.#stopped || this.#preparing || this.#lock.kind === 'unavailable') return;
    const pending = this.#o.hooks.pendingChanges();
    if (pending > 0 && this.#lock.kind === 'free') this.#take();
    else if (pending === 0 && this.#lock.kind === 'held') void this.#release();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#release();
    this.#bus?.close();
  }

  /** logind's InhibitDelayMaxUSec: how long a delay lock may hold the system back. */
  async #readDelay(bus: DBusConnection): Promise<number> {
    try {
      const [variant] = await bus.call({
        destination: LOGIN1.destination,
        path: LOGIN1.path,
        interface: 'org.freedesktop.DBus.Properties',
        member: 'Get',
        signature: 'ss',
        body: [LOGIN1.interface, 'InhibitDelayMaxUSec'],
      });
      const usec = (variant as { value: bigint | number }).value;
      return Number(usec) / 1000;
    } catch (e) {
      this.#o.logger.debug({ err: errorMessage(e) }, `logind's inhibit delay could not be read; assuming ${this.#o.timing.assumedDelayMs} ms`);
      return this.#o.timing.assumedDelayMs;
    }
  }

  #take(): void {
    const { logger } = this.#o;
    const child = spawn(
      this.#o.inhibitCommand ?? 'systemd-inhibit',
      ['--what=sleep:shutdown', '--mode=delay', '--who=OneMount', '--why=Changes waiting to upload to OneDrive', 'sh', '-c', 'echo held; exec cat'],
      // The lock lives as long as this pipe: closed by release(), or by the kernel when this process dies.
      { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, DBUS_SYSTEM_BUS_ADDRESS: this.#address } },
    );
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    // Writing is never done; an EPIPE here means the child is gone, which 'close' reports.
    child.stdin!.on('error', (e) => logger.debug({ err: errorMessage(e) }, 'the delay lock holder closed its input'));
    const released = new Promise<void>((resolve) => child.once('close', () => resolve()));
    const state: LockState = { kind: 'taking', child, released };
    this.#lock = state;
    const lines = createInterface({ input: child.stdout! });
    lines.on('error', (e) => logger.debug({ err: errorMessage(e) }, 'reading the delay lock holder failed; its close reports the lock'));
    lines.once('line', () => {
      if (this.#lock !== state) return;
      this.#lock = { ...state, kind: 'held' };
      logger.info('holding a sleep and shutdown delay lock while changes wait to upload');
    });
    child.once('error', (e) => {
      if (this.#lock === state) this.#lock = { kind: 'unavailable' };
      logger.info({ err: errorMessage(e) }, 'systemd-inhibit is not available: suspend and shutdown do not wait for uploads');
    });
    child.once('close', (code) => {
      if (this.#lock !== state && !(this.#lock.kind === 'held' && this.#lock.child === child)) return;
      // Ended without being asked: logind refused, or went away.
      this.#lock = { kind: 'unavailable' };
      logger.warn({ code, stderr: stderr.trim() }, 'the sleep and shutdown delay lock could not be held: suspend and shutdown do not wait for uploads');
    });
  }

  async #release(): Promise<void> {
    const lock = this.#lock;
    if (lock.kind !== 'held' && lock.kind !== 'taking') return;
    this.#lock = { kind: 'free' };
    lock.child.stdin!.end();
    await lock.released;
    this.#o.logger.info('released the sleep and shutdown delay lock');
  }

  async #onSignal(m: DBusMessage): Promise<void> {
    if (m.interface !== LOGIN1.interface || (m.member !== 'PrepareForSleep' && m.member !== 'PrepareForShutdown')) return;
    const starting = m.body[0] === true;
    const what = m.member === 'PrepareForSleep' ? 'sleep' : 'shut down';
    const { logger, hooks } = this.#o;
    if (!starting) {
      if (!this.#preparing) return;
      this.#preparing = false;
      logger.info(m.member === 'PrepareForSleep' ? 'the system woke up: checking the connection and continuing uploads' : 'the shutdown was cancelled: continuing uploads');
      hooks.resumed();
      this.changed();
      return;
    }
    if (this.#preparing) return;
    this.#preparing = true;
    const pending = hooks.pendingChanges();
    // The uploads under way get logind's delay less a margin for stopping them and saving offsets.
    const budgetMs = pending === 0 ? 0 : Math.max(0, this.#delayMs - this.#o.timing.releaseMarginMs);
    logger.info({ pending, budgetMs }, `the system is about to ${what}`);
    try {
      const left = pending === 0 ? 0 : await hooks.prepare(budgetMs);
      if (left > 0) {
        logger.warn({ notUploaded: left }, `${left} change(s) not uploaded yet before the system went to ${what === 'sleep' ? 'sleep' : 'shut down'}; they continue afterwards`);
        hooks.announce(left);
      }
    } catch (e) {
      logger.error({ err: e }, `could not get ready for the system to ${what}`);
    } finally {
      // Whatever happened, the system must not wait for us any longer.
      await this.#release();
    }
  }
}
