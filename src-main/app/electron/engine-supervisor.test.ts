import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { createMemoryLogger } from '../../base/logger.ts';
import { OneMountError } from '../../base/errors.ts';
import type { CallName, EngineStatus, EventName } from '../../../src-shared/ipc/contract.ts';
import type { ShutdownProgress } from '../../../src-shared/model/transfer.ts';
import { EngineSupervisor, type EngineChild, type EngineConnection, type SupervisorClock, type SupervisorState } from './engine-supervisor.ts';

class FakeClock implements SupervisorClock {
  t = 1_000_000;
  timers: Array<{ at: number; fn: () => void; id: number }> = [];
  #next = 1;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = this.#next++;
    this.timers.push({ at: this.t + ms, fn, id });
    return id;
  };
  clearTimeout = (h: unknown) => {
    this.timers = this.timers.filter((x) => x.id !== h);
  };
  /** Moves time forward, firing due timers in order and letting promises settle between them. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const due = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers = this.timers.filter((x) => x !== due);
      this.t = due.at;
      due.fn();
    }
    this.t = end;
    await settle();
  }
}

const settle = () => new Promise<void>((r) => setImmediate(r));

class FakeChild extends EventEmitter implements EngineChild {
  signals: NodeJS.Signals[] = [];
  constructor(readonly pid: number) {
    super();
  }
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.signals.push(signal);
    return true;
  }
  exit(code: number | null, signal: NodeJS.Signals | null = null): void {
    this.emit('exit', code, signal);
  }
}

function status(pid: number, extra: Partial<EngineStatus> = {}): EngineStatus {
  return { account: 'default', mountpoint: '/home/u/OneDrive', state: 'ready', items: 3, cachedBytes: 0, transfers: [], pid, ...extra };
}

class FakeConnection implements EngineConnection {
  calls: string[] = [];
  closed = false;
  readonly #listeners = new Map<string, Array<(p: unknown) => void>>();
  readonly #onClose: Array<() => void> = [];
  /** Answers by method; a function may throw to fail the call. */
  answers: Partial<Record<CallName, () => unknown>> = {};
  constructor(readonly pid: number) {
    this.answers.subscribe = () => ({ ok: true });
    this.answers.status = () => status(pid);
    this.answers.quit = () => ({ ok: true });
    this.answers.quitNow = () => ({ ok: true });
  }
  async call(method: CallName): Promise<never> {
    this.calls.push(method);
    if (this.closed) throw new OneMountError('IPC_CLOSED', 'closed');
    const answer = this.answers[method];
    if (!answer) throw new OneMountError('NOT_SUPPORTED', `${method} not served`);
    return answer() as never;
  }
  on(event: EventName, listener: (p: never) => void): void {
    const list = this.#listeners.get(event) ?? [];
    list.push(listener as (p: unknown) => void);
    this.#listeners.set(event, list);
  }
  emit(event: EventName, payload: unknown): void {
    for (const l of this.#listeners.get(event) ?? []) l(payload);
  }
  onClose(listener: () => void): void {
    this.#onClose.push(listener);
  }
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const l of this.#onClose) l();
  }
}

/** An engine world: children spawned, and whether a socket answers (and with which connection). */
function world(o: { listening?: boolean } = {}) {
  const clock = new FakeClock();
  const children: FakeChild[] = [];
  const connections: FakeConnection[] = [];
  const w = {
    clock,
    children,
    connections,
    listening: o.listening ?? false,
    spawnError: undefined as Error | undefined,
    connectAttempts: 0,
    states: [] as SupervisorState[],
  };
  const memory = createMemoryLogger('debug');
  const supervisor = new EngineSupervisor({
    command: 'node',
    args: ['onemount.js', 'daemon', '/home/u/OneDrive'],
    socketPath: '/run/user/1000/onemount/default.sock',
    clock,
    logger: memory.logger,
    spawn: () => {
      if (w.spawnError) throw w.spawnError;
      const child = new FakeChild(100 + children.length);
      children.push(child);
      return child;
    },
    connect: async () => {
      w.connectAttempts++;
      if (!w.listening) throw new Error('ECONNREFUSED');
      const c = new FakeConnection(children.at(-1)?.pid ?? 42);
      connections.push(c);
      return c;
    },
    firstRestartDelayMs: 1000,
    maxRestartDelayMs: 8000,
    stablePeriodMs: 60_000,
    connectRetryMs: 500,
    stopTimeoutMs: 30_000,
  });
  supervisor.onState((s) => w.states.push(s));
  return { ...w, w, supervisor, memory };
}

const progress = (phase: ShutdownProgress['phase'], phaseIndex: number, done = false): ShutdownProgress => ({
  phase,
  phaseIndex,
  phases: ['stop-new-work', 'stop-sync', 'uploads', 'downloads', 'save-state', 'unmount'],
  itemsLeft: 0,
  budgetLeftMs: 20_000,
  done,
});

describe('EngineSupervisor', () => {
  it('starts the engine, waits for its socket, subscribes and relays status and events', async () => {
    const { w, supervisor, clock } = world();
    const statuses: EngineStatus[] = [];
    supervisor.on('status', (s) => statuses.push(s));
    await supervisor.start();
    expect(w.children).toHaveLength(1);
    expect(supervisor.state).toMatchObject({ phase: 'starting', connected: false, pid: 100 });
    await expect(supervisor.call('status', {})).rejects.toMatchObject({ code: 'ENGINE_UNREACHABLE', message: /starting/ });

    await clock.advance(1500);
    expect(supervisor.state.phase).toBe('starting');
    w.listening = true;
    await clock.advance(500);
    expect(supervisor.state).toMatchObject({ phase: 'running', connected: true, pid: 100 });
    expect(w.connections[0]!.calls).toEqual(['subscribe', 'status']);
    expect(supervisor.lastStatus?.pid).toBe(100);
    expect(statuses).toHaveLength(1);

    w.connections[0]!.emit('status', status(100, { state: 'syncing' }));
    expect(supervisor.lastStatus?.state).toBe('syncing');
    expect(statuses.map((s) => s.state)).toEqual(['ready', 'syncing']);
    await expect(supervisor.call('status', {})).resolves.toMatchObject({ pid: 100 });
  });

  it('adopts an engine that is already running instead of starting a second one', async () => {
    const { w, supervisor } = world({ listening: true });
    await supervisor.start();
    expect(w.children).toHaveLength(0);
    expect(supervisor.state).toMatchObject({ phase: 'running', connected: true, adopted: true, pid: 42 });
  });

  it('restarts a crashed engine with a doubling delay up to the cap, and quickly again after a stable run', async () => {
    const { w, supervisor, clock } = world({ listening: true });
    w.listening = false;
    await supervisor.start();
    w.listening = true;
    await clock.advance(500);
    expect(supervisor.state.phase).toBe('running');

    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      w.children.at(-1)!.exit(1);
      const s = supervisor.state;
      expect(s).toMatchObject({ phase: 'restarting', connected: false, lastExit: { code: 1, message: 'exit code 1' } });
      delays.push(s.restartAt! - clock.now());
      await expect(supervisor.call('syncNow', {})).rejects.toMatchObject({ code: 'ENGINE_UNREACHABLE', message: /stopped unexpectedly \(exit code 1\)/ });
      await clock.advance(s.restartAt! - clock.now());
      expect(supervisor.state.phase).toBe('running');
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 8000, 8000]);
    expect(w.children).toHaveLength(7);

    await clock.advance(60_000);
    w.children.at(-1)!.exit(null, 'SIGKILL');
    expect(supervisor.state).toMatchObject({ phase: 'restarting', lastExit: { signal: 'SIGKILL', message: 'killed by SIGKILL' } });
    expect(supervisor.state.restartAt! - clock.now()).toBe(1000);
  });

  it('does not restart an engine that ended by itself with exit code 0 (someone unmounted it)', async () => {
    const { w, supervisor, clock } = world();
    await supervisor.start();
    w.listening = true;
    await clock.advance(500);
    w.listening = false;
    w.children[0]!.exit(0);
    expect(supervisor.state).toMatchObject({ phase: 'stopped', lastExit: { code: 0 } });
    await clock.advance(120_000);
    expect(w.children).toHaveLength(1);
  });

  it('adopts the engine that refused ours (exit code 3: the account is served already) instead of restarting into the refusal', async () => {
    const { w, supervisor, clock } = world();
    await supervisor.start();
    w.children[0]!.exit(3);
    expect(supervisor.state).toMatchObject({ phase: 'stopped', lastExit: { code: 3 } });
    // The other engine's socket answers by the time the supervisor looks again.
    w.listening = true;
    await clock.advance(1000);
    expect(w.children).toHaveLength(1);
    expect(supervisor.state).toMatchObject({ phase: 'running', connected: true });
  });

  it('reports an engine that cannot even start and keeps retrying it', async () => {
    const { w, supervisor, clock } = world();
    w.spawnError = new Error('spawn node ENOENT');
    await supervisor.start();
    expect(supervisor.state).toMatchObject({ phase: 'restarting', lastExit: { message: 'could not start: spawn node ENOENT' } });
    w.spawnError = undefined;
    await clock.advance(1000);
    expect(w.children).toHaveLength(1);
    w.children[0]!.emit('error', new Error('spawn node EACCES'));
    expect(supervisor.state).toMatchObject({ phase: 'restarting', lastExit: { message: 'could not start: spawn node EACCES' } });
    expect(supervisor.state.restartAt! - clock.now()).toBe(2000);
  });

  it('stops through quit over the socket, forwarding shutdown progress until the engine exits', async () => {
    const { w, supervisor, clock } = world();
    await supervisor.start();
    w.listening = true;
    await clock.advance(500);
    const seen: string[] = [];
    supervisor.on('shutdown', (p) => seen.push(p.done ? 'done' : p.phase));

    const stopped = supervisor.stop();
    await settle();
    expect(supervisor.state.phase).toBe('stopping');
    expect(supervisor.state.connected).toBe(true);
    const c = w.connections[0]!;
    expect(c.calls).toContain('quit');
    expect(w.children[0]!.signals).toEqual([]);
    c.emit('shutdown', progress('stop-new-work', 0));
    c.emit('shutdown', progress('uploads', 2));
    const attempts = w.connectAttempts;
    c.close();
    expect(supervisor.state).toMatchObject({ phase: 'stopping', connected: false });
    await clock.advance(5000);
    expect(w.connectAttempts).toBe(attempts);
    w.children[0]!.exit(0);
    await expect(stopped).resolves.toMatchObject({ code: 0 });
    expect(seen).toEqual(['stop-new-work', 'uploads']);
    expect(supervisor.state).toMatchObject({ phase: 'stopped', connected: false });
    await clock.advance(120_000);
    expect(w.children).toHaveLength(1);
  });

  it('stops a starting engine (no socket yet) with SIGTERM, and kills one whose shutdown overruns', async () => {
    const { w, supervisor, clock } = world();
    await supervisor.start();
    const stopped = supervisor.stop();
    await settle();
    expect(w.children[0]!.signals).toEqual(['SIGTERM']);
    await clock.advance(29_999);
    expect(w.children[0]!.signals).toEqual(['SIGTERM']);
    await clock.advance(1);
    expect(w.children[0]!.signals).toEqual(['SIGTERM', 'SIGKILL']);
    w.children[0]!.exit(null, 'SIGKILL');
    await expect(stopped).resolves.toMatchObject({ signal: 'SIGKILL' });
    expect(supervisor.state.phase).toBe('stopped');
  });

  it('falls back to SIGTERM when quit fails, and quitNow asks for the fast exit', async () => {
    const { w, supervisor, clock } = world();
    await supervisor.start();
    w.listening = true;
    await clock.advance(500);
    const c = w.connections[0]!;
    delete c.answers.quit;
    const stopped = supervisor.stop();
    await settle();
    expect(w.children[0]!.signals).toEqual(['SIGTERM']);
    await supervisor.quitNow();
    expect(c.calls.at(-1)).toBe('quitNow');
    c.close();
    await supervisor.quitNow();
    expect(w.children[0]!.signals).toEqual(['SIGTERM', 'SIGTERM']);
    w.children[0]!.exit(0);
    await expect(stopped).resolves.toMatchObject({ code: 0 });
  });

  it('stopping while a restart is pending cancels it', async () => {
    const { w, supervisor, clock } = world();
    await supervisor.start();
    w.children[0]!.exit(1);
    expect(supervisor.state.phase).toBe('restarting');
    await expect(supervisor.stop()).resolves.toBeUndefined();
    expect(supervisor.state.phase).toBe('stopped');
    await clock.advance(60_000);
    expect(w.children).toHaveLength(1);
  });

  it('reconnects when the socket drops while the engine process lives on', async () => {
    const { w, supervisor, clock } = world();
    await supervisor.start();
    w.listening = true;
    await clock.advance(500);
    w.connections[0]!.close();
    expect(supervisor.state).toMatchObject({ phase: 'starting', connected: false });
    await clock.advance(500);
    expect(supervisor.state).toMatchObject({ phase: 'running', connected: true });
    expect(w.connections).toHaveLength(2);
    expect(w.children).toHaveLength(1);
  });

  it('restarts (spawns its own) when an adopted engine goes away', async () => {
    const { w, supervisor, clock } = world({ listening: true });
    await supervisor.start();
    w.listening = false;
    w.connections[0]!.close();
    expect(supervisor.state).toMatchObject({ phase: 'restarting', lastExit: { message: 'the engine closed its socket' } });
    await clock.advance(1000);
    expect(w.children).toHaveLength(1);
    expect(supervisor.state).toMatchObject({ phase: 'starting', pid: 100 });
  });
});
