/**
 * 10 000 queued uploads in the real renderer: the list renders only the rows in view, scrolls to the
 * end, and stays keyboard-reachable; plus the states the emulator's engine cannot be put in on
 * demand. The page gets a scripted `window.onemount` (the preload's seat), so these check the
 * renderer alone; panel.spec.ts covers it against a real engine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { createMemoryLogger } from '../../src-main/base/logger.ts';
import { BUILT_RENDERER_DIR, UiServer } from '../../src-main/app/ui/ui-server.ts';
import { shoot } from './panel-rig.ts';
import { installScriptedApi } from './scripted-api.ts';

let ui: UiServer;
let dir: string;

test.beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'onemount-ui-lists-'));
  ui = await UiServer.start({ staticDir: BUILT_RENDERER_DIR, socketPath: path.join(dir, 'no-engine.sock'), logger: createMemoryLogger().logger });
});

test.afterAll(async () => {
  await ui?.close();
  rmSync(dir, { recursive: true, force: true });
});

test('10 000 queued uploads render only the rows in view and scroll to the end', async ({ page }, info) => {
  const now = Date.now();
  const transfers = Array.from({ length: 10_000 }, (_, i) => ({
    id: `t${i}`,
    itemId: `i${i}`,
    path: `/Camera/IMG_${String(i).padStart(5, '0')}.jpg`,
    direction: 'upload',
    state: i < 2 ? 'active' : 'queued',
    bytes: i < 2 ? 1_500_000 : 0,
    total: 4_000_000,
    ...(i < 2 ? { bytesPerSecond: 1_000_000 } : {}),
    updatedAt: now,
  }));
  const status = { account: 'scripted', mountpoint: '/home/me/OneDrive', state: 'ready', items: 10_000, cachedBytes: 0, transfers, pid: 1, connectivity: { state: 'online', since: now } };
  await installScriptedApi(page, { answers: { status, subscribe: { ok: true }, conflicts: { conflicts: [] } } });
  await page.goto(ui.url);
  const uploads = page.getByTestId('uploads');
  await expect(page.getByTestId('uploads-count')).toHaveText('10000');
  const list = uploads.getByRole('list', { name: 'Uploads' });
  const rendered = await list.getByRole('listitem').count();
  expect(rendered).toBeGreaterThan(0);
  expect(rendered).toBeLessThan(30);
  await expect(list.getByRole('listitem').first()).toContainText('1.5 MB of 4.0 MB · 1.0 MB/s · 3 s left');
  await shoot(page, info, '20-ten-thousand-queued');
  // Keyboard: the list takes focus and End scrolls it to the last row.
  await list.focus();
  await page.keyboard.press('End');
  await expect(list.getByText('IMG_09999.jpg')).toBeVisible();
  expect(await list.getByRole('listitem').count()).toBeLessThan(30);
  await expect(list.getByRole('listitem').last()).toHaveAttribute('aria-posinset', '10000');
  await shoot(page, info, '21-ten-thousand-scrolled');
});

const HOUR = 3600_000;

function scriptedStatus(o: Record<string, unknown>) {
  const now = Date.now();
  return {
    account: 'default',
    mountpoint: '/home/me/OneDrive',
    state: 'ready',
    items: 1200,
    cachedBytes: 2_400_000_000,
    quota: { total: 1_099_511_627_776, used: 312_000_000_000, remaining: 787_511_627_776 },
    transfers: [],
    pid: 1,
    connectivity: { state: 'online', since: now - HOUR },
    auth: { state: 'signed-in', user: 'ada@example.com' },
    ...o,
  };
}

test('signed out: the banner offers sign-in first; a device code shows in large type', async ({ page }, info) => {
  await installScriptedApi(page, {
    answers: { status: scriptedStatus({ auth: { state: 'signed-out' } }), subscribe: { ok: true }, conflicts: { conflicts: [] } },
    events: [{ event: 'signInPrompt', payload: { account: 'default', url: 'https://microsoft.com/devicelogin', userCode: 'FQK-29WX' } }],
  });
  await page.goto(ui.url);
  const banner = page.getByTestId('banner');
  await expect(banner).toHaveAttribute('data-kind', 'signed-out');
  await expect(banner.getByRole('button', { name: 'Sign in' })).toBeVisible();
  await expect(page.getByTestId('sign-in-prompt')).toContainText('FQK-29WX');
  await shoot(page, info, '30-signed-out');
});

test('throttled, with retrying and failed transfers', async ({ page }, info) => {
  const now = Date.now();
  const transfers = [
    { id: 'r', itemId: 'r', path: '/Work/slides.pptx', direction: 'upload', state: 'retrying', bytes: 3_000_000, total: 9_000_000, retryAt: now + 30_000, error: { code: 'HTTP_503', message: 'the service is busy' }, updatedAt: now },
    { id: 'w', itemId: 'w', path: '/Work/notes.md', direction: 'upload', state: 'waiting-for-network', bytes: 0, total: 4_000, updatedAt: now },
    { id: 'f', itemId: 'f', path: '/Video/holiday.mov', direction: 'upload', state: 'failed', bytes: 0, total: 300_000_000_000, error: { code: 'TOO_LARGE', message: 'larger than the 250 GB OneDrive allows' }, updatedAt: now },
  ];
  await installScriptedApi(page, { answers: { status: scriptedStatus({ throttledUntil: now + 45_000, transfers }), subscribe: { ok: true }, conflicts: { conflicts: [] } } });
  await page.goto(ui.url);
  await expect(page.getByTestId('banner')).toHaveAttribute('data-kind', 'throttled');
  await expect(page.getByTestId('banner')).toContainText(/Resuming in 4\d s/);
  await expect(page.getByTestId('uploads')).toContainText(/Retrying in \d+ s/);
  await expect(page.getByTestId('uploads')).toContainText('Waiting for network');
  await expect(page.getByTestId('errors')).toContainText('Failed: larger than the 250 GB OneDrive allows');
  await shoot(page, info, '31-throttled-retrying-failed');
  await page.getByRole('button', { name: 'Retry holiday.mov' }).click();
  await expect(page.getByTestId('notice')).toContainText('Could not retry: retryTransfer is not available in this scripted engine');
  await page.emulateMedia({ colorScheme: 'dark' });
  await shoot(page, info, '32-dark-theme');
});

test('the panel is keyboard reachable: the pause menu opens, focuses its first item and closes on Escape', async ({ page }, info) => {
  await installScriptedApi(page, { answers: { status: scriptedStatus({}), subscribe: { ok: true }, conflicts: { conflicts: [] } } });
  await page.goto(ui.url);
  await expect(page.getByTestId('connectivity')).toHaveText('Online');
  const pause = page.getByRole('button', { name: 'Pause syncing ▸' });
  for (let i = 0; i < 20 && !(await pause.evaluate((el) => el === el.ownerDocument.activeElement)); i++) await page.keyboard.press('Tab');
  await expect(pause).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('menuitem', { name: '2 hours' })).toBeFocused();
  await shoot(page, info, '33-pause-menu-keyboard');
  await page.keyboard.press('Escape');
  await expect(page.getByRole('menu')).toHaveCount(0);
  // Unsupported calls answer with a notice, not silence.
  await pause.click();
  await page.getByRole('menuitem', { name: '8 hours' }).click();
  await expect(page.getByTestId('notice')).toContainText('Could not pause: pause is not available in this scripted engine');
});

test('without an engine the panel says so and keeps trying', async ({ page }, info) => {
  await page.goto(ui.url);
  const banner = page.getByTestId('banner');
  await expect(banner).toHaveAttribute('data-kind', 'unreachable');
  await expect(banner).toContainText('the OneMount engine is not running');
  await expect(page.getByTestId('connectivity')).toHaveText('Engine not running');
  await shoot(page, info, '34-engine-not-running');
});

test('sharp at 200 % zoom', async ({ browser }, info) => {
  const context = await browser.newContext({ deviceScaleFactor: 2, viewport: { width: 480, height: 860 } });
  try {
    const page = await context.newPage();
    const now = Date.now();
    const transfers = [{ id: 'a', itemId: 'a', path: '/Documents/report.docx', direction: 'upload', state: 'active', bytes: 12_300_000, total: 100_000_000, bytesPerSecond: 4_200_000, updatedAt: now }];
    await installScriptedApi(page, { answers: { status: scriptedStatus({ transfers }), subscribe: { ok: true }, conflicts: { conflicts: [] } } });
    await page.goto(ui.url);
    await expect(page.getByTestId('uploads')).toContainText('12.3 MB of 100 MB · 4.2 MB/s · 21 s left');
    await shoot(page, info, '35-zoom-200');
  } finally {
    await context.close();
  }
});
