/**
 * The Graph OneDrive emulator: an API listener (/v1.0/…), a storage listener (download, upload and
 * thumbnail URLs; a different origin, so a leaked bearer token is caught) and an admin listener
 * (/_emu/…: seeding, remote changes, fault knobs, the request log).
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Admin, handleAdmin } from './admin.ts';
import { IdentityProvider } from './identity.ts';
import { handleApi } from './api-routes.ts';
import { ContentStore } from './content-store.ts';
import { Drive } from './drive.ts';
import type { ItemRow } from './drive-db.ts';
import { GraphError } from './errors.ts';
import { Faults } from './faults.ts';
import { header, sendError, type Ctx } from './http-util.ts';
import type { DriveMode } from './ids.ts';
import { RequestLog, type Listener } from './request-log.ts';
import { Sessions } from './sessions.ts';
import { Shares } from './shares.ts';
import { HashThread } from './hash-thread.ts';
import { handleStorage } from './storage-routes.ts';
import { MiB, type CopyJob, type EmulatorState, type ResolvedOptions } from './state.ts';

export interface EmulatorOptions {
  /** Where the drive lives; a temp dir (removed on close) when omitted. */
  dataDir?: string;
  mode?: DriveMode;
  host?: string;
  apiPort?: number;
  storagePort?: number;
  adminPort?: number;
  quotaTotal?: number;
  /** Business tenants' option: refuse `#` and `%` in names (default: accept them). */
  refuseHashAndPercent?: boolean;
  /** Simple PUT limit: 4 MiB by default, 250 MB for the current documented limit. */
  simpleUploadLimit?: number;
  downloadUrlTtlMs?: number;
  /** Upload session lifetime, extended by each fragment. */
  sessionTtlMs?: number;
  /** Children and delta page size when `$top` is absent, and the cap on `$top`. */
  pageSize?: number;
  maxPageSize?: number;
  /** Accept any non-empty bearer token (the default), or only tokens registered through `tokens`. */
  strictTokens?: boolean;
  /**
   * The addresses clients reach the API and storage listeners at when that is not the listener's
   * own (behind a TLS-terminating proxy, say `https://graph.microsoft.com`). A request that arrives
   * with the public host in its Host header gets every link it is handed (`@odata.nextLink`,
   * `@odata.deltaLink`, `uploadUrl`, `@microsoft.graph.downloadUrl`, monitor and redirect
   * locations) built on these; a request to the listener address directly still gets listener links,
   * so one drive serves both kinds of client at once.
   */
  publicApiBase?: string;
  publicStorageBase?: string;
  now?: () => number;
}

export class Emulator implements EmulatorState {
  readonly log = new RequestLog();
  readonly faults: Faults;
  readonly sessions: Sessions;
  /** Upload hashing, off the thread that serves requests. */
  readonly hashThread = new HashThread();
  readonly admin: Admin;
  /** The other user's drive and the folders it shares with the signed-in user (shares.ts). */
  readonly shares: Shares;
  readonly options: ResolvedOptions;
  /** Strict-mode tokens: token → expiry (ms) and, for tokens the identity provider issued, the account. */
  readonly tokens = new Map<string, { expiresAt: number; account?: string }>();
  /** The identity provider (sign-in for MSAL), served on the API listener below `/<tenant>/…`. */
  readonly identity: IdentityProvider;
  private readonly servers = new Map<Listener | 'admin', Server>();
  private readonly ports = new Map<Listener | 'admin', number>();
  private readonly sockets = new Map<Listener | 'admin', Set<Socket>>();
  private readonly secret = randomBytes(32);
  private offline = false;
  private closed = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Copy jobs by monitor id, and how long a copy takes. */
  readonly copyJobs = new Map<string, CopyJob>();
  copyDelayMs = 50;
  /** How many thumbnail images were rendered (each size once per content version). */
  thumbnailRenders = 0;

  private constructor(
    readonly drive: Drive,
    readonly content: ContentStore,
    readonly dataDir: string,
    private readonly ownsDataDir: boolean,
    opts: EmulatorOptions,
    readonly now: () => number,
  ) {
    this.options = {
      mode: drive.mode,
      host: opts.host ?? '127.0.0.1',
      quotaTotal: drive.quotaTotal,
      simpleUploadLimit: opts.simpleUploadLimit ?? 4 * MiB,
      downloadUrlTtlMs: opts.downloadUrlTtlMs ?? 60 * 60 * 1000,
      sessionTtlMs: opts.sessionTtlMs ?? 15 * 60 * 1000,
      pageSize: opts.pageSize ?? 200,
      maxPageSize: opts.maxPageSize ?? 1000,
      strictTokens: opts.strictTokens ?? false,
      ...publicBases(opts),
    };
    this.faults = new Faults(now, (f) => this.log.addFault(f));
    this.sessions = new Sessions(this);
    this.admin = new Admin(this);
    this.shares = new Shares(this);
    this.identity = new IdentityProvider(drive.mode, this.tokens, now);
  }

  static async create(opts: EmulatorOptions = {}): Promise<Emulator> {
    publicBases(opts); // refuses bad ones before anything is created
    const ownsDataDir = !opts.dataDir;
    const dataDir = opts.dataDir ?? (await mkdtemp(path.join(os.tmpdir(), 'onemount-emu-')));
    const content = new ContentStore(dataDir);
    await content.init();
    const now = opts.now ?? Date.now;
    const drive = Drive.open(path.join(dataDir, 'drive.sqlite'), {
      mode: opts.mode ?? 'personal',
      quotaTotal: opts.quotaTotal ?? 1024 ** 4,
      now,
      ...(opts.refuseHashAndPercent ? { refuseHashAndPercent: true } : {}),
    });
    const emu = new Emulator(drive, content, dataDir, ownsDataDir, opts, now);
    await emu.listen(opts);
    return emu;
  }

  get apiUrl(): string {
    return `http://${this.options.host}:${this.ports.get('api')}/v1.0`;
  }

  get apiBase(): string {
    return `http://${this.options.host}:${this.ports.get('api')}`;
  }

  get storageBase(): string {
    return `http://${this.options.host}:${this.ports.get('storage')}`;
  }

  get adminUrl(): string {
    return `http://${this.options.host}:${this.ports.get('admin')}/_emu`;
  }

  get isOffline(): boolean {
    return this.offline;
  }

  // ---- listeners ---------------------------------------------------------------------------

  private async listen(opts: EmulatorOptions): Promise<void> {
    await this.open('api', opts.apiPort ?? 0);
    await this.open('storage', opts.storagePort ?? 0);
    await this.open('admin', opts.adminPort ?? 0);
  }

  private async open(which: Listener | 'admin', port: number): Promise<void> {
    const server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
      void this.dispatch(which, req, res);
    });
    const sockets = new Set<Socket>();
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, this.options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.servers.set(which, server);
    this.sockets.set(which, sockets);
    this.ports.set(which, (server.address() as AddressInfo).port);
  }

  private async shut(which: Listener | 'admin'): Promise<void> {
    const server = this.servers.get(which);
    if (!server) return;
    this.servers.delete(which);
    for (const s of this.sockets.get(which) ?? []) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Offline: the API and storage ports refuse connections (ECONNREFUSED); the admin port stays up. */
  async setOffline(offline: boolean): Promise<void> {
    if (offline === this.offline) return;
    this.offline = offline;
    if (offline) {
      await this.shut('api');
      await this.shut('storage');
    } else {
      await this.open('api', this.ports.get('api')!);
      await this.open('storage', this.ports.get('storage')!);
    }
  }

  /** Runs `fn` later; pending runs are cancelled by close(). */
  schedule(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all([this.shut('api'), this.shut('storage'), this.shut('admin')]);
    await this.flushGarbage();
    await this.hashThread.close();
    this.shares.close();
    this.drive.close();
    if (this.ownsDataDir) await rm(this.dataDir, { recursive: true, force: true });
  }

  /** Removes blobs the last mutation orphaned. */
  async flushGarbage(): Promise<void> {
    for (const ref of this.drive.takeGarbage()) await this.content.remove(ref);
    for (const ref of this.shares.drive?.takeGarbage() ?? []) await this.content.remove(ref);
  }

  // ---- request pipeline --------------------------------------------------------------------

  private async dispatch(which: Listener | 'admin', req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = this.now();
    const requestId = randomUUID();
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? this.options.host}`);
    const ctx: Ctx = { req, res, url, requestId, ...this.basesFor(req) };
    res.setHeader('request-id', requestId);
    res.setHeader('client-request-id', header(req, 'client-request-id') ?? requestId);
    res.setHeader('date', new Date(started).toUTCString());
    let fault: string | undefined;
    const isIdentity = which === 'api' && IdentityProvider.handles(url.pathname);
    // Counted off the socket (kept here: the request may have let go of it by the response's close):
    // a 'data' listener here would drain the body before the handler reads it.
    const socket = req.socket;
    const socketReadAtStart = socket.bytesRead;
    if (which !== 'admin') {
      this.log.inflight++;
      res.on('close', () => {
        this.log.inflight--;
        this.log.add({
          at: started,
          listener: isIdentity ? 'identity' : which,
          method: req.method ?? 'GET',
          path: url.pathname + url.search,
          status: res.statusCode,
          authorization: req.headers.authorization !== undefined,
          range: header(req, 'range'),
          contentRange: header(req, 'content-range'),
          bytesIn: socket.bytesRead - socketReadAtStart,
          bytesOut: Number(res.getHeader('content-length') ?? 0),
          ms: this.now() - started,
          aborted: !res.writableFinished || undefined,
          fault,
        });
      });
    }
    try {
      if (which === 'admin') {
        await handleAdmin(this, ctx);
        return;
      }
      // Sign-in has its own knobs (emulator.identity); Graph's faults and bearer check are not its business.
      if (isIdentity) {
        await this.identity.handle(ctx);
        return;
      }
      if (this.faults.latencyMs > 0) await new Promise((r) => setTimeout(r, this.faults.latencyMs));
      const decision = this.faults.decide(which, req.method ?? 'GET', url.pathname);
      if (decision) {
        fault = decision.fault;
        req.resume();
        throw new GraphError(decision.status, decision.code, decision.message, decision.innerCode, decision.headers);
      }
      if (which === 'api') {
        this.authenticate(req);
        await handleApi(this, ctx);
      } else {
        if (req.headers.authorization !== undefined) {
          this.log.addFault({
            at: started,
            kind: 'authorization-on-storage',
            method: req.method ?? 'GET',
            path: url.pathname,
            detail: 'an Authorization header was sent to a pre-authenticated storage URL',
          });
          if (this.faults.rejectAuthOnStorage) {
            throw new GraphError(401, 'unauthenticated', 'Authorization header not allowed on pre-authenticated URLs', 'invalidAuthentication');
          }
        }
        await handleStorage(this, ctx);
      }
    } catch (e) {
      if (e instanceof GraphError) {
        sendError(ctx, e);
      } else if ((e as NodeJS.ErrnoException).code === 'ECONNRESET' || (e as Error).message === 'aborted') {
        // The client went away mid-body (an aborted upload): nobody is left to answer.
        res.destroy();
      } else {
        console.error(`emulator: ${req.method} ${url.pathname} failed:`, e);
        sendError(ctx, new GraphError(500, 'generalException', 'An unexpected error occurred in the emulator'));
      }
    } finally {
      await this.flushGarbage().catch((e) => console.error('emulator: blob cleanup failed:', e));
    }
  }

  /** The bases for the links in an answer: public ones for a request that came in through the public address. */
  private basesFor(req: IncomingMessage): { apiBase: string; storageBase: string } {
    const { publicApiBase, publicStorageBase } = this.options;
    const host = req.headers.host?.toLowerCase();
    if (publicApiBase && publicStorageBase && host && (host === new URL(publicApiBase).host || host === new URL(publicStorageBase).host)) {
      return { apiBase: publicApiBase, storageBase: publicStorageBase };
    }
    return { apiBase: this.apiBase, storageBase: this.storageBase };
  }

  private authenticate(req: IncomingMessage): void {
    const auth = req.headers.authorization;
    const m = auth ? /^Bearer\s+(\S+)$/i.exec(auth) : null;
    if (!m) throw new GraphError(401, 'InvalidAuthenticationToken', 'Access token is empty.');
    if (!this.options.strictTokens) return;
    const t = this.tokens.get(m[1]!);
    if (!t) throw new GraphError(401, 'InvalidAuthenticationToken', 'CompactToken parsing failed with error code: 80049217');
    if (t.expiresAt <= this.now()) {
      throw new GraphError(401, 'InvalidAuthenticationToken', 'Access token has expired or is not yet valid.', undefined, {
        'www-authenticate':
          'Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000", error="invalid_token", error_description="expired_token"',
      });
    }
  }

  // ---- pre-authenticated URLs --------------------------------------------------------------

  private sign(payload: string): string {
    return createHmac('sha256', this.secret).update(payload).digest('base64url').slice(0, 22);
  }

  /** A signed, expiring storage URL: `{storageBase}/{kind}/{payload}.{sig}`. */
  signedUrl(kind: string, fields: Record<string, string | number>, ttlMs: number, storageBase = this.storageBase): string {
    const payload = Buffer.from(JSON.stringify({ ...fields, exp: this.now() + ttlMs })).toString('base64url');
    return `${storageBase}/${kind}/${payload}.${this.sign(kind + payload)}`;
  }

  /** Verifies a signed URL token; 'expired' after its TTL, undefined when forged. */
  verify(kind: string, token: string): Record<string, string | number> | 'expired' | undefined {
    const dot = token.lastIndexOf('.');
    if (dot < 0) return undefined;
    const payload = token.slice(0, dot);
    if (this.sign(kind + payload) !== token.slice(dot + 1)) return undefined;
    const fields = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, string | number>;
    if (Number(fields.exp) <= this.now()) return 'expired';
    return fields;
  }

  /** Knob: every download URL issued so far stops working. */
  expireDownloadUrls(): void {
    this.secret.set(randomBytes(32));
  }

  downloadUrl(row: ItemRow, storageBase = this.storageBase): string {
    // Through the other drive's view (shares.ts) `this.drive` is that drive: the URL says which.
    const fields: Record<string, string | number> = { i: row.id, v: row.ctag_seq };
    if (this.shares.isOther(this)) fields.d = this.drive.driveId;
    return this.signedUrl('dl', fields, this.options.downloadUrlTtlMs, storageBase);
  }
}

/** The public bases as origins (links append `/v1.0/…`, `/dl/…`); both or neither. */
function publicBases(opts: EmulatorOptions): { publicApiBase: string | undefined; publicStorageBase: string | undefined } {
  const origin = (value: string | undefined, what: string): string | undefined => {
    if (value === undefined || value === '') return undefined;
    const u = new URL(value);
    if (u.pathname !== '/' || u.search || u.hash) throw new Error(`${what} must be an origin such as https://graph.microsoft.com, not ${value}`);
    return u.origin;
  };
  const publicApiBase = origin(opts.publicApiBase, 'publicApiBase');
  const publicStorageBase = origin(opts.publicStorageBase, 'publicStorageBase');
  if ((publicApiBase === undefined) !== (publicStorageBase === undefined)) {
    throw new Error('publicApiBase and publicStorageBase go together: links to either listener must be reachable');
  }
  return { publicApiBase, publicStorageBase };
}

export interface EmulatorHandle {
  apiUrl: string;
  storageUrl: string;
  adminUrl: string;
  emulator: Emulator;
  close(): Promise<void>;
}

export async function startEmulator(opts: EmulatorOptions = {}): Promise<EmulatorHandle> {
  const emulator = await Emulator.create(opts);
  return {
    apiUrl: emulator.apiUrl,
    storageUrl: emulator.storageBase,
    adminUrl: emulator.adminUrl,
    emulator,
    close: () => emulator.close(),
  };
}
