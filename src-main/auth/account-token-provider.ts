/**
 * The Graph client's token source for a signed-in account (the TokenProvider shape of
 * src-main/graph/token-provider.ts, which this layer may not import). Keeps the access token in
 * memory and refreshes it silently shortly before it expires and after a 401. When a refresh needs
 * the user, the account turns "signed out" (one event) and every request fails with SignedOutError
 * until a sign-in — in this process or another one sharing the token cache — brings it back.
 */
import { raceWithSignal } from '../base/abort.ts';
import type { Logger } from '../base/logger.ts';
import { TypedEmitter } from '../base/typed-emitter.ts';
import { SignedOutError } from './auth-errors.ts';
import type { AccessToken } from './msal-auth.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';

/** The part of MsalAuth this needs (tests may pass another source). */
export interface SilentTokenSource {
  readonly account: string;
  acquireSilent(forceRefresh: boolean): Promise<AccessToken>;
}

export type AuthState = 'signed-in' | 'signed-out';

export interface AuthEvents {
  'signed-out': { account: string; reason: string };
  'signed-in': { account: string };
}

export interface AccountTokenProviderOptions {
  source: SilentTokenSource;
  logger: Logger;
  /** Refresh this long before the token expires; default 5 minutes. */
  refreshMarginMs?: number;
  /** While signed out, look at the token cache again at most this often; default 2 s. */
  recheckMs?: number;
  now?: () => number;
}

export class AccountTokenProvider {
  readonly events: TypedEmitter<AuthEvents>;
  readonly #source: SilentTokenSource;
  readonly #logger: Logger;
  readonly #marginMs: number;
  readonly #recheckMs: number;
  readonly #now: () => number;
  #current: AccessToken | undefined;
  #inFlight: Promise<string> | undefined;
  #state: AuthState = 'signed-in';
  #signedOutReason: SignedOutError | undefined;
  #lastCheck = 0;

  constructor(o: AccountTokenProviderOptions) {
    this.#source = o.source;
    this.#logger = o.logger;
    this.#marginMs = o.refreshMarginMs ?? DEFAULT_TIMEOUTS.tokenRefreshMarginMs;
    this.#recheckMs = o.recheckMs ?? DEFAULT_TIMEOUTS.tokenRecheckMs;
    this.#now = o.now ?? Date.now;
    this.events = new TypedEmitter<AuthEvents>((error, event) => this.#logger.error({ err: error, event }, 'an auth event listener failed'));
  }

  get state(): AuthState {
    return this.#state;
  }

  get account(): string {
    return this.#source.account;
  }

  getToken(signal: AbortSignal): Promise<string> {
    signal.throwIfAborted();
    const current = this.#current;
    if (this.#state === 'signed-in' && current && current.expiresAt - this.#marginMs > this.#now()) return Promise.resolve(current.token);
    // Due soon: refresh now rather than let MSAL hand back a token that expires mid-transfer.
    return raceWithSignal(this.#acquire(current !== undefined), signal);
  }

  refreshToken(signal: AbortSignal): Promise<string> {
    signal.throwIfAborted();
    this.#current = undefined;
    return raceWithSignal(this.#acquire(true), signal);
  }

  /** A sign-in happened (e.g. over IPC): look at the token cache at once instead of waiting for the next recheck. */
  async recheck(): Promise<AuthState> {
    this.#lastCheck = 0;
    await this.#acquire(false).catch((e: unknown) => {
      if (!(e instanceof SignedOutError)) throw e;
    });
    return this.#state;
  }

  /** One acquisition at a time: a burst of requests (or of 401s) costs one refresh. */
  #acquire(force: boolean): Promise<string> {
    if (this.#inFlight) return this.#inFlight;
    if (this.#state === 'signed-out' && this.#now() - this.#lastCheck < this.#recheckMs) {
      return Promise.reject(this.#signedOutReason ?? new SignedOutError(this.account));
    }
    const run = this.#run(force).finally(() => {
      if (this.#inFlight === run) this.#inFlight = undefined;
    });
    this.#inFlight = run;
    return run;
  }

  async #run(force: boolean): Promise<string> {
    this.#lastCheck = this.#now();
    try {
      // Signed out, the cached token is stale anyway; a new sign-in brought a fresh one.
      const token = await this.#source.acquireSilent(force && this.#state === 'signed-in');
      this.#current = token;
      if (this.#state === 'signed-out') {
        this.#state = 'signed-in';
        this.#signedOutReason = undefined;
        this.#logger.info({ account: this.account }, 'the account is signed in again');
        this.events.emit('signed-in', { account: this.account });
      }
      return token.token;
    } catch (e) {
      if (e instanceof SignedOutError) {
        this.#current = undefined;
        this.#signedOutReason = e;
        if (this.#state === 'signed-in') {
          this.#state = 'signed-out';
          this.#logger.warn({ account: this.account, err: e }, 'the account is signed out; transfers wait until it signs in again');
          this.events.emit('signed-out', { account: this.account, reason: e.message });
        }
      }
      throw e;
    }
  }
}
