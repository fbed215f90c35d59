/**
 * Runs the emulator as its own process (as e2e tests, benchmarks and `onemount demo` need: the
 * engine's event loop must not share a process with the server it talks to) and drives it through
 * the admin listener.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import type { FaultSettings, ScriptedError, ThrottleRule } from './faults.ts';
import type { GenerateSpec, SeedResult } from './seed.ts';
import type { RemoteChange, TreeItem } from './admin.ts';
import type { LogEntry, ClientFault } from './request-log.ts';
import type { IdentityKnobs } from './identity.ts';
import type { ShareAccess, ShareInfo } from './state.ts';

// Sources start the emulator's source through tsx; the compiled engine (dist/engine/onemount.js)
// starts the compiled emulator built beside it, so neither needs tsx at run time.
const COMPILED = !import.meta.url.endsWith('.ts');
const MAIN = COMPILED ? path.join(import.meta.dirname, '..', '..', 'dist', 'engine', 'emulator.js') : path.join(import.meta.dirname, 'main.ts');

export interface SpawnOptions {
  dataDir: string;
  mode?: 'personal' | 'business';
  demo?: boolean;
  apiPort?: number;
  storagePort?: number;
  adminPort?: number;
  simpleUploadLimit?: number;
  /** Business mode: the tenant refuses `#` and `%` in names. */
  refuseHashPercent?: boolean;
  /** Accept only bearer tokens the identity provider issued. */
  strictTokens?: boolean;
  /** Public origins of the API and storage listeners (see EmulatorOptions.publicApiBase). */
  publicApiBase?: string;
  publicStorageBase?: string;
  /** Extra environment. */
  env?: NodeJS.ProcessEnv;
  /** Extra node flags, e.g. ['--cpu-prof']. */
  nodeArgs?: string[];
}

export interface EmulatorInfo {
  apiUrl: string;
  storageUrl: string;
  adminUrl: string;
  mode: 'personal' | 'business';
  driveId: string;
  rootId: string;
  dataDir: string;
  files: number;
  folders: number;
}

export class EmulatorProcess {
  readonly admin: AdminClient;

  private constructor(
    readonly child: ChildProcess,
    readonly info: EmulatorInfo,
  ) {
    this.admin = new AdminClient(info.adminUrl);
  }

  static async start(opts: SpawnOptions): Promise<EmulatorProcess> {
    const args = [...(opts.nodeArgs ?? []), ...(COMPILED ? [] : ['--import', 'tsx']), MAIN, '--json', '--exit-with-parent', '--data-dir', opts.dataDir, '--mode', opts.mode ?? 'personal'];
    if (!opts.demo) args.push('--no-demo');
    if (opts.apiPort !== undefined) args.push('--port', String(opts.apiPort));
    if (opts.storagePort !== undefined) args.push('--storage-port', String(opts.storagePort));
    if (opts.adminPort !== undefined) args.push('--admin-port', String(opts.adminPort));
    if (opts.simpleUploadLimit !== undefined) args.push('--simple-upload-limit', String(opts.simpleUploadLimit));
    if (opts.strictTokens) args.push('--strict-tokens');
    if (opts.refuseHashPercent) args.push('--refuse-hash-percent');
    if (opts.publicApiBase !== undefined) args.push('--public-api-url', opts.publicApiBase);
    if (opts.publicStorageBase !== undefined) args.push('--public-storage-url', opts.publicStorageBase);
    // stdin is the lifeline (--exit-with-parent): it reaches end-of-file when this process dies,
    // however it dies, so a killed engine or test runner leaves no emulator behind. Its own process
    // group keeps a terminal's Ctrl-C from stopping it while the engine still shuts down through it;
    // stop() ends it after that.
    const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'], detached: true, env: { ...process.env, ...opts.env } });
    const info = await new Promise<EmulatorInfo>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout! });
      lines.once('line', (line) => {
        try {
          resolve(JSON.parse(line) as EmulatorInfo);
        } catch (e) {
          reject(new Error(`emulator printed an unexpected first line: ${line}`, { cause: e }));
        }
      });
      child.once('exit', (code, signal) => reject(new Error(`emulator exited before listening (code ${code}, signal ${signal})`)));
      child.once('error', reject);
    });
    return new EmulatorProcess(child, info);
  }

  /** SIGTERM, then SIGKILL if it has not exited within `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/** The admin API over HTTP. */
export class AdminClient {
  constructor(readonly base: string) {}

  private async call<T>(method: string, route: string, body?: unknown): Promise<T> {
    const res = await fetch(this.base + route, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`emulator admin ${method} ${route} → ${res.status}: ${await res.text()}`);
    if (res.status === 204) return undefined as T;
    const type = res.headers.get('content-type') ?? '';
    return (type.includes('json') ? await res.json() : Buffer.from(await res.arrayBuffer())) as T;
  }

  info(): Promise<EmulatorInfo> {
    return this.call('GET', '/info');
  }
  generate(spec: GenerateSpec): Promise<SeedResult> {
    return this.call('POST', '/seed', spec);
  }
  seedDemo(): Promise<SeedResult> {
    return this.call('POST', '/seed', { demo: true });
  }
  seedFromDirectory(dir: string, under?: string): Promise<SeedResult> {
    return this.call('POST', '/seed', { fromDirectory: dir, under });
  }
  /** `drive: 'other'`: the change is the other user's, in the drive that shares folders. */
  /** `previousSha256`: the file the write or delete replaced, as it was in the tick of the change. */
  remote(change: RemoteChange, drive?: 'other'): Promise<{ item: Record<string, unknown> | null; previousSha256: string | null }> {
    return this.call('POST', `/remote${otherDrive(drive, '?')}`, change);
  }
  item(p: string, drive?: 'other'): Promise<Record<string, unknown>> {
    return this.call('GET', `/item?path=${encodeURIComponent(p)}${otherDrive(drive, '&')}`);
  }
  /** Every item below the folder `p` ('' is the root), with its stored hashes. */
  async tree(p: string, drive?: 'other'): Promise<TreeItem[]> {
    return (await this.call<{ items: TreeItem[] }>('GET', `/tree?path=${encodeURIComponent(p)}${otherDrive(drive, '&')}`)).items;
  }
  content(p: string, drive?: 'other'): Promise<Buffer> {
    return this.call('GET', `/content?path=${encodeURIComponent(p)}${otherDrive(drive, '&')}`);
  }
  /** The other user shares their folder `path` (created when missing) with the signed-in user, added to the user's drive as `name`. */
  share(path: string, access: ShareAccess, options: { name?: string; addToDrive?: boolean } = {}): Promise<ShareInfo> {
    return this.call('POST', '/shares', { path, access, ...options });
  }
  unshare(path: string): Promise<void> {
    return this.call('DELETE', `/shares?path=${encodeURIComponent(path)}`);
  }
  async shares(): Promise<ShareInfo[]> {
    return (await this.call<{ shares: ShareInfo[] }>('GET', '/shares')).shares;
  }
  setFaults(s: FaultSettings): Promise<unknown> {
    return this.call('POST', '/faults', s);
  }
  throttle(rule: ThrottleRule): Promise<unknown> {
    return this.call('POST', '/faults/throttle', rule);
  }
  failNext(err: ScriptedError): Promise<unknown> {
    return this.call('POST', '/faults/fail', err);
  }
  resetFaults(): Promise<void> {
    return this.call('DELETE', '/faults');
  }
  setOffline(offline: boolean): Promise<{ offline: boolean }> {
    return this.call('POST', '/offline', { offline });
  }
  expire(what: 'sessions' | 'downloadUrls' | 'deltaTokens' | 'tombstones'): Promise<void> {
    return this.call('POST', '/expire', { what });
  }
  knobs(k: { hideHashesMs?: number; quotaTotal?: number; copyDelayMs?: number; refuseHashAndPercent?: boolean }): Promise<unknown> {
    return this.call('POST', '/knobs', k);
  }
  addToken(token: string, expiresInSec: number): Promise<void> {
    return this.call('POST', '/tokens', { token, expiresInSec });
  }
  revokeToken(token: string): Promise<void> {
    return this.call('DELETE', `/tokens?token=${encodeURIComponent(token)}`);
  }
  identityKnobs(k: Partial<IdentityKnobs>): Promise<IdentityKnobs> {
    return this.call('POST', '/identity/knobs', k);
  }
  setIdentityUser(username: string, name?: string): Promise<unknown> {
    return this.call('POST', '/identity/user', { username, name });
  }
  /** "The user typed the code and signed in": the newest waiting device code when none is given. */
  approveDeviceCode(userCode?: string): Promise<{ userCode: string }> {
    return this.call('POST', '/identity/device', { userCode });
  }
  async pendingDeviceCodes(): Promise<string[]> {
    return (await this.call<{ pendingDeviceCodes: string[] }>('GET', '/identity')).pendingDeviceCodes;
  }
  expireAccessTokens(): Promise<{ expired: number }> {
    return this.call('POST', '/identity/expire', {});
  }
  revokeAllTokens(): Promise<void> {
    return this.call('POST', '/identity/revoke', {});
  }
  /** Every access and refresh token the identity provider issued (tests grep logs for them). */
  async issuedTokens(): Promise<string[]> {
    return (await this.call<{ tokens: string[] }>('GET', '/identity/issued')).tokens;
  }
  /** Requests logged after `since`, the last seq, and how many requests are being served right now. */
  async log(filter: { since?: number; listener?: 'api' | 'storage' | 'identity'; method?: string; path?: string } = {}): Promise<{ entries: LogEntry[]; lastSeq: number; inflight: number }> {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(filter)) if (v !== undefined) q.set(k, String(v));
    return this.call('GET', `/log?${q}`);
  }
  async clientFaults(): Promise<ClientFault[]> {
    return (await this.call<{ faults: ClientFault[] }>('GET', '/client-faults')).faults;
  }
}

function otherDrive(drive: 'other' | undefined, sep: '?' | '&'): string {
  return drive === 'other' ? `${sep}drive=other` : '';
}
