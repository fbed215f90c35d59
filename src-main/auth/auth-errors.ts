import { OneMountError } from '../base/errors.ts';

/**
 * The account needs the user again (its refresh token expired, was revoked, or it was never signed
 * in). Not a failure of the work that met it: transfers wait, as they do offline, until the account
 * is signed in again.
 */
export class SignedOutError extends OneMountError {
  constructor(
    readonly account: string,
    message = `account '${account}' is signed out; run \`onemount sign-in --account ${account}\``,
    options?: { cause?: unknown },
  ) {
    super('SIGNED_OUT', message, options);
  }
}

export type SignInFailure = 'SIGN_IN_FAILED' | 'SIGN_IN_TIMEOUT' | 'SIGN_IN_CANCELLED' | 'SIGN_IN_DECLINED';

/** A sign-in flow did not end with an account. The message never carries a token or code. */
export class SignInError extends OneMountError {
  constructor(code: SignInFailure, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** A token store (keyring or file) could not be read or written. */
export class TokenStoreError extends OneMountError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('TOKEN_STORE', message, options);
  }
}
