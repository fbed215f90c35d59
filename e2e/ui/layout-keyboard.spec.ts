/**
 * Issue 14 in the renderer alone (a scripted `window.onemount`, as renderer-states.spec.ts has it):
 * the panel at 200 % zoom in its default window, long names in a narrow one, the pause menu by
 * keyboard and pointer, throttled rows, the totals and title while busy, and a tab left open after
 * the panel server went away. truthful-panel.spec.ts covers the parts that need a real engine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test, type Page } from '@playwright/test';
import { createMemoryLogger } from '../../src-main/base/logger.ts';
import { BUILT_RENDERER_DIR, UiServer } from '../../src-main/app/ui/ui-server.ts';
import { shoot } from './panel-rig.ts';
import { installScriptedApi } from './scripted-api.ts';

let ui: UiServer;
let dir: string;

test.beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'onemount-ui-layout-'));
  ui = await UiServer.start({ staticDir: BUILT_RENDERER_DIR, socketPath: path.join(dir, 'no-engine.sock'), logger: createMemoryLogger().logger });
});

test.afterAll(async () => {
  await ui?.close();
  rmSync(dir, { recursive: true, force: true });
});

const HOUR = 3600_000;

function status(o: Record<string, unknown> = {}) {
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

function uploads(n: number, o: { name?: (i: number) => string; folder?: string } = {}) {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => ({
    id: `u${i}`,
    itemId: `u${i}`,
    path: `${o.folder ?? '/Camera'}/${o.name?.(i) ?? `IMG_${1000 + i}.jpg`}`,
    direction: 'upload',
    state: i === 0 ? 'active' : 'queued',
    bytes: i === 0 ? 3_000_000 : 0,
    total: 21_000_000,
    ...(i === 0 ? { bytesPerSecond: 1_000_000 } : {}),
    updatedAt: now,
  }));
}

async function open(page: Page, s: Record<string, unknown>) {
  await installScriptedApi(page, { answers: { status: s, subscribe: { ok: true }, conflicts: { conflicts: [] } } });
  await page.goto(ui.url);
  await expect(page.getByTestId('connectivity')).not.toHaveText('Connecting…');
}

test('at 200 % zoom in the default 440×640 window the footer keeps one row and transfers stay in view', async ({ browser }, info) => {
  // 440×640 device pixels at 200 % zoom: a 220×320 CSS-pixel page.
  const context = await browser.newContext({ viewport: { width: 220, height: 320 }, deviceScaleFactor: 2 });
  try {
    const page = await context.newPage();
    await open(page, status({ transfers: uploads(6) }));
    const footer = page.locator('footer');
    const box = (await footer.boundingBox())!;
    expect(box.height, 'the footer is one row of buttons').toBeLessThanOrEqual(56);
    for (const name of ['Pause syncing ▸', 'Sync now', 'Settings…', 'Quit OneMount']) await expect(page.getByRole('button', { name })).toBeInViewport({ ratio: 1 });
    const rows = page.getByTestId('uploads').getByTestId('transfer-row');
    let visible = 0;
    for (let i = 0; i < (await rows.count()); i++) {
      const r = await rows.nth(i).boundingBox();
      if (r && r.y >= 0 && r.y + r.height <= box.y + 1) visible++;
    }
    expect(visible, 'transfer rows fully visible above the footer').toBeGreaterThanOrEqual(2);
    await shoot(page, info, '50-zoom-200-default-window');
  } finally {
    await context.close();
  }
});

test('a long file name no longer hides its folder at 360 px', async ({ browser }, info) => {
  const context = await browser.newContext({ viewport: { width: 360, height: 640 } });
  try {
    const page = await context.newPage();
    const long = (i: number) => `Quarterly report for the board meeting with every appendix and the revised figures ${i} (final, really final).docx`;
    await open(page, status({ transfers: uploads(2, { name: long, folder: '/Work/Projects/2026' }) }));
    const row = page.getByTestId('uploads').getByTestId('transfer-row').first();
    const folder = row.locator('.folder');
    await expect(folder).toBeVisible();
    const width = (await folder.boundingBox())!.width;
    expect(width, 'the folder keeps room to be read').toBeGreaterThanOrEqual(60);
    const name = row.locator('.name');
    expect(await name.evaluate((el) => el.scrollWidth > el.clientWidth), 'the long name is the one shortened').toBe(true);
    await shoot(page, info, '51-long-names-360px');
  } finally {
    await context.close();
  }
});

test('the pause menu: arrows move, Escape returns focus to the button, a click outside closes it', async ({ page }, info) => {
  await open(page, status());
  const button = page.getByRole('button', { name: 'Pause syncing ▸' });
  await button.focus();
  await page.keyboard.press('Enter');
  const item = (name: string) => page.getByRole('menuitem', { name });
  await expect(item('2 hours')).toBeFocused();
  await page.keyboard.press('ArrowDown');
  await expect(item('8 hours')).toBeFocused();
  await page.keyboard.press('End');
  await expect(item('Until I resume')).toBeFocused();
  await page.keyboard.press('ArrowDown');
  await expect(item('2 hours')).toBeFocused();
  await page.keyboard.press('ArrowUp');
  await expect(item('Until I resume')).toBeFocused();
  await shoot(page, info, '52-pause-menu-arrows');
  await page.keyboard.press('Escape');
  await expect(page.getByRole('menu')).toHaveCount(0);
  await expect(button).toBeFocused();
  await button.click();
  await expect(page.getByRole('menu')).toBeVisible();
  await page.getByTestId('uploads').click();
  await expect(page.getByRole('menu')).toHaveCount(0);
  // ArrowDown on the button opens the menu too.
  await button.focus();
  await page.keyboard.press('ArrowDown');
  await expect(item('2 hours')).toBeFocused();
});

test('throttled: a running transfer says it waits, and the chip says so', async ({ page }, info) => {
  const now = Date.now();
  await open(page, status({ throttledUntil: now + 45_000, transfers: uploads(3) }));
  await expect(page.getByTestId('connectivity')).toHaveText('Slowed down');
  const first = page.getByTestId('uploads').getByTestId('transfer-row').first();
  await expect(first).toContainText(/Waiting: OneDrive asked to slow down \(4\d s\)/);
  // No speed or time left while nothing moves.
  await expect(first.locator('.figures')).toHaveText('3.0 MB of 21.0 MB');
  await expect(page.getByTestId('uploads').locator('.state', { hasText: 'Uploading' })).toHaveCount(0);
  await shoot(page, info, '53-throttled-waiting-row');
});

test('while busy: totals above the queues, the chip says Syncing and the title follows', async ({ page }, info) => {
  await open(page, status({ transfers: uploads(4067) }));
  await expect(page.getByTestId('totals')).toHaveText('4\u202f067 files · 85.4 GB · about 23 h 43 min');
  await expect(page.getByTestId('connectivity')).toHaveText('Syncing');
  await expect(page).toHaveTitle('OneMount — Syncing 4\u202f067 files');
  await shoot(page, info, '54-totals-syncing');
});

test('Sync now while paused says why nothing happens', async ({ page }) => {
  await open(page, status({ pause: { paused: true } }));
  await page.getByRole('button', { name: 'Sync now' }).click();
  await expect(page.getByTestId('notice')).toContainText('Syncing is paused until you resume');
});

test('the tray popover offers “Open in a window”; the window itself does not', async ({ page }, info) => {
  const calls: string[] = [];
  await page.exposeFunction('recordCall', (m: string) => void calls.push(m));
  await installScriptedApi(page, { answers: { status: status(), subscribe: { ok: true }, conflicts: { conflicts: [] }, openInWindow: { ok: true } } });
  await page.addInitScript(() => {
    const g = globalThis as unknown as { onemount: { call(m: string, p: unknown): Promise<unknown> }; recordCall(m: string): void };
    const call = g.onemount.call;
    g.onemount.call = (m, p) => (g.recordCall(m), call(m, p));
  });
  await page.goto(`${ui.url}?popover`);
  const open = page.getByRole('button', { name: 'Open in a window' });
  await expect(open).toBeVisible();
  await shoot(page, info, '56-popover');
  await open.click();
  await expect.poll(() => calls).toContain('openInWindow');
  await expect(page.getByTestId('notice')).toHaveCount(0);
  await page.goto(ui.url);
  await expect(page.getByTestId('connectivity')).toHaveText('Online');
  await expect(page.getByRole('button', { name: 'Open in a window' })).toHaveCount(0);
});

test('a tab left open after its panel server stopped says how to open the panel again', async ({ page }, info) => {
  const own = await UiServer.start({ staticDir: BUILT_RENDERER_DIR, socketPath: path.join(dir, 'no-engine.sock'), logger: createMemoryLogger().logger });
  try {
    await page.goto(own.url);
    await expect(page.getByTestId('banner')).toHaveAttribute('data-kind', 'unreachable');
  } finally {
    await own.close();
  }
  // A new run serves the panel at a new secret address: this page's address is gone for good.
  const banner = page.getByTestId('banner');
  await expect(banner).toHaveAttribute('data-kind', 'expired');
  await expect(banner).toContainText('onemount ui');
  await expect(banner).toContainText('tray');
  await expect(page.getByTestId('connectivity')).toHaveText('Panel expired');
  await shoot(page, info, '55-expired-tab');
});
