/**
 * Signing in from the panel through the emulator's identity provider: an account signed in once
 * (device code, the real `onemount sign-in`) loses its sign-in when a refresh needs the user; the
 * panel shows "Signed out", its [Sign in] opens the identity provider's page in a window, the person
 * accepts there, and the panel shows the account signed in again. The provider's real address
 * (https://login.test/…, as MSAL requires https) is routed to the emulator, as DNS would in real life.
 */
/* eslint-disable no-empty-pattern -- Playwright passes testInfo second, after an object pattern of fixtures */
import { spawn, type ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { EmulatorProcess } from '../../emulator/src/spawn.ts';
import { toReachable } from '../../emulator/src/test-browser.ts';
import { EngineProcess, eventually, lazyUnmount, newRun } from '../harness.ts';
import { shoot } from './panel-rig.ts';

const ONEMOUNT = path.resolve(import.meta.dirname, '../../src-main/app/cli/onemount.js');
const ACCOUNT = 'ui-sign-in';
const USER = 'ada@example.test';

let root: string;
let env: NodeJS.ProcessEnv;
let emulator: EmulatorProcess | undefined;
let engine: EngineProcess | undefined;
let ui: ChildProcess | undefined;
let url: string;
let page: Page;

function cli(args: string[]): { child: ChildProcess; out: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [ONEMOUNT, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (out += d));
  return { child, out: () => out, exited: new Promise((resolve) => child.once('exit', resolve)) };
}

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }) => {
  test.setTimeout(180_000);
  ({ root, env } = await newRun());
  emulator = await EmulatorProcess.start({ dataDir: path.join(root, 'emulator'), strictTokens: true });
  await writeFile(path.join(root, 'pids'), `emulator ${emulator.child.pid}\n`);
  await emulator.admin.setIdentityUser(USER);
  await emulator.admin.identityKnobs({ deviceIntervalSec: 0.2 });
  await emulator.admin.remote({ op: 'write', path: 'hello.txt', content: 'hello\n' });

  const signIn = cli(['sign-in', '--device-code', '--emulator-url', emulator.info.apiUrl, '--account', ACCOUNT, '--timeout', '60']);
  const code = await eventually('the device code on screen', async () => /enter the code\s+(\S+)/.exec(signIn.out())?.[1]);
  await emulator.admin.approveDeviceCode(code);
  expect(await signIn.exited, signIn.out()).toBe(0);

  engine = await EngineProcess.start({ mountpoint: path.join(root, 'mnt'), apiUrl: emulator.info.apiUrl, env, account: ACCOUNT });
  await writeFile(path.join(root, 'pids'), `emulator ${emulator.child.pid}\nengine ${engine.pid}\n`);
  const panel = cli(['ui', '--account', ACCOUNT]);
  ui = panel.child;
  url = await eventually('the panel address', async () => /Transfer panel: (\S+)/.exec(panel.out())?.[1]);

  const identityOrigin = new URL(emulator.info.apiUrl).origin;
  const context = await browser.newContext();
  // The identity provider's https address, served by the emulator (MSAL insists on https authorities).
  await context.route('https://login.test/**', async (route) => {
    const response = await route.fetch({ url: toReachable(route.request().url(), identityOrigin), maxRedirects: 0 });
    await route.fulfill({ response });
  });
  page = await context.newPage();
  await page.goto(url);
});

test.afterAll(async () => {
  await page?.context().close();
  if (ui && ui.exitCode === null) {
    const exited = new Promise((resolve) => ui!.once('exit', resolve));
    ui.kill('SIGTERM');
    await exited;
  }
  await engine?.stop();
  if (root) await lazyUnmount(path.join(root, 'mnt'));
  await emulator?.stop();
  if (root) await rm(root, { recursive: true, force: true });
});

test('a signed-in account shows its user', async ({}, info) => {
  await expect(page.getByTestId('account')).toHaveText(USER);
  await expect(page.getByTestId('connectivity')).toHaveText('Online');
  await shoot(page, info, '40-signed-in');
});

test('losing the sign-in shows "Signed out", and signing in from the panel brings it back', async ({}, info) => {
  await emulator!.admin.identityKnobs({ failRefresh: true });
  await emulator!.admin.expireAccessTokens();
  const banner = page.getByTestId('banner');
  // The next request meets the expired token and a refresh that needs the user.
  await page.getByRole('button', { name: 'Sync now' }).click();
  await expect(banner).toHaveAttribute('data-kind', 'signed-out', { timeout: 60_000 });
  await expect(page.getByTestId('connectivity')).toHaveText('Signed out');
  await shoot(page, info, '41-signed-out');

  await emulator!.admin.identityKnobs({ failRefresh: false });
  const opened = page.context().waitForEvent('page');
  await banner.getByRole('button', { name: 'Sign in' }).click();
  const signInPage = await opened;
  await signInPage.waitForLoadState();
  await expect(signInPage.getByText(`Sign in to the OneMount emulator as ${USER}`)).toBeVisible();
  await shoot(signInPage, info, '42-identity-provider');
  await signInPage.getByRole('button', { name: 'Accept' }).click();
  await expect(page.getByTestId('banner')).toHaveCount(0, { timeout: 60_000 });
  await expect(page.getByTestId('account')).toHaveText(USER);
  await shoot(page, info, '43-signed-in-again');
});
