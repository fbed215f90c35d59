/**
 * Where an account's token cache rests between runs: the desktop keyring when the platform has a
 * Secret Service (libsecret, reached through Debian's `secret-tool`), otherwise a 0600 file in the
 * account's 0700 config directory. The keyring encrypts at rest; the file relies on permissions
 * only, which is why choosing it comes with a visible warning.
 */
import { spawn } from 'node:child_process';
import { readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { ensurePrivateDir, PRIVATE_FILE_MODE, writeFileAtomic } from '../base/files.ts';
import type { Logger } from '../base/logger.ts';
import { TokenStoreError } from './auth-errors.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';

export interface SecretStore {
  readonly kind: 'keyring' | 'file';
  /** Where the secret lives, for messages (never the secret itself). */
  readonly location: string;
  /** The stored text, or undefined when nothing is stored. */
  read(): Promise<string | undefined>;
  write(text: string): Promise<void>;
  clear(): Promise<void>;
}

/** The token cache as a file: written atomically with mode 0600 inside a 0700 directory. */
export class FileSecretStore implements SecretStore {
  readonly kind = 'file';

  constructor(readonly location: string) {}

  async read(): Promise<string | undefined> {
    try {
      const info = await stat(this.location);
      // Someone loosened the file: tighten it back before trusting it with anything new.
      if ((info.mode & 0o077) !== 0) {
        throw new TokenStoreError(`${this.location} is readable by other users (mode ${(info.mode & 0o777).toString(8)}); remove it and sign in again`);
      }
      return await readFile(this.location, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      if (e instanceof TokenStoreError) throw e;
      throw new TokenStoreError(`could not read the token cache ${this.location}: ${(e as Error).message}`, { cause: e });
    }
  }

  async write(text: string): Promise<void> {
    await ensurePrivateDir(path.dirname(this.location));
    await writeFileAtomic(this.location, text, { mode: PRIVATE_FILE_MODE });
  }

  async clear(): Promise<void> {
    await rm(this.location, { force: true });
  }
}

export interface SecretToolOptions {
  /** The `secret-tool` program; default from PATH. */
  program?: string;
  /** Attributes that name this account's item in the keyring. */
  attributes: Record<string, string>;
  label: string;
  /** A hang guard for each call (a locked keyring may wait for a password prompt). */
  timeoutMs?: number;
}

/** The token cache as one item in the desktop keyring, through `secret-tool` run asynchronously. */
export class KeyringSecretStore implements SecretStore {
  readonly kind = 'keyring';
  readonly location: string;
  readonly #program: string;
  readonly #attributes: string[];
  readonly #timeoutMs: number;

  constructor(readonly options: SecretToolOptions) {
    this.#program = options.program ?? 'secret-tool';
    this.#attributes = Object.entries(options.attributes).flat();
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUTS.tokenRefreshTimeoutMs;
    this.location = `the desktop keyring (${Object.entries(options.attributes).map(([k, v]) => `${k}=${v}`).join(', ')})`;
  }

  async read(): Promise<string | undefined> {
    const r = await run(this.#program, ['lookup', ...this.#attributes], undefined, this.#timeoutMs);
    if (r.code === 0) return r.stdout;
    // `lookup` exits 1 without a word when there is no such item.
    if (r.code === 1 && r.stderr.trim() === '') return undefined;
    throw new TokenStoreError(`the keyring lookup failed: ${r.stderr.trim() || `exit ${r.code}`}`);
  }

  async write(text: string): Promise<void> {
    const r = await run(this.#program, ['store', `--label=${this.options.label}`, ...this.#attributes], text, this.#timeoutMs);
    if (r.code !== 0) throw new TokenStoreError(`the keyring refused the token cache: ${r.stderr.trim() || `exit ${r.code}`}`);
  }

  async clear(): Promise<void> {
    const r = await run(this.#program, ['clear', ...this.#attributes], undefined, this.#timeoutMs);
    if (r.code !== 0 && r.stderr.trim() !== '') throw new TokenStoreError(`the keyring could not forget the token cache: ${r.stderr.trim()}`);
  }

  /**
   * True when `secret-tool` exists and a Secret Service answers: a lookup of a name nobody uses
   * exits 1 silently when it does, and complains (no D-Bus session, no provider) when it does not.
   */
  static async available(program = 'secret-tool', timeoutMs = DEFAULT_TIMEOUTS.localCallTimeoutMs): Promise<boolean> {
    try {
      const r = await run(program, ['lookup', 'service', 'onemount', 'probe', 'availability'], undefined, timeoutMs);
      return r.code === 0 || (r.code === 1 && r.stderr.trim() === '');
    } catch {
      // ENOENT: libsecret-tools is not installed.
      return false;
    }
  }
}

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a program with `input` on stdin (secrets never go on a command line, where `ps` shows them). */
function run(program: string, args: string[], input: string | undefined, timeoutMs: number): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['pipe', 'pipe', 'pipe'], timeout: timeoutMs, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code, signal) => {
      if (signal) reject(new TokenStoreError(`${program} ${args[0]} did not finish (${signal})`));
      else resolve({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
  });
}

export interface OpenSecretStoreOptions {
  account: string;
  configDir: string;
  logger: Logger;
  /** `auto` (keyring when available), or force one kind. Default auto. */
  prefer?: 'auto' | 'keyring' | 'file';
  secretToolProgram?: string;
}

export interface OpenedSecretStore {
  store: SecretStore;
  /** Set when the tokens rest in a plain file: show it to the user. */
  warning: string | undefined;
}

export const TOKEN_CACHE_FILE = 'msal-token-cache.json';

/** Picks the keyring when it works here, else the file (with a warning that is also logged). */
export async function openSecretStore(o: OpenSecretStoreOptions): Promise<OpenedSecretStore> {
  const prefer = o.prefer ?? 'auto';
  const program = o.secretToolProgram ?? 'secret-tool';
  if (prefer !== 'file' && (await KeyringSecretStore.available(program))) {
    const store = new KeyringSecretStore({ program, attributes: { service: 'onemount', account: o.account }, label: `OneMount sign-in (${o.account})` });
    o.logger.info({ store: 'keyring' }, 'the token cache is kept in the desktop keyring');
    return { store, warning: undefined };
  }
  if (prefer === 'keyring') throw new TokenStoreError('no desktop keyring is available (install libsecret-tools and run a Secret Service such as gnome-keyring)');
  const file = path.join(o.configDir, TOKEN_CACHE_FILE);
  const warning = `no desktop keyring is available, so the sign-in tokens are kept in ${file} (readable by you only, not encrypted)`;
  o.logger.warn({ store: 'file', path: file }, warning);
  return { store: new FileSecretStore(file), warning };
}

