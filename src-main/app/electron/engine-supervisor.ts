/**
 * The desktop app's hold on the engine (docs/architecture.md, Runtime shape): the engine runs as its own
 * process (`onemount daemon`), so a UI crash never takes the mount down. The supervisor starts it,
 * connects to its socket, relays calls and events, restarts it with a capped, doubling delay when it
 * dies unexpectedly, and stops it through the engine's own graceful shutdown.
 *
 * An engine left running by a previous UI (one that crashed) is adopted instead of started twice:
 * `start()` first tries the socket.
 *
 * Everything with side effects is injected (spawn, connect, clock), so the state machine is tested
 * in plain Node without Electron and without a real engine.
 */
import { EXIT_ALREADY_RUNNING } from '../cli/instance-lock.ts';
import type { Logger } from '../../base/logger.ts';
import { OneMountError, errorMessage } from '../../base/errors.ts';
import { Events, type CallName, type CallParams, type CallResult, type EngineStatus, type EventName, type EventPayload } from '../../../src-shared/ipc/contract.ts';
import { DEFAULT_TIMEOUTS } from '../../lifecycle/timeout-policy.ts';
import { backoffDelay } from '../../base/backoff.ts';

/** What the supervisor needs of a child process (node's ChildProcess has it). */
export interface EngineChild {
  readonly pid?: number | undefined;
  kill(signal?: NodeJS.Signals): boolean;
  once(event: 'exit', listener: (code: number | null, signal: NodeJS.Signals | null) => void): unknown;
  once(event: 'error', listener: (error: Error) => void): unknown;
}

export type SpawnEngine = (command: string, args: readonly string[]) => EngineChild;

/** What the supervisor needs of a socket connection (SocketClient has it). */
export interface EngineConnection {
  call<M extends CallName>(method: M, params: CallParams<M>, timeoutMs?: number): Promise<CallResult<M>>;
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): void;
  onClose(listener: () => void): void;
  close(): void;
}

export type ConnectEngine = (socketPath: string) => Promise<EngineConnection>;

export interface SupervisorClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: SupervisorClock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

/** How an engine process ended. */
export interface EngineExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** For people: "exit code 1", "killed by SIGKILL", "could not start: spawn node ENOENT". */
  message: string;
  at: number;
}

/**
 * - stopped: no engine (before start, after stop, or it ended by itself with exit code 0 —
 *   e.g. `onemount unmount` — which is a person's choice, not a crash)
 * - starting: spawned (or lost its socket), waiting until the socket answers
 * - running: connected; calls and events flow
 * - restarting: died unexpectedly; a new one starts at `restartAt`
 * - stopping: the graceful shutdown is under way
 */
export type SupervisorPhase = 'stopped' | 'starting' | 'running' | 'restarting' | 'stopping';

export interface SupervisorState {
  phase: SupervisorPhase;
  /** Whether calls can reach the engine now (also true while a connected engine shuts down). */
  connected: boolean;
  pid?: number;
  /** The engine was already running when the app started (not our child). */
  adopted?: boolean;
  restartAt?: number;
  lastExit?: EngineExit;
}

export interface EngineSupervisorOptions {
  command: string;
  args: readonly string[];
  socketPath: string;
  spawn: SpawnEngine;
  connect: ConnectEngine;
  logger: Logger;
  clock?: SupervisorClock;
  /** First restart delay; doubles per consecutive crash up to maxRestartDelayMs. */
  firstRestartDelayMs?: number;
  maxRestartDelayMs?: number;
  /** An engine that ran this long before dying counts as stable: the next restart is quick again. */
  stablePeriodMs?: number;
  /** How often the socket is tried while the engine starts. */
  connectRetryMs?: number;
  /** After asking the engine to quit: how long its shutdown may take before it is killed. */
  stopTimeoutMs?: number;
  /** Timeout of the `quit` call itself. */
  quitCallTimeoutMs?: number;
}

const EVENT_NAMES = Object.keys(Events) as EventName[];

export class EngineSupervisor {
  readonly #o: Required<Omit<EngineSupervisorOptions, 'clock'>>;
  readonly #clock: SupervisorClock;
  #state: SupervisorState = { phase: 'stopped', connected: false };
  #child: EngineChild | undefined;
  #childStartedAt = 0;
  #connection: EngineConnection | undefined;
  /** Consecutive unstable crashes: the exponent of the restart delay. */
  #crashes = 0;
  #timer: unknown;
  #lastStatus: EngineStatus | undefined;
  /** Resolves when the current engine has gone (child exit, or an adopted engine's socket closed). */
  #gone: { promise: Promise<EngineExit>; resolve: (e: EngineExit) => void } | undefined;
  #stopping: Promise<EngineExit | undefined> | undefined;
  readonly #stateListeners = new Set<(s: SupervisorState) => void>();
  readonly #eventListeners = new Map<EventName, Set<(p: unknown) => void>>();

  constructor(o: EngineSupervisorOptions) {
    this.#clock = o.clock ?? systemClock;
    this.#o = {
      firstRestartDelayMs: DEFAULT_TIMEOUTS.engineRestartBaseMs,
      maxRestartDelayMs: DEFAULT_TIMEOUTS.engineRestartMaxMs,
      stablePeriodMs: DEFAULT_TIMEOUTS.engineStablePeriodMs,
      connectRetryMs: DEFAULT_TIMEOUTS.engineConnectRetryMs,
      stopTimeoutMs: DEFAULT_TIMEOUTS.engineStopTimeoutMs,
      quitCallTimeoutMs: DEFAULT_TIMEOUTS.localCallTimeoutMs,
      ...o,
    };
  }

  get state(): SupervisorState {
    return this.#state;
  }

  /** The engine's last status (from the first `status` call and every `status` event). */
  get lastStatus(): EngineStatus | undefined {
    return this.#lastStatus;
  }

  onState(listener: (s: SupervisorState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /** Engine events (status, transfer, shutdown), from whichever engine process is current. */
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
    let set = this.#eventListeners.get(event);
    if (!set) this.#eventListeners.set(event, (set = new Set()));
    const l = listener as (p: unknown) => void;
    set.add(l);
    return () => set.delete(l);
  }

  /** A call to the running engine; fails with ENGINE_UNREACHABLE when there is none. */
  async call<M extends CallName>(method: M, params: CallParams<M>, timeoutMs?: number): Promise<CallResult<M>> {
    const c = this.#connection;
    if (!c) throw new OneMountError('ENGINE_UNREACHABLE', this.#unreachableReason());
    return c.call(method, params, timeoutMs);
  }

  /** Adopts a running engine, or starts one. Resolves once that decision is made (not when it is up). */
  async start(): Promise<void> {
    if (this.#state.phase !== 'stopped') return;
    this.#crashes = 0;
    this.#set({ phase: 'starting', connected: false });
    let adopted: EngineConnection | undefined;
    try {
      adopted = await this.#o.connect(this.#o.socketPath);
    } catch {
      // Nobody listens: the usual case, start our own.
    }
    // stop() may have run meanwhile.
    if (this.state.phase !== 'starting') {
      adopted?.close();
      return;
    }
    if (adopted) {
      this.#o.logger.info('an engine is already running: adopting it');
      this.#gone = deferred();
      await this.#attach(adopted, true);
    } else {
      this.#spawn();
    }
  }

  /**
   * The graceful stop: asks the engine to quit over its socket (SIGTERM when that fails or there is
   * no socket yet); shutdown events keep flowing meanwhile. Kills it only when its shutdown overruns
   * stopTimeoutMs. Resolves with how it ended (undefined when nothing was running).
   */
  stop(): Promise<EngineExit | undefined> {
    this.#stopping ??= this.#stop().finally(() => (this.#stopping = undefined));
    return this.#stopping;
  }

  /** During a stop: cut the engine's shutdown short (still lossless: unfinished work is persisted). */
  async quitNow(): Promise<void> {
    if (this.#state.phase !== 'stopping') return;
    if (this.#connection) {
      try {
        await this.#connection.call('quitNow', {}, this.#o.quitCallTimeoutMs);
        return;
      } catch (e) {
        this.#o.logger.warn({ err: e }, 'quitNow over the socket failed: signalling instead');
      }
    }
    // The engine treats a second SIGTERM as "force the fast exit".
    this.#child?.kill('SIGTERM');
  }

  async #stop(): Promise<EngineExit | undefined> {
    this.#cancelTimer();
    const phase = this.#state.phase;
    if (phase === 'stopped' || phase === 'restarting' || !this.#gone) {
      this.#set({ ...this.#state, phase: 'stopped', connected: false, restartAt: undefined });
      return undefined;
    }
    const gone = this.#gone.promise;
    this.#set({ ...this.#state, phase: 'stopping', restartAt: undefined });
    let asked = false;
    if (this.#connection) {
      try {
        await this.#connection.call('quit', {}, this.#o.quitCallTimeoutMs);
        asked = true;
      } catch (e) {
        this.#o.logger.warn({ err: e }, 'quit over the socket failed: signalling instead');
      }
    }
    if (!asked) {
      if (this.#child) this.#child.kill('SIGTERM');
      else if (this.#state.pid !== undefined) killPid(this.#state.pid, 'SIGTERM', this.#o.logger);
    }
    let overrun: unknown;
    const exit = await Promise.race([
      gone,
      new Promise<undefined>((resolve) => (overrun = this.#clock.setTimeout(() => resolve(undefined), this.#o.stopTimeoutMs))),
    ]);
    this.#clock.clearTimeout(overrun);
    if (exit) return exit;
    this.#o.logger.error(`the engine did not finish its shutdown within ${this.#o.stopTimeoutMs} ms: killing it (its next start clears the stale mount)`);
    if (this.#child) this.#child.kill('SIGKILL');
    else if (this.#state.pid !== undefined) killPid(this.#state.pid, 'SIGKILL', this.#o.logger);
    return gone;
  }

  #spawn(): void {
    this.#gone = deferred();
    let child: EngineChild;
    try {
      child = this.#o.spawn(this.#o.command, this.#o.args);
    } catch (e) {
      this.#onGone({ code: null, signal: null, message: `could not start: ${errorMessage(e)}`, at: this.#clock.now() });
      return;
    }
    this.#child = child;
    this.#childStartedAt = this.#clock.now();
    let ended = false;
    child.once('exit', (code, signal) => {
      if (ended) return;
      ended = true;
      const message = signal ? `killed by ${signal}` : `exit code ${code}`;
      this.#onGone({ code, signal, message, at: this.#clock.now() });
    });
    child.once('error', (e) => {
      // 'error' without 'exit' means it never ran (ENOENT, EACCES).
      if (ended) return;
      ended = true;
      this.#onGone({ code: null, signal: null, message: `could not start: ${e.message}`, at: this.#clock.now() });
    });
    this.#o.logger.info({ pid: child.pid, command: this.#o.command, args: this.#o.args }, 'engine started');
    this.#set({ phase: 'starting', connected: false, ...(child.pid !== undefined ? { pid: child.pid } : {}), ...this.#lastExitField() });
    this.#tryConnect();
  }

  #tryConnect(): void {
    this.#timer = undefined;
    const child = this.#child;
    this.#o.connect(this.#o.socketPath).then(
      (c) => {
        if (this.#child !== child || this.#connection || (this.#state.phase !== 'starting' && this.#state.phase !== 'stopping')) {
          c.close();
          return;
        }
        return this.#attach(c, false);
      },
      () => {
        if (this.#child !== child || this.#connection || this.#state.phase !== 'starting') return;
        this.#timer = this.#clock.setTimeout(() => this.#tryConnect(), this.#o.connectRetryMs);
      },
    );
  }

  async #attach(c: EngineConnection, adopted: boolean): Promise<void> {
    this.#connection = c;
    for (const name of EVENT_NAMES) {
      c.on(name, (payload) => {
        if (name === 'status') this.#lastStatus = payload as EngineStatus;
        for (const l of this.#eventListeners.get(name) ?? []) l(payload);
      });
    }
    c.onClose(() => this.#onConnectionClosed(c));
    try {
      await c.call('subscribe', {});
      const status = await c.call('status', {});
      this.#lastStatus = status;
      for (const l of this.#eventListeners.get('status') ?? []) l(status);
      if (this.#connection !== c) return;
      const pid = adopted ? status.pid : (this.#child?.pid ?? status.pid);
      this.#set({ phase: this.#state.phase === 'stopping' ? 'stopping' : 'running', connected: true, pid, ...(adopted ? { adopted } : {}), ...this.#lastExitField() });
    } catch (e) {
      this.#o.logger.warn({ err: e }, 'the engine answered its socket but not subscribe/status: reconnecting');
      c.close();
    }
  }

  #onConnectionClosed(c: EngineConnection): void {
    if (this.#connection !== c) return;
    this.#connection = undefined;
    if (this.#state.adopted) {
      // Not our child: a closed socket is all we learn of its end.
      this.#onGone({ code: null, signal: null, message: 'the engine closed its socket', at: this.#clock.now() });
      return;
    }
    if (this.#state.phase === 'stopping') {
      this.#set({ ...this.#state, connected: false });
      return;
    }
    if (this.#state.phase === 'running' || this.#state.phase === 'starting') {
      // Its child is still alive (or the exit is on its way): try the socket again meanwhile.
      this.#set({ ...this.#state, phase: 'starting', connected: false });
      this.#cancelTimer();
      this.#timer = this.#clock.setTimeout(() => this.#tryConnect(), this.#o.connectRetryMs);
    }
  }

  #onGone(exit: EngineExit): void {
    const ranMs = exit.at - this.#childStartedAt;
    const wasStopping = this.#state.phase === 'stopping';
    this.#child = undefined;
    this.#cancelTimer();
    const c = this.#connection;
    this.#connection = undefined;
    c?.close();
    const gone = this.#gone;
    this.#gone = undefined;
    gone?.resolve(exit);
    if (wasStopping) {
      this.#o.logger.info({ exit }, 'engine stopped');
      this.#set({ phase: 'stopped', connected: false, lastExit: exit });
      return;
    }
    if (exit.code === 0 && exit.signal === null) {
      this.#o.logger.info('the engine ended by itself (exit code 0): not restarting');
      this.#set({ phase: 'stopped', connected: false, lastExit: exit });
      return;
    }
    if (ranMs >= this.#o.stablePeriodMs) this.#crashes = 0;
    const delay = backoffDelay(this.#crashes, { baseMs: this.#o.firstRestartDelayMs, maxMs: this.#o.maxRestartDelayMs });
    this.#crashes++;
    if (exit.code === EXIT_ALREADY_RUNNING && exit.signal === null) {
      // Another engine (a terminal's `onemount mount`) serves this account: adopt it once its
      // socket answers, rather than starting ours again into the same refusal.
      this.#o.logger.info({ delayMs: delay }, 'another engine serves this account: adopting it');
      this.#set({ phase: 'stopped', connected: false, lastExit: exit });
      this.#timer = this.#clock.setTimeout(() => {
        this.#timer = undefined;
        if (this.#state.phase === 'stopped') void this.start();
      }, delay);
      return;
    }
    const restartAt = this.#clock.now() + delay;
    this.#o.logger.warn({ exit, delayMs: delay }, `the engine died unexpectedly (${exit.message}): restarting in ${delay} ms`);
    this.#set({ phase: 'restarting', connected: false, restartAt, lastExit: exit });
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#state.phase === 'restarting') this.#spawn();
    }, delay);
  }

  #unreachableReason(): string {
    const s = this.#state;
    switch (s.phase) {
      case 'starting':
        return 'the OneMount engine is starting';
      case 'restarting':
        return `the OneMount engine stopped unexpectedly (${s.lastExit?.message ?? 'unknown'}); it restarts shortly`;
      case 'stopping':
        return 'the OneMount engine is shutting down';
      default:
        return 'the OneMount engine is not running';
    }
  }

  #lastExitField(): { lastExit?: EngineExit } {
    return this.#state.lastExit ? { lastExit: this.#state.lastExit } : {};
  }

  #cancelTimer(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #set(s: SupervisorState): void {
    const clean = Object.fromEntries(Object.entries(s).filter(([, v]) => v !== undefined)) as unknown as SupervisorState;
    this.#state = clean;
    for (const l of this.#stateListeners) l(clean);
  }
}

function deferred(): { promise: Promise<EngineExit>; resolve: (e: EngineExit) => void } {
  let resolve!: (e: EngineExit) => void;
  const promise = new Promise<EngineExit>((r) => (resolve = r));
  return { promise, resolve };
}

/** An adopted engine is not our child: signal it by pid (it may have gone meanwhile). */
function killPid(pid: number, signal: NodeJS.Signals, logger: Logger): void {
  try {
    process.kill(pid, signal);
  } catch (e) {
    logger.warn({ err: e, pid }, `could not send ${signal} to the engine`);
  }
}
