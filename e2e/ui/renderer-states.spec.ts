/**
 * 10 000 queued uploads in the real renderer: the list renders only the rows in view, scrolls to the
 * end, and stays keyboard-reachable. The page gets a scripted `window.onemount` (the preload's seat),
 * so this checks the renderer alone; panel.spec.ts covers it against a real engine.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect, test } from '@playwright/test';
import { createMemoryLogger } from '../../src-main/base/logger.ts';
import { BUILT_RENDERER_DIR, UiServer } from '../../src-main/app/ui/ui-server.ts';
import { shoot } from './panel-rig.ts';

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
  await page.addInitScript(() => {
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
    const answers: Record<string, unknown> = { status, subscribe: { ok: true }, conflicts: { conflicts: [] } };
    (globalThis as unknown as { onemount: unknown }).onemount = {
      call: (method: string) => (method in answers ? Promise.resolve(answers[method]) : Promise.reject(Object.assign(new Error(`${method} is not scripted`), { code: 'NOT_SUPPORTED' }))),
      on: () => () => undefined,
      onLink: (l: (link: unknown) => void) => {
        l({ state: 'connected' });
        return () => undefined;
      },
    };
  });
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
