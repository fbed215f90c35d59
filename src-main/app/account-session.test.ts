/**
 * The engine side of sign-in, as the desktop app drives it over IPC: `signIn` answers with the page
 * to open (and pushes it as a signInPrompt event) while the flow continues; finishing it in the
 * browser signs the account in; a refresh that needs the user emits `auth` signed-out, signing in
 * again retries waiting uploads; `signOut` forgets the tokens and stops the mount.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, type EmulatorHandle } from '../../emulator/src/emulator.ts';
import { playBrowser } from '../../emulator/src/test-browser.ts';
import { createMemoryLogger } from '../base/logger.ts';
import { TaskRegistry } from '../lifecycle/task-registry.ts';
import { openAccountAuth, removeSignInSettings } from '../auth/account-settings.ts';
import { TOKEN_CACHE_FILE } from '../auth/secret-store.ts';
import { AccountSession, type SessionHost } from './account-session.ts';

describe('AccountSession', () => {
  let h: EmulatorHandle;
  let root: string;
  const log = createMemoryLogger('debug', 'session-test');

  beforeAll(async () => {
    h = await startEmulator({ strictTokens: true });
    root = await mkdtemp(path.join(os.tmpdir(), 'onemount-session-'));
  });
  afterAll(async () => {
    await h.close();
    await rm(root, { recursive: true, force: true });
  });

  it('signIn over IPC: the URL comes back at once, the browser finishes it, signed-out and back in drive the engine', async () => {
    const configDir = path.join(root, 'desk');
    const { auth, store } = await openAccountAuth({ account: 'desk', configDir, logger: log.logger, settings: { clientId: 'c-1', authority: 'consumers', emulatorUrl: h.apiUrl, store: 'file' } });
    const tasks = new TaskRegistry({ logger: log.logger });
    const events: Array<[string, unknown]> = [];
    const calls: string[] = [];
    const host: SessionHost = {
      tasks,
      retryUploads: () => void calls.push('retryUploads'),
      catchUp: () => void calls.push('catchUp'),
      emit: (event, payload) => void events.push([event, payload]),
      pushStatus: () => void calls.push('status'),
      shutdown: (reason) => void calls.push(`shutdown: ${reason}`),
    };
    const session = new AccountSession({
      auth,
      logger: log.logger,
      username: undefined,
      forget: async () => {
        await store.clear();
        await removeSignInSettings(configDir);
      },
    });
    session.attach(host);

    const { authorizationUrl } = await session.signIn();
    expect(authorizationUrl.startsWith(`${h.emulator.apiBase}/consumers/oauth2/v2.0/authorize?`)).toBe(true);
    expect(events[0]).toEqual(['signInPrompt', { account: 'desk', url: authorizationUrl }]);
    await playBrowser(authorizationUrl, { identityOrigin: h.emulator.apiBase, choose: 'accept' });
    await waitFor(() => events.some(([e, p]) => e === 'auth' && (p as { user?: string }).user === h.emulator.identity.user.username));
    expect(session.authState()).toEqual({ state: 'signed-in', user: h.emulator.identity.user.username });
    const signal = new AbortController().signal;
    expect((await fetch(`${h.apiUrl}/me/drive`, { headers: { authorization: `Bearer ${await session.tokenProvider.getToken(signal)}` } })).status).toBe(200);

    // The refresh needs the user: one auth event, nothing retried.
    h.emulator.identity.setKnobs({ failRefresh: true });
    await expect(session.tokenProvider.refreshToken(signal)).rejects.toMatchObject({ code: 'SIGNED_OUT' });
    expect(events.at(-1)).toEqual(['auth', { state: 'signed-out', user: h.emulator.identity.user.username }]);
    expect(calls).not.toContain('retryUploads');
    h.emulator.identity.setKnobs({ failRefresh: false });

    // Signing in again (from the app) brings waiting uploads and offline changes back at once.
    const again = await session.signIn();
    await playBrowser(again.authorizationUrl, { identityOrigin: h.emulator.apiBase, choose: 'accept' });
    await waitFor(() => calls.includes('retryUploads'));
    expect(calls).toContain('catchUp');
    expect(session.authState().state).toBe('signed-in');

    await session.signOut();
    expect(calls.at(-1)).toBe('shutdown: signed out');
    await expect(stat(path.join(configDir, TOKEN_CACHE_FILE))).rejects.toThrow(/ENOENT/);
    await tasks.stopAll(2000);
  });

  it('no token appears in the session log', () => {
    const text = log.lines().join('\n');
    const leaked = h.emulator.identity.issuedTokens().filter((t) => text.includes(t)).length;
    expect(leaked).toBe(0);
  });
});

async function waitFor(probe: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
