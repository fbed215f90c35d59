/**
 * MSAL against the emulator's identity provider, end to end: a test plays the browser for the
 * interactive flow, approves device codes through the admin side, expires and revokes tokens, and
 * checks what lands on disk (modes, and no token left after sign-out) and in the log (no token).
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { playBrowser } from '../../emulator/src/test-browser.ts';
import { createMemoryLogger } from '../base/logger.ts';
import { AccountTokenProvider } from './account-token-provider.ts';
import { openAccountAuth, readSignInSettings, writeSignInSettings } from './account-settings.ts';
import { SignedOutError, SignInError } from './auth-errors.ts';
import { resolveAuthority } from './authority.ts';
import { SecretStoreCachePlugin } from './cache-plugin.ts';
import { MsalAuth } from './msal-auth.ts';
import { FileSecretStore, KeyringSecretStore, TOKEN_CACHE_FILE } from './secret-store.ts';

const CLIENT_ID = '0b5c8f6e-0000-4000-8000-00000000abcd';

describe('MsalAuth against the emulator', () => {
  let h: EmulatorHandle;
  let root: string;
  const log = createMemoryLogger('debug', 'auth-test');
  let n = 0;

  beforeAll(async () => {
    h = await startEmulator({ strictTokens: true });
    h.emulator.identity.setKnobs({ deviceIntervalSec: 0.1 });
    root = await mkdtemp(path.join(os.tmpdir(), 'onemount-auth-'));
  });
  afterAll(async () => {
    await h.close();
    await rm(root, { recursive: true, force: true });
  });

  /** A fresh account with its own config dir and file token cache. */
  async function account(tenant = 'consumers') {
    const name = `acct${++n}`;
    const configDir = path.join(root, 'config', name);
    const opened = await openAccountAuth({ account: name, configDir, logger: log.logger, settings: { clientId: CLIENT_ID, authority: tenant, emulatorUrl: h.apiUrl, store: 'file' } });
    return { name, configDir, ...opened };
  }

  async function graphStatus(token: string): Promise<number> {
    return (await fetch(`${h.apiUrl}/me/drive`, { headers: { authorization: `Bearer ${token}` } })).status;
  }

  it('interactive: the emitted URL opens the consent page; accepting form_posts to MSAL\'s loopback; the token works on the API', async () => {
    const { auth, configDir } = await account();
    const opened: string[] = [];
    let browser: Promise<unknown> | undefined;
    const who = await auth.signInInteractive({
      openUrl: (url) => {
        opened.push(url);
        // The "browser" runs beside the flow, as a real one would.
        browser = playBrowser(url, { identityOrigin: h.emulator.apiBase, choose: 'accept' });
      },
      timeoutMs: 30_000,
    });
    const pages = (await browser) as Array<{ url: string; html: string }>;
    expect(opened).toHaveLength(1);
    expect(opened[0]!.startsWith(`${h.emulator.apiBase}/consumers/oauth2/v2.0/authorize?`)).toBe(true);
    expect(new URL(opened[0]!).searchParams.get('code_challenge_method')).toBe('S256');
    expect(pages.at(-1)!.html).toContain('OneMount is signed in');
    expect(who.username).toBe(h.emulator.identity.user.username);
    expect(h.emulator.identity.grants.authorization_code).toBeGreaterThan(0);

    const token = await auth.acquireSilent(false);
    expect(await graphStatus(token.token)).toBe(200);
    // The cache file and its folder are private.
    expect((await stat(path.join(configDir, TOKEN_CACHE_FILE))).mode & 0o777).toBe(0o600);
    expect((await stat(configDir)).mode & 0o777).toBe(0o700);
  });

  it('interactive: declining at the consent page fails the sign-in without an account', async () => {
    const { auth } = await account();
    await expect(
      auth.signInInteractive({ openUrl: (url) => void playBrowser(url, { identityOrigin: h.emulator.apiBase, choose: 'deny' }), timeoutMs: 30_000 }),
    ).rejects.toBeInstanceOf(SignInError);
    expect(await auth.signedInAccount()).toBeUndefined();
  });

  it('interactive: nobody opens the page → a timeout ends the flow and frees the loopback', async () => {
    const { auth } = await account();
    let url = '';
    const err = await auth.signInInteractive({ openUrl: (u) => void (url = u), timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SignInError);
    expect((err as SignInError).code).toBe('SIGN_IN_TIMEOUT');
    const redirect = new URL(new URL(url).searchParams.get('redirect_uri')!);
    await expect(fetch(`http://127.0.0.1:${redirect.port}/`)).rejects.toThrow();
  });

  it('device code: the code is shown, polling waits until the user approves, then the account is signed in', async () => {
    const { auth } = await account('organizations');
    const prompts: string[] = [];
    const waitingBefore = new Set(h.emulator.identity.pendingDeviceCodes());
    const since = h.emulator.log.lastSeq;
    const signingIn = auth.signInWithDeviceCode({
      onCode: (p) => {
        prompts.push(p.userCode);
        expect(p.verificationUri.startsWith(h.emulator.apiBase)).toBe(true);
        expect(p.message).toContain(p.userCode);
      },
    });
    const code = await waitFor(() => h.emulator.identity.pendingDeviceCodes().find((c) => !waitingBefore.has(c)));
    // A few polls come back authorization_pending before the user gets to it.
    await waitFor(() => (pendingPolls(h, since) >= 2 ? true : undefined));
    h.emulator.identity.approveDevice(code);
    const who = await signingIn;
    expect(prompts).toEqual([code]);
    expect(who.username).toBe(h.emulator.identity.user.username);
    expect(await graphStatus((await auth.acquireSilent(false)).token)).toBe(200);
  });

  it('device code: cancelling stops polling with SIGN_IN_CANCELLED', async () => {
    const { auth } = await account();
    const ac = new AbortController();
    const since = h.emulator.log.lastSeq;
    // Cancelled while polling: once a poll came back authorization_pending.
    const polling = waitFor(() => (pendingPolls(h, since) >= 1 ? true : undefined)).then(() => ac.abort());
    const signingIn = auth.signInWithDeviceCode({ onCode: () => undefined, signal: ac.signal });
    await expect(signingIn).rejects.toMatchObject({ code: 'SIGN_IN_CANCELLED' });
    await polling;
  });

  it('silent refresh: an expired access token is replaced through the refresh token (rotated), a revoked grant means signed out', async () => {
    const { auth } = await signedIn();
    const first = await auth.acquireSilent(false);
    h.emulator.identity.expireAccessTokens();
    expect(await graphStatus(first.token)).toBe(401);
    const refreshes = h.emulator.identity.grants.refresh_token;
    const second = await auth.acquireSilent(true);
    expect(second.token === first.token).toBe(false); // booleans: a failing assertion must not print a token
    expect(h.emulator.identity.grants.refresh_token).toBe(refreshes + 1);
    expect(await graphStatus(second.token)).toBe(200);

    h.emulator.identity.setKnobs({ failRefresh: true });
    try {
      await expect(auth.acquireSilent(true)).rejects.toBeInstanceOf(SignedOutError);
    } finally {
      h.emulator.identity.setKnobs({ failRefresh: false });
    }
  });

  it('the token provider refreshes before expiry, turns signed out with one event, and comes back after a new sign-in', async () => {
    const { auth } = await signedIn();
    let clock = Date.now();
    const provider = new AccountTokenProvider({ source: auth, logger: log.logger, now: () => clock, recheckMs: 1000 });
    const events: string[] = [];
    provider.events.on('signed-out', () => void events.push('out'));
    provider.events.on('signed-in', () => void events.push('in'));
    const signal = new AbortController().signal;
    const t1 = await provider.getToken(signal);
    expect((await provider.getToken(signal)) === t1).toBe(true);
    // Within the margin before expiry, the next request gets a fresh token.
    clock += 3600_000 - 60_000;
    const t2 = await provider.getToken(signal);
    expect(t2 === t1).toBe(false);

    h.emulator.identity.setKnobs({ failRefresh: true });
    await expect(provider.refreshToken(signal)).rejects.toBeInstanceOf(SignedOutError);
    await expect(provider.getToken(signal)).rejects.toBeInstanceOf(SignedOutError);
    expect(provider.state).toBe('signed-out');
    expect(events).toEqual(['out']);
    h.emulator.identity.setKnobs({ failRefresh: false });

    // Signing in again (device code here) puts a new refresh token in the shared cache.
    await approveDeviceSignIn(auth);
    clock += 1500;
    expect(await graphStatus(await provider.getToken(signal))).toBe(200);
    expect(provider.state).toBe('signed-in');
    expect(events).toEqual(['out', 'in']);
  });

  it('sign-out removes the account and every token from the cache file', async () => {
    const { auth, configDir } = await signedIn();
    const file = path.join(configDir, TOKEN_CACHE_FILE);
    const before = await readFile(file, 'utf8');
    const issued = h.emulator.identity.issuedTokens();
    expect(issued.some((t) => before.includes(t))).toBe(true);
    await auth.signOut();
    const after = await readFile(file, 'utf8');
    expect(issued.some((t) => after.includes(t))).toBe(false);
    expect(await auth.signedInAccount()).toBeUndefined();
    await expect(auth.acquireSilent(false)).rejects.toBeInstanceOf(SignedOutError);
  });

  it('a second MsalAuth over the same cache (another process) sees the sign-in', async () => {
    const { auth, configDir, name } = await signedIn();
    const other = new MsalAuth({
      account: name,
      clientId: CLIENT_ID,
      authority: resolveAuthority('consumers', h.apiUrl),
      cachePlugin: new SecretStoreCachePlugin(new FileSecretStore(path.join(configDir, TOKEN_CACHE_FILE))),
      logger: log.logger,
    });
    expect((await other.signedInAccount())?.username).toBe((await auth.signedInAccount())?.username);
    expect(await graphStatus((await other.acquireSilent(false)).token)).toBe(200);
  });

  it('sign-in settings round-trip; the keyring is reported unavailable where secret-tool is missing', async () => {
    const dir = path.join(root, 'settings');
    await writeSignInSettings(dir, { clientId: CLIENT_ID, authority: 'consumers', store: 'file', username: 'x@y' });
    expect(await readSignInSettings(dir)).toMatchObject({ clientId: CLIENT_ID, store: 'file' });
    expect((await stat(path.join(dir, 'sign-in.json'))).mode & 0o777).toBe(0o600);
    expect(await KeyringSecretStore.available('/nonexistent/secret-tool')).toBe(false);
  });

  it('a loosened token cache file is refused', async () => {
    const file = path.join(root, 'loose', 'cache.json');
    const store = new FileSecretStore(file);
    await store.write('{}');
    const { chmod } = await import('node:fs/promises');
    await chmod(file, 0o644);
    await expect(store.read()).rejects.toMatchObject({ code: 'TOKEN_STORE' });
  });

  it('no issued token or code appears in anything logged', () => {
    const text = log.lines().join('\n');
    expect(text.length).toBeGreaterThan(0);
    const issued = h.emulator.identity.issuedTokens();
    expect(issued.length).toBeGreaterThan(5);
    for (const t of issued) expect(text.includes(t)).toBe(false);
  });

  async function signedIn() {
    const a = await account();
    await approveDeviceSignIn(a.auth);
    return a;
  }

  async function approveDeviceSignIn(auth: MsalAuth): Promise<void> {
    let code: string | undefined;
    const signingIn = auth.signInWithDeviceCode({ onCode: (p) => void (code = p.userCode) });
    h.emulator.identity.approveDevice(await waitFor(() => code));
    await signingIn;
  }
});

/** Device-code polls answered authorization_pending since the log position `since`. */
function pendingPolls(h: EmulatorHandle, since: number): number {
  return h.emulator.log.list({ since, listener: 'identity', method: 'POST', pathIncludes: '/token' }).filter((e) => e.status === 400).length;
}

async function waitFor<T>(probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
