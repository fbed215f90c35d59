/**
 * UI tests: Playwright drives the real renderer in Debian's Chromium against a real engine on the
 * emulator's drive. Headless unless a display is there (under `xvfb-run` it runs headed).
 * Run: `npm run build:renderer && npx playwright test -c e2e/ui` (npm test does both).
 */
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: '.',
  testMatch: '*.spec.ts',
  outputDir: '../../test-results/ui',
  // One engine and one mount per file; files run one after another to keep FUSE and ports calm.
  workers: 1,
  fullyParallel: false,
  timeout: 120_000,
  expect: { timeout: 30_000 },
  reporter: [['list']],
  use: {
    browserName: 'chromium',
    headless: !process.env.DISPLAY,
    viewport: { width: 480, height: 860 },
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    },
    screenshot: 'only-on-failure',
    trace: 'retain-on-failure',
  },
});
