/**
 * Where the Graph client gets its bearer token. The sign-in code (src-main/auth) implements this
 * over MSAL; the emulator accepts any non-empty token, so StaticTokenProvider serves it.
 */
export interface TokenProvider {
  /** A current access token (cached by the provider; called before every authenticated request). */
  getToken(signal: AbortSignal): Promise<string>;
  /** Called once after a 401: obtain a new token, bypassing any cache. */
  refreshToken(signal: AbortSignal): Promise<string>;
}

/** A fixed token, for the emulator and tests. Refreshing returns the same token. */
export class StaticTokenProvider implements TokenProvider {
  readonly #token: string;

  constructor(token: string) {
    if (token.length === 0) throw new Error('StaticTokenProvider needs a non-empty token');
    this.#token = token;
  }

  getToken(signal: AbortSignal): Promise<string> {
    signal.throwIfAborted();
    return Promise.resolve(this.#token);
  }

  refreshToken(signal: AbortSignal): Promise<string> {
    return this.getToken(signal);
  }
}
