/**
 * `onemount sign-in` and `onemount sign-out`. Sign-in runs MSAL in this process (the browser flow
 * or, with --device-code, a code to type on another device), stores the token cache in the keyring
 * or a private file, and remembers how the account signs in; a running engine for the account picks
 * the new tokens up. Sign-out goes through the running engine (which stops its mount) when there
 * is one, and forgets the tokens itself otherwise.
 */
import { execFile } from 'node:child_process';
import type { Command } from 'commander';
import { createLogger } from '../../base/logger.ts';
import { errorMessage } from '../../base/errors.ts';
import { openAccountAuth, readSignInSettings, removeSignInSettings, writeSignInSettings } from '../../auth/account-settings.ts';
import { EngineNotRunningError, SocketClient } from '../../ipc/socket-client.ts';
import { accountPaths } from '../paths.ts';
import { DEFAULT_TIMEOUTS } from '../../lifecycle/timeout-policy.ts';

/** The emulator accepts any client id; this one only names OneMount in its logs. */
export const EMULATOR_CLIENT_ID = '0e1a7000-0000-4000-8000-00000000cafe';

interface SignInFlags {
  account: string;
  deviceCode?: boolean;
  authority: string;
  clientId?: string;
  emulatorUrl?: string;
  browser: boolean;
  timeout: number;
  tokenStore: 'auto' | 'keyring' | 'file';
}

export function addSignInCommands(program: Command, print: (line: string) => void): void {
  program
    .command('sign-in')
    .description('sign in to a Microsoft account (opens the browser; --device-code for machines without one)')
    .option('--account <name>', 'account name (separate config, cache and state per account)', 'default')
    .option('--device-code', 'show a code to enter at a web page on another device instead of opening a browser')
    .option('--authority <authority>', 'consumers (personal), organizations (work or school), common (either), a tenant id, or an https URL', 'common')
    .option('--client-id <id>', 'the Azure app registration to sign in with (default: $ONEMOUNT_CLIENT_ID)')
    .option('--emulator-url <url>', "a OneMount emulator's API URL: sign in with its identity provider")
    .option('--no-browser', 'print the sign-in URL instead of opening it')
    .option('--timeout <seconds>', 'how long to wait for the sign-in to finish', (v) => Number(v), DEFAULT_TIMEOUTS.signInTimeoutMs / 1000)
    .option('--token-store <where>', 'auto (keyring when available, else a private file), keyring or file', 'auto')
    .action(async (flags: SignInFlags) => signIn(flags, print));

  program
    .command('sign-out')
    .description("sign out: forget the account's tokens on this device and stop its mount")
    .option('--account <name>', 'account name', 'default')
    .action(async (flags: { account: string }) => signOut(flags.account, print));
}

async function signIn(flags: SignInFlags, print: (line: string) => void): Promise<void> {
  const paths = accountPaths(flags.account);
  const logger = createLogger({ name: 'onemount-sign-in', level: 'info', destination: paths.logFile });
  const clientId = flags.clientId ?? process.env.ONEMOUNT_CLIENT_ID ?? (flags.emulatorUrl ? EMULATOR_CLIENT_ID : undefined);
  if (!clientId) {
    throw new Error(
      'OneMount has no app registration built in: register one with Microsoft (README, "Your own OneDrive: register the app") and sign in with `onemount sign-in --client-id <application id>` (or set ONEMOUNT_CLIENT_ID)',
    );
  }
  if (!['auto', 'keyring', 'file'].includes(flags.tokenStore)) throw new Error('--token-store must be auto, keyring or file');
  const settings = { clientId, authority: flags.authority, ...(flags.emulatorUrl ? { emulatorUrl: flags.emulatorUrl } : {}) };
  const { auth, store, warning } = await openAccountAuth({
    account: flags.account,
    configDir: paths.configDir,
    logger,
    settings: { ...settings, ...(flags.tokenStore === 'auto' ? {} : { store: flags.tokenStore }) },
  });
  if (warning) print(`Warning: ${warning}.`);
  const timeoutMs = flags.timeout * 1000;
  const who = flags.deviceCode
    ? await auth.signInWithDeviceCode({
        timeoutMs,
        onCode: (p) => {
          print('');
          print(`  To sign in, open ${p.verificationUri}`);
          print(`  and enter the code  ${p.userCode}`);
          print(`  (the code expires at ${new Date(p.expiresAt).toLocaleTimeString()})`);
          print('');
        },
      })
    : await auth.signInInteractive({
        timeoutMs,
        openUrl: async (url) => {
          print('Open this URL to sign in:');
          print(`  ${url}`);
          if (flags.browser) await openBrowser(url, print);
        },
      });
  await writeSignInSettings(paths.configDir, { ...settings, username: who.username, store: store.kind });
  print(`Signed in as ${who.username} (account '${flags.account}'); tokens are kept in ${store.location}.`);
  await tellRunningEngine(paths.socketPath, async (client) => {
    // A running engine that was signed out looks at the token cache again on its next request.
    await client.call('syncNow', {});
    print('The running engine for this account picked up the sign-in.');
  });
}

async function signOut(account: string, print: (line: string) => void): Promise<void> {
  const paths = accountPaths(account);
  const handled = await tellRunningEngine(paths.socketPath, async (client) => {
    await client.call('signOut', {}, DEFAULT_TIMEOUTS.ipcLongCallTimeoutMs);
    print(`Signed out of account '${account}'; its mount is stopping.`);
  });
  if (handled) return;
  const settings = await readSignInSettings(paths.configDir);
  if (!settings) {
    print(`Account '${account}' is not signed in.`);
    return;
  }
  const logger = createLogger({ name: 'onemount-sign-out', level: 'info', destination: paths.logFile });
  const { auth, store } = await openAccountAuth({ account, configDir: paths.configDir, logger, settings });
  await auth.signOut();
  await store.clear();
  await removeSignInSettings(paths.configDir);
  print(`Signed out of account '${account}'; its tokens are gone from ${store.location}.`);
}

/** Runs `fn` against the account's running engine; false when none is running. */
async function tellRunningEngine(socketPath: string, fn: (client: SocketClient) => Promise<void>): Promise<boolean> {
  let client: SocketClient;
  try {
    client = await SocketClient.connect(socketPath);
  } catch (e) {
    if (e instanceof EngineNotRunningError) return false;
    throw e;
  }
  try {
    await fn(client);
    return true;
  } finally {
    client.close();
  }
}

function openBrowser(url: string, print: (line: string) => void): Promise<void> {
  return new Promise((resolve) => {
    execFile('xdg-open', [url], { timeout: DEFAULT_TIMEOUTS.browserStartTimeoutMs }, (error) => {
      if (error) print(`(Could not open a browser: ${errorMessage(error)}. Open the URL above yourself.)`);
      resolve();
    });
  });
}
