/**
 * How an account signs in, remembered from `onemount sign-in` so `mount` and the engine can refresh
 * its tokens later: client id, authority, the emulator URL when it is an emulator account, and who
 * signed in. No secrets: tokens live in the token cache (keyring or its own file).
 */
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ensurePrivateDir, writeFileAtomic } from '../base/files.ts';
import { OneMountError } from '../base/errors.ts';
import type { Logger } from '../base/logger.ts';
import { resolveAuthority, GRAPH_URL } from './authority.ts';
import { SecretStoreCachePlugin } from './cache-plugin.ts';
import type { MsalAuth } from './msal-auth.ts';
import { openSecretStore, type SecretStore } from './secret-store.ts';

export const SIGN_IN_SETTINGS_FILE = 'sign-in.json';

const SettingsSchema = z.object({
  clientId: z.string().min(1),
  /** consumers | organizations | common | a tenant id | an https URL */
  authority: z.string().min(1),
  /** The emulator's API URL, for emulator accounts. */
  emulatorUrl: z.string().url().optional(),
  username: z.string().optional(),
  /** Where the cache is kept: chosen at sign-in, kept for the account's lifetime. */
  store: z.enum(['keyring', 'file']),
});
export type SignInSettings = z.infer<typeof SettingsSchema>;

export function settingsPath(configDir: string): string {
  return path.join(configDir, SIGN_IN_SETTINGS_FILE);
}

export async function readSignInSettings(configDir: string): Promise<SignInSettings | undefined> {
  let text: string;
  try {
    text = await readFile(settingsPath(configDir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const parsed = SettingsSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new OneMountError('BAD_SIGN_IN_SETTINGS', `${settingsPath(configDir)} is not valid: ${parsed.error.message}`);
  return parsed.data;
}

export async function writeSignInSettings(configDir: string, settings: SignInSettings): Promise<void> {
  await ensurePrivateDir(configDir);
  await writeFileAtomic(settingsPath(configDir), JSON.stringify(settings, null, 2) + '\n');
}

export async function removeSignInSettings(configDir: string): Promise<void> {
  await rm(settingsPath(configDir), { force: true });
}

/** The Graph API an account talks to. */
export function graphUrlOf(settings: Pick<SignInSettings, 'emulatorUrl'>): string {
  return settings.emulatorUrl ?? GRAPH_URL;
}

export interface AccountAuth {
  auth: MsalAuth;
  store: SecretStore;
  /** Set when the tokens rest in a plain file. */
  warning: string | undefined;
}

/** MSAL for an account, with its token cache in the keyring or (with a warning) a 0600 file. */
export async function openAccountAuth(o: {
  account: string;
  configDir: string;
  logger: Logger;
  settings: Omit<SignInSettings, 'store' | 'username'> & { store?: SignInSettings['store'] };
}): Promise<AccountAuth> {
  await ensurePrivateDir(o.configDir);
  const { store, warning } = await openSecretStore({ account: o.account, configDir: o.configDir, logger: o.logger, prefer: o.settings.store ?? 'auto' });
  // MSAL is loaded only for an account that signs in (a mount with a fixed token never needs it).
  const { MsalAuth } = await import('./msal-auth.ts');
  const auth = new MsalAuth({
    account: o.account,
    clientId: o.settings.clientId,
    authority: resolveAuthority(o.settings.authority, o.settings.emulatorUrl),
    cachePlugin: new SecretStoreCachePlugin(store),
    logger: o.logger,
  });
  return { auth, store, warning };
}
