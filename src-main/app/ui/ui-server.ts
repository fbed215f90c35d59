/**
 * Browser mode (`onemount ui`): serves the built renderer on 127.0.0.1 under a per-run secret path
 * and relays the contract between the page's WebSocket and the engine's Unix socket, one
 * connection to the engine per page. The engine itself stays free of HTTP and static files; this
 * relay can run in its own process (`onemount ui`) or next to the engine (`onemount demo`).
 *
 * Defences: the listener binds to 127.0.0.1 only; the secret (256 bits, new every run) is the first
 * path segment of every URL, so another local user or a web page cannot guess its way in; the Host
 * header must name this listener (DNS rebinding); a WebSocket's Origin must be this listener
 * (cross-site WebSocket hijacking); pages carry a strict CSP and no referrer, so the secret does not
 * leave in a Referer header. Every message is checked against the contract's request shape here and
 * validated again by the engine.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { WebSocketServer, type WebSocket } from 'ws';
import { errorMessage, OneMountError } from '../../base/errors.ts';
import type { Logger } from '../../base/logger.ts';
import { Calls, RequestSchema, type CallParams } from '../../../src-shared/ipc/contract.ts';
import { SettingsSchema } from '../../../src-shared/ipc/desktop-calls.ts';
import { saveDesktopSwitches, withDesktopSwitches, type AutostartSwitch } from '../saved-settings.ts';
import { STATIC_TYPES } from '../static-types.ts';

/** Same cap as the engine's request lines. */
const MAX_MESSAGE = 64 * 1024;
/** Pages relayed at once (each holds an engine connection); more are refused with 503. */
export const MAX_PAGES = 64;
/** Bytes queued for a page that does not read; past it the page is disconnected. */
const MAX_PAGE_BACKLOG = 8 * 1024 * 1024;
/** WebSocket close code: the page did not keep up with what the engine sent. */
export const CLOSE_TOO_SLOW = 4003;

/** WebSocket close codes the page shows as the reason it lost the engine. */
export const CLOSE_ENGINE_UNREACHABLE = 4001;
export const CLOSE_ENGINE_STOPPED = 4002;


export interface UiServerOptions {
  /** The Vite build output (index.html and assets/). */
  staticDir: string;
  /** The engine's Unix socket. */
  socketPath: string;
  logger: Logger;
  /** 0 picks a free port. */
  port?: number;
  /** Tests may fix it; otherwise 32 random bytes. */
  secret?: string;
  /**
   * The desktop's switches in browser mode (start on login, notifications), which the engine does
   * not keep: settings answers are completed here, and "Start on login" writes the autostart entry.
   */
  desktop?: BrowserDesktop;
}

export interface BrowserDesktop {
  configDir: string;
  /** The autostart entry that starts the engine for this mount point at login. */
  autostartFor(mountpoint: string): AutostartSwitch;
}

export class UiServer {
  readonly #connections = new Set<{ ws: WebSocket; engine: Socket }>();

  private constructor(
    private readonly http: Server,
    private readonly wss: WebSocketServer,
    readonly port: number,
    private readonly secret: string,
  ) {}

  /** The page's address, secret included: print it, open it, never log it elsewhere. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/${this.secret}/`;
  }

  static async start(o: UiServerOptions): Promise<UiServer> {
    const index = path.join(o.staticDir, 'index.html');
    await readFile(index).catch((e: unknown) => {
      throw new OneMountError('UI_NOT_BUILT', `the panel is not built (${index} is missing); run \`npm run build:renderer\``, { cause: e });
    });
    const secret = o.secret ?? randomBytes(32).toString('base64url');
    const holder: { self?: UiServer } = {};
    const http = createServer((req, res) => {
      holder.self!.serveFile(req, res, o).catch((e: unknown) => {
        o.logger.warn({ err: e }, 'ui: serving a file failed');
        if (!res.headersSent) res.writeHead(500).end();
        else res.destroy();
      });
    });
    const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE });
    http.on('upgrade', (req, socket, head) => {
      // Node takes its own error handler off an upgraded socket: a client that resets it now would
      // otherwise end the process with an unhandled 'error' event.
      socket.on('error', (e) => o.logger.debug({ err: e }, 'ui: upgrade connection error'));
      const self = holder.self!;
      const refusal = self.check(req, { websocket: true }) ?? (self.rest(req.url ?? '') !== 'ipc' ? 404 : undefined) ?? (self.#connections.size >= MAX_PAGES ? 503 : undefined);
      if (refusal) {
        if (socket.writable) socket.end(`HTTP/1.1 ${refusal} Refused\r\nConnection: close\r\n\r\n`);
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => self.relay(ws, o));
    });
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(o.port ?? 0, '127.0.0.1', () => {
        http.off('error', reject);
        resolve();
      });
    });
    // After listen, an error is a failed accept (EMFILE): that connection is lost, the server stays.
    http.on('error', (e) => o.logger.warn({ err: e }, 'ui: accepting a connection failed'));
    const port = (http.address() as { port: number }).port;
    holder.self = new UiServer(http, wss, port, secret);
    return holder.self;
  }

  /** Hosts and origins that name this listener. */
  private get hosts(): string[] {
    return [`127.0.0.1:${this.port}`, `localhost:${this.port}`];
  }

  /** An HTTP status to refuse with, or undefined when the request may go on. */
  private check(req: IncomingMessage, o: { websocket: boolean }): number | undefined {
    if (!this.hosts.includes(req.headers.host ?? '')) return 421;
    const origin = req.headers.origin;
    // Browsers always send Origin with a WebSocket; a page of another site must not get one.
    if ((o.websocket || origin !== undefined) && !this.hosts.some((h) => origin === `http://${h}`)) return 403;
    if (this.rest(req.url ?? '') === undefined) return 404;
    return undefined;
  }

  /** The path after `/<secret>/`, or undefined when the secret is wrong or missing. */
  private rest(url: string): string | undefined {
    const pathname = url.split('?')[0] ?? '';
    const match = /^\/([^/]*)\/(.*)$/.exec(pathname);
    if (!match) return undefined;
    const given = Buffer.from(match[1]!);
    const want = Buffer.from(this.secret);
    if (given.length !== want.length || !timingSafeEqual(given, want)) return undefined;
    return match[2]!;
  }

  private async serveFile(req: IncomingMessage, res: ServerResponse, o: UiServerOptions): Promise<void> {
    const pathname = (req.url ?? '').split('?')[0] ?? '';
    if (pathname === `/${this.secret}` && this.hosts.includes(req.headers.host ?? '')) {
      res.writeHead(308, { location: `/${this.secret}/` }).end();
      return;
    }
    const refusal = this.check(req, { websocket: false });
    if (refusal) {
      res.writeHead(refusal, { 'content-type': 'text/plain' }).end(refusal === 404 ? 'not found\n' : 'refused\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    let rest: string;
    try {
      rest = decodeURIComponent(this.rest(pathname)!) || 'index.html';
    } catch {
      res.writeHead(400).end();
      return;
    }
    const root = path.resolve(o.staticDir);
    const file = path.resolve(root, rest);
    const type = STATIC_TYPES[path.extname(file)];
    if (!file.startsWith(root + path.sep) || !type) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    let body: Buffer;
    try {
      body = await readFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && (e as NodeJS.ErrnoException).code !== 'EISDIR') throw e;
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, {
      'content-type': type,
      'content-length': body.length,
      'cache-control': 'no-store',
      'content-security-policy': [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        `connect-src 'self' ws://127.0.0.1:${this.port} ws://localhost:${this.port}`,
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
      ].join('; '),
      'referrer-policy': 'no-referrer',
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** One page ↔ one engine connection, line by line. Requests sent before the engine answers wait in the socket's buffer. */
  private relay(ws: WebSocket, o: UiServerOptions): void {
    const engine = connect(o.socketPath);
    const pair = { ws, engine };
    this.#connections.add(pair);
    let connected = false;
    engine.once('connect', () => (connected = true));
    const lines = createInterface({ input: engine, crlfDelay: Infinity });
    const settingsCalls = new Map<number, CallParams<'updateSettings'> | undefined>();
    let sending: Promise<void> | undefined;
    const deliver = (line: string) => {
      if (ws.readyState !== ws.OPEN) return;
      if (ws.bufferedAmount > MAX_PAGE_BACKLOG) {
        o.logger.warn({ backlog: ws.bufferedAmount }, 'ui: the page does not read what the engine sends; disconnecting it');
        ws.close(CLOSE_TOO_SLOW, 'the page fell behind the engine');
        engine.destroy();
        return;
      }
      ws.send(line);
    };
    lines.on('line', (line) => {
      // Lines go out in order: while a settings answer waits for the desktop's switches, the lines
      // after it wait too.
      const needsDesktop = o.desktop !== undefined && settingsCalls.size > 0;
      if (!needsDesktop && sending === undefined) {
        deliver(line);
        return;
      }
      const next = (sending ?? Promise.resolve())
        .then(() => (needsDesktop ? completeSettings(line, settingsCalls, o.desktop!) : line))
        .then(deliver)
        .catch((e: unknown) => o.logger.error({ err: e }, 'ui: relaying an answer failed'));
      sending = next;
      void next.then(() => {
        if (sending === next) sending = undefined;
      });
    });
    // readline repeats the socket's errors; the close handler below tells the page.
    const logError = (e: unknown) => o.logger.debug({ err: e }, 'ui: engine connection error');
    lines.on('error', logError);
    engine.on('error', logError);
    engine.on('close', () => {
      this.#connections.delete(pair);
      if (ws.readyState !== ws.OPEN) return;
      if (connected) ws.close(CLOSE_ENGINE_STOPPED, 'the OneMount engine stopped');
      else ws.close(CLOSE_ENGINE_UNREACHABLE, 'the OneMount engine is not running');
    });
    ws.on('message', (data, isBinary) => {
      const reply = (id: number, code: string, message: string) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ id, error: { code, message } }));
      };
      let req;
      try {
        req = isBinary ? undefined : RequestSchema.safeParse(JSON.parse(data.toString()));
      } catch {
        req = undefined;
      }
      if (!req?.success) {
        reply(-1, 'BAD_REQUEST', 'not a valid request');
        return;
      }
      if (!Object.hasOwn(Calls, req.data.method)) {
        reply(req.data.id, 'UNKNOWN_METHOD', `unknown method ${req.data.method}`);
        return;
      }
      if (o.desktop && (req.data.method === 'settings' || req.data.method === 'updateSettings')) {
        const update = Calls.updateSettings.params.safeParse(req.data.params ?? {});
        settingsCalls.set(req.data.id, req.data.method === 'updateSettings' && update.success ? update.data : undefined);
      }
      if (!engine.writable) return;
      // The engine stops reading a connection with many requests running: the page waits too.
      if (!engine.write(JSON.stringify(req.data) + '\n')) {
        ws.pause();
        engine.once('drain', () => ws.resume());
      }
    });
    ws.on('close', () => engine.end());
    ws.on('error', (e) => o.logger.debug({ err: e }, 'ui: page connection error'));
  }

  async close(): Promise<void> {
    for (const { ws, engine } of this.#connections) {
      ws.close(1001, 'the panel server is stopping');
      engine.end();
    }
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }
}

/**
 * The engine's answer to `settings` or `updateSettings`, with the desktop's switches applied (an
 * update's start on login writes or removes the autostart entry) and read back as they are. A failure
 * to apply them is the call's error, never a silent "saved".
 */
async function completeSettings(line: string, calls: Map<number, CallParams<'updateSettings'> | undefined>, desktop: BrowserDesktop): Promise<string> {
  let msg: { id?: unknown; result?: unknown };
  try {
    msg = JSON.parse(line) as typeof msg;
  } catch {
    return line; // not JSON: the page's contract client reports it
  }
  if (typeof msg.id !== 'number' || !calls.has(msg.id)) return line;
  const update = calls.get(msg.id);
  calls.delete(msg.id);
  const settings = SettingsSchema.safeParse(msg.result);
  if (!settings.success) return line;
  const autostart = desktop.autostartFor(settings.data.mountpoint);
  try {
    if (update) await saveDesktopSwitches(desktop.configDir, autostart, update);
    return JSON.stringify({ id: msg.id, result: await withDesktopSwitches(desktop.configDir, autostart, settings.data) });
  } catch (e) {
    return JSON.stringify({ id: msg.id, error: { code: 'SETTINGS_NOT_SAVED', message: `start on login or notifications could not be changed: ${errorMessage(e)}` } });
  }
}

/** Where `npm run build:renderer` puts the panel, seen from this file. */
export const BUILT_RENDERER_DIR = path.resolve(import.meta.dirname, '../../../dist/renderer');
