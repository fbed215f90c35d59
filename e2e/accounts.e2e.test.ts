/**
 * Issue 6 end to end: two accounts on two strict emulators (each only accepts the tokens its own
 * identity provider issued), signed in through the real `onemount sign-in` (device code for one,
 * the browser flow for the other, with this test playing the browser), mounted at once. Then: an
 * expired access token is refreshed without anyone noticing; a refresh that needs the user turns
 * the account signed out while a written file waits; signing in again lets it upload; sign-out
 * stops the mount and removes the tokens; no token appears in any log or output.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EmulatorProcess } from '../emulator/src/spawn.ts';
import { playBrowser } from '../emulator/src/test-browser.ts';
import type { EngineStatus } from '../src-shared/ipc/contract.ts';
import { EngineProcess, eventually, lazyUnmount, run, newRun } from './harness.ts';

const REPO = path.resolve(import.meta.dirname, '..');
const ONEMOUNT = path.join(REPO, 'src-main', 'app', 'cli', 'onemount.js');

interface Account {
  name: string;
  emulator: EmulatorProcess;
  mountpoint: string;
  engine?: EngineProcess;
}

let root: string;
let env: NodeJS.ProcessEnv;
const accounts: Account[] = [];
/** Everything the programs printed, for the final token grep. */
const outputs: string[] = [];

function cli(args: string[]): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [ONEMOUNT, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      outputs.push(out);
      resolve(code);
    }),
  );
  return { child, out: () => out, exited };
}

async function onemount(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await run(process.execPath, [ONEMOUNT, ...args], { env, timeoutMs: 60_000 });
  outputs.push(r.stdout, r.stderr);
  return r;
}

async function status(account: string): Promise<EngineStatus> {
  const r = await onemount(['status', '--json', '--account', account]);
  if (r.code !== 0) throw new Error(`status exited with ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as EngineStatus;
}

/** `onemount sign-in --device-code`, with the code approved "on another device" through the admin side. */
async function signInWithDeviceCode(a: Account): Promise<string> {
  const signIn = cli(['sign-in', '--device-code', '--emulator-url', a.emulator.info.apiUrl, '--account', a.name, '--timeout', '60']);
  const code = await eventually('the device code on screen', async () => /enter the code\s+(\S+)/.exec(signIn.out())?.[1]);
  await a.emulator.admin.approveDeviceCode(code);
  expect(await signIn.exited).toBe(0);
  return signIn.out();
}

const configDir = (a: string) => path.join(env.XDG_CONFIG_HOME!, 'onemount', a);
const stateDir = (a: string) => path.join(env.XDG_STATE_HOME!, 'onemount', a);

describe('accounts', () => {
  beforeAll(async () => {
    ({ root, env } = await newRun());
    delete env.ONEMOUNT_CLIENT_ID;
    for (const name of ['alice', 'bob']) {
      const emulator = await EmulatorProcess.start({ dataDir: path.join(root, `emulator-${name}`), strictTokens: true });
      accounts.push({ name, emulator, mountpoint: path.join(root, `mnt-${name}`) });
      await emulator.admin.setIdentityUser(`${name}@example.test`);
      await emulator.admin.identityKnobs({ deviceIntervalSec: 0.2 });
      await emulator.admin.remote({ op: 'write', path: `${name}.txt`, content: `${name}'s own file\n` });
    }
    await writeFile(path.join(root, 'pids'), accounts.map((a) => `emulator ${a.emulator.child.pid}`).join('\n') + '\n');
  });

  afterAll(async () => {
    for (const a of accounts) {
      await a.engine?.stop().catch(() => undefined);
      await lazyUnmount(a.mountpoint).catch(() => undefined);
      await a.emulator.stop();
    }
    await rm(root, { recursive: true, force: true });
  });

  it('signs in one account with a device code and the other in the browser', async () => {
    const [alice, bob] = accounts as [Account, Account];
    const out = await signInWithDeviceCode(alice);
    expect(out).toMatch(/Signed in as alice@example\.test/);
    expect(out).toMatch(/Warning: no desktop keyring/);

    const signIn = cli(['sign-in', '--no-browser', '--emulator-url', bob.emulator.info.apiUrl, '--account', 'bob', '--authority', 'organizations', '--timeout', '60']);
    const url = await eventually('the sign-in URL on screen', async () => /^\s+(http\S+authorize\S+)$/m.exec(signIn.out())?.[1]);
    const pages = await playBrowser(url, { identityOrigin: new URL(bob.emulator.info.apiUrl).origin, choose: 'accept' });
    expect(pages.at(-1)!.html).toContain('Signed in');
    expect(await signIn.exited).toBe(0);
    expect(signIn.out()).toMatch(/Signed in as bob@example\.test/);

    for (const a of ['alice', 'bob']) {
      expect((await stat(configDir(a))).mode & 0o777).toBe(0o700);
      expect((await stat(path.join(configDir(a), 'msal-token-cache.json'))).mode & 0o777).toBe(0o600);
      expect((await stat(path.join(configDir(a), 'sign-in.json'))).mode & 0o777).toBe(0o600);
    }
  });

  it('mounts both accounts at once, each with its own drive, cache and state', async () => {
    for (const a of accounts) {
      a.engine = await EngineProcess.start({ mountpoint: a.mountpoint, apiUrl: a.emulator.info.apiUrl, env, account: a.name });
    }
    const [alice, bob] = accounts as [Account, Account];
    expect(await readFile(path.join(alice.mountpoint, 'alice.txt'), 'utf8')).toBe("alice's own file\n");
    expect(await readFile(path.join(bob.mountpoint, 'bob.txt'), 'utf8')).toBe("bob's own file\n");
    expect((await readdir(alice.mountpoint)).includes('bob.txt')).toBe(false);
    expect(alice.engine!.stdout).toMatch(/Signed in as alice@example\.test/);
    expect((await status('alice')).auth).toEqual({ state: 'signed-in', user: 'alice@example.test' });
    expect((await status('bob')).auth).toEqual({ state: 'signed-in', user: 'bob@example.test' });
    expect(await readdir(path.join(env.XDG_CACHE_HOME!, 'onemount'))).toEqual(expect.arrayContaining(['alice', 'bob']));
  });

  it('an expired access token is refreshed transparently', async () => {
    const alice = accounts[0]!;
    const before = (await (await fetch(`${alice.emulator.info.adminUrl}/identity`)).json()) as { grants: { refresh_token: number } };
    await alice.emulator.admin.expireAccessTokens();
    await writeFile(path.join(alice.mountpoint, 'after-expiry.txt'), 'written after the token expired\n');
    await eventually('the file on the server', async () => ((await alice.emulator.admin.content('after-expiry.txt').catch(() => undefined))?.toString() === 'written after the token expired\n' ? true : undefined), 30_000);
    const after = (await (await fetch(`${alice.emulator.info.adminUrl}/identity`)).json()) as { grants: { refresh_token: number } };
    expect(after.grants.refresh_token).toBeGreaterThan(before.grants.refresh_token);
    expect((await status('alice')).auth?.state).toBe('signed-in');
  });

  it('a refresh that needs the user signs the account out; the written file waits and uploads after signing in again', async () => {
    const alice = accounts[0]!;
    await alice.emulator.admin.identityKnobs({ failRefresh: true });
    await alice.emulator.admin.expireAccessTokens();
    await writeFile(path.join(alice.mountpoint, 'while-signed-out.txt'), 'kept until the account signs in again\n');
    await eventually('the signed-out state', async () => ((await status('alice')).auth?.state === 'signed-out' ? true : undefined), 30_000);
    const waiting = await status('alice');
    expect(waiting.transfers.some((t) => t.path?.endsWith('while-signed-out.txt'))).toBe(true);
    await expect(alice.emulator.admin.content('while-signed-out.txt')).rejects.toThrow(/404/);

    await alice.emulator.admin.identityKnobs({ failRefresh: false });
    const out = await signInWithDeviceCode(alice);
    expect(out).toMatch(/Signed in as alice@example\.test/);
    await eventually('the waiting file on the server', async () => ((await alice.emulator.admin.content('while-signed-out.txt').catch(() => undefined))?.toString() === 'kept until the account signs in again\n' ? true : undefined), 60_000);
    expect((await status('alice')).auth?.state).toBe('signed-in');
  });

  it('sign-out stops the mount and removes the tokens; the other account keeps running', async () => {
    const [alice, bob] = accounts as [Account, Account];
    const r = await onemount(['sign-out', '--account', 'bob']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Signed out of account 'bob'/);
    await eventually('bob\'s engine to exit', async () => (bob.engine!.exitStatus ? true : undefined), 60_000);
    expect(bob.engine!.exitStatus!.code).toBe(0);
    await expect(stat(path.join(configDir('bob'), 'msal-token-cache.json'))).rejects.toThrow(/ENOENT/);
    await expect(stat(path.join(configDir('bob'), 'sign-in.json'))).rejects.toThrow(/ENOENT/);
    expect(await readFile(path.join(alice.mountpoint, 'alice.txt'), 'utf8')).toBe("alice's own file\n");
    const mount = await onemount(['mount', bob.mountpoint, '--account', 'bob']);
    expect(mount.code).not.toBe(0);
    expect(mount.stderr).toMatch(/not signed in/);
  });

  it('no token issued during the run appears in any log, output or request log', async () => {
    await accounts[0]!.engine!.stop();
    const tokens = (await Promise.all(accounts.map((a) => a.emulator.admin.issuedTokens()))).flat();
    expect(tokens.length).toBeGreaterThan(4);
    const texts: string[] = [...outputs, ...accounts.map((a) => `${a.engine?.stdout ?? ''}${a.engine?.stderr ?? ''}`)];
    for (const a of ['alice', 'bob']) {
      for (const f of await readdir(stateDir(a))) if (f.endsWith('.log')) texts.push(await readFile(path.join(stateDir(a), f), 'utf8'));
    }
    for (const a of accounts) texts.push(JSON.stringify(await a.emulator.admin.log()));
    const all = texts.join('\n');
    expect(all).toMatch(/signed in/);
    const leaked = tokens.filter((t) => all.includes(t)).length;
    expect(leaked).toBe(0);
  });
});
