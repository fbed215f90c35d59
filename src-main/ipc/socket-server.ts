/**
 * Serves the contract (src-shared/ipc/contract.ts) on a Unix socket, one JSON object per line. Every
 * request is validated against the contract before it reaches a handler; the socket file is 0600 in a
 * 0700 directory, so only the user can talk to the engine.
 */
import { chmod, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { ensurePrivateDir } from '../base/files.ts';
import type { Logger } from '../base/logger.ts';
import { Admission, ShuttingDownError, type ShutdownStep } from '../lifecycle/participation.ts';
import { Calls, Events, NOT_SUPPORTED, RequestSchema, type CallName, type CallParams, type CallResult, type EventName, type EventPayload } from '../../src-shared/ipc/contract.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';

export type CallHandlers = { [M in CallName]: (params: CallParams<M>) => Promise<CallResult<M>> | CallResult<M> };

/** Calls an engine may not serve yet (the desktop app's, added ahead of the engine): without a handler they answer NOT_SUPPORTED. */
type OptionalCall = 'pause' | 'resume' | 'conflicts' | 'resolveConflict' | 'settings' | 'updateSettings' | 'signIn' | 'signOut' | 'quitNow' | 'retryTransfer' | 'recent' | 'openFolder' | 'openInWindow';
export type EngineHandlers = Omit<CallHandlers, 'subscribe' | OptionalCall> & Partial<Pick<CallHandlers, OptionalCall>>;

const NOT_SUPPORTED_MESSAGE: Record<OptionalCall, string> = {
  pause: 'this engine cannot pause syncing yet',
  resume: 'this engine cannot pause or resume syncing yet',
  conflicts: 'this engine cannot list conflicts yet',
  resolveConflict: 'this engine cannot resolve conflicts yet',
  settings: 'this engine cannot report its settings yet',
  updateSettings: 'this engine cannot change its settings yet',
  signIn: 'signing in to Microsoft is not available in this engine yet',
  signOut: 'signing out is not available in this engine yet',
  quitNow: 'this engine cannot cut its shutdown short yet',
  retryTransfer: 'this engine cannot retry a single transfer yet',
  recent: 'this engine does not keep a history of finished transfers yet',
  openFolder: 'opening the folder needs the OneMount desktop app (a browser page cannot start a file manager)',
  openInWindow: 'only the desktop app’s popover opens in a window',
};

/** Cap on one request line: the contract's calls are small. A longer line closes its connection. */
export const MAX_LINE = 64 * 1024;
/**
 * Connections served at once. Beyond it the server drops new connections at once, so a runaway
 * client cannot take the descriptors the mount needs for cache files.
 */
export const MAX_CONNECTIONS = 512;
/** Requests of one connection being handled at once; past it the server stops reading that connection. */
const MAX_IN_FLIGHT = 64;
/** Bytes queued for a client that does not read; past it the client is cut off. */
export const MAX_BACKLOG = 4 * 1024 * 1024;

/**
 * One client connection. Every write checks the socket can still take it: a client may vanish at
 * any moment, and an answer may arrive after close() ended the connection (ERR_STREAM_WRITE_AFTER_END
 * would otherwise come back as an 'error' event).
 */
class Connection {
  /** Bytes of the line being received (no newline seen yet). */
  private partial: Buffer[] = [];
  private partialLength = 0;
  private inFlight = 0;
  private refused = false;

  constructor(
    readonly socket: Socket,
    private readonly onLine: (line: string, conn: Connection) => void,
    private readonly logger: Logger,
  ) {
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    // A client going away mid-request (ECONNRESET, EPIPE) is routine, never the engine's problem.
    socket.on('error', (e) => this.logger.debug({ err: e }, 'ipc client connection error'));
  }

  private receive(chunk: Buffer): void {
    let start = 0;
    while (!this.refused) {
      const nl = chunk.indexOf(0x0a, start);
      const end = nl < 0 ? chunk.length : nl;
      if (this.partialLength + (end - start) > MAX_LINE) {
        this.refuse();
        return;
      }
      if (nl < 0) {
        if (end > start) {
          this.partial.push(chunk.subarray(start, end));
          this.partialLength += end - start;
        }
        return;
      }
      const bytes = this.partialLength === 0 ? chunk.subarray(start, nl) : Buffer.concat([...this.partial, chunk.subarray(start, nl)]);
      this.partial = [];
      this.partialLength = 0;
      start = nl + 1;
      const line = bytes.toString('utf8').replace(/\r$/, '');
      if (line.length === 0) continue;
      try {
        this.onLine(line, this);
      } catch (e) {
        // A bug in handling one request must not end the engine from inside a socket event.
        this.logger.error({ err: e }, 'ipc: handling a request failed');
        this.send({ id: -1, error: { code: 'FAILED', message: 'the request could not be handled' } });
      }
    }
  }

  /** The line is over the cap: say so, and stop listening to this client. */
  private refuse(): void {
    this.refused = true;
    this.partial = [];
    this.partialLength = 0;
    this.logger.warn({ maxLine: MAX_LINE }, 'ipc client sent a request line over the cap; closing its connection');
    this.send({ id: -1, error: { code: 'TOO_LARGE', message: `request line longer than ${MAX_LINE} bytes` } });
    this.socket.pause();
    this.end();
  }

  send(msg: unknown): void {
    this.write(JSON.stringify(msg) + '\n');
  }

  write(line: string): void {
    if (!this.socket.writable) return;
    if (this.socket.writableLength > MAX_BACKLOG) {
      this.logger.warn({ backlog: this.socket.writableLength }, 'ipc client does not read what it is sent; closing its connection');
      this.socket.destroy();
      return;
    }
    this.socket.write(line);
  }

  /** Runs one request; reading pauses while too many of this client's requests are still running. */
  track(work: Promise<unknown>): void {
    this.inFlight++;
    if (this.inFlight >= MAX_IN_FLIGHT) this.socket.pause();
    const done = (): void => {
      this.inFlight--;
      if (this.inFlight < MAX_IN_FLIGHT && !this.refused && !this.socket.destroyed) this.socket.resume();
    };
    // The caller reports the work's failure; this only counts it.
    work.then(done, done);
  }

  /** Ends the connection; one that does not close within the grace is destroyed. */
  end(): void {
    if (this.socket.destroyed) return;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), DEFAULT_TIMEOUTS.ipcCloseGraceMs).unref();
  }
}

export class SocketServer {
  private readonly subscribers = new Map<Connection, Set<string> | 'all'>();
  /** Every open connection: close() ends them all, or the server would wait for idle clients. */
  private readonly connections = new Set<Connection>();

  /** Turned at stop-new-work: the calls in `startsWork` are refused from then on. */
  private readonly admission = new Admission();

  private constructor(
    private readonly server: Server,
    readonly socketPath: string,
    private readonly logger: Logger,
    private readonly startsWork: ReadonlySet<CallName>,
  ) {}

  /**
   * Shutdown: from stop-new-work, calls that would start work (a sync, a transfer, a pin …) are
   * answered with a SHUTTING_DOWN error; questions (status, conflicts, settings) and quit are still
   * answered. The socket itself closes last, after the whole shutdown (Engine.shutdown).
   */
  shutdownSteps(): readonly ShutdownStep[] {
    return [{ phase: 'stop-new-work', name: 'ipc: refuse calls that start work', run: async () => this.admission.close() }];
  }

  static async listen(socketPath: string, handlers: EngineHandlers, logger: Logger, options: { startsWork?: readonly CallName[] } = {}): Promise<SocketServer> {
    await ensurePrivateDir(path.dirname(socketPath));
    // A socket file left by a killed engine would make listen fail with EADDRINUSE.
    await rm(socketPath, { force: true });
    const holder: { self?: SocketServer } = {};
    const server = createServer((socket) => holder.self!.serve(socket, handlers));
    server.maxConnections = MAX_CONNECTIONS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // After listen, an error is a failed accept (EMFILE under a flood of connections): the
    // connection is lost, the server keeps listening.
    server.on('error', (e) => logger.warn({ err: e }, 'ipc: accepting a connection failed'));
    server.on('drop', () => logger.debug({ maxConnections: MAX_CONNECTIONS }, 'ipc: connection refused, too many open'));
    await chmod(socketPath, 0o600);
    holder.self = new SocketServer(server, socketPath, logger, new Set(options.startsWork ?? []));
    return holder.self;
  }

  private serve(socket: Socket, handlers: EngineHandlers): void {
    const conn = new Connection(socket, (line, c) => this.handle(line, c, handlers), this.logger);
    this.connections.add(conn);
    socket.on('close', () => {
      this.subscribers.delete(conn);
      this.connections.delete(conn);
    });
  }

  private handle(line: string, conn: Connection, handlers: EngineHandlers): void {
    let req;
    try {
      req = RequestSchema.parse(JSON.parse(line));
    } catch {
      conn.send({ id: -1, error: { code: 'BAD_REQUEST', message: 'not a valid request' } });
      return;
    }
    const { id, method } = req;
    // Own keys only: `toString` or `__proto__` must not reach Object.prototype.
    if (!Object.hasOwn(Calls, method)) {
      conn.send({ id, error: { code: 'UNKNOWN_METHOD', message: `unknown method ${method}` } });
      return;
    }
    const name = method as CallName;
    const parsed = Calls[name].params.safeParse(req.params ?? {});
    if (!parsed.success) {
      conn.send({ id, error: { code: 'BAD_PARAMS', message: parsed.error.message } });
      return;
    }
    if (name === 'subscribe') {
      const events = (parsed.data as CallParams<'subscribe'>).events;
      this.subscribers.set(conn, events ? new Set(events) : 'all');
      conn.send({ id, result: { ok: true } });
      return;
    }
    const handler = Object.hasOwn(handlers, name) ? (handlers[name as Exclude<CallName, 'subscribe'>] as ((p: unknown) => unknown) | undefined) : undefined;
    if (!handler) {
      const message = NOT_SUPPORTED_MESSAGE[name as OptionalCall] ?? `${name} is not available in this engine`;
      conn.send({ id, error: { code: NOT_SUPPORTED, message } });
      return;
    }
    if (this.startsWork.has(name) && !this.admission.open) {
      conn.send({ id, error: { code: 'SHUTTING_DOWN', message: new ShuttingDownError(`"${name}"`).message } });
      return;
    }
    conn.track(
      Promise.resolve()
        .then(() => handler(parsed.data))
        .then(
          (result) => conn.send({ id, result }),
          (e: unknown) => {
            this.logger.warn({ err: e, method: name }, 'ipc call failed');
            const code = (e as { code?: unknown } | undefined)?.code;
            conn.send({ id, error: { code: typeof code === 'string' ? code : 'FAILED', message: e instanceof Error ? e.message : String(e) } });
          },
        )
        .catch((e: unknown) => this.logger.error({ err: e, method: name }, 'ipc: the answer could not be sent')),
    );
  }

  /** Client connections open now. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Sends an event to every subscriber that asked for it. */
  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    if (this.subscribers.size === 0) return;
    Events[event].parse(payload);
    const line = JSON.stringify({ event, payload }) + '\n';
    for (const [conn, wanted] of this.subscribers) {
      if (wanted === 'all' || wanted.has(event)) conn.write(line);
    }
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const conn of this.connections) conn.end();
    await closed;
    await rm(this.socketPath, { force: true });
  }
}
