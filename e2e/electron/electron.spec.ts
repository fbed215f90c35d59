/**
 * The desktop app as a person runs it, in a real Electron: it starts the engine itself (on the
 * emulator's drive), the panel shows it through the preload's `window.onemount` and nothing else,
 * the mount survives a crash of the panel's renderer, and Quit stops the engine through its
 * graceful shutdown before the app exits.
 *
 * Skips where the Electron binary is missing (the electron package downloads it on first use, which
 * fails on the development machines). The binary is found without require('electron'), which would
 * try that download: ELECTRON_PATH, or the path the electron package recorded after installing it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { _electron as electron, expect, test, type ElectronApplication, type Page } from '@playwright/test';
import { EmulatorProcess } from '../../emulator/src/spawn.ts';
import { eventually, isMounted, lazyUnmount, runOk, newRun } from '../harness.ts';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const MAIN = path.join(ROOT, 'dist', 'electron', 'main.js');
const ACCOUNT = 'e2e-desktop';
const SKIP_REASON = 'the Electron binary is not installed (it cannot be downloaded on this machine)';
const SCREENSHOTS = path.join(ROOT, 'test-results', 'electron-screenshots');

function electronBinary(): string | undefined {
  const given = process.env.ELECTRON_PATH;
  if (given) return existsSync(given) ? given : undefined;
  const pkg = path.join(ROOT, 'node_modules', 'electron');
  const recorded = path.join(pkg, 'path.txt');
  if (!existsSync(recorded)) return undefined;
  const binary = path.join(pkg, 'dist', readFileSync(recorded, 'utf8').trim());
  return existsSync(binary) ? binary : undefined;
}

const binary = electronBinary();

test.describe.configure({ mode: 'serial' });
test.skip(binary === undefined, SKIP_REASON);
// The list reporter shows skips without their reason: say it where a CI log shows it.
if (binary === undefined) console.log(`Electron tests skipped: ${SKIP_REASON}`);

let root: string;
let env: NodeJS.ProcessEnv;
let emulator: EmulatorProcess;
let app: ElectronApplication;
let panel: Page;
const mountpoint = () => path.join(root, 'mnt');

test.beforeAll(async () => {
  test.setTimeout(240_000);
  if (!existsSync(path.join(ROOT, 'dist', 'renderer', 'index.html'))) await runOk('npx', ['vite', 'build', 'src-renderer'], { cwd: ROOT, timeoutMs: 180_000 });
  await runOk(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src-main', 'app', 'electron', 'build.ts')], { cwd: ROOT, timeoutMs: 180_000 });
  // The app starts the compiled engine (dist/engine/onemount.js), as the packaged app does.
  await runOk(process.execPath, [path.join(ROOT, 'src-main', 'app', 'cli', 'build-engine.js')], { cwd: ROOT, timeoutMs: 180_000 });

  ({ root, env } = await newRun({ ONEMOUNT_NODE: process.execPath }));
  emulator = await EmulatorProcess.start({ dataDir: path.join(root, 'emulator') });
  await emulator.admin.remote({ op: 'mkdir', path: 'Docs' });
  await emulator.admin.remote({ op: 'write', path: 'Docs/hello.txt', content: 'hello from the emulator\n' });

  app = await electron.launch({
    executablePath: binary!,
    args: [MAIN, '--no-sandbox', '--disable-gpu', '--account', ACCOUNT, '--mount', mountpoint(), '--emulator-url', emulator.info.apiUrl],
    env: env as Record<string, string>,
    timeout: 60_000,
  });
  panel = await app.firstWindow();
});

test.afterAll(async () => {
  await app?.close().catch(() => undefined);
  if (root) {
    await lazyUnmount(mountpoint()).catch(() => undefined);
    await emulator?.stop();
    if (!(await isMounted(mountpoint()).catch(() => true))) await rm(root, { recursive: true, force: true });
  }
});

async function shoot(name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true });
  await panel.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`) });
}

test('the panel comes from app://onemount with no Node in the page and only window.onemount', async () => {
  expect(panel.url()).toMatch(/^app:\/\/onemount\/index\.html/);
  const page = await panel.evaluate(() => {
    const g = globalThis as unknown as { onemount: object; require?: unknown; process?: unknown };
    const d = Object.getOwnPropertyDescriptor(globalThis, 'onemount');
    return {
      api: Object.keys(g.onemount).sort(),
      frozen: Object.isFrozen(g.onemount),
      replaceable: d?.writable !== false || d?.configurable !== false,
      require: typeof g.require,
      process: typeof g.process,
    };
  });
  expect(page).toEqual({ api: ['call', 'on', 'onLink'], frozen: true, replaceable: false, require: 'undefined', process: 'undefined' });
  // The CSP forbids inline scripts: one injected into the page does not run.
  // (a string: this file is typechecked without the DOM library)
  // An allowed inline script runs as it is appended; a refused one raises securitypolicyviolation.
  const ranInline = await panel.evaluate(`(async () => {
    const refused = new Promise((r) => document.addEventListener('securitypolicyviolation', r, { once: true }));
    const s = document.createElement('script');
    s.textContent = 'globalThis.__inline = true';
    document.head.append(s);
    if (globalThis.__inline === true) return true;
    await refused;
    return globalThis.__inline === true;
  })()`);
  expect(ranInline).toBe(false);
});

test('the app started the engine: the drive is mounted and the panel shows it online', async () => {
  await expect(panel.getByTestId('connectivity')).toHaveText('Online', { timeout: 90_000 });
  const names = await eventually('the mount to list Docs', async () => ((await readdir(mountpoint())).includes('Docs') ? await readdir(path.join(mountpoint(), 'Docs')) : undefined), 60_000);
  expect(names).toContain('hello.txt');
  const status = await panel.evaluate(() => (globalThis as unknown as { onemount: { call(m: string, p: unknown): Promise<{ mountpoint: string; pid: number }> } }).onemount.call('status', {}));
  expect(status.mountpoint).toBe(mountpoint());
  await writeFile(path.join(root, 'pids'), `engine ${status.pid}\nemulator ${emulator.child.pid}\n`);
  await shoot('01-panel-online');
});

test('the main process refuses requests outside the contract, with their error code', async () => {
  const refused = await panel.evaluate(async () => {
    const api = (globalThis as unknown as { onemount: { call(m: string, p: unknown): Promise<unknown> } }).onemount;
    const codes: string[] = [];
    for (const [m, p] of [
      ['pause', { durationMs: -1 }],
      ['runShell', {}],
    ] as const) {
      try {
        await api.call(m, p);
        codes.push('accepted');
      } catch (e) {
        codes.push(String((e as { code?: unknown }).code));
      }
    }
    return codes;
  });
  expect(refused).toEqual(['BAD_PARAMS', 'BAD_PARAMS']);
});

test('the mount outlives a crash of the panel, which comes back', async () => {
  await app.evaluate(({ BrowserWindow }) => BrowserWindow.getAllWindows()[0]!.webContents.forcefullyCrashRenderer());
  expect(await readdir(path.join(mountpoint(), 'Docs'))).toContain('hello.txt');
  // main.ts reloads the page in the same window; take whichever Page Playwright now has for it.
  await expect
    .poll(async () => {
      const w = app.windows()[0];
      return w ? await w.getByTestId('connectivity').textContent({ timeout: 1000 }).catch(() => null) : null;
    }, { timeout: 60_000 })
    .toBe('Online');
  panel = app.windows()[0]!;
});

test('first run: start on login is on (the autostart entry exists) and notifications are on', async () => {
  const settings = await panel.evaluate(() => (globalThis as unknown as { onemount: { call(m: string, p: unknown): Promise<{ startOnLogin: boolean; notifications: boolean }> } }).onemount.call('settings', {}));
  expect(settings).toMatchObject({ startOnLogin: true, notifications: true });
  const entry = await readFile(path.join(env.XDG_CONFIG_HOME!, 'autostart', 'onemount.desktop'), 'utf8');
  expect(entry).toMatch(/^Exec=.* --hidden$/m);
});

test('Quit stops the engine through its shutdown, then the app exits and the drive is unmounted', async () => {
  const closed = new Promise<void>((resolve) => app.process().once('exit', () => resolve()));
  await panel.evaluate(() => (globalThis as unknown as { onemount: { call(m: string, p: unknown): Promise<unknown> } }).onemount.call('quit', {}));
  await closed;
  expect(await isMounted(mountpoint())).toBe(false);
});
