/** The other end of SocketServer: `onemount status` and the Electron main process use it. */
import { connect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import { OneMountError } from '../base/errors.ts';
import { Calls, Events, ResponseSchema, type CallName, type CallParams, type CallResult, type EventName, type EventPayload } from '../../src-shared/ipc/contract.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';

export class EngineNotRunningError extends OneMountError {
  constructor(socketPath: string, cause: unknown) {
    super('ENGINE_NOT_RUNNING', `no engine is listening on ${socketPath}; is the drive mounted?`, { cause });
  }
}

export class SocketClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly listeners = new Map<string, Set<(payload: unknown) => void>>();

  private constructor(private readonly socket: Socket) {
    const lines = createInterface({ input: socket, crlfDelay: Infinity });
    lines.on('line', (line) => {
      try {
        this.onLine(line);
      } catch {
        // A line that is not the contract's (another program on the socket): nothing to deliver.
      }
    });
    // A connection error ends in 'close', which fails the calls still waiting; readline repeats
    // the socket's errors, so both need a handler or the process dies of an 'error' event.
    socket.on('error', () => undefined);
    lines.on('error', () => undefined);
    socket.on('close', () => {
      for (const p of this.pending.values()) p.reject(new OneMountError('IPC_CLOSED', 'the engine closed the connection'));
      this.pending.clear();
    });
  }

  static async connect(socketPath: string): Promise<SocketClient> {
    const socket = connect(socketPath);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', (e) => reject(new EngineNotRunningError(socketPath, e)));
    });
    return new SocketClient(socket);
  }

  private onLine(line: string): void {
    const msg = ResponseSchema.parse(JSON.parse(line));
    if ('event' in msg) {
      const schema = Events[msg.event as EventName];
      if (!schema) return;
      const payload = schema.parse(msg.payload);
      for (const l of this.listeners.get(msg.event) ?? []) l(payload);
      return;
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if ('error' in msg) p.reject(new OneMountError(msg.error.code, msg.error.message));
    else p.resolve(msg.result);
  }

  async call<M extends CallName>(method: M, params: CallParams<M>, timeoutMs = DEFAULT_TIMEOUTS.ipcCallTimeoutMs): Promise<CallResult<M>> {
    const id = this.nextId++;
    const answer = new Promise<unknown>((resolve, reject) => this.pending.set(id, { resolve, reject }));
    this.socket.write(JSON.stringify({ id, method, params }) + '\n');
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new OneMountError('IPC_TIMEOUT', `${method} got no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return Calls[method].result.parse(await Promise.race([answer, timeout])) as CallResult<M>;
    } finally {
      clearTimeout(timer);
      this.pending.delete(id);
    }
  }

  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener as (p: unknown) => void);
  }

  onClose(listener: () => void): void {
    this.socket.once('close', listener);
  }

  close(): void {
    this.socket.end();
  }
}
