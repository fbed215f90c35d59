/**
 * One account's sign-in over MSAL's public client: interactive (authorization code + PKCE through
 * MSAL's loopback redirect), device code, silent refresh, sign-out. The tokens themselves stay inside
 * MSAL and its cache plugin; what leaves this class is an access token for the Graph client and
 * facts about the account (name, user name), never a refresh token, code or verifier.
 */
import {
  InteractionRequiredAuthError,
  LogLevel,
  PublicClientApplication,
  ServerError,
  type AccountInfo,
  type AuthenticationResult,
  type Configuration,
  type ICachePlugin,
} from '@azure/msal-node';
import { abortReason, timeoutSignal } from '../base/abort.ts';
import { errorMessage } from '../base/errors.ts';
import type { Logger } from '../base/logger.ts';
import { redactSecrets } from '../base/redact.ts';
import { GRAPH_SCOPES, toReachableUrl, type AuthorityConfig } from './authority.ts';
import { SignedOutError, SignInError } from './auth-errors.ts';
import { MappedNetworkClient } from './network-client.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';

export interface MsalAuthOptions {
  /** The local account name (config folder), for messages and errors. */
  account: string;
  clientId: string;
  authority: AuthorityConfig;
  cachePlugin: ICachePlugin;
  logger: Logger;
  scopes?: string[];
}

/** Who is signed in; safe to show and log. */
export interface SignedInAccount {
  username: string;
  name: string | undefined;
  tenantId: string;
  homeAccountId: string;
}

/** What a device-code sign-in asks the user to do. */
export interface DeviceCodePrompt {
  userCode: string;
  verificationUri: string;
  expiresAt: number;
  message: string;
}

export interface AccessToken {
  token: string;
  expiresAt: number;
}

export interface InteractiveOptions {
  /** Called with the URL to open in a browser (the app's sign-in window, the system browser, or a printout). */
  openUrl: (url: string) => void | Promise<void>;
  signal?: AbortSignal;
  /** How long the user has to finish; default 5 minutes. */
  timeoutMs?: number;
  successPage?: string;
  errorPage?: string;
}

export interface DeviceCodeOptions {
  onCode: (prompt: DeviceCodePrompt) => void;
  signal?: AbortSignal;
  /** How long to wait for the user; default (and at most) the code's own lifetime. */
  timeoutMs?: number;
}


const SUCCESS_PAGE =
  '<!DOCTYPE html><html><head><meta charset="utf-8"><title>OneMount</title></head><body><h1>Signed in</h1><p>OneMount is signed in. You can close this window.</p></body></html>';
const ERROR_PAGE =
  '<!DOCTYPE html><html><head><meta charset="utf-8"><title>OneMount</title></head><body><h1>Not signed in</h1><p>OneMount could not sign in. Return to the app to try again.</p></body></html>';

export class MsalAuth {
  readonly #app: PublicClientApplication;
  readonly #options: MsalAuthOptions;
  readonly #scopes: string[];

  constructor(options: MsalAuthOptions) {
    this.#options = options;
    this.#scopes = options.scopes ?? GRAPH_SCOPES;
    const { authority, logger } = options;
    const config: Configuration = {
      auth: {
        clientId: options.clientId,
        authority: authority.authority,
        ...(authority.knownAuthorities ? { knownAuthorities: authority.knownAuthorities } : {}),
      },
      cache: { cachePlugin: options.cachePlugin },
      system: {
        ...(authority.reachableOrigin ? { networkClient: new MappedNetworkClient((url) => toReachableUrl(url, authority)) } : {}),
        loggerOptions: {
          piiLoggingEnabled: false,
          logLevel: LogLevel.Warning,
          // MSAL's own lines are kept only when free of personal data; the logger redacts the rest.
          loggerCallback: (level, message, containsPii) => {
            if (containsPii) return;
            if (level === LogLevel.Error) logger.warn({ msal: true }, message);
            else logger.debug({ msal: true }, message);
          },
        },
      },
    };
    this.#app = new PublicClientApplication(config);
  }

  get account(): string {
    return this.#options.account;
  }

  /** The account signed in on this device (from the token cache), if any. */
  async signedInAccount(): Promise<SignedInAccount | undefined> {
    const info = await this.#cachedAccount();
    return info && describe(info);
  }

  /**
   * Authorization code + PKCE through MSAL's loopback redirect. `openUrl` receives the sign-in page
   * URL; the identity provider answers the loopback with a form_post of code and state.
   */
  async signInInteractive(o: InteractiveOptions): Promise<SignedInAccount> {
    const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUTS.signInTimeoutMs;
    const deadline = timeoutSignal(timeoutMs, o.signal, 'sign-in');
    let authUrl: string | undefined;
    let cancelled: Promise<void> | undefined;
    // MSAL has no way to stop its loopback listener; answering it with an error the way the
    // identity provider would (same state, error=access_denied) ends the flow and closes it.
    const stop = (): void => {
      if (authUrl && !cancelled) cancelled = answerLoopback(authUrl, this.#options.logger);
    };
    deadline.signal.addEventListener('abort', stop, { once: true });
    try {
      const result = await this.#app.acquireTokenInteractive({
        scopes: this.#scopes,
        openBrowser: async (url: string) => {
          authUrl = url;
          if (deadline.signal.aborted) stop();
          else await o.openUrl(toReachableUrl(url, this.#options.authority));
        },
        successTemplate: o.successPage ?? SUCCESS_PAGE,
        errorTemplate: o.errorPage ?? ERROR_PAGE,
      });
      return this.#signedIn(result);
    } catch (e) {
      await cancelled;
      if (deadline.signal.aborted) {
        const reason = abortReason(deadline.signal);
        if (o.signal?.aborted) throw new SignInError('SIGN_IN_CANCELLED', 'sign-in was cancelled', { cause: reason });
        throw new SignInError('SIGN_IN_TIMEOUT', `sign-in did not finish within ${Math.round(timeoutMs / 1000)} s`, { cause: reason });
      }
      throw signInFailure(e);
    } finally {
      deadline.dispose();
    }
  }

  /** Device code: `onCode` shows the code and URL; resolves once the user has approved it elsewhere. */
  async signInWithDeviceCode(o: DeviceCodeOptions): Promise<SignedInAccount> {
    const request = {
      scopes: this.#scopes,
      cancel: false,
      ...(o.timeoutMs !== undefined ? { timeout: Math.max(1, Math.ceil(o.timeoutMs / 1000)) } : {}),
      deviceCodeCallback: (r: { userCode: string; verificationUri: string; expiresIn: number; message: string }) => {
        o.onCode({
          userCode: r.userCode,
          verificationUri: toReachableUrl(r.verificationUri, this.#options.authority),
          expiresAt: Date.now() + r.expiresIn * 1000,
          message: r.message,
        });
      },
    };
    // MSAL checks `cancel` before each poll; the request object is the one it polls with.
    const onAbort = (): void => void (request.cancel = true);
    o.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const result = await this.#app.acquireTokenByDeviceCode(request);
      if (!result) throw new SignInError('SIGN_IN_FAILED', 'the device code sign-in ended without an account');
      return this.#signedIn(result);
    } catch (e) {
      if (o.signal?.aborted) throw new SignInError('SIGN_IN_CANCELLED', 'sign-in was cancelled', { cause: e });
      const code = (e as { errorCode?: string }).errorCode;
      if (code === 'device_code_polling_cancelled' || code === 'user_timeout_reached' || code === 'device_code_expired' || /expired_token/.test(errorMessage(e))) {
        throw new SignInError('SIGN_IN_TIMEOUT', 'the device code expired before it was used; run sign-in again', { cause: e });
      }
      if (/authorization_declined/.test(errorMessage(e))) throw new SignInError('SIGN_IN_DECLINED', 'the sign-in was declined', { cause: e });
      throw signInFailure(e);
    } finally {
      o.signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * An access token from the cache, refreshed with the refresh token when it is due (or always,
   * with `forceRefresh`). Throws SignedOutError when only the user can fix it.
   */
  async acquireSilent(forceRefresh: boolean): Promise<AccessToken> {
    const info = await this.#cachedAccount();
    if (!info) throw new SignedOutError(this.account);
    let result: AuthenticationResult;
    try {
      result = await this.#app.acquireTokenSilent({ account: info, scopes: this.#scopes, forceRefresh });
    } catch (e) {
      if (needsInteraction(e)) {
        throw new SignedOutError(this.account, `account '${this.account}' must sign in again (${safeMessage(e)}); run \`onemount sign-in --account ${this.account}\``, { cause: scrubbed(e) });
      }
      throw scrubbed(e);
    }
    if (!result.accessToken) throw new SignedOutError(this.account);
    return { token: result.accessToken, expiresAt: result.expiresOn?.getTime() ?? Date.now() + DEFAULT_TIMEOUTS.tokenAssumedLifetimeMs };
  }

  /** Forgets every account and token of this app on this device. */
  async signOut(): Promise<void> {
    const cache = this.#app.getTokenCache();
    for (const info of await cache.getAllAccounts()) await this.#app.signOut({ account: info });
  }

  async #cachedAccount(): Promise<AccountInfo | undefined> {
    const accounts = await this.#app.getTokenCache().getAllAccounts();
    return accounts[0];
  }

  #signedIn(result: AuthenticationResult): SignedInAccount {
    if (!result.account) throw new SignInError('SIGN_IN_FAILED', 'the identity provider answered without an account');
    const who = describe(result.account);
    this.#options.logger.info({ username: who.username, tenantId: who.tenantId }, 'signed in');
    return who;
  }
}

function describe(info: AccountInfo): SignedInAccount {
  return { username: info.username, name: info.name, tenantId: info.tenantId, homeAccountId: info.homeAccountId };
}

/** MSAL's word for "only the user can fix this", plus invalid_grant answers it passes on as server errors. */
export function needsInteraction(e: unknown): boolean {
  if (e instanceof InteractionRequiredAuthError) return true;
  if (e instanceof ServerError && (e.errorCode === 'invalid_grant' || /invalid_grant/.test(e.message))) return true;
  const code = (e as { errorCode?: string } | null)?.errorCode;
  return code === 'no_tokens_found' || code === 'refresh_token_expired' || code === 'no_account_in_silent_request';
}

function safeMessage(e: unknown): string {
  return redactSecrets(errorMessage(e)).split('\n')[0]!.slice(0, 300);
}

/** MSAL errors as ours: the readable message only, so nothing a server echoed travels further. */
function scrubbed(e: unknown): Error {
  const code = (e as { errorCode?: string } | null)?.errorCode;
  const err = new SignInError('SIGN_IN_FAILED', safeMessage(e));
  if (code) Object.assign(err, { msalCode: code });
  return err;
}

function signInFailure(e: unknown): Error {
  if (e instanceof SignInError) return e;
  return scrubbed(e);
}

/** POSTs `error=access_denied` with the flow's own state to its loopback redirect, ending MSAL's wait. */
async function answerLoopback(authUrl: string, logger: Logger): Promise<void> {
  const params = new URL(authUrl).searchParams;
  const redirect = params.get('redirect_uri');
  const state = params.get('state');
  if (!redirect || !state) return;
  const target = new URL(redirect);
  if (target.hostname === 'localhost') target.hostname = '127.0.0.1';
  try {
    const res = await fetch(target, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ error: 'access_denied', error_description: 'cancelled by OneMount', state }).toString(),
      signal: AbortSignal.timeout(DEFAULT_TIMEOUTS.localCallTimeoutMs),
    });
    await res.arrayBuffer();
  } catch (e) {
    logger.warn({ err: e }, 'could not stop the sign-in listener');
  }
}
