/**
 * Which token a mount uses: a fixed one when `--token` is given (or for an emulator account nobody
 * signed in to, as the demo and the tests run), otherwise the account's own sign-in.
 */
import type { Logger } from '../../base/logger.ts';
import { OneMountError } from '../../base/errors.ts';
import { openAccountAuth, readSignInSettings, graphUrlOf, removeSignInSettings } from '../../auth/account-settings.ts';
import { StaticTokenProvider, type TokenProvider } from '../../graph/index.ts';
import { AccountSession } from '../account-session.ts';
import type { AccountPaths } from '../paths.ts';

/** The token the emulator accepts when it is not strict (the demo, most tests). */
export const EMULATOR_STATIC_TOKEN = 'emulator-token';

export interface TokenSource {
  graphUrl: string;
  tokenProvider: TokenProvider;
  session: AccountSession | undefined;
  /** Shown to the user (e.g. the tokens rest in a plain file). */
  notes: string[];
}

export async function chooseTokenSource(o: { paths: AccountPaths; token: string | undefined; emulatorUrl: string | undefined; logger: Logger }): Promise<TokenSource> {
  const { paths, logger } = o;
  if (o.token !== undefined) {
    if (!o.emulatorUrl) throw new OneMountError('TOKEN_NEEDS_EMULATOR', '--token works with --emulator-url only; sign in with `onemount sign-in` for Microsoft');
    return { graphUrl: o.emulatorUrl, tokenProvider: new StaticTokenProvider(o.token), session: undefined, notes: [] };
  }
  const settings = await readSignInSettings(paths.configDir);
  if (!settings) {
    if (o.emulatorUrl) return { graphUrl: o.emulatorUrl, tokenProvider: new StaticTokenProvider(EMULATOR_STATIC_TOKEN), session: undefined, notes: [] };
    throw new OneMountError('NOT_SIGNED_IN', `account '${paths.account}' is not signed in; run \`onemount sign-in --account ${paths.account}\` first`);
  }
  const { auth, store, warning } = await openAccountAuth({ account: paths.account, configDir: paths.configDir, logger, settings });
  const session = new AccountSession({
    auth,
    logger,
    username: settings.username,
    forget: async () => {
      await store.clear();
      await removeSignInSettings(paths.configDir);
    },
  });
  const notes = [`Signed in as ${settings.username ?? 'an unknown user'}.`, ...(warning ? [`Warning: ${warning}.`] : [])];
  return { graphUrl: o.emulatorUrl ?? graphUrlOf(settings), tokenProvider: session.tokenProvider, session, notes };
}
