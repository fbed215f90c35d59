/**
 * Which identity platform an account signs in with. Microsoft's (`login.microsoftonline.com`) for
 * real accounts: `consumers` (personal), `organizations` (work or school), `common` (either) or a
 * tenant id; or the emulator's, which publishes itself as `https://login.test/<tenant>` (MSAL refuses
 * http:// authorities) and is reached on the emulator's API listener through an origin mapping.
 */
import { OneMountError } from '../base/errors.ts';

export const MICROSOFT_LOGIN_ORIGIN = 'https://login.microsoftonline.com';
/** Keep in step with emulator/src/identity.ts (the engine may not import the emulator). */
export const EMULATOR_LOGIN_ORIGIN = 'https://login.test';
export const GRAPH_URL = 'https://graph.microsoft.com/v1.0';

/** `Files.ReadWrite.All offline_access User.Read` (docs/graph-api.md §11); MSAL adds openid and profile. */
export const GRAPH_SCOPES = ['Files.ReadWrite.All', 'offline_access', 'User.Read'];

export interface AuthorityConfig {
  /** The authority URL MSAL is configured with, e.g. https://login.microsoftonline.com/consumers */
  authority: string;
  /** Set for authorities MSAL cannot discover on the public cloud (the emulator's). */
  knownAuthorities: string[] | undefined;
  /** Where the authority's origin really answers (the emulator's API listener), when not itself. */
  reachableOrigin: string | undefined;
}

const TENANT = /^(common|consumers|organizations|[0-9a-f-]{36}|[A-Za-z0-9-]+\.onmicrosoft\.com)$/i;

/**
 * `consumers` | `organizations` | `common` | a tenant id → Microsoft's authority; a full https URL
 * → that authority as given. With `emulatorUrl` (its API URL), the tenant is served by the emulator.
 */
export function resolveAuthority(choice: string, emulatorUrl?: string): AuthorityConfig {
  if (emulatorUrl !== undefined) {
    const tenant = TENANT.test(choice) ? choice : 'consumers';
    return { authority: `${EMULATOR_LOGIN_ORIGIN}/${tenant}`, knownAuthorities: [new URL(EMULATOR_LOGIN_ORIGIN).host], reachableOrigin: new URL(emulatorUrl).origin };
  }
  if (TENANT.test(choice)) return { authority: `${MICROSOFT_LOGIN_ORIGIN}/${choice}`, knownAuthorities: undefined, reachableOrigin: undefined };
  let url: URL;
  try {
    url = new URL(choice);
  } catch {
    throw new OneMountError('BAD_AUTHORITY', `unknown authority '${choice}': use consumers (personal), organizations (work or school), common, a tenant id, or an https URL`);
  }
  if (url.protocol !== 'https:') throw new OneMountError('BAD_AUTHORITY', `the authority must be an https URL, not ${url.origin}`);
  const known = url.origin === MICROSOFT_LOGIN_ORIGIN ? undefined : [url.host];
  return { authority: url.origin + url.pathname.replace(/\/$/, ''), knownAuthorities: known, reachableOrigin: undefined };
}

/** A URL of the authority's origin, rewritten to where it really answers (unchanged without a mapping). */
export function toReachableUrl(url: string, config: Pick<AuthorityConfig, 'authority' | 'reachableOrigin'>): string {
  if (!config.reachableOrigin) return url;
  const origin = new URL(config.authority).origin;
  return url.startsWith(origin + '/') ? config.reachableOrigin + url.slice(origin.length) : url;
}
