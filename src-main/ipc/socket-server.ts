/**
 * Serves the contract (src-shared/ipc/contract.ts) on a Unix socket, one JSON object per line. Every
 * request is validated against the contract before it reaches a handler; the socket file is 0600 in a
 * 0700 directory, so only the user can talk to the engine.
 */
import { chmod, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { ensurePrivateDir } from '../base/files.ts';
import type { Logger } from '../base/logger.ts';
import { Calls, Events, NOT_SUPPORTED, RequestSchema, type CallName, type CallParams, type CallResult, type EventName, type EventPayload } from '../../src-shared/ipc/contract.ts';

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

/** Cap on one request line: the contract's calls are small. */
const MAX_LINE = 64 * 1024;

export class SocketServer {
  private readonly subscribers = new Map<Socket, Set<string> | 'all'>();
  /** Every open connection: close() ends them all, or the server would wait for idle clients. */
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly socketPath: string,
    private readonly logger: Logger,
  ) {}

  static async listen(socketPath: string, handlers: EngineHandlers, logger: Logger): Promise<SocketServer> {
    await ensurePrivateDir(path.dirname(socketPath));
    // A socket file left by a killed engine would make listen fail with EADDRINUSE.
    await rm(socketPath, { force: true });
    const holder: { self?: SocketServer } = {};
    const server = createServer((socket) => holder.self!.serve(socket, handlers));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(socketPath, 0o600);
    holder.self = new SocketServer(server, socketPath, logger);
    return holder.self;
  }

  private serve(socket: Socket, handlers: EngineHandlers): void {
    const lines = createInterface({ input: socket, crlfDelay: Infinity });
    const send = (msg: unknown) => {
      // An answer that comes after close() ended the socket is dropped: writing it would throw.
      if (!socket.destroyed && !socket.writableEnded) socket.write(JSON.stringify(msg) + '\n');
    };
    socket.on('error', (e) => this.logger.debug({ err: e }, 'ipc client connection error'));
    this.sockets.add(socket);
    socket.on('close', () => {
      this.subscribers.delete(socket);
      this.sockets.delete(socket);
    });
    lines.on('line', (line) => {
      if (line.length > MAX_LINE) {
        send({ id: -1, error: { code: 'TOO_LARGE', message: 'request line too long' } });
        socket.destroy();
        return;
      }
      let req;
      try {
        req = RequestSchema.parse(JSON.parse(line));
      } catch {
        send({ id: -1, error: { code: 'BAD_REQUEST', message: 'not a valid request' } });
        return;
      }
      const { id, method } = req;
      if (!(method in Calls)) {
        send({ id, error: { code: 'UNKNOWN_METHOD', message: `unknown method ${method}` } });
        return;
      }
      const name = method as CallName;
      const parsed = Calls[name].params.safeParse(req.params ?? {});
      if (!parsed.success) {
        send({ id, error: { code: 'BAD_PARAMS', message: parsed.error.message } });
        return;
      }
      if (name === 'subscribe') {
        const events = (parsed.data as CallParams<'subscribe'>).events;
        this.subscribers.set(socket, events ? new Set(events) : 'all');
        send({ id, result: { ok: true } });
        return;
      }
      const handler = handlers[name as Exclude<CallName, 'subscribe'>] as ((p: unknown) => unknown) | undefined;
      if (!handler) {
        const message = NOT_SUPPORTED_MESSAGE[name as OptionalCall] ?? `${name} is not available in this engine`;
        send({ id, error: { code: NOT_SUPPORTED, message } });
        return;
      }
      Promise.resolve()
        .then(() => handler(parsed.data))
        .then(
          (result) => send({ id, result }),
          (e: unknown) => {
            this.logger.warn({ err: e, method: name }, 'ipc call failed');
            const code = (e as { code?: unknown }).code;
            send({ id, error: { code: typeof code === 'string' ? code : 'FAILED', message: e instanceof Error ? e.message : String(e) } });
          },
        );
    });
  }

  /** Sends an event to every subscriber that asked for it. */
  emit<E extends EventName>(event: E, payload: EventPayload<E>): void {
    if (this.subscribers.size === 0) return;
    Events[event].parse(payload);
    const line = JSON.stringify({ event, payload }) + '\n';
    for (const [socket, wanted] of this.subscribers) {
      if ((wanted === 'all' || wanted.has(event)) && !socket.writableEnded) socket.write(line);
    }
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.end();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await rm(this.socketPath, { force: true });
  }
}
