/**
 * A signed-in account inside a running engine: the Graph client's token provider, what the engine
 * does when the account signs out (transfers wait, the UI is told) and back in (waiting uploads and
 * offline changes go at once, delta catches up), and the IPC calls signIn / signOut.
 */
import type { Logger } from '../base/logger.ts';
import { AccountTokenProvider } from '../auth/account-token-provider.ts';
import type { MsalAuth } from '../auth/msal-auth.ts';
import type { TaskRegistry } from '../lifecycle/task-registry.ts';
import type { AuthState } from '../../src-shared/ipc/desktop-calls.ts';
import type { EventName, EventPayload } from '../../src-shared/ipc/contract.ts';
import { DEFAULT_TIMEOUTS } from '../lifecycle/timeout-policy.ts';

/** What the session needs from the engine once it runs. */
export interface SessionHost {
  tasks: TaskRegistry;
  /** Waiting uploads try now. */
  retryUploads(): void;
  /** Offline changes replay and delta catches up. */
  catchUp(): void;
  emit<E extends EventName>(event: E, payload: EventPayload<E>): void;
  pushStatus(): void;
  /** Sign-out stops the account's mount cleanly. */
  shutdown(reason: string): void;
}

export interface AccountSessionOptions {
  auth: MsalAuth;
  logger: Logger;
  /** The signed-in user's name, as remembered at sign-in. */
  username: string | undefined;
  /** Forgets the account's sign-in settings (after the tokens are gone). */
  forget: () => Promise<void>;
  provider?: AccountTokenProvider;
}


export class AccountSession {
  readonly tokenProvider: AccountTokenProvider;
  readonly #auth: MsalAuth;
  readonly #logger: Logger;
  readonly #forget: () => Promise<void>;
  #username: string | undefined;
  #host: SessionHost | undefined;

  constructor(o: AccountSessionOptions) {
    this.#auth = o.auth;
    this.#logger = o.logger;
    this.#forget = o.forget;
    this.#username = o.username;
    this.tokenProvider = o.provider ?? new AccountTokenProvider({ source: o.auth, logger: o.logger });
  }

  authState(): AuthState {
    return { state: this.tokenProvider.state, ...(this.#username ? { user: this.#username } : {}) };
  }

  attach(host: SessionHost): void {
    this.#host = host;
    this.tokenProvider.events.on('signed-out', ({ reason }) => {
      this.#logger.warn({ reason }, 'signed out: uploads and offline changes wait until the account signs in again');
      host.emit('auth', this.authState());
      host.pushStatus();
    });
    this.tokenProvider.events.on('signed-in', () => {
      host.emit('auth', this.authState());
      host.retryUploads();
      host.catchUp();
      host.pushStatus();
    });
  }

  /**
   * Starts an interactive sign-in in the background and answers with the page to open as soon as
   * MSAL has it (also pushed as a `signInPrompt` event); the flow goes on until the user finishes.
   */
  signIn(): Promise<{ authorizationUrl: string }> {
    const host = this.#requireHost();
    return new Promise((resolve, reject) => {
      let announced = false;
      host.tasks.start('sign-in', async (signal) => {
        try {
          const who = await this.#auth.signInInteractive({
            signal,
            timeoutMs: DEFAULT_TIMEOUTS.signInTimeoutMs,
            openUrl: (url) => {
              announced = true;
              host.emit('signInPrompt', { account: this.#auth.account, url });
              resolve({ authorizationUrl: url });
            },
          });
          this.#username = who.username;
          await this.tokenProvider.recheck();
          host.emit('auth', this.authState());
          host.pushStatus();
        } catch (e) {
          if (!announced) reject(e);
          else this.#logger.warn({ err: e }, 'sign-in did not finish');
        }
      });
    });
  }

  /** Forgets the account's tokens and settings on this device, then stops the mount cleanly. */
  async signOut(): Promise<{ ok: true }> {
    const host = this.#requireHost();
    await this.#auth.signOut();
    await this.#forget();
    this.#logger.info('signed out by the user; stopping the mount');
    host.shutdown('signed out');
    return { ok: true };
  }

  #requireHost(): SessionHost {
    if (!this.#host) throw new Error('the account session is not attached to a running engine');
    return this.#host;
  }
}
