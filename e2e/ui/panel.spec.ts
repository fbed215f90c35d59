/**
 * The transfer panel against a real engine on the emulator's drive, in Chromium: what a person sees
 * while files upload and download, while the server is unreachable, while paused, with a conflict,
 * and while the engine shuts down. One engine for the whole file, so the tests run in order.
 */
/* eslint-disable no-empty-pattern -- Playwright passes testInfo second, after an object pattern of fixtures */
import { writeFile, mkdir } from 'node:fs/promises';
import { expect, test, type Page } from '@playwright/test';
import { eventually, run } from '../harness.ts';
import { PanelRig, shoot } from './panel-rig.ts';

const MB = 1_000_000;
const DOWNLOADS = ['Big/one.bin', 'Big/two.bin', 'Big/three.bin'];

let rig: PanelRig;
let page: Page;

test.describe.configure({ mode: 'serial' });

test.beforeAll(async ({ browser }) => {
  test.setTimeout(180_000);
  rig = await PanelRig.start({
    seed: async (admin) => {
      await admin.remote({ op: 'mkdir', path: 'Docs' });
      await admin.remote({ op: 'write', path: 'Docs/report.docx', content: 'the original report\n' });
      await admin.remote({ op: 'mkdir', path: 'Big' });
      for (const p of DOWNLOADS) await admin.remote({ op: 'write', path: p, size: 8 * MB });
    },
    // Long enough that a remote edit can land between a local write and its upload (the conflict test).
    engineArgs: ['--write-back', '2500'],
  });
  page = await browser.newPage();
  await page.goto(rig.url);
});

test.afterAll(async () => {
  await page?.close();
  await rig?.close();
});

const section = (name: string) => page.getByTestId(name);
const count = (name: string) => page.getByTestId(`${name}-count`);
const chip = () => page.getByTestId('connectivity');

async function serverHas(p: string): Promise<boolean> {
  try {
    await rig.h.admin.item(p);
    return true;
  } catch (e) {
    if (/→ 404/.test(String(e))) return false;
    throw e;
  }
}

test('shows the account, the storage used and an online drive', async ({}, info) => {
  await expect(chip()).toHaveText('Online');
  await expect(page.getByTestId('account')).toHaveText('e2e');
  await expect(page.getByText(/ of .* used$/)).toBeVisible();
  await expect(section('uploads')).toContainText('Nothing to upload.');
  await shoot(page, info, '01-idle');
});

test('queued uploads show progress and complete', async ({}, info) => {
  await rig.h.admin.setFaults({ bandwidthBytesPerSec: 3 * MB });
  try {
    await mkdir(rig.h.at('Uploads'));
    const names = ['a.bin', 'b.bin', 'c.bin', 'd.bin'];
    await Promise.all(names.map((n, i) => writeFile(rig.h.at('Uploads', n), Buffer.alloc(6 * MB, i + 1))));
    await expect(section('uploads').getByTestId('transfer-row').first()).toBeVisible();
    await expect(section('uploads').getByRole('progressbar').first()).toBeVisible();
    await expect(section('uploads').getByTestId('transfer-row').first()).toContainText(/ of 6\.0 MB/);
    await expect(section('uploads').getByText('Uploading').first()).toBeVisible();
    await shoot(page, info, '02-uploading');
    await expect(count('uploads')).toHaveText('0', { timeout: 90_000 });
    for (const n of names) await expect(section('recent')).toContainText(n);
    for (const n of names) expect(await serverHas(`Uploads/${n}`)).toBe(true);
    await shoot(page, info, '03-uploaded');
  } finally {
    await rig.h.admin.resetFaults();
  }
});

test('downloads show progress and complete', async ({}, info) => {
  await rig.h.admin.setFaults({ bandwidthBytesPerSec: 2 * MB });
  try {
    const reads = DOWNLOADS.map((p) => run('cat', [rig.h.at(p)], { timeoutMs: 90_000 }));
    await expect(section('downloads').getByTestId('transfer-row').first()).toBeVisible();
    await expect(section('downloads').getByTestId('transfer-row').first()).toContainText(/ of 8\.0 MB/);
    await expect(section('downloads').getByText(/MB\/s · .* left/).first()).toBeVisible();
    await shoot(page, info, '04-downloading');
    const results = await Promise.all(reads);
    for (const r of results) expect(r.code).toBe(0);
    await expect(count('downloads')).toHaveText('0');
    for (const p of DOWNLOADS) await expect(section('recent')).toContainText(p.split('/')[1]!);
    await shoot(page, info, '05-downloaded');
  } finally {
    await rig.h.admin.resetFaults();
  }
});

test('taking the server offline shows the offline state, and coming back clears it', async ({}, info) => {
  await rig.h.admin.setOffline(true);
  try {
    const banner = page.getByTestId('banner');
    await expect(banner).toHaveAttribute('data-kind', 'offline');
    await expect(banner).toContainText('Offline since');
    await expect(banner).toContainText('Cached files open normally');
    await expect(chip()).toHaveText('Offline');
    await shoot(page, info, '06-offline');
  } finally {
    await rig.h.admin.setOffline(false);
  }
  // The engine's own probe may find the server back before the click: then there is nothing to retry.
  const retry = page.getByRole('button', { name: 'Retry now' });
  if (await retry.isVisible()) await retry.click();
  await expect(page.getByTestId('banner')).toHaveCount(0, { timeout: 60_000 });
  await expect(chip()).toHaveText('Online');
  await shoot(page, info, '07-back-online');
});

test('pause stops uploads until resumed', async ({}, info) => {
  await page.getByRole('button', { name: 'Pause syncing ▸' }).click();
  await shoot(page, info, '08-pause-menu');
  await page.getByRole('menuitem', { name: '2 hours' }).click();
  const banner = page.getByTestId('banner');
  await expect(page.getByTestId('notice').filter({ hasText: 'Could not pause' })).toHaveCount(0);
  await expect(banner).toHaveAttribute('data-kind', 'paused');
  await expect(banner).toContainText('Syncing is paused until');
  await writeFile(rig.h.at('Docs/while-paused.txt'), 'written while paused\n');
  const row = section('uploads').getByTestId('transfer-row').filter({ hasText: 'while-paused.txt' });
  await expect(row).toBeVisible();
  // Queued during the write-back delay, Paused once it is due and the pause is what holds it.
  await expect(row).toContainText('Paused');
  expect(await serverHas('Docs/while-paused.txt')).toBe(false);
  await shoot(page, info, '09-paused');
  await banner.getByRole('button', { name: 'Resume' }).click();
  await expect(page.getByTestId('banner')).toHaveCount(0);
  await eventually('the upload after resuming', async () => ((await serverHas('Docs/while-paused.txt')) ? true : undefined), 60_000);
});

test('a conflict appears and is resolved from the panel', async ({}, info) => {
  await writeFile(rig.h.at('Docs/report.docx'), 'my edit on this device\n');
  await rig.h.admin.remote({ op: 'write', path: 'Docs/report.docx', content: 'their edit on another device\n' });
  const row = section('conflicts').getByTestId('conflict-row');
  await expect(row).toBeVisible({ timeout: 60_000 });
  await expect(section('conflicts').getByText('Conflicts cannot be listed')).toHaveCount(0);
  await expect(row).toContainText('report.docx');
  await expect(row).toContainText('changed here and on another device');
  await shoot(page, info, '10-conflict');
  await row.getByRole('button', { name: /^Keep both/ }).click();
  await expect(count('conflicts')).toHaveText('0');
});

test('settings show the mount point and the cache', async ({}, info) => {
  await page.getByRole('button', { name: 'Settings…' }).click();
  await expect(page.getByTestId('settings')).toContainText(rig.h.mountpoint);
  await shoot(page, info, '11-settings');
  await page.getByRole('button', { name: 'Back to transfers' }).click();
  await expect(section('uploads')).toBeVisible();
});

test('Quit shows shutdown progress to the end', async ({}, info) => {
  await page.getByRole('button', { name: 'Quit OneMount' }).click();
  const view = page.getByTestId('shutdown');
  await expect(view).toBeVisible();
  await expect(view.getByRole('heading')).toBeVisible();
  await shoot(page, info, '12-shutting-down');
  await expect(view.getByRole('heading')).toHaveText('OneMount has stopped', { timeout: 60_000 });
  for (const phase of ['stop-new-work', 'stop-sync', 'uploads', 'downloads', 'save-state']) {
    await expect(view.getByTestId(`phase-${phase}`)).toHaveAttribute('data-mark', 'done');
  }
  // The engine closes its socket while unmounting, so the last phase is seen either done or cut off.
  await expect(view.getByTestId('phase-unmount')).toHaveAttribute('data-mark', /^(done|cut-off)$/);
  await shoot(page, info, '13-stopped');
  const exit = await eventually('the engine process to exit', async () => rig.h.engine?.exitStatus, 60_000);
  expect(exit.code).toBe(0);
});
